//! Keras's recurrent layers (SimpleRNN, GRU with `reset_after`, LSTM):
//! the forward pass over a batch of sequences, back-propagation through
//! time, and one streaming step.
//!
//! A sample `(steps, features)` is row-major, a step's features adjacent,
//! so a batch is the column-major `features × (n·steps)` matrix whose
//! column `s·steps + t` is step `t` of sample `s`. The kernels keep Keras's
//! layouts: `kernel [F, g·U]` is the column-major `g·U × F` matrix,
//! `recurrent_kernel [U, g·U]` the column-major `g·U × U` one, `bias
//! [g·U]` (GRU: `[2, 3U]`, the input bias then the recurrent one), gates in
//! Keras's order (LSTM i, f, c, o; GRU z, r, h). The initial state is zero.
//!
//! The input projections of every step and sample are one matrix product;
//! each step then multiplies the recurrent kernel by all samples' previous
//! states at once, and the gate arithmetic (module `cells`) runs per sample.
//! Backward, the weight gradients of all steps are again one product each.
//!
//! # `work`
//! Regions of per-sample length times `n`, in this order (`G = g·U`):
//! - `gates` `G·steps`, column `s·steps + t`: the input projections, then
//!   the gates' outputs (SimpleRNN: its pre-activation); backward, the
//!   input projections' gradients.
//! - `h` `U·(steps+1)`: sample `s`'s states in slots `s·(steps+1) + j`, the
//!   zero initial state in slot 0 (`reverse`: slot `steps`), `h_t` in slot
//!   `t+1` (`reverse`: `t`), so the state before each step is the slot
//!   next to its own.
//! - `ds` `G·(steps+1)`: backward, the recurrent products' gradients, each
//!   step's in the slot of the state it multiplied (the other slot zero),
//!   so that one product over every slot gives the recurrent kernel's
//!   gradient; forward, its first `G·n` values hold a step's recurrent
//!   products.
//! - `dh` `U`: backward, the gradient reaching each sample's state.
//! - LSTM: `c` `U·(steps+1)` (slots as `h`), then `dc` `U`.
//! - GRU: `rh` `U·steps`, the candidate gate's recurrent product (with its
//!   bias), by column as `gates`.
//! - GRU and LSTM whose activation or recurrent activation needs its input
//!   for its slope (gelu, silu, mish): `pre` `G·steps`, the gates'
//!   pre-activations.
//!
//! [`infer`] (inference, no backward) keeps `gates`, two state slots per
//! sample in `h` (and `c`) that take turns, and one step's recurrent
//! products: [`infer_work_len`].

mod cells;
pub(crate) mod math;
mod stream;
#[cfg(test)]
mod tests;

use crate::kernels::gemm::{gemm_nn, gemm_nt, gemm_tn, Layout, Start};
use crate::vocab::Activation;
use crate::Scalar;
use cells::with_activations;
pub use stream::{step, step_sized};

/// Which cell, with its activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `h' = act(x·W + h·U + b)`.
    SimpleRnn {
        /// Keras's `activation` (default tanh).
        activation: Activation,
    },
    /// GRU with `reset_after` (Keras's default).
    Gru {
        /// Keras's `activation`, of the candidate state (default tanh).
        activation: Activation,
        /// Keras's `recurrent_activation`, of the z and r gates (default sigmoid).
        recurrent_activation: Activation,
    },
    /// LSTM.
    Lstm {
        /// Keras's `activation`, of the candidate and of the output's cell
        /// state (default tanh).
        activation: Activation,
        /// Keras's `recurrent_activation`, of the i, f and o gates (default sigmoid).
        recurrent_activation: Activation,
    },
}

impl Cell {
    /// Gates per unit: 1 (SimpleRNN), 3 (GRU), 4 (LSTM).
    pub const fn gates(self) -> usize {
        match self {
            Cell::SimpleRnn { .. } => 1,
            Cell::Gru { .. } => 3,
            Cell::Lstm { .. } => 4,
        }
    }

