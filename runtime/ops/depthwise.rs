//! Depthwise convolutions (Keras's DepthwiseConv2D, and 1-D as height 1):
//! each input channel `c` convolved with its own `multiplier` filters into
//! output channels `c·multiplier + m`. Kernel `[k_h, k_w, in_c, multiplier]`
//! row-major, so a tap's weights are a row of `in_c·multiplier` values laid
//! out like an output position's channels.
//!
//! Direct loops, vectorized across contiguous channels: there is no matrix
//! product to hand this to (each channel has its own few taps). With a
//! multiplier of 1 (the usual case) channels go in blocks whose sums stay in
//! registers over a window's taps, and the forward pass convolves four
//! (`GROUP`) output positions at once, so each tap's weights are loaded once
//! for all of them (positions whose windows have the same taps inside the
//! input: those of a rectangle of like positions, such as the interior or
//! one edge); the input gradient gathers input positions the same way.
//! Those blocks run on AVX2+FMA intrinsics where the CPU has them (the
//! `simd` module's, compiled once in this crate), else on the portable loops here,
//! left to the compiler's vectorizer (module `backward` holds the backward
//! pass's loops).

use super::window::Window;
use crate::activations::{self, Activation};
use crate::Scalar;

/// Channels per register block of the portable kernel-gradient loops: 32
/// `f32` or 16 `f64` (eight SSE vectors, the baseline x86-64 target's);
/// what is left goes in blocks a quarter that size, then channel by
/// channel.
const BLOCK_BYTES: usize = 128;

/// Channels per register block of the portable forward and gather loops,
/// for each of their [`GROUP`] positions: two SSE vectors, eight sums in
/// all.
const GROUP_BLOCK_BYTES: usize = 32;

/// Output positions the forward pass convolves at once (and input
/// positions the input gradient gathers at once). Four, matched as such
/// where the groups are formed.
const GROUP: usize = 4;

/// Calls `$f::<$t, W>(args…, c0)` for channel blocks `c0..c0 + W` covering
/// `0..$c`: blocks of `$big`, then of `$small`, then single channels. Each
/// block size is a constant, so its sums are an array the compiler keeps
/// in registers.
macro_rules! in_blocks {
    ($c:expr, $big:ident, $small:ident, $f:ident::<$t:ty $(, $more:tt)*>($($arg:expr),*)) => {{
        let c = $c;
        let mut c0 = 0;
        while c0 + $big <= c {
            $f::<$t, $big $(, $more)*>($($arg,)* c0);
            c0 += $big;
        }
        while c0 + $small <= c {
            $f::<$t, $small $(, $more)*>($($arg,)* c0);
            c0 += $small;
        }
        while c0 < c {
            $f::<$t, 1 $(, $more)*>($($arg,)* c0);
            c0 += 1;
        }
    }};
}

/// Runs `$f::<$t, BIG, SMALL>(args…)` with the block sizes for `$t`:
/// `$bytes` and a quarter of it.
macro_rules! with_block_sizes {
    ($bytes:expr; $f:ident::<$t:ty $(, $more:tt)*>($($arg:expr),*)) => {
        if size_of::<$t>() == 4 {
            $f::<$t, { $bytes / 4 }, { $bytes / 16 } $(, $more)*>($($arg),*)
        } else {
            $f::<$t, { $bytes / 8 }, { $bytes / 32 } $(, $more)*>($($arg),*)
        }
    };
}

mod backward;

use backward::{input_gradient, input_gradient_multiplied, kernel_gradient, kernel_gradient_multiplied};

/// `W` values of `s` from `at`.
#[inline(always)]
fn chunk<T, const W: usize>(s: &[T], at: usize) -> &[T; W] {
    s[at..at + W].try_into().expect("a slice of W values")
}

/// `acc += a · b`, lane by lane.
#[inline(always)]
fn mul_add<T: Scalar, const W: usize>(acc: &mut [T; W], a: &[T; W], b: &[T; W]) {
    for ((s, &x), &y) in acc.iter_mut().zip(a).zip(b) {
        *s += x * y;
    }
}

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

