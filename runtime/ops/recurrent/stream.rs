//! The streaming step: one sample, one time step, the recurrent layer's
//! state carried by the caller. A step is mostly latency (in a GRU step,
//! the recurrent product, then two activations one after the other) and
//! fixed costs.
//!
//! - `f32` with Keras's default activations on x86-64 with AVX2 and FMA
//!   (or AVX-512F): module `x86`, intrinsics for the whole step, the
//!   products as FMAs in several sets of sums, a gate at a time in the
//!   order the chain needs them, and the activations with FMA, all in
//!   registers; [`step_sized`] passes the sizes as constants, so the
//!   loops unroll.
//! - Elsewhere (`f64`, other activations, the portable level, other
//!   targets): the small layers (every gate's rows within 96) run their
//!   two products on loops inlined beside the gate arithmetic, all
//!   compiled for the CPU's SIMD at once; larger ones use the
//!   matrix-vector kernel. (Eight units at a time, each block's products
//!   and gates together, measured slower, as did two sums a row in the
//!   products.)

#[cfg(target_arch = "x86_64")]
pub(super) mod x86;

use super::cells::{self, with_activations};
use super::{split_bias, state_len, Cell};
use crate::kernels::gemm::Start;
use crate::vocab::Activation;
use crate::Scalar;

/// One streaming step for one sample: `x_t` has `features` values, `state`
/// ([`state_len`] values: `h`, then LSTM's `c`) is updated, `out` gets the
/// new `h` (`units` values). Equals [`forward`](super::forward) with `return_sequences`
/// step by step, but for rounding: the order of the products' sums, and on
/// x86-64 the fused multiply-adds of the `f32` path with default
/// activations (see the module's docs).
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
pub fn step<T: Scalar>(
    cell: Cell,
    features: usize,
    units: usize,
    kernel: &[T],
    recurrent_kernel: &[T],
    bias: Option<&[T]>,
    x_t: &[T],
    state: &mut [T],
    out: &mut [T],
) {
    let (parts, h, c, out) = Parts::cut(cell, features, units, kernel, recurrent_kernel, bias, x_t, state, out);
    if intrinsics(&parts, Runtime(features, units), h, c, out) {
        return;
    }
    loops(&parts, h, c, out);
}

/// [`step`] on the generic loops.
#[inline]
fn loops<T: Scalar>(a: &Parts<T>, h: &mut [T], c: &mut [T], out: &mut [T]) {
    let g = a.cell.gates() * a.units;
    // The products' buffers on the stack, no larger than needed: zeroing
    // 2 KB measured a tenth of a small layer's step.
    if g <= SMALL {
        // It updates `h` itself.
        return small(a, h, c, out);
    }
    if g <= 128 {
        step_blocks::<T, 128>(a, h, c, out);
    } else {
        step_blocks::<T, 256>(a, h, c, out);
    }
    h.copy_from_slice(out);
}

/// [`step`] with the sizes as constants (`F` features, `U` units), as the
/// generated code calls it: a small layer's loops (every gate's rows
/// within 96) then unroll with their trip counts known, inside the
/// function built for the CPU's SIMD, where a run-time size would reach
/// only as a value. Larger layers take [`step`].
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
#[inline]
pub fn step_sized<T: Scalar, const F: usize, const U: usize>(
    cell: Cell,
    kernel: &[T],
    recurrent_kernel: &[T],
    bias: Option<&[T]>,
    x_t: &[T],
    state: &mut [T],
    out: &mut [T],
) {
    let (parts, h, c, out) = Parts::cut(cell, F, U, kernel, recurrent_kernel, bias, x_t, state, out);
    if intrinsics(&parts, Fixed::<F, U>, h, c, out) {
        return;
    }
    loops_sized::<T, F, U>(&parts, h, c, out);
}

/// [`step_sized`] where [`intrinsics`] does not take it. Out of line on
/// x86-64, so that the intrinsics' path inlines into the caller without
/// this one's stack frame.
#[cfg_attr(target_arch = "x86_64", inline(never))]
fn loops_sized<T: Scalar, const F: usize, const U: usize>(a: &Parts<T>, h: &mut [T], c: &mut [T], out: &mut [T]) {
    if a.cell.gates() * U > SMALL {
        return loops(a, h, c, out);
    }
    match a.cell {
        Cell::SimpleRnn { .. } => small_sized::<T, F, U, 1>(a, h, c, out),
        Cell::Gru { .. } => small_sized::<T, F, U, 3>(a, h, c, out),
        Cell::Lstm { .. } => small_sized::<T, F, U, 4>(a, h, c, out),
    }
}

