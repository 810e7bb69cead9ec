// `Encodr` is neither a layer nor a network defined above.
staticnet::network! {
    pub struct Encoder {
        let x = Input(8);
        let code = Dense(4)(x);
        Model(x, code);
    }
}

staticnet::network! {
    pub struct Classifier {
        let x = Input(8);
        let code = Encodr(x);
        let out = Dense(3, activation = softmax)(code);
        Model(x, out);
    }
}

fn main() {}
