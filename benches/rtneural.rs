//! Streaming, ours and RTNeural's in one run: `step()` of `network!` models
//! (`Input(shape = (None, 1))`, one call per audio sample) against
//! RTNeural's compile-time models (`RTNeural::ModelT`, one
//! `model.forward(&x)` per sample; ../shared/anchors/rtneural), in f32:
//!
//! - GRU(8, 16, 32, 64) → Dense(1) and LSTM(16, 32) → Dense(1), one input
//!   channel, every step's output;
//! - the causal stack Conv1D(8, 3, causal, tanh) → Conv1D(8, 3, causal,
//!   dilation 2) → Dense(1);
//! - and, for scale, the seed's classifier 64 → 32 relu → 32 relu → 10
//!   softmax at batch 1 (`forward`, 64 inputs cycled: independent calls,
//!   which the CPU overlaps, so throughput rather than latency).
//!
//! Weights are U(−1, 1)/sqrt(fan-in) as RTNeural's side draws them (a
//! recurrent layer's fan is its units, a convolution's taps × channels); the
//! input is a sine plus noise, 4096 samples looped; every output goes into
//! a checksum. The protocol is bench.cpp's: `ROUNDS` rounds of `STEPS` steps
//! per pass, rounds interleaved across cases, after a warm-up. Passes
//! alternate between ours and RTNeural's six builds ({Eigen, xsimd} ×
//! {default x86-64 flags, `-march=x86-64-v3` (AVX2 and FMA),
//! `-march=native`}), so both see the same machine,
//! and every pass is a process of its own, this binary's included (so each
//! side's fastest round is the best of as many draws of memory addresses,
//! which move a step's time by up to 15% on Zen 4); a figure is the fastest
//! round of all passes (`min`) and the median of the passes' medians, in
//! ns per step. Ratios are ours over RTNeural's best build of each pair of
//! columns, fastest round against fastest round (below 1: ours is faster):
//! the x86-64 builds are what our default build compares with (it
//! dispatches to AVX2 or AVX-512 kernels at run time, no `target-cpu`
//! flag); `x86-64-v3` is a CPU with AVX2 and FMA but not AVX-512, which ours
//! matches with `STATICNET_NO_AVX512=1`; native is this CPU.
//!
//! ```sh
//! cargo bench --bench rtneural                 # PASSES=5 ROUNDS=31 STEPS=20000
//! STATICNET_NO_AVX512=1 cargo bench --bench rtneural   # ours at AVX2, against the x86-64-v3 builds
//! QUICK=1 cargo bench --bench rtneural         # PASSES=2 ROUNDS=7 STEPS=10000
//! NO_CPP=1 cargo bench --bench rtneural        # ours only
//! PASSES=3 ROUNDS=31 STEPS=100000 cargo bench --bench rtneural   # the anchors' run
//! CASE=gru16 NO_CPP=1 cargo bench --bench rtneural   # the cases whose bench.cpp name has `gru16`
//! ```
//! RTNeural's side is built by `benches/rtneural/build.sh` (g++, Eigen from
//! libeigen3-dev, RTNeural and xsimd headers at pinned commits: see the
//! script) into target/rtneural; without a compiler or the headers the bench
//! says so and prints our figures only.

mod common;

use staticnet::nalgebra::SVector;
use staticnet::Network;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

