staticnet::network! {
    pub struct Pooled {
        let x = Input(64);
        let h = Dense(32)(x);
        let y = GlobalAveragePooling1D()(h);
        Model(x, y);
    }
}

fn main() {}
