staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
        compile(optimizer = adamw, loss = mse);
    }
}

fn main() {}
