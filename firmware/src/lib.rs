//! The models the firmware runs, their inputs and what they print, shared
//! by the firmware (`src/main.rs`, on a Cortex-M in QEMU) and by the host's
//! reference (`host/`, the same code compiled for the PC), so that the two
//! outputs can be compared number for number.
//!
//! Each model is a [`Case`]: the firmware calls [`Case::run`] once per
//! input, measuring the stack and the instructions of that call. Mutable
//! state (a model being trained, a stream's state) lives in a `static`, so
//! it counts as static RAM, not as the call's stack. A case is compiled in
//! by its feature (`digits`, `train`, `train-tiny`, `gru`, `vision`, `vision-train`,
//! `sine`, `speech`, `mf-sine`, `mf-speech`); `baseline` makes every `run`
//! skip the model, for the fixed costs that `measure.sh` subtracts.
#![no_std]

#[allow(unused_imports)]
use staticnet::nalgebra::{SMatrix, SVector};

/// One model and its inputs.
pub trait Case {
    /// Its name in the printed lines.
    const NAME: &'static str;
    /// One label per input, in order.
    const LABELS: &'static [&'static str];
    /// What one call takes.
    type In;
    /// What one call returns.
    type Out: Values;
    /// Prepares the case's state (a model to train, a stream's state);
    /// called once before the first input.
    fn setup() {}
    /// The `i`th input.
    fn input(i: usize) -> Self::In;
    /// The measured call: inference, a training step or a stream's step.
    fn run(x: &Self::In) -> Self::Out;
    /// The same call with the model left out (the `baseline` feature).
    fn baseline(x: &Self::In) -> Self::Out;
    /// The numbers to print and compare.
    fn values(y: &Self::Out) -> &[f32] {
        y.values()
    }
}

/// An output's numbers, in order.
pub trait Values {
    /// The numbers to print and compare.
    fn values(&self) -> &[f32];
}

impl<const R: usize, const C: usize> Values for SMatrix<f32, R, C> {
    fn values(&self) -> &[f32] {
        self.as_slice()
    }
}

impl<const N: usize> Values for [f32; N] {
    fn values(&self) -> &[f32] {
        self
    }
}

/// MicroFlow's outputs: matrices of the nalgebra it names (0.32).
#[cfg(any(feature = "mf-sine", feature = "mf-speech"))]
impl<const R: usize, const C: usize> Values for nalgebra::SMatrix<f32, R, C> {
    fn values(&self) -> &[f32] {
        self.as_slice()
    }
}

/// A mutable `static` for a case's state: one core, no interrupts touch it.
/// All zero bytes until set, so it sits in .bss (an `Option` of a model
/// and its optimizer need not be, and would then take flash for .data too).
pub struct Slot<T> {
    set: core::cell::Cell<bool>,
    value: core::cell::UnsafeCell<core::mem::MaybeUninit<T>>,
}

// SAFETY: the firmware is single-threaded and no interrupt handler uses a
// slot; the host reference runs the cases on one thread.
unsafe impl<T> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// Empty.
    pub const fn new() -> Self {
        Slot { set: core::cell::Cell::new(false), value: core::cell::UnsafeCell::new(core::mem::MaybeUninit::uninit()) }
    }
    /// Puts `value` in (a value already there is not dropped: the cases'
    /// values need no drop).
    pub fn set(&self, value: T) {
        // SAFETY: see `Sync`: nothing else holds a reference now.
        unsafe { (*self.value.get()).write(value) };
        self.set.set(true);
    }
    /// The value, which `set` must have put in.
    #[allow(clippy::mut_from_ref)]
    pub fn get(&self) -> &mut T {
        assert!(self.set.get(), "slot not set");
        // SAFETY: set, and see `Sync`; each case takes one reference at a time.
        unsafe { (*self.value.get()).assume_init_mut() }
    }
}

