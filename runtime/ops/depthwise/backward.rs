//! The depthwise backward loops: the kernel gradient per tile of output
//! rows, the input gradient gathered per input position.

use super::{in_groups, mul_add};
use crate::ops::window::{Readers, Window};
use crate::Scalar;

/// Output rows per tile of the kernel gradient: about 8 KB of `dz`, so a
/// tile's gradients and the inputs they meet stay in the L1 cache while
/// every tap passes over them (a pass per tap over a whole 25×5×64 sample
/// measured twice as slow).
#[inline(always)]
fn tile_rows<T>(w: &Window, oc: usize) -> usize {
    (8192 / (w.out_w * oc * size_of::<T>()).max(1)).max(1)
}

/// `dK[tap] = Σ dz · x` over the positions where the tap lies inside the
/// input, multiplier 1: per tile of output rows, per tap, the sums of a
/// block of channels in registers over the tap's rectangle of outputs.
#[inline(always)]
pub(super) fn kernel_gradient<T: Scalar, const BIG: usize, const SMALL: usize>(
    w: &Window,
    x: &[T],
    dz: &[T],
    dkernel: &mut [T],
) {
    dkernel.fill(T::zero());
    let tile = tile_rows::<T>(w, w.channels);
    for (sample, g) in x.chunks_exact(w.in_len()).zip(dz.chunks_exact(w.positions() * w.channels)) {
        let mut r0 = 0;
        while r0 < w.out_h {
            let r1 = (r0 + tile).min(w.out_h);
            for i in 0..w.k_h {
                let (olo, ohi) = w.out_rows_of(i);
                let rows = (olo.max(r0), ohi.min(r1));
                if rows.0 >= rows.1 {
                    continue;
                }
                for j in 0..w.k_w {
                    let cols = w.out_cols_of(j);
                    if cols.0 < cols.1 {
                        // Every read of the blocks below, checked once here.
                        let last_x = (w.in_row(rows.1 - 1, i) * w.in_w + w.in_col(cols.1 - 1, j) + 1) * w.channels;
                        let last_g = ((rows.1 - 1) * w.out_w + cols.1) * w.channels;
                        assert!(last_x <= sample.len() && last_g <= g.len(), "depthwise: window outside");
                        let c = w.channels;
                        let tap = (i * w.k_w + j) * c;
                        let dk = &mut dkernel[tap..tap + c];
                        let x0 = (w.in_row(rows.0, i) * w.in_w + w.in_col(cols.0, j)) * c;
                        let g0 = (rows.0 * w.out_w + cols.0) * c;
                        // SAFETY: the last position's channels were checked
                        // above, the first's precede them.
                        let done = unsafe {
                            let (x, x_row, x_col) = (sample.as_ptr().add(x0), w.stride_h * w.in_w * c, w.stride_w * c);
                            let (gp, g_row, n) = (g.as_ptr().add(g0), w.out_w * c, (rows.1 - rows.0, cols.1 - cols.0));
                            T::rect_dot(x, x_row, x_col, gp, g_row, c, n.0, n.1, c, dk.as_mut_ptr())
                        };
                        if done {
                            continue;
                        }
                        let dk = &mut *dkernel;
                        in_blocks!(
                            w.channels,
                            BIG,
                            SMALL,
                            kernel_gradient_block::<T>(w, sample, g, dk, i, j, rows, cols)
                        );
                    }
                }
            }
            r0 = r1;
        }
    }
}

/// Channels `c0..c0 + W` of tap `(i, j)`'s kernel gradient, over output
/// rows `rows` and columns `cols` (where the tap is inside the input). The
/// caller has checked that the reads lie in `sample` and `g`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn kernel_gradient_block<T: Scalar, const W: usize>(
    w: &Window,
    sample: &[T],
    g: &[T],
    dkernel: &mut [T],
    i: usize,
    j: usize,
    rows: (usize, usize),
    cols: (usize, usize),
    c0: usize,
) {
    let c = w.channels;
    let mut acc = [T::zero(); W];
    let mut x_row = (w.in_row(rows.0, i) * w.in_w + w.in_col(cols.0, j)) * c + c0;
    let mut g_row = (rows.0 * w.out_w + cols.0) * c + c0;
    let (xp, gp) = (sample.as_ptr(), g.as_ptr());
    for _ in rows.0..rows.1 {
        let (mut xo, mut go) = (x_row, g_row);
        for _ in cols.0..cols.1 {
            // SAFETY: `kernel_gradient` checked the last position's channels
            // (`c0 + W ≤ channels`) of the rectangle against both slices.
            let (xs, gs) = unsafe { (&*xp.add(xo).cast::<[T; W]>(), &*gp.add(go).cast::<[T; W]>()) };
            mul_add(&mut acc, xs, gs);
            xo += w.stride_w * c;
            go += c;
        }
        x_row += w.stride_h * w.in_w * c;
        g_row += w.out_w * c;
    }
    for (d, &a) in dkernel[(i * w.k_w + j) * c + c0..][..W].iter_mut().zip(&acc) {
        *d += a;
    }
}

