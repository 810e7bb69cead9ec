//! Convolutions (Keras's Conv1D and Conv2D) as matrix products: a 1×1
//! convolution with stride 1 and no padding multiplies the kernel by the
//! input as it is stored (in NHWC each position's channels are a column),
//! any other copies each output position's window into a column of `cols`
//! (im2col) first. The kernel, Keras's `[k_h, k_w, in_c, filters]`
//! row-major, is the column-major `filters × (k_h·k_w·in_c)` matrix the
//! product wants. A small kernel with many filters is instead convolved
//! directly on the SIMD loops (see `DIRECT_KERNEL_BYTES`); the backward
//! pass then does the im2col.
//!
//! When windows reach into padding, each sample is first copied into a
//! zero-bordered block after the columns in `cols`, so the copy of each
//! window row is one unconditional run: the 10×4 single-channel first layer
//! of the keyword-spotting model has a thousand runs of four values per
//! sample, and deciding per run what was padding cost as much as its
//! matrix product.

use super::simd::WindowSimd;
use super::window::Window;
use crate::activations::{self, Activation};
use crate::kernels::gemm::{gemm_nn, gemm_nn_scaled, gemm_nt, gemm_tn, Start};
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

/// Along one axis: the extent of the input (with its padding) that the
/// windows read.
const fn span(out: usize, stride: usize, k: usize, dilation: usize) -> usize {
    if out == 0 || k == 0 {
        0
    } else {
        (out - 1) * stride + (k - 1) * dilation + 1
    }
}

/// Rows and columns of a sample with its padding, as far as windows read;
/// (0, 0) when no window reads padding, so none is needed.
const fn padded(w: &Window) -> (usize, usize) {
    let rows = span(w.out_h, w.stride_h, w.k_h, w.dilation_h);
    let cols = span(w.out_w, w.stride_w, w.k_w, w.dilation_w);
    if w.pad_top == 0 && w.pad_left == 0 && rows <= w.in_h && cols <= w.in_w {
        (0, 0)
    } else {
        (rows, cols)
    }
}

/// The largest kernel, in bytes, that the forward pass convolves directly
/// (by output position, the sums of up to eight vectors of filters in
/// registers for up to eight positions with the same real taps, each input
/// value broadcast against its kernel row) rather than through im2col and a
/// matrix product: it reads the whole kernel for every group of positions,
/// which keeps the multiply-adds busy while the kernel stays in the L1
/// cache. Measured at batch 1 on Zen 4, AVX-512 (AVX2): the keyword-spotting
/// model's first layer (10×4, one channel, 64 filters, a 10 KB kernel) 5.3
/// (6.9) µs against 9.5 (9.8) µs; a 3×3 layer of 7 channels to 64 filters
/// over 25×5 (16 KB) 8.0 (9.9) against 12.1 (11.7) µs.
const DIRECT_KERNEL_BYTES: usize = 16 * 1024;

/// Whether [`forward`] convolves directly (see [`DIRECT_KERNEL_BYTES`]):
/// with the SIMD loops, a window that is not the plain 1×1 product, a
/// kernel that fits and whole AVX2 vectors of filters. Fewer filters take
/// more positions at once, so at least eight sums are in flight (32 `f32`
/// filters measured 2.1× the speed of im2col and the product with AVX-512,
/// 2.0× with AVX2; with one position at a time, 0.69×). Then `cols` is
/// left for [`backward`] to fill.
fn direct<T: Scalar>(w: &Window, filters: usize) -> bool {
    let lanes = <T as WindowSimd>::LANES;
    super::simd::simd()
        && !reads_input(w)
        && filters >= lanes
        && filters.is_multiple_of(lanes)
        && w.taps() * w.channels * filters * size_of::<T>() <= DIRECT_KERNEL_BYTES
}

