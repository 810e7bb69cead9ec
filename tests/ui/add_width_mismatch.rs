staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(32, activation = relu)(x);
        let b = Dense(16, activation = relu)(x);
        let c = add([a, b]);
        Model(x, c);
    }
}

fn main() {}
