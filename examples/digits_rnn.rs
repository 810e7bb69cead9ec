//! The digits read as a sequence: each 8×8 image is 8 steps of 8 pixels
//! (a row per step), read by two GRUs; the same data, split and training
//! loop as `digits` (pixels scaled by 1/16, a stratified 80/20 split,
//! batch 32, 50 epochs), with Adam. `tools/digits_rnn_keras.py` trains the
//! same model in Keras.
//!
//! ```sh
//! cargo run --release --example digits_rnn [seed]   # seed 7 by default
//! ```
mod common;

use std::time::Instant;

staticnet::network! {
    /// A GRU over the rows keeps every step's state for a second GRU,
    /// whose last state is classified.
    pub struct DigitsRnn {
        let image = Input(shape = (8, 8));
        let x = GRU(64, return_sequences = true, name = "gru1")(image);
        let x = GRU(64, name = "gru2")(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        compile(optimizer = adam, loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

/// What one training run measured.
pub struct Outcome {
    /// Accuracy on the held-out fifth, in 0..=1.
    pub test_accuracy: f64,
    /// Wall time of `fit`, in seconds.
    pub train_seconds: f64,
    /// The trained model.
    pub model: DigitsRnn<f32>,
}

/// Trains the network on the split drawn with `seed` and tests it.
pub fn train_and_test(seed: u64, verbose: bool) -> Result<Outcome, Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let (train, test) = data.split(seed);
    // A sample of shape (8, 8) is its 64 pixels row by row: the same
    // columns as the dense classifier's, one row a step.
    let (x_train, y_train) = (data.inputs(&train), data.one_hot(&train));
    let (x_test, y_test) = (data.inputs(&test), data.one_hot(&test));
    if verbose {
        println!("{} training and {} test images", train.len(), test.len());
        println!("{}", DigitsRnn::<f32>::summary());
    }
    let mut model = DigitsRnn::<f32>::new(seed);
    let mut optimizer = DigitsRnn::<f32>::optimizer();
    let options =
        staticnet::FitOptions::new().epochs(50).batch_size(32).seed(seed).verbose(if verbose { 2 } else { 0 });
    let start = Instant::now();
    staticnet::fit(&mut model, &mut optimizer, &x_train, &y_train, &options)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let test_logs = staticnet::evaluate(&model, &x_test, &y_test, 256)?;
    let test_accuracy = test_logs.get("accuracy").unwrap_or(f64::NAN);
    Ok(Outcome { test_accuracy, train_seconds, model })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(7);
    let outcome = train_and_test(seed, true)?;
    println!("test accuracy: {:.2}%", outcome.test_accuracy * 100.0);
    println!("training time: {:.2} s for 50 epochs", outcome.train_seconds);
    let pixels = common::load_digits()?;
    let (_, test) = pixels.split(seed);
    let one = staticnet::nalgebra::SVector::<f32, 64>::from_column_slice(pixels.inputs(&test[..1]).as_slice());
    let start = Instant::now();
    let rounds = 10_000;
    let mut class = 0;
    for _ in 0..rounds {
        class = std::hint::black_box(&outcome.model).forward(std::hint::black_box(&one)).argmax().0;
    }
    println!(
        "one image through `forward`: {:.1} µs (class {class})",
        start.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
    // The same model reads the image a row at a time, as rows arrive.
    let mut state = DigitsRnnState::default();
    let mut last = staticnet::nalgebra::SVector::<f32, 10>::zeros();
    for row in one.as_slice().chunks_exact(8) {
        last = outcome.model.step(&mut state, &staticnet::nalgebra::SVector::from_column_slice(row));
    }
    println!("row by row with `step`: class {} after the eighth row", last.argmax().0);
    Ok(())
}
