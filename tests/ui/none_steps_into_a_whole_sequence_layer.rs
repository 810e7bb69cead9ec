// A model whose steps have no length runs one step at a time: global
// pooling needs every step at once.
staticnet::network! {
    pub struct Detector {
        let audio = Input(shape = (None, 1));
        let a = Conv1D(8, 3, padding = "causal", activation = relu)(audio);
        let b = GlobalAveragePooling1D()(a);
        let y = Dense(1, activation = sigmoid)(b);
        Model(audio, y);
    }
}

fn main() {}
