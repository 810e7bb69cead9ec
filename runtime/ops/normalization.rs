//! Layer and batch normalization over the last axis (per feature, or per
//! channel of a sample of higher rank), forward and backward.

use super::add_into;
use crate::layers::{BatchNormalization, LayerNormalization};
use crate::scalar::c;
use crate::Scalar;

/// Layer normalization of each sample over its `N` features (Keras epsilon
/// `epsilon`); keeps `x̂` and `1/σ` per sample in `xhat` and `inv_std` when
/// given, for the backward pass.
pub fn layer_norm_forward<T: Scalar, const N: usize>(
    layer: &LayerNormalization<T, N>,
    epsilon: f64,
    x: &[T],
    out: &mut [T],
    mut xhat: Option<(&mut [T], &mut [T])>,
) {
    let inv_n = c::<T>(1.0 / N as f64);
    for (s, (xc, oc)) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)).enumerate() {
        let mean = xc.iter().fold(T::zero(), |a, &v| a + v) * inv_n;
        let var = xc.iter().fold(T::zero(), |a, &v| a + (v - mean) * (v - mean)) * inv_n;
        let inv = T::one() / (var + c(epsilon)).sqrt();
        for i in 0..N {
            let h = (xc[i] - mean) * inv;
            oc[i] = h * layer.gamma[i] + layer.beta[i];
            if let Some((xh, _)) = xhat.as_mut() {
                xh[s * N + i] = h;
            }
        }
        if let Some((_, is)) = xhat.as_mut() {
            is[s] = inv;
        }
    }
}

/// Backward of [`layer_norm_forward`]: writes `dgamma`, `dbeta` and adds into `dx`.
pub fn layer_norm_backward<T: Scalar, const N: usize>(
    layer: &LayerNormalization<T, N>,
    xhat: &[T],
    inv_std: &[T],
    dout: &[T],
    grads: &mut LayerNormalization<T, N>,
    dx: Option<&mut [T]>,
) {
    grads.gamma.fill(T::zero());
    grads.beta.fill(T::zero());
    for (hc, dc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)) {
        for i in 0..N {
            grads.gamma[i] += dc[i] * hc[i];
            grads.beta[i] += dc[i];
        }
    }
    if let Some(dx) = dx {
        let inv_n = c::<T>(1.0 / N as f64);
        for (((hc, dc), gc), &inv) in
            xhat.chunks_exact(N).zip(dout.chunks_exact(N)).zip(dx.chunks_exact_mut(N)).zip(inv_std)
        {
            let mut mean_dh = T::zero();
            let mut mean_dh_h = T::zero();
            for i in 0..N {
                let dh = dc[i] * layer.gamma[i];
                mean_dh += dh;
                mean_dh_h += dh * hc[i];
            }
            mean_dh *= inv_n;
            mean_dh_h *= inv_n;
            for i in 0..N {
                let dh = dc[i] * layer.gamma[i];
                gc[i] += inv * (dh - mean_dh - hc[i] * mean_dh_h);
            }
        }
    }
}

/// Batch normalization. In inference (`training` is `None`) it uses the
/// moving statistics; in training it normalises with the batch's mean and
/// (biased) variance, keeping `x̂` in `xhat` and writing the mean, the
/// variance and `1/σ` per feature into `stats` (`3 * N` values).
pub fn batch_norm_forward<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    epsilon: f64,
    x: &[T],
    out: &mut [T],
    training: Option<(&mut [T], &mut [T])>,
) {
    let eps = c::<T>(epsilon);
    match training {
        None => {
            let mut scale = [T::zero(); N];
            for (i, s) in scale.iter_mut().enumerate() {
                *s = layer.gamma[i] / (layer.moving_variance[i] + eps).sqrt();
            }
            for (xc, oc) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)) {
                for i in 0..N {
                    oc[i] = (xc[i] - layer.moving_mean[i]) * scale[i] + layer.beta[i];
                }
            }
        }
        Some((xhat, stats)) => {
            let n = x.len() / N;
            let inv_n = c::<T>(1.0 / n as f64);
            let (mean, rest) = stats.split_at_mut(N);
            let (var, inv_std) = rest.split_at_mut(N);
            mean.fill(T::zero());
            var.fill(T::zero());
            for xc in x.chunks_exact(N) {
                add_into(mean, xc);
            }
            for m in mean.iter_mut() {
                *m *= inv_n;
            }
            for xc in x.chunks_exact(N) {
                for i in 0..N {
                    let d = xc[i] - mean[i];
                    var[i] += d * d;
                }
            }
            for i in 0..N {
                var[i] *= inv_n;
                inv_std[i] = T::one() / (var[i] + eps).sqrt();
            }
            for ((xc, oc), hc) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)).zip(xhat.chunks_exact_mut(N)) {
                for i in 0..N {
                    hc[i] = (xc[i] - mean[i]) * inv_std[i];
                    oc[i] = hc[i] * layer.gamma[i] + layer.beta[i];
                }
            }
        }
    }
}

/// Inference-mode [`batch_norm_forward`] in place: `buf = (buf − mean)·γ/σ + β`
/// with the moving statistics, per channel (the one-sample pass normalizes
/// a convolution's output where it lies).
pub fn batch_norm_inference_in_place<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    epsilon: f64,
    buf: &mut [T],
) {
    let eps = c::<T>(epsilon);
    let mut scale = [T::zero(); N];
    for (i, s) in scale.iter_mut().enumerate() {
        *s = layer.gamma[i] / (layer.moving_variance[i] + eps).sqrt();
    }
    crate::cpu::wide(
        #[inline(always)]
        || {
            for chunk in buf.chunks_exact_mut(N) {
                for i in 0..N {
                    chunk[i] = (chunk[i] - layer.moving_mean[i]) * scale[i] + layer.beta[i];
                }
            }
        },
    );
}

