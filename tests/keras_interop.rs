//! A model exported from Keras by tools/keras_export.py (see
//! tools/interop_model.py): trained in Keras, loaded and run in Rust, with
//! every layer kind that has weights and non-trivial batch-normalization
//! statistics.
//!
//! Keras 3.15 computes `LayerNormalization` in float32 even in a float64
//! model (its `result_type("float64", "float32")` is float32), so its f64
//! outputs carry float32 rounding (about 3e-7 after the layer norm, checked
//! against numpy); outputs are held to 1e-6 relative in f64 and 1e-4 in f32.

mod common;

use common::*;
use staticnet::nalgebra::SVector;
use staticnet::Scalar;

staticnet::network! {
    /// tools/interop_model.py, written with `network!`.
    pub struct Interop {
        let a = Input(12, name = "a");
        let b = Input(6, name = "b");
        let x = Dense(16, activation = gelu)(a);
        let x = LayerNormalization()(x);
        let y = Dense(16, activation = tanh, use_bias = false)(b);
        let m = concatenate([x, y]);
        let m = BatchNormalization()(m);
        let m = Dropout(0.2)(m);
        let p = Dense(8)(m);
        let q = Dense(8, activation = elu)(m);
        let s = add([p, q]);
        let cls = Dense(5, activation = softmax, name = "cls")(s);
        let reg = Dense(2, name = "reg")(s);
        Model([a, b], [cls, reg]);
    }
}

fn check<T: Scalar>() {
    let f = Fixture::load("interop");
    assert_eq!(f.metadata["inputs"], r#"["a", "b"]"#);
    assert_eq!(f.metadata["heads"], r#"["cls", "reg"]"#);
    let model: Interop<T> =
        staticnet::weights::from_safetensors_prefixed(&f.bytes, "weights/").expect("exported weights");
    assert!(model.batch_normalization.moving_variance.iter().any(|v| (v.as_f64() - 1.0).abs() > 1e-3));
    let a = f.matrix::<T, 12, 8>("input/a");
    let b = f.matrix::<T, 6, 8>("input/b");
    let out = model.forward_batch::<8>(&a, &b);
    let tol = if T::BYTES == 8 { 1e-6 } else { 1e-4 };
    assert_close_within("cls", out.cls.as_slice(), f.get("expect/output/cls"), tol);
    assert_close_within("reg", out.reg.as_slice(), f.get("expect/output/reg"), tol);
    let one = model.forward(
        &SVector::from_column_slice(a.column(3).as_slice()),
        &SVector::from_column_slice(b.column(3).as_slice()),
    );
    assert_close_within("cls[3]", one.cls.as_slice(), &f.get("expect/output/cls")[15..20], tol);
}

#[test]
fn f64_matches_keras_predict() {
    check::<f64>();
}

#[test]
fn f32_matches_keras_predict() {
    check::<f32>();
}
