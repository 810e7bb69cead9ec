//! Parameter holders of the layers that have weights. A generated network
//! has one field of these types per such layer.
//!
//! Kernels are stored as `SMatrix<T, OUT, IN>`: nalgebra is column-major, so
//! the memory of this matrix is exactly Keras's row-major `[in, out]` kernel
//! and weights move between the two without transposing.

use crate::rng::SplitMix64;
use crate::Scalar;
use nalgebra::{SMatrix, SVector};

/// Fills `kernel` with Glorot-uniform values for a layer of `fan_in` inputs
/// and `fan_out` units: uniform in `±sqrt(6 / (fan_in + fan_out))`.
pub fn glorot_uniform<T: Scalar>(kernel: &mut [T], fan_in: usize, fan_out: usize, rng: &mut SplitMix64) {
    let limit = libm::sqrt(6.0 / (fan_in + fan_out) as f64);
    for w in kernel {
        *w = T::of_f64((2.0 * rng.next_f64() - 1.0) * limit);
    }
}

/// Fills `t` with values uniform in `±limit` (Keras's `RandomUniform`; an
/// `Embedding`'s default is `limit = 0.05`).
pub fn uniform<T: Scalar>(t: &mut [T], limit: f64, rng: &mut SplitMix64) {
    for w in t {
        *w = T::of_f64((2.0 * rng.next_f64() - 1.0) * limit);
    }
}

/// A standard normal draw (Box–Muller; one of the pair is kept).
fn normal(rng: &mut SplitMix64) -> f64 {
    // `1 − u` is in (0, 1], so the logarithm is finite.
    let radius = libm::sqrt(-2.0 * libm::log(1.0 - rng.next_f64()));
    radius * libm::cos(core::f64::consts::TAU * rng.next_f64())
}

/// Fills `kernel`, Keras's `[rows, cols]` row-major (a recurrent kernel
/// `[units, gates·units]`), as Keras's `Orthogonal` initializer (gain 1):
/// orthonormal rows when `rows ≤ cols`, else orthonormal columns, from
/// Gaussian draws. Keras takes the Q of a QR factorization with R's
/// diagonal made positive; Gram–Schmidt on the same vectors gives exactly
/// that Q, so the distribution is Keras's (the draws are this crate's).
/// Each vector is projected out of the previous ones twice, which keeps
/// them orthogonal to rounding ("twice is enough"), in place.
///
/// # Panics
/// If `kernel` is shorter than `rows·cols`.
pub fn orthogonal<T: Scalar>(kernel: &mut [T], rows: usize, cols: usize, rng: &mut SplitMix64) {
    let kernel = &mut kernel[..rows * cols];
    // The vectors to orthonormalize: `count` of `len` values, vector `v`'s
    // value `i` at `v·step + i·stride`.
    let (count, len, step, stride) = if rows <= cols { (rows, cols, cols, 1) } else { (cols, rows, 1, cols) };
    let at = |v: usize, i: usize| v * step + i * stride;
    let dot = |k: &[T], a: usize, b: usize| (0..len).map(|i| k[at(a, i)].as_f64() * k[at(b, i)].as_f64()).sum::<f64>();
    for w in kernel.iter_mut() {
        *w = T::of_f64(normal(rng));
    }
    for v in 0..count {
        loop {
            for _ in 0..2 {
                for prev in 0..v {
                    let d = T::of_f64(dot(kernel, v, prev));
                    for i in 0..len {
                        let p = kernel[at(prev, i)];
                        kernel[at(v, i)] -= d * p;
                    }
                }
            }
            let norm = libm::sqrt(dot(kernel, v, v));
            // A draw (almost) inside the span of the previous ones is drawn
            // again; with Gaussian draws that happens with probability 0.
            if norm > 1e-6 * libm::sqrt(len as f64) {
                let inv = T::of_f64(1.0 / norm);
                for i in 0..len {
                    kernel[at(v, i)] *= inv;
                }
                break;
            }
            for i in 0..len {
                kernel[at(v, i)] = T::of_f64(normal(rng));
            }
        }
    }
}

