staticnet::network! {
    pub struct Net {
        let x = Input(shape = (0,));
        let y = Dense(4)(x);
        Model(x, y);
    }
}

fn main() {}
