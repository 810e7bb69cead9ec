staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(32.5)(x);
        Model(x, y);
    }
}

fn main() {}
