staticnet::network! {
    pub struct Reshaped {
        let x = Input(shape = (4, 4));
        let y = Reshape((5, 3))(x);
        Model(x, y);
    }
}

fn main() {}
