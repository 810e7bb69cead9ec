//! Depthwise convolutions (Keras's DepthwiseConv2D, and 1-D as height 1):
//! each input channel `c` convolved with its own `multiplier` filters into
//! output channels `c·multiplier + m`. Kernel `[k_h, k_w, in_c, multiplier]`
//! row-major, so a tap's weights are a row of `in_c·multiplier` values laid
//! out like an output position's channels.
//!
//! Direct loops, vectorized across contiguous channels: there is no matrix
//! product to hand this to (each channel has its own few taps). With a
//! multiplier of 1 (the usual case) channels go in blocks whose sums stay in
//! registers over a window's taps.

use super::window::Window;
use crate::activations::{self, Activation};
use crate::Scalar;

/// Channels per register block: 64 `f32` or 32 `f64` are eight AVX2
/// vectors, enough independent sums to keep both adders busy.
const BLOCK_BYTES: usize = 256;

/// `out = act(depthwise(x, kernel) + bias)` for every sample of `x`, with
/// `channels·multiplier` output channels. With `z` (training), `z` gets the
/// pre-activation and `out` the activation; without, ReLU and linear are
/// fused into the store and other activations applied in place.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Scalar>(
    w: &Window,
    multiplier: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    act: Activation,
    x: &[T],
    z: Option<&mut [T]>,
    out: &mut [T],
) {
    let oc = w.channels * multiplier;
    let len = w.samples(x.len()) * w.positions() * oc;
    if len == 0 {
        return;
    }
    match z {
        Some(z) => {
            let z = &mut z[..len];
            convolve(w, multiplier, kernel, bias, x, z, false);
            activations::forward(act, z, &mut out[..len], oc);
        }
        None => {
            let out = &mut out[..len];
            let relu = act == Activation::Relu;
            convolve(w, multiplier, kernel, bias, x, out, relu);
            if !relu {
                activations::forward_in_place(act, out, oc);
            }
        }
    }
}

/// `out = depthwise(x, kernel) + bias`, then ReLU when `relu`.
fn convolve<T: Scalar>(w: &Window, m: usize, kernel: &[T], bias: Option<&[T]>, x: &[T], out: &mut [T], relu: bool) {
    let oc = w.channels * m;
    let kernel = &kernel[..w.taps() * oc];
    let bias = bias.map(|b| &b[..oc]);
    let x = &x[..w.samples(x.len()) * w.in_len()];
    crate::cpu::wide(|| {
        for (sample, dst) in x.chunks_exact(w.in_len()).zip(out.chunks_exact_mut(w.positions() * oc)) {
            for (p, col) in dst.chunks_exact_mut(oc).enumerate() {
                let (oh, ow) = (p / w.out_w, p % w.out_w);
                if m == 1 {
                    if size_of::<T>() == 4 {
                        position::<T, { BLOCK_BYTES / 4 }>(w, kernel, bias, sample, oh, ow, col, relu);
                    } else {
                        position::<T, { BLOCK_BYTES / 8 }>(w, kernel, bias, sample, oh, ow, col, relu);
                    }
                } else {
                    position_multiplied(w, m, kernel, bias, sample, oh, ow, col, relu);
                }
            }
        }
    });
}

/// One output position with a multiplier of 1, `B` channels at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn position<T: Scalar, const B: usize>(
    w: &Window,
    kernel: &[T],
    bias: Option<&[T]>,
    sample: &[T],
    oh: usize,
    ow: usize,
    col: &mut [T],
    relu: bool,
) {
    let c = w.channels;
    let (ilo, ihi) = w.rows_of(oh);
    let (jlo, jhi) = w.cols_of(ow);
    let mut c0 = 0;
    while c0 < c {
        let width = (c - c0).min(B);
        // Sums in an array of constant size, so that for a whole block the
        // compiler keeps them in registers across the taps.
        let mut acc = [T::zero(); B];
        let acc_w = &mut acc[..width];
        if let Some(b) = bias {
            acc_w.copy_from_slice(&b[c0..c0 + width]);
        }
        for i in ilo..ihi {
            let line = w.in_row(oh, i) * w.in_w;
            for j in jlo..jhi {
                let xs = &sample[(line + w.in_col(ow, j)) * c + c0..][..width];
                let ks = &kernel[(i * w.k_w + j) * c + c0..][..width];
                for ((a, &xv), &kv) in acc_w.iter_mut().zip(xs).zip(ks) {
                    *a += xv * kv;
                }
            }
        }
        store(&mut col[c0..c0 + width], acc_w, relu);
        c0 += width;
    }
}

