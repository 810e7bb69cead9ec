staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1, activation = softmax)(x);
        Model(x, y);
        compile(loss = categorical_crossentropy);
    }
}

fn main() {}