/// [`small`] with the sizes and the gates per unit as constants (the cell
/// is the one with `GATES` gates).
#[inline(always)]
fn small_sized<T: Scalar, const F: usize, const U: usize, const GATES: usize>(
    a: &Parts<T>,
    h: &mut [T],
    c: &mut [T],
    out: &mut [T],
) {
    let (act, ract) = a.cell.activations();
    with_activations(
        act,
        ract,
        #[inline(always)]
        |act, ract| small_body(a, GATES, F, U, act, ract, h, c, out),
    );
}

/// The step on the x86-64 kernels of `x86` when they take it (`f32`, the
/// default activations, a CPU with AVX2 and FMA); false, having done
/// nothing, otherwise.
#[inline(always)]
fn intrinsics<T: Scalar>(a: &Parts<T>, sizes: impl Sizes, h: &mut [T], c: &mut [T], out: &mut [T]) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::vocab::Activation::{Sigmoid, Tanh};
        if T::BYTES != 4 {
            return false;
        }
        let f32s = |s: &[T]| s.as_ptr().cast::<f32>();
        let ptrs = x86::Ptrs {
            kernel: f32s(a.kernel),
            rk: f32s(a.rk),
            bias_in: a.bias_in.map_or(core::ptr::null(), f32s),
            bias_rec: a.bias_rec.map_or(core::ptr::null(), f32s),
            x: f32s(a.x_t),
            h: h.as_mut_ptr().cast(),
            c: c.as_mut_ptr().cast(),
            out: out.as_mut_ptr().cast(),
        };
        // SAFETY: `T` is `f32` (`Scalar` is sealed: `f32` and `f64`, and
        // this one has 4 bytes); `step` cut each slice to the length
        // `Ptrs` asks for (`c`: LSTM's `units`, as `state_len`).
        unsafe {
            match a.cell {
                Cell::SimpleRnn { activation: Tanh } => x86::step::<1, _>(sizes, &ptrs),
                Cell::Gru { activation: Tanh, recurrent_activation: Sigmoid } => x86::step::<3, _>(sizes, &ptrs),
                Cell::Lstm { activation: Tanh, recurrent_activation: Sigmoid } => x86::step::<4, _>(sizes, &ptrs),
                _ => false,
            }
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (a, sizes, h, c, out);
        false
    }
}

/// The sizes of a step: features and units, known at compile time
/// ([`Fixed`], so that the loops unroll) or not ([`Runtime`]).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
trait Sizes: Copy {
    /// Features.
    fn f(self) -> usize;
    /// Units.
    fn u(self) -> usize;
}

/// Sizes known only at run time.
#[derive(Clone, Copy)]
struct Runtime(usize, usize);

/// `F` features and `U` units.
#[derive(Clone, Copy)]
struct Fixed<const F: usize, const U: usize>;

impl Sizes for Runtime {
    #[inline(always)]
    fn f(self) -> usize {
        self.0
    }
    #[inline(always)]
    fn u(self) -> usize {
        self.1
    }
}

impl<const F: usize, const U: usize> Sizes for Fixed<F, U> {
    #[inline(always)]
    fn f(self) -> usize {
        F
    }
    #[inline(always)]
    fn u(self) -> usize {
        U
    }
}

/// What [`step`] was given, its slices cut to their sizes.
struct Parts<'a, T> {
    cell: Cell,
    features: usize,
    units: usize,
    kernel: &'a [T],
    rk: &'a [T],
    bias_in: Option<&'a [T]>,
    bias_rec: Option<&'a [T]>,
    x_t: &'a [T],
}

impl<'a, T> Parts<'a, T> {
    /// [`step`]'s arguments cut to their sizes, with the state split into
    /// `h` and (LSTM) `c`, and `out` cut to `units`.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    #[inline(always)]
    fn cut<'s>(
        cell: Cell,
        features: usize,
        units: usize,
        kernel: &'a [T],
        recurrent_kernel: &'a [T],
        bias: Option<&'a [T]>,
        x_t: &'a [T],
        state: &'s mut [T],
        out: &'s mut [T],
    ) -> (Self, &'s mut [T], &'s mut [T], &'s mut [T]) {
        let g = cell.gates() * units;
        let (bias_in, bias_rec) = split_bias(cell, g, bias);
        let (kernel, rk, x_t) = (&kernel[..g * features], &recurrent_kernel[..g * units], &x_t[..features]);
        let (h, c) = state[..state_len(cell, units)].split_at_mut(units);
        (Parts { cell, features, units, kernel, rk, bias_in, bias_rec, x_t }, h, c, &mut out[..units])
    }
}

/// The most rows (gates·units) that [`small`] takes: six blocks of sums,
/// twelve AVX2 registers of `f32` (a GRU of 32 units; 128 rows measured
/// slower than the matrix-vector kernel).
const SMALL: usize = 96;

