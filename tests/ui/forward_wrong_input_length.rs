use staticnet::nalgebra::SVector;

staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let h = Dense(16, activation = relu)(x);
        let y = Dense(1)(h);
        Model(x, y);
        compile(loss = mse);
    }
}

fn main() {
    let model = Net::<f32>::new(0);
    let x = SVector::<f32, 7>::zeros();
    let _ = model.forward(&x);
}
