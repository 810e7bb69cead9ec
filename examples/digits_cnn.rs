//! The digits again, read as 8×8 images by a small convolutional network:
//! the same data, split and training loop as `digits` (pixels scaled by
//! 1/16, a stratified 80/20 split, batch 32, 50 epochs), with Adam.
//!
//! ```sh
//! cargo run --release --example digits_cnn [seed]   # seed 7 by default
//! ```
mod common;

use std::time::Instant;

staticnet::network! {
    /// Two convolutions over the 8×8 image, a pooling between them, and a
    /// softmax over the flattened features.
    pub struct DigitsCnn {
        let image = Input(shape = (8, 8, 1));
        let x = Conv2D(16, (3, 3), padding = "same", activation = relu, name = "conv1")(image);
        let x = MaxPooling2D((2, 2), name = "pool")(x);
        let x = Conv2D(32, (3, 3), padding = "same", activation = relu, name = "conv2")(x);
        let x = Flatten(name = "flat")(x);
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
    pub model: DigitsCnn<f32>,
}

/// Trains the network on the split drawn with `seed` and tests it.
pub fn train_and_test(seed: u64, verbose: bool) -> Result<Outcome, Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let (train, test) = data.split(seed);
    // A sample of shape (8, 8, 1) is its 64 pixels in row-major order: the
    // same columns as the dense classifier's.
    let (x_train, y_train) = (data.inputs(&train), data.one_hot(&train));
    let (x_test, y_test) = (data.inputs(&test), data.one_hot(&test));
    if verbose {
        println!("{} training and {} test images", train.len(), test.len());
        println!("{}", DigitsCnn::<f32>::summary());
    }
    let mut model = DigitsCnn::<f32>::new(seed);
    let mut optimizer = DigitsCnn::<f32>::optimizer();
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
    Ok(())
}
