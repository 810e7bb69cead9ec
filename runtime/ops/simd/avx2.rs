//! The window kernels' inner loops with AVX2 and FMA intrinsics, for `f32`
//! (8 lanes) and `f64` (4), written once (the macro below): the depthwise
//! blocks and the direct convolution. The portable loops in `depthwise`
//! are the same computation left to the compiler's vectorizer, whose
//! choices for them changed from one build to the next (register sums one
//! time, scalar sums in memory after an unrelated edit: 2.8 against 39 µs
//! for the same layer); these are compiled here, once, whatever the
//! calling crate's settings.
//!
//! Callers check that every offset a kernel reads or writes lies in its
//! slice; the kernels take raw pointers.
#![allow(unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]

macro_rules! depthwise_body {
    ($e:ident, $v:ty, $lanes:expr, $load:ident, $store:ident, $fma:ident, $add:ident, $max:ident, $set1:ident, $zero:ident) => {
        use crate::ops::window::Window;
        use core::arch::x86_64::*;

        type E = $e;
        type V = $v;
        const L: usize = $lanes;

        /// One vector from `p`.
        #[inline(always)]
        unsafe fn load(p: *const E) -> V {
            $load(p)
        }

        /// `P` windows' sums over the same taps, every channel: for output
        /// `p`, `Σ src[bases[p] + r·row_step + j·col_step + c] ·
        /// k[r·k_row + j·k_col + c]` over tap rows `r < rows` and columns
        /// `j < cols`, started from `init[c]` (or 0 when null), then either
        /// stored at `out + outs[p] + c` as `max(floor, sum)` (a NaN sum
        /// stays NaN) or, with `add`, added to what is there. Each tap's
        /// weights are loaded once for the `P` windows.
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA; every offset named above, for
        /// every channel `c < channels`, must lie in its allocation.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn taps_sum<const P: usize>(
            src: *const E,
            bases: &[usize; P],
            row_step: isize,
            col_step: isize,
            k: *const E,
            k_row: usize,
            k_col: usize,
            rows: usize,
            cols: usize,
            channels: usize,
            init: *const E,
            out: *mut E,
            outs: &[usize; P],
            add: bool,
            floor: E,
        ) {
            let taps = Taps { src, row_step, col_step, k, k_row, k_col, rows, cols, init, out, add, floor };
            let mut c0 = 0;
            while c0 + 2 * L <= channels {
                block::<P, 2>(&taps, bases, outs, c0);
                c0 += 2 * L;
            }
            if c0 + L <= channels {
                block::<P, 1>(&taps, bases, outs, c0);
                c0 += L;
            }
            while c0 < channels {
                single::<P>(&taps, bases, outs, c0);
                c0 += 1;
            }
        }

        /// [`taps_sum`]'s arguments but the positions.
        struct Taps {
            src: *const E,
            row_step: isize,
            col_step: isize,
            k: *const E,
            k_row: usize,
            k_col: usize,
            rows: usize,
            cols: usize,
            init: *const E,
            out: *mut E,
            add: bool,
            floor: E,
        }

        /// Channels `c0..c0 + NV·L` of the `P` windows: `P·NV` sums in
        /// registers.
        #[inline(always)]
        unsafe fn block<const P: usize, const NV: usize>(t: &Taps, bases: &[usize; P], outs: &[usize; P], c0: usize) {
            let mut start = [$zero(); NV];
            if !t.init.is_null() {
                for (v, s) in start.iter_mut().enumerate() {
                    *s = load(t.init.add(c0 + v * L));
                }
            }
            let mut acc = [start; P];
            let mut from = [0isize; P];
            for (f, &b) in from.iter_mut().zip(bases) {
                *f = (b + c0) as isize;
            }
            let mut k_row = c0;
            for _ in 0..t.rows {
                let (mut o, mut ko) = (from, k_row);
                for _ in 0..t.cols {
                    let mut w = [$zero(); NV];
                    for (v, wv) in w.iter_mut().enumerate() {
                        *wv = load(t.k.add(ko + v * L));
                    }
                    for (sums, &at) in acc.iter_mut().zip(&o) {
                        for (v, s) in sums.iter_mut().enumerate() {
                            *s = $fma(load(t.src.offset(at + (v * L) as isize)), w[v], *s);
                        }
                    }
                    for at in o.iter_mut() {
                        *at += t.col_step;
                    }
                    ko += t.k_col;
                }
                for f in from.iter_mut() {
                    *f += t.row_step;
                }
                k_row += t.k_row;
            }
            let floor = $set1(t.floor);
            for (sums, &o) in acc.iter().zip(outs) {
                for (v, &s) in sums.iter().enumerate() {
                    let d = t.out.add(o + c0 + v * L);
                    // `max` returns its second operand when either is NaN.
                    $store(d, if t.add { $add(load(d), s) } else { $max(floor, s) });
                }
            }
        }

        /// Channel `c0` of the `P` windows, one lane.
        #[inline(always)]
        unsafe fn single<const P: usize>(t: &Taps, bases: &[usize; P], outs: &[usize; P], c0: usize) {
            for (&b, &o) in bases.iter().zip(outs) {
                let mut sum = if t.init.is_null() { 0.0 } else { *t.init.add(c0) };
                let mut from = (b + c0) as isize;
                let mut k_row = c0;
                for _ in 0..t.rows {
                    let (mut at, mut ko) = (from, k_row);
                    for _ in 0..t.cols {
                        sum += *t.src.offset(at) * *t.k.add(ko);
                        at += t.col_step;
                        ko += t.k_col;
                    }
                    from += t.row_step;
                    k_row += t.k_row;
                }
                let d = t.out.add(o + c0);
                *d = if t.add {
                    *d + sum
                } else if sum < t.floor {
                    t.floor
                } else {
                    sum
                };
            }
        }

        /// `dk[c] += Σ x[r·x_row + j·x_col + c] · g[r·g_row + j·g_col + c]`
        /// over `r < rows`, `j < cols`, every channel `c < channels`: one
        /// tap's kernel gradient over a rectangle of outputs.
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA; every offset named, for every
        /// channel, must lie in its allocation.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn rect_dot(
            x: *const E,
            x_row: usize,
            x_col: usize,
            g: *const E,
            g_row: usize,
            g_col: usize,
            rows: usize,
            cols: usize,
            channels: usize,
            dk: *mut E,
        ) {
            let r = Rect { x, x_row, x_col, g, g_row, g_col, rows, cols, dk };
            let mut c0 = 0;
            while c0 + 4 * L <= channels {
                rect_block::<4>(&r, c0);
                c0 += 4 * L;
            }
            while c0 + L <= channels {
                rect_block::<1>(&r, c0);
                c0 += L;
            }
            while c0 < channels {
                let mut sum = 0.0;
                for row in 0..rows {
                    for col in 0..cols {
                        sum += *x.add(row * x_row + col * x_col + c0) * *g.add(row * g_row + col * g_col + c0);
                    }
                }
                *dk.add(c0) += sum;
                c0 += 1;
            }
        }

        /// `out = max(floor, conv(x, k) + init)` for `samples` samples, by
        /// output position: the sums of up to eight vectors of filters in
        /// registers over the window's real taps and channels, each input
        /// value broadcast against its kernel row (`k` Keras's
        /// `[k_h, k_w, channels, filters]`, `init` the bias or null).
        ///
        /// # Safety
        /// The CPU must have AVX2 and FMA; `filters` must be a multiple of
        /// the lanes; `x` must hold the samples, `out` their outputs, `k`
        /// the kernel and `init`, if not null, `filters` values.
        #[target_feature(enable = "avx2,fma")]
        pub(crate) unsafe fn conv_direct(
            w: &Window,
            filters: usize,
            x: *const E,
            samples: usize,
            k: *const E,
            init: *const E,
            out: *mut E,
            floor: E,
        ) {
            for s in 0..samples {
                let (xs, os) = (x.add(s * w.in_len()), out.add(s * w.positions() * filters));
                let mut f0 = 0;
                while f0 + 8 * L <= filters {
                    conv_pass::<8>(w, filters, xs, k, init, os, floor, f0);
                    f0 += 8 * L;
                }
                for nv in [4, 2, 1] {
                    if f0 + nv * L <= filters {
                        match nv {
                            4 => conv_pass::<4>(w, filters, xs, k, init, os, floor, f0),
                            2 => conv_pass::<2>(w, filters, xs, k, init, os, floor, f0),
                            _ => conv_pass::<1>(w, filters, xs, k, init, os, floor, f0),
                        }
                        f0 += nv * L;
                    }
                }
            }
        }

        /// Filters `f0..f0 + NV·L` of [`conv_direct`] for one sample.
        #[inline(always)]
        unsafe fn conv_pass<const NV: usize>(
            w: &Window,
            filters: usize,
            x: *const E,
            k: *const E,
            init: *const E,
            out: *mut E,
            floor: E,
            f0: usize,
        ) {
            let c = w.channels;
            let floor = $set1(floor);
            let mut start = [$zero(); NV];
            if !init.is_null() {
                for (v, s) in start.iter_mut().enumerate() {
                    *s = load(init.add(f0 + v * L));
                }
            }
            for oh in 0..w.out_h {
                let (ilo, ihi) = w.rows_of(oh);
                for ow in 0..w.out_w {
                    let (jlo, jhi) = w.cols_of(ow);
                    let mut acc = start;
                    for i in ilo..ihi {
                        let line = x.add(w.in_row(oh, i) * w.in_w * c);
                        for j in jlo..jhi {
                            let xp = line.add(w.in_col(ow, j) * c);
                            let kp = k.add((i * w.k_w + j) * c * filters + f0);
                            for ci in 0..c {
                                let xv = $set1(*xp.add(ci));
                                let row = kp.add(ci * filters);
                                for (v, s) in acc.iter_mut().enumerate() {
                                    *s = $fma(load(row.add(v * L)), xv, *s);
                                }
                            }
                        }
                    }
                    let o = out.add((oh * w.out_w + ow) * filters + f0);
                    for (v, &s) in acc.iter().enumerate() {
                        // `max` returns its second operand when either is NaN.
                        $store(o.add(v * L), $max(floor, s));
                    }
                }
            }
        }

        /// [`rect_dot`]'s arguments.
        struct Rect {
            x: *const E,
            x_row: usize,
            x_col: usize,
            g: *const E,
            g_row: usize,
            g_col: usize,
            rows: usize,
            cols: usize,
            dk: *mut E,
        }

        /// Channels `c0..c0 + NV·L` of [`rect_dot`].
        #[inline(always)]
        unsafe fn rect_block<const NV: usize>(r: &Rect, c0: usize) {
            let mut acc = [$zero(); NV];
            let (mut xr, mut gr) = (c0, c0);
            for _ in 0..r.rows {
                let (mut xo, mut go) = (xr, gr);
                for _ in 0..r.cols {
                    for (v, s) in acc.iter_mut().enumerate() {
                        *s = $fma(load(r.x.add(xo + v * L)), load(r.g.add(go + v * L)), *s);
                    }
                    xo += r.x_col;
                    go += r.g_col;
                }
                xr += r.x_row;
                gr += r.g_row;
            }
            for (v, &s) in acc.iter().enumerate() {
                let d = r.dk.add(c0 + v * L);
                $store(d, $add(load(d), s));
            }
        }
    };
}

pub(crate) mod f32 {
    depthwise_body!(
        f32,
        __m256,
        8,
        _mm256_loadu_ps,
        _mm256_storeu_ps,
        _mm256_fmadd_ps,
        _mm256_add_ps,
        _mm256_max_ps,
        _mm256_set1_ps,
        _mm256_setzero_ps
    );
}

pub(crate) mod f64 {
    depthwise_body!(
        f64,
        __m256d,
        4,
        _mm256_loadu_pd,
        _mm256_storeu_pd,
        _mm256_fmadd_pd,
        _mm256_add_pd,
        _mm256_max_pd,
        _mm256_set1_pd,
        _mm256_setzero_pd
    );
}