/// A model being trained on the device and its Adam state.
#[cfg(any(feature = "train", feature = "train-tiny", feature = "vision-train"))]
pub type Trainer<M> = (M, staticnet::Adam<f32, M>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The seed's digit classifier (Dense 64→32 relu→32 relu→10 softmax) with
/// the weights the main example trained (`examples/digits.safetensors`)
/// baked in: `DIGITS` sits in flash.
#[cfg(feature = "digits")]
pub mod digits {
    use super::*;

    staticnet::network! {
        /// The digits classifier, weights baked in from the main example's training.
        pub struct Digits {
            let image = Input(64);
            let x = Dense(32, activation = relu)(image);
            let x = Dense(32, activation = relu)(x);
            let class = Dense(10, activation = softmax, name = "class")(x);
            Model(image, class);
            weights("../examples/digits.safetensors");
        }
    }

    /// In read-only memory: no constructor runs.
    pub static DIGITS: Digits<f32> = Digits::<f32>::PRETRAINED;

    /// The first four images of the UCI digits (data/digits.csv.gz), 0 to 3.
    const IMAGES: [[u8; 64]; 4] = [
        [
            0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4, 12, 0, 0, 8, 8, 0, 0,
            5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10, 12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0,
        ],
        [
            0, 0, 0, 12, 13, 5, 0, 0, 0, 0, 0, 11, 16, 9, 0, 0, 0, 0, 3, 15, 16, 6, 0, 0, 0, 7, 15, 16, 16, 2, 0, 0, 0,
            0, 1, 16, 16, 3, 0, 0, 0, 0, 1, 16, 16, 6, 0, 0, 0, 0, 1, 16, 16, 6, 0, 0, 0, 0, 0, 11, 16, 10, 0, 0,
        ],
        [
            0, 0, 0, 4, 15, 12, 0, 0, 0, 0, 3, 16, 15, 14, 0, 0, 0, 0, 8, 13, 8, 16, 0, 0, 0, 0, 1, 6, 15, 11, 0, 0, 0,
            1, 8, 13, 15, 1, 0, 0, 0, 9, 16, 16, 5, 0, 0, 0, 0, 3, 13, 16, 16, 11, 5, 0, 0, 0, 0, 3, 11, 16, 9, 0,
        ],
        [
            0, 0, 7, 15, 13, 1, 0, 0, 0, 8, 13, 6, 15, 4, 0, 0, 0, 2, 1, 13, 13, 0, 0, 0, 0, 0, 2, 15, 11, 1, 0, 0, 0,
            0, 0, 1, 12, 12, 1, 0, 0, 0, 0, 0, 1, 10, 8, 0, 0, 0, 8, 4, 5, 14, 9, 0, 0, 0, 7, 13, 13, 9, 0, 0,
        ],
    ];

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "digits";
        const LABELS: &'static [&'static str] = &["0", "1", "2", "3"];
        type In = SVector<f32, 64>;
        type Out = SVector<f32, 10>;
        fn input(i: usize) -> Self::In {
            SVector::from_fn(|p, _| f32::from(IMAGES[i][p]) / 16.0)
        }
        fn run(x: &Self::In) -> Self::Out {
            DIGITS.forward(x)
        }
        fn baseline(x: &Self::In) -> Self::Out {
            x.fixed_rows::<10>(0).into_owned()
        }
    }
}

/// Training on the device: the two-headed controller of `nostd/` (Dense
/// with gelu, LayerNormalization, Dropout, tanh, add, BatchNormalization, a
/// softmax head with cross-entropy and a linear head with Huber loss),
/// built by `new(seed)` on the device and trained with Adam, one
/// `train_step` on a batch of 8 per input. Prints the losses of each step.
#[cfg(feature = "train")]
pub mod train {
    use super::*;

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

    /// The model and its optimizer, in RAM.
    pub static STATE: Slot<Trainer<Controller<f32>>> = Slot::new();

    /// A batch of 8: inputs, one-hot actions, values.
    pub struct Batch {
        x: SMatrix<f32, 12, 8>,
        action: SMatrix<f32, 4, 8>,
        value: SMatrix<f32, 1, 8>,
    }

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "train";
        const LABELS: &'static [&'static str] = &["s0", "s1", "s2", "s3"];
        type In = Batch;
        type Out = [f32; 3];
        fn setup() {
            STATE.set((Controller::<f32>::new(7), Controller::<f32>::optimizer()));
        }
        fn input(_: usize) -> Batch {
            Batch {
                x: SMatrix::from_fn(|i, j| ((i * 5 + j * 3) % 7) as f32 / 7.0 - 0.5),
                action: SMatrix::from_fn(|i, j| if i == j % 4 { 1.0 } else { 0.0 }),
                value: SMatrix::from_fn(|_, j| j as f32 / 8.0),
            }
        }
        fn run(b: &Batch) -> [f32; 3] {
            let (model, optimizer) = STATE.get();
            let l = model.train_step::<8>(optimizer, &b.x, &b.action, &b.value);
            [l.total, l.action, l.value]
        }
        fn baseline(b: &Batch) -> [f32; 3] {
            [b.x[0], b.action[0], b.value[0]]
        }
    }
}

