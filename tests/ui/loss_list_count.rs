staticnet::network! {
    pub struct Net {
        let posts = Input(256);
        let age = Dense(1, name = "age")(posts);
        let income = Dense(10, activation = softmax, name = "income")(posts);
        let gender = Dense(1, activation = sigmoid, name = "gender")(posts);
        Model(posts, [age, income, gender]);
        compile(loss = [mse, categorical_crossentropy]);
    }
}

fn main() {}
