staticnet::network! {
    pub struct Net {
        let units = 32;
        let x = Input(8);
        let y = Dense(units)(x);
        Model(x, y);
    }
}

fn main() {}
