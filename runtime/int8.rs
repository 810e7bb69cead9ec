//! int8 inference with TFLite's arithmetic, bit for bit: per-channel
//! symmetric int8 weights, asymmetric int8 activations, int32 bias and
//! accumulation, and fixed-point requantization with gemmlowp's rounding
//! (`SaturatingRoundingDoublingHighMul`, `RoundingDivideByPOT`), as TFLite's
//! reference kernels compute them. `no_std`, no heap: every kernel works on
//! fixed-size arrays or caller-owned slices.
//!
//! The `{Name}Int8` struct that `network!` generates for
//! `quantize(int8, …)` holds one of these layers per layer of the model, its
//! constants (scales turned into multipliers and shifts, quantized weights)
//! computed at compile time.

pub use crate::ops::Window;

/// gemmlowp's `SaturatingRoundingDoublingHighMul`: `a·b / 2^31` rounded to
/// nearest (ties away from zero), saturating the one overflowing case
/// (`i32::MIN · i32::MIN`). ARM's `VQRDMULH`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = i64::from(a) * i64::from(b);
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // C++'s division truncates toward zero, as Rust's does
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// gemmlowp's `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest,
/// ties away from zero (`exponent` in `0..=31`).
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    let mask = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// TFLite's `MultiplyByQuantizedMultiplier` (gemmlowp's two roundings, as
/// TFLite's released builds compute it for convolutions and `MEAN`):
/// `RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x · 2^left,
/// multiplier), right)`, where `multiplier` in `[2^30, 2^31)` (or 0) and
/// `shift` are `QuantizeMultiplier`'s significand and exponent.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = if shift > 0 { shift } else { 0 };
    let right = if shift > 0 { 0 } else { -shift };
    rounding_divide_by_pot(saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left), multiplier), right)
}

/// TFLite's single-rounding `MultiplyByQuantizedMultiplier`:
/// `x · multiplier · 2^(shift − 31)`, rounded half up, in 64 bits
/// (saturated to `i32`).
#[inline]
pub fn multiply_single_rounding(x: i32, multiplier: i32, shift: i32) -> i32 {
    let total = (31 - shift).clamp(1, 62);
    let round = 1i64 << (total - 1);
    let v = (i64::from(x) * i64::from(multiplier) + round) >> total;
    v.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
}

/// TFLite's `MultiplyByQuantizedMultiplierGreaterThanOne` (softmax's input
/// scaling): `SaturatingRoundingDoublingHighMul(x · 2^left_shift, multiplier)`.
#[inline]
pub fn multiply_by_quantized_multiplier_greater_than_one(x: i32, multiplier: i32, left_shift: i32) -> i32 {
    saturating_rounding_doubling_high_mul(x.wrapping_mul(1 << left_shift), multiplier)
}

/// Rounds half away from zero (C's `round`), without `std`.
#[inline]
fn round_half_away(v: f32) -> f32 {
    libm::roundf(v)
}

/// An int8 tensor's affine quantization: `real = scale · (q − zero_point)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuantParams {
    /// The real value of one step.
    pub scale: f32,
    /// The integer that stands for 0.
    pub zero_point: i32,
}

impl QuantParams {
    /// TFLite's `QUANTIZE`: `zero_point + round(x / scale)` (half away from
    /// zero), clamped to `[-128, 127]`.
    #[inline]
    pub fn quantize(&self, x: f32) -> i8 {
        let q = round_half_away(x / self.scale);
        // out-of-range values (and NaN, as 0) saturate in the cast
        let q = (q as i32).saturating_add(self.zero_point);
        q.clamp(-128, 127) as i8
    }

    /// TFLite's `DEQUANTIZE`: `scale · (q − zero_point)`.
    #[inline]
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (i32::from(q) - self.zero_point) as f32
    }
}

