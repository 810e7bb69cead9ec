staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8)(x);
        let c = dot([a, x], axes = 2);
        Model(x, c);
    }
}

fn main() {}
