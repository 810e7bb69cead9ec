//! Keras's activations, forward and backward, on column-major batches
//! (`rows` features per sample). Formulas follow Keras 3.

pub use crate::vocab::Activation;

use crate::scalar::c;
use crate::Scalar;

const SELU_ALPHA: f64 = 1.673_263_242_354_377_3;
const SELU_SCALE: f64 = 1.050_700_987_355_480_5;
const LEAKY_SLOPE: f64 = 0.2;

impl Activation {
    /// `d act / dx` written in terms of the output `a = act(x)` (for the
    /// element-wise activations whose [`Activation::needs_input`] is false).
    #[inline(always)]
    pub fn derivative_from_output<T: Scalar>(self, a: T) -> T {
        let zero = T::zero();
        let one = T::one();
        match self {
            Activation::Relu => step(a > zero),
            Activation::Relu6 => step(a > zero && a < c(6.0)),
            Activation::LeakyRelu => {
                if a >= zero {
                    one
                } else {
                    c(LEAKY_SLOPE)
                }
            }
            // elu: exp(x) = a + 1 where x ≤ 0
            Activation::Elu => {
                if a > zero {
                    one
                } else {
                    a + one
                }
            }
            // selu: scale·alpha·exp(x) = a + scale·alpha where x ≤ 0
            Activation::Selu => {
                if a > zero {
                    c(SELU_SCALE)
                } else {
                    a + c(SELU_SCALE * SELU_ALPHA)
                }
            }
            Activation::Sigmoid => a * (one - a),
            Activation::HardSigmoid => {
                if a > zero && a < one {
                    c(1.0 / 6.0)
                } else {
                    zero
                }
            }
            Activation::Tanh => one - a * a,
            // softplus: sigmoid(x) = 1 - exp(-a)
            Activation::Softplus => one - (-a).exp(),
            // softsign: 1 / (1 + |x|)² = (1 - |a|)²
            Activation::Softsign => (one - a.abs()) * (one - a.abs()),
            Activation::Exponential => a,
            _ => one,
        }
    }

