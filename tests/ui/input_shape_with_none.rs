staticnet::network! {
    pub struct Streaming {
        let x = Input(shape = (None, 3));
        let y = Dense(1)(x);
        Model(x, y);
    }
}

fn main() {}