/// A `Dense` layer with a bias: `y = act(W x + b)`.
///
/// The kernel comes first and the layer is aligned to a 64-byte cache line,
/// so the SIMD kernels' vector loads of its columns do not straddle lines (a
/// misaligned kernel measured 40–60% slower in the one-sample pass, and
/// 10–30% slower in batched products). On 32-bit Arm (a Cortex-M: no
/// vector loads, no or 32-byte cache lines) every layer is aligned to 8
/// bytes only, so that a model in flash carries no padding between layers.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Dense<T: Scalar, const IN: usize, const OUT: usize> {
    /// Keras's `[IN, OUT]` kernel, held as its column-major transpose.
    pub kernel: SMatrix<T, OUT, IN>,
    /// The bias.
    pub bias: SVector<T, OUT>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> Dense<T, IN, OUT> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros(), bias: SVector::zeros() }
    }
    /// Glorot-uniform kernel, zero bias.
    pub fn glorot(rng: &mut SplitMix64) -> Self {
        let mut layer = Self::zeros();
        glorot_uniform(layer.kernel.as_mut_slice(), IN, OUT, rng);
        layer
    }
}

/// A `Dense` layer built with `use_bias = false`: `y = act(W x)`. Aligned
/// as [`Dense`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct DenseNoBias<T: Scalar, const IN: usize, const OUT: usize> {
    /// Keras's `[IN, OUT]` kernel, held as its column-major transpose.
    pub kernel: SMatrix<T, OUT, IN>,
}

impl<T: Scalar, const IN: usize, const OUT: usize> DenseNoBias<T, IN, OUT> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros() }
    }
    /// Glorot-uniform kernel.
    pub fn glorot(rng: &mut SplitMix64) -> Self {
        let mut layer = Self::zeros();
        glorot_uniform(layer.kernel.as_mut_slice(), IN, OUT, rng);
        layer
    }
}

/// A `Conv1D` or `Conv2D` layer: Keras's kernel `[k…, in, filters]` is the
/// column-major `filters × (k…·in)` matrix, which is exactly a dense
/// layer's kernel over each receptive field (`TAPS` = kernel positions ·
/// input channels), and the bias `[filters]`.
pub type Convolution<T, const TAPS: usize, const FILTERS: usize> = Dense<T, TAPS, FILTERS>;

/// A convolution built with `use_bias = false`.
pub type ConvolutionNoBias<T, const TAPS: usize, const FILTERS: usize> = DenseNoBias<T, TAPS, FILTERS>;

/// A `DepthwiseConv2D` layer: Keras's kernel `[kh, kw, in, M]` held as the
/// column-major `M × (kh·kw·in)` matrix (`TAPS` = kh·kw·in, `M` the depth
/// multiplier), and the bias `[in·M]` (`C` = in·M).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Depthwise<T: Scalar, const TAPS: usize, const M: usize, const C: usize> {
    /// Keras's `[kh, kw, in, multiplier]` kernel.
    pub kernel: SMatrix<T, M, TAPS>,
    /// The bias, one per output channel.
    pub bias: SVector<T, C>,
}

impl<T: Scalar, const TAPS: usize, const M: usize, const C: usize> Depthwise<T, TAPS, M, C> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros(), bias: SVector::zeros() }
    }
}

/// A `DepthwiseConv2D` layer built with `use_bias = false`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct DepthwiseNoBias<T: Scalar, const TAPS: usize, const M: usize, const C: usize> {
    /// Keras's `[kh, kw, in, multiplier]` kernel.
    pub kernel: SMatrix<T, M, TAPS>,
}

impl<T: Scalar, const TAPS: usize, const M: usize, const C: usize> DepthwiseNoBias<T, TAPS, M, C> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros() }
    }
}

