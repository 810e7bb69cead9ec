staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Conv2D(16)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

fn main() {}
