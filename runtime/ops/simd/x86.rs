//! The window kernels' inner loops with SIMD intrinsics, written once (the
//! macro below) and instantiated for AVX2+FMA (`f32` 8 lanes, `f64` 4) and
//! AVX-512F (`f32` 16, `f64` 8) over the vector helpers of the matrix
//! kernels (`kernels::x86`): the depthwise blocks and the direct
//! convolution. The portable loops in `depthwise` are the same computation
//! left to the compiler's vectorizer, whose choices for them changed from
//! one build to the next (register sums one time, scalar sums in memory
//! after an unrelated edit: 2.8 against 39 µs for the same layer); these
//! are compiled here, once, whatever the calling crate's settings.
//!
//! Callers check that every offset a kernel reads or writes lies in its
//! slice; the kernels take raw pointers.
#![allow(unsafe_op_in_unsafe_fn, clippy::too_many_arguments)]

macro_rules! window_body {
    ($level:ident::$e:ident, $feat:literal, $sums:literal sums) => {
        use crate::kernels::x86::$level::$e::{add, fma, load, max, splat, storeu, zero, L, V};
        use crate::ops::window::Window;


        /// The sums a group of [`conv_direct`] keeps in registers: eight
        /// vectors (a position's eight of AVX2, half the registers), or
        /// sixteen (AVX-512, half of its 32).
        const GROUP_SUMS: usize = $sums;

        type E = $e;

        /// `P` windows' sums over the same taps, every channel: for output
        /// `p`, `Σ src[bases[p] + r·row_step + j·col_step + c] ·
        /// k[r·k_row + j·k_col + c]` over tap rows `r < rows` and columns
        /// `j < cols`, started from `init[c]` (or 0 when null), then either
        /// stored at `out + outs[p] + c` as `max(floor, sum)` (a NaN sum
        /// stays NaN) or, with `add`, added to what is there. Each tap's
        /// weights are loaded once for the `P` windows.
        ///
        /// # Safety
        /// The CPU must have the module's features; every offset named above, for
        /// every channel `c < channels`, must lie in its allocation.
        #[target_feature(enable = $feat)]
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
            let mut start = [zero(); NV];
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
                    let mut w = [zero(); NV];
                    for (v, wv) in w.iter_mut().enumerate() {
                        *wv = load(t.k.add(ko + v * L));
                    }
                    for (sums, &at) in acc.iter_mut().zip(&o) {
                        for (v, s) in sums.iter_mut().enumerate() {
                            *s = fma(load(t.src.offset(at + (v * L) as isize)), w[v], *s);
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
            let floor = splat(t.floor);
            for (sums, &o) in acc.iter().zip(outs) {
                for (v, &s) in sums.iter().enumerate() {
                    let d = t.out.add(o + c0 + v * L);
                    // `max` returns its second operand when either is NaN.
                    storeu(d, if t.add { add(load(d), s) } else { max(floor, s) });
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
        /// The CPU must have the module's features; every offset named, for every
        /// channel, must lie in its allocation.
        #[target_feature(enable = $feat)]
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
        /// `[k_h, k_w, channels, filters]`, `init` the bias or null). Where
        /// fewer vectors of filters leave registers over, up to eight
        /// positions whose windows have the same real taps go together
        /// ([`GROUP_SUMS`] sums in all), each kernel row loaded once for
        /// them.
        /// With `scale` (not null), `out = max(floor, scale ⊙ conv(x, k) +
        /// init)`: a batch normalization applied in the store.
        ///
        /// # Safety
        /// The CPU must have the module's features; `filters` must be a
        /// multiple of the lanes; `x` must hold the samples, `out` their
        /// outputs, `k` the kernel and `init` and `scale`, if not null,
        /// `filters` values each.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn conv_direct(
            w: &Window,
            filters: usize,
            x: *const E,
            samples: usize,
            k: *const E,
            init: *const E,
            scale: *const E,
            out: *mut E,
            floor: E,
        ) {
            for s in 0..samples {
                let (xs, os) = (x.add(s * w.in_len()), out.add(s * w.positions() * filters));
                let mut f0 = 0;
                while f0 + 8 * L <= filters {
                    conv_pass::<8>(w, filters, xs, k, init, scale, os, floor, f0);
                    f0 += 8 * L;
                }
                for nv in [4, 2, 1] {
                    if f0 + nv * L <= filters {
                        match nv {
                            4 => conv_pass::<4>(w, filters, xs, k, init, scale, os, floor, f0),
                            2 => conv_pass::<2>(w, filters, xs, k, init, scale, os, floor, f0),
                            _ => conv_pass::<1>(w, filters, xs, k, init, scale, os, floor, f0),
                        }
                        f0 += nv * L;
                    }
                }
            }
        }

        /// Filters `f0..f0 + NV·L` of [`conv_direct`] for one sample: the
        /// positions by rectangles of like windows, in groups of up to
        /// `GROUP_SUMS / NV` (at most 8).
        #[inline(always)]
        unsafe fn conv_pass<const NV: usize>(
            w: &Window,
            filters: usize,
            x: *const E,
            k: *const E,
            init: *const E,
            scale: *const E,
            out: *mut E,
            floor: E,
            f0: usize,
        ) {
            let c = w.channels;
            // Scaled: the sums start at 0 and the shift comes in the store.
            let (start, scaled) =
                if scale.is_null() { (vectors(init, f0), None) } else { ([zero(); NV], Some((vectors(scale, f0), vectors(init, f0)))) };
            let pass = Pass { w, filters, x, k, start, scaled, floor: splat(floor), out: out.add(f0), f0 };
            let group = (GROUP_SUMS / NV).clamp(1, 8);
            // Always inlined, as every helper here: only inside the
            // function with the module's features are the vector helpers
            // inlined into it (not inlined, this loop measured six times
            // slower).
            w.like_rectangles(
                #[inline(always)]
                |rows, cols| {
                let taps = (w.rows_of(rows.start), w.cols_of(cols.start));
                let real = taps.0 .0 < taps.0 .1 && taps.1 .0 < taps.1 .1;
                // Each position: its first real tap's offset in the sample
                // (0 when it has none), and its output's.
                let mut spots = rows.flat_map(|oh| cols.clone().map(move |ow| (oh, ow))).map(|(oh, ow)| {
                    let first = if real { (w.in_row(oh, taps.0 .0) * w.in_w + w.in_col(ow, taps.1 .0)) * c } else { 0 };
                    (first, (oh * w.out_w + ow) * filters)
                });
                loop {
                    let mut g = [(0, 0); 8];
                    let mut len = 0;
                    for (slot, spot) in g[..group].iter_mut().zip(&mut spots) {
                        *slot = spot;
                        len += 1;
                    }
                    match len {
                        1 => conv_group::<NV, 1>(&pass, taps, g[..1].try_into().expect("1 positions")),
                        2 => conv_group::<NV, 2>(&pass, taps, g[..2].try_into().expect("2 positions")),
                        3 => conv_group::<NV, 3>(&pass, taps, g[..3].try_into().expect("3 positions")),
                        4 => conv_group::<NV, 4>(&pass, taps, g[..4].try_into().expect("4 positions")),
                        5 => conv_group::<NV, 5>(&pass, taps, g[..5].try_into().expect("5 positions")),
                        6 => conv_group::<NV, 6>(&pass, taps, g[..6].try_into().expect("6 positions")),
                        7 => conv_group::<NV, 7>(&pass, taps, g[..7].try_into().expect("7 positions")),
                        8 => conv_group::<NV, 8>(&pass, taps, g[..8].try_into().expect("8 positions")),
                        _ => break,
                    }
                }
            });
        }

        /// `NV` vectors from `p + f0`, or zeros when `p` is null.
        #[inline(always)]
        unsafe fn vectors<const NV: usize>(p: *const E, f0: usize) -> [V; NV] {
            let mut v = [zero(); NV];
            if !p.is_null() {
                for (i, s) in v.iter_mut().enumerate() {
                    *s = load(p.add(f0 + i * L));
                }
            }
            v
        }

        /// What the groups of a [`conv_pass`] share.
        struct Pass<'a, const NV: usize> {
            w: &'a Window,
            filters: usize,
            x: *const E,
            k: *const E,
            start: [V; NV],
            /// The scale and shift applied in the store, if any.
            scaled: Option<([V; NV], [V; NV])>,
            floor: V,
            /// The output at filter `f0`.
            out: *mut E,
            f0: usize,
        }

        /// `P` positions with the same real taps `(rows, cols)`, given as
        /// (offset of the first real tap in the sample, output offset):
        /// each kernel row's `NV` vectors loaded once for the `P` of them.
        /// Each sum adds the taps in the kernel's order, `(i, j, channel)`.
        #[inline(always)]
        unsafe fn conv_group<const NV: usize, const P: usize>(
            pass: &Pass<NV>,
            ((ilo, ihi), (jlo, jhi)): ((usize, usize), (usize, usize)),
            spots: &[(usize, usize); P],
        ) {
            let (w, filters) = (pass.w, pass.filters);
            let c = w.channels;
            // A tap row's real taps: one run of channels per tap column, or
            // one run in all when the columns are adjacent (no dilation).
            let (runs, run, run_step) =
                if w.dilation_w == 1 { (1, (jhi - jlo) * c, 0) } else { (jhi - jlo, c, w.dilation_w * c) };
            let mut acc = [pass.start; P];
            for i in ilo..ihi {
                let row = (i - ilo) * w.dilation_h * w.in_w * c;
                for r in 0..runs {
                    let xo = row + r * run_step;
                    let kp = pass.k.add(((i * w.k_w + jlo + r) * c) * filters + pass.f0);
                    for t in 0..run {
                        let kr = kp.add(t * filters);
                        let mut kv = [zero(); NV];
                        for (v, kv) in kv.iter_mut().enumerate() {
                            *kv = load(kr.add(v * L));
                        }
                        for (sums, &(first, _)) in acc.iter_mut().zip(spots) {
                            let xv = splat(*pass.x.add(first + xo + t));
                            for (s, &kv) in sums.iter_mut().zip(&kv) {
                                *s = fma(kv, xv, *s);
                            }
                        }
                    }
                }
            }
            for (sums, &(_, o)) in acc.iter().zip(spots) {
                for (v, &s) in sums.iter().enumerate() {
                    let s = match pass.scaled {
                        Some((scale, shift)) => fma(s, scale[v], shift[v]),
                        None => s,
                    };
                    // `max` returns its second operand when either is NaN.
                    storeu(pass.out.add(o + v * L), max(pass.floor, s));
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
            let mut acc = [zero(); NV];
            let (mut xr, mut gr) = (c0, c0);
            for _ in 0..r.rows {
                let (mut xo, mut go) = (xr, gr);
                for _ in 0..r.cols {
                    for (v, s) in acc.iter_mut().enumerate() {
                        *s = fma(load(r.x.add(xo + v * L)), load(r.g.add(go + v * L)), *s);
                    }
                    xo += r.x_col;
                    go += r.g_col;
                }
                xr += r.x_row;
                gr += r.g_row;
            }
            for (v, &s) in acc.iter().enumerate() {
                let d = r.dk.add(c0 + v * L);
                storeu(d, add(load(d), s));
            }
        }
    };
}

/// The stride-1 depthwise loop, AVX-512 only: with AVX2's 16 registers a
/// strip's sums and the block's nine weights do not fit, and the position
/// groups of `taps_sum` measured faster (2.97 against 3.48 µs for the
/// keyword-spotting layer, on Zen 4 with AVX-512 off). Expanded after
/// [`window_body`], whose helpers and imports it uses.
macro_rules! stride1_body {
    ($level:ident::$e:ident, $feat:literal) => {
        use crate::kernels::x86::$level::$e::{mask_of, mload, mstore, M};

        /// The widest strip of [`depthwise_stride1`]: its sums and the
        /// block's weights fit the 32 registers.
        const STRIP: usize = 8;

        /// A depthwise convolution with multiplier 1, stride 1 and no
        /// dilation over a `KH × KW` window, one sample: `out = max(floor,
        /// depthwise(x, k) + init)` (`init` the bias or null). By channel
        /// block (one vector, the last masked), then by strips of output
        /// columns, at most `STRIP` wide: a strip's sums of an output row
        /// stay in registers, and each input value of a tap row is loaded
        /// once for the up to `KW` sums it feeds (the position groups of
        /// [`taps_sum`] load it once per tap: a load per multiply-add); the
        /// block's weights are loaded once for all rows. Each sum adds its
        /// taps in the kernel's order, as [`taps_sum`] does. With `scale`
        /// (not null), `out = max(floor, scale ⊙ depthwise(x, k) + init)`:
        /// a batch normalization applied in the store.
        ///
        /// # Safety
        /// The CPU must have the module's features; `x` must hold the
        /// sample, `out` its outputs, `k` the `KH·KW·channels` weights and
        /// `init` and `scale`, if not null, `channels` values each; the
        /// window must be `KH × KW` with stride 1 and dilation 1.
        #[target_feature(enable = $feat)]
        pub(crate) unsafe fn depthwise_stride1<const KH: usize, const KW: usize>(
            w: &Window,
            x: *const E,
            k: *const E,
            init: *const E,
            scale: *const E,
            out: *mut E,
            floor: E,
        ) {
            let c = w.channels;
            let mut c0 = 0;
            while c0 < c {
                let live = (c - c0).min(L);
                if live == L {
                    stride1_block::<KH, KW, false>(w, x, k, init, scale, out, floor, c0, mask_of(L));
                } else {
                    stride1_block::<KH, KW, true>(w, x, k, init, scale, out, floor, c0, mask_of(live));
                }
                c0 += L;
            }
        }

        /// One vector at `p`, or the lanes `m` selects when `MASKED`.
        #[inline(always)]
        unsafe fn get<const MASKED: bool>(p: *const E, m: M) -> V {
            if MASKED {
                mload(p, m)
            } else {
                load(p)
            }
        }

        /// Stores `v` at `p`, only the lanes `m` selects when `MASKED`.
        #[inline(always)]
        unsafe fn put<const MASKED: bool>(p: *mut E, m: M, v: V) {
            if MASKED {
                mstore(p, m, v)
            } else {
                storeu(p, v)
            }
        }

        /// Channels `c0..` (the lanes `m` selects) of [`depthwise_stride1`]:
        /// the output columns split into strips of near-equal widths.
        #[inline(always)]
        unsafe fn stride1_block<const KH: usize, const KW: usize, const MASKED: bool>(
            w: &Window,
            x: *const E,
            k: *const E,
            init: *const E,
            scale: *const E,
            out: *mut E,
            floor: E,
            c0: usize,
            m: M,
        ) {
            let c = w.channels;
            let mut wk = [[zero(); KW]; KH];
            for (i, row) in wk.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = get::<MASKED>(k.add((i * KW + j) * c + c0), m);
                }
            }
            let init = if init.is_null() { zero() } else { get::<MASKED>(init.add(c0), m) };
            // Scaled, the sums start at 0 and `init` comes in the store.
            let (start, scaled) =
                if scale.is_null() { (init, None) } else { (zero(), Some((get::<MASKED>(scale.add(c0), m), init))) };
            let stores = Stores { floor: splat(floor), scaled, out, m };
            let strips = w.out_w.div_ceil(STRIP);
            let mut ow0 = 0;
            for s in 0..strips {
                let width = w.out_w / strips + usize::from(s < w.out_w % strips);
                widths_8!(width, strip::<KH, KW, _, MASKED>(w, x, &wk, start, &stores, c0, ow0));
                ow0 += width;
            }
        }

        /// How [`stride1_block`] stores a channel block's sums.
        struct Stores {
            floor: V,
            /// The scale and shift applied first, if any.
            scaled: Option<(V, V)>,
            out: *mut E,
            /// The lanes stored.
            m: M,
        }

        /// Output columns `ow0..ow0 + W` of every row, channels `c0..` (the
        /// lanes `st.m` selects), `wk` the block's weights.
        #[inline(always)]
        unsafe fn strip<const KH: usize, const KW: usize, const W: usize, const MASKED: bool>(
            w: &Window,
            x: *const E,
            wk: &[[V; KW]; KH],
            start: V,
            st: &Stores,
            c0: usize,
            ow0: usize,
        ) {
            let (c, m) = (w.channels, st.m);
            for oh in 0..w.out_h {
                let mut acc = [start; W];
                for (i, wr) in wk.iter().enumerate() {
                    // Input row `oh + i − pad_top`: none (padding) above or
                    // below the input, where the subtraction wraps.
                    let r = (oh + i).wrapping_sub(w.pad_top);
                    if r >= w.in_h {
                        continue;
                    }
                    let line = x.add(r * w.in_w * c + c0);
                    for s in 0..W + KW - 1 {
                        let q = (ow0 + s).wrapping_sub(w.pad_left);
                        if q >= w.in_w {
                            continue;
                        }
                        let xv = get::<MASKED>(line.add(q * c), m);
                        // Tap `j` of output column `ow0 + s − j`, when that
                        // is in the strip (known at compile time).
                        for (j, &wv) in wr.iter().enumerate() {
                            if let Some(a) = s.checked_sub(j).and_then(|t| acc.get_mut(t)) {
                                *a = fma(xv, wv, *a);
                            }
                        }
                    }
                }
                let o = st.out.add((oh * w.out_w + ow0) * c + c0);
                for (t, &a) in acc.iter().enumerate() {
                    let a = match st.scaled {
                        Some((scale, shift)) => fma(a, scale, shift),
                        None => a,
                    };
                    // `max` returns its second operand when either is NaN.
                    put::<MASKED>(o.add(t * c), m, max(st.floor, a));
                }
            }
        }
    };
}

/// `match width` calling `f::<KH, KW, width, MASKED>(…)` for each strip
/// width up to 4 (the first half of `widths_8`) or 8.
macro_rules! widths_4 {
    ($width:expr, $f:ident::<$kh:ident, $kw:ident, _, $m:ident>($($arg:expr),*)) => {
        match $width {
            1 => $f::<$kh, $kw, 1, $m>($($arg),*),
            2 => $f::<$kh, $kw, 2, $m>($($arg),*),
            3 => $f::<$kh, $kw, 3, $m>($($arg),*),
            _ => $f::<$kh, $kw, 4, $m>($($arg),*),
        }
    };
}

macro_rules! widths_8 {
    ($width:expr, $f:ident::<$kh:ident, $kw:ident, _, $m:ident>($($arg:expr),*)) => {
        match $width {
            1..=4 => widths_4!($width, $f::<$kh, $kw, _, $m>($($arg),*)),
            5 => $f::<$kh, $kw, 5, $m>($($arg),*),
            6 => $f::<$kh, $kw, 6, $m>($($arg),*),
            7 => $f::<$kh, $kw, 7, $m>($($arg),*),
            _ => $f::<$kh, $kw, 8, $m>($($arg),*),
        }
    };
}

/// The AVX2+FMA loops.
pub(crate) mod avx2 {
    pub(crate) mod f32 {
        window_body!(avx2::f32, "avx2,fma", 8 sums);
    }

    pub(crate) mod f64 {
        window_body!(avx2::f64, "avx2,fma", 8 sums);
    }
}

/// The AVX-512F loops: the same with twice the lanes.
pub(crate) mod avx512 {
    pub(crate) mod f32 {
        window_body!(avx512::f32, "avx512f,avx2,fma", 16 sums);
        stride1_body!(avx512::f32, "avx512f,avx2,fma");
    }

    pub(crate) mod f64 {
        window_body!(avx512::f64, "avx512f,avx2,fma", 16 sums);
        stride1_body!(avx512::f64, "avx512f,avx2,fma");
    }
}
