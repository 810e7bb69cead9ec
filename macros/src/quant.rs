//! int8 quantization at compile time, as TFLite's converter and kernels do
//! it: the float model run on the calibration inputs for each tensor's
//! range, asymmetric int8 parameters from the range, per-channel symmetric
//! int8 weights, int32 biases, and the fixed-point multipliers and shifts
//! the runtime's kernels (`runtime/int8.rs`) requantize with.

use crate::ops::window::Geometry;
use crate::vocab::Activation;

/// An int8 tensor's `scale` and `zero_point`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: i32,
}

/// A product's quantized constants: `Dense` or a convolution.
#[derive(Clone, Debug)]
pub struct Weighted {
    /// Keras's layout `[rows][out]`, row-major (`rows` = inputs, or
    /// kh·kw·in for a full convolution, kh·kw for a depthwise one).
    pub kernel: Vec<i8>,
    pub bias: Vec<i32>,
    pub multiplier: Vec<i32>,
    pub shift: Vec<i32>,
    /// `input_scale · kernel_scale[c] / output_scale` in f64 (`Dense`
    /// requantizes with it, as TFLite's reference `FULLY_CONNECTED` does).
    pub real: Vec<f64>,
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub act_min: i8,
    pub act_max: i8,
}

impl Weighted {
    /// The kernel transposed to `[out][rows]` (TFLite's layout of a
    /// fully-connected or full convolution kernel).
    pub fn kernel_by_output(&self, rows: usize, out: usize) -> Vec<i8> {
        (0..out).flat_map(|c| (0..rows).map(move |r| self.kernel[r * out + c])).collect()
    }
}

/// A layer as the int8 model runs it.
#[derive(Clone, Debug)]
pub enum QLayer {
    /// TFLite's `FULLY_CONNECTED` with per-channel weights and a fused
    /// relu, relu6 or no activation.
    Dense { name: String, inputs: usize, units: usize, q: Weighted },
    /// TFLite's `CONV_2D` or `DEPTHWISE_CONV_2D`, per-channel weights.
    Conv {
        name: String,
        geometry: Geometry,
        depthwise: bool,
        rows: usize,
        channels: usize,
        out_len: usize,
        q: Weighted,
    },
    /// TFLite's `MEAN` over the positions (`GlobalAveragePooling2D`).
    Mean {
        name: String,
        positions: usize,
        channels: usize,
        multiplier: i32,
        shift: i32,
        input_zero_point: i32,
        output_zero_point: i32,
    },
    /// TFLite's `MAX_POOL_2D` or `AVERAGE_POOL_2D`.
    Pool { name: String, max: bool, geometry: Geometry, out_len: usize },
    /// TFLite's int8 `SOFTMAX` (output scale 1/256, zero point −128).
    Softmax { name: String, len: usize, input_multiplier: i32, input_left_shift: i32, diff_min: i32 },
}

/// What `{Name}Int8` is made of.
#[derive(Clone, Debug)]
pub struct Int8Plan {
    pub input: QParams,
    pub input_len: usize,
    pub output: QParams,
    pub output_len: usize,
    pub layers: Vec<QLayer>,
    /// Files read (absolute paths), for `include_bytes!`.
    pub files: Vec<String>,
    /// How the scales were obtained, for the struct's doc comment.
    pub origin: String,
}

/// The fixed parameters of TFLite's int8 softmax output.
pub const SOFTMAX_OUTPUT: QParams = QParams { scale: 1.0 / 256.0, zero_point: -128 };

/// C's `round`: half away from zero (`f64::round`).
fn round(v: f64) -> f64 {
    v.round()
}

/// TFLite's `QuantizeMultiplier`: `m = q · 2^shift` with `q` in `[0.5, 1)`
/// as a Q0.31 integer.
pub fn quantize_multiplier(m: f64) -> (i32, i32) {
    if m == 0.0 {
        return (0, 0);
    }
    let (q, mut shift) = frexp(m);
    let mut q_fixed = round(q * (1i64 << 31) as f64) as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    (q_fixed as i32, shift)
}

/// C's `frexp` for finite, nonzero `x`: `x = q · 2^e`, `|q|` in `[0.5, 1)`.
fn frexp(x: f64) -> (f64, i32) {
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // subnormal: scale up first
        let (q, e) = frexp(x * 2f64.powi(64));
        return (q, e - 64);
    }
    let q = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (q, exp - 1022)
}

/// TFLite's `PreprocessSoftmaxScaling` (beta 1, 5 integer bits) and
/// `-CalculateInputRadius`: the softmax's multiplier, left shift and
/// smallest difference from the row's maximum that counts.
pub fn softmax_scaling(input_scale: f32) -> (i32, i32, i32) {
    const INTEGER_BITS: i32 = 5;
    let real = (f64::from(input_scale) * (1i64 << (31 - INTEGER_BITS)) as f64).min((1i64 << 31) as f64 - 1.0);
    let (multiplier, shift) = quantize_multiplier(real);
    let radius = (((1i64 << INTEGER_BITS) - 1) as f64 * (1i64 << (31 - INTEGER_BITS)) as f64
        / (1i64 << shift.max(0)) as f64)
        .floor();
    (multiplier, shift.max(0), -(radius as i32))
}

