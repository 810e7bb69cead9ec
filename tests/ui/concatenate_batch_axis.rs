staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8)(x);
        let c = concatenate([a, x], axis = 0);
        Model(x, c);
    }
}

fn main() {}
