staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8)(x);
        let b = Dense(8)(x);
        let c = subtract([a, b, x]);
        Model(x, c);
    }
}

fn main() {}
