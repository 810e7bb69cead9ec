staticnet::network! {
    pub struct Net {
        let x = Input(4);
        let hidden = Dense(8, activation = relu);
        let y = Dense(1)(x);
        Model(x, y);
    }
}

fn main() {}
