//! One sample's gate arithmetic at one step, forward and backward, shared
//! by the batch passes and the streaming step (so the two agree to the
//! last bit but for the order of the products' sums).
//!
//! A block of `len` units is held gate by gate: `p` and `rec` are `g`
//! runs of `len` values (Keras's gate order), `p` the input projection
//! with its bias, `rec` the recurrent product (with GRU's recurrent bias).
//! The forward functions leave in `p` what the backward ones read: the
//! gates' outputs (SimpleRNN: the pre-activation), and, when `SAVE`, the
//! pre-activations in `pre` (for activations whose slope needs them).

use super::math::{apply, slope};
use crate::vocab::Activation;
use crate::Scalar;

/// Runs `f` inside [`crate::cpu::wide`] with the activations as constants
/// when they are Keras's defaults (tanh, sigmoid), so that the gate loops
/// are compiled for them and vectorize; else with them as given.
#[inline(always)]
pub(crate) fn with_activations<R>(act: Activation, ract: Activation, f: impl FnOnce(Activation, Activation) -> R) -> R {
    crate::cpu::wide(
        #[inline(always)]
        || {
            if act == Activation::Tanh && ract == Activation::Sigmoid {
                f(Activation::Tanh, Activation::Sigmoid)
            } else {
                f(act, ract)
            }
        },
    )
}

/// SimpleRNN: `h' = act(p + rec)`; `p` keeps the pre-activation.
#[inline(always)]
pub(crate) fn simple<T: Scalar>(act: Activation, len: usize, p: &mut [T], rec: &[T], h_new: &mut [T]) {
    let (p, rec, h_new) = (&mut p[..len], &rec[..len], &mut h_new[..len]);
    for i in 0..len {
        let z = p[i] + rec[i];
        p[i] = z;
        h_new[i] = apply(act, z);
    }
}

/// GRU with `reset_after`: `z = ra(p_z + rec_z)`, `r = ra(p_r + rec_r)`,
/// `h̃ = act(p_h + r·rec_h)`, `h' = z·h + (1 − z)·h̃`; `p` keeps z, r, h̃.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gru<T: Scalar, const SAVE: bool>(
    act: Activation,
    ract: Activation,
    len: usize,
    p: &mut [T],
    rec: &[T],
    h_prev: &[T],
    h_new: &mut [T],
    pre: &mut [T],
) {
    let (pz, rest) = p[..3 * len].split_at_mut(len);
    let (pr, ph) = rest.split_at_mut(len);
    let (rz, rr, rh) = (&rec[..len], &rec[len..2 * len], &rec[2 * len..3 * len]);
    let (h_prev, h_new) = (&h_prev[..len], &mut h_new[..len]);
    let pre = if SAVE { &mut pre[..3 * len] } else { &mut pre[..0] };
    let one = T::one();
    for i in 0..len {
        let (zp, rp) = (pz[i] + rz[i], pr[i] + rr[i]);
        let (z, r) = (apply(ract, zp), apply(ract, rp));
        let a = ph[i] + r * rh[i];
        let hh = apply(act, a);
        if SAVE {
            pre[i] = zp;
            pre[len + i] = rp;
            pre[2 * len + i] = a;
        }
        pz[i] = z;
        pr[i] = r;
        ph[i] = hh;
        h_new[i] = z * h_prev[i] + (one - z) * hh;
    }
}

/// LSTM: gates `i, f, o = ra(p + rec)`, `g = act(p_c + rec_c)`,
/// `c' = f·c + i·g` (in place in `c`), `h' = o·act(c')`; `p` keeps i, f,
/// g, o.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm<T: Scalar, const SAVE: bool>(
    act: Activation,
    ract: Activation,
    len: usize,
    p: &mut [T],
    rec: &[T],
    c: &mut [T],
    h_new: &mut [T],
    pre: &mut [T],
) {
    let (pi, rest) = p[..4 * len].split_at_mut(len);
    let (pf, rest) = rest.split_at_mut(len);
    let (pc, po) = rest.split_at_mut(len);
    let (ri, rf, rc, ro) = (&rec[..len], &rec[len..2 * len], &rec[2 * len..3 * len], &rec[3 * len..4 * len]);
    let (c, h_new) = (&mut c[..len], &mut h_new[..len]);
    let pre = if SAVE { &mut pre[..4 * len] } else { &mut pre[..0] };
    for k in 0..len {
        let (ip, fp, cp, op) = (pi[k] + ri[k], pf[k] + rf[k], pc[k] + rc[k], po[k] + ro[k]);
        let (i, f, g, o) = (apply(ract, ip), apply(ract, fp), apply(act, cp), apply(ract, op));
        if SAVE {
            pre[k] = ip;
            pre[len + k] = fp;
            pre[2 * len + k] = cp;
            pre[3 * len + k] = op;
        }
        let cn = f * c[k] + i * g;
        c[k] = cn;
        h_new[k] = o * apply(act, cn);
        pi[k] = i;
        pf[k] = f;
        pc[k] = g;
        po[k] = o;
    }
}

