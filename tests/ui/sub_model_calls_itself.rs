// A model whose output comes from calling itself: a cycle.
staticnet::network! {
    pub struct Loop {
        let x = Input(4);
        let h = encoder(x);
        let encoder = Model(x, h, name = "encoder");
        let y = Dense(1)(encoder(x));
        Model(x, y);
    }
}

fn main() {}
