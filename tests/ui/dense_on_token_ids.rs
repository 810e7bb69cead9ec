staticnet::network! {
    pub struct Reader {
        let text = Input(shape = (20,), dtype = "int32");
        let y = Dense(8)(text);
        Model(text, y);
    }
}

fn main() {}
