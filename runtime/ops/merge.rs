//! Merges: the element-wise ones (`add`, `subtract`, `multiply`,
//! `average`, `maximum`, `minimum`), `concatenate` on the last axis and
//! `dot` of two vectors. Backward kernels add into the input gradients.

use super::{add_into, add_scaled_into};
use crate::scalar::c;
use crate::Scalar;

pub use crate::vocab::Merge;

/// `out = merge(inputs)` element-wise.
pub fn forward<T: Scalar>(op: Merge, inputs: &[&[T]], out: &mut [T]) {
    out.copy_from_slice(inputs[0]);
    for x in &inputs[1..] {
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            *o = match op {
                Merge::Add | Merge::Average => *o + v,
                Merge::Subtract => *o - v,
                Merge::Multiply => *o * v,
                Merge::Maximum => pick_keeping_nan(*o, v, v > *o),
                Merge::Minimum => pick_keeping_nan(*o, v, v < *o),
            };
        }
    }
    if op == Merge::Average {
        let inv = T::one() / c(inputs.len() as f64);
        for o in out.iter_mut() {
            *o *= inv;
        }
    }
}

/// `b` where `b_wins` or `b` is NaN, else `a`: a NaN on either side gives
/// NaN, as Keras's `maximum` and `minimum` do.
#[inline(always)]
fn pick_keeping_nan<T: Scalar>(a: T, b: T, b_wins: bool) -> T {
    #[allow(clippy::eq_op)] // `b != b`: NaN
    if b_wins || b != b {
        b
    } else {
        a
    }
}

/// Adds the gradient of input `which` of an element-wise merge into `dx`,
/// given the inputs, the output and `dout`. For maximum and minimum the
/// first input holding the winning value takes the gradient.
pub fn backward<T: Scalar>(op: Merge, inputs: &[&[T]], which: usize, dout: &[T], dx: &mut [T]) {
    match op {
        Merge::Add => add_into(dx, dout),
        Merge::Subtract => {
            if which == 0 {
                add_into(dx, dout)
            } else {
                add_scaled_into(dx, dout, -T::one())
            }
        }
        Merge::Average => add_scaled_into(dx, dout, T::one() / c(inputs.len() as f64)),
        Merge::Multiply => {
            for (e, g) in dx.iter_mut().enumerate() {
                let mut p = dout[e];
                for (k, x) in inputs.iter().enumerate() {
                    if k != which {
                        p *= x[e];
                    }
                }
                *g += p;
            }
        }
        Merge::Maximum | Merge::Minimum => {
            for (e, g) in dx.iter_mut().enumerate() {
                let mut best = 0;
                for k in 1..inputs.len() {
                    let better = if op == Merge::Maximum {
                        inputs[k][e] > inputs[best][e]
                    } else {
                        inputs[k][e] < inputs[best][e]
                    };
                    if better {
                        best = k;
                    }
                }
                if best == which {
                    *g += dout[e];
                }
            }
        }
    }
}

/// Writes the rows of `x` (`rows` per sample) into rows `offset..` of `out`
/// (`out_rows` per sample): one part of a concatenation.
pub fn concat_part<T: Scalar>(x: &[T], rows: usize, out: &mut [T], out_rows: usize, offset: usize) {
    for (xc, oc) in x.chunks_exact(rows).zip(out.chunks_exact_mut(out_rows)) {
        oc[offset..offset + rows].copy_from_slice(xc);
    }
}

/// Adds rows `offset..offset + rows` of `dout` into `dx`: the backward of [`concat_part`].
pub fn concat_part_backward<T: Scalar>(dout: &[T], out_rows: usize, offset: usize, dx: &mut [T], rows: usize) {
    for (dc, gc) in dout.chunks_exact(out_rows).zip(dx.chunks_exact_mut(rows)) {
        add_into(gc, &dc[offset..offset + rows]);
    }
}

/// Keras's `dot(axes = 1)` of two batches of vectors: one value per sample;
/// with `normalize` the cosine similarity (each vector divided by
/// `sqrt(max(|v|², 1e-12))`, as Keras's l2 normalisation does).
pub fn dot_forward<T: Scalar>(a: &[T], b: &[T], rows: usize, normalize: bool, out: &mut [T]) {
    for ((ac, bc), o) in a.chunks_exact(rows).zip(b.chunks_exact(rows)).zip(out.iter_mut()) {
        let d = dot(ac, bc);
        *o = if normalize { d * inv_norm(ac) * inv_norm(bc) } else { d };
    }
}

#[inline]
fn dot<T: Scalar>(a: &[T], b: &[T]) -> T {
    a.iter().zip(b).fold(T::zero(), |s, (&x, &y)| s + x * y)
}

#[inline]
fn inv_norm<T: Scalar>(a: &[T]) -> T {
    T::one() / dot(a, a).max(c(1e-12)).sqrt()
}

/// Adds the gradient of the first (`which == 0`) or second operand of
/// [`dot_forward`] into `dx`.
pub fn dot_backward<T: Scalar>(a: &[T], b: &[T], rows: usize, normalize: bool, which: usize, dout: &[T], dx: &mut [T]) {
    let (x, y) = if which == 0 { (a, b) } else { (b, a) };
    for (((xc, yc), &d), gc) in x.chunks_exact(rows).zip(y.chunks_exact(rows)).zip(dout).zip(dx.chunks_exact_mut(rows))
    {
        if !normalize {
            add_scaled_into(gc, yc, d);
            continue;
        }
        // cos = (x·y) ix iy with ix = 1/|x| (when |x|² > 1e-12, else constant)
        let ix = inv_norm(xc);
        let iy = inv_norm(yc);
        let xy = dot(xc, yc);
        let clamped = dot(xc, xc) <= c(1e-12);
        for ((g, &xv), &yv) in gc.iter_mut().zip(xc).zip(yc) {
            let mut v = yv * ix * iy;
            if !clamped {
                v -= xy * iy * ix * ix * ix * xv;
            }
            *g += d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maximum_and_minimum_keep_nan() {
        for op in [Merge::Maximum, Merge::Minimum] {
            let a = [f64::NAN, 1.0, 3.0];
            let b = [0.0, f64::NAN, 2.0];
            let mut out = [0.0; 3];
            forward(op, &[&a, &b], &mut out);
            assert!(out[0].is_nan() && out[1].is_nan(), "{op:?}: {out:?}");
            assert_eq!(out[2], if op == Merge::Maximum { 3.0 } else { 2.0 });
        }
    }
}
