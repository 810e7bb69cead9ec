//! One sample's gate arithmetic at one step, forward and backward, shared
//! by the batch passes and the streaming step where it does not take the
//! x86-64 intrinsics (`stream::x86`), so that the two agree to the last bit
//! but for the order of the products' sums.
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

/// Lanes of the blocks that the backward functions work on.
const LANES: usize = 8;

/// Calls `f(k0, len)` on the blocks `k0..k0 + len` of `0..u`, `LANES` long
/// but the last. The backward functions write up to ten slices each, too
/// many for the compiler to vectorize a plain loop over them (it would
/// check every pair for overlap): they load each block into arrays first,
/// compute, then store, which it vectorizes as straight-line code.
#[inline(always)]
fn by_blocks(u: usize, mut f: impl FnMut(usize, usize)) {
    let whole = u / LANES * LANES;
    let mut k0 = 0;
    while k0 < whole {
        f(k0, LANES);
        k0 += LANES;
    }
    if whole < u {
        f(whole, u - whole);
    }
}

/// `s[k0..k0 + len]` in an array (zeros past `len`).
#[inline(always)]
fn load<T: Scalar>(s: &[T], k0: usize, len: usize) -> [T; LANES] {
    let mut block = [T::zero(); LANES];
    block[..len].copy_from_slice(&s[k0..k0 + len]);
    block
}

/// `s[k0..k0 + len] = block[..len]`.
#[inline(always)]
fn store<T: Scalar>(s: &mut [T], k0: usize, len: usize, block: &[T; LANES]) {
    s[k0..k0 + len].copy_from_slice(&block[..len]);
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
    by_blocks(
        u,
        #[inline(always)]
        |k0, len| {
            let ld = |s: &[T]| load(s, k0, len);
            let (z, r, hh, d, rh, h_prev) = (ld(pz), ld(pr), ld(ph), ld(dh), ld(rh), ld(h_prev));
            let (zp, rp, a) = if SAVE { (ld(pre), ld(&pre[u..]), ld(&pre[2 * u..])) } else { (z, r, hh) };
            let (mut dz, mut dr, mut da, mut dsh, mut dhp) =
                ([T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES]);
            for j in 0..LANES {
                dz[j] = d[j] * (h_prev[j] - hh[j]) * slope(ract, SAVE, zp[j], z[j]);
                da[j] = d[j] * (one - z[j]) * slope(act, SAVE, a[j], hh[j]);
                dr[j] = da[j] * rh[j] * slope(ract, SAVE, rp[j], r[j]);
                dsh[j] = da[j] * r[j];
                dhp[j] = d[j] * z[j];
            }
            for (s, block) in [
                (&mut *pz, &dz),
                (&mut *pr, &dr),
                (&mut *ph, &da),
                (&mut *sz, &dz),
                (&mut *sr, &dr),
                (&mut *sh, &dsh),
                (&mut *dh, &dhp),
            ] {
                store(s, k0, len, block);
            }
        },
    );
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
    let (c_prev, c, dh, dc) = (&c_prev[..u], &c[..u], &mut dh[..u], &mut dc[..u]);
    let (si, rest) = ds[..4 * u].split_at_mut(u);
    let (sf, rest) = rest.split_at_mut(u);
    let (sc, so) = rest.split_at_mut(u);
    by_blocks(
        u,
        #[inline(always)]
        |k0, len| {
            let ld = |s: &[T]| load(s, k0, len);
            let (i, f, g, o, d, dcn, c_prev, c) = (ld(pi), ld(pf), ld(pc), ld(po), ld(dh), ld(dc), ld(c_prev), ld(c));
            let (ip, fp, cp, op) =
                if SAVE { (ld(pre), ld(&pre[u..]), ld(&pre[2 * u..]), ld(&pre[3 * u..])) } else { (i, f, g, o) };
            let (mut di, mut df, mut dg, mut dout, mut dcp) =
                ([T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES], [T::zero(); LANES]);
            for j in 0..LANES {
                // The activation of `c'` again: cheaper to recompute than to keep.
                let ac = apply(act, c[j]);
                let dct = dcn[j] + d[j] * o[j] * slope(act, act.needs_input(), c[j], ac);
                di[j] = dct * g[j] * slope(ract, SAVE, ip[j], i[j]);
                df[j] = dct * c_prev[j] * slope(ract, SAVE, fp[j], f[j]);
                dg[j] = dct * i[j] * slope(act, SAVE, cp[j], g[j]);
                dout[j] = d[j] * ac * slope(ract, SAVE, op[j], o[j]);
                dcp[j] = dct * f[j];
            }
            for (s, block) in [
                (&mut *pi, &di),
                (&mut *pf, &df),
                (&mut *pc, &dg),
                (&mut *po, &dout),
                (&mut *si, &di),
                (&mut *sf, &df),
                (&mut *sc, &dg),
                (&mut *so, &dout),
                (&mut *dc, &dcp),
            ] {
                store(s, k0, len, block);
            }
            dh[k0..k0 + len].fill(T::zero());
        },
    );
}
