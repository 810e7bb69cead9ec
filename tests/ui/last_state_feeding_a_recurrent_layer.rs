staticnet::network! {
    pub struct Stacked {
        let x = Input(shape = (50, 4));
        let h = LSTM(16)(x);
        let y = LSTM(8)(h);
        Model(x, y);
    }
}

fn main() {}
