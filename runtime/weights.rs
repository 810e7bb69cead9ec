//! Weights as [safetensors](https://huggingface.co/docs/safetensors): one
//! tensor per parameter, named as Keras names its variable
//! (`"dense.kernel"`, `"dense.bias"`, …) and shaped as Keras shapes it
//! (`[in, out]` for a kernel), so files move between Keras and `staticnet`
//! one to one.
//!
//! [`to_safetensors`] writes the scalar type's own dtype (`F32` or `F64`);
//! [`from_safetensors`] reads `F64`, `F32`, `F16` and `BF16` into either
//! scalar type, converting through `f64`. Loading checks the whole file
//! against the model and reports the first problem, in a fixed order: the
//! model's tensors in definition order (missing, misshapen, unsupported
//! dtype), then tensors the model does not have, sorted by name.
//!
//! No input makes the loader panic: a truncated or corrupted file, a header
//! that is not JSON, or sizes that overflow all come back as
//! [`WeightsError::Format`].

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use safetensors::tensor::{Dtype, SafeTensors, TensorView, View};

use crate::network::Network;
use crate::Scalar;

/// Why a safetensors file does not load into a model.
///
/// Every variant names the tensor it is about, as the model names it (the
/// key in the file without the prefix given to
/// [`from_safetensors_prefixed`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeightsError {
    /// The model has a tensor that the file lacks.
    Missing {
        /// The tensor's name, for example `"dense.kernel"`.
        name: String,
    },
    /// The file has a tensor that the model lacks.
    Unexpected {
        /// The tensor's name in the file (prefix removed).
        name: String,
    },
    /// A tensor's shape in the file differs from the model's.
    Shape {
        /// The tensor's name.
        name: String,
        /// The shape the model needs (Keras's shape).
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor's dtype cannot be loaded (only `F64`, `F32`, `F16` and
    /// `BF16` can).
    Dtype {
        /// The tensor's name.
        name: String,
        /// The dtype in the file, as safetensors spells it (`"I32"`).
        dtype: String,
    },
    /// The bytes are not a valid safetensors file (truncated, a header that
    /// is not JSON, offsets outside the file, sizes that overflow, …).
    Format(String),
}

impl fmt::Display for WeightsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightsError::Missing { name } => {
                write!(f, "the file has no tensor `{name}`, which the model needs")
            }
            WeightsError::Unexpected { name } => {
                write!(f, "the file has a tensor `{name}`, which the model does not have")
            }
            WeightsError::Shape { name, expected, found } => {
                write!(f, "tensor `{name}` has shape {found:?}, the model needs {expected:?}")
            }
            WeightsError::Dtype { name, dtype } => {
                write!(f, "tensor `{name}` has dtype {dtype}, which cannot be loaded: expected F64, F32, F16 or BF16")
            }
            WeightsError::Format(message) => write!(f, "invalid safetensors file: {message}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WeightsError {}

/// One model tensor, borrowed for the serializer.
struct Raw<'a> {
    dtype: Dtype,
    shape: &'a [usize],
    data: Vec<u8>,
}

impl View for &Raw<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// The safetensors dtype of the scalar type `T`.
fn dtype_of<T: Scalar>() -> Dtype {
    if T::BYTES == 8 {
        Dtype::F64
    } else {
        Dtype::F32
    }
}

/// Checks that `M`'s tensors agree with [`Network::TENSORS`]: each tensor
/// holds as many scalars as its shape says, and no two share a name.
fn check_model<T: Scalar, M: Network<T>>(model: &M) {
    for (i, info) in M::TENSORS.iter().enumerate() {
        let held = model.tensor(i).len();
        assert!(
            held == info.len(),
            "`{}` holds {held} scalars but its shape {:?} needs {}",
            info.name,
            info.shape,
            info.len()
        );
        assert!(M::TENSORS[..i].iter().all(|other| other.name != info.name), "two tensors are named `{}`", info.name);
    }
}

/// The model's weights as a safetensors file.
///
/// Every tensor of [`Network::TENSORS`] is stored under its name (for
/// example `"dense.kernel"`) with its Keras shape (`[in, out]` for a
/// kernel) in the scalar type's dtype, `F32` or `F64`. The file's metadata
/// is `{"format": "staticnet"}`. The output depends only on the weights.
///
/// # Panics
///
/// Only if `M`'s [`Network`] implementation contradicts itself (a tensor
/// whose length is not the product of its shape, or two tensors with one
/// name), which generated models never do.
pub fn to_safetensors<T: Scalar, M: Network<T>>(model: &M) -> Vec<u8> {
    check_model::<T, M>(model);
    let dtype = dtype_of::<T>();
    let raws: Vec<Raw<'static>> = M::TENSORS
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let values = model.tensor(i);
            let mut data = alloc::vec![0u8; values.len() * T::BYTES];
            for (x, out) in values.iter().zip(data.chunks_exact_mut(T::BYTES)) {
                x.write_le(out);
            }
            Raw { dtype, shape: info.shape, data }
        })
        .collect();
    let tensors = M::TENSORS.iter().map(|info| info.name).zip(raws.iter());
    let metadata = [(String::from("format"), String::from("staticnet"))];
    match safetensors::serialize(tensors, Some(metadata.into_iter().collect())) {
        Ok(bytes) => bytes,
        // `check_model` rules out every error the serializer can report for
        // tensors that fit in memory.
        Err(e) => panic!("cannot serialize the model's weights: {e}"),
    }
}

