staticnet::network! {
    pub struct Reader {
        let text = Input(shape = (20,));
        let x = Embedding(1000, 16)(text);
        let y = GRU(8)(x);
        Model(text, y);
    }
}

fn main() {}
