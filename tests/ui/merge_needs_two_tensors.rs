staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8)(x);
        let c = add([a]);
        Model(x, c);
    }
}

fn main() {}
