//! The seed's classifier: 64 → 32 → 32 → 10, printed and run on one sample.
use staticnet::nalgebra::SVector;

staticnet::network! {
    /// A small multi-layer perceptron for 8×8 digit images.
    pub struct SeedMlp {
        let input_tensor = Input(64);
        let x = Dense(32, activation = relu)(input_tensor);
        let x = Dense(32, activation = relu)(x);
        let output_tensor = Dense(10, activation = softmax)(x);
        Model(input_tensor, output_tensor);
        compile(optimizer = rmsprop, loss = categorical_crossentropy);
    }
}

fn main() {
    println!("{}", SeedMlp::<f32>::summary());
    let model = SeedMlp::<f32>::new(42);
    let image = SVector::<f32, 64>::from_fn(|i, _| (i % 9) as f32 / 8.0);
    let probabilities = model.forward(&image);
    let class = probabilities.argmax().0;
    println!("prediction of the untrained model: class {class} with probability {:.3}", probabilities[class]);
}
