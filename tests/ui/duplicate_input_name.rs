staticnet::network! {
    pub struct Net {
        let text = Input(40, name = "text");
        let question = Input(24, name = "text");
        let merged = concatenate([text, question]);
        let y = Dense(1)(merged);
        Model([text, question], y);
    }
}

fn main() {}