/// One output position with a multiplier above 1: the multiplier's outputs
/// of each channel are the contiguous run.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn position_multiplied<T: Scalar>(
    w: &Window,
    m: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    sample: &[T],
    oh: usize,
    ow: usize,
    col: &mut [T],
    relu: bool,
) {
    let c = w.channels;
    let oc = c * m;
    match bias {
        Some(b) => col.copy_from_slice(b),
        None => col.fill(T::zero()),
    }
    let (ilo, ihi) = w.rows_of(oh);
    let (jlo, jhi) = w.cols_of(ow);
    for i in ilo..ihi {
        let line = w.in_row(oh, i) * w.in_w;
        for j in jlo..jhi {
            let xs = &sample[(line + w.in_col(ow, j)) * c..][..c];
            let ks = &kernel[(i * w.k_w + j) * oc..][..oc];
            for ((&xv, kc), oc) in xs.iter().zip(ks.chunks_exact(m)).zip(col.chunks_exact_mut(m)) {
                for (o, &kv) in oc.iter_mut().zip(kc) {
                    *o += xv * kv;
                }
            }
        }
    }
    if relu {
        for o in col.iter_mut() {
            *o = relu_of(*o);
        }
    }
}

/// `dst = src`, through ReLU when `relu`.
#[inline(always)]
fn store<T: Scalar>(dst: &mut [T], src: &[T], relu: bool) {
    if relu {
        for (d, &s) in dst.iter_mut().zip(src) {
            *d = relu_of(s);
        }
    } else {
        dst.copy_from_slice(src);
    }
}

/// `max(x, 0)` keeping a NaN, as Keras's `relu` does.
#[inline(always)]
fn relu_of<T: Scalar>(x: T) -> T {
    if x < T::zero() {
        T::zero()
    } else {
        x
    }
}

/// Backward of [`forward`]'s pre-activation given `dz` (`dL/dz`): writes
/// `dkernel` (and `dbias`) and, when `dx` is given, adds the input gradient
/// into it.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Scalar>(
    w: &Window,
    multiplier: usize,
    kernel: &[T],
    x: &[T],
    dz: &[T],
    dkernel: &mut [T],
    dbias: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) {
    let oc = w.channels * multiplier;
    let n = w.samples(x.len());
    let (x, dz) = (&x[..n * w.in_len()], &dz[..n * w.positions() * oc]);
    if let Some(db) = dbias {
        super::column_sum(dz, &mut db[..oc]);
    }
    let dkernel = &mut dkernel[..w.taps() * oc];
    let kernel = &kernel[..w.taps() * oc];
    crate::cpu::wide(|| {
        if multiplier == 1 {
            if size_of::<T>() == 4 {
                kernel_gradient::<T, { BLOCK_BYTES / 4 }>(w, x, dz, dkernel);
            } else {
                kernel_gradient::<T, { BLOCK_BYTES / 8 }>(w, x, dz, dkernel);
            }
        } else {
            kernel_gradient_multiplied(w, multiplier, x, dz, dkernel);
        }
    });
    if let Some(dx) = dx {
        let dx = &mut dx[..n * w.in_len()];
        crate::cpu::wide(|| {
            if multiplier == 1 {
                if size_of::<T>() == 4 {
                    input_gradient::<T, { BLOCK_BYTES / 4 }>(w, kernel, dz, dx);
                } else {
                    input_gradient::<T, { BLOCK_BYTES / 8 }>(w, kernel, dz, dx);
                }
            } else {
                input_gradient_multiplied(w, multiplier, kernel, dz, dx);
            }
        });
    }
}

