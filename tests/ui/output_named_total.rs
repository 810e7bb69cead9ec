staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(1, name = "total")(x);
        let b = Dense(1, name = "part")(x);
        Model(x, [a, b]);
        compile(loss = [mse, mse]);
    }
}

fn main() {}
