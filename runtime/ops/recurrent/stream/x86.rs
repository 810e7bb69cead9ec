//! The `f32` step of the cells with Keras's default activations (tanh,
//! sigmoid) on x86-64, written with AVX-512F or AVX2+FMA intrinsics: a
//! step is a chain of latencies (recurrent product, gates, candidate, new
//! `h`), and the generic loops leave it long (no FMA, each row's sums one
//! chain of dependent adds).
//!
//! The units are taken one vector (`L` units) at a time, a group: its rows
//! of every gate are summed in registers, in `S` sets that take the
//! columns in turn (so the dependent FMAs of a row are `U / S`, not `U`),
//! then added, and the gates finish in registers. The products are bound
//! by the FMA units' throughput, so in a step of one group they run a gate
//! at a time, in the order the chain needs them, and the first gate's
//! activation overlaps the others' products (with several groups, fewer
//! passes over `h` measured faster; whole groups go in pairs, a pair's
//! products together, then its gates). A group's inputs and biases start its sums, so
//! only the recurrent columns wait on `h`; GRU's candidate keeps its
//! input part apart, as `r` multiplies only the recurrent one. Sigmoid and
//! tanh are [`math`](super::super::math)'s (the same polynomial), evaluated
//! with FMA and the range reduction's second part folded into the power
//! of two (within 4 ulp, as `math`'s). AVX-512 takes multiples of 16
//! units; the AVX2 kernels take the rest up to 16 KB of recurrent kernel
//! (past it the generic loops were faster, but for whole pairs of groups),
//! the units past the last whole vector through masks. Results differ from the generic loops' by
//! rounding only (FMA, the order of the sums).
// Pointers and sizes: the caller (`stream`) cut every slice to its length.
#![allow(unsafe_op_in_unsafe_fn)]

use super::Sizes;
use crate::cpu::{level, Level};

/// What a step reads and writes, cut to its sizes by the caller: `kernel`
/// `gates·u × f` and `rk` `gates·u × u` (column-major), the biases of
/// `gates·u` values or null (`bias_rec`: GRU only), `x` `f` values, `h`,
/// `out` and (LSTM) `c` `u` values.
#[derive(Clone, Copy)]
pub(super) struct Ptrs {
    pub kernel: *const f32,
    pub rk: *const f32,
    pub bias_in: *const f32,
    pub bias_rec: *const f32,
    pub x: *const f32,
    pub h: *mut f32,
    pub c: *mut f32,
    pub out: *mut f32,
}

/// Runs the step for a cell of `GATES` gates (1 SimpleRNN, 3 GRU, 4 LSTM)
/// with the default activations; false, having done nothing, on a CPU
/// without AVX2 and FMA (or when they are turned off).
///
/// # Safety
/// `p` must hold what [`Ptrs`] describes for these sizes.
#[inline(always)]
pub(super) unsafe fn step<const GATES: usize, D: Sizes>(d: D, p: &Ptrs) -> bool {
    match level() {
        Level::Portable => return false,
        // SAFETY: the CPU has AVX-512F.
        Level::Avx512 if d.u().is_multiple_of(avx512::L) => avx512::step::<GATES, D>(d, p),
        // A group of AVX2's reads half of each cache line of the weights,
        // so where they do not stay in L1 (past 16 KB), every line comes
        // from L2 twice a step: GRU(64) measured 805 ns on the generic
        // loops, 918 here. Groups in pairs read whole lines (555 ns).
        _ if GATES * d.u() * d.u() > 4096 && !(GATES > 1 && d.u().is_multiple_of(2 * avx2::L)) => return false,
        // SAFETY: the CPU has AVX2 and FMA (AVX-512F implies them).
        _ => avx2::step::<GATES, D>(d, p),
    }
    true
}