/// `dK[tap] = Σ dz · x` over the positions where the tap lies inside the
/// input (a rectangle of outputs), multiplier 1, `B` channels at a time
/// with the sums in registers.
#[inline(always)]
fn kernel_gradient<T: Scalar, const B: usize>(w: &Window, x: &[T], dz: &[T], dkernel: &mut [T]) {
    let c = w.channels;
    let per_out = w.positions() * c;
    for i in 0..w.k_h {
        let (olo, ohi) = w.out_rows_of(i);
        for j in 0..w.k_w {
            let (plo, phi) = w.out_cols_of(j);
            let dk = &mut dkernel[(i * w.k_w + j) * c..][..c];
            let mut c0 = 0;
            while c0 < c {
                let width = (c - c0).min(B);
                let mut acc = [T::zero(); B];
                let acc_w = &mut acc[..width];
                for (sample, g) in x.chunks_exact(w.in_len()).zip(dz.chunks_exact(per_out)) {
                    for oh in olo..ohi {
                        let line = w.in_row(oh, i) * w.in_w;
                        for ow in plo..phi {
                            let xs = &sample[(line + w.in_col(ow, j)) * c + c0..][..width];
                            let gs = &g[(oh * w.out_w + ow) * c + c0..][..width];
                            for ((a, &xv), &gv) in acc_w.iter_mut().zip(xs).zip(gs) {
                                *a += xv * gv;
                            }
                        }
                    }
                }
                dk[c0..c0 + width].copy_from_slice(acc_w);
                c0 += width;
            }
        }
    }
}

