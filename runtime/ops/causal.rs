//! A causal `Conv1D` (stride 1) one step at a time, for streaming: each
//! output step reads the newest frame and the `(k−1)·d` before it, which
//! the caller keeps in a history buffer between steps (zeros at first,
//! as Keras's causal padding puts zeros in front of a sequence).
//!
//! The history holds the frames oldest first, `channels` values each; tap
//! `j` of the kernel (Keras's order, tap `k−1` the newest) reads frame
//! `t − (k−1−j)·d`, which sits at index `j·d` of the history, or is the
//! new frame for `j = k−1`.

use crate::Scalar;

/// Scalars of history a causal convolution with `kernel` taps, `dilation`
/// and `channels` input channels keeps: `(kernel − 1)·dilation` frames.
pub const fn history_len(kernel: usize, dilation: usize, channels: usize) -> usize {
    kernel.saturating_sub(1) * dilation * channels
}

/// One output step: `out = bias + Σ_j kernelⱼᵀ·frameⱼ` over the `kernel`
/// taps, then the history moves on by `x_t`. `weights` is Keras's
/// `[kernel, channels, filters]` kernel (row-major), `x_t` has `channels`
/// values, `out` gets `filters` (no activation: the caller applies it).
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
pub fn step<T: Scalar>(
    kernel: usize,
    dilation: usize,
    channels: usize,
    filters: usize,
    weights: &[T],
    bias: Option<&[T]>,
    history: &mut [T],
    x_t: &[T],
    out: &mut [T],
) {
    let (c, f) = (channels, filters);
    let history = &mut history[..history_len(kernel, dilation, c)];
    let (weights, x_t, out) = (&weights[..kernel * c * f], &x_t[..c], &mut out[..f]);
    match bias {
        Some(b) => out.copy_from_slice(&b[..f]),
        None => out.fill(T::zero()),
    }
    crate::cpu::wide(
        #[inline(always)]
        || {
            for j in 0..kernel {
                let frame = if j + 1 == kernel { x_t } else { &history[j * dilation * c..][..c] };
                let taps = &weights[j * c * f..][..c * f];
                for (&v, row) in frame.iter().zip(taps.chunks_exact(f)) {
                    for (o, &w) in out.iter_mut().zip(row) {
                        *o += v * w;
                    }
                }
            }
        },
    );
    if !history.is_empty() {
        history.copy_within(c.., 0);
        let n = history.len();
        history[n - c..].copy_from_slice(x_t);
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
            step(k, d, c, f, &weights, Some(&bias), &mut history, &x[t * c..][..c], &mut out);
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
        step(1, 4, 1, 2, &[2.0, -1.0], None, &mut [], &[3.0], &mut out);
        assert_eq!(out, [6.0, -3.0]);
    }
}
