//! Pooling (Keras's MaxPooling1D/2D, AveragePooling1D/2D and their global
//! forms) over NHWC samples, per channel. A window's padding is left out:
//! the maximum and the mean are over its real values only, as Keras's
//! `same` pooling does. A window with no real values (no Keras geometry has
//! one) gives 0.

use super::window::Window;
use crate::scalar::c;
use crate::Scalar;

/// `b` when it is larger or NaN, else `a`: a NaN anywhere in a window
/// gives NaN, as Keras's `max` does (`f32::max` would drop it).
#[inline(always)]
fn max_keeping_nan<T: Scalar>(a: T, b: T) -> T {
    #[allow(clippy::eq_op)] // `b != b`: NaN
    if b > a || b != b {
        b
    } else {
        a
    }
}

/// Whether `v` is the value `out` a maximum picked (NaN picks the first NaN).
#[inline(always)]
#[allow(clippy::eq_op)] // `x != x`: NaN
fn is_pick<T: Scalar>(v: T, out: T) -> bool {
    v == out || (v != v && out != out)
}

/// The maximum over each window's real values, per channel.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn max_forward<T: Scalar>(w: &Window, x: &[T], out: &mut [T]) {
    let ch = w.channels;
    let n = w.samples(x.len());
    let out = &mut out[..n * w.positions() * ch];
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (sample, dst) in x.chunks_exact(w.in_len()).zip(out.chunks_exact_mut(w.positions() * ch)) {
                for (p, col) in dst.chunks_exact_mut(ch).enumerate() {
                    let (oh, ow) = (p / w.out_w, p % w.out_w);
                    let ((ilo, ihi), (jlo, jhi)) = (w.rows_of(oh), w.cols_of(ow));
                    if ilo == ihi || jlo == jhi {
                        col.fill(T::zero());
                        continue;
                    }
                    let at = |i: usize, j: usize| (w.in_row(oh, i) * w.in_w + w.in_col(ow, j)) * ch;
                    col.copy_from_slice(&sample[at(ilo, jlo)..][..ch]);
                    for i in ilo..ihi {
                        for j in jlo..jhi {
                            for (o, &v) in col.iter_mut().zip(&sample[at(i, j)..][..ch]) {
                                *o = max_keeping_nan(*o, v);
                            }
                        }
                    }
                }
            }
        },
    );
}

/// Adds `dout` into `dx` at each window's maximum: the first real value,
/// in window order (rows, then columns), equal to the output, as
/// Keras/JAX's gradient does for windows without ties.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn max_backward<T: Scalar>(w: &Window, x: &[T], out: &[T], dout: &[T], dx: &mut [T]) {
    let ch = w.channels;
    let per_out = w.positions() * ch;
    let n = w.samples(x.len());
    let (out, dout) = (&out[..n * per_out], &dout[..n * per_out]);
    let samples = x.chunks_exact(w.in_len()).zip(dx.chunks_exact_mut(w.in_len()));
    for ((sample, grad), (o, d)) in samples.zip(out.chunks_exact(per_out).zip(dout.chunks_exact(per_out))) {
        for p in 0..w.positions() {
            let (oh, ow) = (p / w.out_w, p % w.out_w);
            let ((ilo, ihi), (jlo, jhi)) = (w.rows_of(oh), w.cols_of(ow));
            for k in 0..ch {
                let target = o[p * ch + k];
                let found = (ilo..ihi)
                    .flat_map(|i| (jlo..jhi).map(move |j| (w.in_row(oh, i) * w.in_w + w.in_col(ow, j)) * ch + k))
                    .find(|&at| is_pick(sample[at], target));
                if let Some(at) = found {
                    grad[at] += d[p * ch + k];
                }
            }
        }
    }
}

/// The mean over each window's real values, per channel.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn avg_forward<T: Scalar>(w: &Window, x: &[T], out: &mut [T]) {
    let ch = w.channels;
    let n = w.samples(x.len());
    let out = &mut out[..n * w.positions() * ch];
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (sample, dst) in x.chunks_exact(w.in_len()).zip(out.chunks_exact_mut(w.positions() * ch)) {
                for (p, col) in dst.chunks_exact_mut(ch).enumerate() {
                    let (oh, ow) = (p / w.out_w, p % w.out_w);
                    let ((ilo, ihi), (jlo, jhi)) = (w.rows_of(oh), w.cols_of(ow));
                    col.fill(T::zero());
                    for i in ilo..ihi {
                        for j in jlo..jhi {
                            let at = (w.in_row(oh, i) * w.in_w + w.in_col(ow, j)) * ch;
                            for (o, &v) in col.iter_mut().zip(&sample[at..][..ch]) {
                                *o += v;
                            }
                        }
                    }
                    let count = (ihi - ilo) * (jhi - jlo);
                    if count > 1 {
                        let inv = T::one() / c::<T>(count as f64);
                        for o in col.iter_mut() {
                            *o *= inv;
                        }
                    }
                }
            }
        },
    );
}

