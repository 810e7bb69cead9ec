staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
        compile(optimizer = RMSprop(learning_rate = 0.01, rho = 1.2), loss = mse);
    }
}

fn main() {}
