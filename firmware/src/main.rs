//! The firmware: runs every case of the library (see `src/lib.rs`) on a
//! Cortex-M in QEMU and prints, over semihosting:
//!
//! ```text
//! case <case>                                a case starts
//! out <case> <input> <f32 bits in hex>…      the outputs, bit for bit
//! stack <case> <input> <bytes>               the stack that call used
//! done <cases>                               then exits with status 0
//! ```
//!
//! The stack is measured by painting: the free stack below the current SP
//! is filled with a pattern before the call and scanned after it. The
//! guest instructions of each call are counted by the QEMU plugin
//! `insn_window.so` between the two calls to `mf_window()`. A panic or a
//! fault exits QEMU with status 1.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::{debug, hprint, hprintln};
use staticnet_firmware::{for_each_case, Case, Visit, BASELINE};

/// The measured call. Never inlined, so everything it needs is stack below
/// the caller's SP.
#[inline(never)]
fn run<C: Case>(x: &C::In) -> C::Out {
    if BASELINE {
        black_box(C::baseline(x))
    } else {
        C::run(x)
    }
}

/// Marker for insn_window.so: it counts the instructions between two calls.
#[no_mangle]
#[inline(never)]
pub extern "C" fn mf_window() {
    unsafe { core::arch::asm!("nop") }
}

const PAINT: u32 = 0xDEAD_BEEF;

/// Lowest address the stack may reach: the end of .bss/.uninit (cortex-m-rt).
fn stack_limit() -> usize {
    extern "C" {
        static __sheap: u32;
    }
    core::ptr::addr_of!(__sheap) as usize
}

struct Firmware {
    cases: usize,
}

impl Visit for Firmware {
    // Inlined into `main`'s loop or not, the painting runs in the frame
    // that calls `run`, and calls nothing while it paints.
    fn visit<C: Case>(&mut self) {
        hprintln!("case {}", C::NAME);
        C::setup();
        for (i, label) in C::LABELS.iter().enumerate() {
            let x = C::input(i);
            let x = black_box(&x);
            // Paint the free stack below the current SP.
            let sp = cortex_m::register::msp::read() as usize;
            let mut p = stack_limit();
            while p < sp {
                unsafe { (p as *mut u32).write_volatile(PAINT) };
                p += 4;
            }
            mf_window();
            let y = run::<C>(x);
            mf_window();
            // Scan up from the limit for the first word that was overwritten.
            let mut p = stack_limit();
            while p < sp && unsafe { (p as *const u32).read_volatile() } == PAINT {
                p += 4;
            }
            hprint!("out {} {}", C::NAME, label);
            for v in C::values(&y) {
                hprint!(" {:08x}", v.to_bits());
            }
            hprintln!();
            hprintln!("stack {} {} {}", C::NAME, label, sp - p);
        }
        self.cases += 1;
    }
}

#[entry]
fn main() -> ! {
    let mut firmware = Firmware { cases: 0 };
    for_each_case(&mut firmware);
    hprintln!("done {}", firmware.cases);
    debug::exit(debug::EXIT_SUCCESS);
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    hprintln!("panic");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

/// A fault (a bad access into memory the stack overran, say) exits QEMU
/// with status 1 instead of spinning. A stack already below the RAM
/// cannot take the exception at all: the core locks up, and the scripts'
/// timeouts end QEMU.
#[exception]
unsafe fn HardFault(_: &ExceptionFrame) -> ! {
    hprintln!("hard fault");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