    /// The activation and the recurrent one (SimpleRNN: the activation twice).
    const fn activations(self) -> (Activation, Activation) {
        match self {
            Cell::SimpleRnn { activation } => (activation, activation),
            Cell::Gru { activation, recurrent_activation } | Cell::Lstm { activation, recurrent_activation } => {
                (activation, recurrent_activation)
            }
        }
    }

    /// Whether `work` keeps the gates' pre-activations (`pre`).
    const fn saves_pre(self) -> bool {
        let (a, ra) = self.activations();
        !matches!(self, Cell::SimpleRnn { .. }) && (a.needs_input() || ra.needs_input())
    }
}

/// The sizes of one recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Steps of a sequence.
    pub steps: usize,
    /// Features of a step.
    pub features: usize,
    /// Units (the state's width).
    pub units: usize,
    /// Whether the output is every step's `h` (else the last one).
    pub return_sequences: bool,
    /// Whether the steps run from last to first (`Bidirectional`'s
    /// backward layer); `h_t` is still written at position `t`.
    pub reverse: bool,
}

/// The per-sample lengths of `work`'s regions, in order: gates, h, ds, dh,
/// c, dc, rh, pre (0 for a region the cell does not use); without `train`,
/// what [`infer`] needs: two state slots and one step's recurrent product.
const fn region_lens(cell: Cell, s: &Shape, train: bool) -> [usize; 8] {
    let (u, g) = (s.units, cell.gates() * s.units);
    let lstm = matches!(cell, Cell::Lstm { .. });
    if !train {
        return [g * s.steps, 2 * u, g, 0, if lstm { 2 * u } else { 0 }, 0, 0, 0];
    }
    let slots = s.steps + 1;
    let gru = matches!(cell, Cell::Gru { .. });
    [
        g * s.steps,
        u * slots,
        g * slots,
        u,
        if lstm { u * slots } else { 0 },
        if lstm { u } else { 0 },
        if gru { u * s.steps } else { 0 },
        if cell.saves_pre() { g * s.steps } else { 0 },
    ]
}

/// The sum of `lens`.
const fn total(lens: [usize; 8]) -> usize {
    let mut sum = 0;
    let mut i = 0;
    while i < lens.len() {
        sum += lens[i];
        i += 1;
    }
    sum
}

/// Scalars per sample that [`forward`] needs in `work` (the module's docs
/// give the layout): `G·steps + U·(steps+1) + G·(steps+1) + U` with
/// `G = gates·U`, plus `U·(steps+1) + U` for LSTM, `U·steps` for GRU, and
/// `G·steps` for a GRU or LSTM with gelu, silu or mish.
pub const fn work_len(cell: Cell, s: &Shape) -> usize {
    total(region_lens(cell, s, true))
}

/// Scalars per sample that [`infer`] needs in `work`: `G·steps + 2U + G`
/// with `G = gates·U`, plus `2U` for LSTM (the input projections of every
/// step, the last two states and one step's recurrent product).
pub const fn infer_work_len(cell: Cell, s: &Shape) -> usize {
    total(region_lens(cell, s, false))
}

/// Scalars of state per sample: `U` (SimpleRNN, GRU), `2U` (LSTM: `h`
/// then `c`).
pub const fn state_len(cell: Cell, units: usize) -> usize {
    match cell {
        Cell::Lstm { .. } => 2 * units,
        _ => units,
    }
}

/// `work` cut into its regions for `n` samples.
struct Work<'a, T> {
    gates: &'a mut [T],
    h: &'a mut [T],
    ds: &'a mut [T],
    dh: &'a mut [T],
    c: &'a mut [T],
    dc: &'a mut [T],
    rh: &'a mut [T],
    pre: &'a mut [T],
}

impl<'a, T> Work<'a, T> {
    fn split(cell: Cell, s: &Shape, n: usize, train: bool, work: &'a mut [T]) -> Self {
        let mut rest = work;
        let mut take = |len: usize| {
            let (part, tail) = core::mem::take(&mut rest).split_at_mut(len * n);
            rest = tail;
            part
        };
        let [gates, h, ds, dh, c, dc, rh, pre] = region_lens(cell, s, train);
        Work {
            gates: take(gates),
            h: take(h),
            ds: take(ds),
            dh: take(dh),
            c: take(c),
            dc: take(dc),
            rh: take(rh),
            pre: take(pre),
        }
    }
}

