staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(1, name = "a")(x);
        let b = Dense(1, name = "b")(x);
        Model(x, [a, b]);
        compile(loss = [mse, mse], loss_weight = [1.0, 0.5]);
    }
}

fn main() {}
