staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(3, activaton = softmax)(x);
        Model(x, y);
    }
}

fn main() {}
