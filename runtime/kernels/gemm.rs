//! Matrix products on column-major slices, the only place where a network
//! spends real time.
//!
//! Sizes are run-time values, so each product is compiled once per scalar
//! type inside this crate rather than once per layer shape in every user
//! crate; the thin const-generic wrappers in [`super`] pass the sizes the
//! model fixes (the one-sample kernel behind [`Gemm::dense1`] is the
//! exception, compiled per layer shape: it is small, and a pass of small
//! layers is mostly the overhead that constant sizes remove). On x86-64 the
//! AVX-512F or else the AVX2+FMA kernels (module `x86`) are taken when the
//! CPU has them (detected once with `std`, or enabled at compile time with
//! `-C target-feature` for `no_std`); elsewhere the portable loops below,
//! which the compiler vectorizes for the baseline target.
// Off x86-64 the SIMD entries compile to their portable fallbacks, which
// leave their arguments (and the level dispatch) unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused_imports, unused_variables))]

use crate::cpu::{level, Level};
use crate::vocab::Activation;
use crate::Scalar;
use nalgebra::{SMatrix, SVector};

/// What the output holds before the product is added to it.
#[derive(Clone, Copy, Debug)]
pub enum Start<'a, T> {
    /// Overwrite: `C = A·B`.
    Zero,
    /// Accumulate: `C += A·B`.
    Keep,
    /// One value per row added to every column: `C = A·B + bias`.
    Bias(&'a [T]),
}

/// `C = start + A·B`, optionally followed by ReLU, with `A` an `m×k`
/// column-major matrix, `B` `k×n` and `C` `m×n`: the forward pass of a dense
/// layer (`A` the kernel, `B` a batch of inputs). `n == 1` takes a
/// matrix-vector kernel.
///
/// # Panics
/// If a slice is shorter than its matrix or the bias shorter than `m`.
///
/// ```
/// use staticnet::__private::gemm::{gemm_nn, Start};
/// let a = [1.0f32, 2.0, 3.0, 4.0]; // [[1, 3], [2, 4]]
/// let b = [1.0f32, 1.0];
/// let mut c = [0.0f32; 2];
/// gemm_nn(2, 1, 2, &a, &b, &mut c, Start::Bias(&[0.5, -10.0]), true);
/// assert_eq!(c, [4.5, 0.0]);
/// ```
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn<T: Scalar>(m: usize, n: usize, k: usize, a: &[T], b: &[T], c: &mut [T], start: Start<T>, relu: bool) {
    if n == 1 {
        // One sample: straight to the matrix-vector kernel.
        return T::matvec(m, k, a, b, c, start, relu);
    }
    split_columns(Layout::NN, m, n, k, a, b, c, start, relu);
}

/// `C = scale ⊙ (A·B) + shift`, each row scaled and shifted by its own
/// values, optionally followed by ReLU (shapes as [`gemm_nn`]): a
/// convolution or dense layer with the inference batch normalization after
/// it applied in the store, so the kernel is read as it is rather than
/// folded into a copy first. Always on the calling thread.
///
/// # Panics
/// If a slice is shorter than its matrix, or `scale` or `shift` shorter
/// than `m`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn_scaled<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    scale: &[T],
    shift: &[T],
    relu: bool,
) {
    let (scale, shift) = (&scale[..m], &shift[..m]);
    if m > 1 && n > 1 && T::gemm_scaled(m, n, k, a, b, c, scale, shift, relu) {
        return;
    }
    // One row or column (no tiles), or no SIMD: the product, then the
    // scale and shift.
    T::gemm(Layout::NN, m, n, k, a, b, k, c, Start::Zero, false);
    for col in c[..m * n].chunks_exact_mut(m) {
        for ((o, &s), &t) in col.iter_mut().zip(scale).zip(shift) {
            *o = *o * s + t;
            if relu && *o < T::zero() {
                // NaN stays NaN, as Keras's `relu` keeps it.
                *o = T::zero();
            }
        }
    }
}