/// The slots of a state block (see the module's docs): the state before
/// step `t`, and the one after it.
#[inline(always)]
fn slots(s: &Shape, t: usize) -> (usize, usize) {
    if s.reverse {
        (t + 1, t)
    } else {
        (t, t + 1)
    }
}

/// The state slots `before` and `after` (adjacent) in one sample's block
/// of `len`-value slots.
#[inline(always)]
fn pair<T>(block: &mut [T], before: usize, after: usize, len: usize) -> (&mut [T], &mut [T]) {
    let (a, b) = block[before.min(after) * len..][..2 * len].split_at_mut(len);
    if before < after {
        (a, b)
    } else {
        (b, a)
    }
}

/// Samples in a batch of `len` inputs (0 when a sample has no inputs).
#[inline]
fn samples(s: &Shape, len: usize) -> usize {
    len.checked_div(s.steps * s.features).unwrap_or(0)
}

/// The input bias and, for GRU, the recurrent one.
#[inline]
fn split_bias<T>(cell: Cell, g: usize, bias: Option<&[T]>) -> (Option<&[T]>, Option<&[T]>) {
    match (cell, bias) {
        (Cell::Gru { .. }, Some(b)) => (Some(&b[..g]), Some(&b[g..2 * g])),
        (_, b) => (b.map(|b| &b[..g]), None),
    }
}

/// `c = start + A·B` for the `n` columns of `B` that are `ldb` apart.
#[allow(clippy::too_many_arguments)]
#[inline]
fn product<T: Scalar>(
    layout: Layout,
    m: usize,
    n: usize,
    k: usize,
    a: &[T],
    b: &[T],
    ldb: usize,
    c: &mut [T],
    start: Start<T>,
) {
    if n == 1 && layout == Layout::NN {
        T::matvec(m, k, a, b, c, start, false);
    } else {
        T::gemm(layout, m, n, k, a, b, ldb, c, start, false);
    }
}

/// Forward over every sample and step of `x` (`n·steps·features` values):
/// `out` gets every step's `h` (`n·steps·units`) with `return_sequences`,
/// else the last one (`n·units`). `bias` is `None` for `use_bias = false`.
/// `work` holds [`work_len`]`·n` scalars; on return it holds what
/// [`backward`] needs.
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
pub fn forward<T: Scalar>(
    cell: Cell,
    s: &Shape,
    kernel: &[T],
    recurrent_kernel: &[T],
    bias: Option<&[T]>,
    x: &[T],
    work: &mut [T],
    out: &mut [T],
) {
    run(cell, s, kernel, recurrent_kernel, bias, x, true, work, out);
}

/// [`forward`] for inference: the same `out`, with `work` holding only
/// [`infer_work_len`]`·n` scalars (nothing for [`backward`]).
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
pub fn infer<T: Scalar>(
    cell: Cell,
    s: &Shape,
    kernel: &[T],
    recurrent_kernel: &[T],
    bias: Option<&[T]>,
    x: &[T],
    work: &mut [T],
    out: &mut [T],
) {
    run(cell, s, kernel, recurrent_kernel, bias, x, false, work, out);
}