/// The one-sample inference pass of generated code: [`forward`] without
/// `z` or, with `scale`, `out = act(scale ⊙ depthwise(x, kernel) + bias)`:
/// the batch normalization after the layer applied per output channel
/// (its shift, with the layer's bias in it, given as `bias`: see
/// [`super::normalization::batch_norm_scale_shift`]) in the store of the
/// stride-1 loops, else folded into a copy of the kernel (`K` scalars,
/// `taps·channels·multiplier`) first.
///
/// # Panics
/// If `x` holds more than one sample, a slice is shorter than the geometry
/// needs, or `scale` comes without `bias`.
#[allow(clippy::too_many_arguments)]
pub fn forward1<T: Scalar, const K: usize>(
    w: &Window,
    multiplier: usize,
    kernel: &[T],
    bias: Option<&[T]>,
    scale: Option<&[T]>,
    act: Activation,
    x: &[T],
    out: &mut [T],
) {
    assert!(w.samples(x.len()) <= 1, "depthwise::forward1: one sample");
    let Some(scale) = scale else {
        return forward(w, multiplier, kernel, bias, act, x, None, out);
    };
    let shift = bias.expect("depthwise::forward1: a scale comes with its shift, as the bias");
    let oc = w.channels * multiplier;
    let len = w.samples(x.len()) * w.positions() * oc;
    if len == 0 {
        return;
    }
    let out = &mut out[..len];
    let relu = act == Activation::Relu;
    let floor = if relu { T::zero() } else { T::of_f64(f64::NEG_INFINITY) };
    let done = multiplier == 1 && T::depthwise_stride1(w, x, kernel, Some(shift), Some(scale), out, floor);
    if !done {
        let mut folded = [T::zero(); K];
        let folded = &mut folded[..w.taps() * oc];
        for (f, k) in folded.chunks_exact_mut(oc).zip(kernel.chunks_exact(oc)) {
            for ((f, &k), &s) in f.iter_mut().zip(k).zip(scale) {
                *f = k * s;
            }
        }
        return forward(w, multiplier, folded, Some(shift), act, x, None, out);
    }
    if !relu {
        activations::forward_in_place(act, out, oc);
    }
}

/// `out = depthwise(x, kernel) + bias`, then ReLU when `relu`.
fn convolve<T: Scalar>(w: &Window, m: usize, kernel: &[T], bias: Option<&[T]>, x: &[T], out: &mut [T], relu: bool) {
    let oc = w.channels * m;
    let kernel = &kernel[..w.taps() * oc];
    let bias = bias.map(|b| &b[..oc]);
    let x = &x[..w.samples(x.len()) * w.in_len()];
    crate::cpu::wide(
        #[inline(always)]
        || {
            for (sample, dst) in x.chunks_exact(w.in_len()).zip(out.chunks_exact_mut(w.positions() * oc)) {
                if m == 1 {
                    let floor = if relu { T::zero() } else { T::of_f64(f64::NEG_INFINITY) };
                    if !T::depthwise_stride1(w, sample, kernel, bias, None, dst, floor) {
                        by_groups(w, kernel, bias, sample, dst, relu);
                    }
                    continue;
                }
                let mut cols = dst.chunks_exact_mut(oc);
                for oh in 0..w.out_h {
                    for ow in 0..w.out_w {
                        let Some(col) = cols.next() else { return };
                        position_multiplied(w, m, kernel, bias, sample, oh, ow, col, relu);
                    }
                }
            }
        },
    );
}

