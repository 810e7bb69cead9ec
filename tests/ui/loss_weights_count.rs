staticnet::network! {
    pub struct Net {
        let posts = Input(256);
        let age = Dense(1, name = "age")(posts);
        let income = Dense(10, activation = softmax, name = "income")(posts);
        Model(posts, [age, income]);
        compile(loss = [mse, categorical_crossentropy], loss_weights = [0.25, 1.0, 10.0]);
    }
}

fn main() {}
