staticnet::network! {
    pub struct Sensor {
        let signal = Input(shape = (4, 3));
        let x = Conv1D(8, 3, dilation_rate = 2)(signal);
        let y = GlobalMaxPooling1D()(x);
        Model(signal, y);
    }
}

fn main() {}
