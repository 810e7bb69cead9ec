//! int8 inference, `quantize(int8, …)`:
//!
//! - given TFLite's scales (`scales = "…"`, read from the `.tflite` that
//!   `tools/int8_fixtures.py` converts), the quantized weights and the int8
//!   outputs equal those of TFLite's converter and interpreter (reference
//!   kernels) exactly, on every test image of the digits;
//! - with its own calibration (`calibration = "…"`), the digits classifier
//!   in int8 loses at most half a point of test accuracy against f32.

#[path = "../examples/common/mod.rs"]
mod data;

use safetensors::{Dtype, SafeTensors};
use staticnet::nalgebra::SVector;
use std::collections::HashMap;

staticnet::network! {
    /// The seed classifier with the digits weights and TFLite's scales.
    pub struct SeedMlp {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        weights("examples/digits.safetensors");
        quantize(int8, scales = "tests/fixtures/int8_seed_mlp.scales.safetensors");
    }
}

staticnet::network! {
    /// The same classifier, calibrated by staticnet on 300 training images.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        weights("examples/digits.safetensors");
        quantize(int8, calibration = "tests/fixtures/int8_digits_calibration.safetensors");
    }
}

static MODEL: SeedMlpInt8 = SeedMlpInt8::PRETRAINED;

/// Every tensor of a fixture as integers (int8 and int32 tensors).
fn ints(name: &str) -> HashMap<String, (Vec<usize>, Vec<i64>)> {
    let path = format!("{}/tests/fixtures/{name}.safetensors", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let st = SafeTensors::deserialize(&bytes).expect("fixture");
    st.tensors()
        .into_iter()
        .filter_map(|(name, v)| {
            let vals: Vec<i64> = match v.dtype() {
                Dtype::I8 => v.data().iter().map(|&b| i64::from(b as i8)).collect(),
                Dtype::I32 => {
                    v.data().chunks_exact(4).map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap()))).collect()
                }
                _ => return None,
            };
            Some((name, (v.shape().to_vec(), vals)))
        })
        .collect()
}

/// Every sample of fixture `f`'s int8 `input` through `forward` against
/// TFLite's int8 `output` for it, exactly; returns how many samples.
fn assert_equals_tflite<const IN: usize, const OUT: usize>(
    f: &HashMap<String, (Vec<usize>, Vec<i64>)>,
    forward: impl Fn(&SVector<i8, IN>) -> SVector<i8, OUT>,
) -> usize {
    let (shape, input) = &f["input"];
    let (_, output) = &f["output"];
    let n = shape[0];
    assert_eq!(shape[1], IN, "input values per sample");
    let mut differing = Vec::new();
    for s in 0..n {
        let x = SVector::<i8, IN>::from_iterator(input[s * IN..(s + 1) * IN].iter().map(|&v| v as i8));
        let got: Vec<i64> = forward(&x).iter().map(|&v| i64::from(v)).collect();
        let want = &output[s * OUT..(s + 1) * OUT];
        if got != want {
            differing.push((s, got, want.to_vec()));
        }
    }
    assert!(
        differing.is_empty(),
        "{} of {n} samples differ from TFLite, first: {:?}",
        differing.len(),
        differing.first()
    );
    n
}

fn flat_kernel<const I: usize, const O: usize>(k: &[[i8; I]; O]) -> Vec<i64> {
    k.iter().flatten().map(|&v| i64::from(v)).collect()
}

#[test]
fn quantized_weights_equal_tflites() {
    let f = ints("int8_seed_mlp");
    let m = &MODEL;
    let layers: [(&str, Vec<i64>, Vec<i64>); 3] = [
        ("dense", flat_kernel(&m.dense.kernel), m.dense.bias.iter().map(|&b| i64::from(b)).collect()),
        ("dense_1", flat_kernel(&m.dense_1.kernel), m.dense_1.bias.iter().map(|&b| i64::from(b)).collect()),
        ("class", flat_kernel(&m.class.kernel), m.class.bias.iter().map(|&b| i64::from(b)).collect()),
    ];
    for (name, kernel, bias) in layers {
        assert_eq!(kernel, f[&format!("tflite/{name}.kernel")].1, "{name}.kernel");
        assert_eq!(bias, f[&format!("tflite/{name}.bias")].1, "{name}.bias");
    }
}

#[test]
fn int8_outputs_equal_tflites_exactly() {
    let n = assert_equals_tflite(&ints("int8_seed_mlp"), |x| MODEL.forward_quantized(x));
    assert!(n > 300, "{n} test images");
    println!("{n} of {n} test images: int8 outputs equal TFLite's (BUILTIN_REF) exactly");
}