/// One sample with a multiplier of 1: the output positions split into
/// rectangles whose windows have the same taps inside the input (runs of
/// rows with the same tap rows, by runs of columns with the same tap
/// columns), each convolved [`GROUP`] positions at a time.
#[inline(always)]
fn by_groups<T: Scalar>(w: &Window, kernel: &[T], bias: Option<&[T]>, sample: &[T], dst: &mut [T], relu: bool) {
    let c = w.channels;
    w.like_rectangles(|out_rows, out_cols| {
        let (rows, cols) = (w.rows_of(out_rows.start), w.cols_of(out_cols.start));
        let taps = Taps::of(w, rows, cols);
        // The rectangle's positions in order: (offset of the first real
        // tap in the sample, offset in the output).
        let (x_step, out_step, ow0) = (w.stride_w * c, c, out_cols.start);
        let first = |oh: usize| {
            let x = if taps.rows > 0 && taps.cols > 0 {
                (w.in_row(oh, rows.0) * w.in_w + w.in_col(ow0, cols.0)) * c
            } else {
                0
            };
            (x, (oh * w.out_w + ow0) * c)
        };
        let width = out_cols.len();
        let spots = out_rows.flat_map(|oh| {
            let (x, o) = first(oh);
            (0..width).map(move |k| (x + k * x_step, o + k * out_step))
        });
        in_groups(spots, |group| {
            macro_rules! call {
                ($n:literal, $spots:expr) => {
                    with_block_sizes!(GROUP_BLOCK_BYTES; positions::<T, $n>(w, kernel, bias, sample, &taps, $spots, &mut *dst, relu))
                };
            }
            match *group {
                [a, b, c, d] => call!(4, &[a, b, c, d]),
                [a, b, c] => call!(3, &[a, b, c]),
                [a, b] => call!(2, &[a, b]),
                [a] => call!(1, &[a]),
                _ => {}
            }
        });
    });
}

/// Calls `f` with the items of `spots` [`GROUP`] at a time, then with the
/// fewer that are left (the callers match 1 to 4 items: `GROUP` is 4).
#[inline(always)]
fn in_groups(mut spots: impl Iterator<Item = (usize, usize)>, mut f: impl FnMut(&[(usize, usize)])) {
    loop {
        let mut group = [(0, 0); GROUP];
        let mut filled = 0;
        for (slot, spot) in group.iter_mut().zip(&mut spots) {
            *slot = spot;
            filled += 1;
        }
        if filled > 0 {
            f(&group[..filled]);
        }
        if filled < GROUP {
            return;
        }
    }
}

/// Where the real taps of a window are, relative to its first real tap,
/// as steps (so the loops over them only add), and that tap's offset in
/// the kernel; the same for every position of a rectangle.
struct Taps {
    /// Offset in the kernel of the first real tap's weights (channel 0).
    k: usize,
    /// Real rows and columns of taps.
    rows: usize,
    cols: usize,
    /// Steps in the sample between rows and columns of taps.
    x_row: usize,
    x_col: usize,
    /// Step in the kernel between rows of taps.
    k_row: usize,
}

impl Taps {
    #[inline(always)]
    fn of(w: &Window, (ilo, ihi): (usize, usize), (jlo, jhi): (usize, usize)) -> Taps {
        let c = w.channels;
        Taps {
            k: (ilo * w.k_w + jlo) * c,
            rows: ihi - ilo,
            cols: jhi - jlo,
            x_row: w.dilation_h * w.in_w * c,
            x_col: w.dilation_w * c,
            k_row: w.k_w * c,
        }
    }
}