/// [`kernel_gradient`] with a multiplier above 1.
pub(super) fn kernel_gradient_multiplied<T: Scalar>(w: &Window, m: usize, x: &[T], dz: &[T], dkernel: &mut [T]) {
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

/// Where the gradients that flow back to an input position are, relative
/// to the first tap that reads it: the taps reading it ([`Readers`] of its
/// row and column) as steps, the output offset going down as the tap goes
/// up; the same for a rectangle of like positions.
struct Gather {
    k: usize,
    rows: usize,
    cols: usize,
    g_row: usize,
    g_col: usize,
    k_row: usize,
    k_col: usize,
}

impl Gather {
    #[inline(always)]
    fn of(w: &Window, oc: usize, rows: &Readers, cols: &Readers) -> Gather {
        Gather {
            k: (rows.first * w.k_w + cols.first) * oc,
            rows: rows.count,
            cols: cols.count,
            g_row: rows.out_step * w.out_w * oc,
            g_col: cols.out_step * oc,
            k_row: rows.tap_step * w.k_w * oc,
            k_col: cols.tap_step * oc,
        }
    }

    /// How far back from the first reader's gradient the last one is.
    #[inline(always)]
    fn back(&self) -> usize {
        self.rows.saturating_sub(1) * self.g_row + self.cols.saturating_sub(1) * self.g_col
    }
}

/// Whether two [`Readers`] are the same taps (their outputs may differ).
#[inline(always)]
fn same_taps(a: &Readers, b: &Readers) -> bool {
    (a.first, a.count, a.tap_step, a.out_step) == (b.first, b.count, b.tap_step, b.out_step)
}

/// The runs of `0..n` over which `readers` gives the same taps.
#[inline(always)]
fn runs(n: usize, readers: impl Fn(usize) -> Readers) -> impl Iterator<Item = (usize, usize, Readers)> {
    let mut at = 0;
    core::iter::from_fn(move || {
        if at >= n {
            return None;
        }
        let (start, first) = (at, readers(at));
        at += 1;
        while at < n && same_taps(&readers(at), &first) {
            at += 1;
        }
        Some((start, at, first))
    })
}

/// `dx += Σ dz · K` gathered per input position over the taps that read
/// it (so each sum stays in registers and `dx` is touched once),
/// multiplier 1: [`super::GROUP`] positions read by the same taps at a time, so
/// each tap's weights are loaded once for all of them.
#[inline(always)]
pub(super) fn input_gradient<T: Scalar, const BIG: usize, const SMALL: usize>(
    w: &Window,
    kernel: &[T],
    dz: &[T],
    dx: &mut [T],
) {
    let c = w.channels;
    for (g, sample) in dz.chunks_exact(w.positions() * c).zip(dx.chunks_exact_mut(w.in_len())) {
        for (ih0, ih1, rows) in runs(w.in_h, |ih| w.row_readers(ih)) {
            for (iw0, iw1, cols) in runs(w.in_w, |iw| w.col_readers(iw)) {
                if rows.count == 0 || cols.count == 0 {
                    continue;
                }
                let from = Gather::of(w, c, &rows, &cols);
                // (offset in dx, offset in dz of the first reader) of each position.
                let spots = (ih0..ih1).flat_map(|ih| {
                    let r = w.row_readers(ih).out_first;
                    (iw0..iw1).map(move |iw| ((ih * w.in_w + iw) * c, (r * w.out_w + w.col_readers(iw).out_first) * c))
                });
                in_groups(spots, |group| match *group {
                    [a, b, c, d] => gather::<T, BIG, SMALL, 4>(w, kernel, g, &from, &[a, b, c, d], &mut *sample),
                    [a, b, c] => gather::<T, BIG, SMALL, 3>(w, kernel, g, &from, &[a, b, c], &mut *sample),
                    [a, b] => gather::<T, BIG, SMALL, 2>(w, kernel, g, &from, &[a, b], &mut *sample),
                    [a] => gather::<T, BIG, SMALL, 1>(w, kernel, g, &from, &[a], &mut *sample),
                    _ => {}
                });
            }
        }
    }
}

/// `P` input positions' gradients, in channel blocks.
#[inline(always)]
fn gather<T: Scalar, const BIG: usize, const SMALL: usize, const P: usize>(
    w: &Window,
    kernel: &[T],
    g: &[T],
    from: &Gather,
    spots: &[(usize, usize); P],
    dx: &mut [T],
) {
    // Every read of the blocks below, checked once here: each position's
    // readers lie from its first one back to `back()` before it.
    let in_g = spots.iter().all(|&(_, at)| at >= from.back() && at + w.channels <= g.len());
    let last_k = from.k + from.rows.saturating_sub(1) * from.k_row + from.cols.saturating_sub(1) * from.k_col;
    assert!(in_g && last_k + w.channels <= kernel.len(), "depthwise: window outside");
    assert!(spots.iter().all(|&(at, _)| at + w.channels <= dx.len()), "depthwise: input outside");
    let (outs, bases) = (spots.map(|s| s.0), spots.map(|s| s.1));
    // SAFETY: checked above: each position's readers run back from its
    // first one by at most `back()`.
    let done = unsafe {
        let (g_row, g_col) = (-(from.g_row as isize), -(from.g_col as isize));
        let (k, out, c) = (kernel.as_ptr().add(from.k), dx.as_mut_ptr(), w.channels);
        let (rows, cols, zero) = (from.rows, from.cols, T::zero());
        let null = core::ptr::null();
        T::taps_sum::<P>(
            g.as_ptr(),
            &bases,
            g_row,
            g_col,
            k,
            from.k_row,
            from.k_col,
            rows,
            cols,
            c,
            null,
            out,
            &outs,
            true,
            zero,
        )
    };
    if !done {
        in_blocks!(w.channels, BIG, SMALL, gather_block::<T, P>(kernel, g, from, spots, &mut *dx));
    }
}

/// Channels `c0..c0 + W` of `P` input positions' gradients. The caller has
/// checked that the reads lie in `kernel` and `g`.
#[inline(always)]
fn gather_block<T: Scalar, const W: usize, const P: usize>(
    kernel: &[T],
    g: &[T],
    from: &Gather,
    spots: &[(usize, usize); P],
    dx: &mut [T],
    c0: usize,
) {
    let mut acc = [[T::zero(); W]; P];
    let (mut back_row, mut k_row) = (0, from.k + c0);
    let (gp, kp) = (g.as_ptr(), kernel.as_ptr());
    for _ in 0..from.rows {
        let (mut back, mut ko) = (back_row, k_row);
        for _ in 0..from.cols {
            // SAFETY: `gather` checked the taps' weights (channels up to
            // `c0 + W ≤ channels`) against the kernel, and each position's
            // gradients, from `at − back()` to `at + channels`, against `g`.
            let weights = unsafe { *kp.add(ko).cast::<[T; W]>() };
            for (sums, &(_, at)) in acc.iter_mut().zip(spots) {
                // SAFETY: as above.
                let gs = unsafe { &*gp.add(at + c0 - back).cast::<[T; W]>() };
                mul_add(sums, gs, &weights);
            }
            back += from.g_col;
            ko += from.k_col;
        }
        back_row += from.g_row;
        k_row += from.k_row;
    }
    for (sums, &(at, _)) in acc.iter().zip(spots) {
        for (d, &a) in dx[at + c0..at + c0 + W].iter_mut().zip(sums) {
            *d += a;
        }
    }
}

/// [`input_gradient`] with a multiplier above 1: each channel's gradient is
/// the dot product of its `m` outputs' gradients with their weights.
pub(super) fn input_gradient_multiplied<T: Scalar>(w: &Window, m: usize, kernel: &[T], dz: &[T], dx: &mut [T]) {
    let c = w.channels;
    let oc = c * m;
    for (g, sample) in dz.chunks_exact(w.positions() * oc).zip(dx.chunks_exact_mut(w.in_len())) {
        let mut positions = sample.chunks_exact_mut(c);
        for ih in 0..w.in_h {
            let rows = w.row_readers(ih);
            for iw in 0..w.in_w {
                let Some(dst) = positions.next() else { return };
                let cols = w.col_readers(iw);
                let from = Gather::of(w, oc, &rows, &cols);
                let mut g_row = (rows.out_first * w.out_w + cols.out_first) * oc;
                let mut k_row = from.k;
                for _ in 0..from.rows {
                    let (mut go, mut ko) = (g_row, k_row);
                    for _ in 0..from.cols {
                        let (gs, ks) = (&g[go..go + oc], &kernel[ko..ko + oc]);
                        for ((d, gc), kc) in dst.iter_mut().zip(gs.chunks_exact(m)).zip(ks.chunks_exact(m)) {
                            *d += gc.iter().zip(kc).fold(T::zero(), |s, (&gv, &kv)| s + gv * kv);
                        }
                        go = go.wrapping_sub(from.g_col);
                        ko += from.k_col;
                    }
                    g_row = g_row.wrapping_sub(from.g_row);
                    k_row += from.k_row;
                }
            }
        }
    }
}
