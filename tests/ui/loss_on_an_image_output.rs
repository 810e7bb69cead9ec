staticnet::network! {
    pub struct Denoiser {
        let image = Input(shape = (16, 16, 1));
        let x = Conv2D(8, 3, padding = "same", activation = relu)(image);
        let clean = Conv2D(1, 3, padding = "same", name = "clean")(x);
        Model(image, clean);
        compile(loss = mse);
    }
}

fn main() {}
