//! Keras's losses and metrics on column-major batches, with gradients.
//!
//! A per-sample loss is a mean over the features (a sum over the classes for
//! the cross-entropies, as Keras defines them); a batch's loss is
//! `Σ w_s · loss_s / n` (Keras's `sum_over_batch_size`).

pub use crate::vocab::Loss;

use crate::activations::{self, Activation};
use crate::scalar::c;
use crate::vocab::MetricKind;
use crate::Scalar;

/// Keras's clipping epsilon for probabilities.
pub const EPSILON: f64 = 1e-7;

#[inline(always)]
fn weight_of<T: Scalar>(sample_weight: Option<&[T]>, s: usize) -> T {
    sample_weight.map_or(T::one(), |w| w[s])
}

/// The one-hot value of class `j` for a class-index target (an index out of
/// range is all zeros, as Keras's `one_hot` gives).
#[inline(always)]
fn sparse_target<T: Scalar>(index: T, j: usize) -> T {
    if index.as_f64() == j as f64 {
        T::one()
    } else {
        T::zero()
    }
}

/// The batch loss of `output` (rows per sample) against `target`, and when
/// `grad` is `(buffer, scale)`, adds `scale · d(batch loss)/d(output)` into
/// the buffer.
pub fn loss_and_grad<T: Scalar>(
    loss: Loss,
    output: &[T],
    target: &[T],
    rows: usize,
    sample_weight: Option<&[T]>,
    grad: Option<(&mut [T], T)>,
) -> T {
    loss_and_grad_at(loss, output, target, rows, 1, sample_weight, grad)
}

/// [`loss_and_grad`] of a head with `positions` values of `rows` per
/// sample (a value per step of a sequence): Keras's per-step loss, the mean
/// over every sample's every position, a sample's weight applying to each
/// of its positions.
pub fn loss_and_grad_at<T: Scalar>(
    loss: Loss,
    output: &[T],
    target: &[T],
    rows: usize,
    positions: usize,
    sample_weight: Option<&[T]>,
    mut grad: Option<(&mut [T], T)>,
) -> T {
    let n = output.len() / rows;
    if n == 0 {
        return T::zero();
    }
    let inv_n = c::<T>(1.0 / n as f64);
    let inv_rows = c::<T>(1.0 / rows as f64);
    let trows = loss.target_width(rows);
    let mut total = T::zero();
    let eps = c::<T>(EPSILON);
    let hi = T::one() - eps;
    for s in 0..n {
        let y = &output[s * rows..(s + 1) * rows];
        let t = &target[s * trows..(s + 1) * trows];
        let w = weight_of(sample_weight, s / positions);
        let mut g = grad.as_mut().map(|(buf, scale)| (&mut buf[s * rows..(s + 1) * rows], *scale * w * inv_n));
        let value = match loss {
            Loss::MeanSquaredError | Loss::MeanAbsoluteError | Loss::Huber => {
                let mut sum = T::zero();
                for j in 0..rows {
                    let e = y[j] - t[j];
                    let (v, d) = match loss {
                        Loss::MeanSquaredError => (e * e, e + e),
                        Loss::MeanAbsoluteError => (e.abs(), sign(e)),
                        _ => {
                            if e.abs() <= T::one() {
                                (c::<T>(0.5) * e * e, e)
                            } else {
                                (e.abs() - c(0.5), sign(e))
                            }
                        }
                    };
                    sum += v;
                    if let Some((gc, k)) = g.as_mut() {
                        gc[j] += *k * d * inv_rows;
                    }
                }
                sum * inv_rows
            }
            Loss::CategoricalCrossentropy { from_logits } | Loss::SparseCategoricalCrossentropy { from_logits } => {
                let sparse = matches!(loss, Loss::SparseCategoricalCrossentropy { .. });
                let tj = |j: usize| if sparse { sparse_target(t[0], j) } else { t[j] };
                if from_logits {
                    let max = y.iter().copied().fold(y[0], |m, v| m.max(v));
                    let sum_exp = y.iter().fold(T::zero(), |a, &v| a + (v - max).exp());
                    let log_sum = sum_exp.ln() + max;
                    let mut value = T::zero();
                    let mut t_sum = T::zero();
                    for (j, &v) in y.iter().enumerate() {
                        value -= tj(j) * (v - log_sum);
                        t_sum += tj(j);
                    }
                    if let Some((gc, k)) = g.as_mut() {
                        for j in 0..rows {
                            gc[j] += *k * ((y[j] - log_sum).exp() * t_sum - tj(j));
                        }
                    }
                    value
                } else {
                    let sum = y.iter().fold(T::zero(), |a, &v| a + v);
                    let mut value = T::zero();
                    let mut dot = T::zero();
                    for (j, &v) in y.iter().enumerate() {
                        let p = v / sum;
                        let cp = clip(p, eps, hi);
                        // A zero target's term is exactly ±0 (`cp` is finite),
                        // so leaving out its logarithm changes nothing; with
                        // one-hot targets that is all but one per sample.
                        if tj(j) != T::zero() {
                            value -= tj(j) * cp.ln();
                        }
                        if p > eps && p < hi {
                            dot -= tj(j) / cp * p;
                        }
                    }
                    if let Some((gc, k)) = g.as_mut() {
                        for j in 0..rows {
                            let p = y[j] / sum;
                            let gj = if p > eps && p < hi { -tj(j) / p } else { T::zero() };
                            gc[j] += *k * (gj - dot) / sum;
                        }
                    }
                    value
                }
            }
            Loss::BinaryCrossentropy { from_logits } => {
                let mut sum = T::zero();
                for j in 0..rows {
                    let (v, d) = if from_logits {
                        let z = y[j];
                        (activations::softplus(z) - t[j] * z, activations::sigmoid(z) - t[j])
                    } else {
                        let p = clip(y[j], eps, hi);
                        // As above: a term whose weight is zero is −0 (`p`
                        // and `1 − p` are in (0, 1)), so its logarithm is
                        // left out.
                        let term = |w: T, q: T| if w == T::zero() { -T::zero() } else { w * q.ln() };
                        let v = -(term(t[j], p) + term(T::one() - t[j], T::one() - p));
                        let d = if y[j] > eps && y[j] < hi {
                            -t[j] / p + (T::one() - t[j]) / (T::one() - p)
                        } else {
                            T::zero()
                        };
                        (v, d)
                    };
                    sum += v;
                    if let Some((gc, k)) = g.as_mut() {
                        gc[j] += *k * d * inv_rows;
                    }
                }
                sum * inv_rows
            }
        };
        total += w * value;
    }
    total * inv_n
}

