staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let hidden = Dense(16, activation = relu)(x);
        let y = Dense(1)(hiden);
        Model(x, y);
    }
}

fn main() {}
