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

/// A `Dense` layer with a bias: `y = act(W x + b)`.
///
/// The kernel comes first and the layer is aligned to a 64-byte cache line,
/// so the SIMD kernels' vector loads of its columns do not straddle lines (a
/// misaligned kernel measured 40–60% slower in the one-sample pass, and
/// 10–30% slower in batched products).
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
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
#[repr(C, align(64))]
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
#[repr(C, align(64))]
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
#[repr(C, align(64))]
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
#[repr(C, align(64))]
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
#[repr(C, align(64))]
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