#[test]
fn own_calibration_loses_at_most_half_a_point() {
    let digits = data::load_digits().expect("digits");
    let (_, test) = digits.split(7);
    let float = Digits::<f32>::PRETRAINED;
    let int8 = DigitsInt8::PRETRAINED;
    let (mut right_f32, mut right_int8) = (0usize, 0usize);
    for &i in &test {
        let x = SVector::<f32, 64>::from_iterator(digits.pixels[i].iter().map(|&p| p / 16.0));
        let label = usize::from(digits.labels[i]);
        right_f32 += usize::from(float.forward(&x).argmax().0 == label);
        right_int8 += usize::from(int8.forward(&x).argmax().0 == label);
    }
    let n = test.len() as f64;
    let (acc_f32, acc_int8) = (right_f32 as f64 / n, right_int8 as f64 / n);
    println!(
        "test accuracy on {} images: f32 {:.2}%, int8 {:.2}% (input scale {}, zero point {})",
        test.len(),
        acc_f32 * 100.0,
        acc_int8 * 100.0,
        DigitsInt8::INPUT_QUANT.scale,
        DigitsInt8::INPUT_QUANT.zero_point
    );
    assert!(acc_f32 - acc_int8 <= 0.005, "int8 loses {:.2} points", (acc_f32 - acc_int8) * 100.0);
}

#[test]
fn forward_quantizes_and_dequantizes_at_the_edges() {
    let x = SVector::<f32, 64>::from_fn(|i, _| (i % 17) as f32 / 16.0);
    let q = SeedMlpInt8::INPUT_QUANT;
    let xq = SVector::<i8, 64>::from_fn(|i, _| q.quantize(x[i]));
    let yq = MODEL.forward_quantized(&xq);
    let y = MODEL.forward(&x);
    assert_eq!(SeedMlpInt8::OUTPUT_QUANT, staticnet::int8::QuantParams { scale: 1.0 / 256.0, zero_point: -128 });
    for k in 0..10 {
        assert_eq!(y[k], SeedMlpInt8::OUTPUT_QUANT.dequantize(yq[k]));
    }
    // probabilities: close to the float model's
    let p = SeedMlp::<f32>::PRETRAINED.forward(&x);
    assert!((y.sum() - 1.0).abs() < 0.05, "{y}");
    assert_eq!(y.argmax().0, p.argmax().0);
}