/// The batch forward's gate arithmetic for one sample and step of a cell
/// with the default activations, `cells::lstm` or `cells::gru` without
/// `SAVE` (GRU: `reset_after`), with FMA. `p` (`GATES·u`: the input
/// projections with their bias) and `rec` (`GATES·u`: the recurrent
/// products) give the gates, which replace `p` (LSTM i, f, g, o; GRU z, r,
/// h̃); `state` (`u`) is LSTM's `c`, made the new cell state, or GRU's
/// previous `h`, read only; `h_new` (`u`) gets the new `h`. False, having
/// done nothing, on a CPU without AVX2 and FMA (or when they are turned
/// off).
///
/// # Safety
/// `GATES` is 3 or 4; the pointers must hold those lengths, `p`, `state`
/// and `h_new` apart.
#[inline(always)]
pub(in crate::ops::recurrent) unsafe fn batch_gates<const GATES: usize>(
    u: usize,
    p: *mut f32,
    rec: *const f32,
    state: *mut f32,
    h_new: *mut f32,
) -> bool {
    match level() {
        Level::Portable => return false,
        // SAFETY: the CPU has AVX-512F.
        Level::Avx512 if u >= avx512::L => avx512::batch_gates::<GATES>(u, p, rec, state, h_new),
        // SAFETY: the CPU has AVX2 and FMA (AVX-512F implies them).
        _ => avx2::batch_gates::<GATES>(u, p, rec, state, h_new),
    }
    true
}

