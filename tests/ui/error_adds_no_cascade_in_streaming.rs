// A network with steps without a length and a mistake: the placeholder
// has the streaming API too (`{Name}State` with the fields of the layers
// built before the mistake, `step`, `forward_steps`), so user code that
// streams through it reports only the mistake itself.
use staticnet::nalgebra::{SMatrix, SVector};

staticnet::network! {
    pub struct Detector {
        let x = Input(shape = (None, 1));
        let h = GRU(16, return_sequences = true)(x);
        let y = Dense(1, activation = sigmoidd)(h);
        Model(x, y);
    }
}

fn main() {
    let model = Detector::<f32>::new(3);
    let mut state = DetectorState::<f32>::default();
    let mut last = 0.0;
    for t in 0..16 {
        let y = model.step(&mut state, &SVector::from([t as f32 * 0.1]));
        last = y[0];
    }
    println!("{last} {:?} {}", state.clone(), state.gru[0]);
    state.reset();
    assert_eq!(state, DetectorState::default());
    let steps = model.forward_steps::<8>(&SMatrix::<f32, 1, 8>::zeros());
    println!("{}", steps[(0, 7)]);
}
