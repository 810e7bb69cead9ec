staticnet::network! {
    pub struct Net {
        let query = Input(24);
        let key = Input(32);
        let q = Dense(16)(query);
        let score = dot([q, key], axes = 1);
        Model([query, key], score);
    }
}

fn main() {}
