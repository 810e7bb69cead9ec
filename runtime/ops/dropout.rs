//! Dropout: a reproducible mask in training, the identity in inference.

use crate::scalar::c;
use crate::{rng, Scalar};

/// Dropout in training: `out = x * mask` with `mask` 0 or `1 / (1 - rate)`,
/// drawn from `(seed, stream)` so the pass is reproducible; the mask is kept
/// for the backward pass.
pub fn forward<T: Scalar>(rate: f64, seed: u64, stream: u64, x: &[T], mask: &mut [T], out: &mut [T]) {
    let keep = c::<T>(1.0 / (1.0 - rate));
    for (i, ((o, m), &v)) in out.iter_mut().zip(mask.iter_mut()).zip(x).enumerate() {
        *m = if rng::uniform_at(seed, stream, i as u64) < rate { T::zero() } else { keep };
        *o = v * *m;
    }
}

/// `dx += dout * mask`.
pub fn backward<T: Scalar>(mask: &[T], dout: &[T], dx: &mut [T]) {
    for ((g, &m), &d) in dx.iter_mut().zip(mask).zip(dout) {
        *g += m * d;
    }
}