/// Training on a Cortex-M0 with 16 KiB of RAM: a 1→16 tanh→1 regression
/// learning `sin` on the device, from `new(seed)`, with Adam on batches of
/// 8. Prints the loss of each step.
#[cfg(feature = "train-tiny")]
pub mod train_tiny {
    use super::*;

    staticnet::network! {
        /// y ≈ sin(x).
        pub struct Wave {
            let x = Input(1);
            let h = Dense(16, activation = tanh)(x);
            let y = Dense(1)(h);
            Model(x, y);
            compile(optimizer = Adam(learning_rate = 0.02), loss = mse);
        }
    }

    /// The model and its optimizer, in RAM.
    pub static STATE: Slot<Trainer<Wave<f32>>> = Slot::new();

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "train-tiny";
        const LABELS: &'static [&'static str] = &["s0", "s1", "s2", "s3", "s4", "s5"];
        type In = (SMatrix<f32, 1, 8>, SMatrix<f32, 1, 8>);
        type Out = [f32; 1];
        fn setup() {
            STATE.set((Wave::<f32>::new(3), Wave::<f32>::optimizer()));
        }
        fn input(i: usize) -> Self::In {
            let x = SMatrix::from_fn(|_, j| ((i * 8 + j) * 29 % 64) as f32 / 64.0 * 6.2831855);
            (x, x.map(libm::sinf))
        }
        fn run((x, y): &Self::In) -> [f32; 1] {
            let (model, optimizer) = STATE.get();
            [model.train_step::<8>(optimizer, x, y).total]
        }
        fn baseline((x, _): &Self::In) -> [f32; 1] {
            [x[0]]
        }
    }
}

/// Streaming: a GRU (16 units) and a per-step Dense, whose steps have no
/// length (`Input(shape = (None, 1))`), run one sample per `step()` call
/// with its state in RAM. The weights (`models/effect.safetensors`) were
/// trained on the host to imitate a low-pass filter and a soft clipper
/// (`cargo run -p staticnet-firmware-host --bin weights`).
#[cfg(feature = "gru")]
pub mod gru {
    use super::*;

    staticnet::network! {
        /// An audio effect, one sample at a time.
        pub struct Effect {
            let audio = Input(shape = (None, 1));
            let h = GRU(16, return_sequences = true, name = "gru")(audio);
            let out = Dense(1, name = "out")(h);
            Model(audio, out);
            weights("models/effect.safetensors");
        }
    }

    /// The weights, in flash.
    pub static EFFECT: Effect<f32> = Effect::<f32>::PRETRAINED;
    /// The stream's state, in RAM.
    pub static STATE: Slot<EffectState<f32>> = Slot::new();

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "gru";
        const LABELS: &'static [&'static str] = &["t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7"];
        type In = SVector<f32, 1>;
        type Out = SVector<f32, 1>;
        fn setup() {
            STATE.set(EffectState::default());
        }
        fn input(i: usize) -> Self::In {
            // a burst of a sine at an eighth of the sample rate
            const X: [f32; 8] = [0.0, 0.5657, 0.8, 0.5657, 0.0, -0.5657, -0.8, -0.5657];
            SVector::from([X[i]])
        }
        fn run(x: &Self::In) -> Self::Out {
            EFFECT.step(STATE.get(), x)
        }
        fn baseline(x: &Self::In) -> Self::Out {
            *x
        }
    }
}

