staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(3, activation = softmax)(x);
        Model(x, y);
        compile(loss = categorical_crossentropy, metrics = [acuracy]);
    }
}

fn main() {}
