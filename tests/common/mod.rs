//! Helpers shared by the integration tests: reading Keras fixture files and
//! comparing tensors.
#![allow(dead_code)]

use safetensors::SafeTensors;
use staticnet::{Network, Scalar};
use std::collections::HashMap;

/// One fixture file, every tensor as f64 in row-major order.
pub struct Fixture {
    pub bytes: Vec<u8>,
    pub tensors: HashMap<String, Vec<f64>>,
    pub metadata: HashMap<String, String>,
}

impl Fixture {
    pub fn load(name: &str) -> Fixture {
        let path = format!("{}/tests/fixtures/{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (_, meta) = SafeTensors::read_metadata(&bytes).expect("fixture header");
        let metadata = meta.metadata().clone().unwrap_or_default();
        let st = SafeTensors::deserialize(&bytes).expect("fixture");
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            assert_eq!(view.dtype(), safetensors::Dtype::F64, "{name}");
            let data = view.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
            tensors.insert(name, data);
        }
        Fixture { bytes, tensors, metadata }
    }

    pub fn get(&self, key: &str) -> &[f64] {
        self.tensors.get(key).unwrap_or_else(|| panic!("fixture has no `{key}`"))
    }

    pub fn scalar(&self, key: &str) -> f64 {
        self.get(key)[0]
    }

    /// The tensor as a matrix of `T`; Keras's row-major `[batch, features]`
    /// is nalgebra's column-major `features × batch`.
    pub fn matrix<T: Scalar, const R: usize, const C: usize>(
        &self,
        key: &str,
    ) -> staticnet::nalgebra::SMatrix<T, R, C> {
        let data = self.get(key);
        assert_eq!(data.len(), R * C, "{key}");
        staticnet::nalgebra::SMatrix::from_iterator(data.iter().map(|&v| T::of_f64(v)))
    }

    /// Checks that the `network` text in the metadata is the one compiled.
    pub fn assert_network_text(&self, compiled: &str) {
        let strip = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        assert_eq!(
            strip(&self.metadata["network"]),
            strip(compiled),
            "the test compiles a different model than the fixture"
        );
    }
}

/// Tolerance for `T`: 1e-9 relative in f64, 1e-4 in f32.
pub fn tolerance<T: Scalar>() -> f64 {
    if T::BYTES == 8 {
        1e-9
    } else {
        1e-4
    }
}

/// Element-wise `|got - want| <= tol * (|want| + max|want|)`: relative to
/// the element, with the tensor's scale as the floor for near-zero entries.
pub fn assert_close<T: Scalar>(what: &str, got: &[T], want: &[f64]) {
    assert_close_within(what, got, want, tolerance::<T>());
}

/// [`assert_close`] with an explicit tolerance.
pub fn assert_close_within<T: Scalar>(what: &str, got: &[T], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let g = g.as_f64();
        assert!(
            (g - w).abs() <= tol * (w.abs() + scale),
            "{what}[{i}]: got {g:e}, Keras {w:e} (diff {:e}, tolerance {tol:e})",
            (g - w).abs()
        );
    }
}

pub fn assert_scalar_close<T: Scalar>(what: &str, got: T, want: f64) {
    assert_scalar_within(what, got, want, tolerance::<T>());
}

pub fn assert_scalar_within<T: Scalar>(what: &str, got: T, want: f64, tol: f64) {
    let g = got.as_f64();
    assert!((g - want).abs() <= tol * want.abs().max(1e-12), "{what}: got {g:e}, Keras {want:e}");
}

/// Every tensor of `model` against `{prefix}{name}` in the fixture.
pub fn assert_tensors<T: Scalar, M: Network<T>>(fixture: &Fixture, prefix: &str, model: &M) {
    for (i, info) in M::TENSORS.iter().enumerate() {
        assert_close(
            &format!("{prefix}{}", info.name),
            model.tensor(i),
            fixture.get(&format!("{prefix}{}", info.name)),
        );
    }
}