/// The activation's range in the output's quantization
/// (`CalculateActivationRangeQuantized`).
pub fn activation_range(act: Activation, out: QParams) -> (i8, i8) {
    let quantize = |f: f32| out.zero_point + round(f64::from(f / out.scale)) as i32;
    let (lo, hi) = match act {
        Activation::Relu => (quantize(0.0).max(-128), 127),
        Activation::Relu6 => (quantize(0.0).max(-128), quantize(6.0).min(127)),
        _ => (-128, 127),
    };
    (lo as i8, hi as i8)
}

/// Asymmetric int8 parameters for values in `[min, max]`, as TFLite's
/// converter chooses them: the range widened to hold 0, `scale = (max −
/// min) / 255`, the zero point `−128 − min / scale` rounded and clamped.
pub fn choose_params(min: f32, max: f32) -> QParams {
    let (min, max) = (f64::from(min.min(0.0)), f64::from(max.max(0.0)));
    if max == min {
        return QParams { scale: 1.0, zero_point: 0 };
    }
    let scale = (max - min) / 255.0;
    let zp = -128.0 - min / scale;
    let zero_point = if zp < -128.0 {
        -128
    } else if zp > 127.0 {
        127
    } else {
        round(zp) as i32
    };
    QParams { scale: scale as f32, zero_point }
}

/// Per-channel symmetric scales of a kernel `[rows, out]` (row-major):
/// `max |w| / 127` per output channel.
pub fn kernel_scales(kernel: &[f32], rows: usize, out: usize) -> Vec<f32> {
    (0..out)
        .map(|c| {
            let max = (0..rows).map(|i| kernel[i * out + c].abs()).fold(0.0f32, f32::max);
            if max == 0.0 {
                1.0
            } else {
                max / 127.0
            }
        })
        .collect()
}

/// A product's constants with these scales: weights `round(w / s)`,
/// biases `round(b / (input_scale · s))`, multipliers
/// `QuantizeMultiplier(input_scale · s / output_scale)`, the activation's range.
#[allow(clippy::too_many_arguments)]
pub fn weighted(
    kernel: &[f32],
    bias: &[f32],
    out: usize,
    act: Activation,
    input: QParams,
    kernel_scale: &[f32],
    output: QParams,
) -> Weighted {
    let kernel = kernel
        .iter()
        .enumerate()
        .map(|(i, &w)| round(f64::from(w / kernel_scale[i % out])).clamp(-127.0, 127.0) as i8)
        .collect();
    let bias = (0..out)
        .map(|c| {
            let bias_scale = input.scale * kernel_scale[c];
            round(f64::from(bias[c] / bias_scale)).clamp(i32::MIN as f64, i32::MAX as f64) as i32
        })
        .collect();
    let real: Vec<f64> =
        kernel_scale.iter().map(|&s| f64::from(input.scale) * f64::from(s) / f64::from(output.scale)).collect();
    let (multiplier, shift) = real.iter().map(|&m| quantize_multiplier(m)).unzip();
    let (act_min, act_max) = activation_range(act, output);
    Weighted {
        kernel,
        bias,
        multiplier,
        shift,
        real,
        input_zero_point: input.zero_point,
        output_zero_point: output.zero_point,
        act_min,
        act_max,
    }
}

/// `MEAN`'s multiplier and shift: `QuantizeMultiplier(input_scale /
/// output_scale)`, then `1 / positions` folded in as TFLite's
/// `QuantizedMeanOrSum` folds it (the multiplier shifted left by
/// `floor(log2 positions)`, at most 32 and at most `31 + shift`, divided by
/// `positions`).
pub fn mean_multiplier(input_scale: f32, output_scale: f32, positions: usize) -> (i32, i32) {
    let (m, shift) = quantize_multiplier(f64::from(input_scale) / f64::from(output_scale));
    let n = positions.max(1) as i64;
    let bits = (63 - (n as u64).leading_zeros() as i32).min(32).min(31 + shift);
    let m = ((i64::from(m) << bits) / n) as i32;
    (m, shift - bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantize_multiplier_is_tflites() {
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(0.75), (1_610_612_736, 0));
        assert_eq!(quantize_multiplier(0.02), (1_374_389_535, -5));
        assert_eq!(quantize_multiplier(3.0), (1_610_612_736, 2));
        // rounds up to 2^31: halved, shift one more
        assert_eq!(quantize_multiplier(1.0 - 1e-12), (1 << 30, 1));
        // too small: flushed to zero
        assert_eq!(quantize_multiplier(1e-12), (0, 0));
    }

    #[test]
    fn softmax_scaling_is_tflites() {
        // 0.1f32 is 0.100000001490116…: 0.8000000119 · 2^31 rounds to 1717986944
        assert_eq!(softmax_scaling(0.1), (1_717_986_944, 23, -248));
        // a huge scale: capped at 2^31 − 1
        assert_eq!(softmax_scaling(100.0), (i32::MAX, 31, 0));
    }

    #[test]
    fn params_hold_zero_and_the_range() {
        let p = choose_params(0.0, 2.55);
        assert_eq!(p.zero_point, -128);
        assert!((p.scale - 0.01).abs() < 1e-7);
        let p = choose_params(-1.0, 1.0);
        // −128 + 127.5 = −0.5, rounded half away from zero
        assert_eq!(p.zero_point, -1);
    }

    #[test]
    fn activation_ranges() {
        let out = QParams { scale: 0.05, zero_point: -10 };
        assert_eq!(activation_range(Activation::Relu, out), (-10, 127));
        assert_eq!(activation_range(Activation::Relu6, out), (-10, 110));
        assert_eq!(activation_range(Activation::Linear, out), (-128, 127));
    }
}
