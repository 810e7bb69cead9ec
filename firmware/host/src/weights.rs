//! Writes the baked weights of two firmware models that have no file of
//! their own elsewhere:
//!
//! - `models/effect.safetensors`: the streaming GRU, trained here (a few
//!   seconds) to imitate a one-pole low-pass at 400 Hz of 8 kHz audio then
//!   `tanh(4·y)`, as examples/streaming.rs does with more data;
//! - `models/vision.safetensors`: the convolutional model of nostd/, from
//!   `new(7)` and a few Adam steps (so the batch normalization's moving
//!   statistics are not the identity).
//!
//! ```sh
//! cargo run --release -p staticnet-firmware-host --bin weights \
//!     --no-default-features --features weights --target x86_64-unknown-linux-gnu
//! ```
use staticnet::nalgebra::{Const, Dyn, OMatrix, SMatrix};

staticnet::network! {
    /// The effect on windows of 64 samples, for training.
    pub struct Effect {
        let audio = Input(shape = (64, 1));
        let h = GRU(16, return_sequences = true, name = "gru")(audio);
        let out = Dense(1, name = "out")(h);
        Model(audio, out);
        compile(optimizer = Adam(learning_rate = 0.005), loss = mse);
    }
}

staticnet::network! {
    /// As in src/lib.rs, without its weights file.
    pub struct Vision {
        let image = Input(shape = (12, 12, 1));
        let x = Conv2D(8, 3, padding = "same", activation = relu)(image);
        let x = BatchNormalization()(x);
        let x = MaxPooling2D(2)(x);
        let x = DepthwiseConv2D(3, depth_multiplier = 2)(x);
        let x = SeparableConv2D(8, 3, padding = "same", activation = relu)(x);
        let x = GlobalAveragePooling2D()(x);
        let signal = Input(shape = (16, 3));
        let s = Conv1D(4, 3, padding = "causal", dilation_rate = 2, activation = relu)(signal);
        let s = AveragePooling1D(2)(s);
        let s = Flatten()(s);
        let both = concatenate([x, s]);
        let class = Dense(3, activation = softmax, name = "class")(both);
        Model([image, signal], class);
        compile(optimizer = adam, loss = categorical_crossentropy);
    }
}

const WINDOW: usize = 64;
const RATE: f64 = 8000.0;

/// `count` windows of sweeps at random amplitudes, and the effect on them
/// from a silent start.
fn windows(count: usize, seed: u64) -> (OMatrix<f32, Const<WINDOW>, Dyn>, OMatrix<f32, Const<WINDOW>, Dyn>) {
    let mut rng = staticnet::rng::SplitMix64::new(seed);
    let mut x = OMatrix::<f32, Const<WINDOW>, Dyn>::zeros(count);
    let mut y = OMatrix::<f32, Const<WINDOW>, Dyn>::zeros(count);
    let a = (-2.0 * std::f64::consts::PI * 400.0 / RATE).exp();
    for w in 0..count {
        let (f0, amplitude) = (30.0 + 1500.0 * rng.next_f64(), 0.05 + 0.95 * rng.next_f64());
        let f1 = f0 * (1.0 + 2.0 * rng.next_f64());
        let k = (f1 / f0).ln() / (WINDOW as f64 / RATE);
        let mut state = 0.0;
        for t in 0..WINDOW {
            let time = t as f64 / RATE;
            let s = amplitude * (2.0 * std::f64::consts::PI * f0 * ((k * time).exp() - 1.0) / k).sin();
            state = a * state + (1.0 - a) * s;
            x[(t, w)] = s as f32;
            y[(t, w)] = (4.0 * state).tanh() as f32;
        }
    }
    (x, y)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let folder = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");

    let (x, y) = windows(1024, 1);
    let mut effect = Effect::<f32>::new(7);
    let mut optimizer = Effect::<f32>::optimizer();
    let options = staticnet::FitOptions::new().epochs(20).batch_size(32).seed(7).verbose(0);
    let history = staticnet::fit(&mut effect, &mut optimizer, &x, &y, &options)?;
    let loss = history.get("loss").and_then(|l| l.last()).copied().unwrap_or(f64::NAN);
    std::fs::write(folder.join("effect.safetensors"), effect.to_safetensors())?;
    println!("models/effect.safetensors: GRU effect, final training loss {loss:.2e}");

    let mut vision = Vision::<f32>::new(7);
    let mut optimizer = Vision::<f32>::optimizer();
    let images = SMatrix::<f32, 144, 4>::from_fn(|i, j| ((i * 5 + j * 17) % 13) as f32 / 13.0);
    let signals = SMatrix::<f32, 48, 4>::from_fn(|i, j| ((i * 7 + j) % 9) as f32 / 9.0 - 0.5);
    let classes = SMatrix::<f32, 3, 4>::from_fn(|i, j| if i == j % 3 { 1.0 } else { 0.0 });
    for _ in 0..5 {
        vision.train_step::<4>(&mut optimizer, &images, &signals, &classes);
    }
    std::fs::write(folder.join("vision.safetensors"), vision.to_safetensors())?;
    println!("models/vision.safetensors: the conv model of nostd/ after 5 Adam steps");
    Ok(())
}
