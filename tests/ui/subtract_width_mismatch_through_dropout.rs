staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(32, activation = relu)(x);
        let a = Dropout(0.5)(a);
        let b = Dropout(0.5)(x);
        let c = subtract([a, b]);
        Model(x, c);
    }
}

fn main() {}
