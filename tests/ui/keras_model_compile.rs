staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
        model.compile(optimizer = adam, loss = mse);
    }
}

fn main() {}
