staticnet::network! {
    pub struct Tagger {
        let x = Input(32);
        let h = Dense(16, activation = relu)(x);
        let y = LSTM(8)(h);
        Model(x, y);
    }
}

fn main() {}
