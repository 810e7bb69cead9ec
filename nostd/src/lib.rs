//! A `#![no_std]` static library with its own panic handler: if anything
//! linked `std`, the two panic handlers would collide and the build would
//! fail. It runs inference and a training step of a generated model with no
//! allocator. Build it with `cargo build --manifest-path nostd/Cargo.toml --release`.
#![no_std]

use staticnet::nalgebra::{SMatrix, SVector};

staticnet::network! {
    /// A small controller with two heads and every kind of layer.
    pub struct Controller {
        let sensors = Input(12);
        let h = Dense(16, activation = gelu)(sensors);
        let h = LayerNormalization()(h);
        let h = Dropout(0.1)(h);
        let g = Dense(16, activation = tanh)(sensors);
        let m = add([h, g]);
        let m = BatchNormalization()(m);
        let action = Dense(4, activation = softmax, name = "action")(m);
        let value = Dense(1, name = "value")(m);
        Model(sensors, [action, value]);
        compile(optimizer = Adam(learning_rate = 0.01), loss = [categorical_crossentropy, huber]);
    }
}

staticnet::network! {
    /// The digits classifier, weights baked in from the main example's training.
    pub struct Digits {
        let image = Input(64);
        let x = Dense(32, activation = relu)(image);
        let x = Dense(32, activation = relu)(x);
        let class = Dense(10, activation = softmax, name = "class")(x);
        Model(image, class);
        weights("../examples/digits.safetensors");
        quantize(int8, calibration = "../tests/fixtures/int8_digits_calibration.safetensors");
    }
}

staticnet::network! {
    /// A small convolutional model of 12×12 images and of a 3-channel signal.
    pub struct Vision {
        let image = Input(shape = (12, 12, 1));
        let x = Conv2D(8, 3, padding = "same", activation = relu)(image);
        let x = BatchNormalization()(x);
        let x = MaxPooling2D(2)(x);
        let x = DepthwiseConv2D(3, depth_multiplier = 2)(x);
        let x = SeparableConv2D(8, 3, padding = "same", activation = relu)(x);
        let x = GlobalAveragePooling2D()(x);
        let signal = Input(shape = (16, 3));
        let s = Conv1D(4, 3, padding = "causal", dilation_rate = 2, activation = relu)(signal);
        let s = AveragePooling1D(2)(s);
        let s = Flatten()(s);
        let both = concatenate([x, s]);
        let class = Dense(3, activation = softmax, name = "class")(both);
        Model([image, signal], class);
        compile(optimizer = adam, loss = categorical_crossentropy);
    }
}

/// In flash (read-only data): no constructor, no allocator.
static DIGITS: Digits<f32> = Digits::<f32>::PRETRAINED;

/// Classifies one 8×8 image of pixels in 0..=16.
#[no_mangle]
pub extern "C" fn staticnet_classify(pixels: &[f32; 64]) -> u32 {
    let image = SVector::<f32, 64>::from_fn(|i, _| pixels[i] / 16.0);
    DIGITS.forward(&image).argmax().0 as u32
}

/// The same classifier in int8 (TFLite's arithmetic), also in flash.
static DIGITS_INT8: DigitsInt8 = DigitsInt8::PRETRAINED;

/// Classifies one 8×8 image of pixels in 0..=16 with the int8 model.
#[no_mangle]
pub extern "C" fn staticnet_classify_int8(pixels: &[f32; 64]) -> u32 {
    let image = SVector::<f32, 64>::from_fn(|i, _| pixels[i] / 16.0);
    DIGITS_INT8.forward(&image).argmax().0 as u32
}

/// Runs one forward pass and `steps` training steps; returns the last loss.
#[no_mangle]
pub extern "C" fn staticnet_train_demo(seed: u64, steps: u32) -> f32 {
    let mut model = Controller::<f32>::new(seed);
    let mut optimizer = Controller::<f32>::optimizer();
    let x = SMatrix::<f32, 12, 8>::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f32 / 7.0 - 0.5);
    let action = SMatrix::<f32, 4, 8>::from_fn(|i, j| if i == j % 4 { 1.0 } else { 0.0 });
    let value = SMatrix::<f32, 1, 8>::from_fn(|_, j| j as f32 / 8.0);
    let mut last = 0.0;
    for _ in 0..steps {
        last = model.train_step::<8>(&mut optimizer, &x, &action, &value).total;
    }
    let out = model.forward(&SVector::<f32, 12>::repeat(0.1));
    last + out.action[0] * 0.0
}

/// Classifies one image and signal with a convolutional model, after
/// `steps` training steps on a batch of 4; returns the class.
#[no_mangle]
pub extern "C" fn staticnet_vision_demo(seed: u64, steps: u32) -> u32 {
    let mut model = Vision::<f32>::new(seed);
    let mut optimizer = Vision::<f32>::optimizer();
    let images = SMatrix::<f32, 144, 4>::from_fn(|i, j| ((i * 7 + j * 13) % 11) as f32 / 11.0);
    let signals = SMatrix::<f32, 48, 4>::from_fn(|i, j| ((i * 3 + j) % 5) as f32 / 5.0 - 0.4);
    let classes = SMatrix::<f32, 3, 4>::from_fn(|i, j| if i == j % 3 { 1.0 } else { 0.0 });
    for _ in 0..steps {
        model.train_step::<4>(&mut optimizer, &images, &signals, &classes);
    }
    let one = model.forward(&SVector::<f32, 144>::repeat(0.5), &SVector::<f32, 48>::repeat(0.1));
    one.argmax().0 as u32
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