/// Scalars per sample of the `cols` buffer [`forward`] needs: 0 for a 1×1
/// window with stride 1 and no padding (the product reads the input
/// itself); else `positions·k_h·k_w·channels` (a column per output position
/// holding its window), plus, when windows reach into padding, the
/// padded sample (`rows·cols·channels`, `rows = (out_h−1)·stride_h +
/// (k_h−1)·dilation_h + 1` and likewise `cols`).
pub const fn cols_len(w: &Window) -> usize {
    if reads_input(w) {
        0
    } else {
        let (rows, cols) = padded(w);
        w.positions() * w.taps() * w.channels + rows * cols * w.channels
    }
}

/// `out = act(conv(x, kernel) + bias)` with `filters` output channels, for
/// every sample of `x`. `cols` holds [`cols_len`]`·n` scalars for `n`
/// samples; what it holds on return is what [`backward`] needs (nothing it
/// reads, when the convolution was direct). With `z`
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
    let len = w.positions() * w.samples(x.len()) * filters;
    if len == 0 {
        return;
    }
    let direct = direct::<T>(w, filters);
    match z {
        Some(z) => {
            let z = &mut z[..len];
            affine(w, filters, kernel, bias, None, x, cols, z, false, direct);
            activations::forward(act, z, &mut out[..len], filters);
        }
        None => {
            let out = &mut out[..len];
            let relu = act == Activation::Relu;
            affine(w, filters, kernel, bias, None, x, cols, out, relu, direct);
            if !relu {
                activations::forward_in_place(act, out, filters);
            }
        }
    }
}

/// The one-sample inference pass of generated code: `out = act(conv(x,
/// kernel) + bias)` for one sample or, with `scale`, `out = act(scale ⊙
/// conv(x, kernel) + bias)`, the batch normalization after the layer
/// applied in the store (per filter; its shift, with the layer's bias in
/// it, given as `bias`: see [`super::normalization::batch_norm_scale_shift`]),
/// so the kernel is read as it is rather than folded into a copy on every
/// call. The `cols` buffer is a stack array of `COLS` scalars
/// ([`cols_len`]), made only when the product needs it: the direct loop and
/// the 1×1 product read none, and zeroing one for them cost as much as
/// their smaller layers.
///
/// # Panics
/// If `x` holds more than one sample, a slice is shorter than the geometry
/// needs, or `scale` comes without `bias`.
#[allow(clippy::too_many_arguments)]
pub fn forward1<T: Scalar, const COLS: usize>(
    w: &Window,
    filters: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    scale: Option<&[T]>,
    act: Activation,
    x: &[T],
    out: &mut [T],
) {
    assert!(w.samples(x.len()) <= 1 && COLS >= cols_len(w), "conv::forward1: one sample, with its columns");
    assert!(scale.is_none() || bias.is_some(), "conv::forward1: a scale comes with its shift, as the bias");
    let len = w.positions() * w.samples(x.len()) * filters;
    if len == 0 {
        return;
    }
    let out = &mut out[..len];
    let relu = act == Activation::Relu;
    let direct = direct::<T>(w, filters);
    if direct || reads_input(w) {
        affine(w, filters, kernel, bias, scale, x, &mut [], out, relu, direct);
    } else {
        let mut cols = [T::zero(); COLS];
        affine(w, filters, kernel, bias, scale, x, &mut cols, out, relu, direct);
    }
    if !relu {
        activations::forward_in_place(act, out, filters);
    }
}

/// [`forward`] without an activation, through im2col and the matrix
/// product even where `forward` would convolve directly: the benches'
/// comparison. Not for generated code ([`backward`] expects `cols` as
/// `forward` leaves it).
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub fn forward_by_product<T: Scalar>(
    w: &Window,
    filters: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    relu: bool,
    x: &[T],
    cols: &mut [T],
    out: &mut [T],
) {
    let len = w.positions() * w.samples(x.len()) * filters;
    if len > 0 {
        affine(w, filters, kernel, bias, None, x, cols, &mut out[..len], relu, false);
    }
}

