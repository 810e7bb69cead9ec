//! Convolutions (Keras's Conv1D and Conv2D) as matrix products: a 1×1
//! convolution with stride 1 and no padding multiplies the kernel by the
//! input as it is stored (in NHWC each position's channels are a column),
//! any other copies each output position's window into a column of `cols`
//! (im2col) first. The kernel, Keras's `[k_h, k_w, in_c, filters]`
//! row-major, is the column-major `filters × (k_h·k_w·in_c)` matrix the
//! product wants.

use super::window::Window;
use crate::activations::{self, Activation};
use crate::kernels::gemm::{gemm_nn, gemm_nt, gemm_tn, Start};
use crate::Scalar;

/// Whether the kernel multiplies the input in place: a 1×1 window that
/// visits every input position once, in order.
#[inline]
const fn reads_input(w: &Window) -> bool {
    w.k_h == 1
        && w.k_w == 1
        && w.pad_top == 0
        && w.pad_left == 0
        && w.out_h == w.in_h
        && w.out_w == w.in_w
        && (w.stride_h == 1 || w.out_h == 1)
        && (w.stride_w == 1 || w.out_w == 1)
}

/// Scalars per sample of the `cols` buffer [`forward`] needs: 0 for a 1×1
/// window with stride 1 and no padding (the product reads the input
/// itself), else `positions · k_h·k_w·channels` (one column per output
/// position holding its window).
pub const fn cols_len(w: &Window) -> usize {
    if reads_input(w) {
        0
    } else {
        w.positions() * w.taps() * w.channels
    }
}

/// `out = act(conv(x, kernel) + bias)` with `filters` output channels, for
/// every sample of `x`. `cols` holds [`cols_len`]`·n` scalars for `n`
/// samples; what it holds on return is what [`backward`] needs. With `z`
/// (training), `z` gets the pre-activation and `out` the activation;
/// without, ReLU and linear are fused into the product's store and other
/// activations applied in place.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Scalar>(
    w: &Window,
    filters: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    act: Activation,
    x: &[T],
    cols: &mut [T],
    z: Option<&mut [T]>,
    out: &mut [T],
) {
    let columns = w.positions() * w.samples(x.len());
    let len = columns * filters;
    if len == 0 {
        return;
    }
    let depth = w.taps() * w.channels;
    let b: &[T] = if reads_input(w) {
        x
    } else {
        let cols = &mut cols[..columns * depth];
        im2col(w, x, cols);
        cols
    };
    let start = bias.map_or(Start::Zero, Start::Bias);
    match z {
        Some(z) => {
            let z = &mut z[..len];
            gemm_nn(filters, columns, depth, kernel, b, z, start, false);
            activations::forward(act, z, &mut out[..len], filters);
        }
        None => {
            let out = &mut out[..len];
            let relu = act == Activation::Relu;
            gemm_nn(filters, columns, depth, kernel, b, out, start, relu);
            if !relu {
                activations::forward_in_place(act, out, filters);
            }
        }
    }
}

/// Backward of [`forward`]'s pre-activation given `dz` (`dL/dz`): writes
/// `dkernel` (and `dbias`) and, when `dx` is given, adds the input
/// gradient into it. `cols` is what `forward` left; it is overwritten.
///
/// # Panics
/// If a slice is shorter than the geometry needs.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Scalar>(
    w: &Window,
    filters: usize,
    kernel: &[T],
    x: &[T],
    cols: &mut [T],
    dz: &[T],
    dkernel: &mut [T],
    dbias: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) {
    let columns = w.positions() * w.samples(x.len());
    let depth = w.taps() * w.channels;
    let dz = &dz[..columns * filters];
    let direct = reads_input(w);
    let b: &[T] = if direct { x } else { &cols[..columns * depth] };
    // dK = dZ · colsᵀ (a sum over every position of every sample).
    gemm_nt(filters, depth, columns, dz, b, &mut dkernel[..filters * depth], Start::Zero);
    if let Some(db) = dbias {
        super::column_sum(dz, &mut db[..filters]);
    }
    if let Some(dx) = dx {
        if direct {
            gemm_tn(depth, columns, filters, kernel, dz, dx, Start::Keep);
        } else {
            // dcols = Kᵀ · dZ, over the columns `dK` no longer needs, then
            // each column's window added back where it came from.
            let dcols = &mut cols[..columns * depth];
            gemm_tn(depth, columns, filters, kernel, dz, dcols, Start::Zero);
            col2im_add(w, dcols, dx);
        }
    }
}