/// `C = start + A·Bᵀ` with `A` `m×k` and `Bt` `n×k`, both column-major: the
/// kernel gradient of a dense layer (`A` the output gradients, `Bt` the
/// layer's inputs, `k` the batch).
///
/// # Panics
/// As [`gemm_nn`].
#[inline]
pub fn gemm_nt<T: Scalar>(m: usize, n: usize, k: usize, a: &[T], bt: &[T], c: &mut [T], start: Start<T>) {
    split_columns(Layout::NT, m, n, k, a, bt, c, start, false);
}

/// `C = start + Aᵀ·B` with `At` `k×m` and `B` `k×n`, both column-major: the
/// input gradient of a dense layer (`At` the kernel, `B` the output
/// gradients).
///
/// # Panics
/// As [`gemm_nn`].
#[inline]
pub fn gemm_tn<T: Scalar>(m: usize, n: usize, k: usize, at: &[T], b: &[T], c: &mut [T], start: Start<T>) {
    split_columns(Layout::TN, m, n, k, at, b, c, start, false);
}

/// The bounds the kernels rely on, checked where a product enters the
/// (hidden but public) trait and before one is split over threads; `B` may
/// be a block of a wider matrix (`ldb`).
#[allow(clippy::too_many_arguments)]
#[inline]
fn check<T>(layout: Layout, m: usize, n: usize, k: usize, a: usize, b: usize, ldb: usize, c: usize, start: Start<T>) {
    if m == 0 || n == 0 {
        return;
    }
    let b_needed = match layout {
        Layout::NN | Layout::TN => (n - 1) * ldb + k,
        Layout::NT if k == 0 => 0,
        Layout::NT => (k - 1) * ldb + n,
    };
    let ld_ok = match layout {
        Layout::NN | Layout::TN => ldb >= k,
        Layout::NT => ldb >= n,
    };
    assert!(a >= m * k && b >= b_needed && ld_ok && c >= m * n, "gemm: slices shorter than {m}x{k} · {k}x{n}");
    if let Start::Bias(bias) = start {
        assert!(bias.len() >= m, "gemm: bias shorter than {m}");
    }
}

/// Which operand is stored transposed.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `A·B`.
    NN,
    /// `A·Bᵀ`.
    NT,
    /// `Aᵀ·B`.
    TN,
}

/// The scalar-type-specific entry, which checks the sizes itself. `ldb`
/// is the distance between the stored columns of `B` (`k` for `NN` and
/// `TN`, the whole `n` for `NT`), so a block of columns can be computed on
/// its own.
#[doc(hidden)]
pub trait Gemm: Sized {
    #[allow(clippy::too_many_arguments)]
    fn gemm(
        layout: Layout,
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        b: &[Self],
        ldb: usize,
        c: &mut [Self],
        start: Start<Self>,
        relu: bool,
    );

    /// [`gemm_nn_scaled`] on the SIMD kernels (`m` and `n` above 1, `scale`
    /// and `shift` of `m` values); false, having done nothing, without them.
    #[allow(clippy::too_many_arguments)]
    fn gemm_scaled(
        m: usize,
        n: usize,
        k: usize,
        a: &[Self],
        b: &[Self],
        c: &mut [Self],
        scale: &[Self],
        shift: &[Self],
        relu: bool,
    ) -> bool;

    /// Whether the SIMD kernels run on this CPU (else the dense layers take
    /// loops specialised for their shape, the fastest portable code).
    fn simd() -> bool;

    /// `c = start + A·x` for one sample (`gemm` with `n = 1`, `NN`).
    fn matvec(m: usize, k: usize, a: &[Self], x: &[Self], c: &mut [Self], start: Start<Self>, relu: bool);

    /// `c = softmax(A·x + bias)` for one sample in one pass when this type
    /// and CPU have a fused kernel for `m` units (`f32` with AVX2, up to 16;
    /// with AVX-512, up to 32);
    /// false, with `c` untouched, otherwise.
    fn matvec_softmax(m: usize, k: usize, a: &[Self], x: &[Self], bias: Option<&[Self]>, c: &mut [Self]) -> bool;

    /// `out = kernel · x + bias` for one sample on the SIMD kernels,
    /// specialised for the layer's sizes, with `act` applied when the kernel
    /// can fuse it (ReLU, linear, a short softmax); see [`OneSample`].
    fn dense1<const IN: usize, const OUT: usize>(
        kernel: &SMatrix<Self, OUT, IN>,
        bias: Option<&SVector<Self, OUT>>,
        act: Activation,
        x: &[Self],
        out: &mut [Self],
    ) -> OneSample;

