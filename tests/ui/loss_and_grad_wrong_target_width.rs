use staticnet::nalgebra::SMatrix;

staticnet::network! {
    pub struct Classifier {
        let x = Input(8);
        let h = Dense(16, activation = relu)(x);
        let probs = Dense(10, activation = softmax, name = "probs")(h);
        Model(x, probs);
        compile(loss = categorical_crossentropy);
    }
}

fn main() {
    let model = Classifier::<f32>::new(0);
    let mut grads = Classifier::<f32>::zeros();
    let x = SMatrix::<f32, 8, 32>::zeros();
    let y = SMatrix::<f32, 1, 32>::zeros();
    let _ = model.loss_and_grad::<32>(&x, &y, &mut grads);
}
