staticnet::network! {
    pub struct Strided {
        let image = Input(shape = (32, 32, 3));
        let x = Conv2D(16, 3, strides = 2, dilation_rate = 2)(image);
        Model(image, x);
    }
}

fn main() {}
