staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let unused = Input(4);
        let y = Dense(1)(x);
        Model([x, unused], y);
    }
}

fn main() {}