/// [`step`] for at most [`SMALL`] rows: the products on [`affine`], inlined
/// with the gate arithmetic into one function built for the CPU's SIMD.
#[inline(always)]
fn small<T: Scalar>(a: &Parts<T>, h: &mut [T], c: &mut [T], out: &mut [T]) {
    let (act, ract) = a.cell.activations();
    with_activations(
        act,
        ract,
        #[inline(always)]
        |act, ract| small_body(a, a.cell.gates(), a.features, a.units, act, ract, h, c, out),
    );
}

/// The body of [`small`] and [`small_sized`], inlined into their SIMD
/// builds (where the sizes are constants, they stay constants): both
/// products, the gates of `gates` per unit (the cell's), and `h = out`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn small_body<T: Scalar>(
    a: &Parts<T>,
    gates: usize,
    features: usize,
    units: usize,
    act: Activation,
    ract: Activation,
    h: &mut [T],
    c: &mut [T],
    out: &mut [T],
) {
    let g = gates * units;
    let mut p = [T::zero(); SMALL];
    let mut r = [T::zero(); SMALL];
    let (p, r) = (&mut p[..g], &mut r[..g]);
    let (h, out) = (&mut h[..units], &mut out[..units]);
    affine(p, &a.kernel[..g * features], g, &a.x_t[..features], a.bias_in);
    affine(r, &a.rk[..g * units], g, h, a.bias_rec);
    match gates {
        1 => cells::simple(act, units, p, r, out),
        3 => cells::gru::<T, false>(act, ract, units, p, r, h, out, &mut []),
        _ => cells::lstm::<T, false>(act, ract, units, p, r, &mut c[..units], out, &mut []),
    }
    copy(h, out);
}

/// Rows of one block of [`affine`]'s sums.
const BLOCK: usize = 16;

/// `dst = bias + A·v` for the column-major `rows × v.len()` matrix `a`
/// (`rows` at most [`SMALL`]): in blocks of sixteen rows, every block's
/// sums in registers through one pass over the columns (so that the
/// blocks' chains of dependent adds run side by side); the last block
/// overlaps the one before rather than run short.
#[inline(always)]
fn affine<T: Scalar>(dst: &mut [T], a: &[T], rows: usize, v: &[T], bias: Option<&[T]>) {
    let (dst, a) = (&mut dst[..rows], &a[..rows * v.len()]);
    match rows.div_ceil(BLOCK) {
        0 | 1 if rows < BLOCK => {
            // The first column's products start the sums beside the bias:
            // a loop that only copied it, or zeroed the sums, would be a
            // call to `memcpy` or `memset`.
            let Some((&v0, rest)) = v.split_first() else {
                match bias {
                    Some(b) => dst.copy_from_slice(&b[..rows]),
                    None => dst.fill(T::zero()),
                }
                return;
            };
            match bias {
                Some(b) => {
                    for ((d, &w), &b) in dst.iter_mut().zip(a).zip(b) {
                        *d = b + w * v0;
                    }
                }
                None => {
                    for (d, &w) in dst.iter_mut().zip(a) {
                        *d = w * v0;
                    }
                }
            }
            // Columns by index: `chunks_exact` would divide.
            for (j, &vj) in rest.iter().enumerate() {
                let col = &a[(j + 1) * rows..][..rows];
                for (d, &w) in dst.iter_mut().zip(col) {
                    *d += w * vj;
                }
            }
        }
        1 => blocks::<T, 1>(dst, a, rows, v, bias),
        2 => blocks::<T, 2>(dst, a, rows, v, bias),
        3 => blocks::<T, 3>(dst, a, rows, v, bias),
        4 => blocks::<T, 4>(dst, a, rows, v, bias),
        5 => blocks::<T, 5>(dst, a, rows, v, bias),
        _ => blocks::<T, 6>(dst, a, rows, v, bias),
    }
}

/// [`affine`] with `N` blocks (`rows` in `(N−1)·16, N·16]`, at least 16).
#[inline(always)]
fn blocks<T: Scalar, const N: usize>(dst: &mut [T], a: &[T], rows: usize, v: &[T], bias: Option<&[T]>) {
    let first: [usize; N] = core::array::from_fn(|b| (b * BLOCK).min(rows - BLOCK));
    let mut sums = [[T::zero(); BLOCK]; N];
    if let Some(bias) = bias {
        for (s, &f) in sums.iter_mut().zip(&first) {
            s.copy_from_slice(&bias[f..f + BLOCK]);
        }
    }
    // Columns by index: `chunks_exact` would divide.
    for (j, &vj) in v.iter().enumerate() {
        let col = &a[j * rows..][..rows];
        for (s, &f) in sums.iter_mut().zip(&first) {
            let w = &col[f..f + BLOCK];
            for i in 0..BLOCK {
                s[i] += w[i] * vj;
            }
        }
    }
    for (s, &f) in sums.iter().zip(&first) {
        dst[f..f + BLOCK].copy_from_slice(s);
    }
}

