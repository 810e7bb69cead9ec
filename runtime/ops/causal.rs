//! A causal `Conv1D` (stride 1) one step at a time, for streaming: each
//! output step reads the newest frame and the `(k−1)·d` before it, which
//! the caller keeps in a history buffer between steps (zeros at first,
//! as Keras's causal padding puts zeros in front of a sequence).
//!
//! The history holds the frames oldest first, `channels` values each; tap
//! `j` of the kernel (Keras's order, tap `k−1` the newest) reads frame
//! `t − (k−1−j)·d`, which sits at index `j·d` of the history, or is the
//! new frame for `j = k−1`.

use crate::vocab::Activation;
use crate::Scalar;

/// Scalars of history a causal convolution with `kernel` taps, `dilation`
/// and `channels` input channels keeps: `(kernel − 1)·dilation` frames.
pub const fn history_len(kernel: usize, dilation: usize, channels: usize) -> usize {
    kernel.saturating_sub(1) * dilation * channels
}

/// One output step: `out = act(bias + Σ_j kernelⱼᵀ·frameⱼ)` over the `K`
/// taps (dilation `D`, `C` input channels, `F` filters), then the history
/// moves on by `x_t`. `weights` is Keras's `[K, C, F]` kernel (row-major),
/// `x_t` has `C` values, `out` gets `F`.
///
/// The sizes are constants, so a small layer's loops unroll and its sums
/// stay in registers; the products go into two sets of sums (even and odd
/// input channels), whose additions overlap, added together at the end.
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[inline]
pub fn step<T: Scalar, const K: usize, const D: usize, const C: usize, const F: usize>(
    act: Activation,
    weights: &[T],
    bias: Option<&[T]>,
    history: &mut [T],
    x_t: &[T],
    out: &mut [T],
) {
    let history = &mut history[..history_len(K, D, C)];
    let (weights, x_t, out) = (&weights[..K * C * F], &x_t[..C], &mut out[..F]);
    let mut even = [T::zero(); F];
    let mut odd = [T::zero(); F];
    for j in 0..K {
        let frame = if j + 1 == K { x_t } else { &history[j * D * C..][..C] };
        let taps = &weights[j * C * F..][..C * F];
        for ch in 0..C {
            let (v, row) = (frame[ch], &taps[ch * F..][..F]);
            let sums = if ch % 2 == 0 { &mut even } else { &mut odd };
            for o in 0..F {
                sums[o] += v * row[o];
            }
        }
    }
    match bias {
        Some(b) => {
            for o in 0..F {
                out[o] = b[o] + (even[o] + odd[o]);
            }
        }
        None => {
            for o in 0..F {
                out[o] = even[o] + odd[o];
            }
        }
    }
    activate(act, out);
    if !history.is_empty() {
        history.copy_within(C.., 0);
        let n = history.len();
        history[n - C..].copy_from_slice(x_t);
    }
}

/// `act` on every value of `out`: sigmoid and tanh as the recurrent layers
/// compute them (a loop that vectorizes, within a few ulp of libm's, whose
/// `tanhf` is a call per value and took two thirds of a small causal
/// stack's step), the others as [`crate::activations::forward_in_place`].
#[inline(always)]
fn activate<T: Scalar>(act: Activation, out: &mut [T]) {
    use super::recurrent::math;
    match act {
        Activation::Linear => {}
        Activation::Tanh => crate::cpu::wide(
            #[inline(always)]
            || out.iter_mut().for_each(|v| *v = math::tanh(*v)),
        ),
        Activation::Sigmoid => crate::cpu::wide(
            #[inline(always)]
            || out.iter_mut().for_each(|v| *v = math::sigmoid(*v)),
        ),
        _ => crate::activations::forward_in_place(act, out, out.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steps of a causal convolution equal the convolution of the whole
    /// sequence with `(k−1)·d` zeros in front, written out directly.
    #[test]
    fn steps_equal_the_whole_causal_convolution() {
        let (k, d, c, f, steps) = (3, 2, 2, 3, 9);
        let weights: Vec<f64> = (0..k * c * f).map(|i| ((i * 7 % 11) as f64 - 5.0) / 7.0).collect();
        let bias = [0.1, -0.2, 0.3];
        let x: Vec<f64> = (0..steps * c).map(|i| ((i * 5 % 13) as f64 - 6.0) / 6.0).collect();
        let mut history = vec![0.0; history_len(k, d, c)];
        assert_eq!(history.len(), 8);
        for t in 0..steps {
            let mut out = [0.0; 3];
            step::<f64, 3, 2, 2, 3>(
                Activation::Linear,
                &weights,
                Some(&bias),
                &mut history,
                &x[t * c..][..c],
                &mut out,
            );
            for (o, &got) in out.iter().enumerate() {
                let mut want = bias[o];
                for j in 0..k {
                    let back = (k - 1 - j) * d;
                    if t >= back {
                        for ch in 0..c {
                            want += x[(t - back) * c + ch] * weights[(j * c + ch) * f + o];
                        }
                    }
                }
                assert!((got - want).abs() < 1e-14, "step {t} filter {o}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn a_one_tap_kernel_keeps_no_history() {
        assert_eq!(history_len(1, 4, 8), 0);
        let mut out = [0.0f32; 2];
        step::<f32, 1, 4, 1, 2>(Activation::Linear, &[2.0, -1.0], None, &mut [], &[3.0], &mut out);
        assert_eq!(out, [6.0, -3.0]);
    }
}
