//! The numeric kernels generated code wires together. Every buffer is
//! column-major with one column per sample: `rows * n` scalars for `n`
//! samples. Backward kernels *add* into input gradients, since a tensor
//! may feed several layers.

pub mod gemm;
#[cfg(feature = "parallel")]
mod pool;
#[cfg(target_arch = "x86_64")]
mod x86;

pub use crate::activations::backward_from_output;
use crate::activations::{self, Activation};
use crate::layers::{BatchNormalization, LayerNormalization};
use crate::scalar::c;
use crate::{rng, Scalar};
use gemm::{gemm_nn, gemm_nt, gemm_tn, Start};
use nalgebra::{SMatrix, SVector};

/// Which SIMD kernels the dense layers run on this CPU: `"avx512f"`,
/// `"avx2+fma"` or `"portable"` (chosen once per process; see the README's
/// Performance section for the environment variables that force a lower
/// one).
///
/// ```
/// let kernels = staticnet::kernels::simd();
/// assert!(["avx512f", "avx2+fma", "portable"].contains(&kernels));
/// ```
pub fn simd() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    return match x86::level() {
        x86::Level::Avx512 => "avx512f",
        x86::Level::Avx2 => "avx2+fma",
        x86::Level::Portable => "portable",
    };
    #[cfg(not(target_arch = "x86_64"))]
    return "portable";
}

/// `out = act(W x + b)` for `n` samples; keeps the pre-activation in `z`
/// when `z` is given (training), else activates `out` in place. ReLU and
/// linear activations are fused into the product's store.
#[inline]
pub fn dense_forward<T: Scalar, const IN: usize, const OUT: usize>(
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
pub fn dense_forward1<T: Scalar, const IN: usize, const OUT: usize>(
    kernel: &SMatrix<T, OUT, IN>,
    bias: Option<&SVector<T, OUT>>,
    act: Activation,
    x: &[T],
    out: &mut [T],
) {
    if !T::dense1(kernel, bias, act, x, out) {
        dense_forward(kernel, bias, act, &x[..IN], None, out);
    }
}

/// Backward of `z = W x + b` given `dz` (`dL/dz`): writes the kernel and bias
/// gradients and, when `dx` is given, adds `Wᵀ dz` into it.
#[inline]
pub fn dense_backward<T: Scalar, const IN: usize, const OUT: usize>(
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
        wide(|| {
            for dc in dz.chunks_exact(OUT) {
                for (g, &d) in db.iter_mut().zip(dc) {
                    *g += d;
                }
            }
        });
    }
    if let Some(dx) = dx {
        if simd {
            gemm_tn(IN, n, OUT, kernel.as_slice(), dz, dx, Start::Keep);
        } else {
            fixed::input_gradient::<T, IN, OUT>(kernel.as_slice(), dz, dx);
        }
    }
}

/// A value aligned to a 64-byte cache line: generated code keeps its
/// workspace in one, so the vector loads of the buffers carved from it
/// (whole columns of a batch) do not straddle lines.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(64))]
pub struct CacheAligned<X>(pub X);

/// Runs `f` inside a function compiled with AVX2 and FMA enabled when the
/// CPU has them, so the element-wise loops inlined into it vectorize 8 (f32)
/// or 4 (f64) wide instead of the baseline's 4 or 2. Results are unchanged:
/// Rust never contracts `a * b + c` into an FMA. (AVX2 also on CPUs with
/// AVX-512: a wider build of these loops could not be timed here.)
#[inline(always)]
pub(crate) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if x86::level() != x86::Level::Portable {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        // SAFETY: the CPU has the features `avx2` was compiled for.
        return unsafe { avx2(f) };
    }
    f()
}

/// `dst += src`.
#[inline]
pub fn add_into<T: Scalar>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// `dst += scale * src`.
#[inline]
pub fn add_scaled_into<T: Scalar>(dst: &mut [T], src: &[T], scale: T) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d += s * scale;
    }
}

/// An element-wise merge of several equally wide tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Sum.
    Add,
    /// First minus second.
    Subtract,
    /// Product.
    Multiply,
    /// Mean.
    Average,
    /// Element-wise maximum.
    Maximum,
    /// Element-wise minimum.
    Minimum,
}