/// Like [`loss_and_grad`] for a head whose output is `act(z)` with a loss
/// that [`Loss::fuses_with`] it, but adds the gradient with respect to `z`.
/// The stable form `p·Σt − t` (or `p − t`) is used wherever Keras's clipping
/// is inactive, so it equals Keras's gradient; a sample whose probabilities
/// are clipped takes the exact chain rule through the clip instead.
#[allow(clippy::too_many_arguments)]
pub fn fused_loss_and_grad<T: Scalar>(
    loss: Loss,
    act: Activation,
    output: &[T],
    target: &[T],
    rows: usize,
    sample_weight: Option<&[T]>,
    grad_z: &mut [T],
    scale: T,
) -> T {
    fused_loss_and_grad_at(loss, act, output, target, rows, 1, sample_weight, grad_z, scale)
}

/// [`fused_loss_and_grad`] of a head with `positions` values per sample
/// (see [`loss_and_grad_at`]).
#[allow(clippy::too_many_arguments)]
pub fn fused_loss_and_grad_at<T: Scalar>(
    loss: Loss,
    act: Activation,
    output: &[T],
    target: &[T],
    rows: usize,
    positions: usize,
    sample_weight: Option<&[T]>,
    grad_z: &mut [T],
    scale: T,
) -> T {
    debug_assert!(loss.fuses_with(act));
    let value = loss_and_grad_at(loss, output, target, rows, positions, sample_weight, None);
    let n = output.len() / rows;
    let inv_n = c::<T>(1.0 / n as f64);
    let eps = c::<T>(EPSILON);
    let hi = T::one() - eps;
    let trows = loss.target_width(rows);
    for s in 0..n {
        let p = &output[s * rows..(s + 1) * rows];
        let t = &target[s * trows..(s + 1) * trows];
        let k = scale * weight_of(sample_weight, s / positions) * inv_n;
        let gz = &mut grad_z[s * rows..(s + 1) * rows];
        match act {
            Activation::Sigmoid => {
                let inv_rows = c::<T>(1.0 / rows as f64);
                for j in 0..rows {
                    if p[j] > eps && p[j] < hi {
                        gz[j] += k * (p[j] - t[j]) * inv_rows;
                    }
                }
            }
            _ => {
                let sparse = matches!(loss, Loss::SparseCategoricalCrossentropy { .. });
                let tj = |j: usize| if sparse { sparse_target(t[0], j) } else { t[j] };
                let sum = p.iter().fold(T::zero(), |a, &v| a + v);
                let clipped = p.iter().any(|&v| {
                    let q = v / sum;
                    q <= eps || q >= hi
                });
                if !clipped {
                    let t_sum = (0..rows).fold(T::zero(), |a, j| a + tj(j));
                    for j in 0..rows {
                        gz[j] += k * (p[j] * t_sum - tj(j));
                    }
                } else {
                    // dL/dp through the clip and the renormalisation, then
                    // the softmax Jacobian: dz = p ⊙ (dp − p·dp).
                    let g_of = |j: usize| {
                        let q = p[j] / sum;
                        if q > eps && q < hi {
                            -tj(j) / q
                        } else {
                            T::zero()
                        }
                    };
                    let inner = (0..rows).fold(T::zero(), |a, j| a + g_of(j) * p[j] / sum);
                    let dot_gp = (0..rows).fold(T::zero(), |a, j| a + p[j] * (g_of(j) - inner) / sum);
                    for j in 0..rows {
                        let dpj = (g_of(j) - inner) / sum;
                        gz[j] += k * p[j] * (dpj - dot_gp);
                    }
                }
            }
        }
    }
    value
}

