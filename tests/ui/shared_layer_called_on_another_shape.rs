staticnet::network! {
    pub struct Siamese {
        let left = Input(8);
        let right = Input(6);
        let shared = Dense(4, activation = relu);
        let a = shared(left);
        let b = shared(right);
        let y = Dense(1)(concatenate([a, b]));
        Model([left, right], y);
    }
}

fn main() {}
