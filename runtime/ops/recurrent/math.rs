//! The gates' sigmoid and tanh, written so that a loop over a layer's units
//! vectorizes: libm's `expf` and `tanhf` are calls, one element at a time,
//! and at three per unit they would cost a streaming GRU step more than its
//! matrix products. Both come from `e^y` split as `2^n·(1 + q)` (range
//! reduction by `ln 2`, a Taylor polynomial for `q`, the power of two built
//! from its bits), which gives `e^y ± 1` without cancellation, within a few
//! ulp in `f32` and `f64`; every other activation is
//! [`Activation::scalar`].

use crate::vocab::Activation;
use crate::Scalar;

/// `act(x)` for a gate.
#[inline(always)]
pub(crate) fn apply<T: Scalar>(act: Activation, x: T) -> T {
    match act {
        Activation::Sigmoid => sigmoid(x),
        Activation::Tanh => tanh(x),
        _ => act.scalar(x),
    }
}

/// The slope of `act` at the pre-activation `pre` given its output `out`;
/// `pre` is read only when `has_pre` (else the slope follows from the
/// output, which every activation whose `needs_input` is false allows).
#[inline(always)]
pub(crate) fn slope<T: Scalar>(act: Activation, has_pre: bool, pre: T, out: T) -> T {
    if has_pre {
        act.derivative(pre, out)
    } else {
        act.derivative_from_output(out)
    }
}

// `T` is `f32` or `f64` (the trait is sealed); the branch on its size is
// decided at compile time and the round trip through `f64` folds away.

/// The logistic sigmoid.
#[inline(always)]
pub(crate) fn sigmoid<T: Scalar>(x: T) -> T {
    if T::BYTES == 4 {
        T::of_f64(single::sigmoid(x.as_f64() as f32) as f64)
    } else {
        T::of_f64(double::sigmoid(x.as_f64()))
    }
}

/// The hyperbolic tangent.
#[inline(always)]
pub(crate) fn tanh<T: Scalar>(x: T) -> T {
    if T::BYTES == 4 {
        T::of_f64(single::tanh(x.as_f64() as f32) as f64)
    } else {
        T::of_f64(double::tanh(x.as_f64()))
    }
}

/// The three functions for one float type: `$f` with its bits `$bits`,
/// mantissa width, exponent bias, clamp range for `exp_parts`'s argument (so
/// that `2^n` stays a normal number or zero), `ln 2` in two parts, and
/// `$poly`, `(e^r − 1) / r` on `|r| ≤ ln 2 / 2`.
macro_rules! float_math {
    ($m:ident, $f:ty, $bits:ty, $int:ty, $mant:expr, $bias:expr, $lo:expr, $hi:expr, $ln2_hi:expr, $ln2_lo:expr, $poly:path) => {
        mod $m {
            const SIGN: $bits = 1 << (<$bits>::BITS - 1);
            /// `1.5 · 2^mantissa`: adding it rounds to an integer, which
            /// then sits in the low bits.
            const SHIFTER: $f = 1.5 * (1u64 << $mant) as $f;

            /// `e^y = s·(1 + q)` as `(s, s·q)`, `s` a power of two and
            /// `|q| < 0.42`, so that `e^y ± 1` is `(s ± 1) + s·q` with no
            /// cancellation near 0 and one add after the product (which
            /// the divisions below wait on); saturating below the clamp.
            #[inline(always)]
            pub(super) fn exp_parts(y: $f) -> ($f, $f) {
                let y = y.clamp($lo, $hi);
                let t = y * core::f64::consts::LOG2_E as $f + SHIFTER;
                let n = t - SHIFTER;
                // ln 2 in two parts, the first with few bits, so `n·ln2_hi`
                // is exact.
                let r = (y - n * $ln2_hi) - n * $ln2_lo;
                let q = r * $poly(r);
                let n = (t.to_bits() as $int).wrapping_sub(SHIFTER.to_bits() as $int);
                let scale = <$f>::from_bits((n + $bias).wrapping_shl($mant) as $bits);
                (scale, scale * q)
            }

            /// `1 / (1 + e^−x)`.
            #[inline(always)]
            pub(super) fn sigmoid(x: $f) -> $f {
                let (s, sq) = exp_parts(-x);
                1.0 / ((s + 1.0) + sq)
            }

            /// `tanh |x| = −m / (2 + m)` with `m = e^(−2|x|) − 1`, then
            /// the sign of `x`.
            #[inline(always)]
            pub(super) fn tanh(x: $f) -> $f {
                let abs = <$f>::from_bits(x.to_bits() & !SIGN);
                let (s, sq) = exp_parts(-2.0 * abs);
                let t = ((1.0 - s) - sq) / ((s + 1.0) + sq);
                <$f>::from_bits(t.to_bits() | (x.to_bits() & SIGN))
            }
        }
    };
}

