staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(h);
        let h = Dense(16, activation = relu)(x);
        Model(x, y);
    }
}

fn main() {}
