//! The `f32` step of the cells with Keras's default activations (tanh,
//! sigmoid) on x86-64, written with AVX-512F or AVX2+FMA intrinsics: a
//! step is a chain of latencies (recurrent product, gates, candidate, new
//! `h`), and the generic loops leave it long (no FMA, each row's sums one
//! chain of dependent adds).
//!
//! The units are taken one vector (`L` units) at a time, a group: its rows
//! of every gate are summed in registers, in `S` sets that take the
//! columns in turn (so the dependent FMAs of a row are `U / S`, not `U`),
//! then added, and the gates finish in registers. A group's inputs and
//! biases start its sums, so only the recurrent columns wait on `h`; GRU's
//! candidate keeps its input part apart, as `r` multiplies only the
//! recurrent one. Sigmoid and tanh are [`math`](super::super::math)'s (the
//! same range reduction and polynomial) evaluated with FMA. The units past
//! the last whole vector (AVX2 only: AVX-512 takes multiples of 16) load
//! and store through masks.
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
        Level::Avx512 if d.u() % avx512::L == 0 => avx512::step::<GATES, D>(d, p),
        // SAFETY: the CPU has AVX2 and FMA (AVX-512F implies them).
        _ => avx2::step::<GATES, D>(d, p),
    }
    true
}

/// The constants of `math`'s `f32` functions (see there).
const LOG2E: f32 = core::f32::consts::LOG2_E;
const SHIFTER: f32 = 12_582_912.0; // 1.5·2^23
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;