/// A `SeparableConv2D` layer: a depthwise kernel `[kh, kw, in, M]`
/// (`TAPS` = kh·kw·in), a pointwise kernel `[1, 1, in·M, F]` (`C` = in·M)
/// and the bias `[F]`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Separable<T: Scalar, const TAPS: usize, const M: usize, const C: usize, const F: usize> {
    /// Keras's `[kh, kw, in, multiplier]` depthwise kernel.
    pub depthwise_kernel: SMatrix<T, M, TAPS>,
    /// Keras's `[1, 1, in·multiplier, filters]` pointwise kernel.
    pub pointwise_kernel: SMatrix<T, F, C>,
    /// The bias, one per filter.
    pub bias: SVector<T, F>,
}

impl<T: Scalar, const TAPS: usize, const M: usize, const C: usize, const F: usize> Separable<T, TAPS, M, C, F> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { depthwise_kernel: SMatrix::zeros(), pointwise_kernel: SMatrix::zeros(), bias: SVector::zeros() }
    }
}

/// A `SeparableConv2D` layer built with `use_bias = false`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct SeparableNoBias<T: Scalar, const TAPS: usize, const M: usize, const C: usize, const F: usize> {
    /// Keras's `[kh, kw, in, multiplier]` depthwise kernel.
    pub depthwise_kernel: SMatrix<T, M, TAPS>,
    /// Keras's `[1, 1, in·multiplier, filters]` pointwise kernel.
    pub pointwise_kernel: SMatrix<T, F, C>,
}

impl<T: Scalar, const TAPS: usize, const M: usize, const C: usize, const F: usize> SeparableNoBias<T, TAPS, M, C, F> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { depthwise_kernel: SMatrix::zeros(), pointwise_kernel: SMatrix::zeros() }
    }
}

/// A `SimpleRNN` or `LSTM` layer with `F` input features, `U` units and
/// `GU` = gates·`U` (1 or 4 gates, in Keras's order; a GRU is
/// [`GruReset`]). Aligned as [`Dense`].
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Recurrent<T: Scalar, const F: usize, const U: usize, const GU: usize> {
    /// Keras's `[F, gates·U]` kernel, held as its column-major transpose.
    pub kernel: SMatrix<T, GU, F>,
    /// Keras's `[U, gates·U]` recurrent kernel, held as its column-major
    /// transpose.
    pub recurrent_kernel: SMatrix<T, GU, U>,
    /// The bias `[gates·U]`.
    pub bias: SVector<T, GU>,
}

impl<T: Scalar, const F: usize, const U: usize, const GU: usize> Recurrent<T, F, U, GU> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros(), recurrent_kernel: SMatrix::zeros(), bias: SVector::zeros() }
    }
}

/// A recurrent layer built with `use_bias = false` (any cell).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct RecurrentNoBias<T: Scalar, const F: usize, const U: usize, const GU: usize> {
    /// Keras's `[F, gates·U]` kernel, held as its column-major transpose.
    pub kernel: SMatrix<T, GU, F>,
    /// Keras's `[U, gates·U]` recurrent kernel, held as its column-major
    /// transpose.
    pub recurrent_kernel: SMatrix<T, GU, U>,
}

impl<T: Scalar, const F: usize, const U: usize, const GU: usize> RecurrentNoBias<T, F, U, GU> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros(), recurrent_kernel: SMatrix::zeros() }
    }
}

/// A `GRU` with `reset_after` (Keras's default): as [`Recurrent`] with
/// `GU = 3·U`, but two biases.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct GruReset<T: Scalar, const F: usize, const U: usize, const GU: usize> {
    /// Keras's `[F, 3U]` kernel, held as its column-major transpose.
    pub kernel: SMatrix<T, GU, F>,
    /// Keras's `[U, 3U]` recurrent kernel, held as its column-major
    /// transpose.
    pub recurrent_kernel: SMatrix<T, GU, U>,
    /// Keras's `[2, 3U]` bias (row 0 the input bias, row 1 the recurrent
    /// one), held as its column-major transpose: column 0 is the input bias.
    pub bias: SMatrix<T, GU, 2>,
}

impl<T: Scalar, const F: usize, const U: usize, const GU: usize> GruReset<T, F, U, GU> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { kernel: SMatrix::zeros(), recurrent_kernel: SMatrix::zeros(), bias: SMatrix::zeros() }
    }
}

