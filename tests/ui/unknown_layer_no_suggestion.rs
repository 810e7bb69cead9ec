staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = MultiHeadAttention(2, 8)(x);
        let y = Dense(1)(h);
        Model(x, y);
    }
}

fn main() {}