/// The convolutional model of `nostd/` (Conv2D, BatchNormalization,
/// MaxPooling2D, DepthwiseConv2D, SeparableConv2D, GlobalAveragePooling2D
/// on a 12×12 image; a causal dilated Conv1D, AveragePooling1D and Flatten
/// on a 16×3 signal; concatenate; softmax) with baked weights
/// (`models/vision.safetensors`, written by the host's `weights` binary).
#[cfg(any(feature = "vision", feature = "vision-train"))]
pub mod vision {
    use super::*;

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
            weights("models/vision.safetensors");
        }
    }

    /// Images and signals, `B` of each.
    pub struct Batch<const B: usize> {
        images: SMatrix<f32, 144, B>,
        signals: SMatrix<f32, 48, B>,
        classes: SMatrix<f32, 3, B>,
    }

    fn batch<const B: usize>(salt: usize) -> Batch<B> {
        Batch {
            images: SMatrix::from_fn(|i, j| ((i * 7 + (j + salt) * 13) % 11) as f32 / 11.0),
            signals: SMatrix::from_fn(|i, j| ((i * 3 + j + salt) % 5) as f32 / 5.0 - 0.4),
            classes: SMatrix::from_fn(|i, j| if i == (j + salt) % 3 { 1.0 } else { 0.0 }),
        }
    }

    /// Inference with the weights in flash.
    #[cfg(feature = "vision")]
    pub mod infer {
        use super::*;

        /// In read-only memory.
        pub static VISION: Vision<f32> = Vision::<f32>::PRETRAINED;

        /// The case.
        pub struct Case;

        impl crate::Case for Case {
            const NAME: &'static str = "vision";
            const LABELS: &'static [&'static str] = &["a", "b"];
            type In = Batch<1>;
            type Out = SVector<f32, 3>;
            fn input(i: usize) -> Batch<1> {
                batch(i)
            }
            fn run(b: &Batch<1>) -> Self::Out {
                VISION.forward(&b.images, &b.signals)
            }
            fn baseline(b: &Batch<1>) -> Self::Out {
                b.classes
            }
        }
    }

    /// Fine-tuning on the device: the baked weights copied to RAM, then
    /// Adam steps on a batch of 4.
    #[cfg(feature = "vision-train")]
    pub mod train {
        use super::*;

        /// The model and its optimizer, in RAM.
        pub static STATE: Slot<Trainer<Vision<f32>>> = Slot::new();

        /// The case.
        pub struct Case;

        impl crate::Case for Case {
            const NAME: &'static str = "vision-train";
            const LABELS: &'static [&'static str] = &["s0", "s1", "s2"];
            type In = Batch<4>;
            type Out = [f32; 1];
            fn setup() {
                STATE.set((Vision::<f32>::PRETRAINED, Vision::<f32>::optimizer()));
            }
            fn input(_: usize) -> Batch<4> {
                batch(0)
            }
            fn run(b: &Batch<4>) -> [f32; 1] {
                let (model, optimizer) = STATE.get();
                [model.train_step::<4>(optimizer, &b.images, &b.signals, &b.classes).total]
            }
            fn baseline(b: &Batch<4>) -> [f32; 1] {
                [b.images[0]]
            }
        }
    }
}

/// The inputs of MicroFlow's sine model (its host test uses 0.5).
#[cfg(any(feature = "sine", feature = "sine-int8", feature = "mf-sine"))]
const SINE_INPUTS: [f32; 4] = [0.5, 1.0, 2.0, 4.0];
#[cfg(any(feature = "sine", feature = "sine-int8", feature = "mf-sine"))]
const SINE_LABELS: &[&str] = &["0.5", "1.0", "2.0", "4.0"];

