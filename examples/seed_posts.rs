//! The seed's multi-head model: one input, three heads (regression,
//! softmax classification, sigmoid classification).
use staticnet::nalgebra::SVector;

staticnet::network! {
    /// Predicts age, income bracket and gender from a post embedding.
    pub struct Posts {
        let posts = Input(256);
        let x = Dense(64, activation = relu)(posts);
        let age = Dense(1, name = "age")(x);
        let income = Dense(10, activation = softmax, name = "income")(x);
        let gender = Dense(1, activation = sigmoid, name = "gender")(x);
        Model(posts, [age, income, gender]);
        compile(
            optimizer = rmsprop,
            loss = [mse, categorical_crossentropy, binary_crossentropy],
            loss_weights = [0.25, 1.0, 10.0],
            metrics = [accuracy],
        );
    }
}

fn main() {
    println!("{}", Posts::<f32>::summary());
    let model = Posts::<f32>::new(7);
    let post = SVector::<f32, 256>::from_fn(|i, _| ((i * 37 % 101) as f32 / 101.0) - 0.5);
    let out = model.forward(&post);
    println!("age: {:.4}", out.age[0]);
    println!("income bracket probabilities: {:.3}", out.income.transpose());
    println!("gender (probability of 1): {:.4}", out.gender[0]);
}
