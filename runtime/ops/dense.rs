//! The dense layer's kernels: `y = act(W x + b)` on the last axis, a
//! column per sample (or per position of a sample of higher rank), and its
//! backward pass. The products run on [`crate::kernels`]; without SIMD
//! kernels, on loops specialised for the layer's shape.

use crate::activations::{self, Activation};
use crate::kernels::gemm::{gemm_nn, gemm_nt, gemm_tn, OneSample, Start};
use crate::Scalar;
use nalgebra::{SMatrix, SVector};

/// `out = act(W x + b)` for `n` samples; keeps the pre-activation in `z`
/// when `z` is given (training), else activates `out` in place. ReLU and
/// linear activations are fused into the product's store.
#[inline]
pub fn forward<T: Scalar, const IN: usize, const OUT: usize>(
    kernel: &SMatrix<T, OUT, IN>,
    bias: Option<&SVector<T, OUT>>,
    act: Activation,
    x: &[T],
    z: Option<&mut [T]>,
    out: &mut [T],
) {
    let w = kernel.as_slice();
    match z {
        Some(z) => {
            affine::<T, IN, OUT>(w, bias, x, z, false);
            activations::forward(act, z, out, OUT);
        }
        None => {
            if x.len() == IN
                && act == Activation::Softmax
                && T::matvec_softmax(OUT, IN, w, x, bias.map(|b| b.as_slice()), &mut out[..OUT])
            {
                return;
            }
            let relu = act == Activation::Relu;
            affine::<T, IN, OUT>(w, bias, x, out, relu);
            if !relu && act != Activation::Linear {
                activations::forward_in_place(act, out, OUT);
            }
        }
    }
}

/// `out = W x + b` for every column of `x`, then ReLU when `relu`: the
/// SIMD product when the CPU has it, else the loops specialised for the
/// shape.
#[inline]
fn affine<T: Scalar, const IN: usize, const OUT: usize>(
    w: &[T],
    bias: Option<&SVector<T, OUT>>,
    x: &[T],
    out: &mut [T],
    relu: bool,
) {
    if T::simd() {
        let start = match bias {
            Some(b) => Start::Bias(b.as_slice()),
            None => Start::Zero,
        };
        gemm_nn(OUT, x.len() / IN, IN, w, x, out, start, relu);
    } else {
        fixed::affine::<T, IN, OUT>(w, bias.map(|b| b.as_slice()), x, out);
        if relu {
            activations::forward_in_place(Activation::Relu, out, OUT);
        }
    }
}

/// `out = act(W x + b)` for one sample, the path `forward` takes: a SIMD
/// kernel compiled for this layer's sizes when the CPU has one (a pass of
/// small layers is otherwise mostly loop and dispatch overhead), else the
/// loops specialised for the shape.
#[inline]
pub fn forward1<T: Scalar, const IN: usize, const OUT: usize>(
    kernel: &SMatrix<T, OUT, IN>,
    bias: Option<&SVector<T, OUT>>,
    act: Activation,
    x: &[T],
    out: &mut [T],
) {
    match T::dense1(kernel, bias, act, x, out) {
        OneSample::Declined => forward(kernel, bias, act, &x[..IN], None, out),
        OneSample::Affine => activations::forward_in_place(act, &mut out[..OUT], OUT),
        OneSample::Activated => {}
    }
}

