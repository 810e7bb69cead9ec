staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let side = Input(4);
        let h = Dense(16, activation = relu)(side);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

fn main() {}
