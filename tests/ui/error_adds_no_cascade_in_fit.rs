// A network with a mistake, passed to `fit`, `evaluate` and `predict`: the
// placeholder implements the runtime's traits with the interface the
// network shows, so only the mistake itself is reported.
use staticnet::nalgebra::{Const, Dyn, OMatrix};
use staticnet::{evaluate, fit, predict, FitOptions};

staticnet::network! {
    pub struct Classifier {
        let x = Input(8);
        let h = Dense(16, activation = relux)(x);
        let y = Dense(3, activation = softmax)(h);
        Model(x, y);
        compile(loss = categorical_crossentropy, metrics = [accuracy]);
    }
}

fn main() {
    let x = OMatrix::<f32, Const<8>, Dyn>::zeros(10);
    let y = OMatrix::<f32, Const<3>, Dyn>::zeros(10);
    let mut model = Classifier::<f32>::new(1);
    let mut optimizer = Classifier::<f32>::optimizer();
    let history = fit(&mut model, &mut optimizer, &x, &y, &FitOptions::new().epochs(2)).unwrap();
    println!("{:?}", history.get("loss"));
    let logs = evaluate(&model, &x, &y, 4).unwrap();
    println!("{}", logs.loss());
    let out = predict(&model, &x, 4).unwrap();
    println!("{}", out.len());
}