/// MicroFlow's `sine` example model (Dense 1→16 relu→16 relu→1, its int8
/// weights dequantized by tools/tflite_to_safetensors.py into
/// `models/sine.safetensors`) as `$name`, `$more` ending its text (int8's
/// `quantize`), and the case `$case` that runs the module's `SINE`.
#[allow(unused_macros)]
macro_rules! sine_case {
    ($case:literal, $(#[$doc:meta])* $name:ident { $($more:tt)* }) => {
        staticnet::network! {
            $(#[$doc])*
            pub struct $name {
                let x = Input(1);
                let h = Dense(16, activation = relu)(x);
                let h = Dense(16, activation = relu)(h);
                let y = Dense(1)(h);
                Model(x, y);
                weights("models/sine.safetensors");
                $($more)*
            }
        }

        /// The case.
        pub struct Case;

        impl super::Case for Case {
            const NAME: &'static str = $case;
            const LABELS: &'static [&'static str] = SINE_LABELS;
            type In = SVector<f32, 1>;
            type Out = SVector<f32, 1>;
            fn input(i: usize) -> Self::In {
                SVector::from([SINE_INPUTS[i]])
            }
            fn run(x: &Self::In) -> Self::Out {
                SINE.forward(x)
            }
            fn baseline(x: &Self::In) -> Self::Out {
                *x
            }
        }
    };
}

/// MicroFlow's `speech` example model (micro_speech: a 10×8 depthwise
/// convolution with stride 2 and 8 filters, relu, Dense 4000→4, softmax;
/// its int8 weights dequantized into `models/speech.safetensors`) as
/// `$name`, `$more` ending its text (int8's `quantize`), and the case
/// `$case` that runs the module's `SPEECH`.
#[allow(unused_macros)]
macro_rules! speech_case {
    ($case:literal, $(#[$doc:meta])* $name:ident { $($more:tt)* }) => {
        staticnet::network! {
            $(#[$doc])*
            pub struct $name {
                let frames = Input(1960);
                let x = Reshape((49, 40, 1))(frames);
                let x = DepthwiseConv2D((10, 8), strides = 2, padding = "same", depth_multiplier = 8, activation = relu)(x);
                let x = Flatten()(x);
                let y = Dense(4, activation = softmax)(x);
                Model(frames, y);
                weights("models/speech.safetensors");
                $($more)*
            }
        }

        /// The case.
        pub struct Case;

        impl super::Case for Case {
            const NAME: &'static str = $case;
            const LABELS: &'static [&'static str] = SPEECH_LABELS;
            type In = SVector<f32, 1960>;
            type Out = SVector<f32, 4>;
            fn input(i: usize) -> Self::In {
                SVector::from_fn(|at, _| speech_input(i, at))
            }
            fn run(x: &Self::In) -> Self::Out {
                SPEECH.forward(x)
            }
            fn baseline(x: &Self::In) -> Self::Out {
                x.fixed_rows::<4>(0).into_owned()
            }
        }
    };
}

/// MicroFlow's `sine` example model (Dense 1→16 relu→16 relu→1) in f32,
/// with its int8 weights dequantized by tools/tflite_to_safetensors.py.
#[cfg(feature = "sine")]
pub mod sine {
    use super::*;

    sine_case! {
        "sine",
        /// y ≈ sin(x) for x in [0, 2π].
        Sine {}
    }

    /// In read-only memory.
    pub static SINE: Sine<f32> = Sine::<f32>::PRETRAINED;
}

/// The speech inputs: 1960 values (49 frames of 40 features), all 0.5 as
/// in MicroFlow's host test, and a deterministic pattern in [0, 26), the
/// range of the int8 model's input.
#[cfg(any(feature = "speech", feature = "speech-int8", feature = "mf-speech"))]
pub fn speech_input(i: usize, at: usize) -> f32 {
    if i == 0 {
        0.5
    } else {
        ((at * 37) % 101) as f32 / 101.0 * 26.0
    }
}
#[cfg(any(feature = "speech", feature = "speech-int8", feature = "mf-speech"))]
const SPEECH_LABELS: &[&str] = &["half", "pattern"];

/// MicroFlow's `speech` example model (micro_speech: a 10×8 depthwise
/// convolution with stride 2 and 8 filters, relu, Dense 4000→4, softmax) in
/// f32, with its int8 weights dequantized by tools/tflite_to_safetensors.py.
#[cfg(feature = "speech")]
pub mod speech {
    use super::*;

    speech_case! {
        "speech",
        /// "silence", "unknown", "yes", "no" from 49 frames of 40 features.
        Speech {}
    }

    /// In read-only memory.
    pub static SPEECH: Speech<f32> = Speech::<f32>::PRETRAINED;
}

/// MicroFlow's sine model in staticnet's int8 (`quantize(int8, scales =
/// …)`), on TFLite's own scales read out of `sine.tflite`
/// (`models/sine_scales.safetensors`, tools/tflite_to_safetensors.py): the
/// weights requantized with them are the file's int8 weights.
#[cfg(feature = "sine-int8")]
pub mod sine_int8 {
    use super::*;

    sine_case! {
        "sine-int8",
        /// y ≈ sin(x), in int8.
        Sine8 {
            quantize(int8, scales = "models/sine_scales.safetensors");
        }
    }

    /// In read-only memory.
    pub static SINE: Sine8Int8 = Sine8Int8::PRETRAINED;
}

/// MicroFlow's speech model in staticnet's int8, on TFLite's scales
/// (`models/speech_scales.safetensors`).
#[cfg(feature = "speech-int8")]
pub mod speech_int8 {
    use super::*;

    speech_case! {
        "speech-int8",
        /// "silence", "unknown", "yes", "no", in int8.
        Speech8 {
            quantize(int8, scales = "models/speech_scales.safetensors");
        }
    }

    /// In read-only memory.
    pub static SPEECH: Speech8Int8 = Speech8Int8::PRETRAINED;
}

/// MicroFlow 0.1.3 itself on its `sine.tflite` (int8), for the comparison.
#[cfg(feature = "mf-sine")]
pub mod mf_sine {
    use super::*;
    use microflow::model;
    use nalgebra::{matrix, SMatrix};

    #[model("models/sine.tflite")]
    struct Sine;

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "mf-sine";
        const LABELS: &'static [&'static str] = SINE_LABELS;
        type In = f32;
        type Out = SMatrix<f32, 1, 1>;
        fn input(i: usize) -> f32 {
            SINE_INPUTS[i]
        }
        fn run(x: &f32) -> Self::Out {
            Sine::predict(matrix![*x])
        }
        fn baseline(x: &f32) -> Self::Out {
            matrix![*x]
        }
    }
}