    /// The activation of one scalar (not for softmax and log_softmax).
    #[inline(always)]
    pub fn scalar<T: Scalar>(self, x: T) -> T {
        let zero = T::zero();
        match self {
            Activation::Linear | Activation::Softmax | Activation::LogSoftmax => x,
            Activation::Relu => relu(x),
            Activation::Relu6 => relu6(x),
            Activation::LeakyRelu => {
                if x >= zero {
                    x
                } else {
                    x * c(LEAKY_SLOPE)
                }
            }
            Activation::Elu => {
                if x > zero {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Activation::Selu => {
                if x > zero {
                    x * c(SELU_SCALE)
                } else {
                    x.exp_m1() * c(SELU_SCALE * SELU_ALPHA)
                }
            }
            Activation::Gelu => x * c(0.5) * (T::one() + (x * c(core::f64::consts::FRAC_1_SQRT_2)).erf()),
            Activation::Sigmoid => sigmoid(x),
            Activation::HardSigmoid => relu6(x + c(3.0)) / c(6.0),
            Activation::Tanh => x.tanh(),
            Activation::Softplus => softplus(x),
            Activation::Softsign => x / (T::one() + x.abs()),
            Activation::Silu => x * sigmoid(x),
            Activation::Mish => x * softplus(x).tanh(),
            Activation::Exponential => x.exp(),
        }
    }

    /// `d act / dx` at `x`, given `a = act(x)` (not for softmax and log_softmax).
    #[inline(always)]
    pub fn derivative<T: Scalar>(self, x: T, a: T) -> T {
        let zero = T::zero();
        let one = T::one();
        match self {
            Activation::Linear | Activation::Softmax | Activation::LogSoftmax => one,
            Activation::Relu => step(x > zero),
            Activation::Relu6 => step(x > zero && x < c(6.0)),
            Activation::LeakyRelu => {
                if x >= zero {
                    one
                } else {
                    c(LEAKY_SLOPE)
                }
            }
            Activation::Elu => {
                if x > zero {
                    one
                } else {
                    x.exp()
                }
            }
            Activation::Selu => {
                if x > zero {
                    c(SELU_SCALE)
                } else {
                    x.exp() * c(SELU_SCALE * SELU_ALPHA)
                }
            }
            Activation::Gelu => {
                let cdf = c::<T>(0.5) * (one + (x * c(core::f64::consts::FRAC_1_SQRT_2)).erf());
                let pdf = (-(x * x) * c(0.5)).exp() * c(0.398_942_280_401_432_7) /* 1/sqrt(2π) */;
                cdf + x * pdf
            }
            Activation::Sigmoid => a * (one - a),
            Activation::HardSigmoid => {
                if x > c(-3.0) && x < c(3.0) {
                    c(1.0 / 6.0)
                } else {
                    zero
                }
            }
            Activation::Tanh => one - a * a,
            Activation::Softplus => sigmoid(x),
            Activation::Softsign => {
                let d = one + x.abs();
                one / (d * d)
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s + x * s * (one - s)
            }
            Activation::Mish => {
                let t = softplus(x).tanh();
                t + x * (one - t * t) * sigmoid(x)
            }
            Activation::Exponential => a,
        }
    }
}

#[inline(always)]
fn step<T: Scalar>(on: bool) -> T {
    if on {
        T::one()
    } else {
        T::zero()
    }
}

/// `max(x, 0)`, keeping a NaN as Keras does (nalgebra's `max` returns the
/// number). `x + 0` rather than `x` (equal but for −0, which becomes +0 as
/// in `max`): with `x` itself, LLVM turns `*p = relu(*p)` into a store only
/// where `x < 0`, which it vectorizes as masked stores, several times
/// slower on AMD than a blend and a plain store.
#[inline(always)]
fn relu<T: Scalar>(x: T) -> T {
    if x < T::zero() {
        T::zero()
    } else {
        x + T::zero()
    }
}

/// `min(max(x, 0), 6)`, keeping a NaN.
#[inline(always)]
fn relu6<T: Scalar>(x: T) -> T {
    let r = relu(x);
    if r > c(6.0) {
        c(6.0)
    } else {
        r
    }
}

/// The logistic sigmoid, stable for large `|x|`.
#[inline(always)]
pub fn sigmoid<T: Scalar>(x: T) -> T {
    if x >= T::zero() {
        T::one() / (T::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::one() + e)
    }
}

/// `log(1 + exp(x))`, stable for large `|x|`.
#[inline(always)]
pub fn softplus<T: Scalar>(x: T) -> T {
    x.max(T::zero()) + (-x.abs()).exp().ln_1p()
}

/// Softmax of one sample, written into `out` (`f32` on CPUs with AVX2 or
/// AVX-512 uses a vectorized `exp` within 2 ulp of libm's).
#[inline]
pub fn softmax_column<T: Scalar>(z: &[T], out: &mut [T]) {
    let out = &mut out[..z.len()];
    out.copy_from_slice(z);
    softmax_in_place(out);
}

/// Softmax of one column in place: the vectorized kernel where this type
/// and CPU have one, else libm's `exp`.
#[inline]
pub fn softmax_in_place<T: Scalar>(col: &mut [T]) {
    if !T::softmax_in_place(col) {
        softmax_in_place_libm(col);
    }
}

/// Softmax in place with libm's `exp`, element by element.
pub(crate) fn softmax_in_place_libm<T: Scalar>(col: &mut [T]) {
    if col.is_empty() {
        return;
    }
    let max = col.iter().copied().fold(col[0], |m, v| m.max(v));
    let mut sum = T::zero();
    for v in col.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    let inv = T::one() / sum;
    for v in col.iter_mut() {
        *v *= inv;
    }
}

/// Log-softmax of one sample, written into `out`.
pub fn log_softmax_column<T: Scalar>(z: &[T], out: &mut [T]) {
    let max = z.iter().copied().fold(z[0], |m, v| m.max(v));
    let mut sum = T::zero();
    for &v in z {
        sum += (v - max).exp();
    }
    let log_sum = sum.ln() + max;
    for (o, &v) in out.iter_mut().zip(z) {
        *o = v - log_sum;
    }
}

/// `a = act(z)` for a batch of columns of `rows` features.
pub fn forward<T: Scalar>(act: Activation, z: &[T], a: &mut [T], rows: usize) {
    match act {
        Activation::Softmax => {
            for (zc, ac) in z.chunks_exact(rows).zip(a.chunks_exact_mut(rows)) {
                softmax_column(zc, ac);
            }
        }
        Activation::LogSoftmax => {
            for (zc, ac) in z.chunks_exact(rows).zip(a.chunks_exact_mut(rows)) {
                log_softmax_column(zc, ac);
            }
        }
        _ => map_elementwise(act, z, a),
    }
}

/// Runs `$body` with `$act` replaced by each activation's constant, so the
/// match is outside the loop and each loop is compiled for one activation
/// (in a function built for the CPU's widest SIMD, so the piecewise ones
/// vectorize).
macro_rules! per_activation {
    ($act:expr, |$a:ident| $body:expr) => {
        crate::cpu::wide(
            #[inline(always)]
            || match $act {
                Activation::Linear => {
                    let $a = Activation::Linear;
                    $body
                }
                Activation::Relu => {
                    let $a = Activation::Relu;
                    $body
                }
                Activation::Relu6 => {
                    let $a = Activation::Relu6;
                    $body
                }
                Activation::LeakyRelu => {
                    let $a = Activation::LeakyRelu;
                    $body
                }
                Activation::Elu => {
                    let $a = Activation::Elu;
                    $body
                }
                Activation::Selu => {
                    let $a = Activation::Selu;
                    $body
                }
                Activation::Gelu => {
                    let $a = Activation::Gelu;
                    $body
                }
                Activation::Sigmoid => {
                    let $a = Activation::Sigmoid;
                    $body
                }
                Activation::HardSigmoid => {
                    let $a = Activation::HardSigmoid;
                    $body
                }
                Activation::Tanh => {
                    let $a = Activation::Tanh;
                    $body
                }
                Activation::Softplus => {
                    let $a = Activation::Softplus;
                    $body
                }
                Activation::Softsign => {
                    let $a = Activation::Softsign;
                    $body
                }
                Activation::Silu => {
                    let $a = Activation::Silu;
                    $body
                }
                Activation::Mish => {
                    let $a = Activation::Mish;
                    $body
                }
                Activation::Exponential => {
                    let $a = Activation::Exponential;
                    $body
                }
                other => {
                    let $a = other;
                    $body
                }
            },
        )
    };
}

#[inline(always)]
fn map_elementwise<T: Scalar>(act: Activation, z: &[T], a: &mut [T]) {
    per_activation!(act, |f| {
        for (o, &x) in a.iter_mut().zip(z) {
            *o = f.scalar(x);
        }
    })
}

/// `buf = act(buf)` in place, for inference.
pub fn forward_in_place<T: Scalar>(act: Activation, buf: &mut [T], rows: usize) {
    match act {
        Activation::Linear => {}
        Activation::Softmax | Activation::LogSoftmax => {
            for col in buf.chunks_exact_mut(rows) {
                columnwise_in_place(act, col);
            }
        }
        _ => per_activation!(act, |f| {
            for x in buf.iter_mut() {
                *x = f.scalar(*x);
            }
        }),
    }
}

/// [`softmax_column`] or [`log_softmax_column`] in place, with the same
/// operations in the same order.
fn columnwise_in_place<T: Scalar>(act: Activation, col: &mut [T]) {
    if act == Activation::Softmax {
        return softmax_in_place(col);
    }
    let max = col.iter().copied().fold(col[0], |m, v| m.max(v));
    let mut sum = T::zero();
    for &v in col.iter() {
        sum += (v - max).exp();
    }
    let log_sum = sum.ln() + max;
    for v in col.iter_mut() {
        *v -= log_sum;
    }
}

/// Turns `g = dL/da` into `dL/dz` in place from the output `a` alone, for
/// activations whose [`Activation::needs_input`] is false.
pub fn backward_from_output<T: Scalar>(act: Activation, a: &[T], g: &mut [T], rows: usize) {
    match act {
        Activation::Linear => {}
        Activation::Softmax | Activation::LogSoftmax => backward(act, a, a, g, rows),
        _ => {
            // One loop per activation, in a function compiled for the CPU's
            // widest SIMD, so the piecewise derivatives vectorize.
            macro_rules! each {
                ($($variant:ident),*) => {
                    crate::cpu::wide(#[inline(always)] || match act {
                        $(Activation::$variant => {
                            for (d, &y) in g.iter_mut().zip(a) {
                                *d *= Activation::$variant.derivative_from_output(y);
                            }
                        })*
                        _ => {
                            for (d, &y) in g.iter_mut().zip(a) {
                                *d *= act.derivative_from_output(y);
                            }
                        }
                    })
                };
            }
            each!(Relu, Relu6, LeakyRelu, Elu, Selu, Sigmoid, HardSigmoid, Tanh, Softsign)
        }
    }
}

/// Turns `g = dL/da` into `dL/dz` in place, given `z` and `a = act(z)`.
pub fn backward<T: Scalar>(act: Activation, z: &[T], a: &[T], g: &mut [T], rows: usize) {
    match act {
        Activation::Linear => {}
        Activation::Softmax => {
            for (ac, gc) in a.chunks_exact(rows).zip(g.chunks_exact_mut(rows)) {
                let dot = ac.iter().zip(gc.iter()).fold(T::zero(), |s, (&p, &d)| s + p * d);
                for (d, &p) in gc.iter_mut().zip(ac) {
                    *d = p * (*d - dot);
                }
            }
        }
        Activation::LogSoftmax => {
            for (ac, gc) in a.chunks_exact(rows).zip(g.chunks_exact_mut(rows)) {
                let sum = gc.iter().fold(T::zero(), |s, &d| s + d);
                for (d, &l) in gc.iter_mut().zip(ac) {
                    *d -= l.exp() * sum;
                }
            }
        }
        _ => {
            for ((d, &x), &y) in g.iter_mut().zip(z).zip(a) {
                *d *= act.derivative(x, y);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keras_reference(act: Activation, x: f64) -> f64 {
        let sig = 1.0 / (1.0 + (-x).exp());
        let sp = (1.0 + x.exp()).ln();
        match act {
            Activation::Linear => x,
            Activation::Relu => x.max(0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::LeakyRelu => {
                if x >= 0.0 {
                    x
                } else {
                    0.2 * x
                }
            }
            Activation::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp() - 1.0
                }
            }
            Activation::Selu => {
                1.050_700_987_355_480_5 * if x > 0.0 { x } else { 1.673_263_242_354_377_3 * (x.exp() - 1.0) }
            }
            Activation::Gelu => 0.5 * x * (1.0 + libm::erf(x / 2f64.sqrt())),
            Activation::Sigmoid => sig,
            Activation::HardSigmoid => ((x + 3.0).clamp(0.0, 6.0)) / 6.0,
            Activation::Tanh => x.tanh(),
            Activation::Softplus => sp,
            Activation::Softsign => x / (1.0 + x.abs()),
            Activation::Silu => x * sig,
            Activation::Mish => x * sp.tanh(),
            Activation::Exponential => x.exp(),
            Activation::Softmax | Activation::LogSoftmax => unreachable!(),
        }
    }

    const POINTS: [f64; 12] = [-7.5, -3.2, -2.0, -1.1, -0.4, -0.05, 0.03, 0.5, 1.7, 2.9, 4.4, 6.8];

    #[test]
    fn every_activation_matches_its_formula() {
        for &(name, act) in Activation::NAMED {
            if act.is_columnwise() {
                continue;
            }
            for &x in &POINTS {
                let got = act.scalar(x);
                let want = keras_reference(act, x);
                assert!((got - want).abs() <= 1e-12 * (1.0 + want.abs()), "{name}({x}) = {got}, want {want}");
                let got32 = act.scalar(x as f32) as f64;
                assert!((got32 - want).abs() <= 1e-5 * (1.0 + want.abs()), "{name} f32 at {x}");
            }
        }
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for &(name, act) in Activation::NAMED {
            if act.is_columnwise() {
                continue;
            }
            for &x in &POINTS {
                if matches!(act, Activation::Relu6 | Activation::HardSigmoid) && ((x - 6.0f64).abs() < 1e-3) {
                    continue;
                }
                let h = 1e-6;
                let fd = (act.scalar(x + h) - act.scalar(x - h)) / (2.0 * h);
                let an = act.derivative(x, act.scalar(x));
                assert!((fd - an).abs() <= 1e-6 * (1.0 + fd.abs()), "{name}'({x}) = {an}, fd {fd}");
            }
        }
    }

    #[test]
    fn derivatives_from_outputs_match() {
        for &(name, act) in Activation::NAMED {
            if act.is_columnwise() || act.needs_input() {
                continue;
            }
            for &x in &POINTS {
                let a = act.scalar(x);
                let want = act.derivative(x, a);
                let got = act.derivative_from_output(a);
                assert!((got - want).abs() <= 1e-12 * (1.0 + want.abs()), "{name}'({x}): {got} vs {want}");
            }
        }
    }

    #[test]
    fn softmax_and_log_softmax_match_formulas_and_gradients() {
        let z = [0.3, -1.2, 2.5, 0.0, 1.1, -0.7];
        let rows = 3;
        let mut s = [0.0; 6];
        let mut l = [0.0; 6];
        forward(Activation::Softmax, &z, &mut s, rows);
        forward(Activation::LogSoftmax, &z, &mut l, rows);
        for col in 0..2 {
            let zc: &[f64] = &z[col * 3..col * 3 + 3];
            let denom: f64 = zc.iter().map(|v| v.exp()).sum();
            for i in 0..3 {
                assert!((s[col * 3 + i] - zc[i].exp() / denom).abs() < 1e-15);
                assert!((l[col * 3 + i] - (zc[i] - denom.ln())).abs() < 1e-14);
            }
        }
        let mut inplace = z;
        forward_in_place(Activation::Softmax, &mut inplace, rows);
        assert_eq!(inplace, s);
        // gradient of L = Σ w·act(z) by finite differences
        let w = [0.7, -0.2, 1.3, 0.4, 0.9, -1.5];
        for act in [Activation::Softmax, Activation::LogSoftmax] {
            let loss = |zz: &[f64]| {
                let mut a = [0.0; 6];
                forward(act, zz, &mut a, rows);
                a.iter().zip(&w).map(|(x, y)| x * y).sum::<f64>()
            };
            let mut a = [0.0; 6];
            forward(act, &z, &mut a, rows);
            let mut g = w;
            backward(act, &z, &a, &mut g, rows);
            for i in 0..6 {
                let mut zp = z;
                let mut zm = z;
                zp[i] += 1e-6;
                zm[i] -= 1e-6;
                let fd = (loss(&zp) - loss(&zm)) / 2e-6;
                assert!((fd - g[i]).abs() < 1e-8, "{act:?} {i}: {} vs {fd}", g[i]);
            }
        }
    }

    #[test]
    fn wide_softmax_in_place_uses_the_fallback() {
        let z: [f64; 100] = core::array::from_fn(|i| (i as f64 * 0.37).sin() * 4.0);
        let mut a = [0.0; 100];
        forward(Activation::Softmax, &z, &mut a, 100);
        let mut b = z;
        forward_in_place(Activation::Softmax, &mut b, 100);
        for i in 0..100 {
            assert!((a[i] - b[i]).abs() < 1e-15);
        }
    }

    /// A NaN stays NaN through every activation, as in Keras (nalgebra's
    /// `max` and `min` would turn it into a number).
    #[test]
    fn nan_stays_nan() {
        for &(name, act) in Activation::NAMED {
            let z = [f64::NAN, 1.0, -2.0];
            let mut a = [0.0; 3];
            forward(act, &z, &mut a, 3);
            assert!(a[0].is_nan(), "{name}: forward gave {}", a[0]);
            let mut b = z;
            forward_in_place(act, &mut b, 3);
            assert!(b[0].is_nan(), "{name}: in place gave {}", b[0]);
            let z32 = [f32::NAN, 1.0, -2.0];
            let mut a32 = [0.0f32; 3];
            forward(act, &z32, &mut a32, 3);
            assert!(a32[0].is_nan(), "{name}: f32 forward gave {}", a32[0]);
        }
    }

    #[test]
    fn stable_at_extremes() {
        assert_eq!(sigmoid(-1000.0f64), 0.0);
        assert_eq!(sigmoid(1000.0f64), 1.0);
        assert!((softplus(1000.0f64) - 1000.0).abs() < 1e-9);
        let mut s = [1000.0f32, 0.0, -1000.0];
        forward_in_place(Activation::Softmax, &mut s, 3);
        assert_eq!(s, [1.0, 0.0, 0.0]);
    }
}