/// Backward of `z = W x + b` given `dz` (`dL/dz`): writes the kernel and bias
/// gradients and, when `dx` is given, adds `Wᵀ dz` into it.
#[inline]
pub fn backward<T: Scalar, const IN: usize, const OUT: usize>(
    kernel: &SMatrix<T, OUT, IN>,
    x: &[T],
    dz: &[T],
    dkernel: &mut SMatrix<T, OUT, IN>,
    dbias: Option<&mut SVector<T, OUT>>,
    dx: Option<&mut [T]>,
) {
    let simd = T::simd();
    let n = dz.len() / OUT;
    if simd {
        gemm_nt(OUT, IN, n, dz, x, dkernel.as_mut_slice(), Start::Zero);
    } else {
        fixed::kernel_gradient::<T, IN, OUT>(x, dz, dkernel.as_mut_slice());
    }
    if let Some(db) = dbias {
        let db = db.as_mut_slice();
        db.fill(T::zero());
        crate::cpu::wide(
            #[inline(always)]
            || {
                for dc in dz.chunks_exact(OUT) {
                    for (g, &d) in db.iter_mut().zip(dc) {
                        *g += d;
                    }
                }
            },
        );
    }
    if let Some(dx) = dx {
        if simd {
            gemm_tn(IN, n, OUT, kernel.as_slice(), dz, dx, Start::Keep);
        } else {
            fixed::input_gradient::<T, IN, OUT>(kernel.as_slice(), dz, dx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scalar::c;

    #[test]
    fn dense_matches_nalgebra() {
        let w = SMatrix::<f64, 3, 2>::from_fn(|i, j| (i * 2 + j) as f64 * 0.1 - 0.2);
        let b = SVector::<f64, 3>::new(0.5, -0.5, 0.1);
        let x = SMatrix::<f64, 2, 4>::from_fn(|i, j| (i + 3 * j) as f64 * 0.3 - 1.0);
        let mut out = SMatrix::<f64, 3, 4>::zeros();
        forward(&w, Some(&b), Activation::Linear, x.as_slice(), None, out.as_mut_slice());
        let want = w * x + b * nalgebra::SMatrix::<f64, 1, 4>::repeat(1.0);
        assert!((out - want).abs().max() < 1e-15);
        let dz = SMatrix::<f64, 3, 4>::from_fn(|i, j| (i as f64 - j as f64) * 0.25);
        let mut dw = SMatrix::zeros();
        let mut db = SVector::zeros();
        let mut dx = SMatrix::<f64, 2, 4>::repeat(1.0);
        backward(&w, x.as_slice(), dz.as_slice(), &mut dw, Some(&mut db), Some(dx.as_mut_slice()));
        assert!((dw - dz * x.transpose()).abs().max() < 1e-15);
        assert!((db - dz.column_sum()).abs().max() < 1e-15);
        assert!((dx - (w.transpose() * dz).add_scalar(1.0)).abs().max() < 1e-15);
    }

    /// ReLU fused into the product's store keeps a NaN, on every path
    /// (one sample, a batch) and whichever kernels this CPU runs.
    #[test]
    fn fused_relu_keeps_nan() {
        let w = SMatrix::<f32, 3, 2>::from_fn(|i, j| (i + j) as f32 * 0.5);
        let x = [f32::NAN, 1.0, 1.0, 1.0];
        let mut one = [0.0f32; 3];
        forward1::<f32, 2, 3>(&w, None, Activation::Relu, &x[..2], &mut one);
        assert!(one.iter().all(|v| v.is_nan()), "{one:?}");
        let mut batch = [0.0f32; 6];
        forward::<f32, 2, 3>(&w, None, Activation::Relu, &x, None, &mut batch);
        assert!(batch[..3].iter().all(|v| v.is_nan()) && batch[3..].iter().all(|v| !v.is_nan()), "{batch:?}");
    }

    /// The one-sample path (a kernel compiled per shape with SIMD) against
    /// the formula, for shapes that hit every row tile and tail, with and
    /// without bias, for fused and in-place activations.
    #[test]
    fn one_sample_matches_formula() {
        fn check<T: Scalar, const IN: usize, const OUT: usize>(tol: f64) {
            let w = SMatrix::<T, OUT, IN>::from_fn(|i, j| c(((i * 31 + j * 17) % 23) as f64 / 23.0 - 0.5));
            let b = SVector::<T, OUT>::from_fn(|i, _| c((i % 5) as f64 * 0.1 - 0.2));
            let x: Vec<T> = (0..IN).map(|j| c(((j * 13) % 11) as f64 / 11.0 - 0.4)).collect();
            let acts = [Activation::Linear, Activation::Relu, Activation::Softmax, Activation::Tanh];
            for act in acts {
                for bias in [None, Some(&b)] {
                    let mut z = vec![0.0f64; OUT];
                    for (i, zi) in z.iter_mut().enumerate() {
                        *zi = bias.map_or(0.0, |b| b[i].as_f64())
                            + (0..IN).map(|j| w[(i, j)].as_f64() * x[j].as_f64()).sum::<f64>();
                    }
                    let mut want = vec![0.0f64; OUT];
                    crate::activations::forward(act, &z, &mut want, OUT);
                    let mut got = vec![T::of_f64(-7.0); OUT];
                    forward1::<T, IN, OUT>(&w, bias, act, &x, &mut got);
                    for (g, w) in got.iter().zip(&want) {
                        assert!((g.as_f64() - w).abs() <= tol * (1.0 + w.abs()), "{IN}->{OUT} {act:?}: {g:?} vs {w}");
                    }
                }
            }
        }
        macro_rules! shapes {
            ($t:ty, $tol:expr; $(($i:literal, $o:literal)),*) => { $(check::<$t, $i, $o>($tol);)* };
        }
        shapes!(f32, 1e-5; (1, 1), (3, 5), (64, 32), (32, 10), (17, 33), (9, 70), (16, 16), (40, 8), (5, 129), (12, 20), (7, 32), (3, 48));
        shapes!(f64, 1e-13; (1, 1), (3, 5), (64, 32), (32, 10), (17, 33), (9, 70), (16, 16), (40, 8), (5, 129), (12, 20), (7, 32), (3, 48));
    }
}

/// The dense layer's loops with its shape as constants, for targets without
/// the SIMD kernels (`no_std` builds without `-C target-feature`, other
/// architectures): with the trip counts known the compiler unrolls and
/// vectorizes them for the baseline target, which the run-time-sized
/// portable product in [`gemm`] does less well (measured 1.8× slower).
mod fixed {
    use crate::Scalar;

    /// `out = W x + b` for every column of `x`.
    #[inline(always)]
    pub(super) fn affine<T: Scalar, const IN: usize, const OUT: usize>(
        w: &[T],
        bias: Option<&[T]>,
        x: &[T],
        out: &mut [T],
    ) {
        for (xc, oc) in x.chunks_exact(IN).zip(out.chunks_exact_mut(OUT)) {
            match bias {
                Some(b) => oc.copy_from_slice(&b[..OUT]),
                None => oc.fill(T::zero()),
            }
            for (&xi, wc) in xc.iter().zip(w.chunks_exact(OUT)) {
                for (o, &wv) in oc.iter_mut().zip(wc) {
                    *o += wv * xi;
                }
            }
        }
    }

    /// `dw = Σ dz xᵀ` over the columns.
    #[inline]
    pub(super) fn kernel_gradient<T: Scalar, const IN: usize, const OUT: usize>(x: &[T], dz: &[T], dw: &mut [T]) {
        dw.fill(T::zero());
        for (xc, dc) in x.chunks_exact(IN).zip(dz.chunks_exact(OUT)) {
            for (&xi, dwc) in xc.iter().zip(dw.chunks_exact_mut(OUT)) {
                for (g, &d) in dwc.iter_mut().zip(dc) {
                    *g += d * xi;
                }
            }
        }
    }

    /// `dx += Wᵀ dz` for every column.
    #[inline]
    pub(super) fn input_gradient<T: Scalar, const IN: usize, const OUT: usize>(w: &[T], dz: &[T], dx: &mut [T]) {
        for (dxc, dc) in dx.chunks_exact_mut(IN).zip(dz.chunks_exact(OUT)) {
            for (g, wc) in dxc.iter_mut().zip(w.chunks_exact(OUT)) {
                let mut s = T::zero();
                for (&wv, &d) in wc.iter().zip(dc) {
                    s += wv * d;
                }
                *g += s;
            }
        }
    }
}