/// [`forward`] when `train`, else [`infer`]: with `train` every step's
/// state has its slot (see the module's docs), else two slots take turns
/// (the `k`-th step run reads slot `k mod 2`).
#[allow(clippy::too_many_arguments)]
fn run<T: Scalar>(
    cell: Cell,
    s: &Shape,
    kernel: &[T],
    recurrent_kernel: &[T],
    bias: Option<&[T]>,
    x: &[T],
    train: bool,
    work: &mut [T],
    out: &mut [T],
) {
    let (steps, f, u) = (s.steps, s.features, s.units);
    let g = cell.gates() * u;
    let n = samples(s, x.len());
    if n == 0 || u == 0 {
        return;
    }
    let cols = n * steps;
    let w = Work::split(cell, s, n, train, work);
    let (bias_in, bias_rec) = split_bias(cell, g, bias);
    gemm_nn(g, cols, f, kernel, &x[..cols * f], w.gates, bias_in.map_or(Start::Zero, Start::Bias), false);
    let slots_per = if train { steps + 1 } else { 2 };
    let zero_slot = if train && s.reverse { steps } else { 0 };
    for block in w.h.chunks_exact_mut(slots_per * u) {
        block[zero_slot * u..][..u].fill(T::zero());
    }
    for block in w.c.chunks_exact_mut(slots_per * u) {
        block[zero_slot * u..][..u].fill(T::zero());
    }
    let (act, ract) = cell.activations();
    let saves_pre = train && cell.saves_pre();
    let rec = &mut w.ds[..g * n];
    for k in 0..steps {
        let t = if s.reverse { steps - 1 - k } else { k };
        let (before, after) = if train { slots(s, t) } else { (k % 2, 1 - k % 2) };
        if k == 0 {
            // The state before is zero: the product is its bias.
            for col in rec.chunks_exact_mut(g) {
                match bias_rec {
                    Some(b) => col.copy_from_slice(b),
                    None => col.fill(T::zero()),
                }
            }
        } else {
            let start = bias_rec.map_or(Start::Zero, Start::Bias);
            product(Layout::NN, g, n, u, recurrent_kernel, &w.h[before * u..], slots_per * u, rec, start);
        }
        let last = k + 1 == steps;
        with_activations(
            act,
            ract,
            #[inline(always)]
            |act, ract| {
                for sample in 0..n {
                    let col = sample * steps + t;
                    let p = &mut w.gates[col * g..][..g];
                    let r = &rec[sample * g..][..g];
                    let (h_prev, h_new) = pair(&mut w.h[sample * slots_per * u..], before, after, u);
                    match cell {
                        Cell::SimpleRnn { .. } => cells::simple(act, u, p, r, h_new),
                        Cell::Gru { .. } => {
                            if train {
                                w.rh[col * u..][..u].copy_from_slice(&r[2 * u..3 * u]);
                            }
                            if fused_gates(cell, saves_pre, u, p, r, h_prev, h_new) {
                                // Done with FMA on x86-64.
                            } else if saves_pre {
                                cells::gru::<T, true>(act, ract, u, p, r, h_prev, h_new, &mut w.pre[col * g..]);
                            } else {
                                cells::gru::<T, false>(act, ract, u, p, r, h_prev, h_new, &mut []);
                            }
                        }
                        Cell::Lstm { .. } => {
                            let (c_prev, c) = pair(&mut w.c[sample * slots_per * u..], before, after, u);
                            c.copy_from_slice(c_prev);
                            if fused_gates(cell, saves_pre, u, p, r, c, h_new) {
                                // Done with FMA on x86-64.
                            } else if saves_pre {
                                cells::lstm::<T, true>(act, ract, u, p, r, c, h_new, &mut w.pre[col * g..]);
                            } else {
                                cells::lstm::<T, false>(act, ract, u, p, r, c, h_new, &mut []);
                            }
                        }
                    }
                    if s.return_sequences {
                        out[col * u..][..u].copy_from_slice(h_new);
                    } else if last {
                        out[sample * u..][..u].copy_from_slice(h_new);
                    }
                }
            },
        );
    }
}

/// The recurrent kernel transposed, on the stack, for the backward pass's
/// per-step products `Uᵀ·ds`: as a plain product they reuse one copy,
/// where the transposed product would transpose `U` again at every step
/// (a third of its time at 32 units). With `std` only, and up to
/// [`TRANSPOSED_CAP`] values (16 or 32 KB): a small device's stack keeps
/// the transposed product.
struct Transposed<T> {
    #[cfg(feature = "std")]
    values: [T; TRANSPOSED_CAP],
    #[cfg(not(feature = "std"))]
    values: core::marker::PhantomData<T>,
}