/// `x` clipped to `[lo, hi]`, keeping a NaN (nalgebra's `max` and `min`
/// return the number; Keras's `clip` keeps the NaN, so a diverged model
/// reports a NaN loss).
#[inline(always)]
fn clip<T: Scalar>(x: T, lo: T, hi: T) -> T {
    if x < lo {
        lo
    } else if x > hi {
        hi
    } else {
        x
    }
}

#[inline(always)]
fn sign<T: Scalar>(x: T) -> T {
    if x > T::zero() {
        T::one()
    } else if x < T::zero() {
        -T::one()
    } else {
        T::zero()
    }
}

fn argmax<T: Scalar>(v: &[T]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// The sum over the batch of a metric's per-sample values (weighted by
/// `sample_weight` when given); divide by the weight total for the mean.
pub fn metric_sum<T: Scalar>(
    metric: MetricKind,
    output: &[T],
    target: &[T],
    rows: usize,
    sample_weight: Option<&[T]>,
) -> f64 {
    let n = output.len() / rows;
    let trows = if metric == MetricKind::SparseCategoricalAccuracy { 1 } else { rows };
    let mut total = 0.0;
    for s in 0..n {
        let y = &output[s * rows..(s + 1) * rows];
        let t = &target[s * trows..(s + 1) * trows];
        let value = match metric {
            MetricKind::CategoricalAccuracy => (argmax(y) == argmax(t)) as u8 as f64,
            MetricKind::SparseCategoricalAccuracy => (argmax(y) as f64 == t[0].as_f64()) as u8 as f64,
            MetricKind::BinaryAccuracy => {
                y.iter().zip(t).filter(|(a, b)| (a.as_f64() > 0.5) == (b.as_f64() > 0.5)).count() as f64 / rows as f64
            }
            MetricKind::MeanSquaredError => {
                y.iter()
                    .zip(t)
                    .map(|(a, b)| {
                        let e = a.as_f64() - b.as_f64();
                        e * e
                    })
                    .sum::<f64>()
                    / rows as f64
            }
            MetricKind::MeanAbsoluteError => {
                y.iter().zip(t).map(|(a, b)| libm::fabs(a.as_f64() - b.as_f64())).sum::<f64>() / rows as f64
            }
        };
        total += value * weight_of(sample_weight, s).as_f64();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cross-entropy leaves out the logarithms of zero-weight terms; the
    /// value must be bit for bit what every term gives.
    #[test]
    fn skipped_zero_terms_change_nothing() {
        let rows = 5;
        let output: Vec<f32> = (0..4 * rows).map(|i| ((i * 37) % 11) as f32 / 11.0 + 1e-9).collect();
        let mut target = vec![0.0f32; 4 * rows];
        for s in 0..4 {
            target[s * rows + s % rows] = 1.0;
        }
        target[3 * rows + 1] = 0.25; // a soft target too
        let (eps, hi) = (EPSILON as f32, 1.0 - EPSILON as f32);
        let mut categorical = 0.0f32;
        let mut binary = 0.0f32;
        for (y, t) in output.chunks(rows).zip(target.chunks(rows)) {
            let sum = y.iter().fold(0.0f32, |a, &v| a + v);
            let mut value = 0.0f32;
            for j in 0..rows {
                value -= t[j] * clip(y[j] / sum, eps, hi).ln();
            }
            categorical += value;
            let mut value = 0.0f32;
            for j in 0..rows {
                let p = clip(y[j], eps, hi);
                value += -(t[j] * p.ln() + (1.0 - t[j]) * (1.0 - p).ln());
            }
            binary += value * (1.0 / rows as f32);
        }
        let n = 1.0 / 4.0f32;
        let cce = Loss::CategoricalCrossentropy { from_logits: false };
        let bce = Loss::BinaryCrossentropy { from_logits: false };
        assert_eq!(loss_and_grad(cce, &output, &target, rows, None, None).to_bits(), (categorical * n).to_bits());
        assert_eq!(loss_and_grad(bce, &output, &target, rows, None, None).to_bits(), (binary * n).to_bits());
    }
}