/// A `Bidirectional` recurrent layer: two copies of the wrapped layer
/// (`F` features, `U` units, `GU` = gates·`U`), the forward one reading the
/// steps in order, the backward one from the last step; `BR` bias rows
/// (2 for a GRU with `reset_after`, else 1).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Bidirectional<T: Scalar, const F: usize, const U: usize, const GU: usize, const BR: usize> {
    /// The forward copy's `[F, gates·U]` kernel, as its column-major transpose.
    pub forward_kernel: SMatrix<T, GU, F>,
    /// The forward copy's `[U, gates·U]` recurrent kernel, likewise.
    pub forward_recurrent_kernel: SMatrix<T, GU, U>,
    /// The forward copy's bias (`[gates·U]`, or a GRU's `[2, 3U]`).
    pub forward_bias: SMatrix<T, GU, BR>,
    /// The backward copy's kernel.
    pub backward_kernel: SMatrix<T, GU, F>,
    /// The backward copy's recurrent kernel.
    pub backward_recurrent_kernel: SMatrix<T, GU, U>,
    /// The backward copy's bias.
    pub backward_bias: SMatrix<T, GU, BR>,
}

impl<T: Scalar, const F: usize, const U: usize, const GU: usize, const BR: usize> Bidirectional<T, F, U, GU, BR> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self {
            forward_kernel: SMatrix::zeros(),
            forward_recurrent_kernel: SMatrix::zeros(),
            forward_bias: SMatrix::zeros(),
            backward_kernel: SMatrix::zeros(),
            backward_recurrent_kernel: SMatrix::zeros(),
            backward_bias: SMatrix::zeros(),
        }
    }
}

/// A `Bidirectional` recurrent layer whose wrapped layer has
/// `use_bias = false`.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct BidirectionalNoBias<T: Scalar, const F: usize, const U: usize, const GU: usize> {
    /// The forward copy's kernel.
    pub forward_kernel: SMatrix<T, GU, F>,
    /// The forward copy's recurrent kernel.
    pub forward_recurrent_kernel: SMatrix<T, GU, U>,
    /// The backward copy's kernel.
    pub backward_kernel: SMatrix<T, GU, F>,
    /// The backward copy's recurrent kernel.
    pub backward_recurrent_kernel: SMatrix<T, GU, U>,
}

impl<T: Scalar, const F: usize, const U: usize, const GU: usize> BidirectionalNoBias<T, F, U, GU> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self {
            forward_kernel: SMatrix::zeros(),
            forward_recurrent_kernel: SMatrix::zeros(),
            backward_kernel: SMatrix::zeros(),
            backward_recurrent_kernel: SMatrix::zeros(),
        }
    }
}

/// An `Embedding` of `V` ids (Keras's `input_dim`) into `D` values
/// (`output_dim`).
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct Embedding<T: Scalar, const V: usize, const D: usize> {
    /// Keras's `[V, D]` table, held as its column-major transpose: column
    /// `id` is the id's vector.
    pub embeddings: SMatrix<T, D, V>,
}

impl<T: Scalar, const V: usize, const D: usize> Embedding<T, V, D> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { embeddings: SMatrix::zeros() }
    }
}

/// `LayerNormalization` over the features: `gamma * (x - mean) / sqrt(var + eps) + beta`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNormalization<T: Scalar, const N: usize> {
    /// Scale, initially ones.
    pub gamma: SVector<T, N>,
    /// Offset, initially zeros.
    pub beta: SVector<T, N>,
}

impl<T: Scalar, const N: usize> LayerNormalization<T, N> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self { gamma: SVector::zeros(), beta: SVector::zeros() }
    }
    /// Keras's initial values: `gamma` ones, `beta` zeros.
    pub fn initial() -> Self {
        Self { gamma: SVector::repeat(T::one()), beta: SVector::zeros() }
    }
}

/// `BatchNormalization` over the batch, with moving statistics for inference.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNormalization<T: Scalar, const N: usize> {
    /// Scale, initially ones.
    pub gamma: SVector<T, N>,
    /// Offset, initially zeros.
    pub beta: SVector<T, N>,
    /// Moving mean (not trained), initially zeros.
    pub moving_mean: SVector<T, N>,
    /// Moving variance (not trained), initially ones.
    pub moving_variance: SVector<T, N>,
}