// The Taylor polynomials of `(e^r − 1) / r` (coefficients `1/(k+1)!`), to
// the degree whose truncation stays below half an ulp, evaluated in
// Estrin's scheme: a GRU step runs two of these one after the other, and
// at a few units its time is their latency, which pairs of terms halve
// against Horner's chain.

/// Degree 6, for `f32`.
#[inline(always)]
fn poly_f32(r: f32) -> f32 {
    let (r2, r4) = (r * r, r * r * (r * r));
    let a = 1.0 + r * (1.0 / 2.0);
    let b = 1.0 / 6.0 + r * (1.0 / 24.0);
    let c = (1.0 / 120.0 + r * (1.0 / 720.0)) + r2 * (1.0 / 5040.0);
    (a + r2 * b) + r4 * c
}

/// Degree 12, for `f64`.
#[inline(always)]
fn poly_f64(r: f64) -> f64 {
    const C: [f64; 13] = {
        let mut c = [1.0; 13];
        let mut k = 1;
        while k < 13 {
            c[k] = c[k - 1] / (k + 1) as f64;
            k += 1;
        }
        c
    };
    let (r2, r4) = (r * r, r * r * (r * r));
    let r8 = r4 * r4;
    let pair = |i: usize| C[i] + r * C[i + 1];
    let low = (pair(0) + r2 * pair(2)) + r4 * (pair(4) + r2 * pair(6));
    let high = (pair(8) + r2 * pair(10)) + r4 * C[12];
    low + r8 * high
}

float_math!(single, f32, u32, i32, 23, 127, -88.0, 88.0, 0.693_145_75, 1.428_606_8e-6, super::poly_f32);
float_math!(
    double,
    f64,
    u64,
    i64,
    52,
    1023,
    -708.0,
    709.0,
    0.693_147_180_369_123_8,
    1.908_214_929_270_587_7e-10,
    super::poly_f64
);

#[cfg(test)]
mod tests {
    use super::*;

    /// Within a few ulp of the exact value (f64's libm, itself within 1 ulp
    /// of it) over the range that matters and beyond, and the edges: signed
    /// zeros, infinities, NaN.
    #[test]
    fn sigmoid_and_tanh_match_libm() {
        let mut worst = [0.0f64; 4];
        for i in -200_000..=200_000 {
            let x = i as f64 * 1e-4 * (1.0 + (i as f64).abs() * 1e-5);
            let (s, t) = (1.0 / (1.0 + (-x).exp()), x.tanh());
            let rel = |got: f64, want: f64| (got - want).abs() / want.abs().max(f64::MIN_POSITIVE);
            worst[0] = worst[0].max(rel(sigmoid(x), s) / f64::EPSILON);
            worst[1] = worst[1].max(rel(tanh(x), t) / f64::EPSILON);
            let xf = x as f32;
            let (sf, tf) = (1.0 / (1.0 + (-(xf as f64)).exp()), (xf as f64).tanh());
            if sf > 1e-37 {
                worst[2] = worst[2].max(rel(sigmoid(xf) as f64, sf) / f32::EPSILON as f64);
            }
            worst[3] = worst[3].max(rel(tanh(xf) as f64, tf) / f32::EPSILON as f64);
        }
        assert!(worst.iter().all(|&w| w < 4.0), "worst errors in ulp (sigmoid, tanh in f64, f32): {worst:?}");
        for (x, s, t) in [(0.0, 0.5, 0.0), (f64::INFINITY, 1.0, 1.0), (1e-300, 0.5, 1e-300)] {
            assert_eq!((sigmoid(x), tanh(x)), (s, t), "{x}");
            assert_eq!((sigmoid(x as f32), tanh(x as f32)), (s as f32, t as f32), "{x}");
        }
        // Below the clamp the sigmoid is the smallest value it reaches.
        assert!(sigmoid(f64::NEG_INFINITY) < 1e-300 && tanh(f64::NEG_INFINITY) == -1.0);
        assert!(sigmoid(f32::NEG_INFINITY) < 1e-37 && tanh(f32::NEG_INFINITY) == -1.0);
        assert!(tanh(-0.0f64).is_sign_negative() && tanh(-0.0f32).is_sign_negative());
        assert!(sigmoid(f64::NAN).is_nan() && tanh(f64::NAN).is_nan());
        assert!(sigmoid(f32::NAN).is_nan() && tanh(f32::NAN).is_nan());
        assert!(sigmoid(-1000.0f64) >= 0.0 && sigmoid(-1000.0f32) >= 0.0);
    }
}