/// `P` output positions (offsets of their first real taps in the sample,
/// and of their outputs), multiplier 1, in channel blocks.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn positions<T: Scalar, const BIG: usize, const SMALL: usize, const P: usize>(
    w: &Window,
    kernel: &[T],
    bias: Option<&[T]>,
    sample: &[T],
    taps: &Taps,
    spots: &[(usize, usize); P],
    dst: &mut [T],
    relu: bool,
) {
    if taps.rows > 0 && taps.cols > 0 {
        // Where the last tap's last channel is, from the first tap's channel
        // 0: every read of the blocks below is within this, so they are
        // checked once here (a bounds check per read was half the loop's
        // instructions).
        let reach = |row: usize, col: usize| (taps.rows - 1) * row + (taps.cols - 1) * col + w.channels;
        let in_sample = spots.iter().all(|&(x, _)| x + reach(taps.x_row, taps.x_col) <= sample.len());
        assert!(in_sample && taps.k + reach(taps.k_row, w.channels) <= kernel.len(), "depthwise: window outside");
    }
    assert!(spots.iter().all(|&(_, o)| o + w.channels <= dst.len()), "depthwise: output outside");
    let floor = if relu { T::zero() } else { T::of_f64(f64::NEG_INFINITY) };
    let (bases, outs) = (spots.map(|s| s.0), spots.map(|s| s.1));
    let init = bias.map_or(core::ptr::null(), <[T]>::as_ptr);
    // SAFETY: the reads were checked above (no taps: none), the bias holds
    // every channel, and each output's channels lie in `dst`.
    let done = unsafe {
        let k = kernel.as_ptr().add(taps.k.min(kernel.len()));
        let (rows, cols) = (taps.rows, taps.cols);
        let (x_row, x_col) = (taps.x_row as isize, taps.x_col as isize);
        let (src, out, c) = (sample.as_ptr(), dst.as_mut_ptr(), w.channels);
        T::taps_sum::<P>(src, &bases, x_row, x_col, k, taps.k_row, c, rows, cols, c, init, out, &outs, false, floor)
    };
    if !done {
        in_blocks!(
            w.channels,
            BIG,
            SMALL,
            positions_block::<T, P>(w, kernel, bias, sample, taps, spots, &mut *dst, relu)
        );
    }
}

