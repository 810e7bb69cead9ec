//! The digits read as a sequence: each 8×8 image is 8 steps of 8 pixels
//! (a row per step), read by two GRUs; the same data, split and training
//! loop as `digits` (pixels scaled by 1/16, a stratified 80/20 split,
//! batch 32, 50 epochs), with Adam. `tools/digits_rnn_keras.py` trains the
//! same model in Keras.
//!
//! ```sh
//! cargo run --release --example digits_rnn [seed]   # seed 7 by default
//! ```
#[macro_use]
mod common;

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

// A sample is its 64 pixels row by row, the dense classifier's columns.
digits_training!(DigitsRnn);

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map(|s| s.parse()).transpose()?.unwrap_or(7);
    let outcome = train_and_test(seed, true)?;
    println!("test accuracy: {:.2}%", outcome.test_accuracy * 100.0);
    println!("training time: {:.2} s for 50 epochs", outcome.train_seconds);
    let one = time_forward(&outcome.model, seed)?;
    // The same model reads the image a row at a time, as rows arrive.
    let mut state = DigitsRnnState::default();
    let mut last = staticnet::nalgebra::SVector::<f32, 10>::zeros();
    for row in one.as_slice().chunks_exact(8) {
        last = outcome.model.step(&mut state, &staticnet::nalgebra::SVector::from_column_slice(row));
    }
    println!("row by row with `step`: class {} after the eighth row", last.argmax().0);
    Ok(())
}