/// The constants of `math`'s `f32` functions (see there).
const LOG2E: f32 = core::f32::consts::LOG2_E;
const SHIFTER: f32 = 12_582_912.0; // 1.5·2^23
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// The step of one width, its kernels compiled with the features `$feat`:
/// `$budget` vectors of sums per group (the rest of the registers hold the
/// weights and the gate arithmetic).
macro_rules! step_body {
    ($feat:literal, $budget:expr) => {
        // The products of the `$n` columns of the matrix at `$a` (its
        // columns `g` apart; of each gate's `u` rows, the units `u0..` in
        // the lanes `m`) for the gates `$gates`: `$acc[j % $s][kind(k)]
        // += column j's rows of gate k · the value `$bcast` broadcasts for
        // column `$j` (`$kind` maps a gate to its sum).
        macro_rules! columns {
            ($acc:ident, $s:expr, $tail:expr, ($g:expr, $u:expr, $u0:expr, $m:expr), $a:expr, $n:expr, $gates:expr, $kind:expr, $j:ident => $bcast:expr) => {{
                let (a, n, gates, kind_of) = ($a, $n, $gates, $kind);
                // Column `$j` into set `set`.
                macro_rules! column {
                    ($set:expr, $col:expr) => {{
                        let (set, $j) = ($set, $col);
                        let vj = $bcast;
                        let col = a.add($j * $g + $u0);
                        for &k in gates {
                            let w = ld::<$tail>(col.add(k * $u), $m);
                            $acc[set][kind_of(k)] = fma(w, vj, $acc[set][kind_of(k)]);
                        }
                    }};
                }
                let mut j = 0;
                while j + $s <= n {
                    for set in 0..$s {
                        column!(set, j + set);
                    }
                    j += $s;
                }
                for set in 0..$s {
                    if j + set < n {
                        column!(set, j + set);
                    }
                }
            }};
        }

        /// See [`super::step`].
        ///
        /// # Safety
        /// The CPU must have the module's features, `p` as `super::step`.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn step<const GATES: usize, D: Sizes>(d: D, p: &Ptrs) {
            let u = d.u();
            // Sums per group: GRU's candidate has two.
            let kinds = if GATES == 1 { 1 } else { 4 };
            // (LSTM with several groups: two sets measured faster, 164
            // ns against 172–200 for LSTM(32).)
            let sets = if kinds * 4 <= $budget && u >= 4 && (GATES != 4 || u <= L) {
                4
            } else if kinds * 2 <= $budget && u >= 2 {
                2
            } else {
                1
            };
            macro_rules! groups {
                ($cell:literal, $kinds:literal, $sets:literal) => {
                    groups::<$cell, $kinds, $sets, D>(d, p)
                };
            }
            match (GATES, sets) {
                (1, 4) => groups!(1, 1, 4),
                (1, 2) => groups!(1, 1, 2),
                (1, _) => groups!(1, 1, 1),
                (3, 4) => groups!(3, 4, 4),
                (3, 2) => groups!(3, 4, 2),
                (3, _) => groups!(3, 4, 1),
                (_, 4) => groups!(4, 4, 4),
                (_, 2) => groups!(4, 4, 2),
                _ => groups!(4, 4, 1),
            }
        }

        /// The groups of [`step`] (`KINDS` sums per unit in `S` sets, see
        /// [`sums`]). One group writes `h` as it goes; with several, every
        /// group reads the whole old `h`, which then changes at the end.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn groups<const GATES: usize, const KINDS: usize, const S: usize, D: Sizes>(d: D, p: &Ptrs) {
            let u = d.u();
            let (whole, tail) = (u / L, u % L);
            if whole + (tail > 0) as usize == 1 {
                match tail {
                    0 => finish::<GATES, KINDS, S, false>(sums::<GATES, KINDS, S, false, D>(d, 0, L, p), 0, L, p, true),
                    _ => finish::<GATES, KINDS, S, true>(
                        sums::<GATES, KINDS, S, true, D>(d, 0, tail, p),
                        0,
                        tail,
                        p,
                        true,
                    ),
                }
                return;
            }
            // Whole groups in pairs: a pair's products in one pass over
            // `h`, then its gates (with AVX-512, only two groups: four
            // measured slower so, GRU(64) 471 → 498 ns).
            if GATES != 1 && tail == 0 && whole % 2 == 0 && (whole == 2 || $budget < 16) {
                // One pair reads `h` before it writes it.
                let one_pair = whole == 2;
                for u0 in (0..u).step_by(2 * L) {
                    let [a, b] = both::<GATES, KINDS, D>(d, u0, p);
                    if $budget >= 16 {
                        finish::<GATES, KINDS, 1, false>([a], u0, L, p, one_pair);
                        finish::<GATES, KINDS, 1, false>([b], u0 + L, L, p, one_pair);
                    } else {
                        finish_apart::<GATES, KINDS>(a, u0, p, one_pair);
                        finish_apart::<GATES, KINDS>(b, u0 + L, p, one_pair);
                    }
                }
                if !one_pair {
                    copy(p.out, p.h, u);
                }
                return;
            }
            for k in 0..whole {
                group::<GATES, KINDS, S, false, D>(d, k * L, L, p);
            }
            if tail > 0 {
                group::<GATES, KINDS, S, true, D>(d, whole * L, tail, p);
            }
            copy(p.out, p.h, u);
        }

        /// One of several groups, [`sums`] (their sets added at once, to
        /// free registers for the gates) then [`finish`], the new `h` to
        /// `out`. Not inlined: in a loop over groups, the constants would
        /// be hoisted out of it, all live at once, and spilled. (Each
        /// group's products ahead of the gates of the one before measured
        /// slower, as did keeping every group's results in registers until
        /// the end, but for groups in pairs: [`both`].)
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn group<const GATES: usize, const KINDS: usize, const S: usize, const TAIL: bool, D: Sizes>(
            d: D,
            u0: usize,
            live: usize,
            p: &Ptrs,
        ) {
            let sums = reduce(sums::<GATES, KINDS, S, TAIL, D>(d, u0, live, p));
            finish::<GATES, KINDS, 1, TAIL>([sums], u0, live, p, false);
        }

        /// The sums of one group: units `u0..u0 + live` (`live` is `L`
        /// unless `TAIL`) of a cell of `GATES` gates, `KINDS` sums per unit
        /// (GRU: z, r, the candidate's recurrent part, its input part),
        /// each summed in `S` sets.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn sums<const GATES: usize, const KINDS: usize, const S: usize, const TAIL: bool, D: Sizes>(
            d: D,
            u0: usize,
            live: usize,
            p: &Ptrs,
        ) -> [[V; KINDS]; S] {
            let (u, m) = (d.u(), mask_of(live));
            let g = GATES * u;
            let mut acc = start::<GATES, KINDS, S, TAIL, D>(d, u0, live, p);
            // With one group, the inputs and biases join the sums at the
            // end rather than start them, so that the recurrent chain waits
            // on no load but `h`'s (GRU(16) in the full bench measured
            // 51–57 ns this way, 59–60 the other, at some addresses;
            // slower with several groups).
            let single = u <= L;
            let mut xb = acc[0];
            if single {
                for set in &acc[1..] {
                    for (x, &a) in xb.iter_mut().zip(set) {
                        *x = add(*x, a);
                    }
                }
                acc = [[zero(); KINDS]; S];
            }
            // The recurrent products a gate at a time, in the order the
            // chain needs them (GRU: r, whose sigmoid the candidate waits
            // on, the candidate's, then z; LSTM: i, the candidate, f, o):
            // they are bound by the FMA units' throughput, and the first
            // gate's activation then starts while the others' FMAs run.
            let h_old = p.h as *const f32;
            macro_rules! gate {
                ($k:literal) => {
                    columns!(acc, S, TAIL, (g, u, u0, m), p.rk, u, &[$k], |k: usize| k, j => splat(*h_old.add(j)))
                };
            }
            match GATES {
                1 => gate!(0),
                // With several groups, fewer passes measured faster: GRU
                // two (the chain's two gates together), LSTM one.
                3 if u > L => {
                    columns!(acc, S, TAIL, (g, u, u0, m), p.rk, u, &[1, 2], |k: usize| k, j => splat(*h_old.add(j)));
                    gate!(0);
                }
                3 => {
                    gate!(1);
                    gate!(2);
                    gate!(0);
                }
                _ if u > L => {
                    columns!(acc, S, TAIL, (g, u, u0, m), p.rk, u, &[0, 2, 1, 3], |k: usize| k, j => splat(*h_old.add(j)));
                }
                _ => {
                    gate!(0);
                    gate!(2);
                    gate!(1);
                    gate!(3);
                }
            }
            if single {
                for (a, &x) in acc[S - 1].iter_mut().zip(&xb) {
                    *a = add(*a, x);
                }
            }
            acc
        }

        /// What starts a group's [`sums`]: its biases and input products,
        /// the input columns in the `S` sets in turn (GRU: the candidate's
        /// apart, as `r` multiplies only its recurrent part).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn start<const GATES: usize, const KINDS: usize, const S: usize, const TAIL: bool, D: Sizes>(
            d: D,
            u0: usize,
            live: usize,
            p: &Ptrs,
        ) -> [[V; KINDS]; S] {
            let (f, u) = (d.f(), d.u());
            let g = GATES * u;
            let m = mask_of(live);
            let input_kind = |k: usize| if GATES == 3 && k == 2 { 3 } else { k };
            let mut acc = [[zero(); KINDS]; S];
            // The biases start the first set.
            for k in 0..GATES {
                let row = k * u + u0;
                if !p.bias_in.is_null() {
                    acc[0][input_kind(k)] = ld::<TAIL>(p.bias_in.add(row), m);
                }
                if !p.bias_rec.is_null() {
                    acc[0][k] = add(acc[0][k], ld::<TAIL>(p.bias_rec.add(row), m));
                }
            }
            let all: &[usize] = &[0, 1, 2, 3][..GATES];
            columns!(acc, S, TAIL, (g, u, u0, m), p.kernel, f, all, input_kind, j => splat(*p.x.add(j)));
            acc
        }

        /// The sums of the two whole groups from unit `u0`, as [`sums`]'s
        /// in one set, in one pass over `h`: each `h` value, broadcast
        /// once, serves both groups' rows, which fill whole cache lines
        /// with AVX2. With AVX-512, LSTM(32) 158 → 149 ns against a group
        /// at a time, GRU(32) 122 → 112; with AVX2, GRU(16) 81 → 62,
        /// GRU(32) 200 → 146, LSTM(16) 100 → 79.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn both<const GATES: usize, const KINDS: usize, D: Sizes>(d: D, u0: usize, p: &Ptrs) -> [[V; KINDS]; 2] {
            let u = d.u();
            let g = GATES * u;
            let mut acc = [start::<GATES, KINDS, 1, false, D>(d, u0, L, p)[0], start::<GATES, KINDS, 1, false, D>(d, u0 + L, L, p)[0]];
            let h_old = p.h as *const f32;
            for j in 0..u {
                let vj = splat(*h_old.add(j));
                let col = p.rk.add(j * g);
                for (k0, acc) in acc.iter_mut().enumerate() {
                    for k in 0..GATES {
                        acc[k] = fma(load(col.add(k * u + u0 + k0 * L)), vj, acc[k]);
                    }
                }
            }
            acc
        }

        /// The gates of one group from its [`sums`]: the new `h` goes to
        /// `out`, and to `h` too when `to_h`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn finish<const GATES: usize, const KINDS: usize, const S: usize, const TAIL: bool>(
            acc: [[V; KINDS]; S],
            u0: usize,
            live: usize,
            p: &Ptrs,
            to_h: bool,
        ) {
            let m = mask_of(live);
            // The sets added where they are used.
            macro_rules! sum {
                ($kind:expr) => {
                    set_sum(&acc, $kind)
                };
            }
            let one = splat(1.0);
            let h_new = match GATES {
                1 => tanh(sum!(0)),
                3 => {
                    let h_old = ld::<TAIL>(p.h.add(u0), m);
                    if to_h {
                        // When this group is the whole step: `r` first (its
                        // sigmoid starts the chain), and `r·rec` as one
                        // division by its denominator. (z first and `r` a
                        // division of its own measured faster with several
                        // groups.)
                        let r_den = sigmoid_den(sum!(1));
                        let z = sigmoid(sum!(0));
                        let (zh, keep) = (mul(z, h_old), sub(one, z));
                        let cand = tanh(add(div(sum!(2), r_den), sum!(3)));
                        fma(keep, cand, zh)
                    } else {
                        let (z, r) = (sigmoid(sum!(0)), sigmoid(sum!(1)));
                        // `z·h` and `1 − z` wait on `z` only, so the last
                        // step after the candidate is one FMA.
                        let (zh, keep) = (mul(z, h_old), sub(one, z));
                        let cand = tanh(fma(r, sum!(2), sum!(3)));
                        fma(keep, cand, zh)
                    }
                }
                _ => {
                    // `i·g` and `o·tanh c` as one division each, of the
                    // denominators' product.
                    let c_old = ld::<TAIL>(p.c.add(u0), m);
                    if to_h {
                        // `o` last where this group is the whole step: the
                        // older instructions go first, and the chain's are
                        // the others (LSTM(16) 77 → 72 ns; with several
                        // groups, 161 → 205).
                        let i = sigmoid_den(sum!(0));
                        let (g_num, g_den) = tanh_parts(sum!(2));
                        let fg = sigmoid(sum!(1));
                        let c = fma(fg, c_old, div(g_num, mul(i, g_den)));
                        st::<TAIL>(p.c.add(u0), live, c);
                        let (t_num, t_den) = tanh_parts(c);
                        let o = sigmoid_den(sum!(3));
                        div(t_num, mul(o, t_den))
                    } else {
                        let (i, fg, o) = (sigmoid_den(sum!(0)), sigmoid(sum!(1)), sigmoid_den(sum!(3)));
                        let (g_num, g_den) = tanh_parts(sum!(2));
                        let c = fma(fg, c_old, div(g_num, mul(i, g_den)));
                        st::<TAIL>(p.c.add(u0), live, c);
                        let (t_num, t_den) = tanh_parts(c);
                        div(t_num, mul(o, t_den))
                    }
                }
            };
            st::<TAIL>(p.out.add(u0), live, h_new);
            if to_h {
                st::<TAIL>(p.h.add(u0), live, h_new);
            }
        }

        /// [`finish`] of one group of a pair, out of line: with AVX2's
        /// sixteen registers, the two groups' gates interleaved spill
        /// (GRU(16) 85 ns inlined, 62 so).
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn finish_apart<const GATES: usize, const KINDS: usize>(acc: [V; KINDS], u0: usize, p: &Ptrs, to_h: bool) {
            finish::<GATES, KINDS, 1, false>([acc], u0, L, p, to_h);
        }

        /// The sets of sums added pairwise, every kind.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn reduce<const KINDS: usize, const S: usize>(acc: [[V; KINDS]; S]) -> [V; KINDS] {
            let mut out = [zero(); KINDS];
            for (k, out) in out.iter_mut().enumerate() {
                *out = set_sum(&acc, k);
            }
            out
        }

        /// Kind `k`'s `S` sets of sums added pairwise.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn set_sum<const KINDS: usize, const S: usize>(acc: &[[V; KINDS]; S], k: usize) -> V {
            match S {
                4 => add(add(acc[0][k], acc[1][k]), add(acc[2][k], acc[3][k])),
                2 => add(acc[0][k], acc[1][k]),
                _ => acc[0][k],
            }
        }

        /// `n` values from `src` to `dst`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn copy(src: *const f32, dst: *mut f32, n: usize) {
            let mut i = 0;
            while i + L <= n {
                storeu(dst.add(i), load(src.add(i)));
                i += L;
            }
            while i < n {
                *dst.add(i) = *src.add(i);
                i += 1;
            }
        }

        /// `L` values at `p`, or (`TAIL`) the lanes `m` selects, the rest
        /// zero.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn ld<const TAIL: bool>(p: *const f32, m: M) -> V {
            if TAIL {
                mload(p, m)
            } else {
                load(p)
            }
        }

        /// Stores `L` values at `p`, or (`TAIL`) the first `live`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn st<const TAIL: bool>(p: *mut f32, live: usize, x: V) {
            if TAIL {
                mstore(p, mask_of(live), x)
            } else {
                storeu(p, x)
            }
        }

        /// `e^y = s·(1 + r·q(r))` as `(s, s·r, q(r))` for `y` already
        /// clamped, given `t = y·log2 e + SHIFTER` (which the caller
        /// folds into its clamp's multiply). The range reduction's second
        /// part (`n·ln2_lo`, below 2e-4) scales `s` by `1 − n·ln2_lo`
        /// beside the polynomial instead of coming before it: the error
        /// left, `(n·ln2_lo)²/2`, is below a third of an ulp, and one FMA
        /// leaves the chain.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn exp_parts(y: V, t: V) -> (V, V, V) {
            let n = sub(t, splat(SHIFTER));
            let r = fnmadd(n, splat(LN2_HI), y);
            // `math::poly_f32` in Estrin's scheme, with FMA.
            let r2 = mul(r, r);
            let a = fma(r, splat(1.0 / 2.0), splat(1.0));
            let b = fma(r, splat(1.0 / 24.0), splat(1.0 / 6.0));
            let c = fma(r2, splat(1.0 / 5040.0), fma(r, splat(1.0 / 720.0), splat(1.0 / 120.0)));
            let q = fma(mul(r2, r2), c, fma(r2, b, a));
            let s = pow2_of_shifted(t);
            let s = fnmadd(s, mul(n, splat(LN2_LO)), s);
            (s, mul(s, r), q)
        }

        /// `1 / (1 + e^−x)`, as `math::sigmoid`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn sigmoid(x: V) -> V {
            div(splat(1.0), sigmoid_den(x))
        }

        /// `1 + e^−x`, the sigmoid's denominator (where a product of
        /// fractions can share one division).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn sigmoid_den(x: V) -> V {
            // Clamped with `x` second, so that a NaN stays.
            let x = max(splat(-88.0), min(splat(88.0), x));
            let (s, sr, q) = exp_parts(neg(x), fma(x, splat(-LOG2E), splat(SHIFTER)));
            fma(sr, q, add(s, splat(1.0)))
        }

        /// `tanh x`, as `math::tanh`: `(1 − e^−2|x|) / (1 + e^−2|x|)`
        /// with the sign of `x`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn tanh(x: V) -> V {
            let (num, den) = tanh_parts(x);
            div(num, den)
        }

        /// [`tanh`] as a fraction, the sign on the numerator.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn tanh_parts(x: V) -> (V, V) {
            let a = min(splat(44.0), abs(x));
            let (s, sr, q) = exp_parts(mul(a, splat(-2.0)), fma(a, splat(-2.0 * LOG2E), splat(SHIFTER)));
            let num = fnmadd(sr, q, sub(splat(1.0), s));
            (with_sign_of(num, x), fma(sr, q, add(s, splat(1.0))))
        }

        /// See [`super::batch_gates`].
        ///
        /// # Safety
        /// The CPU must have the module's features; pointers as
        /// `super::batch_gates`.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn batch_gates<const GATES: usize>(
            u: usize,
            p: *mut f32,
            rec: *const f32,
            state: *mut f32,
            h_new: *mut f32,
        ) {
            let mut k = 0;
            while k < u {
                let live = (u - k).min(L);
                match (GATES, live == L) {
                    (4, true) => lstm_lanes::<false>(u, k, live, p, rec, state, h_new),
                    (4, false) => lstm_lanes::<true>(u, k, live, p, rec, state, h_new),
                    (_, true) => gru_lanes::<false>(u, k, live, p, rec, state, h_new),
                    (_, false) => gru_lanes::<true>(u, k, live, p, rec, state, h_new),
                }
                k += L;
            }
        }

        /// [`batch_gates`] of an LSTM for the units `k..k + live`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn lstm_lanes<const TAIL: bool>(
            u: usize,
            k: usize,
            live: usize,
            p: *mut f32,
            rec: *const f32,
            c: *mut f32,
            h_new: *mut f32,
        ) {
            let m = mask_of(live);
            let pre = |gate: usize| add(ld::<TAIL>(p.add(gate * u + k), m), ld::<TAIL>(rec.add(gate * u + k), m));
            let (i, f, g, o) = (sigmoid(pre(0)), sigmoid(pre(1)), tanh(pre(2)), sigmoid(pre(3)));
            let c_new = fma(f, ld::<TAIL>(c.add(k), m), mul(i, g));
            st::<TAIL>(c.add(k), live, c_new);
            st::<TAIL>(h_new.add(k), live, mul(o, tanh(c_new)));
            for (gate, v) in [i, f, g, o].into_iter().enumerate() {
                st::<TAIL>(p.add(gate * u + k), live, v);
            }
        }

        /// [`batch_gates`] of a GRU for the units `k..k + live`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn gru_lanes<const TAIL: bool>(
            u: usize,
            k: usize,
            live: usize,
            p: *mut f32,
            rec: *const f32,
            h: *const f32,
            h_new: *mut f32,
        ) {
            let m = mask_of(live);
            let (pz, pr, ph) = (p.add(k), p.add(u + k), p.add(2 * u + k));
            let z = sigmoid(add(ld::<TAIL>(pz, m), ld::<TAIL>(rec.add(k), m)));
            let r = sigmoid(add(ld::<TAIL>(pr, m), ld::<TAIL>(rec.add(u + k), m)));
            let cand = tanh(fma(r, ld::<TAIL>(rec.add(2 * u + k), m), ld::<TAIL>(ph, m)));
            // z·h + (1 − z)·h̃
            let keep = sub(splat(1.0), z);
            st::<TAIL>(h_new.add(k), live, fma(keep, cand, mul(z, ld::<TAIL>(h.add(k), m))));
            st::<TAIL>(pz, live, z);
            st::<TAIL>(pr, live, r);
            st::<TAIL>(ph, live, cand);
        }

        /// [`sigmoid`] and [`tanh`] of `x` (whole vectors), for the tests.
        #[cfg(test)]
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn activations(x: &[f32], sig: &mut [f32], th: &mut [f32]) {
            for i in (0..x.len()).step_by(L) {
                let v = load(x.as_ptr().add(i));
                storeu(sig.as_mut_ptr().add(i), sigmoid(v));
                storeu(th.as_mut_ptr().add(i), tanh(v));
            }
        }
    };
}