/// [`kernel_gradient`] with a multiplier above 1.
fn kernel_gradient_multiplied<T: Scalar>(w: &Window, m: usize, x: &[T], dz: &[T], dkernel: &mut [T]) {
    let c = w.channels;
    let oc = c * m;
    dkernel.fill(T::zero());
    for (sample, g) in x.chunks_exact(w.in_len()).zip(dz.chunks_exact(w.positions() * oc)) {
        for i in 0..w.k_h {
            let (olo, ohi) = w.out_rows_of(i);
            for j in 0..w.k_w {
                let (plo, phi) = w.out_cols_of(j);
                let dk = &mut dkernel[(i * w.k_w + j) * oc..][..oc];
                for oh in olo..ohi {
                    let line = w.in_row(oh, i) * w.in_w;
                    for ow in plo..phi {
                        let xs = &sample[(line + w.in_col(ow, j)) * c..][..c];
                        let gs = &g[(oh * w.out_w + ow) * oc..][..oc];
                        for ((&xv, gc), dc) in xs.iter().zip(gs.chunks_exact(m)).zip(dk.chunks_exact_mut(m)) {
                            for (d, &gv) in dc.iter_mut().zip(gc) {
                                *d += xv * gv;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `dx += Σ dz · K` gathered per input position over the taps that read
/// it (so each sum stays in registers and `dx` is touched once),
/// multiplier 1, `B` channels at a time.
#[inline(always)]
fn input_gradient<T: Scalar, const B: usize>(w: &Window, kernel: &[T], dz: &[T], dx: &mut [T]) {
    let c = w.channels;
    for (g, sample) in dz.chunks_exact(w.positions() * c).zip(dx.chunks_exact_mut(w.in_len())) {
        for (q, dst) in sample.chunks_exact_mut(c).enumerate() {
            let (ih, iw) = (q / w.in_w, q % w.in_w);
            let mut c0 = 0;
            while c0 < c {
                let width = (c - c0).min(B);
                let mut acc = [T::zero(); B];
                let acc_w = &mut acc[..width];
                for i in 0..w.k_h {
                    let Some(oh) = w.out_row_reading(ih, i) else { continue };
                    for j in 0..w.k_w {
                        let Some(ow) = w.out_col_reading(iw, j) else { continue };
                        let gs = &g[(oh * w.out_w + ow) * c + c0..][..width];
                        let ks = &kernel[(i * w.k_w + j) * c + c0..][..width];
                        for ((a, &gv), &kv) in acc_w.iter_mut().zip(gs).zip(ks) {
                            *a += gv * kv;
                        }
                    }
                }
                for (d, &a) in dst[c0..c0 + width].iter_mut().zip(acc_w.iter()) {
                    *d += a;
                }
                c0 += width;
            }
        }
    }
}

/// [`input_gradient`] with a multiplier above 1: each channel's gradient is
/// the dot product of its `m` outputs' gradients with their weights.
fn input_gradient_multiplied<T: Scalar>(w: &Window, m: usize, kernel: &[T], dz: &[T], dx: &mut [T]) {
    let c = w.channels;
    let oc = c * m;
    for (g, sample) in dz.chunks_exact(w.positions() * oc).zip(dx.chunks_exact_mut(w.in_len())) {
        for (q, dst) in sample.chunks_exact_mut(c).enumerate() {
            let (ih, iw) = (q / w.in_w, q % w.in_w);
            for i in 0..w.k_h {
                let Some(oh) = w.out_row_reading(ih, i) else { continue };
                for j in 0..w.k_w {
                    let Some(ow) = w.out_col_reading(iw, j) else { continue };
                    let gs = &g[(oh * w.out_w + ow) * oc..][..oc];
                    let ks = &kernel[(i * w.k_w + j) * oc..][..oc];
                    for ((d, gc), kc) in dst.iter_mut().zip(gs.chunks_exact(m)).zip(ks.chunks_exact(m)) {
                        *d += gc.iter().zip(kc).fold(T::zero(), |s, (&gv, &kv)| s + gv * kv);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::grid::{abs, assert_close, cast, data, finite_differences, minus, wide, windows};
    use super::*;

    /// Where tap `(i, j)` of output `(oh, ow)` reads, by the definition.
    fn tap(w: &Window, oh: usize, ow: usize, i: usize, j: usize) -> Option<usize> {
        let r = (oh * w.stride_h + i * w.dilation_h) as isize - w.pad_top as isize;
        let q = (ow * w.stride_w + j * w.dilation_w) as isize - w.pad_left as isize;
        let inside = r >= 0 && q >= 0 && (r as usize) < w.in_h && (q as usize) < w.in_w;
        inside.then(|| (r as usize * w.in_w + q as usize) * w.channels)
    }

    /// The pre-activation by its definition, in f64.
    fn reference(w: &Window, m: usize, kernel: &[f64], bias: Option<&[f64]>, x: &[f64]) -> Vec<f64> {
        let (n, oc) = (x.len() / w.in_len(), w.channels * m);
        let mut z = vec![0.0; n * w.positions() * oc];
        for s in 0..n {
            for oh in 0..w.out_h {
                for ow in 0..w.out_w {
                    for o in 0..oc {
                        let mut sum = bias.map_or(0.0, |b| b[o]);
                        for i in 0..w.k_h {
                            for j in 0..w.k_w {
                                if let Some(at) = tap(w, oh, ow, i, j) {
                                    sum += x[s * w.in_len() + at + o / m] * kernel[(i * w.k_w + j) * oc + o];
                                }
                            }
                        }
                        z[((s * w.out_h + oh) * w.out_w + ow) * oc + o] = sum;
                    }
                }
            }
        }
        z
    }

    /// The gradients of `Σ dz·z` by the definition: (dkernel, dbias, dx).
    fn reference_backward(w: &Window, m: usize, kernel: &[f64], x: &[f64], dz: &[f64]) -> [Vec<f64>; 3] {
        let (n, oc) = (x.len() / w.in_len(), w.channels * m);
        let (mut dk, mut db, mut dx) = (vec![0.0; kernel.len()], vec![0.0; oc], vec![0.0; x.len()]);
        for s in 0..n {
            for oh in 0..w.out_h {
                for ow in 0..w.out_w {
                    for o in 0..oc {
                        let g = dz[((s * w.out_h + oh) * w.out_w + ow) * oc + o];
                        db[o] += g;
                        for i in 0..w.k_h {
                            for j in 0..w.k_w {
                                if let Some(at) = tap(w, oh, ow, i, j) {
                                    let (xi, ki) = (s * w.in_len() + at + o / m, (i * w.k_w + j) * oc + o);
                                    dk[ki] += g * x[xi];
                                    dx[xi] += g * kernel[ki];
                                }
                            }
                        }
                    }
                }
            }
        }
        [dk, db, dx]
    }

    /// Forward (every activation path, with and without bias and `z`) and
    /// backward in `T` against the f64 definitions over the grid, with
    /// multipliers 1, 2 and 3 (1 taking the blocked loops) and, for `f32`,
    /// a channel count past a whole register block.
    fn against_reference<T: Scalar>(tol: f64) {
        for (case, mut w) in windows(false).into_iter().enumerate() {
            let m = [1usize, 3, 1, 2][case % 4];
            if case % 7 == 0 {
                w.channels = 70;
            }
            let n = [1usize, 3][case % 2];
            let oc = w.channels * m;
            let kernel = data(w.taps() * oc, case);
            let bias = data(oc, case + 1);
            let x = data(n * w.in_len(), case + 2);
            let len = n * w.positions() * oc;
            let scale = reference(&w, m, &abs(&kernel), Some(&abs(&bias)), &abs(&x));
            let (kt, bt, xt) = (cast::<T>(&kernel), cast::<T>(&bias), cast::<T>(&x));
            for with_bias in [false, true] {
                let want_z = reference(&w, m, &kernel, with_bias.then_some(&bias[..]), &x);
                for act in [Activation::Linear, Activation::Relu, Activation::Tanh] {
                    let mut want = vec![0.0; len];
                    activations::forward(act, &want_z, &mut want, oc);
                    for keep_z in [false, true] {
                        let what = format!("{w:?} m={m} n={n} bias={with_bias} {act:?} z={keep_z}");
                        let (mut out, mut z) = (vec![T::of_f64(7.0); len], vec![T::of_f64(7.0); len]);
                        let b = with_bias.then_some(&bt[..]);
                        forward(&w, m, &kt, b, act, &xt, keep_z.then_some(&mut z[..]), &mut out);
                        assert_close(&what, &wide(&out), &want, &scale, tol);
                        if keep_z {
                            assert_close(&what, &wide(&z), &want_z, &scale, tol);
                        }
                    }
                }
            }
            let dz = data(len, case + 3);
            let [dk, db, dx] = reference_backward(&w, m, &kernel, &x, &dz);
            let [sk, sb, sx] = reference_backward(&w, m, &abs(&kernel), &abs(&x), &abs(&dz));
            let start = data(x.len(), case + 4);
            let (mut gk, mut gb, mut gx) =
                (vec![T::of_f64(7.0); dk.len()], vec![T::of_f64(7.0); oc], cast::<T>(&start));
            backward(&w, m, &kt, &xt, &cast(&dz), &mut gk, Some(&mut gb), Some(&mut gx));
            let what = format!("backward {w:?} m={m} n={n}");
            assert_close(&what, &wide(&gk), &dk, &sk, tol);
            assert_close(&what, &wide(&gb), &db, &sb, tol);
            assert_close(&what, &minus(&wide(&gx), &start), &dx, &sx, tol);
            let mut gk2 = vec![T::of_f64(7.0); dk.len()];
            backward(&w, m, &kt, &xt, &cast(&dz), &mut gk2, None, None);
            assert_close(&what, &wide(&gk2), &dk, &sk, tol);
        }
    }

    #[test]
    fn f64_matches_reference() {
        against_reference::<f64>(1e-12);
    }

    #[test]
    fn f32_matches_reference() {
        against_reference::<f32>(1e-5);
    }

    /// The gradients against central differences of `L = Σ r·z` on every
    /// third geometry, multipliers 1 and 2.
    #[test]
    fn backward_matches_finite_differences() {
        for (case, w) in windows(false).into_iter().enumerate().filter(|(case, _)| case % 3 == 0) {
            let (m, n) = (1 + case % 2, 2);
            let oc = w.channels * m;
            let (nk, nx) = (w.taps() * oc, n * w.in_len());
            let mut theta: Vec<f64> = [data(nk, case), data(oc, case + 1), data(nx, case + 2)].concat();
            let len = n * w.positions() * oc;
            let r = data(len, case + 3);
            let loss = |theta: &[f64]| {
                let (k, rest) = theta.split_at(nk);
                let (b, x) = rest.split_at(oc);
                let (mut z, mut out) = (vec![0.0; len], vec![0.0; len]);
                forward(&w, m, k, Some(b), Activation::Linear, x, Some(&mut z), &mut out);
                z.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
            };
            let start = data(nx, case + 5);
            let (mut gk, mut gb, mut gx) = (vec![7.0; nk], vec![7.0; oc], start.clone());
            backward(&w, m, &theta[..nk], &theta[nk + oc..], &r, &mut gk, Some(&mut gb), Some(&mut gx));
            let grad = [gk, gb, minus(&gx, &start)].concat();
            let parts = [(0, nk), (nk, oc), (nk + oc, nx)];
            finite_differences(&format!("{w:?} m={m}"), &mut theta, &parts, &grad, loss);
        }
    }
}
