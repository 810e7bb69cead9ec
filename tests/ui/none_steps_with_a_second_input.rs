staticnet::network! {
    pub struct Mixer {
        let audio = Input(shape = (None, 1));
        let gain = Input(1);
        let a = Conv1D(4, 3, padding = "causal")(audio);
        let b = Dense(4)(gain);
        Model([audio, gain], [a, b]);
    }
}

fn main() {}
