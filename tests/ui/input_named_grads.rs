staticnet::network! {
    pub struct Net {
        let grads = Input(8);
        let y = Dense(1)(grads);
        Model(grads, y);
        compile(loss = mse);
    }
}

fn main() {}