/// MicroFlow 0.1.3 itself on its `speech.tflite` (int8), for the comparison.
#[cfg(feature = "mf-speech")]
pub mod mf_speech {
    use super::*;
    use microflow::buffer::Buffer2D;
    use microflow::model;

    #[model("models/speech.tflite")]
    struct Speech;

    /// The case.
    pub struct Case;

    impl super::Case for Case {
        const NAME: &'static str = "mf-speech";
        const LABELS: &'static [&'static str] = SPEECH_LABELS;
        type In = Buffer2D<f32, 1, 1960>;
        type Out = Buffer2D<f32, 1, 4>;
        fn input(i: usize) -> Self::In {
            Buffer2D::from_fn(|_, at| speech_input(i, at))
        }
        fn run(x: &Self::In) -> Self::Out {
            Speech::predict(*x)
        }
        fn baseline(x: &Self::In) -> Self::Out {
            Buffer2D::from_element(x[0])
        }
    }
}

/// What is done with each case.
pub trait Visit {
    /// Called once per case, in a fixed order.
    fn visit<C: Case>(&mut self);
}

/// Visits every case compiled in.
pub fn for_each_case(v: &mut impl Visit) {
    #[cfg(feature = "digits")]
    v.visit::<digits::Case>();
    #[cfg(feature = "train")]
    v.visit::<train::Case>();
    #[cfg(feature = "train-tiny")]
    v.visit::<train_tiny::Case>();
    #[cfg(feature = "gru")]
    v.visit::<gru::Case>();
    #[cfg(feature = "vision")]
    v.visit::<vision::infer::Case>();
    #[cfg(feature = "vision-train")]
    v.visit::<vision::train::Case>();
    #[cfg(feature = "sine")]
    v.visit::<sine::Case>();
    #[cfg(feature = "speech")]
    v.visit::<speech::Case>();
    #[cfg(feature = "sine-int8")]
    v.visit::<sine_int8::Case>();
    #[cfg(feature = "speech-int8")]
    v.visit::<speech_int8::Case>();
    #[cfg(feature = "mf-sine")]
    v.visit::<mf_sine::Case>();
    #[cfg(feature = "mf-speech")]
    v.visit::<mf_speech::Case>();
    let _ = v;
}

/// Whether `run` is to skip the model (the `baseline` feature).
pub const BASELINE: bool = cfg!(feature = "baseline");