/// A quantized fully-connected layer, TFLite's `FULLY_CONNECTED` with
/// per-channel weights as its reference kernel computes it: the int32
/// accumulator requantized with one rounding,
/// `(acc · multiplier + 2^(n−1)) >> n` in 64 bits for `n = 31 − shift`
/// (TFLite's single-rounding `MultiplyByQuantizedMultiplier`, a 32×32-bit
/// multiply on a Cortex-M rather than software double precision), its
/// activation fused as a clamp.
#[derive(Clone, Debug, PartialEq)]
pub struct QDense<const I: usize, const O: usize> {
    /// Symmetric int8 weights, a row per output channel (TFLite's
    /// `[units, in]`, the transpose of Keras's kernel).
    pub kernel: [[i8; I]; O],
    /// `round(bias / (input_scale · kernel_scale[c]))`.
    pub bias: [i32; O],
    /// Per channel, `QuantizeMultiplier(input_scale · kernel_scale[c] /
    /// output_scale)`: the significand in Q0.31…
    pub multiplier: [i32; O],
    /// …and the power of two.
    pub shift: [i32; O],
    /// The input's zero point (subtracted from each input).
    pub input_zero_point: i32,
    /// The output's zero point (added after requantization).
    pub output_zero_point: i32,
    /// The fused activation's range in the output's quantization
    /// (`[-128, 127]` for none, `[zero_point, 127]` for relu, …).
    pub act_min: i8,
    /// The top of that range.
    pub act_max: i8,
}

impl<const I: usize, const O: usize> QDense<I, O> {
    /// `y = clamp(zp_out + requant(Σ w·(x − zp_in) + b))`.
    pub fn forward(&self, x: &[i8; I], y: &mut [i8; O]) {
        for (c, out) in y.iter_mut().enumerate() {
            let row = &self.kernel[c];
            let mut acc: i32 = 0;
            for (&w, &v) in row.iter().zip(x.iter()) {
                acc += i32::from(w) * (i32::from(v) - self.input_zero_point);
            }
            acc += self.bias[c];
            let acc =
                multiply_single_rounding(acc, self.multiplier[c], self.shift[c]).saturating_add(self.output_zero_point);
            *out = acc.clamp(i32::from(self.act_min), i32::from(self.act_max)) as i8;
        }
    }
}

/// The requantization a convolution's output channels share: per-channel
/// multipliers and shifts, the zero points, and the fused activation's
/// range.
#[derive(Clone, Debug, PartialEq)]
pub struct Requant<const O: usize> {
    /// `round(bias / (input_scale · kernel_scale[c]))` (zero without a bias).
    pub bias: [i32; O],
    /// `QuantizeMultiplier(input_scale · kernel_scale[c] / output_scale)`:
    /// the significand in Q0.31…
    pub multiplier: [i32; O],
    /// …and the power of two.
    pub shift: [i32; O],
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
    /// The fused activation's range in the output's quantization.
    pub act_min: i8,
    /// The top of that range.
    pub act_max: i8,
}

impl<const O: usize> Requant<O> {
    /// Channel `c`'s accumulator to its int8 output.
    #[inline]
    pub fn output(&self, c: usize, acc: i32) -> i8 {
        let acc = multiply_by_quantized_multiplier(acc + self.bias[c], self.multiplier[c], self.shift[c])
            + self.output_zero_point;
        acc.clamp(i32::from(self.act_min), i32::from(self.act_max)) as i8
    }
}

/// The input positions a window reads: for output `(oy, ox)`, each tap
/// `(ky, kx)` inside the input (padding is skipped, which is a real zero).
#[inline]
fn taps(w: &Window, oy: usize, ox: usize, mut f: impl FnMut(usize, usize, usize)) {
    for ky in 0..w.k_h {
        let iy = (oy * w.stride_h + ky * w.dilation_h) as isize - w.pad_top as isize;
        if iy < 0 || iy >= w.in_h as isize {
            continue;
        }
        for kx in 0..w.k_w {
            let ix = (ox * w.stride_w + kx * w.dilation_w) as isize - w.pad_left as isize;
            if ix < 0 || ix >= w.in_w as isize {
                continue;
            }
            f(ky * w.k_w + kx, iy as usize, ix as usize);
        }
    }
}

