staticnet::network! {
    pub struct Pooled {
        let image = Input(shape = (6, 6, 3));
        let x = Conv2D(8, 3)(image);
        let x = MaxPooling2D((2, 2))(x);
        let x = AveragePooling2D((3, 3))(x);
        let out = Flatten()(x);
        Model(image, out);
    }
}

fn main() {}
