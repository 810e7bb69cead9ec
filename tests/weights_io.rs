//! Weights of generated networks: safetensors round trips across scalar
//! types, errors that name the bad tensor, and `new_boxed`.

use staticnet::nalgebra::SVector;
use staticnet::WeightsError;

staticnet::network! {
    /// A model with every kind of parameter tensor.
    pub struct Mixed {
        let x = Input(6);
        let h = Dense(5, activation = relu)(x);
        let n = LayerNormalization()(h);
        let b = BatchNormalization()(n);
        let y = Dense(3, use_bias = false, name = "head")(b);
        Model(x, y);
    }
}

staticnet::network! {
    /// Same layers, one width different.
    pub struct Wider {
        let x = Input(6);
        let h = Dense(7, activation = relu)(x);
        let n = LayerNormalization()(h);
        let b = BatchNormalization()(n);
        let y = Dense(3, use_bias = false, name = "head")(b);
        Model(x, y);
    }
}

#[test]
fn round_trips_across_scalar_types() {
    let mut model = Mixed::<f64>::new(11);
    model.batch_normalization.moving_mean.fill(0.25);
    let bytes = model.to_safetensors();
    let back = Mixed::<f64>::from_safetensors(&bytes).unwrap();
    assert_eq!(back, model);
    let as_f32 = Mixed::<f32>::from_safetensors(&bytes).unwrap();
    assert_eq!(as_f32.dense.kernel, model.dense.kernel.map(|v| v as f32));
    let again = Mixed::<f64>::from_safetensors(&as_f32.to_safetensors()).unwrap();
    assert_eq!(again.dense.kernel, as_f32.dense.kernel.map(f64::from));
    let x = SVector::<f64, 6>::from_fn(|i, _| i as f64 - 2.5);
    assert_eq!(back.forward(&x), model.forward(&x));
}

#[test]
fn keras_layout_and_names() {
    let model = Mixed::<f32>::new(2);
    let bytes = model.to_safetensors();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = file.names();
    names.sort();
    assert_eq!(
        names,
        [
            "batch_normalization.beta",
            "batch_normalization.gamma",
            "batch_normalization.moving_mean",
            "batch_normalization.moving_variance",
            "dense.bias",
            "dense.kernel",
            "head.kernel",
            "layer_normalization.beta",
            "layer_normalization.gamma"
        ]
    );
    let kernel = file.tensor("dense.kernel").unwrap();
    assert_eq!(kernel.shape(), [6, 5]);
    // Keras's [in, out] row-major: element (i, o) at i * out + o.
    let at = |i: usize, o: usize| {
        f32::from_le_bytes(kernel.data()[4 * (i * 5 + o)..4 * (i * 5 + o) + 4].try_into().unwrap())
    };
    assert_eq!(at(2, 3), model.dense.kernel[(3, 2)]);
}

#[test]
fn bad_files_name_the_problem() {
    let wide = Wider::<f32>::new(1).to_safetensors();
    let err = Mixed::<f32>::from_safetensors(&wide).unwrap_err();
    assert!(matches!(err, WeightsError::Shape { ref name, .. } if name == "dense.kernel"), "{err}");
    assert_eq!(err.to_string(), "tensor `dense.kernel` has shape [6, 7], the model needs [6, 5]");
    let good = Mixed::<f32>::new(1).to_safetensors();
    for cut in [0, 7, 8, 20, good.len() / 2, good.len() - 1] {
        assert!(Mixed::<f32>::from_safetensors(&good[..cut]).is_err(), "truncated at {cut}");
    }
}

#[test]
fn new_boxed_equals_new() {
    let boxed = Mixed::<f64>::new_boxed(5);
    assert_eq!(*boxed, Mixed::<f64>::new(5));
    assert_ne!(Mixed::<f64>::new(5), Mixed::<f64>::new(6));
    assert_eq!(boxed.layer_normalization.gamma, SVector::<f64, 5>::repeat(1.0));
    assert_eq!(boxed.batch_normalization.moving_variance, SVector::<f64, 5>::repeat(1.0));
}

#[test]
fn glorot_limits() {
    let model = Mixed::<f64>::new(3);
    let limit = (6.0f64 / (6.0 + 5.0)).sqrt();
    assert!(model.dense.kernel.iter().all(|w| w.abs() <= limit));
    assert!(model.dense.kernel.iter().any(|w| w.abs() > limit * 0.8));
    assert!(model.dense.bias.iter().all(|&b| b == 0.0));
    assert_eq!(Mixed::<f32>::PARAM_COUNT, 6 * 5 + 5 + 2 * 5 + 4 * 5 + 5 * 3);
}
