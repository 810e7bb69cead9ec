staticnet::network! {
    pub struct Causal {
        let image = Input(shape = (32, 32, 3));
        let x = Conv2D(16, 3, padding = "causal")(image);
        Model(image, x);
    }
}

fn main() {}
