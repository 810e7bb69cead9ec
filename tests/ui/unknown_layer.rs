staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Dens(16, activation = relu)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

fn main() {}
