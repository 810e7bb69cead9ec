staticnet::network! {
    /// A residual block whose skip connection skips a width change.
    pub struct Residual {
        let x = Input(64);
        let h = Dense(64, activation = relu)(x);
        let h = Dense(32)(h);
        let y = add([x, h]);
        let out = Dense(1, activation = sigmoid, name = "out")(y);
        Model(x, out);
        compile(loss = binary_crossentropy);
    }
}

fn main() {}