/// Adds `dout / count` into each real value of each window (`count` its
/// real values).
///
/// # Panics
/// If a slice is shorter than the geometry needs.
pub fn avg_backward<T: Scalar>(w: &Window, dout: &[T], dx: &mut [T]) {
    let ch = w.channels;
    let per_out = w.positions() * ch;
    if per_out == 0 {
        return;
    }
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (d, grad) in dout.chunks_exact(per_out).zip(dx.chunks_exact_mut(w.in_len())) {
                for (p, g) in d.chunks_exact(ch).enumerate() {
                    let (oh, ow) = (p / w.out_w, p % w.out_w);
                    let ((ilo, ihi), (jlo, jhi)) = (w.rows_of(oh), w.cols_of(ow));
                    let count = (ihi - ilo) * (jhi - jlo);
                    if count == 0 {
                        continue;
                    }
                    let inv = T::one() / c::<T>(count as f64);
                    for i in ilo..ihi {
                        for j in jlo..jhi {
                            let at = (w.in_row(oh, i) * w.in_w + w.in_col(ow, j)) * ch;
                            for (o, &v) in grad[at..at + ch].iter_mut().zip(g) {
                                *o += v * inv;
                            }
                        }
                    }
                }
            }
        },
    );
}

/// The mean over all `positions` of each sample, per channel.
///
/// # Panics
/// If `out` is shorter than a value per channel per sample of `x`.
pub fn global_avg_forward<T: Scalar>(positions: usize, channels: usize, x: &[T], out: &mut [T]) {
    let per = positions * channels;
    if per == 0 {
        return;
    }
    let inv = T::one() / c::<T>(positions as f64);
    crate::cpu::wide(
        #[inline(always)]
        || {
            let outs = out[..x.len() / per * channels].chunks_exact_mut(channels);
            for (sample, col) in x.chunks_exact(per).zip(outs) {
                let mut c0 = 0;
                while c0 + AVG_BLOCK <= channels {
                    avg_block::<T, AVG_BLOCK>(sample, channels, c0, inv, col);
                    c0 += AVG_BLOCK;
                }
                while c0 < channels {
                    avg_block::<T, 1>(sample, channels, c0, inv, col);
                    c0 += 1;
                }
            }
        },
    );
}

/// Channels per block of [`global_avg_forward`]'s sums: 32 (four AVX2
/// vectors of `f32`), a constant so the sums stay in registers over all
/// positions. Summed in memory, each position's add waited for the
/// previous one's store (0.57 µs for 125 positions of 64 channels, against
/// 0.20 µs in registers).
const AVG_BLOCK: usize = 32;

/// Channels `c0..c0 + W` of [`global_avg_forward`] for one sample, summed
/// over the positions in order (the same sums as a position-by-position
/// loop).
#[inline(always)]
fn avg_block<T: Scalar, const W: usize>(sample: &[T], channels: usize, c0: usize, inv: T, col: &mut [T]) {
    let mut sums = [T::zero(); W];
    for row in sample.chunks_exact(channels) {
        let row: &[T; W] = row[c0..c0 + W].try_into().expect("W channels");
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v;
        }
    }
    for (o, &s) in col[c0..c0 + W].iter_mut().zip(&sums) {
        *o = s * inv;
    }
}

/// Adds `dout / positions` into every position of each sample.
///
/// # Panics
/// If `dx` is shorter than `positions` values per value of `dout`.
pub fn global_avg_backward<T: Scalar>(positions: usize, channels: usize, dout: &[T], dx: &mut [T]) {
    let per = positions * channels;
    if per == 0 {
        return;
    }
    let inv = T::one() / c::<T>(positions as f64);
    crate::cpu::wide(
        #[inline(always)]
        || {
            let grads = dx[..dout.len() / channels * per].chunks_exact_mut(per);
            for (d, grad) in dout.chunks_exact(channels).zip(grads) {
                for row in grad.chunks_exact_mut(channels) {
                    for (g, &v) in row.iter_mut().zip(d) {
                        *g += v * inv;
                    }
                }
            }
        },
    );
}

/// The maximum over all `positions` of each sample, per channel (NaN if
/// any value is).
///
/// # Panics
/// If `out` is shorter than a value per channel per sample of `x`.
pub fn global_max_forward<T: Scalar>(positions: usize, channels: usize, x: &[T], out: &mut [T]) {
    let per = positions * channels;
    if per == 0 {
        return;
    }
    crate::cpu::wide(
        #[inline(always)]
        || {
            let outs = out[..x.len() / per * channels].chunks_exact_mut(channels);
            for (sample, col) in x.chunks_exact(per).zip(outs) {
                col.copy_from_slice(&sample[..channels]);
                for row in sample.chunks_exact(channels).skip(1) {
                    for (o, &v) in col.iter_mut().zip(row) {
                        *o = max_keeping_nan(*o, v);
                    }
                }
            }
        },
    );
}

