//! The digits again, read as 8×8 images by a small convolutional network:
//! the same data, split and training loop as `digits` (pixels scaled by
//! 1/16, a stratified 80/20 split, batch 32, 50 epochs), with Adam.
//!
//! ```sh
//! cargo run --release --example digits_cnn [seed]   # seed 7 by default
//! ```
#[macro_use]
mod common;

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

// A sample is its 64 pixels row by row, the dense classifier's columns.
digits_training!(DigitsCnn);

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(7);
    let outcome = train_and_test(seed, true)?;
    println!("test accuracy: {:.2}%", outcome.test_accuracy * 100.0);
    println!("training time: {:.2} s for 50 epochs", outcome.train_seconds);
    time_forward(&outcome.model, seed)?;
    Ok(())
}
