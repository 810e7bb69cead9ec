staticnet::network! {
    pub struct Sensor {
        let signal = Input(shape = (128, 3));
        let x = Conv2D(16, 3)(signal);
        Model(signal, x);
    }
}

fn main() {}