/// Backward of [`simple`] for `u` units: `dh` (the gradient of `h'`) turns
/// `p` (the pre-activation) into its gradient, copied into `ds`; `dh` is
/// left zero (no direct path to the previous state).
#[inline(always)]
pub(crate) fn simple_back<T: Scalar>(act: Activation, u: usize, p: &mut [T], h: &[T], dh: &mut [T], ds: &mut [T]) {
    let (p, h, dh, ds) = (&mut p[..u], &h[..u], &mut dh[..u], &mut ds[..u]);
    for i in 0..u {
        let d = dh[i] * act.derivative(p[i], h[i]);
        p[i] = d;
        ds[i] = d;
        dh[i] = T::zero();
    }
}

/// Backward of [`gru`] for `u` units: from `dh` (the gradient of `h'`),
/// `p` becomes the input projection's gradient, `ds` the recurrent
/// product's (`rec`), and `dh` the gradient reaching `h` directly (`z·dh`).
/// `rh` is the recurrent product of the candidate gate, `pre` what
/// `gru::<SAVE>` saved.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn gru_back<T: Scalar, const SAVE: bool>(
    act: Activation,
    ract: Activation,
    u: usize,
    p: &mut [T],
    pre: &[T],
    rh: &[T],
    h_prev: &[T],
    dh: &mut [T],
    ds: &mut [T],
) {
    let (pz, rest) = p[..3 * u].split_at_mut(u);
    let (pr, ph) = rest.split_at_mut(u);
    let (sz, rest) = ds[..3 * u].split_at_mut(u);
    let (sr, sh) = rest.split_at_mut(u);
    let pre = if SAVE { &pre[..3 * u] } else { &pre[..0] };
    let (rh, h_prev, dh) = (&rh[..u], &h_prev[..u], &mut dh[..u]);
    let one = T::one();
    for i in 0..u {
        let (z, r, hh, d) = (pz[i], pr[i], ph[i], dh[i]);
        let (zp, rp, a) = if SAVE { (pre[i], pre[u + i], pre[2 * u + i]) } else { (z, r, hh) };
        let dz = d * (h_prev[i] - hh) * slope(ract, SAVE, zp, z);
        let da = d * (one - z) * slope(act, SAVE, a, hh);
        let dr = da * rh[i] * slope(ract, SAVE, rp, r);
        pz[i] = dz;
        pr[i] = dr;
        ph[i] = da;
        sz[i] = dz;
        sr[i] = dr;
        sh[i] = da * r;
        dh[i] = d * z;
    }
}

/// Backward of [`lstm`] for `u` units: from `dh` (the gradient of `h'`) and
/// `dc` (the gradient reaching `c'` from the next step), `p` becomes the
/// gates' pre-activation gradient, copied into `ds`; `dc` becomes the
/// gradient of the previous `c` and `dh` is left zero. `c_prev` and `c`
/// are the states before and after the step.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm_back<T: Scalar, const SAVE: bool>(
    act: Activation,
    ract: Activation,
    u: usize,
    p: &mut [T],
    pre: &[T],
    c_prev: &[T],
    c: &[T],
    dh: &mut [T],
    dc: &mut [T],
    ds: &mut [T],
) {
    let (pi, rest) = p[..4 * u].split_at_mut(u);
    let (pf, rest) = rest.split_at_mut(u);
    let (pc, po) = rest.split_at_mut(u);
    let pre = if SAVE { &pre[..4 * u] } else { &pre[..0] };
    let (c_prev, c, dh, dc, ds) = (&c_prev[..u], &c[..u], &mut dh[..u], &mut dc[..u], &mut ds[..4 * u]);
    for k in 0..u {
        let (i, f, g, o, d) = (pi[k], pf[k], pc[k], po[k], dh[k]);
        let (ip, fp, cp, op) = if SAVE { (pre[k], pre[u + k], pre[2 * u + k], pre[3 * u + k]) } else { (i, f, g, o) };
        // The activation of `c'` again: cheaper to recompute than to keep.
        let ac = apply(act, c[k]);
        let dct = dc[k] + d * o * slope(act, act.needs_input(), c[k], ac);
        let (di, df) = (dct * g * slope(ract, SAVE, ip, i), dct * c_prev[k] * slope(ract, SAVE, fp, f));
        let (dg, dout) = (dct * i * slope(act, SAVE, cp, g), d * ac * slope(ract, SAVE, op, o));
        dc[k] = dct * f;
        dh[k] = T::zero();
        pi[k] = di;
        pf[k] = df;
        pc[k] = dg;
        po[k] = dout;
        ds[k] = di;
        ds[u + k] = df;
        ds[2 * u + k] = dg;
        ds[3 * u + k] = dout;
    }
}
