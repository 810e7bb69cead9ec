staticnet::network! {
    pub struct Net {
        let x = Input(64);
        let h = Dense(32, activation = relu)(x);
        let y = Dense(10, activation = softmax)(h);
        Model(x, y);
        quantize(int8, calibration = "tests/fixtures/int8_digits_calibration.safetensors");
    }
}

fn main() {}
