staticnet::network! {
    pub struct Tiny {
        let image = Input(shape = (4, 4, 1));
        let x = Conv2D(8, (5, 5), activation = relu)(image);
        let y = GlobalAveragePooling2D()(x);
        let out = Dense(2, activation = softmax)(y);
        Model(image, out);
    }
}

fn main() {}