/// Adds `dout` into `dx` at the first position, per channel, whose value
/// equals the output.
///
/// # Panics
/// If a slice is shorter than `x` implies.
pub fn global_max_backward<T: Scalar>(positions: usize, channels: usize, x: &[T], out: &[T], dout: &[T], dx: &mut [T]) {
    let per = positions * channels;
    if per == 0 {
        return;
    }
    let n = x.len() / per;
    let (out, dout) = (&out[..n * channels], &dout[..n * channels]);
    let samples = x.chunks_exact(per).zip(dx.chunks_exact_mut(per));
    for ((sample, grad), (o, d)) in samples.zip(out.chunks_exact(channels).zip(dout.chunks_exact(channels))) {
        for k in 0..channels {
            if let Some(p) = (0..positions).find(|&p| is_pick(sample[p * channels + k], o[k])) {
                grad[p * channels + k] += d[k];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::grid::{assert_close, cast, data, finite_differences, minus, wide, windows};
    use super::*;

    /// The input offsets (of channel 0) of the real values of output
    /// `(oh, ow)`'s window, in window order, by the definition.
    fn real_taps(w: &Window, oh: usize, ow: usize) -> Vec<usize> {
        let mut taps = Vec::new();
        for i in 0..w.k_h {
            for j in 0..w.k_w {
                let r = (oh * w.stride_h + i * w.dilation_h) as isize - w.pad_top as isize;
                let q = (ow * w.stride_w + j * w.dilation_w) as isize - w.pad_left as isize;
                if r >= 0 && q >= 0 && (r as usize) < w.in_h && (q as usize) < w.in_w {
                    taps.push((r as usize * w.in_w + q as usize) * w.channels);
                }
            }
        }
        taps
    }

    /// Max and average pooling by the definition: (max, mean) and, given
    /// `dout`, the gradients of `Σ dout·max` and `Σ dout·mean`.
    fn reference(w: &Window, x: &[f64], dout: &[f64]) -> [Vec<f64>; 4] {
        let (n, ch) = (x.len() / w.in_len(), w.channels);
        let len = n * w.positions() * ch;
        let (mut max, mut avg) = (vec![0.0; len], vec![0.0; len]);
        let (mut dmax, mut davg) = (vec![0.0; x.len()], vec![0.0; x.len()]);
        for s in 0..n {
            for p in 0..w.positions() {
                let taps = real_taps(w, p / w.out_w, p % w.out_w);
                for k in 0..ch {
                    let o = (s * w.positions() + p) * ch + k;
                    let at: Vec<usize> = taps.iter().map(|t| s * w.in_len() + t + k).collect();
                    let Some(&first) = at.first() else { continue };
                    let best = at.iter().copied().fold(first, |b, a| if x[a] > x[b] { a } else { b });
                    max[o] = x[best];
                    dmax[best] += dout[o];
                    avg[o] = at.iter().map(|&a| x[a]).sum::<f64>() / at.len() as f64;
                    for &a in &at {
                        davg[a] += dout[o] / at.len() as f64;
                    }
                }
            }
        }
        [max, avg, dmax, davg]
    }

    fn against_reference<T: Scalar>(tol: f64) {
        for (case, w) in windows(false).into_iter().enumerate() {
            let n = [1usize, 3][case % 2];
            let x = data(n * w.in_len(), case);
            let len = n * w.positions() * w.channels;
            let dout = data(len, case + 1);
            let [max, avg, dmax, davg] = reference(&w, &x, &dout);
            let what = format!("{w:?} n={n}");
            let ones = vec![1.0; x.len().max(len)];
            let xt = cast::<T>(&x);
            let mut out = vec![T::of_f64(7.0); len];
            max_forward(&w, &xt, &mut out);
            assert_close(&what, &wide(&out), &max, &ones, tol);
            let start = data(x.len(), case + 2);
            let mut dx = cast::<T>(&start);
            max_backward(&w, &xt, &out, &cast(&dout), &mut dx);
            assert_close(&what, &minus(&wide(&dx), &start), &dmax, &ones, tol);
            avg_forward(&w, &xt, &mut out);
            assert_close(&what, &wide(&out), &avg, &ones, tol);
            let mut dx = cast::<T>(&start);
            avg_backward(&w, &cast(&dout), &mut dx);
            assert_close(&what, &minus(&wide(&dx), &start), &davg, &ones, tol);
        }
    }

    #[test]
    fn f64_matches_reference() {
        against_reference::<f64>(1e-14);
    }

    #[test]
    fn f32_matches_reference() {
        against_reference::<f32>(1e-6);
    }

    /// Both backward passes against central differences of `Σ r·pool(x)`
    /// (the data's values are distinct, 0.002 apart, so a step of 0.001
    /// never changes a window's maximum).
    #[test]
    fn backward_matches_finite_differences() {
        for (case, w) in windows(false).into_iter().enumerate().filter(|(case, _)| case % 2 == 0) {
            let n = 2;
            let mut x = data(n * w.in_len(), case);
            let len = n * w.positions() * w.channels;
            let r = data(len, case + 1);
            let dot = |out: &[f64]| out.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>();
            let mut out = vec![0.0; len];
            max_forward(&w, &x, &mut out);
            let mut grad = vec![0.0; x.len()];
            max_backward(&w, &x, &out, &r, &mut grad);
            let parts = [(0, x.len())];
            finite_differences(&format!("max {w:?}"), &mut x, &parts, &grad, |x| {
                let mut out = vec![0.0; len];
                max_forward(&w, x, &mut out);
                dot(&out)
            });
            let mut grad = vec![0.0; x.len()];
            avg_backward(&w, &r, &mut grad);
            finite_differences(&format!("avg {w:?}"), &mut x, &parts, &grad, |x| {
                let mut out = vec![0.0; len];
                avg_forward(&w, x, &mut out);
                dot(&out)
            });
        }
    }

    /// The global forms against their definitions and central differences,
    /// channel counts on and off the vector width, added into `dx`.
    #[test]
    fn global_pooling() {
        for (case, (positions, channels, n)) in
            [(1, 1, 1), (5, 3, 2), (125, 64, 1), (7, 17, 3), (12, 8, 2), (9, 41, 2)].into_iter().enumerate()
        {
            let mut x = data(positions * channels * n, case);
            let r = data(channels * n, case + 1);
            let start = data(x.len(), case + 2);
            let (mut avg, mut max) = (vec![7.0; channels * n], vec![7.0; channels * n]);
            global_avg_forward(positions, channels, &x, &mut avg);
            global_max_forward(positions, channels, &x, &mut max);
            for s in 0..n {
                for k in 0..channels {
                    let vals: Vec<f64> = (0..positions).map(|p| x[(s * positions + p) * channels + k]).collect();
                    let mean = vals.iter().sum::<f64>() / positions as f64;
                    let top = vals.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    assert!((avg[s * channels + k] - mean).abs() < 1e-14 && max[s * channels + k] == top);
                }
            }
            let dot = |out: &[f64]| out.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>();
            let parts = [(0, x.len())];
            let mut grad = start.clone();
            global_avg_backward(positions, channels, &r, &mut grad);
            finite_differences("global avg", &mut x, &parts, &minus(&grad, &start), |x| {
                let mut out = vec![0.0; channels * n];
                global_avg_forward(positions, channels, x, &mut out);
                dot(&out)
            });
            let mut grad = start.clone();
            global_max_backward(positions, channels, &x, &max, &r, &mut grad);
            finite_differences("global max", &mut x, &parts, &minus(&grad, &start), |x| {
                let mut out = vec![0.0; channels * n];
                global_max_forward(positions, channels, x, &mut out);
                dot(&out)
            });
            // f32 against the f64 results.
            let xt = cast::<f32>(&x);
            let mut out = vec![0.0f32; channels * n];
            global_avg_forward(positions, channels, &xt, &mut out);
            assert_close("global avg f32", &wide(&out), &avg, &vec![1.0; out.len()], 1e-6);
            global_max_forward(positions, channels, &xt, &mut out);
            assert_close("global max f32", &wide(&out), &max, &vec![1.0; out.len()], 1e-7);
        }
    }

    /// A NaN in a window makes its maximum NaN wherever it sits; ties send
    /// the gradient to the first maximum only.
    #[test]
    fn nan_and_ties() {
        let w = Window::keras((1, 6), 1, (1, 3), (1, 3), (1, 1), super::super::Padding::Valid);
        for at in 0..3 {
            let mut x = [1.0f32, 2.0, 3.0, 4.0, 4.0, 4.0];
            x[at] = f32::NAN;
            let mut out = [0.0f32; 2];
            max_forward(&w, &x, &mut out);
            assert!(out[0].is_nan() && out[1] == 4.0, "NaN at {at}: {out:?}");
            let mut dx = [0.0f32; 6];
            max_backward(&w, &x, &out, &[1.0, 1.0], &mut dx);
            let mut want = [0.0f32; 6];
            want[at] = 1.0;
            want[3] = 1.0;
            assert_eq!(dx, want, "NaN at {at}");
            let mut g = [0.0f32; 1];
            global_max_forward(6, 1, &x, &mut g);
            assert!(g[0].is_nan());
        }
    }
}