staticnet::network! {
    pub struct Gru8 {
        let x = Input(shape = (None, 1));
        let h = GRU(8, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct Gru16 {
        let x = Input(shape = (None, 1));
        let h = GRU(16, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct Gru32 {
        let x = Input(shape = (None, 1));
        let h = GRU(32, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct Gru64 {
        let x = Input(shape = (None, 1));
        let h = GRU(64, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct Lstm16 {
        let x = Input(shape = (None, 1));
        let h = LSTM(16, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct Lstm32 {
        let x = Input(shape = (None, 1));
        let h = LSTM(32, return_sequences = true)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

staticnet::network! {
    pub struct CausalConv {
        let x = Input(shape = (None, 1));
        let a = Conv1D(8, 3, padding = "causal", activation = tanh)(x);
        let b = Conv1D(8, 3, padding = "causal", dilation_rate = 2)(a);
        let y = Dense(1)(b);
        Model(x, y);
    }
}

/// Samples of the looped input signal (a power of two, as bench.cpp's).
const SIG: usize = 4096;

/// bench.cpp's generator: U(−1, 1) from a 32-bit LCG.
struct Rng(u32);

impl Rng {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (self.0 >> 8) as f32 * (2.0 / 16_777_216.0) - 1.0
    }
}

/// Every tensor U(−1, 1)/sqrt(fan): a recurrent layer's fan is its units
/// (the rows of its recurrent kernel), another layer's the inputs of one
/// output (a kernel's size over its last axis), as bench.cpp draws them.
fn init<M: Network<f32>>(mut model: M, rng: &mut Rng) -> M {
    for i in 0..M::TENSORS.len() {
        let layer = M::TENSORS[i].name.rsplit_once('.').map_or("", |(l, _)| l);
        let of = |v: &str| M::TENSORS.iter().find(|t| t.name.strip_prefix(layer) == Some(v));
        let fan = match (of(".recurrent_kernel"), of(".kernel")) {
            (Some(r), _) => r.shape[0],
            (None, Some(k)) => k.len() / k.shape.last().copied().unwrap_or(1).max(1),
            (None, None) => 1,
        };
        let scale = 1.0 / (fan as f32).sqrt();
        for v in model.tensor_mut(i) {
            *v = scale * rng.next();
        }
    }
    model
}

/// One case of our side: `run(n)` streams `n` samples and returns the sum
/// of the outputs.
struct Case {
    /// bench.cpp's name of the case.
    key: &'static str,
    /// The table's name.
    label: &'static str,
    run: Box<dyn FnMut(usize) -> f64>,
    checksum: f64,
}

/// A streaming case: `step` per sample of the looped signal.
macro_rules! stream_case {
    ($key:expr, $label:expr, $model:ident, $state:ident, $rng:expr, $signal:expr) => {{
        let model = init($model::<f32>::zeros(), $rng);
        let mut state = $state::<f32>::default();
        let signal = $signal.clone();
        let mut at = 0usize;
        Case {
            key: $key,
            label: $label,
            run: Box::new(move |n| {
                let mut acc = 0.0f64;
                for _ in 0..n {
                    let x = signal[at & (SIG - 1)];
                    at = at.wrapping_add(1);
                    acc += model.step(&mut state, &SVector::from([x]))[0] as f64;
                }
                acc
            }),
            checksum: 0.0,
        }
    }};
}

fn cases() -> Vec<Case> {
    let mut rng = Rng(12345);
    let signal: Vec<f32> = (0..SIG).map(|i| 0.5 * (0.01 * i as f32).sin() + 0.1 * rng.next()).collect();
    let mlp_inputs: Vec<SVector<f32, 64>> = (0..64).map(|_| SVector::from_fn(|_, _| rng.next())).collect();
    let rng = &mut rng;
    let mut cases = vec![
        stream_case!("gru8_dense1", "GRU(8) → Dense(1)", Gru8, Gru8State, rng, signal),
        stream_case!("gru16_dense1", "GRU(16) → Dense(1)", Gru16, Gru16State, rng, signal),
        stream_case!("gru32_dense1", "GRU(32) → Dense(1)", Gru32, Gru32State, rng, signal),
        stream_case!("gru64_dense1", "GRU(64) → Dense(1)", Gru64, Gru64State, rng, signal),
        stream_case!("lstm16_dense1", "LSTM(16) → Dense(1)", Lstm16, Lstm16State, rng, signal),
        stream_case!("lstm32_dense1", "LSTM(32) → Dense(1)", Lstm32, Lstm32State, rng, signal),
        stream_case!(
            "conv1x8k3d1_tanh_conv8x8k3d2_dense1",
            "Conv1D stack (causal)",
            CausalConv,
            CausalConvState,
            rng,
            signal
        ),
    ];
    let mlp = init(common::Digits::<f32>::zeros(), rng);
    cases.push(Case {
        key: "mlp64_32relu_32relu_10softmax",
        label: "MLP 64-32-32-10, batch 1",
        run: Box::new(move |n| {
            let mut acc = 0.0f64;
            for i in 0..n {
                acc += mlp.forward(&mlp_inputs[i & 63])[0] as f64;
            }
            acc
        }),
        checksum: 0.0,
    });
    cases
}

/// RTNeural's builds, in the table's column order.
const BUILDS: [(&str, &str); 6] = [
    ("eigen_default", "Eigen x86-64"),
    ("xsimd_default", "xsimd x86-64"),
    ("eigen_v3", "Eigen x86-64-v3"),
    ("xsimd_v3", "xsimd x86-64-v3"),
    ("eigen_native", "Eigen native"),
    ("xsimd_native", "xsimd native"),
];

/// The columns of ratios: ours over the best of these builds.
const RATIOS: [(&str, [usize; 2]); 3] = [("best x86-64", [0, 1]), ("best x86-64-v3", [2, 3]), ("best native", [4, 5])];

/// One side's figures for one case over the passes: each pass's median
/// and fastest round, ns per step.
#[derive(Default, Clone)]
struct Figures {
    medians: Vec<f64>,
    mins: Vec<f64>,
}

impl Figures {
    fn min(&self) -> Option<f64> {
        self.mins.iter().copied().reduce(f64::min)
    }

    /// The median of the passes' medians.
    fn median(&self) -> Option<f64> {
        let mut m = self.medians.clone();
        m.sort_by(f64::total_cmp);
        (!m.is_empty()).then(|| m[m.len() / 2])
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into())
}

/// The CPU's features that matter here, as detected at run time.
fn cpu_features() -> String {
    #[cfg(target_arch = "x86_64")]
    {
        let mut f = Vec::new();
        if std::is_x86_feature_detected!("avx2") {
            f.push("avx2");
        }
        if std::is_x86_feature_detected!("fma") {
            f.push("fma");
        }
        if std::is_x86_feature_detected!("avx512f") {
            f.push("avx512f");
        }
        if f.is_empty() {
            f.push("sse2 only");
        }
        f.join(", ")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        "not x86-64".into()
    }
}

/// The target features this binary was compiled with (beyond x86-64's
/// baseline): empty unless built with `-C target-cpu=…`.
fn compiled_features() -> String {
    let f: Vec<&str> = [
        ("avx2", cfg!(target_feature = "avx2")),
        ("fma", cfg!(target_feature = "fma")),
        ("avx512f", cfg!(target_feature = "avx512f")),
    ]
    .into_iter()
    .filter_map(|(n, on)| on.then_some(n))
    .collect();
    if f.is_empty() {
        "x86-64 baseline (no target-cpu)".into()
    } else {
        f.join(", ")
    }
}

/// Builds RTNeural's four binaries (benches/rtneural/build.sh); their
/// directory, or why not.
fn build_rtneural() -> Result<PathBuf, String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("benches/rtneural/build.sh");
    eprintln!("building RTNeural's side ({})…", script.display());
    let out =
        Command::new("bash").arg(&script).output().map_err(|e| format!("could not run {}: {e}", script.display()))?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed:\n{}", script.display(), log.trim_end()));
    }
    eprint!("{log}");
    let dir = String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("").trim().to_string();
    let dir = PathBuf::from(dir);
    match BUILDS.iter().find(|(b, _)| !dir.join(format!("bench_{b}")).exists()) {
        Some((b, _)) => Err(format!("no bench_{b} in {}", dir.display())),
        None => Ok(dir),
    }
}

/// One run of a bench process, RTNeural's or ours (bench.cpp's output: a
/// line per case, `name median min max checksum`): (case, median, min,
/// checksum) per line.
fn run_process(mut cmd: Command, rounds: usize, steps: usize) -> Result<Vec<(String, f64, f64, f64)>, String> {
    let what = format!("{cmd:?}");
    let out = cmd.arg(rounds.to_string()).arg(steps.to_string()).output().map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{what} failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.contains("NON-FINITE") {
        return Err(format!("{what}: a non-finite checksum\n{text}"));
    }
    Ok(text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f[..] {
                [case, median, min, _max, checksum, ..] => {
                    Some((case.to_string(), median.parse().ok()?, min.parse().ok()?, checksum.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect())
}

/// The environment variable that makes this binary one pass of ours (see
/// [`our_pass`]).
const OUR_PASS: &str = "STATICNET_RTNEURAL_PASS";

/// One pass of ours, in a process of its own as each of RTNeural's is:
/// the models and their state are allocated afresh, at new addresses.
/// (Zen 4 measured some runs of the same binary 5–15% slower than others,
/// an address effect; with all our passes in one process, our fastest
/// round came from one draw of addresses against the best of five of
/// theirs.) The process runs [`our_pass_here`].
fn our_pass(cases: &mut [Case], figures: &mut [Figures], rounds: usize, steps: usize) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("this bench's path: {e}"))?;
    let mut cmd = Command::new(exe);
    cmd.env(OUR_PASS, "1");
    for (case, median, min, checksum) in run_process(cmd, rounds, steps)? {
        if let Some(k) = cases.iter().position(|c| c.key == case) {
            figures[k].medians.push(median);
            figures[k].mins.push(min);
            // Every pass streams the same samples through the same model.
            let c = &mut cases[k];
            if c.checksum != 0.0 && c.checksum != checksum {
                return Err(format!("{}: checksum {checksum:e} in one pass, {:e} in another", c.label, c.checksum));
            }
            c.checksum = checksum;
        }
    }
    Ok(())
}

/// What a process of [`our_pass`] runs, printing bench.cpp's lines: a
/// warm-up, then `rounds` rounds of `steps` steps, interleaved across
/// cases.
fn our_pass_here(rounds: usize, steps: usize) {
    let mut cases = selected_cases();
    for c in &mut cases {
        c.checksum += (c.run)(steps.max(100_000));
    }
    let mut ns = vec![Vec::with_capacity(rounds); cases.len()];
    for _ in 0..rounds {
        for (c, t) in cases.iter_mut().zip(&mut ns) {
            let start = Instant::now();
            c.checksum += black_box((c.run)(steps));
            t.push(start.elapsed().as_secs_f64() * 1e9 / steps as f64);
        }
    }
    for (c, t) in cases.iter().zip(&mut ns) {
        t.sort_by(f64::total_cmp);
        let finite = if c.checksum.is_finite() { "" } else { " NON-FINITE" };
        println!("{} {:.1} {:.1} {:.1} {:.9e}{finite}", c.key, t[t.len() / 2], t[0], t[t.len() - 1], c.checksum);
    }
}

/// The cases, but for those `CASE` leaves out.
fn selected_cases() -> Vec<Case> {
    let mut cases = cases();
    if let Ok(only) = std::env::var("CASE") {
        cases.retain(|c| c.key.contains(&only));
    }
    cases
}

/// One pass of RTNeural's: each build in turn, `rounds` rounds of `steps`
/// steps (after its own warm-up).
fn their_pass(dir: &Path, cases: &[Case], theirs: &mut [Vec<Figures>], rounds: usize, steps: usize) {
    for (b, (build, _)) in BUILDS.iter().enumerate() {
        match run_process(Command::new(dir.join(format!("bench_{build}"))), rounds, steps) {
            Ok(lines) => {
                for (case, median, min, _) in lines {
                    if let Some(k) = cases.iter().position(|c| c.key == case) {
                        theirs[k][b].medians.push(median);
                        theirs[k][b].mins.push(min);
                    }
                }
            }
            Err(e) => eprintln!("{e}"),
        }
    }
}

fn ns(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| if v < 10.0 { format!("{v:.1}") } else { format!("{v:.0}") })
}

fn main() {
    let quick = std::env::var_os("QUICK").is_some();
    let passes = env_usize("PASSES", if quick { 2 } else { 5 }).max(1);
    let rounds = env_usize("ROUNDS", if quick { 7 } else { 31 }).max(1);
    let steps = env_usize("STEPS", if quick { 10_000 } else { 20_000 }).max(1);

    if std::env::var_os(OUR_PASS).is_some() {
        let arg = |i: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(1);
        return our_pass_here(arg(1), arg(2));
    }
    let mut cases = selected_cases();
    let rtneural =
        if std::env::var_os("NO_CPP").is_some() { Err("NO_CPP is set".to_string()) } else { build_rtneural() };
    if let Err(why) = &rtneural {
        println!("note: no RTNeural figures ({why}); ours only.");
    }

    println!(
        "machine: {} ({} cores), load average {}",
        cpu_model(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    println!(
        "CPU features detected: {}; staticnet kernels: {}; this binary compiled for: {}",
        cpu_features(),
        staticnet::kernels::simd(),
        compiled_features()
    );
    println!("{passes} passes × {rounds} rounds × {steps} steps per case, ours and RTNeural's passes alternating");

    let mut ours = vec![Figures::default(); cases.len()];
    // (case, build) → figures
    let mut theirs = vec![vec![Figures::default(); BUILDS.len()]; cases.len()];
    let mut loads = Vec::new();
    for pass in 0..passes {
        loads.push(load());
        // Alternate which side goes first.
        let order: &[bool] = if pass % 2 == 0 { &[true, false] } else { &[false, true] };
        for &our_turn in order {
            match (&rtneural, our_turn) {
                (_, true) => {
                    if let Err(e) = our_pass(&mut cases, &mut ours, rounds, steps) {
                        eprintln!("{e}");
                        std::process::exit(1);
                    }
                }
                (Ok(dir), false) => their_pass(dir, &cases, &mut theirs, rounds, steps),
                (Err(_), false) => {}
            }
        }
        eprintln!("pass {} of {passes} done (load average {})", pass + 1, load());
    }
    loads.push(load());

    for c in &cases {
        assert!(c.checksum.is_finite(), "{}: a non-finite checksum", c.label);
    }
    println!();
    println!("ns per step, fastest round | median of the passes' medians:");
    println!();
    let header: Vec<String> = BUILDS
        .iter()
        .enumerate()
        .map(|(b, (_, label))| if b == 0 { format!("RTNeural {label}") } else { label.to_string() })
        .chain(RATIOS.iter().map(|(label, _)| format!("ours / {label}")))
        .collect();
    println!("| case | ours | {} |", header.join(" | "));
    println!("|---|---|{}", "---|".repeat(header.len()));
    for (k, c) in cases.iter().enumerate() {
        let fig = |f: &Figures| format!("{} \\| {}", ns(f.min()), ns(f.median()));
        let best = |bs: &[usize]| bs.iter().filter_map(|&b| theirs[k][b].min()).reduce(f64::min);
        let ratio = |best: Option<f64>| match (ours[k].min(), best) {
            (Some(o), Some(t)) => format!("{:.2}×", o / t),
            _ => "–".into(),
        };
        let cells: Vec<String> =
            theirs[k].iter().map(fig).chain(RATIOS.iter().map(|(_, bs)| ratio(best(bs)))).collect();
        println!("| {} | {} | {} |", c.label, fig(&ours[k]), cells.join(" | "));
    }
    println!();
    println!("load average at each pass's start and at the end: {}", loads.join("; "));
    println!("checksums (ours): {}", cases.iter().map(|c| format!("{:.6e}", c.checksum)).collect::<Vec<_>>().join(" "));
}
