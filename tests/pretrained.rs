//! Weights baked in at compile time with `weights("…")`: the `PRETRAINED`
//! constants equal the same file loaded at run time, in f32 and f64, and
//! live in a `static`.

use staticnet::nalgebra::SVector;

staticnet::network! {
    /// The digits classifier, with the weights the main example trained.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        weights("examples/digits.safetensors");
    }
}

static MODEL: Digits<f32> = Digits::<f32>::PRETRAINED;

#[test]
fn baked_weights_equal_the_file_loaded_at_run_time() {
    let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/digits.safetensors")).unwrap();
    let loaded32 = Digits::<f32>::from_safetensors(&bytes).unwrap();
    let loaded64 = Digits::<f64>::from_safetensors(&bytes).unwrap();
    assert_eq!(MODEL, loaded32);
    assert_eq!(Digits::<f64>::PRETRAINED, loaded64);
    let x = SVector::<f32, 64>::from_fn(|i, _| (i % 7) as f32 / 7.0);
    assert_eq!(MODEL.forward(&x), loaded32.forward(&x));
    assert_eq!(Digits::<f64>::PRETRAINED.forward(&x.map(f64::from)), loaded64.forward(&x.map(f64::from)));
    assert!(MODEL.dense.kernel.iter().any(|&w| w != 0.0));
}