/// `dst = src` (equal lengths) as fixed-size moves of eight and a tail,
/// rather than a call to `memcpy` for a few dozen values.
#[inline(always)]
fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        d.copy_from_slice(s);
    }
    for (d, &s) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *d = s;
    }
}

/// [`step`] with buffers of `CAP` values for the input and recurrent
/// products: in one block when every gate's rows fit (the products then
/// on the SIMD matrix-vector kernel), else a block of units at a time
/// (each gate's rows of those units), with `c` updated in place and the
/// new `h` in `out`.
#[inline(always)]
fn step_blocks<T: Scalar, const CAP: usize>(a: &Parts<T>, h: &[T], c: &mut [T], out: &mut [T]) {
    let (cell, units) = (a.cell, a.units);
    let gates = cell.gates();
    let g = gates * units;
    let mut p = [T::zero(); CAP];
    let mut r = [T::zero(); CAP];
    let (act, ract) = cell.activations();
    if g <= CAP {
        let (p, r) = (&mut p[..g], &mut r[..g]);
        T::matvec(g, a.features, a.kernel, a.x_t, p, a.bias_in.map_or(Start::Zero, Start::Bias), false);
        T::matvec(g, units, a.rk, h, r, a.bias_rec.map_or(Start::Zero, Start::Bias), false);
        with_activations(
            act,
            ract,
            #[inline(always)]
            |act, ract| update(cell, act, ract, units, p, r, h, c, out),
        );
        return;
    }
    with_activations(
        act,
        ract,
        #[inline(always)]
        |act, ract| {
            let block = CAP / gates;
            let mut u0 = 0;
            while u0 < units {
                let len = block.min(units - u0);
                let (p, r) = (&mut p[..gates * len], &mut r[..gates * len]);
                project(p, a.kernel, g, a.x_t, a.bias_in, gates, units, u0, len);
                project(r, a.rk, g, h, a.bias_rec, gates, units, u0, len);
                // LSTM's cell states of the block (other cells have none).
                let c = c.get_mut(u0..u0 + len).unwrap_or_default();
                update(cell, act, ract, len, p, r, &h[u0..u0 + len], c, &mut out[u0..u0 + len]);
                u0 += len;
            }
        },
    );
}

/// One step's gate arithmetic for a block of `len` units.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn update<T: Scalar>(
    cell: Cell,
    act: Activation,
    ract: Activation,
    len: usize,
    p: &mut [T],
    r: &[T],
    h_prev: &[T],
    c: &mut [T],
    h_new: &mut [T],
) {
    match cell {
        Cell::SimpleRnn { .. } => cells::simple(act, len, p, r, h_new),
        Cell::Gru { .. } => cells::gru::<T, false>(act, ract, len, p, r, h_prev, h_new, &mut []),
        Cell::Lstm { .. } => cells::lstm::<T, false>(act, ract, len, p, r, c, h_new, &mut []),
    }
}

/// `dst = bias + A·v` over `runs` runs of `run` rows of the column-major
/// `rows × v.len()` matrix `a`, run `k` starting at row `k·stride + u0`
/// (a block of units of each gate). Four columns at a time, so the sums
/// stay in registers for longer.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn project<T: Scalar>(
    dst: &mut [T],
    a: &[T],
    rows: usize,
    v: &[T],
    bias: Option<&[T]>,
    runs: usize,
    stride: usize,
    u0: usize,
    run: usize,
) {
    for k in 0..runs {
        let first = k * stride + u0;
        let d = &mut dst[k * run..][..run];
        match bias {
            Some(b) => d.copy_from_slice(&b[first..first + run]),
            None => d.fill(T::zero()),
        }
        let mut quads = v.chunks_exact(4);
        let mut j = 0;
        for q in &mut quads {
            let col = |i: usize| &a[(j + i) * rows + first..][..run];
            let (c0, c1, c2, c3) = (col(0), col(1), col(2), col(3));
            for i in 0..run {
                d[i] += c0[i] * q[0] + c1[i] * q[1] + c2[i] * q[2] + c3[i] * q[3];
            }
            j += 4;
        }
        for &vj in quads.remainder() {
            let c0 = &a[j * rows + first..][..run];
            for i in 0..run {
                d[i] += c0[i] * vj;
            }
            j += 1;
        }
    }
}