    /// Softmax of one column in place (`z[i] = e^(z[i] − max) / Σ`) with a
    /// vectorized `exp`, for `f32` with AVX2 or AVX-512; false, with `col`
    /// untouched, elsewhere (the caller takes libm's).
    fn softmax_in_place(col: &mut [Self]) -> bool;
}

/// What [`Gemm::dense1`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OneSample {
    /// Nothing: this CPU has no SIMD kernels.
    Declined,
    /// `out = kernel · x + bias`; the activation is left to the caller.
    Affine,
    /// `out = act(kernel · x + bias)`.
    Activated,
}

/// Products smaller than this many multiply-adds (a couple of
/// microseconds) stay on the calling thread even with the `parallel`
/// feature: handing work to another core costs about a microsecond.
#[cfg(feature = "parallel")]
const PARALLEL_MIN_WORK: usize = 1 << 16;

/// Runs the product, with the `parallel` feature split by columns of `C`
/// over the helper threads when it is big enough; each thread computes whole
/// columns with the same kernel, so the result is the same as on one thread.
#[allow(clippy::too_many_arguments)]
#[inline]
fn split_columns<T: Scalar>(
    layout: Layout,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    c: &mut [T],
    start: Start<T>,
    relu: bool,
) {
    let ldb = if layout == Layout::NT { n } else { k };
    #[cfg(feature = "parallel")]
    if m * n * k >= PARALLEL_MIN_WORK && n >= 16 {
        let parts = super::pool::threads().min(n / 8);
        if parts > 1 {
            check(layout, m, n, k, a.len(), b.len(), ldb, c.len(), start);
            return columns_parallel(layout, m, n, k, a, b, ldb, c, start, relu, parts);
        }
    }
    T::gemm(layout, m, n, k, a, b, ldb, c, start, relu);
}

/// `C`'s columns `0..n` in `parts` blocks, one per thread.
#[cfg(feature = "parallel")]
#[allow(clippy::too_many_arguments)]
fn columns_parallel<T: Scalar>(
    layout: Layout,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    ldb: usize,
    c: &mut [T],
    start: Start<T>,
    relu: bool,
    parts: usize,
) {
    struct Columns<T>(*mut T);
    // SAFETY: each part writes a disjoint block of columns.
    unsafe impl<T: Send> Sync for Columns<T> {}
    let columns = Columns(c[..m * n].as_mut_ptr());
    let columns = &columns;
    super::pool::run_parts(parts, &|part| {
        let (j0, j1) = (n * part / parts, n * (part + 1) / parts);
        // SAFETY: columns `j0..j1` of `C` are inside `c` and no other part's.
        let c = unsafe { core::slice::from_raw_parts_mut(columns.0.add(m * j0), m * (j1 - j0)) };
        // Where column `j0` of `B` starts: `B` is stored by columns, `Bᵀ` by rows.
        let b = if layout == Layout::NT { &b[j0..] } else { &b[j0 * ldb..] };
        T::gemm(layout, m, j1 - j0, k, a, b, ldb, c, start, relu);
    });
}

