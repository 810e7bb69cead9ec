staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(8)(x);
        let b = LayerNormalization()(a);
        let c = Dense(12)(x);
        let m = maximum([a, b, c]);
        Model(x, m);
    }
}

fn main() {}
