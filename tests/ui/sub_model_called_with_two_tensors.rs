staticnet::network! {
    pub struct Pair {
        let x = Input(4);
        let h = Dense(3)(x);
        let encoder = Model(x, h, name = "encoder");
        let a = Input(4);
        let b = Input(4);
        let y = encoder([a, b]);
        Model([a, b], y);
    }
}

fn main() {}