/// TFLite's int8 `CONV_2D` with per-channel weights (reference kernel
/// `ConvPerChannel`), its batch normalization folded and its activation
/// fused. Tensors are `(height, width, channels)`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct QConv2D<const K: usize, const O: usize> {
    /// TFLite's layout `[filters, kh, kw, in]`, `K = filters · kh · kw · in`.
    pub kernel: [i8; K],
    /// Bias, multipliers, zero points, activation range.
    pub requant: Requant<O>,
    /// Sizes, strides, dilations and padding.
    pub window: Window,
}

impl<const K: usize, const O: usize> QConv2D<K, O> {
    /// `x` is `in_h · in_w · channels`, `y` is `out_h · out_w · O`.
    pub fn forward(&self, x: &[i8], y: &mut [i8]) {
        let (w, r) = (&self.window, &self.requant);
        let (c_in, taps_len) = (w.channels, w.k_h * w.k_w * w.channels);
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                let out = &mut y[(oy * w.out_w + ox) * O..][..O];
                for (c, o) in out.iter_mut().enumerate() {
                    let filter = &self.kernel[c * taps_len..][..taps_len];
                    let mut acc: i32 = 0;
                    taps(w, oy, ox, |t, iy, ix| {
                        let px = &x[(iy * w.in_w + ix) * c_in..][..c_in];
                        for (&f, &v) in filter[t * c_in..][..c_in].iter().zip(px) {
                            acc += i32::from(f) * (i32::from(v) - r.input_zero_point);
                        }
                    });
                    *o = r.output(c, acc);
                }
            }
        }
    }
}

/// TFLite's int8 `DEPTHWISE_CONV_2D` with per-channel weights (reference
/// kernel `DepthwiseConvPerChannel`): output channel `c · multiplier + m`
/// reads input channel `c`.
#[derive(Clone, Debug, PartialEq)]
pub struct QDepthwiseConv2D<const K: usize, const O: usize> {
    /// TFLite's layout `[1, kh, kw, O]` (Keras's `[kh, kw, in, multiplier]`).
    pub kernel: [i8; K],
    /// Outputs per input channel.
    pub depth_multiplier: usize,
    /// Bias, multipliers, zero points, activation range.
    pub requant: Requant<O>,
    /// Sizes, strides, dilations and padding.
    pub window: Window,
}

impl<const K: usize, const O: usize> QDepthwiseConv2D<K, O> {
    /// `x` is `in_h · in_w · channels`, `y` is `out_h · out_w · O`.
    pub fn forward(&self, x: &[i8], y: &mut [i8]) {
        let (w, r) = (&self.window, &self.requant);
        let c_in = w.channels;
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                let out = &mut y[(oy * w.out_w + ox) * O..][..O];
                for (c, o) in out.iter_mut().enumerate() {
                    let ic = c / self.depth_multiplier;
                    let mut acc: i32 = 0;
                    taps(w, oy, ox, |t, iy, ix| {
                        let v = x[(iy * w.in_w + ix) * c_in + ic];
                        acc += i32::from(self.kernel[t * O + c]) * (i32::from(v) - r.input_zero_point);
                    });
                    *o = r.output(c, acc);
                }
            }
        }
    }
}

/// TFLite's int8 `MEAN` over the spatial axes (`GlobalAveragePooling2D`;
/// reference kernel `QuantizedMeanOrSum`): the sum of each channel, less
/// the zero point's share, times `input_scale / output_scale / positions`
/// as one fixed-point multiplier.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QMean<const C: usize> {
    /// Positions averaged over.
    pub positions: usize,
    /// `QuantizeMultiplier(input_scale / output_scale)` with `1/positions`
    /// folded in as TFLite folds it.
    pub multiplier: i32,
    /// Its shift.
    pub shift: i32,
    /// The input's zero point.
    pub input_zero_point: i32,
    /// The output's zero point.
    pub output_zero_point: i32,
}

