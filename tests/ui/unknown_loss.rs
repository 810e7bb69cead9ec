staticnet::network! {
    pub struct Net {
        let x = Input(8);
        let y = Dense(1)(x);
        Model(x, y);
        compile(optimizer = adam, loss = mean_squared_eror);
    }
}

fn main() {}
