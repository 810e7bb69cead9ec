staticnet::network! {
    pub struct Residual {
        let image = Input(shape = (8, 8, 3));
        let x = Conv2D(16, 3, padding = "same")(image);
        let y = Conv2D(16, 3)(x);
        let z = add([x, y]);
        Model(image, z);
    }
}

fn main() {}
