staticnet::network! {
    pub struct Net {
        let posts = Input(256);
        let gender = Dense(1, activation = sigmoid, name = "gender")(posts);
        Model(posts, gender);
        compile(loss = sparse_categorical_crossentropy);
    }
}

fn main() {}