/// `out = merge(inputs)` element-wise.
pub fn merge_forward<T: Scalar>(op: Merge, inputs: &[&[T]], out: &mut [T]) {
    out.copy_from_slice(inputs[0]);
    for x in &inputs[1..] {
        for (o, &v) in out.iter_mut().zip(x.iter()) {
            *o = match op {
                Merge::Add | Merge::Average => *o + v,
                Merge::Subtract => *o - v,
                Merge::Multiply => *o * v,
                Merge::Maximum => o.max(v),
                Merge::Minimum => o.min(v),
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

/// Adds the gradient of input `which` of an element-wise merge into `dx`,
/// given the inputs, the output and `dout`. For maximum and minimum the
/// first input holding the winning value takes the gradient.
pub fn merge_backward<T: Scalar>(op: Merge, inputs: &[&[T]], which: usize, dout: &[T], dx: &mut [T]) {
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

/// Dropout in training: `out = x * mask` with `mask` 0 or `1 / (1 - rate)`,
/// drawn from `(seed, stream)` so the pass is reproducible; the mask is kept
/// for the backward pass.
pub fn dropout_forward<T: Scalar>(rate: f64, seed: u64, stream: u64, x: &[T], mask: &mut [T], out: &mut [T]) {
    let keep = c::<T>(1.0 / (1.0 - rate));
    for (i, ((o, m), &v)) in out.iter_mut().zip(mask.iter_mut()).zip(x).enumerate() {
        *m = if rng::uniform_at(seed, stream, i as u64) < rate { T::zero() } else { keep };
        *o = v * *m;
    }
}

/// `dx += dout * mask`.
pub fn dropout_backward<T: Scalar>(mask: &[T], dout: &[T], dx: &mut [T]) {
    for ((g, &m), &d) in dx.iter_mut().zip(mask).zip(dout) {
        *g += m * d;
    }
}

/// Layer normalization of each sample over its `N` features (Keras epsilon
/// `epsilon`); keeps `x̂` and `1/σ` per sample in `xhat` and `inv_std` when
/// given, for the backward pass.
pub fn layer_norm_forward<T: Scalar, const N: usize>(
    layer: &LayerNormalization<T, N>,
    epsilon: f64,
    x: &[T],
    out: &mut [T],
    mut xhat: Option<(&mut [T], &mut [T])>,
) {
    let inv_n = c::<T>(1.0 / N as f64);
    for (s, (xc, oc)) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)).enumerate() {
        let mean = xc.iter().fold(T::zero(), |a, &v| a + v) * inv_n;
        let var = xc.iter().fold(T::zero(), |a, &v| a + (v - mean) * (v - mean)) * inv_n;
        let inv = T::one() / (var + c(epsilon)).sqrt();
        for i in 0..N {
            let h = (xc[i] - mean) * inv;
            oc[i] = h * layer.gamma[i] + layer.beta[i];
            if let Some((xh, _)) = xhat.as_mut() {
                xh[s * N + i] = h;
            }
        }
        if let Some((_, is)) = xhat.as_mut() {
            is[s] = inv;
        }
    }
}

/// Backward of [`layer_norm_forward`]: writes `dgamma`, `dbeta` and adds into `dx`.
pub fn layer_norm_backward<T: Scalar, const N: usize>(
    layer: &LayerNormalization<T, N>,
    xhat: &[T],
    inv_std: &[T],
    dout: &[T],
    grads: &mut LayerNormalization<T, N>,
    dx: Option<&mut [T]>,
) {
    grads.gamma.fill(T::zero());
    grads.beta.fill(T::zero());
    for (hc, dc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)) {
        for i in 0..N {
            grads.gamma[i] += dc[i] * hc[i];
            grads.beta[i] += dc[i];
        }
    }
    if let Some(dx) = dx {
        let inv_n = c::<T>(1.0 / N as f64);
        for (((hc, dc), gc), &inv) in
            xhat.chunks_exact(N).zip(dout.chunks_exact(N)).zip(dx.chunks_exact_mut(N)).zip(inv_std)
        {
            let mut mean_dh = T::zero();
            let mut mean_dh_h = T::zero();
            for i in 0..N {
                let dh = dc[i] * layer.gamma[i];
                mean_dh += dh;
                mean_dh_h += dh * hc[i];
            }
            mean_dh *= inv_n;
            mean_dh_h *= inv_n;
            for i in 0..N {
                let dh = dc[i] * layer.gamma[i];
                gc[i] += inv * (dh - mean_dh - hc[i] * mean_dh_h);
            }
        }
    }
}

/// Batch normalization. In inference (`training` is `None`) it uses the
/// moving statistics; in training it normalises with the batch's mean and
/// (biased) variance, keeping `x̂` in `xhat` and writing the mean, the
/// variance and `1/σ` per feature into `stats` (`3 * N` values).
pub fn batch_norm_forward<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    epsilon: f64,
    x: &[T],
    out: &mut [T],
    training: Option<(&mut [T], &mut [T])>,
) {
    let eps = c::<T>(epsilon);
    match training {
        None => {
            let mut scale = [T::zero(); N];
            for (i, s) in scale.iter_mut().enumerate() {
                *s = layer.gamma[i] / (layer.moving_variance[i] + eps).sqrt();
            }
            for (xc, oc) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)) {
                for i in 0..N {
                    oc[i] = (xc[i] - layer.moving_mean[i]) * scale[i] + layer.beta[i];
                }
            }
        }
        Some((xhat, stats)) => {
            let n = x.len() / N;
            let inv_n = c::<T>(1.0 / n as f64);
            let (mean, rest) = stats.split_at_mut(N);
            let (var, inv_std) = rest.split_at_mut(N);
            mean.fill(T::zero());
            var.fill(T::zero());
            for xc in x.chunks_exact(N) {
                add_into(mean, xc);
            }
            for m in mean.iter_mut() {
                *m *= inv_n;
            }
            for xc in x.chunks_exact(N) {
                for i in 0..N {
                    let d = xc[i] - mean[i];
                    var[i] += d * d;
                }
            }
            for i in 0..N {
                var[i] *= inv_n;
                inv_std[i] = T::one() / (var[i] + eps).sqrt();
            }
            for ((xc, oc), hc) in x.chunks_exact(N).zip(out.chunks_exact_mut(N)).zip(xhat.chunks_exact_mut(N)) {
                for i in 0..N {
                    hc[i] = (xc[i] - mean[i]) * inv_std[i];
                    oc[i] = hc[i] * layer.gamma[i] + layer.beta[i];
                }
            }
        }
    }
}

