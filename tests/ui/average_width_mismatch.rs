staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8, activation = tanh)(x);
        let b = Dense(4, activation = tanh)(x);
        let c = average([a, b]);
        Model(x, c);
    }
}

fn main() {}