/// The keyword-spotting DS-CNN of tests/keras_parity_conv.rs (random
/// weights, batch normalizations not the identity) as `$name`, its weights
/// and quantization given by `$how`.
macro_rules! kws_network {
    ($(#[$doc:meta])* $name:ident { $($how:tt)* }) => {
        staticnet::network! {
            $(#[$doc])*
            pub struct $name {
                let mfcc = Input(shape = (49, 10, 1));
                let x = Conv2D(16, (10, 4), strides = (2, 2), padding = "same", use_bias = false, name = "conv0")(mfcc);
                let x = BatchNormalization(name = "bn0")(x);
                let x = Activation(relu, name = "relu0")(x);
                let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw1")(x);
                let x = BatchNormalization(name = "bn_dw1")(x);
                let x = Activation(relu, name = "relu_dw1")(x);
                let x = Conv2D(16, (1, 1), use_bias = false, name = "pw1")(x);
                let x = BatchNormalization(name = "bn_pw1")(x);
                let x = Activation(relu, name = "relu_pw1")(x);
                let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw2")(x);
                let x = BatchNormalization(name = "bn_dw2")(x);
                let x = Activation(relu, name = "relu_dw2")(x);
                let x = Conv2D(16, (1, 1), use_bias = false, name = "pw2")(x);
                let x = BatchNormalization(name = "bn_pw2")(x);
                let x = Activation(relu, name = "relu_pw2")(x);
                let x = SeparableConv2D(16, (3, 3), padding = "same", activation = relu, name = "sep")(x);
                let x = GlobalAveragePooling2D(name = "gap")(x);
                let fc = Dense(12, activation = softmax, name = "fc")(x);
                Model(mfcc, fc);
                $($how)*
            }
        }
    };
}

kws_network! {
    /// The DS-CNN with TFLite's scales: batch normalizations folded into
    /// the convolutions and the activations fused, as TFLite's converter
    /// does.
    Kws {
        weights("tests/fixtures/int8_kws.weights.safetensors");
        quantize(int8, scales = "tests/fixtures/int8_kws.scales.safetensors");
    }
}

fn as_i64<const K: usize>(k: &[i8; K]) -> Vec<i64> {
    k.iter().map(|&v| i64::from(v)).collect()
}

#[test]
fn kws_quantized_weights_equal_tflites() {
    let f = ints("int8_kws");
    let m = KwsInt8::PRETRAINED;
    let kernels: [(&str, Vec<i64>, &[i32]); 8] = [
        ("conv0.kernel", as_i64(&m.conv0.kernel), &m.conv0.requant.bias),
        ("dw1.kernel", as_i64(&m.dw1.kernel), &m.dw1.requant.bias),
        ("pw1.kernel", as_i64(&m.pw1.kernel), &m.pw1.requant.bias),
        ("dw2.kernel", as_i64(&m.dw2.kernel), &m.dw2.requant.bias),
        ("pw2.kernel", as_i64(&m.pw2.kernel), &m.pw2.requant.bias),
        ("sep.depthwise_kernel", as_i64(&m.sep_depthwise.kernel), &m.sep_depthwise.requant.bias),
        ("sep.pointwise_kernel", as_i64(&m.sep_pointwise.kernel), &m.sep_pointwise.requant.bias),
        ("fc.kernel", flat_kernel(&m.fc.kernel), &m.fc.bias),
    ];
    let tensors = ["relu0", "relu_dw1", "relu_pw1", "relu_dw2", "relu_pw2", "sep.depthwise", "sep", "fc"];
    let mut wrong = Vec::new();
    for ((key, kernel, bias), tensor) in kernels.into_iter().zip(tensors) {
        let want = &f[&format!("tflite/{key}")].1;
        let off = kernel.iter().zip(want).filter(|(a, b)| a != b).count();
        let bias: Vec<i64> = bias.iter().map(|&b| i64::from(b)).collect();
        let want_bias = &f[&format!("tflite/{tensor}.bias")].1;
        let off_bias = bias.iter().zip(want_bias).filter(|(a, b)| a != b).count();
        if off + off_bias > 0 {
            wrong.push(format!(
                "{key}: {off} of {} weights, {off_bias} biases differ ({bias:?} vs {want_bias:?})",
                kernel.len()
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn kws_int8_outputs_equal_tflites_exactly() {
    let n = assert_equals_tflite(&ints("int8_kws"), |x| KwsInt8::PRETRAINED.forward_quantized(x));
    println!("{n} of {n} KWS inputs: int8 outputs equal TFLite's (BUILTIN_REF) exactly");
}

staticnet::network! {
    /// A small CNN with what the DS-CNN lacks (biases, relu6, max and
    /// average pooling with `same` padding, a depth multiplier, `Flatten`),
    /// with TFLite's scales.
    pub struct Pools {
        let image = Input(shape = (12, 12, 2));
        let x = Conv2D(6, (3, 3), padding = "same", activation = relu6, name = "conv")(image);
        let x = MaxPooling2D((2, 2), name = "max")(x);
        let x = DepthwiseConv2D((3, 3), depth_multiplier = 2, activation = relu, name = "dw")(x);
        let x = AveragePooling2D((2, 2), strides = (1, 1), padding = "same", name = "avg")(x);
        let x = Flatten(name = "flat")(x);
        let x = Dense(8, activation = relu6, name = "hidden")(x);
        let out = Dense(4, activation = softmax, name = "out")(x);
        Model(image, out);
        weights("tests/fixtures/int8_pools.weights.safetensors");
        quantize(int8, scales = "tests/fixtures/int8_pools.scales.safetensors");
    }
}

#[test]
fn pooling_cnn_int8_outputs_equal_tflites_exactly() {
    let f = ints("int8_pools");
    let m = PoolsInt8::PRETRAINED;
    assert_eq!(
        (as_i64(&m.conv.kernel), as_i64(&m.dw.kernel)),
        (f["tflite/conv.kernel"].1.clone(), f["tflite/dw.kernel"].1.clone())
    );
    assert_equals_tflite(&f, |x| m.forward_quantized(x));
}

kws_network! {
    /// The DS-CNN calibrated by staticnet (64 random inputs, as TFLite's
    /// converter was given), for the calibrated path of convolutions,
    /// folded normalizations and the mean.
    KwsCalibrated {
        weights("tests/fixtures/int8_kws.weights.safetensors");
        quantize(int8, calibration = "tests/fixtures/int8_kws_calibration.safetensors");
    }
}

#[test]
fn kws_own_calibration_agrees_with_tflites_and_with_f32() {
    // the same calibration inputs as TFLite's converter: the same
    // quantization, up to the last bit of a scale where f32 sums round
    // differently
    let (own, tflite) = (KwsCalibratedInt8::INPUT_QUANT, KwsInt8::INPUT_QUANT);
    assert!((own.scale - tflite.scale).abs() <= 1e-6 * tflite.scale && own.zero_point == tflite.zero_point);
    let (a, b) = (KwsCalibratedInt8::PRETRAINED, KwsInt8::PRETRAINED);
    assert_eq!((a.gap.output_zero_point, a.fc.output_zero_point), (b.gap.output_zero_point, b.fc.output_zero_point));
    // against the float model, on inputs like the calibration's
    let float = KwsCalibrated::<f32>::PRETRAINED;
    let mut worst = 0.0f32;
    for s in 0..16u64 {
        let x = SVector::<f32, 490>::from_fn(|i, _| {
            let u = staticnet::rng::uniform_at(s, 3, i as u64) as f32;
            let v = staticnet::rng::uniform_at(s, 4, i as u64) as f32;
            // Box–Muller: a standard normal
            (-2.0 * (1.0 - u).ln()).sqrt() * (core::f32::consts::TAU * v).cos()
        });
        let (p, q) = (float.forward(&x), a.forward(&x));
        worst = worst.max((p - q).abs().max());
    }
    println!("largest difference of a probability, int8 vs f32: {worst:.4}");
    assert!(worst <= 4.0 / 256.0, "{worst}");
}
