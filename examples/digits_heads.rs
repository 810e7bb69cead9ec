//! A multi-head model on real data: from one UCI digit image it predicts the
//! class (softmax, categorical cross-entropy), whether the digit is odd
//! (sigmoid, binary cross-entropy) and its ink mass (linear, mse), with one
//! fused loss. `fit` prints every head's loss and accuracy per epoch.
//!
//! ```sh
//! cargo run --release --example digits_heads
//! ```
mod common;

staticnet::network! {
    /// Three heads over a shared trunk.
    pub struct DigitHeads {
        let image = Input(64);
        let x = Dense(64, activation = relu)(image);
        let x = Dropout(0.1)(x);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        let odd = Dense(1, activation = sigmoid, name = "odd")(x);
        let ink = Dense(1, name = "ink")(x);
        Model(image, [class, odd, ink]);
        compile(
            optimizer = Adam(learning_rate = 0.003),
            loss = { class: categorical_crossentropy, odd: binary_crossentropy, ink: mse },
            loss_weights = { class: 1.0, odd: 0.5, ink: 10.0 },
            metrics = { class: [accuracy], odd: [accuracy], ink: [mae] },
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let (train, test) = data.split(3);
    println!("{}", DigitHeads::<f32>::summary());
    let (x, class, odd, ink) = (data.inputs(&train), data.one_hot(&train), data.odd(&train), data.ink(&train));
    let mut model = DigitHeads::<f32>::new(3);
    let mut optimizer = DigitHeads::<f32>::optimizer();
    let options = staticnet::FitOptions::new().epochs(30).batch_size(32).validation_split(0.1).seed(3);
    staticnet::fit(&mut model, &mut optimizer, &x, (&class, &odd, &ink), &options)?;

    let test_x = data.inputs(&test);
    let logs = staticnet::evaluate(&model, &test_x, (&data.one_hot(&test), &data.odd(&test), &data.ink(&test)), 256)?;
    println!("test set: {logs}");
    let out = model.forward(&staticnet::nalgebra::SVector::from_column_slice(test_x.column(0).as_slice()));
    println!(
        "first test image (a {}): class {} with p = {:.3}, odd p = {:.3}, ink {:.3} (true {:.3})",
        data.labels[test[0]],
        out.class.argmax().0,
        out.class.max(),
        out.odd[0],
        out.ink[0],
        data.ink(&test[..1])[0]
    );
    Ok(())
}
