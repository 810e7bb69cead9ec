//! The digits classifier in int8: the weights of examples/digits.safetensors
//! quantized at compile time with TFLite's scheme, calibrated on 300
//! training images; test accuracy and size against f32.
//!
//! cargo run --release --example digits_int8
mod common;

use staticnet::nalgebra::SVector;

staticnet::network! {
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

/// Both in read-only memory.
static FLOAT: Digits<f32> = Digits::<f32>::PRETRAINED;
static INT8: DigitsInt8 = DigitsInt8::PRETRAINED;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = common::load_digits()?;
    let (_, test) = data.split(7);
    let (mut right_f32, mut right_int8, mut agree) = (0, 0, 0);
    for &i in &test {
        let x = SVector::<f32, 64>::from_iterator(data.pixels[i].iter().map(|&p| p / 16.0));
        let label = usize::from(data.labels[i]);
        let (a, b) = (FLOAT.forward(&x).argmax().0, INT8.forward(&x).argmax().0);
        right_f32 += usize::from(a == label);
        right_int8 += usize::from(b == label);
        agree += usize::from(a == b);
    }
    let n = test.len() as f64;
    println!("{} test images", test.len());
    println!(
        "f32:  {:.2}% test accuracy, {} bytes of parameters",
        right_f32 as f64 / n * 100.0,
        size_of::<Digits<f32>>()
    );
    println!(
        "int8: {:.2}% test accuracy, {} bytes (int8 weights, int32 biases, f64 requantization scales)",
        right_int8 as f64 / n * 100.0,
        size_of::<DigitsInt8>()
    );
    println!("the two agree on {agree} of {} images", test.len());
    let q = DigitsInt8::INPUT_QUANT;
    println!("input quantization: scale {} zero point {}", q.scale, q.zero_point);
    Ok(())
}