/// Runs the x86 kernel `$t::$f` of the best level this CPU has, or else
/// `fallback`: on the portable level and on other architectures.
macro_rules! x86_kernel {
    ($t:ident::$f:ident$(::<$($g:tt),*>)?($($arg:expr),* $(,)?) else $fallback:expr) => {{
        #[cfg(target_arch = "x86_64")]
        let result = match level() {
            Level::Avx512 => {
                // SAFETY: the CPU has AVX-512F (asked of it, or enabled for
                // the target), and the callers checked the slices.
                unsafe { super::x86::avx512::$t::$f$(::<$($g),*>)?($($arg),*) }
            }
            Level::Avx2 => {
                // SAFETY: as above, with AVX2 and FMA.
                unsafe { super::x86::avx2::$t::$f$(::<$($g),*>)?($($arg),*) }
            }
            Level::Portable => $fallback,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let result = $fallback;
        result
    }};
}

macro_rules! gemm_for {
    ($t:ident) => {
        impl Gemm for $t {
            #[inline]
            fn gemm(
                layout: Layout,
                m: usize,
                n: usize,
                k: usize,
                a: &[$t],
                b: &[$t],
                ldb: usize,
                c: &mut [$t],
                start: Start<$t>,
                relu: bool,
            ) {
                check(layout, m, n, k, a.len(), b.len(), ldb, c.len(), start);
                x86_kernel!($t::gemm(layout, m, n, k, a, b, ldb, c, start, relu)
                    else portable(layout, m, n, k, a, b, ldb, c, start, relu))
            }

            #[inline]
            fn gemm_scaled(
                m: usize,
                n: usize,
                k: usize,
                a: &[$t],
                b: &[$t],
                c: &mut [$t],
                scale: &[$t],
                shift: &[$t],
                relu: bool,
            ) -> bool {
                check(Layout::NN, m, n, k, a.len(), b.len(), k, c.len(), Start::Bias(shift));
                assert!(scale.len() >= m, "gemm: scale shorter than {m}");
                x86_kernel!($t::gemm_scaled(m, n, k, a, b, c, scale, shift, relu) else false)
            }

            #[inline]
            fn simd() -> bool {
                #[cfg(target_arch = "x86_64")]
                return level() != Level::Portable;
                #[cfg(not(target_arch = "x86_64"))]
                return false;
            }

            #[inline]
            fn matvec(m: usize, k: usize, a: &[$t], x: &[$t], c: &mut [$t], start: Start<$t>, relu: bool) {
                check(Layout::NN, m, 1, k, a.len(), x.len(), k, c.len(), start);
                x86_kernel!($t::matvec_entry(m, k, a, x, c, start, relu)
                    else portable(Layout::NN, m, 1, k, a, x, k, c, start, relu))
            }

            #[inline]
            fn matvec_softmax(m: usize, k: usize, a: &[$t], x: &[$t], bias: Option<&[$t]>, c: &mut [$t]) -> bool {
                assert!(a.len() >= m * k && x.len() >= k && c.len() >= m && bias.is_none_or(|b| b.len() >= m));
                x86_kernel!($t::matvec_softmax_entry(m, k, a, x, bias, c) else false)
            }

            #[inline]
            fn dense1<const IN: usize, const OUT: usize>(
                kernel: &SMatrix<$t, OUT, IN>,
                bias: Option<&SVector<$t, OUT>>,
                act: Activation,
                x: &[$t],
                out: &mut [$t],
            ) -> OneSample {
                // Checked here: the kernel trusts its constant sizes.
                let (x, out) = (&x[..IN], &mut out[..OUT]);
                let bias = bias.map_or(core::ptr::null(), |b| b.as_ptr());
                x86_kernel!($t::dense1_fixed::<OUT, IN>(kernel.as_ptr(), x.as_ptr(), bias, act, out.as_mut_ptr())
                    else {
                        let _ = (kernel, bias, act, x, out);
                        OneSample::Declined
                    })
            }

            #[inline]
            fn softmax_in_place(col: &mut [$t]) -> bool {
                x86_kernel!($t::softmax_in_place(col) else false)
            }
        }
    };
}

gemm_for!(f32);
gemm_for!(f64);

/// The loops for targets without the SIMD kernels; also the reference the
/// SIMD kernels are tested against.
#[allow(clippy::too_many_arguments)]
pub(crate) fn portable<T: Scalar>(
    layout: Layout,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    ldb: usize,
    c: &mut [T],
    start: Start<T>,
    relu: bool,
) {
    for (j, cc) in c[..m * n].chunks_exact_mut(m).enumerate() {
        match start {
            Start::Zero => cc.fill(T::zero()),
            Start::Keep => {}
            Start::Bias(bias) => cc.copy_from_slice(&bias[..m]),
        }
        match layout {
            Layout::NN | Layout::NT => {
                for p in 0..k {
                    let bv = if layout == Layout::NN { b[p + j * ldb] } else { b[j + p * ldb] };
                    for (o, &av) in cc.iter_mut().zip(&a[p * m..p * m + m]) {
                        *o += av * bv;
                    }
                }
            }
            Layout::TN => {
                let bc = &b[j * ldb..j * ldb + k];
                for (i, o) in cc.iter_mut().enumerate() {
                    let ac = &a[i * k..i * k + k];
                    *o += ac.iter().zip(bc).fold(T::zero(), |s, (&x, &y)| s + x * y);
                }
            }
        }
        if relu {
            for o in cc.iter_mut() {
                // NaN stays NaN, as Keras's `relu` keeps it.
                if *o < T::zero() {
                    *o = T::zero();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data<T: Scalar>(len: usize, salt: usize) -> Vec<T> {
        (0..len).map(|i| T::of_f64(((i * 7919 + salt * 104_729) % 997) as f64 / 997.0 - 0.45)).collect()
    }

    /// Every layout, start and awkward size against the portable loops (and
    /// those against a naive triple loop), so tails of every length are hit;
    /// then depths past the kernels' 256-deep panels.
    fn against_reference<T: Scalar>(tol: f64) {
        let sizes = [1usize, 2, 3, 4, 5, 7, 8, 9, 10, 15, 16, 17, 24, 31, 32, 33, 40, 64, 65];
        let shallow = sizes.iter().flat_map(|&m| {
            [1usize, 2, 5, 6, 7, 13, 64, 300]
                .into_iter()
                .flat_map(move |n| [1usize, 3, 8, 9, 17, 64].map(|k| (m, n, k)))
        });
        let deep = [5usize, 17, 64]
            .into_iter()
            .flat_map(|m| [1usize, 7, 64].into_iter().flat_map(move |n| [255usize, 256, 257, 600].map(|k| (m, n, k))));
        let mut case = 0;
        for (m, n, k) in shallow.chain(deep) {
            case += 1;
            for layout in [Layout::NN, Layout::NT, Layout::TN] {
                let a = data::<T>(m * k, case);
                let b = data::<T>(k * n, case + 1);
                let bias = data::<T>(m, case + 2);
                let init = data::<T>(m * n, case + 3);
                // The product in f64, once for the four starts (the tests
                // also run in an emulator, where this loop dominates).
                let mut product = vec![0.0f64; m * n];
                for j in 0..n {
                    for i in 0..m {
                        product[i + j * m] = (0..k)
                            .map(|p| {
                                let av = if layout == Layout::TN { a[p + i * k] } else { a[i + p * m] };
                                let bv = if layout == Layout::NT { b[j + p * n] } else { b[p + j * k] };
                                av.as_f64() * bv.as_f64()
                            })
                            .sum();
                    }
                }
                for (s, relu) in [(0, false), (1, false), (2, true), (2, false)] {
                    let start = match s {
                        0 => Start::Zero,
                        1 => Start::Keep,
                        _ => Start::Bias(&bias),
                    };
                    let want: Vec<T> = (0..m * n)
                        .map(|idx| {
                            let v = product[idx]
                                + match s {
                                    0 => 0.0,
                                    1 => init[idx].as_f64(),
                                    _ => bias[idx % m].as_f64(),
                                };
                            T::of_f64(if relu { v.max(0.0) } else { v })
                        })
                        .collect();
                    let mut got = init.clone();
                    match layout {
                        Layout::NN => gemm_nn(m, n, k, &a, &b, &mut got, start, relu),
                        Layout::NT if !relu => gemm_nt(m, n, k, &a, &b, &mut got, start),
                        Layout::TN if !relu => gemm_tn(m, n, k, &a, &b, &mut got, start),
                        _ => {
                            let ldb = if layout == Layout::NT { n } else { k };
                            T::gemm(layout, m, n, k, &a, &b, ldb, &mut got, start, relu)
                        }
                    }
                    let mut port = init.clone();
                    let ldb = if layout == Layout::NT { n } else { k };
                    portable(layout, m, n, k, &a, &b, ldb, &mut port, start, relu);
                    for (idx, ((g, p), w)) in got.iter().zip(&port).zip(&want).enumerate() {
                        let w = w.as_f64();
                        for (what, v) in [("dispatched", g.as_f64()), ("portable", p.as_f64())] {
                            assert!(
                                (v - w).abs() <= tol * (1.0 + w.abs()) * (k as f64).sqrt(),
                                "{what} {layout:?} m={m} n={n} k={k} start={s} relu={relu} at {idx}: {v} vs {w}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// [`gemm_nn_scaled`] against the definition: row counts on and off
    /// the tiles (64 and 32 take AVX-512's four-vector tile for `f32` and
    /// `f64`), one row or column (the fallback), depths past a panel.
    fn scaled_against_reference<T: Scalar>(tol: f64) {
        let mut case = 0;
        for m in [1usize, 3, 16, 17, 32, 40, 64, 65] {
            for n in [1usize, 2, 6, 7, 125] {
                for k in [1usize, 9, 64, 300] {
                    case += 1;
                    let (a, b) = (data::<T>(m * k, case), data::<T>(k * n, case + 1));
                    let (scale, shift) = (data::<T>(m, case + 2), data::<T>(m, case + 3));
                    for relu in [false, true] {
                        let mut got = vec![T::of_f64(7.0); m * n + 1];
                        gemm_nn_scaled(m, n, k, &a, &b, &mut got, &scale, &shift, relu);
                        for j in 0..n {
                            for i in 0..m {
                                let dot: f64 = (0..k).map(|p| a[i + p * m].as_f64() * b[p + j * k].as_f64()).sum();
                                let v = dot * scale[i].as_f64() + shift[i].as_f64();
                                let want = if relu { v.max(0.0) } else { v };
                                let g = got[i + j * m].as_f64();
                                assert!(
                                    (g - want).abs() <= tol * (1.0 + want.abs()) * (k as f64).sqrt(),
                                    "m={m} n={n} k={k} relu={relu} at ({i}, {j}): {g} vs {want}"
                                );
                            }
                        }
                        assert_eq!(got[m * n], T::of_f64(7.0), "m={m} n={n} k={k}: wrote past C");
                    }
                }
            }
        }
    }

    #[test]
    fn f64_scaled_matches_reference() {
        scaled_against_reference::<f64>(1e-13);
    }

    #[test]
    fn f32_scaled_matches_reference() {
        scaled_against_reference::<f32>(1e-5);
    }

    #[test]
    fn f64_matches_reference() {
        against_reference::<f64>(1e-13);
    }

    #[test]
    fn f32_matches_reference() {
        against_reference::<f32>(1e-5);
    }

    /// The dispatched softmax (vectorized `exp` with AVX2 or AVX-512) for
    /// every length up to 40, on values spread over ±165 and within ±80.
    #[test]
    fn f32_softmax_matches_libm() {
        for rows in 1..=40usize {
            for salt in 0..8 {
                for scale in [300.0, 140.0] {
                    let z: Vec<f32> =
                        data::<f64>(rows, salt * 41 + rows).iter().map(|v| (v * scale - 0.1 * scale) as f32).collect();
                    let mut got = z.clone();
                    crate::activations::softmax_in_place(&mut got);
                    check_softmax(&z, &got);
                }
            }
        }
        let mut with_nan = [0.5f32, f32::NAN, 1.0];
        crate::activations::softmax_in_place(&mut with_nan);
        assert!(with_nan.iter().all(|v| v.is_nan()));
    }

    /// `got` against the softmax of `z`: within 4 ulp of the exact value
    /// (computed in f64) when the SIMD kernel skips the shift by the maximum
    /// (at most 16 values, 32 with AVX-512, all within ±80), else within
    /// 4 ulp of libm's f32 result, whose `z − max` rounds the same way as
    /// the kernel's.
    fn check_softmax(z: &[f32], got: &[f32]) {
        #[cfg(target_arch = "x86_64")]
        let in_registers = super::super::x86::f32_softmax_in_registers();
        #[cfg(not(target_arch = "x86_64"))]
        let in_registers = 0;
        let unshifted = z.len() <= in_registers && z.iter().all(|v| v.abs() <= 80.0);
        let want: Vec<f32> = if unshifted {
            let e: Vec<f64> = z.iter().map(|&v| (v as f64).exp()).collect();
            let sum: f64 = e.iter().sum();
            e.iter().map(|v| (v / sum) as f32).collect()
        } else {
            let mut w = z.to_vec();
            crate::activations::softmax_in_place_libm(&mut w);
            w
        };
        for (g, w) in got.iter().zip(&want) {
            assert!((g - w).abs() <= 4.0 * f32::EPSILON * w.abs() + 1e-37, "{z:?}: {g} vs {w}");
        }
    }

    /// The fused one-sample softmax layer equals the product followed by
    /// the softmax, for every width it takes and some it declines.
    #[test]
    fn fused_matvec_softmax_matches_two_steps() {
        for m in 1..=36usize {
            for k in [1usize, 3, 8, 31, 64] {
                let a: Vec<f32> = data::<f64>(m * k, m + k).iter().map(|&v| (v * 3.0) as f32).collect();
                let x: Vec<f32> = data::<f64>(k, m * k + 1).iter().map(|&v| v as f32).collect();
                let bias: Vec<f32> = data::<f64>(m, 7).iter().map(|&v| v as f32).collect();
                for with_bias in [false, true] {
                    let b = with_bias.then_some(bias.as_slice());
                    let mut want = vec![0.0f32; m];
                    let start = if with_bias { Start::Bias(&bias) } else { Start::Zero };
                    gemm_nn(m, 1, k, &a, &x, &mut want, start, false);
                    crate::activations::softmax_in_place(&mut want);
                    let mut got = vec![-1.0f32; m];
                    if f32::matvec_softmax(m, k, &a, &x, b, &mut got) {
                        for (g, w) in got.iter().zip(&want) {
                            assert!((g - w).abs() <= 4.0 * f32::EPSILON * w.abs() + 1e-30, "m={m} k={k}: {g} vs {w}");
                        }
                    } else {
                        assert!(got.iter().all(|&g| g == -1.0), "declined but wrote");
                    }
                }
            }
        }
        let mut c = [0.0f32; 3];
        let declined = !f32::matvec_softmax(3, 1, &[1.0, f32::NAN, 0.0], &[1.0], None, &mut c);
        assert!(declined || c.iter().all(|v| v.is_nan()));
    }

    /// `B` as columns of a wider matrix (`ldb > k`), as the recurrent
    /// layers multiply every sample's state at one step, for every layout
    /// and depths 1 to 9.
    fn strided_b<T: Scalar>(tol: f64) {
        for layout in [Layout::NN, Layout::NT, Layout::TN] {
            for (m, n, k) in [(1, 3, 1), (5, 3, 1), (4, 7, 1), (1, 5, 4), (9, 2, 3), (17, 6, 9), (8, 1, 5)] {
                let stored = if layout == Layout::NT { n } else { k };
                let ldb = stored + 3;
                let others = if layout == Layout::NT { k } else { n };
                let a = data::<T>(m * k, m + n);
                let b = data::<T>(others * ldb, k + 1);
                let mut got = data::<T>(m * n, 5);
                let mut want = got.clone();
                T::gemm(layout, m, n, k, &a, &b, ldb, &mut got, Start::Keep, false);
                portable(layout, m, n, k, &a, &b, ldb, &mut want, Start::Keep, false);
                for (g, w) in got.iter().zip(&want) {
                    assert!((g.as_f64() - w.as_f64()).abs() <= tol, "{layout:?} m={m} n={n} k={k}: {g:?} vs {w:?}");
                }
            }
        }
    }

    #[test]
    fn strided_b_matches_portable() {
        strided_b::<f64>(1e-13);
        strided_b::<f32>(1e-5);
    }

    #[test]
    #[should_panic(expected = "gemm: slices shorter")]
    fn short_slice_is_refused_by_the_trait_entry_too() {
        let mut c = [0.0f32; 64];
        // `B` as an 8-column block of a matrix with columns 40 apart needs
        // 7·40 + 8 values.
        f32::gemm(Layout::NN, 8, 8, 8, &[1.0; 64], &[1.0; 200], 40, &mut c, Start::Zero, false);
    }

    #[test]
    #[should_panic(expected = "gemm: slices shorter")]
    fn short_slice_is_refused() {
        let mut c = [0.0f32; 3];
        gemm_nn(2, 2, 1, &[1.0; 2], &[1.0; 2], &mut c, Start::Zero, false);
    }
}