impl<T: Scalar, const N: usize> BatchNormalization<T, N> {
    /// All zeros.
    pub fn zeros() -> Self {
        Self {
            gamma: SVector::zeros(),
            beta: SVector::zeros(),
            moving_mean: SVector::zeros(),
            moving_variance: SVector::zeros(),
        }
    }
    /// Keras's initial values.
    pub fn initial() -> Self {
        Self {
            gamma: SVector::repeat(T::one()),
            beta: SVector::zeros(),
            moving_mean: SVector::zeros(),
            moving_variance: SVector::repeat(T::one()),
        }
    }

    /// `moving = moving * momentum + batch * (1 - momentum)`, from the batch
    /// mean and variance in `stats` (`2 * N` values).
    pub fn update_moving(&mut self, stats: &[T], momentum: T) {
        let (mean, var) = stats.split_at(N);
        let rest = T::one() - momentum;
        for i in 0..N {
            self.moving_mean[i] = self.moving_mean[i] * momentum + mean[i] * rest;
            self.moving_variance[i] = self.moving_variance[i] * momentum + var[i] * rest;
        }
    }
}

/// Types whose all-zero bit pattern is a valid value: the generated
/// networks, made only of `f32`/`f64` matrices.
///
/// # Safety
///
/// Implement it only for types made solely of `f32`/`f64` arrays (and
/// zero-sized markers), so that zeroed memory is a valid value.
pub unsafe trait ZeroBits {}

/// A zeroed `M` allocated directly on the heap, never on the stack.
#[cfg(feature = "alloc")]
pub fn boxed_zeroed<M: ZeroBits>() -> alloc::boxed::Box<M> {
    // SAFETY: `M: ZeroBits` promises that all-zero bytes are a valid `M`.
    unsafe { alloc::boxed::Box::<M>::new_zeroed().assume_init() }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `orthogonal`'s vectors (rows when `rows ≤ cols`, else columns) are
    /// orthonormal in f64 to 1e-12 for square, wide and tall shapes, and
    /// another seed gives another matrix.
    #[test]
    fn orthogonal_is_orthonormal() {
        for (rows, cols) in [(1, 1), (1, 5), (5, 1), (4, 4), (3, 12), (12, 3), (16, 48), (64, 64), (32, 128), (100, 7)]
        {
            let mut k = vec![0.0f64; rows * cols];
            orthogonal(&mut k, rows, cols, &mut SplitMix64::new(7));
            let (count, len) = (rows.min(cols), rows.max(cols));
            let at = |v: usize, i: usize| if rows <= cols { v * cols + i } else { i * cols + v };
            for a in 0..count {
                for b in 0..count {
                    let d: f64 = (0..len).map(|i| k[at(a, i)] * k[at(b, i)]).sum();
                    let want = if a == b { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-12, "{rows}x{cols}: <{a}, {b}> = {d}");
                }
            }
            let mut other = vec![0.0f64; rows * cols];
            orthogonal(&mut other, rows, cols, &mut SplitMix64::new(8));
            assert_ne!(k, other);
            // Not degenerate: the values spread out as a random rotation's.
            assert!(k.iter().filter(|v| v.abs() > 1e-3).count() > rows * cols / 2, "{rows}x{cols}");
        }
        let mut k32 = [0.0f32; 12];
        orthogonal(&mut k32, 3, 4, &mut SplitMix64::new(1));
        let d: f32 = (0..4).map(|i| k32[i] * k32[4 + i]).sum();
        assert!(d.abs() < 1e-6);
    }

    #[test]
    fn uniform_stays_within_its_limit() {
        let mut t = [0.0f64; 1000];
        uniform(&mut t, 0.05, &mut SplitMix64::new(3));
        assert!(t.iter().all(|v| v.abs() <= 0.05));
        assert!(t.iter().any(|&v| v > 0.04) && t.iter().any(|&v| v < -0.04));
    }
}
