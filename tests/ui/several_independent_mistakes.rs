staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let a = Dense(32, activation = relux)(x);
        let b = Dense(16)(x);
        let c = add([a, b]);
        let d = Dense(0)(b);
        Model(x, [c, d]);
        compile(optimizer = adamw, loss = [mse, mse]);
    }
}

fn main() {}
