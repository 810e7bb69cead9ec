//! Two inputs joined by `concatenate`: a question-answering head.
use staticnet::nalgebra::SVector;

staticnet::network! {
    /// Picks one of ten answers from a text embedding and a question embedding.
    pub struct QuestionAnswer {
        let text = Input(40);
        let question = Input(24);
        let encoded_text = Dense(32, activation = relu)(text);
        let encoded_question = Dense(16, activation = relu)(question);
        let concatenated = concatenate([encoded_text, encoded_question], axis = -1);
        let answer = Dense(10, activation = softmax, name = "answer")(concatenated);
        Model([text, question], answer);
        compile(optimizer = rmsprop, loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

fn main() {
    println!("{}", QuestionAnswer::<f32>::summary());
    let model = QuestionAnswer::<f32>::new(1);
    let text = SVector::<f32, 40>::from_fn(|i, _| (i as f32 * 0.3).sin());
    let question = SVector::<f32, 24>::from_fn(|i, _| (i as f32 * 0.7).cos());
    let answer = model.forward(&text, &question);
    println!("answer probabilities: {:.3}", answer.transpose());
    println!("most likely answer: {}", answer.argmax().0);
}
