staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Dense(16, activation = relu, name = "encoder")(x);
        let y = Dense(1, name = "encoder")(h);
        Model(x, y);
    }
}

fn main() {}