impl<const C: usize> QMean<C> {
    /// `x` is `positions · C`, `y` is `C`.
    pub fn forward(&self, x: &[i8], y: &mut [i8; C]) {
        for (c, out) in y.iter_mut().enumerate() {
            let sum: i32 = (0..self.positions).map(|p| i32::from(x[p * C + c])).sum();
            let shifted = sum - self.input_zero_point * self.positions as i32;
            let v = multiply_by_quantized_multiplier(shifted, self.multiplier, self.shift) + self.output_zero_point;
            *out = v.clamp(-128, 127) as i8;
        }
    }
}

/// TFLite's int8 `AVERAGE_POOL_2D` and `MAX_POOL_2D` (reference kernels;
/// the output has the input's scale and zero point): the mean of the real
/// values of each window rounded half away from zero, or their maximum.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QPool2D {
    /// The maximum rather than the mean.
    pub max: bool,
    /// Sizes, strides and padding.
    pub window: Window,
    /// The fused activation's range.
    pub act_min: i8,
    /// The top of that range.
    pub act_max: i8,
}

impl QPool2D {
    /// `x` is `in_h · in_w · channels`, `y` is `out_h · out_w · channels`.
    pub fn forward(&self, x: &[i8], y: &mut [i8]) {
        let w = &self.window;
        let c_n = w.channels;
        for oy in 0..w.out_h {
            for ox in 0..w.out_w {
                for c in 0..c_n {
                    let (mut acc, mut max, mut count) = (0i32, i32::from(i8::MIN), 0i32);
                    taps(w, oy, ox, |_, iy, ix| {
                        let v = i32::from(x[(iy * w.in_w + ix) * c_n + c]);
                        acc += v;
                        max = max.max(v);
                        count += 1;
                    });
                    let v = if self.max {
                        max
                    } else if count == 0 {
                        0
                    } else if acc > 0 {
                        (acc + count / 2) / count
                    } else {
                        (acc - count / 2) / count
                    };
                    y[(oy * w.out_w + ox) * c_n + c] = v.clamp(i32::from(self.act_min), i32::from(self.act_max)) as i8;
                }
            }
        }
    }
}

/// TFLite's int8 `SOFTMAX` (reference kernel, gemmlowp fixed point): the
/// input rescaled by `beta · input_scale` into Q5.26, `exp` of the
/// differences from the row's maximum, their sum in Q12.19, its reciprocal,
/// and outputs with scale 1/256 and zero point −128.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QSoftmax {
    /// `PreprocessSoftmaxScaling(beta, input_scale, 5)`.
    pub input_multiplier: i32,
    /// Its left shift.
    pub input_left_shift: i32,
    /// `−CalculateInputRadius(5, input_left_shift)`: differences below it
    /// give 0 (−128).
    pub diff_min: i32,
}

impl QSoftmax {
    /// One row: `x` and `y` of equal length.
    pub fn forward(&self, x: &[i8], y: &mut [i8]) {
        let max = x.iter().copied().max().unwrap_or(i8::MIN);
        let scaled = |v: i8| {
            let diff = i32::from(v) - i32::from(max);
            (diff >= self.diff_min).then(|| {
                multiply_by_quantized_multiplier_greater_than_one(diff, self.input_multiplier, self.input_left_shift)
            })
        };
        // Q12.19 accumulator
        let mut sum: i32 = 0;
        for &v in x {
            if let Some(d) = scaled(v) {
                sum = sum.wrapping_add(rounding_divide_by_pot(fixed::exp_on_negative_values_q5(d), 12));
            }
        }
        let (reciprocal, bits_over_unit) = fixed::reciprocal(sum, 12);
        for (out, &v) in y.iter_mut().zip(x) {
            *out = match scaled(v) {
                Some(d) => {
                    let e = fixed::exp_on_negative_values_q5(d);
                    let unsat = rounding_divide_by_pot(
                        saturating_rounding_doubling_high_mul(reciprocal, e),
                        bits_over_unit + 31 - 8,
                    );
                    (unsat - 128).clamp(-128, 127) as i8
                }
                None => i8::MIN,
            };
        }
    }
}

