//! The numeric kernels of each layer kind, one module per kind as in the
//! macro crate (`macros/src/ops/`), which emits the calls. Every buffer is
//! column-major with one column per sample: `rows * n` scalars for `n`
//! samples. Backward kernels *add* into input gradients, since a tensor
//! may feed several layers. The convolution and pooling kernels see a
//! sample's column as NHWC (row-major, channels fastest); [`Window`] holds
//! their geometry.

pub mod causal;
pub mod conv;
pub mod dense;
pub mod depthwise;
pub mod dropout;
pub mod embedding;
pub mod merge;
pub mod normalization;
pub mod padding;
pub mod pool;
pub mod recurrent;
pub mod simd;
mod window;

pub use window::{Padding, Window};

use crate::Scalar;

/// A value aligned to a 64-byte cache line: generated code keeps its
/// workspace in one, so the vector loads of the buffers carved from it
/// (whole columns of a batch) do not straddle lines. On 32-bit Arm (the
/// Cortex-M: no vector loads, no data cache or 32-byte lines) only to
/// 8 bytes: 64 would cost up to 60 bytes of stack per buffer and the
/// instructions that realign the stack pointer.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(not(target_arch = "arm"), repr(C, align(64)))]
#[cfg_attr(target_arch = "arm", repr(C, align(8)))]
pub struct CacheAligned<X>(pub X);

/// `dst += src`.
#[inline]
pub fn add_into<T: Scalar>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// `dst += scale * src`.
#[inline]
pub fn add_scaled_into<T: Scalar>(dst: &mut [T], src: &[T], scale: T) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s * scale;
    }
}

/// `sum = Σ` of the columns of `m` (`sum.len()` rows each): a bias
/// gradient.
pub(crate) fn column_sum<T: Scalar>(m: &[T], sum: &mut [T]) {
    sum.fill(T::zero());
    if sum.is_empty() {
        return;
    }
    crate::cpu::wide(
        #[inline(always)]
        || {
            for col in m.chunks_exact(sum.len()) {
                for (s, &v) in sum.iter_mut().zip(col) {
                    *s += v;
                }
            }
        },
    );
}