/// AVX2+FMA: 8 lanes, 16 registers. The lane operations are the matrix
/// kernels' (`kernels::x86`), but for the three the activations add.
mod avx2 {
    use super::{Ptrs, Sizes};
    use super::{LN2_HI, LN2_LO, LOG2E, SHIFTER};
    pub(super) use crate::kernels::x86::avx2::f32::L;
    use crate::kernels::x86::avx2::f32::{
        abs, add, div, fma, fnmadd, load, mask_of, max, min, mload, mstore, mul, splat, storeu, sub, zero, M, V,
    };
    use core::arch::x86_64::*;

    crate::kernels::x86::lane_ops! { "avx2,fma";
        fn neg(x: V) -> V = _mm256_xor_ps(x, _mm256_set1_ps(-0.0));
        fn with_sign_of(x: V, s: V) -> V = _mm256_or_ps(x, _mm256_and_ps(s, _mm256_set1_ps(-0.0)));
        fn pow2_of_shifted(t: V) -> V = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_castps_si256(t),
            _mm256_set1_epi32(127i32.wrapping_sub(SHIFTER.to_bits() as i32)),
        )));
    }

    step_body!("avx2,fma", 8);
}

/// AVX-512F: 16 lanes, 32 registers, the lane operations as [`avx2`]'s.
mod avx512 {
    use super::{Ptrs, Sizes};
    use super::{LN2_HI, LN2_LO, LOG2E, SHIFTER};
    pub(super) use crate::kernels::x86::avx512::f32::L;
    use crate::kernels::x86::avx512::f32::{
        abs, add, div, fma, fnmadd, load, mask_of, max, min, mload, mstore, mul, splat, storeu, sub, zero, M, V,
    };
    use core::arch::x86_64::*;