/// Folds inference-mode batch normalization into the layer before it, as
/// inference engines do: with `s = γ/sqrt(σ² + ε)` per output channel,
/// `kernel_out = kernel·s` (the kernel is a sequence of `N`-long runs, one
/// value per output channel each: a dense or convolution kernel in its
/// column-major storage) and `bias_out = (bias − mean)·s + β`. The layer
/// then computes the normalized output directly, with its activation fused.
pub fn fold_batch_norm<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    epsilon: f64,
    kernel: &[T],
    bias: Option<&[T]>,
    kernel_out: &mut [T],
    bias_out: &mut [T],
) {
    let (scale, shift) = batch_norm_scale_shift(layer, epsilon, bias);
    bias_out[..N].copy_from_slice(&shift);
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (o, k) in kernel_out.chunks_exact_mut(N).zip(kernel.chunks_exact(N)) {
                for i in 0..N {
                    o[i] = k[i] * scale[i];
                }
            }
        },
    );
}

/// Inference batch normalization after a layer with `bias` as a scale and
/// a shift per channel: `s = γ/sqrt(σ² + ε)` and `t = (bias − mean)·s + β`,
/// so that the normalized output is `s·z + t` for the layer's `z` before its
/// bias. A convolution applies them in its store ([`super::conv::forward1`])
/// instead of folding `s` into a copy of its kernel on every call.
pub fn batch_norm_scale_shift<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    epsilon: f64,
    bias: Option<&[T]>,
) -> ([T; N], [T; N]) {
    let eps = c::<T>(epsilon);
    let (mut scale, mut shift) = ([T::zero(); N], [T::zero(); N]);
    for i in 0..N {
        scale[i] = layer.gamma[i] / (layer.moving_variance[i] + eps).sqrt();
        let b = bias.map_or(T::zero(), |b| b[i]);
        shift[i] = (b - layer.moving_mean[i]) * scale[i] + layer.beta[i];
    }
    (scale, shift)
}

/// Backward of training-mode [`batch_norm_forward`].
pub fn batch_norm_backward<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    xhat: &[T],
    stats: &[T],
    dout: &[T],
    grads: &mut BatchNormalization<T, N>,
    dx: Option<&mut [T]>,
) {
    let n = xhat.len() / N;
    let inv_std = &stats[2 * N..3 * N];
    grads.gamma.fill(T::zero());
    grads.beta.fill(T::zero());
    grads.moving_mean.fill(T::zero());
    grads.moving_variance.fill(T::zero());
    for (hc, dc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)) {
        for i in 0..N {
            grads.gamma[i] += dc[i] * hc[i];
            grads.beta[i] += dc[i];
        }
    }
    if let Some(dx) = dx {
        let inv_n = c::<T>(1.0 / n as f64);
        for ((hc, dc), gc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)).zip(dx.chunks_exact_mut(N)) {
            for i in 0..N {
                let k = layer.gamma[i] * inv_std[i];
                gc[i] += k * (dc[i] - (grads.beta[i] + hc[i] * grads.gamma[i]) * inv_n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::dense;
    use crate::vocab::Activation;
    use nalgebra::{SMatrix, SVector};

    fn layer() -> BatchNormalization<f64, 3> {
        BatchNormalization {
            gamma: SVector::from([1.5, 0.5, -2.0]),
            beta: SVector::from([0.1, -0.2, 0.3]),
            moving_mean: SVector::from([0.4, -1.0, 0.0]),
            moving_variance: SVector::from([2.0, 0.25, 1.0]),
        }
    }

    /// In place and folded into the layer before, inference-mode batch
    /// normalization gives what the plain kernel gives.
    #[test]
    fn in_place_and_folded_match_the_plain_pass() {
        let bn = layer();
        let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let mut want = vec![0.0; 12];
        batch_norm_forward(&bn, 1e-3, &x, &mut want, None);
        let mut got = x.clone();
        batch_norm_inference_in_place(&bn, 1e-3, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-14, "{g} vs {w}");
        }
        // dense 4 → 3, then batch normalization, against the folded layer
        let kernel = SMatrix::<f64, 3, 4>::from_fn(|i, j| (i * 4 + j) as f64 * 0.1 - 0.5);
        let bias = SVector::<f64, 3>::from([0.3, -0.1, 0.2]);
        let input = [0.5, -1.0, 2.0, 0.25];
        let mut dense_out = [0.0; 3];
        dense::forward::<f64, 4, 3>(&kernel, Some(&bias), Activation::Linear, &input, None, &mut dense_out);
        let mut want = [0.0; 3];
        batch_norm_forward(&bn, 1e-3, &dense_out, &mut want, None);
        let (mut k, mut b) = (SMatrix::<f64, 3, 4>::zeros(), SVector::<f64, 3>::zeros());
        fold_batch_norm(&bn, 1e-3, kernel.as_slice(), Some(bias.as_slice()), k.as_mut_slice(), b.as_mut_slice());
        let mut got = [0.0; 3];
        dense::forward::<f64, 4, 3>(&k, Some(&b), Activation::Linear, &input, None, &mut got);
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() < 1e-13, "{g} vs {w}");
        }
    }
}
