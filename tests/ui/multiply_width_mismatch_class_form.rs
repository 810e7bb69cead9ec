staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Input(6);
        let a = Dense(4)(x);
        let c = Multiply()([a, y]);
        Model([x, y], c);
    }
}

fn main() {}
