//! The memory map of the board each target runs on in QEMU, as cortex-m-rt's
//! `memory.x`, and its linker script for the firmware binary.
use std::{env, fs, path::PathBuf};

fn main() {
    let target = env::var("TARGET").unwrap_or_default();
    println!("cargo:rerun-if-changed=build.rs");
    if !target.starts_with("thumb") {
        return; // the host build of the library (the reference outputs)
    }
    let memory = if target.starts_with("thumbv6m") {
        // QEMU `microbit` (nRF51822, Cortex-M0): 256 KiB flash, 16 KiB RAM.
        "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 256K\n  RAM   : ORIGIN = 0x20000000, LENGTH = 16K\n}\n"
    } else {
        // QEMU `mps2-an386` (Cortex-M4F): code at 0x0, data at 0x20000000
        // (4 MiB each), limited to an nRF52840's 1 MiB / 256 KiB.
        "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 1024K\n  RAM   : ORIGIN = 0x20000000, LENGTH = 256K\n}\n"
    };
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), memory).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
}