/// `dst = conv(x, kernel) + bias` (with `scale`, `scale ⊙ conv(x,
/// kernel) + bias`), then ReLU when `relu`: directly when `direct` (what
/// [`direct`] says), else through im2col (into `cols`, unless the product
/// reads the input itself) and a matrix product.
#[allow(clippy::too_many_arguments)]
fn affine<T: Scalar>(
    w: &Window,
    filters: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    scale: Option<&[T]>,
    x: &[T],
    cols: &mut [T],
    dst: &mut [T],
    relu: bool,
    direct: bool,
) {
    let columns = w.positions() * w.samples(x.len());
    let x = &x[..w.samples(x.len()) * w.in_len()];
    if direct {
        let floor = if relu { T::zero() } else { T::of_f64(f64::NEG_INFINITY) };
        if T::conv_direct(w, filters, x, kernel, bias, scale, dst, floor) {
            return;
        }
    }
    let depth = w.taps() * w.channels;
    let b: &[T] = if reads_input(w) {
        x
    } else {
        let (rows, padded_cols) = padded(w);
        let (cols, scratch) = cols.split_at_mut(columns * depth);
        im2col(w, x, cols, &mut scratch[..rows * padded_cols * w.channels]);
        cols
    };
    match scale {
        Some(scale) => {
            let shift = bias.expect("conv: a scale comes with its shift, as the bias");
            gemm_nn_scaled(filters, columns, depth, kernel, b, dst, scale, shift, relu)
        }
        None => gemm_nn(filters, columns, depth, kernel, b, dst, bias.map_or(Start::Zero, Start::Bias), relu),
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
    if columns == 0 {
        // No positions: zero gradients (a product of depth 0 may leave its
        // output untouched).
        dkernel[..filters * depth].fill(T::zero());
        if let Some(db) = dbias {
            db[..filters].fill(T::zero());
        }
        return;
    }
    let in_place = reads_input(w);
    if direct::<T>(w, filters) {
        // The forward pass convolved directly and left `cols` unfilled.
        let (rows, padded_cols) = padded(w);
        let (c, scratch) = cols.split_at_mut(columns * depth);
        let x = &x[..w.samples(x.len()) * w.in_len()];
        im2col(w, x, c, &mut scratch[..rows * padded_cols * w.channels]);
    }
    let b: &[T] = if in_place { x } else { &cols[..columns * depth] };
    // dK = dZ · colsᵀ (a sum over every position of every sample).
    gemm_nt(filters, depth, columns, dz, b, &mut dkernel[..filters * depth], Start::Zero);
    if let Some(db) = dbias {
        super::column_sum(dz, &mut db[..filters]);
    }
    if let Some(dx) = dx {
        if in_place {
            gemm_tn(depth, columns, filters, kernel, dz, dx, Start::Keep);
        } else {
            // dcols = Kᵀ · dZ, over the columns `dK` no longer needs, then
            // each column's window added back where it came from.
            let (rows, padded_cols) = padded(w);
            let (dcols, scratch) = cols.split_at_mut(columns * depth);
            gemm_tn(depth, columns, filters, kernel, dz, dcols, Start::Zero);
            col2im_add(w, dcols, dx, &mut scratch[..rows * padded_cols * w.channels]);
        }
    }
}

/// Copies each output position's window of each sample into a column of
/// `cols` (taps in Keras's kernel order, `(i, j, channel)`), reading from
/// the sample copied into `scratch` with its padding when that is not
/// empty.
fn im2col<T: Scalar>(w: &Window, x: &[T], cols: &mut [T], scratch: &mut [T]) {
    let c = w.channels;
    let run = w.k_w * c;
    let mut columns = cols.chunks_exact_mut(w.k_h * run);
    crate::cpu::wide(
        #[inline(always)]
        || {
            for sample in x.chunks_exact(w.in_len()) {
                // The windows' source and its row length; padding is built in.
                let (src, line) = if scratch.is_empty() {
                    (sample, w.in_w * c)
                } else {
                    pad(w, sample, scratch);
                    (&*scratch, padded(w).1 * c)
                };
                for oh in 0..w.out_h {
                    for ow in 0..w.out_w {
                        let Some(col) = columns.next() else { return };
                        let corner = oh * w.stride_h * line + ow * w.stride_w * c;
                        for (i, dst) in col.chunks_exact_mut(run).enumerate() {
                            let from = corner + i * w.dilation_h * line;
                            if w.dilation_w == 1 {
                                // The taps of a row are adjacent.
                                copy(dst, &src[from..from + run]);
                            } else {
                                for (j, d) in dst.chunks_exact_mut(c).enumerate() {
                                    let at = from + j * w.dilation_w * c;
                                    copy(d, &src[at..at + c]);
                                }
                            }
                        }
                    }
                }
            }
        },
    );
}

/// Copies `sample` into `scratch` with its padding: the rows and columns
/// the windows read ([`padded`]), zeros outside the input.
fn pad<T: Scalar>(w: &Window, sample: &[T], scratch: &mut [T]) {
    let c = w.channels;
    let (_, cols) = padded(w);
    let row = w.in_w * c;
    // The columns of a padded row that hold input: `left..right`.
    let left = (w.pad_left * c).min(cols * c);
    let right = ((w.pad_left + w.in_w) * c).min(cols * c);
    for (r, dst) in scratch.chunks_exact_mut(cols * c).enumerate() {
        match r.checked_sub(w.pad_top).filter(|&ir| ir < w.in_h) {
            Some(ir) => {
                dst[..left].fill(T::zero());
                copy(&mut dst[left..right], &sample[ir * row..ir * row + right - left]);
                dst[right..].fill(T::zero());
            }
            None => dst.fill(T::zero()),
        }
    }
}

/// Adds each column of `dcols` back into the input positions its window
/// came from (the transpose of [`im2col`]), through `scratch` (the padded
/// sample's gradient) when that is not empty.
fn col2im_add<T: Scalar>(w: &Window, dcols: &[T], dx: &mut [T], scratch: &mut [T]) {
    let c = w.channels;
    let run = w.k_w * c;
    let mut columns = dcols.chunks_exact(w.k_h * run);
    let (_, padded_cols) = padded(w);
    crate::cpu::wide(
        #[inline(always)]
        || {
            for sample in dx.chunks_exact_mut(w.in_len()) {
                let (dst, line) = if scratch.is_empty() {
                    (&mut *sample, w.in_w * c)
                } else {
                    scratch.fill(T::zero());
                    (&mut *scratch, padded_cols * c)
                };
                for oh in 0..w.out_h {
                    for ow in 0..w.out_w {
                        let Some(col) = columns.next() else { return };
                        let corner = oh * w.stride_h * line + ow * w.stride_w * c;
                        for (i, src) in col.chunks_exact(run).enumerate() {
                            let from = corner + i * w.dilation_h * line;
                            if w.dilation_w == 1 {
                                add(&mut dst[from..from + run], src);
                            } else {
                                for (j, s) in src.chunks_exact(c).enumerate() {
                                    let at = from + j * w.dilation_w * c;
                                    add(&mut dst[at..at + c], s);
                                }
                            }
                        }
                    }
                }
                if !scratch.is_empty() {
                    unpad_add(w, scratch, sample);
                }
            }
        },
    );
}

/// `sample += ` the input part of the padded gradient `scratch`.
#[inline(always)]
fn unpad_add<T: Scalar>(w: &Window, scratch: &[T], sample: &mut [T]) {
    let c = w.channels;
    let (_, cols) = padded(w);
    let row = w.in_w * c;
    let left = (w.pad_left * c).min(cols * c);
    let right = ((w.pad_left + w.in_w) * c).min(cols * c);
    for (r, src) in scratch.chunks_exact(cols * c).enumerate() {
        if let Some(ir) = r.checked_sub(w.pad_top).filter(|&ir| ir < w.in_h) {
            add(&mut sample[ir * row..ir * row + right - left], &src[left..right]);
        }
    }
}

/// `dst = src`, runs of up to 16 values as at most two fixed-size moves
/// (overlapping when the length is not one of theirs) rather than a call
/// to `memcpy`: a window's row is often a few values, copied for every
/// output position.
#[inline(always)]
fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    macro_rules! two {
        ($k:literal) => {{
            dst[..$k].copy_from_slice(&src[..$k]);
            dst[n - $k..].copy_from_slice(&src[n - $k..]);
        }};
    }
    match n {
        0 => {}
        1 => dst[0] = src[0],
        2..=3 => two!(2),
        4..=7 => two!(4),
        8..=16 => two!(8),
        _ => dst.copy_from_slice(src),
    }
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
            // Whole vectors of filters take the direct loop where the kernel
            // is small: every pass width and group size of AVX2 and AVX-512
            // (88 and 8 on AVX2 either way).
            let filters = [3usize, 17, 1, 64, 88, 96, 8, 144, 16, 32][case % 10];
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

    /// The one-sample pass, plain and with a batch normalization's scale
    /// and shift in the store, against the definition over the grid (the
    /// direct loop, im2col and the product, and the 1×1 product).
    fn forward1_against_reference<T: Scalar>(tol: f64) {
        for (case, w) in windows(true).into_iter().enumerate() {
            let filters = [3usize, 64, 17, 96, 8, 144][case % 6];
            let depth = w.taps() * w.channels;
            let (kernel, x) = (data(depth * filters, case), data(w.in_len(), case + 2));
            let (scale, shift) = (data(filters, case + 3), data(filters, case + 4));
            let z = reference(&w, filters, &kernel, None, &x);
            let bound = reference(&w, filters, &abs(&kernel), None, &abs(&x));
            let (kt, xt, st, tt) = (cast::<T>(&kernel), cast::<T>(&x), cast::<T>(&scale), cast::<T>(&shift));
            for scaled in [false, true] {
                let s = |i: usize| if scaled { scale[i % filters] } else { 1.0 };
                let want_z: Vec<f64> = z.iter().enumerate().map(|(i, v)| v * s(i) + shift[i % filters]).collect();
                let bound: Vec<f64> = bound.iter().enumerate().map(|(i, v)| v * s(i).abs() + 1.0).collect();
                for act in [Activation::Linear, Activation::Relu, Activation::Tanh] {
                    let mut want = vec![0.0; z.len()];
                    activations::forward(act, &want_z, &mut want, filters);
                    let mut out = vec![T::of_f64(7.0); z.len()];
                    let st = scaled.then_some(&st[..]);
                    forward1::<T, 32768>(&w, filters, &kt, Some(&tt), st, act, &xt, &mut out);
                    assert_close(
                        &format!("{w:?} filters={filters} scaled={scaled} {act:?}"),
                        &wide(&out),
                        &want,
                        &bound,
                        tol,
                    );
                }
            }
        }
    }

    #[test]
    fn forward1_f32_matches_reference() {
        forward1_against_reference::<f32>(1e-5);
    }

    #[test]
    fn forward1_f64_matches_reference() {
        forward1_against_reference::<f64>(1e-12);
    }

    /// An empty batch writes zero gradients and touches nothing else.
    #[test]
    fn empty_batch() {
        let w = Window::keras((5, 5), 3, (3, 3), (1, 1), (1, 1), super::super::Padding::Same);
        for filters in [4, 64] {
            let kernel = vec![1.0f32; 9 * 3 * filters];
            let (mut dk, mut db) = (vec![7.0f32; kernel.len()], vec![7.0f32; filters]);
            let mut out = [7.0f32; 1];
            forward(&w, filters, &kernel, None, Activation::Relu, &[], &mut [], None, &mut out);
            backward(&w, filters, &kernel, &[], &mut [], &[], &mut dk, Some(&mut db), Some(&mut []));
            assert!(out == [7.0] && dk.iter().chain(&db).all(|&v| v == 0.0));
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