/// Loads a model from a safetensors file that holds exactly its tensors.
///
/// `F64`, `F32`, `F16` and `BF16` tensors load into either scalar type,
/// converted through `f64` (rounding to nearest when `T` is `f32`). Every
/// tensor of [`Network::TENSORS`] must be present with its Keras shape, and
/// the file must hold no other tensor; the metadata is ignored.
///
/// # Errors
///
/// The first problem found, in this order: an invalid file
/// ([`WeightsError::Format`]); then, for each of the model's tensors in
/// definition order, a missing tensor, a wrong shape or an unsupported
/// dtype; then the first extra tensor by name
/// ([`WeightsError::Unexpected`]).
///
/// # Panics
///
/// Never because of the bytes, whatever they hold; only if `M`'s
/// [`Network`] implementation contradicts itself (a tensor whose length is
/// not the product of its shape), which generated models never do.
pub fn from_safetensors<T: Scalar, M: Network<T>>(bytes: &[u8]) -> Result<M, WeightsError> {
    from_safetensors_prefixed(bytes, "")
}

/// Loads a model from the tensors of a safetensors file whose keys start
/// with `prefix`, for example `"weights/"` in a file that also holds inputs
/// and expected outputs.
///
/// The prefix is removed before the keys are matched with the model's
/// tensor names; keys without it are ignored. With an empty prefix this is
/// [`from_safetensors`].
///
/// # Errors
///
/// As [`from_safetensors`], counting only the keys that start with `prefix`.
pub fn from_safetensors_prefixed<T: Scalar, M: Network<T>>(bytes: &[u8], prefix: &str) -> Result<M, WeightsError> {
    let mut model = M::zeros();
    read_safetensors_into(&mut model, bytes, prefix)?;
    Ok(model)
}

/// Overwrites the weights of `model` with the tensors of a safetensors file
/// whose keys start with `prefix` (`""` for all keys), without building a
/// model on the stack; useful for large models built with `new_boxed`.
///
/// The whole file is checked before anything is written, so on an error
/// `model` is unchanged.
///
/// # Errors
///
/// As [`from_safetensors_prefixed`].
pub fn read_safetensors_into<T: Scalar, M: Network<T>>(
    model: &mut M,
    bytes: &[u8],
    prefix: &str,
) -> Result<(), WeightsError> {
    check_offsets(bytes)?;
    let file = SafeTensors::deserialize(bytes).map_err(|e| WeightsError::Format(e.to_string()))?;

    // Check every tensor the model needs, in definition order.
    let mut views: Vec<TensorView<'_>> = Vec::with_capacity(M::TENSORS.len());
    for info in M::TENSORS {
        let key = format!("{prefix}{}", info.name);
        let Ok(view) = file.tensor(&key) else {
            return Err(WeightsError::Missing { name: info.name.into() });
        };
        if view.shape() != info.shape {
            return Err(WeightsError::Shape {
                name: info.name.into(),
                expected: info.shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let Some(width) = width_of(view.dtype()) else {
            return Err(WeightsError::Dtype { name: info.name.into(), dtype: view.dtype().to_string() });
        };
        if view.data().len() != info.len().saturating_mul(width) {
            // The parser checks this; kept so that a parser bug cannot turn
            // into a short copy.
            return Err(WeightsError::Format(format!(
                "tensor `{}` holds {} bytes, its shape and dtype need {}",
                info.name,
                view.data().len(),
                info.len().saturating_mul(width)
            )));
        }
        views.push(view);
    }

    // Then tensors the model does not have, the first by name.
    let unexpected = file
        .names()
        .into_iter()
        .filter_map(|key| key.strip_prefix(prefix))
        .filter(|name| M::TENSORS.iter().all(|info| info.name != *name))
        .min();
    if let Some(name) = unexpected {
        return Err(WeightsError::Unexpected { name: name.into() });
    }

    for (i, view) in views.iter().enumerate() {
        let dtype = view.dtype();
        let Some(width) = width_of(dtype) else {
            continue;
        };
        let dst = model.tensor_mut(i);
        assert!(
            dst.len() == M::TENSORS[i].len(),
            "`{}` holds {} scalars but its shape {:?} needs {}",
            M::TENSORS[i].name,
            dst.len(),
            M::TENSORS[i].shape,
            M::TENSORS[i].len()
        );
        for (x, chunk) in dst.iter_mut().zip(view.data().chunks_exact(width)) {
            *x = T::of_f64(decode(dtype, chunk));
        }
    }
    Ok(())
}

/// Bytes per scalar of the dtypes that load, `None` for the others.
fn width_of(dtype: Dtype) -> Option<usize> {
    match dtype {
        Dtype::F64 => Some(8),
        Dtype::F32 => Some(4),
        Dtype::F16 | Dtype::BF16 => Some(2),
        _ => None,
    }
}

/// One little-endian scalar of `dtype` (`chunk` is [`width_of`] long).
fn decode(dtype: Dtype, chunk: &[u8]) -> f64 {
    match (dtype, chunk) {
        (Dtype::F64, &[a, b, c, d, e, f, g, h]) => f64::from_le_bytes([a, b, c, d, e, f, g, h]),
        (Dtype::F32, &[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]) as f64,
        (Dtype::F16, &[a, b]) => f16_to_f32(u16::from_le_bytes([a, b])) as f64,
        (Dtype::BF16, &[a, b]) => f32::from_bits((u16::from_le_bytes([a, b]) as u32) << 16) as f64,
        _ => f64::NAN,
    }
}

/// IEEE half precision to single precision, exactly.
fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exponent = ((h >> 10) & 0x1f) as u32;
    let mantissa = (h & 0x3ff) as u32;
    match exponent {
        // Zero and subnormals: mantissa · 2^-24, exact in f32.
        0 => {
            let magnitude = mantissa as f32 * (1.0 / 16_777_216.0);
            f32::from_bits(sign | magnitude.to_bits())
        }
        // Infinities and NaNs.
        0x1f => f32::from_bits(sign | 0x7f80_0000 | (mantissa << 13)),
        _ => f32::from_bits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13)),
    }
}