/// The most values of [`Transposed`].
#[cfg(feature = "std")]
const TRANSPOSED_CAP: usize = 4096;

impl<T: Scalar> Transposed<T> {
    #[inline]
    fn new() -> Self {
        #[cfg(feature = "std")]
        return Transposed { values: [T::zero(); TRANSPOSED_CAP] };
        #[cfg(not(feature = "std"))]
        return Transposed { values: core::marker::PhantomData };
    }

    /// `Uᵀ` (column-major `u × g`) of the column-major `g × u` matrix
    /// `rk`, or `None` when it does not fit (or without `std`).
    #[inline]
    fn of(&mut self, g: usize, u: usize, rk: &[T]) -> Option<&[T]> {
        #[cfg(feature = "std")]
        if g * u <= TRANSPOSED_CAP {
            let rt = &mut self.values[..g * u];
            for (k, column) in rk[..g * u].chunks_exact(g).enumerate() {
                for (j, &v) in column.iter().enumerate() {
                    rt[j * u + k] = v;
                }
            }
            return Some(rt);
        }
        let _ = (g, u, rk);
        None
    }
}

/// The gates of one sample and step of a GRU or LSTM with the x86-64
/// kernel (`stream::x86::batch_gates`, FMA) where it applies: `f32`, the
/// default activations, no pre-activations to keep, a CPU with AVX2 and
/// FMA. `state` is LSTM's `c` (updated) or GRU's previous `h` (read).
/// False, having done nothing, elsewhere.
#[inline(always)]
fn fused_gates<T: Scalar>(
    cell: Cell,
    saves_pre: bool,
    u: usize,
    p: &mut [T],
    rec: &[T],
    state: &mut [T],
    h_new: &mut [T],
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if T::BYTES == 4 && !saves_pre {
        use Activation::{Sigmoid, Tanh};
        let g = cell.gates() * u;
        let (p, rec, state, h_new) = (&mut p[..g], &rec[..g], &mut state[..u], &mut h_new[..u]);
        let (p, rec, state, h_new) =
            (p.as_mut_ptr().cast(), rec.as_ptr().cast(), state.as_mut_ptr().cast(), h_new.as_mut_ptr().cast());
        // SAFETY: `T` is `f32` (`Scalar` is sealed: `f32` and `f64`, and
        // this one has 4 bytes); the slices have the lengths the kernel
        // reads and writes, and distinct `&mut` do not overlap.
        return unsafe {
            match cell {
                Cell::Lstm { activation: Tanh, recurrent_activation: Sigmoid } => {
                    stream::x86::batch_gates::<4>(u, p, rec, state, h_new)
                }
                Cell::Gru { activation: Tanh, recurrent_activation: Sigmoid } => {
                    stream::x86::batch_gates::<3>(u, p, rec, state, h_new)
                }
                _ => false,
            }
        };
    }
    let _ = (cell, saves_pre, u, p, rec, state, h_new);
    false
}