/// Copies each output position's window of each sample into a column of
/// `cols` (taps in Keras's kernel order, `(i, j, channel)`), zeros where
/// the window lies over padding.
fn im2col<T: Scalar>(w: &Window, x: &[T], cols: &mut [T]) {
    let c = w.channels;
    let row_len = w.k_w * c;
    let depth = w.k_h * row_len;
    let mut columns = cols.chunks_exact_mut(depth);
    crate::cpu::wide(|| {
        for sample in x.chunks_exact(w.in_len()) {
            for oh in 0..w.out_h {
                let (ilo, ihi) = w.rows_of(oh);
                for ow in 0..w.out_w {
                    let (jlo, jhi) = w.cols_of(ow);
                    let Some(col) = columns.next() else { return };
                    for (i, dst) in col.chunks_exact_mut(row_len).enumerate() {
                        if i < ilo || i >= ihi {
                            dst.fill(T::zero());
                            continue;
                        }
                        let line = &sample[w.in_row(oh, i) * w.in_w * c..][..w.in_w * c];
                        dst[..jlo * c].fill(T::zero());
                        dst[jhi * c..].fill(T::zero());
                        if w.dilation_w == 1 {
                            // The taps of a row are adjacent in the input.
                            let from = w.in_col(ow, jlo) * c;
                            copy(&mut dst[jlo * c..jhi * c], &line[from..from + (jhi - jlo) * c]);
                        } else {
                            for j in jlo..jhi {
                                let from = w.in_col(ow, j) * c;
                                copy(&mut dst[j * c..j * c + c], &line[from..from + c]);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// Adds each column of `dcols` back into the input positions its window
/// came from (the transpose of [`im2col`]).
fn col2im_add<T: Scalar>(w: &Window, dcols: &[T], dx: &mut [T]) {
    let c = w.channels;
    let row_len = w.k_w * c;
    let depth = w.k_h * row_len;
    let mut columns = dcols.chunks_exact(depth);
    crate::cpu::wide(|| {
        for sample in dx.chunks_exact_mut(w.in_len()) {
            for oh in 0..w.out_h {
                let (ilo, ihi) = w.rows_of(oh);
                for ow in 0..w.out_w {
                    let (jlo, jhi) = w.cols_of(ow);
                    let Some(col) = columns.next() else { return };
                    for i in ilo..ihi {
                        let src = &col[i * row_len..][..row_len];
                        let line = &mut sample[w.in_row(oh, i) * w.in_w * c..][..w.in_w * c];
                        if w.dilation_w == 1 {
                            let from = w.in_col(ow, jlo) * c;
                            add(&mut line[from..from + (jhi - jlo) * c], &src[jlo * c..jhi * c]);
                        } else {
                            for j in jlo..jhi {
                                let from = w.in_col(ow, j) * c;
                                add(&mut line[from..from + c], &src[j * c..j * c + c]);
                            }
                        }
                    }
                }
            }
        }
    });
}

/// `dst = src`.
#[inline(always)]
fn copy<T: Scalar>(dst: &mut [T], src: &[T]) {
    dst.copy_from_slice(src);
}

/// `dst += src`.
#[inline(always)]
fn add<T: Scalar>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

#[cfg(test)]
mod tests {
    use super::super::window::grid::{abs, assert_close, cast, data, finite_differences, minus, wide, windows};
    use super::*;

    /// The convolution's pre-activation by its definition, in f64.
    fn reference(w: &Window, filters: usize, kernel: &[f64], bias: Option<&[f64]>, x: &[f64]) -> Vec<f64> {
        let n = x.len() / w.in_len();
        let mut z = vec![0.0; n * w.positions() * filters];
        for s in 0..n {
            for oh in 0..w.out_h {
                for ow in 0..w.out_w {
                    for f in 0..filters {
                        let mut sum = bias.map_or(0.0, |b| b[f]);
                        for i in 0..w.k_h {
                            for j in 0..w.k_w {
                                let r = (oh * w.stride_h + i * w.dilation_h) as isize - w.pad_top as isize;
                                let q = (ow * w.stride_w + j * w.dilation_w) as isize - w.pad_left as isize;
                                if r < 0 || q < 0 || r as usize >= w.in_h || q as usize >= w.in_w {
                                    continue;
                                }
                                for ci in 0..w.channels {
                                    let xv = x[s * w.in_len() + ((r as usize) * w.in_w + q as usize) * w.channels + ci];
                                    sum += xv * kernel[((i * w.k_w + j) * w.channels + ci) * filters + f];
                                }
                            }
                        }
                        z[((s * w.out_h + oh) * w.out_w + ow) * filters + f] = sum;
                    }
                }
            }
        }
        z
    }

    /// The gradients of `Σ dz·z` by the definition (the transposed loops),
    /// in f64: (dkernel, dbias, dx).
    fn reference_backward(
        w: &Window,
        filters: usize,
        kernel: &[f64],
        x: &[f64],
        dz: &[f64],
    ) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let n = x.len() / w.in_len();
        let (mut dk, mut db, mut dx) = (vec![0.0; kernel.len()], vec![0.0; filters], vec![0.0; x.len()]);
        for s in 0..n {
            for oh in 0..w.out_h {
                for ow in 0..w.out_w {
                    for f in 0..filters {
                        let g = dz[((s * w.out_h + oh) * w.out_w + ow) * filters + f];
                        db[f] += g;
                        for i in 0..w.k_h {
                            for j in 0..w.k_w {
                                let r = (oh * w.stride_h + i * w.dilation_h) as isize - w.pad_top as isize;
                                let q = (ow * w.stride_w + j * w.dilation_w) as isize - w.pad_left as isize;
                                if r < 0 || q < 0 || r as usize >= w.in_h || q as usize >= w.in_w {
                                    continue;
                                }
                                for ci in 0..w.channels {
                                    let xi = s * w.in_len() + ((r as usize) * w.in_w + q as usize) * w.channels + ci;
                                    let ki = ((i * w.k_w + j) * w.channels + ci) * filters + f;
                                    dk[ki] += g * x[xi];
                                    dx[xi] += g * kernel[ki];
                                }
                            }
                        }
                    }
                }
            }
        }
        (dk, db, dx)
    }

    /// Forward (every activation path, with and without bias and `z`) and
    /// backward of the kernel in `T` against the f64 definitions, over the
    /// whole grid of geometries.
    fn against_reference<T: Scalar>(tol: f64) {
        for (case, w) in windows(true).into_iter().enumerate() {
            let filters = [3usize, 17, 1, 8][case % 4];
            let n = [1usize, 3][case % 2];
            let depth = w.taps() * w.channels;
            let kernel = data(depth * filters, case);
            let bias = data(filters, case + 1);
            let x = data(n * w.in_len(), case + 2);
            let len = n * w.positions() * filters;
            let scale = reference(&w, filters, &abs(&kernel), Some(&abs(&bias)), &abs(&x));
            let (kt, bt, xt) = (cast::<T>(&kernel), cast::<T>(&bias), cast::<T>(&x));
            let mut cols = vec![T::of_f64(f64::NAN); cols_len(&w) * n];
            for with_bias in [false, true] {
                let b = with_bias.then_some(&bias[..]);
                let want_z = reference(&w, filters, &kernel, b, &x);
                for act in [Activation::Linear, Activation::Relu, Activation::Tanh] {
                    let mut want = vec![0.0; len];
                    activations::forward(act, &want_z, &mut want, filters);
                    for keep_z in [false, true] {
                        let what = format!("{w:?} filters={filters} n={n} bias={with_bias} {act:?} z={keep_z}");
                        let mut out = vec![T::of_f64(7.0); len];
                        let mut z = vec![T::of_f64(7.0); len];
                        let bt = with_bias.then_some(&bt[..]);
                        let zs = keep_z.then_some(&mut z[..]);
                        forward(&w, filters, &kt, bt, act, &xt, &mut cols, zs, &mut out);
                        assert_close(&what, &wide(&out), &want, &scale, tol);
                        if keep_z {
                            assert_close(&what, &wide(&z), &want_z, &scale, tol);
                        }
                    }
                }
            }
            // Backward after a forward that left `cols` as training does.
            let dz = data(len, case + 3);
            let (dk, db, dx) = reference_backward(&w, filters, &kernel, &x, &dz);
            let (sk, sb, sx) = reference_backward(&w, filters, &abs(&kernel), &abs(&x), &abs(&dz));
            let start = data(x.len(), case + 4);
            let mut out = vec![T::zero(); len];
            let mut z = vec![T::zero(); len];
            forward(&w, filters, &kt, Some(&bt), Activation::Tanh, &xt, &mut cols, Some(&mut z), &mut out);
            let mut gk = vec![T::of_f64(7.0); dk.len()];
            let mut gb = vec![T::of_f64(7.0); filters];
            let mut gx = cast::<T>(&start);
            backward(&w, filters, &kt, &xt, &mut cols, &cast(&dz), &mut gk, Some(&mut gb), Some(&mut gx));
            let what = format!("backward {w:?} filters={filters} n={n}");
            assert_close(&what, &wide(&gk), &dk, &sk, tol);
            assert_close(&what, &wide(&gb), &db, &sb, tol);
            assert_close(&what, &minus(&wide(&gx), &start), &dx, &sx, tol);
            // Without the input gradient and bias.
            let mut gk2 = vec![T::of_f64(7.0); dk.len()];
            forward(&w, filters, &kt, None, Activation::Relu, &xt, &mut cols, Some(&mut z), &mut out);
            backward(&w, filters, &kt, &xt, &mut cols, &cast(&dz), &mut gk2, None, None);
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

    /// The gradients against central differences of `L = Σ r·z` (`r`
    /// fixed), on every third geometry of the grid, with few filters.
    #[test]
    fn backward_matches_finite_differences() {
        for (case, w) in windows(true).into_iter().enumerate().filter(|(case, _)| case % 3 == 0) {
            let (filters, n) = (2, 2);
            let (nk, nx) = (w.taps() * w.channels * filters, n * w.in_len());
            // Kernel, bias and input end to end.
            let mut theta: Vec<f64> = [data(nk, case), data(filters, case + 1), data(nx, case + 2)].concat();
            let len = n * w.positions() * filters;
            let r = data(len, case + 3);
            let mut cols = vec![0.0; cols_len(&w) * n];
            let loss = |theta: &[f64], cols: &mut [f64]| {
                let (k, rest) = theta.split_at(nk);
                let (b, x) = rest.split_at(filters);
                let (mut z, mut out) = (vec![0.0; len], vec![0.0; len]);
                forward(&w, filters, k, Some(b), Activation::Linear, x, cols, Some(&mut z), &mut out);
                z.iter().zip(&r).map(|(a, b)| a * b).sum::<f64>()
            };
            loss(&theta, &mut cols);
            let (k, rest) = theta.split_at(nk);
            let start = data(nx, case + 5);
            let (mut gk, mut gb, mut gx) = (vec![7.0; nk], vec![7.0; filters], start.clone());
            backward(&w, filters, k, &rest[filters..], &mut cols, &r, &mut gk, Some(&mut gb), Some(&mut gx));
            let grad = [gk, gb, minus(&gx, &start)].concat();
            let parts = [(0, nk), (nk, filters), (nk + filters, nx)];
            finite_differences(&format!("{w:?}"), &mut theta, &parts, &grad, |t| loss(t, &mut cols));
        }
    }
}
