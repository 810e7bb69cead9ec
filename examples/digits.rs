//! The README's main example: the seed's 64→32→32→10 classifier trained on
//! the UCI handwritten digits (data/digits.csv.gz), as Keras would train it:
//! pixels scaled by 1/16, an 80/20 split, RMSprop, batch 32, 50 epochs, the
//! held-out fifth as validation data (`validation_data=(x_test, y_test)`,
//! which does not change the training). It prints Keras's progress and
//! writes the learning curves to target/digits_history.svg.
//!
//! ```sh
//! cargo run --release --example digits [seed]   # seed 7 by default
//! ```
mod common;

use std::time::Instant;

staticnet::network! {
    /// The seed's digit classifier.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        compile(optimizer = rmsprop, loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

/// What one training run measured.
pub struct Outcome {
    /// Accuracy on the held-out fifth, in 0..=1.
    pub test_accuracy: f64,
    /// Wall time of `fit`, in seconds.
    pub train_seconds: f64,
    /// The trained model.
    pub model: Digits<f32>,
    /// What `fit` logged.
    pub history: staticnet::History,
}

/// Trains the classifier as Keras would (RMSprop, batch 32, 50 epochs) on a
/// stratified 80/20 split drawn with `seed`, and tests it.
pub fn train_and_test(seed: u64, verbose: bool) -> Result<Outcome, Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let (train, test) = data.split(seed);
    let (x_train, y_train) = (data.inputs(&train), data.one_hot(&train));
    let (x_test, y_test) = (data.inputs(&test), data.one_hot(&test));
    if verbose {
        println!("{} training and {} test images", train.len(), test.len());
        println!("{}", Digits::<f32>::summary());
    }
    let mut model = Digits::<f32>::new(seed);
    let mut optimizer = Digits::<f32>::optimizer();
    let options = staticnet::FitOptions::new()
        .epochs(50)
        .batch_size(32)
        .seed(seed)
        .validation_data(&x_test, &y_test)
        .verbose(verbose);
    let start = Instant::now();
    let history = staticnet::fit(&mut model, &mut optimizer, &x_train, &y_train, &options)?;
    let train_seconds = start.elapsed().as_secs_f64();
    let test_logs = staticnet::evaluate(&model, &x_test, &y_test, 256)?;
    let test_accuracy = test_logs.get("accuracy").unwrap_or(f64::NAN);
    if verbose {
        let final_loss = history.last("loss").unwrap_or(f64::NAN);
        println!("final training loss {final_loss:.4}, test loss {:.4}", test_logs.loss());
    }
    Ok(Outcome { test_accuracy, train_seconds, model, history })
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(7);
    let outcome = train_and_test(seed, true)?;
    println!("test accuracy: {:.2}%", outcome.test_accuracy * 100.0);
    println!("training time: {:.3} s for 50 epochs, validation included", outcome.train_seconds);
    std::fs::create_dir_all("target")?;
    std::fs::write("target/digits.safetensors", outcome.model.to_safetensors())?;
    println!("weights saved to target/digits.safetensors");
    outcome.history.write_svg("target/digits_history.svg")?;
    println!("learning curves drawn in target/digits_history.svg");
    Ok(())
}