/// Channels `c0..c0 + W` of `P` output positions, multiplier 1: each tap's
/// weights loaded once for all of them. The caller has checked that the
/// taps' reads lie in `sample` and `kernel`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn positions_block<T: Scalar, const W: usize, const P: usize>(
    w: &Window,
    kernel: &[T],
    bias: Option<&[T]>,
    sample: &[T],
    t: &Taps,
    spots: &[(usize, usize); P],
    dst: &mut [T],
    relu: bool,
    c0: usize,
) {
    let start = match bias {
        Some(b) => *chunk::<T, W>(b, c0),
        None => [T::zero(); W],
    };
    let mut acc = [start; P];
    let (mut x_row, mut k_row) = (c0, t.k + c0);
    let (xp, kp) = (sample.as_ptr(), kernel.as_ptr());
    for _ in 0..t.rows {
        let (mut xo, mut ko) = (x_row, k_row);
        for _ in 0..t.cols {
            // SAFETY: `positions` checked that every tap's channels
            // `c0..c0 + W` (`c0 + W ≤ channels`) lie in the kernel, and
            // in the sample from each position's first tap.
            let weights = unsafe { *kp.add(ko).cast::<[T; W]>() };
            for (sums, &(x, _)) in acc.iter_mut().zip(spots) {
                // SAFETY: as above.
                let xs = unsafe { &*xp.add(x + xo).cast::<[T; W]>() };
                mul_add(sums, xs, &weights);
            }
            xo += t.x_col;
            ko += w.channels;
        }
        x_row += t.x_row;
        k_row += t.k_row;
    }
    for (sums, &(_, o)) in acc.iter().zip(spots) {
        store(&mut dst[o + c0..o + c0 + W], sums, relu);
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

/// `dst = src`, through ReLU when `relu`: one loop clamping at 0 or at
/// −∞, never a plain copy, which the compiler would turn into a `memcpy`
/// out of the sums' array and so keep them in memory rather than in
/// registers (measured twice as slow).
#[inline(always)]
fn store<T: Scalar>(dst: &mut [T], src: &[T], relu: bool) {
    let floor = if relu { T::zero() } else { T::of_f64(f64::NEG_INFINITY) };
    for (d, &s) in dst.iter_mut().zip(src) {
        // NaN stays NaN, as Keras's `relu` keeps it.
        *d = if s < floor { floor } else { s };
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
    crate::cpu::wide(
        #[inline(always)]
        || {
            if multiplier == 1 {
                with_block_sizes!(BLOCK_BYTES; kernel_gradient::<T>(w, x, dz, dkernel));
            } else {
                kernel_gradient_multiplied(w, multiplier, x, dz, dkernel);
            }
        },
    );
    if let Some(dx) = dx {
        let dx = &mut dx[..n * w.in_len()];
        crate::cpu::wide(
            #[inline(always)]
            || {
                if multiplier == 1 {
                    with_block_sizes!(GROUP_BLOCK_BYTES; input_gradient::<T>(w, kernel, dz, dx));
                } else {
                    input_gradient_multiplied(w, multiplier, kernel, dz, dx);
                }
            },
        );
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

    /// The stride-1 3×3 and 5×5 loops (multiplier 1) against the
    /// definition: output rows one strip wide to past two strips, channel
    /// counts on and off both vector widths, inputs smaller than the
    /// window, every fused store.
    fn stride1_against_reference<T: Scalar>(tol: f64) {
        let mut case = 0;
        for k in [3, 5] {
            for padding in [super::super::Padding::Valid, super::super::Padding::Same] {
                for input in [(1, 1), (2, 3), (5, 5), (7, 9), (4, 17), (6, 12), (9, 5)] {
                    if padding == super::super::Padding::Valid && (input.0 < k || input.1 < k) {
                        continue;
                    }
                    for channels in [1, 8, 16, 17, 40, 64, 70] {
                        case += 1;
                        let w = Window::keras(input, channels, (k, k), (1, 1), (1, 1), padding);
                        let n = 1 + case % 2;
                        let (kernel, bias, x) =
                            (data(w.taps() * channels, case), data(channels, case + 1), data(n * w.in_len(), case + 2));
                        let scale = reference(&w, 1, &abs(&kernel), Some(&abs(&bias)), &abs(&x));
                        let (kt, bt, xt) = (cast::<T>(&kernel), cast::<T>(&bias), cast::<T>(&x));
                        let len = n * w.positions() * channels;
                        for with_bias in [false, true] {
                            let want_z = reference(&w, 1, &kernel, with_bias.then_some(&bias[..]), &x);
                            for act in [Activation::Linear, Activation::Relu] {
                                let mut want = vec![0.0; len];
                                activations::forward(act, &want_z, &mut want, channels);
                                let mut out = vec![T::of_f64(7.0); len + 3];
                                forward(&w, 1, &kt, with_bias.then_some(&bt[..]), act, &xt, None, &mut out);
                                let what = format!("{w:?} n={n} bias={with_bias} {act:?}");
                                assert_close(&what, &wide(&out[..len]), &want, &scale, tol);
                                assert!(out[len..].iter().all(|&v| v == T::of_f64(7.0)), "{what}: wrote past");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The one-sample pass with a batch normalization's scale and shift,
    /// in the stride-1 loops' store or folded into the kernel, against the
    /// definition over the grid.
    fn forward1_against_reference<T: Scalar>(tol: f64) {
        for (case, w) in windows(false).into_iter().enumerate() {
            let m = 1 + case % 2;
            let oc = w.channels * m;
            let (kernel, x) = (data(w.taps() * oc, case), data(w.in_len(), case + 2));
            let (scale, shift) = (data(oc, case + 3), data(oc, case + 4));
            let z = reference(&w, m, &kernel, None, &x);
            let want_z: Vec<f64> = z.iter().enumerate().map(|(i, v)| v * scale[i % oc] + shift[i % oc]).collect();
            let bound = reference(&w, m, &abs(&kernel), None, &abs(&x));
            let bound: Vec<f64> = bound.iter().enumerate().map(|(i, v)| v * scale[i % oc].abs() + 1.0).collect();
            let (kt, xt, st, tt) = (cast::<T>(&kernel), cast::<T>(&x), cast::<T>(&scale), cast::<T>(&shift));
            for act in [Activation::Linear, Activation::Relu, Activation::Tanh] {
                let mut want = vec![0.0; z.len()];
                activations::forward(act, &want_z, &mut want, oc);
                let mut out = vec![T::of_f64(7.0); z.len()];
                forward1::<T, 2800>(&w, m, &kt, Some(&tt), Some(&st), act, &xt, &mut out);
                assert_close(&format!("{w:?} m={m} {act:?}"), &wide(&out), &want, &bound, tol);
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

    #[test]
    fn stride1_f32_matches_reference() {
        stride1_against_reference::<f32>(1e-5);
    }

    #[test]
    fn stride1_f64_matches_reference() {
        stride1_against_reference::<f64>(1e-12);
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
