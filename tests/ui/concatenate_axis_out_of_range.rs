staticnet::network! {
    pub struct Joined {
        let a = Input(shape = (10, 4));
        let b = Input(shape = (10, 2));
        let c = concatenate([a, b], axis = 3);
        Model([a, b], c);
    }
}

fn main() {}
