staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        compile(loss = mse);
    }
}

fn main() {}