/// The step of one width: `$v` vectors of `$l` lanes, `$m` a lane mask;
/// `$budget` vectors of sums per group (the rest of the registers hold the
/// weights and the gate arithmetic).
macro_rules! step_body {
    ($feat:literal, $budget:expr) => {
        /// See [`super::step`].
        ///
        /// # Safety
        /// The CPU must have the module's features, `p` as `super::step`.
        #[target_feature(enable = $feat)]
        pub(super) unsafe fn step<const GATES: usize, D: Sizes>(d: D, p: &Ptrs) {
            let u = d.u();
            // Sums per group: GRU's candidate has two.
            let kinds = if GATES == 1 { 1 } else { 4 };
            let sets = if kinds * 4 <= $budget && u >= 4 {
                4
            } else if kinds * 2 <= $budget && u >= 2 {
                2
            } else {
                1
            };
            let (whole, tail) = (u / L, u % L);
            let alone = whole + (tail > 0) as usize == 1;
            // One group writes `h` as it goes; with several, every group
            // reads the whole old `h`, which then changes at the end.
            macro_rules! groups {
                ($cell:literal, $kinds:literal, $sets:literal) => {{
                    for k in 0..whole {
                        group::<$cell, $kinds, $sets, false, D>(d, k * L, L, p, alone);
                    }
                    if tail > 0 {
                        group::<$cell, $kinds, $sets, true, D>(d, whole * L, tail, p, alone);
                    }
                }};
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
            if !alone {
                copy(p.out, p.h, u);
            }
        }

        /// One group: units `u0..u0 + live` (`live` is `L` unless `TAIL`)
        /// of a cell of `GATES` gates, `KINDS` sums per unit (GRU: z, r,
        /// the candidate's recurrent part, its input part), each in `S`
        /// sets. The new `h` goes to `out`, and to `h` too when `to_h`.
        // Not inlined: in a loop over groups, the constants and the
        // broadcasts of `h` would be hoisted out of it, all live at once,
        // and spilled.
        #[inline(never)]
        #[target_feature(enable = $feat)]
        unsafe fn group<const GATES: usize, const KINDS: usize, const S: usize, const TAIL: bool, D: Sizes>(
            d: D,
            u0: usize,
            live: usize,
            p: &Ptrs,
            to_h: bool,
        ) {
            let (f, u) = (d.f(), d.u());
            let g = GATES * u;
            let m = mask_of(live);
            // Where the input products of gate `k` go (GRU's candidate:
            // apart from the recurrent ones).
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
            // The columns of `a` (rows `g` apart) times the `n` values of
            // `v` for the gates `$gates`, column `j` into set `j % S`;
            // `kind` maps a gate to its sum.
            macro_rules! columns {
                ($a:expr, $v:expr, $n:expr, $gates:expr, $kind:expr) => {{
                    let (a, v, n, gates, kind_of) = ($a, $v, $n, $gates, $kind);
                    let mut j = 0;
                    while j + S <= n {
                        for s in 0..S {
                            let vj = splat(*v.add(j + s));
                            let col = a.add((j + s) * g + u0);
                            for &k in gates {
                                let w = ld::<TAIL>(col.add(k * u), m);
                                acc[s][kind_of(k)] = fma(w, vj, acc[s][kind_of(k)]);
                            }
                        }
                        j += S;
                    }
                    for s in 0..S {
                        if j + s < n {
                            let vj = splat(*v.add(j + s));
                            let col = a.add((j + s) * g + u0);
                            for &k in gates {
                                let w = ld::<TAIL>(col.add(k * u), m);
                                acc[s][kind_of(k)] = fma(w, vj, acc[s][kind_of(k)]);
                            }
                        }
                    }
                }};
            }
            let all: &[usize] = &[0, 1, 2, 3][..GATES];
            columns!(p.kernel, p.x, f, all, input_kind);
            // The recurrent products in two passes over `h`, the gates that
            // start the chain first (GRU: r, whose sigmoid the candidate
            // waits on, and the candidate's; LSTM: i and the candidate),
            // so that they do not queue behind the others' FMAs.
            let (first, then): (&[usize], &[usize]) = match GATES {
                1 => (&[0], &[]),
                3 => (&[1, 2], &[0]),
                _ => (&[0, 2], &[1, 3]),
            };
            let h_old = p.h as *const f32;
            columns!(p.rk, h_old, u, first, |k: usize| k);
            columns!(p.rk, h_old, u, then, |k: usize| k);
            // The sets added pairwise.
            macro_rules! sum {
                ($kind:expr) => {
                    match S {
                        4 => add(add(acc[0][$kind], acc[1][$kind]), add(acc[2][$kind], acc[3][$kind])),
                        2 => add(acc[0][$kind], acc[1][$kind]),
                        _ => acc[0][$kind],
                    }
                };
            }
            let one = splat(1.0);
            let h_new = match GATES {
                1 => tanh(sum!(0)),
                3 => {
                    let (z, r) = (sigmoid(sum!(0)), sigmoid(sum!(1)));
                    let h_old = ld::<TAIL>(p.h.add(u0), m);
                    // `z·h` and `1 − z` wait on `z` only, so the last step
                    // after the candidate is one FMA.
                    let (zh, keep) = (mul(z, h_old), sub(one, z));
                    let cand = tanh(fma(r, sum!(2), sum!(3)));
                    fma(keep, cand, zh)
                }
                _ => {
                    let (i, fg, o) = (sigmoid(sum!(0)), sigmoid(sum!(1)), sigmoid(sum!(3)));
                    let cand = tanh(sum!(2));
                    let c = fma(fg, ld::<TAIL>(p.c.add(u0), m), mul(i, cand));
                    st::<TAIL>(p.c.add(u0), live, c);
                    mul(o, tanh(c))
                }
            };
            st::<TAIL>(p.out.add(u0), live, h_new);
            if to_h {
                st::<TAIL>(p.h.add(u0), live, h_new);
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
                let mut all = [0.0f32; L];
                storeu(all.as_mut_ptr(), x);
                for (i, &v) in all.iter().enumerate().take(live) {
                    *p.add(i) = v;
                }
            } else {
                storeu(p, x)
            }
        }

        /// `e^y = s·(1 + r·q(r))` as `(s, s·r, q(r))` for `y` already
        /// clamped, given `t = y·log2 e + SHIFTER` (which the caller
        /// folds into its clamp's multiply).
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn exp_parts(y: V, t: V) -> (V, V, V) {
            let n = sub(t, splat(SHIFTER));
            let r = fnmadd(n, splat(LN2_LO), fnmadd(n, splat(LN2_HI), y));
            // `math::poly_f32` in Estrin's scheme, with FMA.
            let r2 = mul(r, r);
            let a = fma(r, splat(1.0 / 2.0), splat(1.0));
            let b = fma(r, splat(1.0 / 24.0), splat(1.0 / 6.0));
            let c = fma(r2, splat(1.0 / 5040.0), fma(r, splat(1.0 / 720.0), splat(1.0 / 120.0)));
            let q = fma(mul(r2, r2), c, fma(r2, b, a));
            let s = pow2_of_shifted(t);
            (s, mul(s, r), q)
        }

        /// `1 / (1 + e^−x)`, as `math::sigmoid`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn sigmoid(x: V) -> V {
            // Clamped with `x` second, so that a NaN stays.
            let x = max(splat(-88.0), min(splat(88.0), x));
            let (s, sr, q) = exp_parts(neg(x), fma(x, splat(-LOG2E), splat(SHIFTER)));
            div(splat(1.0), fma(sr, q, add(s, splat(1.0))))
        }

        /// `tanh x`, as `math::tanh`: `(1 − e^−2|x|) / (1 + e^−2|x|)`
        /// with the sign of `x`.
        #[inline]
        #[target_feature(enable = $feat)]
        unsafe fn tanh(x: V) -> V {
            let a = min(splat(44.0), abs(x));
            let (s, sr, q) = exp_parts(mul(a, splat(-2.0)), fma(a, splat(-2.0 * LOG2E), splat(SHIFTER)));
            let t = div(fnmadd(sr, q, sub(splat(1.0), s)), fma(sr, q, add(s, splat(1.0))));
            with_sign_of(t, x)
        }
    };
}

