staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Dense(16)(x);
        let y = Dense(1)(h);
        Model(h, y);
    }
}

fn main() {}
