use staticnet::nalgebra::SMatrix;

staticnet::network! {
    pub struct TwoInputs {
        let text = Input(40);
        let question = Input(24);
        let merged = concatenate([text, question]);
        let answer = Dense(5, activation = softmax)(merged);
        Model([text, question], answer);
    }
}

fn main() {
    let model = TwoInputs::<f32>::new(0);
    let text = SMatrix::<f32, 40, 16>::zeros();
    let question = SMatrix::<f32, 42, 16>::zeros();
    let _ = model.forward_batch::<16>(&text, &question);
}