    crate::kernels::x86::lane_ops! { "avx512f,avx2,fma";
        fn neg(x: V) -> V = _mm512_castsi512_ps(_mm512_xor_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN)));
        fn with_sign_of(x: V, s: V) -> V = _mm512_castsi512_ps(_mm512_or_epi32(
            _mm512_castps_si512(x),
            _mm512_and_epi32(_mm512_castps_si512(s), _mm512_set1_epi32(i32::MIN)),
        ));
        fn pow2_of_shifted(t: V) -> V = _mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(
            _mm512_castps_si512(t),
            _mm512_set1_epi32(127i32.wrapping_sub(SHIFTER.to_bits() as i32)),
        )));
    }

    step_body!("avx512f,avx2,fma", 16);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector sigmoid and tanh of every width this CPU runs, within a
    /// few ulp of the exact values (f64's libm), as `math`'s, and at the
    /// edges: infinities, NaN, signed zeros.
    #[test]
    fn activations_match_libm() {
        let mut x: Vec<f32> =
            (-200_000..=200_000).map(|i| (i as f64 * 1e-4 * (1.0 + (i as f64).abs() * 1e-5)) as f32).collect();
        x.extend([0.0, -0.0, 1e-30, -1e-30, 88.0, -88.0, 100.0, -100.0, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]);
        x.resize(x.len().next_multiple_of(16), 0.5);
        let check = |name: &str, run: unsafe fn(&[f32], &mut [f32], &mut [f32])| {
            let (mut sig, mut th) = (vec![0.0; x.len()], vec![0.0; x.len()]);
            // SAFETY: the caller runs only the widths this CPU has.
            unsafe { run(&x, &mut sig, &mut th) };
            let mut worst = [0.0f64; 2];
            for ((&x, &s), &t) in x.iter().zip(&sig).zip(&th) {
                let xd = x as f64;
                let (want_s, want_t) = (1.0 / (1.0 + (-xd).exp()), xd.tanh());
                if x.is_nan() {
                    assert!(s.is_nan() && t.is_nan(), "{name}: NaN");
                    continue;
                }
                let ulp = |got: f32, want: f64| {
                    (got as f64 - want).abs() / want.abs().max(f64::MIN_POSITIVE) / f32::EPSILON as f64
                };
                if want_s > 1e-37 {
                    worst[0] = worst[0].max(ulp(s, want_s));
                } else {
                    assert!((0.0..1e-37).contains(&s), "{name}: sigmoid({x}) = {s}");
                }
                worst[1] = worst[1].max(ulp(t, want_t));
                assert_eq!(t.is_sign_negative(), x.is_sign_negative(), "{name}: the sign of tanh({x})");
            }
            assert!(worst.iter().all(|&w| w < 4.0), "{name}: worst errors in ulp (sigmoid, tanh): {worst:?}");
        };
        if level() == Level::Avx512 {
            check("avx512", avx512::activations);
        }
        if level() != Level::Portable {
            check("avx2", avx2::activations);
        }
    }
}
