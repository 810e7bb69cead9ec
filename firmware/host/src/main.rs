//! The firmware's cases computed on the host.
//!
//! ```text
//! reference                    prints the `out` lines the firmware prints
//! reference check LOG [RTOL]   checks a firmware log against them
//! ```
//!
//! Built as it is by default, the host runs the runtime without `std`,
//! which is the code the Cortex-M runs: the same portable loops in the same
//! order and the libm crate's functions, each f32 operation correctly
//! rounded on both (IEEE 754; Rust never fuses a multiply and an add on its
//! own), so `check` wants every output bit for bit (RTOL 0). Built with the
//! feature `std-runtime`, the host takes its SIMD/FMA kernels and the
//! platform's libm, and `check` wants agreement within RTOL (relative to
//! the largest magnitude of the output, 1e-5 unless given; ten times that
//! for training steps, whose differences compound from step to step).
use staticnet_firmware::{for_each_case, Case, Visit};
use std::process::ExitCode;

/// Every output line: case, input label, values.
struct Reference(Vec<(String, String, Vec<f32>)>);

impl Visit for Reference {
    fn visit<C: Case>(&mut self) {
        C::setup();
        for (i, label) in C::LABELS.iter().enumerate() {
            let y = C::run(&C::input(i));
            self.0.push((C::NAME.into(), label.to_string(), C::values(&y).to_vec()));
        }
    }
}

fn main() -> ExitCode {
    let mut reference = Reference(Vec::new());
    for_each_case(&mut reference);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None => {
            for (case, label, values) in &reference.0 {
                let hex: Vec<String> = values.iter().map(|v| format!("{:08x}", v.to_bits())).collect();
                println!("out {case} {label} {}", hex.join(" "));
            }
            ExitCode::SUCCESS
        }
        Some("check") if args.len() >= 2 => {
            let default = if cfg!(feature = "std-runtime") { 1e-5 } else { 0.0 };
            let rtol = args.get(2).map_or(default, |t| t.parse().expect("RTOL is a number"));
            check(&reference.0, &args[1], rtol)
        }
        _ => {
            eprintln!("usage: reference [check LOG [RTOL]]");
            ExitCode::FAILURE
        }
    }
}

/// Compares the firmware's `out` lines with the host's; prints a line per
/// case with the largest difference.
fn check(reference: &[(String, String, Vec<f32>)], log: &str, rtol: f64) -> ExitCode {
    let text = std::fs::read_to_string(log).unwrap_or_else(|e| panic!("{log}: {e}"));
    let mut device = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("out") {
            continue;
        }
        let (case, label) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let values: Vec<f32> =
            words.map(|w| f32::from_bits(u32::from_str_radix(w, 16).expect("hex f32 bits"))).collect();
        device.push((case.to_string(), label.to_string(), values));
    }
    // Only the cases the firmware was built with (a Cortex-M0 has fewer).
    let cases: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("case ")).map(str::trim).collect();
    let reference: Vec<_> = reference.iter().filter(|(case, _, _)| cases.contains(&case.as_str())).collect();
    let mut ok = true;
    let (mut passed, mut failed) = (0, 0);
    if cases.is_empty() {
        println!("FAIL: the log names no case");
        ok = false;
    }
    if let Some(case) = cases.iter().find(|c| !reference.iter().any(|r| r.0 == **c)) {
        println!("FAIL: the host has no case `{case}` (build it with the same features)");
        ok = false;
    }
    if !text.lines().any(|l| l.starts_with("done ")) {
        println!("FAIL: the log has no `done` line (the firmware did not finish)");
        ok = false;
    }
    if device.len() != reference.len() {
        println!("FAIL: {} output lines on the device, {} on the host", device.len(), reference.len());
        ok = false;
    }
    // case -> (worst relative difference, worst absolute, lines, identical lines)
    let mut summary: Vec<(String, f64, f64, usize, usize)> = Vec::new();
    for ((case, label, want), (dcase, dlabel, got)) in reference.iter().zip(&device) {
        if (case, label) != (dcase, dlabel) || want.len() != got.len() {
            println!("FAIL: host `{case} {label}` ({} values), device `{dcase} {dlabel}` ({})", want.len(), got.len());
            ok = false;
            failed += 1;
            continue;
        }
        let scale = want.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs())).max(f64::MIN_POSITIVE);
        let abs = want.iter().zip(got).fold(0f64, |m, (&w, &g)| m.max((f64::from(w) - f64::from(g)).abs()));
        let rel = abs / scale;
        let same = want.iter().zip(got).all(|(w, g)| w.to_bits() == g.to_bits());
        // A training step starts from the weights the steps before it left,
        // so differences compound: ten times the tolerance.
        let tol = if case.contains("train") { 10.0 * rtol } else { rtol };
        let good = if rtol == 0.0 { same } else { rel <= tol };
        if good {
            passed += 1;
        } else {
            println!("FAIL: {case} {label}: host {want:?}, device {got:?} (relative difference {rel:.3e})");
            ok = false;
            failed += 1;
        }
        match summary.iter_mut().find(|s| s.0 == *case) {
            Some(s) => {
                s.1 = s.1.max(rel);
                s.2 = s.2.max(abs);
                s.3 += 1;
                s.4 += usize::from(same);
            }
            None => summary.push((case.clone(), rel, abs, 1, usize::from(same))),
        }
    }
    let runtime = if cfg!(feature = "std-runtime") {
        "std runtime (SIMD/FMA, platform libm)"
    } else {
        "no_std runtime (portable loops, libm crate)"
    };
    println!(
        "host: {runtime}; wanted: {}",
        if rtol == 0.0 {
            "bit for bit".to_string()
        } else {
            format!("relative difference ≤ {rtol:e} (training steps {:e})", 10.0 * rtol)
        }
    );
    for (case, rel, abs, n, same) in &summary {
        println!("  {case:<13} {n} outputs, {same} bit for bit, max |diff| {abs:.3e}, relative {rel:.3e}");
    }
    println!("{}", if ok { "agree" } else { "DISAGREE" });
    println!("{passed} passed, {failed} failed");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
