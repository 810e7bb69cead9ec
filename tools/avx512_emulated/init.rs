//! `/init` of the emulated machine that `tools/avx512_emulated.sh` boots:
//! runs every test binary in `/tests` on the AVX-512 kernels, prints one
//! `EMU RESULT` line per binary on the console (the serial port the script
//! reads), then `EMU DONE`, and powers off. (The AVX2 kernels are tested
//! natively; the emulator is only for what the host cannot run.)
//!
//! Each run sets `STATICNET_EXPECT_LEVEL=avx512f`, which the runtime's
//! tests check, so these runs cannot pass on other kernels.

use std::process::Command;

extern "C" {
    fn tcdrain(fd: i32) -> i32;
    fn sync();
    fn reboot(how: i32) -> i32;
}

/// `RB_POWER_OFF` of `reboot(2)`.
const POWER_OFF: i32 = 0x4321_fedc;

fn main() {
    println!(
        "EMU CPU avx2={} fma={} avx512f={}",
        is_x86_feature_detected!("avx2"),
        is_x86_feature_detected!("fma"),
        is_x86_feature_detected!("avx512f")
    );
    let mut binaries: Vec<_> = std::fs::read_dir("/tests")
        .map(|dir| dir.filter_map(|entry| entry.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    binaries.sort();
    for binary in &binaries {
        let name = binary.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        println!("EMU RUN {name}");
        let status = Command::new(binary)
            .args(["--test-threads=1", "-q"])
            .env("STATICNET_EXPECT_LEVEL", "avx512f")
            .env("TMPDIR", "/tmp")
            .status();
        let outcome = match status {
            Ok(status) if status.success() => "ok".to_string(),
            Ok(status) => format!("FAILED ({status})"),
            Err(error) => format!("FAILED (could not start: {error})"),
        };
        println!("EMU RESULT {name} {outcome}");
    }
    println!("EMU DONE {} binaries", binaries.len());
    // Power-off does not wait for the serial port to send what is queued:
    // wait for the console's queue to empty (and a little longer, for the
    // port's own buffer).
    // SAFETY: plain system calls on the process's own stdout.
    unsafe { tcdrain(1) };
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: plain system calls; nothing runs after them.
    unsafe {
        sync();
        reboot(POWER_OFF);
    }
}