/// AVX2+FMA: 8 lanes, 16 registers.
mod avx2 {
    use super::{Ptrs, Sizes};
    use super::{LN2_HI, LN2_LO, LOG2E, SHIFTER};
    use core::arch::x86_64::*;

    type V = __m256;
    type M = __m256i;
    pub(super) const L: usize = 8;

    crate::kernels::x86::lane_ops! { "avx2,fma";
        fn zero() -> V = _mm256_setzero_ps();
        fn load(p: *const f32) -> V = _mm256_loadu_ps(p);
        fn mload(p: *const f32, m: M) -> V = _mm256_maskload_ps(p, m);
        fn storeu(p: *mut f32, x: V) = _mm256_storeu_ps(p, x);
        fn mask_of(live: usize) -> M =
            _mm256_cmpgt_epi32(_mm256_set1_epi32(live.min(L) as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        fn splat(x: f32) -> V = _mm256_set1_ps(x);
        fn fma(a: V, b: V, c: V) -> V = _mm256_fmadd_ps(a, b, c);
        fn fnmadd(a: V, b: V, c: V) -> V = _mm256_fnmadd_ps(a, b, c);
        fn add(a: V, b: V) -> V = _mm256_add_ps(a, b);
        fn sub(a: V, b: V) -> V = _mm256_sub_ps(a, b);
        fn mul(a: V, b: V) -> V = _mm256_mul_ps(a, b);
        fn div(a: V, b: V) -> V = _mm256_div_ps(a, b);
        fn max(a: V, b: V) -> V = _mm256_max_ps(a, b);
        fn min(a: V, b: V) -> V = _mm256_min_ps(a, b);
        fn neg(x: V) -> V = _mm256_xor_ps(x, _mm256_set1_ps(-0.0));
        fn abs(x: V) -> V = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
        fn with_sign_of(x: V, s: V) -> V = _mm256_or_ps(x, _mm256_and_ps(s, _mm256_set1_ps(-0.0)));
        fn pow2_of_shifted(t: V) -> V = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(
            _mm256_castps_si256(t),
            _mm256_set1_epi32(127i32.wrapping_sub(SHIFTER.to_bits() as i32)),
        )));
    }

    step_body!("avx2,fma", 8);
}

/// AVX-512F: 16 lanes, 32 registers.
mod avx512 {
    use super::{Ptrs, Sizes};
    use super::{LN2_HI, LN2_LO, LOG2E, SHIFTER};
    use core::arch::x86_64::*;

    type V = __m512;
    type M = __mmask16;
    pub(super) const L: usize = 16;

    crate::kernels::x86::lane_ops! { "avx512f,avx2,fma";
        fn zero() -> V = _mm512_setzero_ps();
        fn load(p: *const f32) -> V = _mm512_loadu_ps(p);
        fn mload(p: *const f32, m: M) -> V = _mm512_maskz_loadu_ps(m, p);
        fn storeu(p: *mut f32, x: V) = _mm512_storeu_ps(p, x);
        fn mask_of(live: usize) -> M = if live >= L { M::MAX } else { (1 << live) - 1 };
        fn splat(x: f32) -> V = _mm512_set1_ps(x);
        fn fma(a: V, b: V, c: V) -> V = _mm512_fmadd_ps(a, b, c);
        fn fnmadd(a: V, b: V, c: V) -> V = _mm512_fnmadd_ps(a, b, c);
        fn add(a: V, b: V) -> V = _mm512_add_ps(a, b);
        fn sub(a: V, b: V) -> V = _mm512_sub_ps(a, b);
        fn mul(a: V, b: V) -> V = _mm512_mul_ps(a, b);
        fn div(a: V, b: V) -> V = _mm512_div_ps(a, b);
        fn max(a: V, b: V) -> V = _mm512_max_ps(a, b);
        fn min(a: V, b: V) -> V = _mm512_min_ps(a, b);
        fn neg(x: V) -> V = _mm512_castsi512_ps(_mm512_xor_epi32(_mm512_castps_si512(x), _mm512_set1_epi32(i32::MIN)));
        fn abs(x: V) -> V = _mm512_abs_ps(x);
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
