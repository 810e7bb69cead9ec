staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
        compile(optimizer = Adam(learning_rate = -0.001), loss = mse);
    }
}

fn main() {}
