staticnet::network! {
    pub struct Streaming {
        let x = Input(shape = (16, None));
        let y = Dense(1)(x);
        Model(x, y);
    }
}

fn main() {}