/// Rejects a header that declares a data offset beyond the end of the file.
///
/// The safetensors parser adds the declared offsets to the header length
/// unchecked, which overflows (and panics in debug builds) for offsets near
/// `usize::MAX`. Every offset of a valid file is at most the file's length,
/// so this scans the header for the numbers of each `data_offsets` key
/// (numbers after a key with JSON escapes are checked too, since such a key
/// may decode to `data_offsets`) and rejects any that is larger. Anything
/// else wrong with the header is left to the parser to report.
fn check_offsets(bytes: &[u8]) -> Result<(), WeightsError> {
    let Some(&[a, b, c, d, e, f, g, h]) = bytes.get(..8) else {
        return Ok(());
    };
    let n = u64::from_le_bytes([a, b, c, d, e, f, g, h]);
    let Some(header) = usize::try_from(n).ok().and_then(|n| bytes.get(8..n.checked_add(8)?)) else {
        return Ok(());
    };
    let limit = bytes.len() as u64;
    let mut checked = false;
    let mut i = 0;
    while i < header.len() {
        match header[i] {
            b'"' => {
                let start = i + 1;
                let mut j = start;
                let mut escaped = false;
                while j < header.len() && header[j] != b'"' {
                    if header[j] == b'\\' {
                        escaped = true;
                        j += 1;
                    }
                    j += 1;
                }
                let text = header.get(start..j.min(header.len())).unwrap_or_default();
                i = j.saturating_add(1);
                let mut k = i;
                while k < header.len() && header[k].is_ascii_whitespace() {
                    k += 1;
                }
                if header.get(k) == Some(&b':') {
                    checked = escaped || text == b"data_offsets";
                }
            }
            b'0'..=b'9' => {
                let mut value: Option<u64> = Some(0);
                while let Some(&digit @ b'0'..=b'9') = header.get(i) {
                    value = value.and_then(|v| v.checked_mul(10)).and_then(|v| v.checked_add(u64::from(digit - b'0')));
                    i += 1;
                }
                if checked && value.is_none_or(|v| v > limit) {
                    return Err(WeightsError::Format(format!(
                        "a tensor's data offset lies beyond the end of the file ({limit} bytes)"
                    )));
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::network::{HeadInfo, Mode, TensorInfo};
    use crate::rng::SplitMix64;
    use alloc::vec;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// A dense layer 2 → 3 and a normalization scale: three tensors.
    #[derive(Clone, Debug, PartialEq)]
    struct Tiny<T> {
        kernel: [T; 6],
        bias: [T; 3],
        gamma: [T; 3],
    }

    const TINY_TENSORS: &[TensorInfo] = &[
        TensorInfo { name: "dense.kernel", shape: &[2, 3], trainable: true },
        TensorInfo { name: "dense.bias", shape: &[3], trainable: true },
        TensorInfo { name: "norm.gamma", shape: &[3], trainable: true },
    ];

    impl<T: Scalar> Network<T> for Tiny<T> {
        const PARAM_COUNT: usize = 12;
        const TENSORS: &'static [TensorInfo] = TINY_TENSORS;
        const INPUT_NAMES: &'static [&'static str] = &["x"];
        const INPUT_WIDTHS: &'static [usize] = &[2];
        const HEADS: &'static [HeadInfo] = &[];
        const FORWARD_ROWS: usize = 0;
        const TRAIN_ROWS: usize = 0;
        const HEAD_OFFSETS: &'static [usize] = &[];
        const STATS_LEN: usize = 0;

        fn zeros() -> Self {
            let z = T::of_f64(0.0);
            Tiny { kernel: [z; 6], bias: [z; 3], gamma: [z; 3] }
        }
        fn with_seed(seed: u64) -> Self {
            let mut rng = SplitMix64::new(seed);
            let mut m = Self::zeros();
            for i in 0..3 {
                for x in m.tensor_mut(i) {
                    *x = T::of_f64(rng.next_f64() * 2.0 - 1.0);
                }
            }
            m
        }
        fn tensor(&self, i: usize) -> &[T] {
            match i {
                0 => &self.kernel,
                1 => &self.bias,
                _ => &self.gamma,
            }
        }
        fn tensor_mut(&mut self, i: usize) -> &mut [T] {
            match i {
                0 => &mut self.kernel,
                1 => &mut self.bias,
                _ => &mut self.gamma,
            }
        }
        fn forward_slices(&self, _: usize, _: &[&[T]], _: &mut [T], _: Mode, _: &mut [T]) {}
    }

    /// Keras's seed MLP, 64 → 32 → 32 → 10, for the fixture file.
    #[derive(Clone, Debug, PartialEq)]
    struct Mlp<T>(Vec<Vec<T>>);

    impl<T: Scalar> Network<T> for Mlp<T> {
        const PARAM_COUNT: usize = crate::network::total_len(Self::TENSORS);
        const TENSORS: &'static [TensorInfo] = &[
            TensorInfo { name: "dense.kernel", shape: &[64, 32], trainable: true },
            TensorInfo { name: "dense.bias", shape: &[32], trainable: true },
            TensorInfo { name: "dense_1.kernel", shape: &[32, 32], trainable: true },
            TensorInfo { name: "dense_1.bias", shape: &[32], trainable: true },
            TensorInfo { name: "dense_2.kernel", shape: &[32, 10], trainable: true },
            TensorInfo { name: "dense_2.bias", shape: &[10], trainable: true },
        ];
        const INPUT_NAMES: &'static [&'static str] = &["input_tensor"];
        const INPUT_WIDTHS: &'static [usize] = &[64];
        const HEADS: &'static [HeadInfo] = &[];
        const FORWARD_ROWS: usize = 0;
        const TRAIN_ROWS: usize = 0;
        const HEAD_OFFSETS: &'static [usize] = &[];
        const STATS_LEN: usize = 0;

        fn zeros() -> Self {
            Mlp(Self::TENSORS.iter().map(|t| vec![T::of_f64(0.0); t.len()]).collect())
        }
        fn with_seed(_: u64) -> Self {
            Self::zeros()
        }
        fn tensor(&self, i: usize) -> &[T] {
            &self.0[i]
        }
        fn tensor_mut(&mut self, i: usize) -> &mut [T] {
            &mut self.0[i]
        }
        fn forward_slices(&self, _: usize, _: &[&[T]], _: &mut [T], _: Mode, _: &mut [T]) {}
    }

    /// A safetensors file of `(name, dtype, shape, bytes)` entries.
    fn file(entries: &[(&str, Dtype, &[usize], Vec<u8>)]) -> Vec<u8> {
        let views: Vec<(&str, TensorView<'_>)> = entries
            .iter()
            .map(|(name, dtype, shape, data)| (*name, TensorView::new(*dtype, shape.to_vec(), data).unwrap()))
            .collect();
        safetensors::serialize(views, None).unwrap()
    }

    fn f64_bytes(values: &[f64]) -> Vec<u8> {
        values.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// A valid f64 file for `Tiny` with the given entries replaced or added.
    fn tiny_file_with(changes: &[(&str, Dtype, &[usize], Vec<u8>)]) -> Vec<u8> {
        let model = Tiny::<f64>::with_seed(1);
        let mut entries: Vec<(&str, Dtype, &[usize], Vec<u8>)> = TINY_TENSORS
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name, Dtype::F64, t.shape, f64_bytes(model.tensor(i))))
            .collect();
        for change in changes {
            match entries.iter_mut().find(|e| e.0 == change.0) {
                Some(e) => *e = change.clone(),
                None => entries.push(change.clone()),
            }
        }
        file(&entries)
    }

    fn load64(bytes: &[u8]) -> Result<Tiny<f64>, WeightsError> {
        from_safetensors::<f64, Tiny<f64>>(bytes)
    }

    fn load32(bytes: &[u8]) -> Result<Tiny<f32>, WeightsError> {
        from_safetensors::<f32, Tiny<f32>>(bytes)
    }

    #[test]
    fn round_trip_f64() {
        let model = Tiny::<f64>::with_seed(7);
        let bytes = to_safetensors(&model);
        assert_eq!(load64(&bytes), Ok(model));
    }

    #[test]
    fn round_trip_f32() {
        let model = Tiny::<f32>::with_seed(7);
        let bytes = to_safetensors(&model);
        assert_eq!(load32(&bytes), Ok(model));
    }

    #[test]
    fn file_layout_names_shapes_dtype_and_metadata() {
        let model = Tiny::<f32>::with_seed(3);
        let bytes = to_safetensors(&model);
        let file = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(file.len(), 3);
        for (i, info) in TINY_TENSORS.iter().enumerate() {
            let view = file.tensor(info.name).unwrap();
            assert_eq!(view.dtype(), Dtype::F32);
            assert_eq!(view.shape(), info.shape);
            let values: Vec<f32> = view.data().chunks_exact(4).map(f32::from_le_slice).collect();
            assert_eq!(values, model.tensor(i));
        }
        let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
        let metadata = metadata.metadata().as_ref().unwrap();
        assert_eq!(metadata.len(), 1);
        assert_eq!(metadata.get("format").map(String::as_str), Some("staticnet"));
        // Deterministic output.
        assert_eq!(bytes, to_safetensors(&model.clone()));
    }

    #[test]
    fn f64_file_into_f32_model_rounds_to_nearest() {
        let model = Tiny::<f64>::with_seed(11);
        let loaded = load32(&to_safetensors(&model)).unwrap();
        for i in 0..3 {
            let expected: Vec<f32> = model.tensor(i).iter().map(|&x| x as f32).collect();
            assert_eq!(loaded.tensor(i), expected.as_slice());
        }
    }

    #[test]
    fn f32_file_into_f64_model_is_exact() {
        let model = Tiny::<f32>::with_seed(11);
        let loaded = load64(&to_safetensors(&model)).unwrap();
        for i in 0..3 {
            let expected: Vec<f64> = model.tensor(i).iter().map(|&x| x as f64).collect();
            assert_eq!(loaded.tensor(i), expected.as_slice());
        }
        // And back: the f32 values survive f32 → f64 → f32.
        assert_eq!(load32(&to_safetensors(&loaded)), Ok(model));
    }

    #[test]
    fn f16_and_bf16_load() {
        let halves: [(u16, f64); 6] = [
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3555, 0.333_251_953_125),
            (0x0001, 5.960_464_477_539_063e-8),
            (0x7bff, 65504.0),
            (0x8000, -0.0),
        ];
        let brains: [(u16, f64); 3] = [(0x3f80, 1.0), (0xc040, -3.0), (0x3eaa, 0.332_031_25)];
        let half_bytes: Vec<u8> = halves.iter().flat_map(|(h, _)| h.to_le_bytes()).collect();
        let brain_bytes: Vec<u8> = brains.iter().flat_map(|(h, _)| h.to_le_bytes()).collect();
        let bytes = tiny_file_with(&[
            ("dense.kernel", Dtype::F16, &[2, 3], half_bytes),
            ("dense.bias", Dtype::BF16, &[3], brain_bytes),
        ]);
        let model = load64(&bytes).unwrap();
        let kernel: Vec<f64> = halves.iter().map(|&(_, x)| x).collect();
        let bias: Vec<f64> = brains.iter().map(|&(_, x)| x).collect();
        assert_eq!(model.kernel.as_slice(), kernel.as_slice());
        assert!(model.kernel[5].is_sign_negative());
        assert_eq!(model.bias.as_slice(), bias.as_slice());
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
    }

    #[test]
    fn every_truncation_is_an_error() {
        let bytes = to_safetensors(&Tiny::<f64>::with_seed(2));
        for len in 0..bytes.len() {
            assert!(load64(&bytes[..len]).is_err(), "prefix of {len} bytes loaded");
            assert!(load32(&bytes[..len]).is_err(), "prefix of {len} bytes loaded");
        }
        assert!(matches!(load64(&bytes[..3]), Err(WeightsError::Format(_))));
        let err = load64(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, WeightsError::Format(_)), "{err}");
    }

    #[test]
    fn corrupted_header_is_a_format_error() {
        let mut bytes = to_safetensors(&Tiny::<f64>::with_seed(2));
        assert_eq!(bytes[8], b'{');
        bytes[8] = b'[';
        let err = load64(&bytes).unwrap_err();
        assert!(matches!(err, WeightsError::Format(_)), "{err:?}");
        assert!(err.to_string().starts_with("invalid safetensors file: "), "{err}");

        // A header length beyond the file.
        let mut bytes = to_safetensors(&Tiny::<f64>::with_seed(2));
        bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(matches!(load64(&bytes), Err(WeightsError::Format(_))));

        // Not UTF-8.
        let mut bytes = to_safetensors(&Tiny::<f64>::with_seed(2));
        bytes[10] = 0xff;
        assert!(matches!(load64(&bytes), Err(WeightsError::Format(_))));
    }

    /// Hand-written header; the data is `data_len` zero bytes.
    fn raw_file(header: &str, data_len: usize) -> Vec<u8> {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.resize(bytes.len() + data_len, 0);
        bytes
    }

    #[test]
    fn overflowing_sizes_are_format_errors() {
        // Offsets that sum to nearly 2^64: the parser would overflow adding
        // them to the header length.
        let size = (1u64 << 61) - 1;
        let mut header = String::from("{");
        for k in 0..8u64 {
            if k > 0 {
                header.push(',');
            }
            header.push_str(&format!(
                "\"t{k}\":{{\"dtype\":\"U8\",\"shape\":[{size}],\"data_offsets\":[{},{}]}}",
                k * size,
                (k + 1) * size
            ));
        }
        header.push('}');
        let err = load64(&raw_file(&header, 0)).unwrap_err();
        assert!(matches!(err, WeightsError::Format(_)), "{err:?}");

        // The same with the key spelled with a JSON escape.
        let escaped = header.replace("data_offsets", "data\\u005foffsets");
        assert!(matches!(load64(&raw_file(&escaped, 0)), Err(WeightsError::Format(_))));

        // A shape whose element count overflows.
        let header = r#"{"dense.kernel":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}"#;
        assert!(matches!(load64(&raw_file(header, 0)), Err(WeightsError::Format(_))));

        // Numbers too large for u64, and offsets past the end.
        let header = r#"{"dense.bias":{"dtype":"F64","shape":[3],"data_offsets":[0,99999999999999999999999]}}"#;
        assert!(matches!(load64(&raw_file(header, 24)), Err(WeightsError::Format(_))));
        let header = r#"{"dense.bias":{"dtype":"F64","shape":[3],"data_offsets":[0,48]}}"#;
        assert!(matches!(load64(&raw_file(header, 24)), Err(WeightsError::Format(_))));

        // Negative and fractional sizes.
        let header = r#"{"dense.bias":{"dtype":"F64","shape":[-3],"data_offsets":[0,24]}}"#;
        assert!(matches!(load64(&raw_file(header, 24)), Err(WeightsError::Format(_))));
        let header = r#"{"dense.bias":{"dtype":"F64","shape":[3.5],"data_offsets":[0,24]}}"#;
        assert!(matches!(load64(&raw_file(header, 24)), Err(WeightsError::Format(_))));
    }

    #[test]
    fn a_large_but_valid_shape_is_not_rejected_by_the_offset_check() {
        // Zero elements: a shape dimension may exceed the file length.
        let header = r#"{"dense.bias":{"dtype":"F64","shape":[3],"data_offsets":[0,24]},"e":{"dtype":"F64","shape":[0,1000000],"data_offsets":[24,24]}}"#;
        let err = load64(&raw_file(header, 24)).unwrap_err();
        assert_eq!(err, WeightsError::Missing { name: "dense.kernel".into() });
    }

    #[test]
    fn wrong_shape_names_both_shapes() {
        let bytes = tiny_file_with(&[("dense.kernel", Dtype::F64, &[3, 2], f64_bytes(&[0.0; 6]))]);
        let err = load64(&bytes).unwrap_err();
        assert_eq!(err, WeightsError::Shape { name: "dense.kernel".into(), expected: vec![2, 3], found: vec![3, 2] });
        assert_eq!(err.to_string(), "tensor `dense.kernel` has shape [3, 2], the model needs [2, 3]");

        let bytes = tiny_file_with(&[("norm.gamma", Dtype::F64, &[], f64_bytes(&[1.0]))]);
        assert_eq!(
            load32(&bytes),
            Err(WeightsError::Shape { name: "norm.gamma".into(), expected: vec![3], found: vec![] })
        );
    }

    #[test]
    fn unsupported_dtype_is_named() {
        let ints: Vec<u8> = [1i32, 2, 3].iter().flat_map(|x| x.to_le_bytes()).collect();
        let bytes = tiny_file_with(&[("dense.bias", Dtype::I32, &[3], ints)]);
        let err = load64(&bytes).unwrap_err();
        assert_eq!(err, WeightsError::Dtype { name: "dense.bias".into(), dtype: "I32".into() });
        assert_eq!(
            err.to_string(),
            "tensor `dense.bias` has dtype I32, which cannot be loaded: expected F64, F32, F16 or BF16"
        );
        assert_eq!(load32(&bytes), Err(err));
    }

    #[test]
    fn missing_tensor_is_named() {
        let model = Tiny::<f64>::with_seed(4);
        let bytes = file(&[
            ("dense.kernel", Dtype::F64, &[2, 3], f64_bytes(&model.kernel)),
            ("norm.gamma", Dtype::F64, &[3], f64_bytes(&model.gamma)),
        ]);
        let err = load64(&bytes).unwrap_err();
        assert_eq!(err, WeightsError::Missing { name: "dense.bias".into() });
        assert_eq!(err.to_string(), "the file has no tensor `dense.bias`, which the model needs");
        assert_eq!(load64(&file(&[])), Err(WeightsError::Missing { name: "dense.kernel".into() }));
    }

    #[test]
    fn extra_tensor_is_named() {
        let bytes = tiny_file_with(&[
            ("zeta", Dtype::F64, &[1], f64_bytes(&[0.0])),
            ("dense_1.kernel", Dtype::I32, &[1], vec![0; 4]),
        ]);
        let err = load64(&bytes).unwrap_err();
        assert_eq!(err, WeightsError::Unexpected { name: "dense_1.kernel".into() });
        assert_eq!(err.to_string(), "the file has a tensor `dense_1.kernel`, which the model does not have");
    }

    #[test]
    fn problems_are_reported_in_model_order_first() {
        // A missing first tensor, a bad shape for the third, and an extra.
        let bytes = file(&[
            ("aaa", Dtype::F64, &[1], f64_bytes(&[0.0])),
            ("dense.bias", Dtype::F64, &[3], f64_bytes(&[0.0; 3])),
            ("norm.gamma", Dtype::F64, &[2], f64_bytes(&[0.0; 2])),
        ]);
        assert_eq!(load64(&bytes), Err(WeightsError::Missing { name: "dense.kernel".into() }));
        let bytes = tiny_file_with(&[
            ("aaa", Dtype::F64, &[1], f64_bytes(&[0.0])),
            ("norm.gamma", Dtype::F64, &[2], f64_bytes(&[0.0; 2])),
        ]);
        assert!(matches!(load64(&bytes), Err(WeightsError::Shape { .. })));
    }

    #[test]
    fn a_failed_load_leaves_the_model_unchanged() {
        let mut model = Tiny::<f64>::with_seed(5);
        let before = model.clone();
        let bytes = tiny_file_with(&[("extra", Dtype::F64, &[1], f64_bytes(&[0.0]))]);
        assert!(read_safetensors_into(&mut model, &bytes, "").is_err());
        assert_eq!(model, before);
        let good = to_safetensors(&Tiny::<f64>::with_seed(6));
        read_safetensors_into(&mut model, &good, "").unwrap();
        assert_eq!(model, Tiny::<f64>::with_seed(6));
    }

    #[test]
    fn prefixed_loading_strips_the_prefix_and_ignores_other_keys() {
        let model = Tiny::<f64>::with_seed(9);
        let mut entries: Vec<(String, Dtype, &[usize], Vec<u8>)> = TINY_TENSORS
            .iter()
            .enumerate()
            .map(|(i, t)| (format!("weights/{}", t.name), Dtype::F64, t.shape, f64_bytes(model.tensor(i))))
            .collect();
        // Keys outside the prefix, of any dtype and shape, are ignored.
        entries.push(("dense.kernel".into(), Dtype::I32, &[1], vec![0; 4]));
        entries.push(("expect/grad/dense.kernel".into(), Dtype::F64, &[3, 2], f64_bytes(&[0.0; 6])));
        entries.push(("input/x".into(), Dtype::F32, &[4, 2], vec![0; 32]));
        let borrowed: Vec<(&str, Dtype, &[usize], Vec<u8>)> =
            entries.iter().map(|(n, d, s, b)| (n.as_str(), *d, *s, b.clone())).collect();
        let bytes = file(&borrowed);

        assert_eq!(from_safetensors_prefixed::<f64, Tiny<f64>>(&bytes, "weights/"), Ok(model.clone()));
        let as_f32 = from_safetensors_prefixed::<f32, Tiny<f32>>(&bytes, "weights/").unwrap();
        assert_eq!(as_f32.kernel[0], model.kernel[0] as f32);
        // Without the prefix the other keys count.
        assert!(from_safetensors::<f64, Tiny<f64>>(&bytes).is_err());
        // An extra key under the prefix is reported without the prefix.
        let mut with_extra = borrowed.clone();
        with_extra.push(("weights/dense_9.bias", Dtype::F64, &[1], f64_bytes(&[0.0])));
        assert_eq!(
            from_safetensors_prefixed::<f64, Tiny<f64>>(&file(&with_extra), "weights/"),
            Err(WeightsError::Unexpected { name: "dense_9.bias".into() })
        );
        // A missing key under the prefix is reported by the model's name.
        let without: Vec<_> = borrowed.iter().filter(|e| e.0 != "weights/dense.bias").cloned().collect();
        assert_eq!(
            from_safetensors_prefixed::<f64, Tiny<f64>>(&file(&without), "weights/"),
            Err(WeightsError::Missing { name: "dense.bias".into() })
        );
    }

    #[test]
    fn keras_fixture_weights_load() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed_mlp.safetensors");
        let bytes = std::fs::read(path).expect("the Keras fixture is in the repository");
        let model = from_safetensors_prefixed::<f64, Mlp<f64>>(&bytes, "weights/").unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let kernel = file.tensor("weights/dense.kernel").unwrap();
        // Row-major [in, out]: element (1, 0) is the second row's first.
        let at = |k: usize| f64::from_le_slice(&kernel.data()[8 * k..8 * k + 8]);
        assert_eq!(model.0[0][32], at(32));
        assert!(model.0.iter().flatten().any(|&x| x != 0.0));
        let as_f32 = from_safetensors_prefixed::<f32, Mlp<f32>>(&bytes, "weights/").unwrap();
        assert_eq!(as_f32.0[0][32], at(32) as f32);
        // The steps' weights load through another prefix.
        assert!(from_safetensors_prefixed::<f64, Mlp<f64>>(&bytes, "expect/step3/").is_ok());
        // The whole file is not a model.
        assert!(from_safetensors::<f64, Mlp<f64>>(&bytes).is_err());
    }

    #[test]
    fn display_of_every_variant_is_lowercase_without_period() {
        let errors = [
            WeightsError::Missing { name: "a".into() },
            WeightsError::Unexpected { name: "a".into() },
            WeightsError::Shape { name: "a".into(), expected: vec![1], found: vec![2] },
            WeightsError::Dtype { name: "a".into(), dtype: "I8".into() },
            WeightsError::Format("header too small".into()),
        ];
        for e in errors {
            let text = e.to_string();
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
            assert!(!text.ends_with('.'), "{text}");
        }
    }

    /// Runs both loaders on `bytes` and fails the test if either panics.
    fn loads_without_panic(bytes: &[u8]) -> bool {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let a = load64(bytes).is_ok();
            let b = load32(bytes).is_ok();
            let c = from_safetensors_prefixed::<f64, Tiny<f64>>(bytes, "dense.").is_ok();
            assert_eq!(a, b);
            assert!(!c);
            a
        }));
        match result {
            Ok(ok) => ok,
            Err(_) => panic!("the loader panicked on {bytes:?}"),
        }
    }

    #[test]
    fn random_mutations_never_panic() {
        let valid = [
            to_safetensors(&Tiny::<f64>::with_seed(1)),
            to_safetensors(&Tiny::<f32>::with_seed(1)),
            tiny_file_with(&[("extra", Dtype::I32, &[2], vec![0; 8])]),
        ];
        let mut rng = SplitMix64::new(0x5eed);
        let mut loaded = 0;
        for round in 0..6000 {
            let mut bytes = valid[round % valid.len()].clone();
            let edits = 1 + rng.below(4);
            for _ in 0..edits {
                let header_end = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()).min(bytes.len() as u64 - 8);
                // Mostly the header, where the structure is.
                let at = if rng.below(4) == 0 { rng.below(bytes.len() as u64) } else { rng.below(header_end) } as usize;
                match rng.below(4) {
                    0 => bytes[at] ^= 1 << rng.below(8),
                    1 => bytes[at] = rng.below(256) as u8,
                    // Digits and JSON punctuation reach deeper into the parser.
                    2 => bytes[at] = b"0123456789[]{},:\"-e"[rng.below(19) as usize],
                    _ => {
                        if rng.below(2) == 0 {
                            bytes.remove(at);
                        } else {
                            bytes.insert(at, rng.below(256) as u8);
                        }
                    }
                }
                if bytes.len() < 8 {
                    break;
                }
            }
            if loads_without_panic(&bytes) {
                loaded += 1;
            }
        }
        // Mutations in the data leave valid files; most others do not.
        assert!(loaded > 0 && loaded < 6000, "{loaded}");
    }
}
