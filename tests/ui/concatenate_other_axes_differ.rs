staticnet::network! {
    pub struct Joined {
        let a = Input(shape = (10, 4));
        let b = Input(shape = (12, 4));
        let c = concatenate([a, b], axis = -1);
        Model([a, b], c);
    }
}

fn main() {}