/// Backward of training-mode [`batch_norm_forward`].
pub fn batch_norm_backward<T: Scalar, const N: usize>(
    layer: &BatchNormalization<T, N>,
    xhat: &[T],
    stats: &[T],
    dout: &[T],
    grads: &mut BatchNormalization<T, N>,
    dx: Option<&mut [T]>,
) {
    let n = xhat.len() / N;
    let inv_std = &stats[2 * N..3 * N];
    grads.gamma.fill(T::zero());
    grads.beta.fill(T::zero());
    grads.moving_mean.fill(T::zero());
    grads.moving_variance.fill(T::zero());
    for (hc, dc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)) {
        for i in 0..N {
            grads.gamma[i] += dc[i] * hc[i];
            grads.beta[i] += dc[i];
        }
    }
    if let Some(dx) = dx {
        let inv_n = c::<T>(1.0 / n as f64);
        for ((hc, dc), gc) in xhat.chunks_exact(N).zip(dout.chunks_exact(N)).zip(dx.chunks_exact_mut(N)) {
            for i in 0..N {
                let k = layer.gamma[i] * inv_std[i];
                gc[i] += k * (dc[i] - (grads.beta[i] + hc[i] * grads.gamma[i]) * inv_n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_matches_nalgebra() {
        let w = SMatrix::<f64, 3, 2>::from_fn(|i, j| (i * 2 + j) as f64 * 0.1 - 0.2);
        let b = SVector::<f64, 3>::new(0.5, -0.5, 0.1);
        let x = SMatrix::<f64, 2, 4>::from_fn(|i, j| (i + 3 * j) as f64 * 0.3 - 1.0);
        let mut out = SMatrix::<f64, 3, 4>::zeros();
        dense_forward(&w, Some(&b), Activation::Linear, x.as_slice(), None, out.as_mut_slice());
        let want = w * x + b * nalgebra::SMatrix::<f64, 1, 4>::repeat(1.0);
        assert!((out - want).abs().max() < 1e-15);
        let dz = SMatrix::<f64, 3, 4>::from_fn(|i, j| (i as f64 - j as f64) * 0.25);
        let mut dw = SMatrix::zeros();
        let mut db = SVector::zeros();
        let mut dx = SMatrix::<f64, 2, 4>::repeat(1.0);
        dense_backward(&w, x.as_slice(), dz.as_slice(), &mut dw, Some(&mut db), Some(dx.as_mut_slice()));
        assert!((dw - dz * x.transpose()).abs().max() < 1e-15);
        assert!((db - dz.column_sum()).abs().max() < 1e-15);
        assert!((dx - (w.transpose() * dz).add_scalar(1.0)).abs().max() < 1e-15);
    }

    /// Where `STATICNET_EXPECT_LEVEL` is set (to a name
    /// `kernels::simd()` gives; `tools/avx512_emulated.sh` sets it for
    /// each run, CI for its forced runs), this process must dispatch to
    /// those kernels: a run meant to test the AVX-512 kernels cannot pass
    /// on others.
    #[test]
    #[cfg(feature = "std")]
    fn dispatches_to_the_expected_kernels() {
        let Some(want) = std::env::var_os("STATICNET_EXPECT_LEVEL") else {
            return;
        };
        assert_eq!(want, simd(), "STATICNET_EXPECT_LEVEL names other kernels than this CPU runs");
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
                    dense_forward1::<T, IN, OUT>(&w, bias, act, &x, &mut got);
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
