//! Real-time streaming: a small GRU learns, in Rust, to imitate an analog
//! effect with memory (a one-pole low-pass filter, then a soft-clipping
//! distortion, `tanh(4·y)`), from windows of a sine sweep; then a model
//! whose steps have no length runs it one audio sample per `step` call,
//! as a plugin's audio callback would, with no allocation.
//!
//! ```sh
//! cargo run --release --example streaming
//! ```
//! Prints the training loss, the per-sample time of `step`, and the error
//! against the filter on a sweep the network never saw.

use staticnet::nalgebra::{Const, Dyn, OMatrix, SVector};
use std::time::Instant;

/// Steps of a training window.
const WINDOW: usize = 64;
/// Sample rate of the sweeps, in Hz.
const RATE: f64 = 8000.0;

staticnet::network! {
    /// The model trained on windows: a GRU's state at every step, read by
    /// a per-step linear output.
    pub struct Effect {
        let audio = Input(shape = (64, 1));
        let h = GRU(16, return_sequences = true, name = "gru")(audio);
        let out = Dense(1, name = "out")(h);
        Model(audio, out);
        compile(optimizer = Adam(learning_rate = 0.005), loss = mse);
    }
}

staticnet::network! {
    /// The same layers over a stream of any length: only `step` and
    /// `forward_steps`, for the weights `Effect` learned.
    pub struct EffectLive {
        let audio = Input(shape = (None, 1));
        let h = GRU(16, return_sequences = true, name = "gru")(audio);
        let out = Dense(1, name = "out")(h);
        Model(audio, out);
    }
}

/// The effect the network imitates: a one-pole low-pass at about 400 Hz,
/// then `tanh(4·y)`; `state` is the filter's memory.
struct Reference {
    state: f64,
}

impl Reference {
    fn process(&mut self, x: f64) -> f64 {
        let a = (-2.0 * std::f64::consts::PI * 400.0 / RATE).exp();
        self.state = a * self.state + (1.0 - a) * x;
        (4.0 * self.state).tanh()
    }
}

/// A logarithmic sine sweep from `f0` to `f1` Hz over `n` samples, at
/// amplitude `amplitude`.
fn sweep(n: usize, f0: f64, f1: f64, amplitude: f64) -> Vec<f64> {
    let seconds = n as f64 / RATE;
    let k = (f1 / f0).ln() / seconds;
    (0..n)
        .map(|i| {
            let t = i as f64 / RATE;
            let phase = 2.0 * std::f64::consts::PI * f0 * ((k * t).exp() - 1.0) / k;
            amplitude * phase.sin()
        })
        .collect()
}

/// Training windows: `count` windows of `WINDOW` samples from sweeps of
/// varied amplitude, each target the effect from a silent start (the
/// window's first step is the start of the GRU's state too).
fn windows(count: usize, seed: u64) -> (OMatrix<f32, Const<WINDOW>, Dyn>, OMatrix<f32, Const<WINDOW>, Dyn>) {
    let mut rng = staticnet::rng::SplitMix64::new(seed);
    let mut uniform = move || rng.next_f64();
    let mut x = OMatrix::<f32, Const<WINDOW>, Dyn>::zeros(count);
    let mut y = OMatrix::<f32, Const<WINDOW>, Dyn>::zeros(count);
    for w in 0..count {
        let (f0, amplitude) = (30.0 + 1500.0 * uniform(), 0.05 + 0.95 * uniform());
        let signal = sweep(WINDOW, f0, f0 * (1.0 + 2.0 * uniform()), amplitude);
        let mut effect = Reference { state: 0.0 };
        for (t, &s) in signal.iter().enumerate() {
            x[(t, w)] = s as f32;
            y[(t, w)] = effect.process(s) as f32;
        }
    }
    (x, y)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (x, y) = windows(4096, 1);
    let mut model = Effect::<f32>::new(7);
    let mut optimizer = Effect::<f32>::optimizer();
    println!("{}", Effect::<f32>::summary());
    let options = staticnet::FitOptions::new().epochs(30).batch_size(32).seed(7).verbose(2);
    let start = Instant::now();
    let history = staticnet::fit(&mut model, &mut optimizer, &x, &y, &options)?;
    println!(
        "trained on {} windows of {WINDOW} samples in {:.1} s; final loss {:.2e}",
        x.ncols(),
        start.elapsed().as_secs_f64(),
        history.get("loss").and_then(|l| l.last()).copied().unwrap_or(f64::NAN)
    );

    // The weights go to the streaming model, as they would to a plugin.
    let live = EffectLive::<f32>::from_safetensors(&model.to_safetensors())?;
    let signal = sweep(RATE as usize * 2, 20.0, 3000.0, 0.8);
    let mut reference = Reference { state: 0.0 };
    let target: Vec<f64> = signal.iter().map(|&s| reference.process(s)).collect();
    let mut state = EffectLiveState::<f32>::default();
    let mut output = vec![0.0f32; signal.len()];
    // Timed over several passes of the whole sweep, each from silence.
    let passes = 20;
    let start = Instant::now();
    for _ in 0..passes {
        state.reset();
        for (o, &s) in output.iter_mut().zip(&signal) {
            *o = std::hint::black_box(&live).step(&mut state, &SVector::from([s as f32]))[0];
        }
    }
    let per_sample = start.elapsed().as_secs_f64() * 1e9 / (passes * signal.len()) as f64;
    let (mut err2, mut sig2, mut worst) = (0.0, 0.0, 0.0f64);
    for (&o, &t) in output.iter().zip(&target) {
        let e = o as f64 - t;
        err2 += e * e;
        sig2 += t * t;
        worst = worst.max(e.abs());
    }
    let rms = (err2 / signal.len() as f64).sqrt();
    println!("streaming a 2 s sweep (20 Hz to 3 kHz, {} samples) one `step` per sample:", signal.len());
    println!(
        "  time per sample: {per_sample:.0} ns ({:.0}× faster than real time at {RATE} Hz)",
        1e9 / RATE / per_sample
    );
    println!(
        "  error against the filter: RMS {rms:.4} (signal RMS {:.3}), error-to-signal {:.2}%, largest {worst:.3}",
        (sig2 / signal.len() as f64).sqrt(),
        100.0 * err2 / sig2
    );
    Ok(())
}
