staticnet::network! {
    pub struct Net<T> {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
    }
}

fn main() {}
