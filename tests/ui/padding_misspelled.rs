staticnet::network! {
    pub struct Padded {
        let image = Input(shape = (32, 32, 3));
        let x = Conv2D(16, 3, padding = "vaild")(image);
        Model(image, x);
    }
}

fn main() {}