/// Back-propagation through time. `dout` is the gradient of [`forward`]'s
/// `out` (every step's `h` with `return_sequences`, else the last `h`);
/// `work` is what `forward` left (it is overwritten). Writes `dkernel`,
/// `drecurrent` and `dbias` (when given; `2·3U` values for GRU, the input
/// half first) and adds the input gradient into `dx` when given.
///
/// # Panics
/// If a slice is shorter than the sizes need.
#[allow(clippy::too_many_arguments)]
pub fn backward<T: Scalar>(
    cell: Cell,
    s: &Shape,
    kernel: &[T],
    recurrent_kernel: &[T],
    x: &[T],
    work: &mut [T],
    dout: &[T],
    dkernel: &mut [T],
    drecurrent: &mut [T],
    dbias: Option<&mut [T]>,
    dx: Option<&mut [T]>,
) {
    let (steps, f, u) = (s.steps, s.features, s.units);
    let g = cell.gates() * u;
    let n = samples(s, x.len());
    let bias_len = if matches!(cell, Cell::Gru { .. }) { 2 * g } else { g };
    if n == 0 || u == 0 {
        // No steps: zero gradients (a product of depth 0 may leave its
        // output untouched).
        dkernel[..g * f].fill(T::zero());
        drecurrent[..g * u].fill(T::zero());
        if let Some(db) = dbias {
            db[..bias_len].fill(T::zero());
        }
        return;
    }
    let (cols, slots_all) = (n * steps, n * (steps + 1));
    let w = Work::split(cell, s, n, true, work);
    w.dh.fill(T::zero());
    w.dc.fill(T::zero());
    // The slot no step's gradient lands in.
    let unused = if s.reverse { 0 } else { steps };
    for block in w.ds.chunks_exact_mut((steps + 1) * g) {
        block[unused * g..][..g].fill(T::zero());
    }
    let (act, ract) = cell.activations();
    let mut transposed = Transposed::new();
    let rt = transposed.of(g, u, recurrent_kernel);
    for k in (0..steps).rev() {
        let t = if s.reverse { steps - 1 - k } else { k };
        let (before, after) = slots(s, t);
        for sample in 0..n {
            let d = if s.return_sequences {
                Some(&dout[(sample * steps + t) * u..][..u])
            } else {
                (k + 1 == steps).then(|| &dout[sample * u..][..u])
            };
            if let Some(d) = d {
                super::add_into(&mut w.dh[sample * u..][..u], d);
            }
        }
        with_activations(
            act,
            ract,
            #[inline(always)]
            |act, ract| {
                for sample in 0..n {
                    let col = sample * steps + t;
                    let p = &mut w.gates[col * g..][..g];
                    let ds = &mut w.ds[(sample * (steps + 1) + before) * g..][..g];
                    let dh = &mut w.dh[sample * u..][..u];
                    let states = sample * (steps + 1);
                    match cell {
                        Cell::SimpleRnn { .. } => cells::simple_back(act, u, p, &w.h[(states + after) * u..], dh, ds),
                        Cell::Gru { .. } => {
                            let (rh, h_prev) = (&w.rh[col * u..], &w.h[(states + before) * u..]);
                            if cell.saves_pre() {
                                cells::gru_back::<T, true>(act, ract, u, p, &w.pre[col * g..], rh, h_prev, dh, ds);
                            } else {
                                cells::gru_back::<T, false>(act, ract, u, p, &[], rh, h_prev, dh, ds);
                            }
                        }
                        Cell::Lstm { .. } => {
                            let (c_prev, c) = (&w.c[(states + before) * u..], &w.c[(states + after) * u..]);
                            let dc = &mut w.dc[sample * u..][..u];
                            if cell.saves_pre() {
                                let pre = &w.pre[col * g..];
                                cells::lstm_back::<T, true>(act, ract, u, p, pre, c_prev, c, dh, dc, ds);
                            } else {
                                cells::lstm_back::<T, false>(act, ract, u, p, &[], c_prev, c, dh, dc, ds);
                            }
                        }
                    }
                }
            },
        );
        if k > 0 {
            // dh_prev += Uᵀ·ds for every sample's step at once.
            let ds = &w.ds[before * g..];
            match rt {
                Some(rt) => product(Layout::NN, u, n, g, rt, ds, (steps + 1) * g, w.dh, Start::Keep),
                None => product(Layout::TN, u, n, g, recurrent_kernel, ds, (steps + 1) * g, w.dh, Start::Keep),
            }
        }
    }
    gemm_nt(g, f, cols, w.gates, &x[..cols * f], &mut dkernel[..g * f], Start::Zero);
    gemm_nt(g, u, slots_all, w.ds, w.h, &mut drecurrent[..g * u], Start::Zero);
    if let Some(db) = dbias {
        super::column_sum(w.gates, &mut db[..g]);
        if matches!(cell, Cell::Gru { .. }) {
            super::column_sum(w.ds, &mut db[g..2 * g]);
        }
    }
    if let Some(dx) = dx {
        gemm_tn(f, cols, g, kernel, w.gates, &mut dx[..cols * f], Start::Keep);
    }
}
