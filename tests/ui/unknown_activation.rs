staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Dense(16, activation = relux)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

fn main() {}