/// gemmlowp's fixed-point functions that TFLite's softmax uses, on raw
/// `i32` values (`Qm.n` with `m` integer bits, `n = 31 − m`).
pub mod fixed {
    use super::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as mul};

    /// `SaturatingRoundingMultiplyByPOT<e>` for `e > 0`: a saturating
    /// left shift.
    #[inline]
    pub fn saturating_shl(x: i32, e: i32) -> i32 {
        let threshold = (1i32 << (31 - e)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x << e
        }
    }

    /// `exp(a)` for `a` in `[-1/4, 0)`, Q0.31 in and out.
    pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
        const CONSTANT_TERM: i32 = 1_895_147_668; // exp(-1/8)
        const ONE_THIRD: i32 = 715_827_883;
        let x = a.wrapping_add(1 << 28);
        let x2 = mul(x, x);
        let x3 = mul(x2, x);
        let x4 = mul(x2, x2);
        let x4_over_4 = rounding_divide_by_pot(x4, 2);
        let poly = rounding_divide_by_pot(mul(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2), 1);
        CONSTANT_TERM.wrapping_add(mul(CONSTANT_TERM, x.wrapping_add(poly)))
    }

    /// gemmlowp's `exp_on_negative_values` on a Q5.26 input (TFLite's
    /// `kScaledDiffIntegerBits = 5`), Q0.31 out.
    pub fn exp_on_negative_values_q5(a: i32) -> i32 {
        const INTEGER_BITS: i32 = 5;
        const FRACTIONAL_BITS: i32 = 26;
        let one_quarter = 1i32 << (FRACTIONAL_BITS - 2);
        let mask = one_quarter - 1;
        let a_mod_quarter_minus_one_quarter = (a & mask) - one_quarter;
        let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(saturating_shl(
            a_mod_quarter_minus_one_quarter,
            INTEGER_BITS,
        ));
        let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
        const BARREL: [(i32, i32); 7] = [
            (-2, 1_672_461_947), // exp(-1/4)
            (-1, 1_302_514_674), // exp(-1/2)
            (0, 790_015_084),    // exp(-1)
            (1, 290_630_308),    // exp(-2)
            (2, 39_332_535),     // exp(-4)
            (3, 720_401),        // exp(-8)
            (4, 242),            // exp(-16)
        ];
        for (exponent, multiplier) in BARREL {
            if INTEGER_BITS > exponent && remainder & (1 << (FRACTIONAL_BITS + exponent)) != 0 {
                result = mul(result, multiplier);
            }
        }
        if a == 0 {
            i32::MAX
        } else {
            result
        }
    }

    /// gemmlowp's `RoundingHalfSum`.
    #[inline]
    pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
        let sum = i64::from(a) + i64::from(b);
        let sign = if sum >= 0 { 1 } else { -1 };
        ((sum + sign) / 2) as i32
    }

    /// `1 / (1 + a)` for `a` in `[0, 1)`, Q0.31 in and out (Newton–Raphson).
    pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
        let half_denominator = rounding_half_sum(a, i32::MAX);
        const C48_OVER_17: i32 = 1_515_870_810; // Q2.29
        const CNEG32_OVER_17: i32 = -1_010_580_540;
        const ONE_Q2: i32 = 1 << 29;
        let mut x = C48_OVER_17.wrapping_add(mul(half_denominator, CNEG32_OVER_17));
        for _ in 0..3 {
            let half_denominator_times_x = mul(half_denominator, x);
            let one_minus = ONE_Q2.wrapping_sub(half_denominator_times_x);
            x = x.wrapping_add(saturating_shl(mul(x, one_minus), 2));
        }
        saturating_shl(x, 1)
    }

    /// TFLite's `GetReciprocal`: for a positive `x` with `integer_bits`
    /// integer bits, `1/x` as a Q0.31 value and the number of bits it is
    /// shifted by (`x`'s bits above one).
    pub fn reciprocal(x: i32, integer_bits: i32) -> (i32, i32) {
        let headroom_plus_one = (x as u32).leading_zeros() as i32;
        let bits_over_unit = integer_bits - headroom_plus_one;
        let shifted_sum_minus_one = ((x as u32).wrapping_shl(headroom_plus_one as u32)).wrapping_sub(1u32 << 31) as i32;
        (one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one), bits_over_unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubling_high_mul_rounds_and_saturates() {
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN), i32::MAX);
        // 0.5 · 0.5 = 0.25 in Q0.31
        assert_eq!(saturating_rounding_doubling_high_mul(1 << 30, 1 << 30), 1 << 29);
        // 3 · 2^30 / 2^31 = 1.5 → 2, but −1.5 → −1: the nudge of a negative
        // product is 1 − 2^30 and the division truncates
        assert_eq!(saturating_rounding_doubling_high_mul(3, 1 << 30), 2);
        assert_eq!(saturating_rounding_doubling_high_mul(-3, 1 << 30), -1);
        assert_eq!(saturating_rounding_doubling_high_mul(-5, 1 << 30), -2);
        assert_eq!(saturating_rounding_doubling_high_mul(1, 1 << 30), 1);
        assert_eq!(saturating_rounding_doubling_high_mul(-1, 1 << 30), 0);
        assert_eq!(saturating_rounding_doubling_high_mul(i32::MAX, i32::MAX), i32::MAX - 1);
    }

    #[test]
    fn rounding_divide_rounds_ties_away_from_zero() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(6, 2), 2);
        assert_eq!(rounding_divide_by_pot(-6, 2), -2);
        assert_eq!(rounding_divide_by_pot(-7, 2), -2);
        assert_eq!(rounding_divide_by_pot(7, 0), 7);
        assert_eq!(rounding_divide_by_pot(i32::MIN, 31), -1);
    }

    #[test]
    fn requantization_matches_the_real_product() {
        // multiplier 0.75 = 1610612736 / 2^31, shift −3: x · 0.09375
        for x in [-100_000, -1000, -17, -1, 0, 1, 17, 1000, 100_000] {
            let got = multiply_by_quantized_multiplier(x, 1_610_612_736, -3);
            let want = (f64::from(x) * 0.09375).round();
            assert!((f64::from(got) - want).abs() <= 1.0, "{x}: {got} vs {want}");
        }
        assert_eq!(multiply_by_quantized_multiplier(1000, 1_610_612_736, -3), 94);
        // a left shift: 1.5 = 0.75 · 2
        assert_eq!(multiply_by_quantized_multiplier(10, 1_610_612_736, 1), 15);
        // 5218 · 0.0022036… = 11.4988…: two roundings give 12 (2943.70 →
        // 2944, then 11.5 → 12), as TFLite's convolutions compute it
        assert_eq!(multiply_by_quantized_multiplier(5218, 1_211_489_331, -8), 12);
        // −0.5 and −1.5 (a negative tie) round toward +∞ in the high product
        assert_eq!(multiply_by_quantized_multiplier(-1, 1 << 30, 0), 0);
        assert_eq!(multiply_by_quantized_multiplier(-3, 1 << 30, 0), -1);
        // and away from zero in the division: −2.5 → −3
        assert_eq!(multiply_by_quantized_multiplier(-10, 1 << 30, -1), -3);
        assert_eq!(multiply_by_quantized_multiplier_greater_than_one(-3, 1 << 30, 2), -6);
    }

    #[test]
    fn quantize_rounds_half_away_and_saturates() {
        let q = QuantParams { scale: 0.5, zero_point: -3 };
        assert_eq!(q.quantize(0.25), -2);
        assert_eq!(q.quantize(-0.25), -4);
        assert_eq!(q.quantize(1000.0), 127);
        assert_eq!(q.quantize(-1000.0), -128);
        assert_eq!(q.dequantize(-3), 0.0);
        assert_eq!(q.dequantize(1), 2.0);
    }

    #[test]
    fn fixed_point_exp_and_reciprocal_are_close_to_the_real_functions() {
        for k in 0..200 {
            let a = -(k as f64) * 0.1; // down to −19.9
            let raw = (a * f64::from(1 << 26)) as i32;
            let got = f64::from(fixed::exp_on_negative_values_q5(raw)) / 2f64.powi(31);
            assert!((got - a.exp()).abs() < 1e-6, "exp({a}) = {got}");
        }
        for k in 1..100 {
            let x = k as f64 / 100.0;
            let raw = (x * 2f64.powi(31)) as i32;
            let got = f64::from(fixed::one_over_one_plus_x_for_x_in_0_1(raw)) / 2f64.powi(31);
            assert!((got - 1.0 / (1.0 + x)).abs() < 1e-8, "1/(1+{x}) = {got}");
        }
        // 3.0 in Q12.19: 1/3 = (2/3) · 2^-1
        let (r, bits) = fixed::reciprocal(3 << 19, 12);
        assert_eq!(bits, 1);
        assert!((f64::from(r) / 2f64.powi(31) * 2f64.powi(-bits) - 1.0 / 3.0).abs() < 1e-8);
    }

    #[test]
    fn dense_accumulates_requantizes_and_clamps() {
        // y = relu(x·w + b) with input scale 0.1 (zp 2), kernel scale 0.01,
        // output scale 0.05 (zp −10): scale 0.02
        let layer = QDense::<3, 2> {
            kernel: [[10, -20, 30], [-127, 0, 127]],
            bias: [50, -5],
            // QuantizeMultiplier(0.02) = 0.64 · 2^−5
            multiplier: [1_374_389_535; 2],
            shift: [-5; 2],
            input_zero_point: 2,
            output_zero_point: -10,
            act_min: -10,
            act_max: 127,
        };
        let x = [12, -8, 7];
        let mut y = [0i8; 2];
        layer.forward(&x, &mut y);
        // channel 0: 10·10 − 20·(−10) + 30·5 + 50 = 500 → 500 · 0.02 = 10 → 0
        // channel 1: −127·10 + 127·5 − 5 = −640 → −12.8 → −13 − 10, relu → −10
        assert_eq!(y, [0, -10]);
    }

    #[test]
    fn single_rounding_rounds_half_up() {
        // multiplier 0.5 · 2^31, shift 0: x / 2, ties towards +∞
        let half = 1 << 30;
        assert_eq!(multiply_single_rounding(5, half, 0), 3);
        assert_eq!(multiply_single_rounding(-5, half, 0), -2);
        assert_eq!(multiply_single_rounding(-6, half, 0), -3);
        // shift 2: x · 2
        assert_eq!(multiply_single_rounding(-7, half, 2), -14);
        // saturates rather than wrapping
        assert_eq!(multiply_single_rounding(i32::MAX, i32::MAX, 10), i32::MAX);
        // within one step of the real product over a range of values
        let (m, shift) = (1_374_389_535, -5); // 0.02
        for x in (-100_000..100_000).step_by(37) {
            let want = f64::from(x) * 0.02;
            let got = f64::from(multiply_single_rounding(x, m, shift));
            assert!((got - want).abs() <= 0.5 + 1e-6, "{x}: {got} vs {want}");
        }
    }

    #[test]
    fn softmax_sums_to_one_and_orders_like_the_real_one() {
        // input scale 0.1: PreprocessSoftmaxScaling(1, 0.1, 5) → 0.1 · 2^26
        // = 6710886.4 = 0.8 · 2^23: multiplier round(0.8 · 2^31), shift 23;
        // CalculateInputRadius(5, 23) = 31 · 2^26 / 2^23 = 248
        let sm = QSoftmax { input_multiplier: 1_717_986_918, input_left_shift: 23, diff_min: -248 };
        let x = [10i8, 20, 30, -50];
        let mut y = [0i8; 4];
        sm.forward(&x, &mut y);
        let p: Vec<f64> = y.iter().map(|&q| (f64::from(q) + 128.0) / 256.0).collect();
        let e: Vec<f64> = x.iter().map(|&v| (f64::from(v) * 0.1).exp()).collect();
        let s: f64 = e.iter().sum();
        for (got, e) in p.iter().zip(&e) {
            assert!((got - e / s).abs() <= 1.0 / 256.0, "{got} vs {}", e / s);
        }
        assert!(y[2] > y[1] && y[1] > y[0] && y[0] >= y[3]);
    }

    fn window(
        in_h: usize,
        in_w: usize,
        channels: usize,
        out: (usize, usize),
        k: usize,
        stride: usize,
        pad: usize,
    ) -> Window {
        Window {
            in_h,
            in_w,
            channels,
            out_h: out.0,
            out_w: out.1,
            k_h: k,
            k_w: k,
            stride_h: stride,
            stride_w: stride,
            dilation_h: 1,
            dilation_w: 1,
            pad_top: pad,
            pad_left: pad,
        }
    }

    /// Multiplier 1 (2^30 · 2^1 / 2^31), no bias, zero points 0 / 0.
    fn identity<const O: usize>() -> Requant<O> {
        Requant {
            bias: [0; O],
            multiplier: [1 << 30; O],
            shift: [1; O],
            input_zero_point: 0,
            output_zero_point: 0,
            act_min: -128,
            act_max: 127,
        }
    }

    #[test]
    fn conv_sums_the_taps_inside_the_image() {
        // 3×3 image, one channel, 2×2 kernel of ones into 2 filters (the
        // second −1s), `same` padding (extra row and column at the end)
        let x = [1i8, 2, 3, 4, 5, 6, 7, 8, 9];
        let conv = QConv2D::<8, 2> {
            kernel: [1, 1, 1, 1, -1, -1, -1, -1],
            requant: identity(),
            window: window(3, 3, 1, (3, 3), 2, 1, 0),
        };
        let mut y = [0i8; 18];
        conv.forward(&x, &mut y);
        let first: Vec<i8> = y.iter().step_by(2).copied().collect();
        assert_eq!(first, [12, 16, 9, 24, 28, 15, 15, 17, 9]);
        assert!(y.chunks(2).all(|p| p[0] == -p[1]));
        // a zero point is subtracted from the real taps only
        let mut shifted = conv.clone();
        shifted.requant.input_zero_point = 1;
        let x1: Vec<i8> = x.iter().map(|v| v + 1).collect();
        let mut y1 = [0i8; 18];
        shifted.forward(&x1, &mut y1);
        assert_eq!(y, y1);
    }

    #[test]
    fn depthwise_keeps_channels_apart() {
        // 2×2 image, 2 channels, 1×1 kernel, multiplier 2: outputs c·2 + m
        let x = [1i8, 10, 2, 20, 3, 30, 4, 40];
        let dw = QDepthwiseConv2D::<4, 4> {
            kernel: [1, 2, 3, 4],
            depth_multiplier: 2,
            requant: identity(),
            window: window(2, 2, 2, (2, 2), 1, 1, 0),
        };
        let mut y = [0i8; 16];
        dw.forward(&x, &mut y);
        assert_eq!(&y[..4], &[1, 2, 30, 40]);
        assert_eq!(&y[12..], &[4, 8, 120, 127]);
    }

    #[test]
    fn mean_and_pools() {
        // 2 positions, 2 channels; multiplier 1/2 (= 1 · 2^-1)
        let mean =
            QMean::<2> { positions: 2, multiplier: 1 << 30, shift: 0, input_zero_point: -1, output_zero_point: 3 };
        let mut y = [0i8; 2];
        mean.forward(&[5, -7, 8, 1], &mut y);
        // (5 + 8 + 2) / 2 = 7.5 → 8, + 3; (−7 + 1 + 2) / 2 = −2, + 3
        assert_eq!(y, [11, 1]);
        let x = [1i8, -4, 6, 3];
        let mut avg = QPool2D { max: false, window: window(2, 2, 1, (1, 1), 2, 2, 0), act_min: -128, act_max: 127 };
        let mut y = [0i8; 1];
        avg.forward(&x, &mut y);
        assert_eq!(y, [2]); // 6 / 4 = 1.5 → 2
        avg.max = true;
        avg.forward(&x, &mut y);
        assert_eq!(y, [6]);
        avg.max = false;
        avg.forward(&[-1, -4, -6, 2], &mut y);
        assert_eq!(y, [-2]); // −9 / 4 = −2.25 → −2
    }
}
