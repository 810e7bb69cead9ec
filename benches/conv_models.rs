//! The convolutional anchors, ours and theirs in one run: the keyword-
//! spotting DS-CNN (anchor A of ../shared/anchors/litert: 49×10 MFCCs,
//! 2.66M multiply-adds) and the Conv1D sensor model (anchor B), with the
//! weights `benches/keras_conv_baseline.py` draws, against
//! - LiteRT with XNNPACK on one thread and `jax.jit`, batch 1 (µs per call),
//! - Keras `fit` on JAX, batch 64 (samples/s), adam, sparse categorical
//!   cross-entropy on random data.
//!
//! ```sh
//! cargo bench --bench conv_models            # both models, Python baselines included
//! QUICK=1 cargo bench --bench conv_models    # fewer rounds and epochs
//! NO_PYTHON=1 cargo bench --bench conv_models  # ours only
//! ```
//! The Python side needs `pip install keras jax tensorflow ai-edge-litert`;
//! without it (or with `NO_PYTHON`) only our figures are printed, with
//! seeded weights instead of the baseline's.
mod common;

use common::race;
use staticnet::nalgebra::{Const, Dyn, OMatrix, SVector};
use staticnet::{fit, FitOptions, Network};
use std::process::Command;
use std::time::Instant;

staticnet::network! {
    /// Anchor A: the keyword-spotting depthwise-separable CNN.
    pub struct Kws {
        let mfcc = Input(shape = (49, 10, 1));
        let x = Conv2D(64, (10, 4), strides = (2, 2), padding = "same", name = "conv0")(mfcc);
        let x = BatchNormalization(name = "bn0")(x);
        let x = Activation(relu, name = "relu0")(x);
        let x = DepthwiseConv2D((3, 3), padding = "same", name = "dw1")(x);
        let x = BatchNormalization(name = "bn_dw1")(x);
        let x = Activation(relu, name = "relu_dw1")(x);
        let x = Conv2D(64, (1, 1), name = "pw1")(x);
        let x = BatchNormalization(name = "bn_pw1")(x);
        let x = Activation(relu, name = "relu_pw1")(x);
        let x = DepthwiseConv2D((3, 3), padding = "same", name = "dw2")(x);
        let x = BatchNormalization(name = "bn_dw2")(x);
        let x = Activation(relu, name = "relu_dw2")(x);
        let x = Conv2D(64, (1, 1), name = "pw2")(x);
        let x = BatchNormalization(name = "bn_pw2")(x);
        let x = Activation(relu, name = "relu_pw2")(x);
        let x = DepthwiseConv2D((3, 3), padding = "same", name = "dw3")(x);
        let x = BatchNormalization(name = "bn_dw3")(x);
        let x = Activation(relu, name = "relu_dw3")(x);
        let x = Conv2D(64, (1, 1), name = "pw3")(x);
        let x = BatchNormalization(name = "bn_pw3")(x);
        let x = Activation(relu, name = "relu_pw3")(x);
        let x = DepthwiseConv2D((3, 3), padding = "same", name = "dw4")(x);
        let x = BatchNormalization(name = "bn_dw4")(x);
        let x = Activation(relu, name = "relu_dw4")(x);
        let x = Conv2D(64, (1, 1), name = "pw4")(x);
        let x = BatchNormalization(name = "bn_pw4")(x);
        let x = Activation(relu, name = "relu_pw4")(x);
        let x = GlobalAveragePooling2D(name = "gap")(x);
        let fc = Dense(12, activation = softmax, name = "fc")(x);
        Model(mfcc, fc);
        compile(optimizer = adam, loss = sparse_categorical_crossentropy);
    }
}

staticnet::network! {
    /// Anchor B: a Conv1D model of an inertial sensor.
    pub struct Sensor {
        let imu = Input(shape = (128, 3));
        let x = Conv1D(16, 5, padding = "causal", activation = relu, name = "c1")(imu);
        let x = Conv1D(16, 5, strides = 2, padding = "same", activation = relu, name = "c2")(x);
        let x = MaxPooling1D(2, name = "pool")(x);
        let x = Conv1D(32, 3, activation = relu, name = "c3")(x);
        let x = GlobalAveragePooling1D(name = "gap")(x);
        let fc = Dense(6, activation = softmax, name = "fc")(x);
        Model(imu, fc);
        compile(optimizer = adam, loss = sparse_categorical_crossentropy);
    }
}

/// What the Python baseline measured, when it ran.
struct Baseline {
    json: serde_json::Value,
}

impl Baseline {
    /// Runs `benches/keras_conv_baseline.py` for `model`, writing its
    /// weights and a reference output under target/bench.
    fn run(model: &str, quick: bool) -> Option<Baseline> {
        if std::env::var_os("NO_PYTHON").is_some() {
            return None;
        }
        std::fs::create_dir_all("target/bench").ok()?;
        let mut cmd = Command::new("python3");
        cmd.arg("benches/keras_conv_baseline.py").arg("--model").arg(model);
        cmd.arg("--weights").arg(format!("target/bench/{model}.safetensors"));
        cmd.arg("--reference").arg(format!("target/bench/{model}_ref.safetensors"));
        if quick {
            cmd.arg("--quick");
        }
        eprintln!("running the Python baseline for {model} (LiteRT, jax.jit, Keras fit)…");
        let out = match cmd.output() {
            Ok(out) if out.status.success() => out,
            Ok(out) => {
                eprintln!("the baseline failed:\n{}", String::from_utf8_lossy(&out.stderr));
                return None;
            }
            Err(e) => {
                eprintln!("no python3 ({e}): our figures only");
                return None;
            }
        };
        serde_json::from_slice(&out.stdout).ok().map(|json| Baseline { json })
    }

    fn get(&self, path: &[&str]) -> Option<f64> {
        let mut v = &self.json;
        for p in path {
            v = v.get(p)?;
        }
        v.as_f64()
    }
}

/// Our figures for one model.
struct Ours {
    one_min_us: f64,
    one_median_us: f64,
    fit_samples_per_s: f64,
}

/// Random inputs and class labels for `fit`.
fn fit_data<const SIZE: usize>(
    samples: usize,
    classes: usize,
) -> (OMatrix<f32, Const<SIZE>, Dyn>, OMatrix<f32, Const<1>, Dyn>) {
    let x = OMatrix::<f32, Const<SIZE>, Dyn>::from_fn(samples, |i, j| (((i + 7 * j) * 31 % 97) as f32) / 48.0 - 1.0);
    let y = OMatrix::<f32, Const<1>, Dyn>::from_fn(samples, |_, j| (j % classes) as f32);
    (x, y)
}

/// Times `forward` on one sample, and `fit` at batch 64 (`fit_epochs(n)`
/// trains `n` epochs; one is run first, untimed, as Keras's first epoch
/// compiles).
fn measure(mut forward: impl FnMut(), mut fit_epochs: impl FnMut(usize), samples: usize, epochs: usize) -> Ours {
    let t = race(vec![&mut forward]);
    fit_epochs(1);
    let start = Instant::now();
    fit_epochs(epochs);
    let fit_samples_per_s = (samples * epochs) as f64 / start.elapsed().as_secs_f64();
    Ours { one_min_us: t[0].min * 1e6, one_median_us: t[0].median * 1e6, fit_samples_per_s }
}

/// `fit` options for a timed run: batch 64, silent.
fn options<M: staticnet::Data<f32>>(epochs: usize) -> FitOptions<'static, f32, M> {
    FitOptions::new().epochs(epochs).batch_size(64).verbose(0)
}

/// Loads the baseline's weights and checks our output against Keras's.
fn load_checked<M: Network<f32>>(model: &str, forward_first: impl Fn(&M, &[f32]) -> Vec<f32>) -> Option<M> {
    let weights = std::fs::read(format!("target/bench/{model}.safetensors")).ok()?;
    let loaded = M::from_safetensors_checked(&weights);
    let reference = std::fs::read(format!("target/bench/{model}_ref.safetensors")).ok()?;
    let st = safetensors::SafeTensors::deserialize(&reference).ok()?;
    let floats = |name: &str| -> Vec<f32> {
        st.tensor(name)
            .map(|t| t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
            .unwrap_or_default()
    };
    let input = st.names().into_iter().find(|n| n.starts_with("input/")).map(floats)?;
    let want = st.names().into_iter().find(|n| n.starts_with("expect/output/")).map(floats)?;
    let got = forward_first(&loaded, &input);
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("  {model}: the baseline's weights loaded; max |ours − Keras| on its reference input = {diff:.2e}");
    assert!(diff < 1e-4, "{model}: outputs differ from Keras's by {diff}");
    Some(loaded)
}

/// `from_safetensors` through the trait, for any generated model.
trait FromSafetensors: Sized {
    fn from_safetensors_checked(bytes: &[u8]) -> Self;
}

impl<M: Network<f32>> FromSafetensors for M {
    fn from_safetensors_checked(bytes: &[u8]) -> Self {
        staticnet::weights::from_safetensors::<f32, M>(bytes).expect("the baseline's weights")
    }
}

fn report(name: &str, macs: f64, ours: &Ours, base: Option<&Baseline>) {
    println!(
        "  {name}, batch 1 `forward`: {:.1} µs median, {:.1} µs fastest round ({:.1} GMAC/s)",
        ours.one_median_us,
        ours.one_min_us,
        macs / ours.one_min_us / 1e3
    );
    println!("  {name}, `fit` at batch 64: {:.0} samples/s", ours.fit_samples_per_s);
    let Some(b) = base else { return };
    if let (Some(lmin), Some(lmed)) = (b.get(&["litert", "min_us"]), b.get(&["litert", "median_us"])) {
        println!(
            "  LiteRT XNNPACK 1 thread: {lmin:.1} µs fastest, {lmed:.1} µs median → ours/LiteRT {:.2}× (fastest/fastest), {:.2}× (median/median)",
            ours.one_min_us / lmin,
            ours.one_median_us / lmed
        );
    }
    if let (Some(jmin), Some(jmed)) = (b.get(&["jax_jit", "min_us"]), b.get(&["jax_jit", "median_us"])) {
        println!(
            "  jax.jit: {jmin:.0} µs fastest, {jmed:.0} µs median → jax/ours {:.1}× (fastest), {:.1}× (median)",
            jmin / ours.one_min_us,
            jmed / ours.one_median_us
        );
    }
    if let Some(k) = b.get(&["keras_fit", "samples_per_s_median"]) {
        println!("  Keras fit on JAX: {k:.0} samples/s → ours/Keras {:.1}×", ours.fit_samples_per_s / k);
    }
}

fn main() {
    let quick = std::env::var_os("QUICK").is_some();
    println!("kernels: {}", staticnet::kernels::simd());

    let base = Baseline::run("kws", quick);
    let kws: Kws<f32> = base
        .as_ref()
        .and_then(|_| {
            load_checked("kws", |m: &Kws<f32>, x| m.forward(&SVector::from_column_slice(x)).as_slice().to_vec())
        })
        .unwrap_or_else(|| Kws::new(1234));
    let samples = base.as_ref().and_then(|b| b.get(&["keras_fit", "samples"])).map_or(1024, |s| s as usize);
    let x1 = SVector::<f32, 490>::from_fn(|i, _| ((i * 37 % 101) as f32) / 50.0 - 1.0);
    let (x, y) = fit_data::<490>(samples, 12);
    let (mut trained, mut optimizer) = (kws.clone(), Kws::<f32>::optimizer());
    let ours = measure(
        || {
            std::hint::black_box(std::hint::black_box(&kws).forward(std::hint::black_box(&x1)));
        },
        |epochs| {
            fit(&mut trained, &mut optimizer, &x, &y, &options(epochs)).expect("fit");
        },
        samples,
        if quick { 1 } else { 3 },
    );
    println!("KWS DS-CNN (49×10 MFCCs, 2,656,768 multiply-adds)");
    report("KWS", 2_656_768.0, &ours, base.as_ref());

    let base = Baseline::run("sensor", quick);
    let sensor: Sensor<f32> = base
        .as_ref()
        .and_then(|_| {
            load_checked("sensor", |m: &Sensor<f32>, x| m.forward(&SVector::from_column_slice(x)).as_slice().to_vec())
        })
        .unwrap_or_else(|| Sensor::new(1234));
    let samples = base.as_ref().and_then(|b| b.get(&["keras_fit", "samples"])).map_or(4096, |s| s as usize);
    let x1 = SVector::<f32, 384>::from_fn(|i, _| ((i * 37 % 101) as f32) / 50.0 - 1.0);
    let (x, y) = fit_data::<384>(samples, 6);
    let (mut trained, mut optimizer) = (sensor.clone(), Sensor::<f32>::optimizer());
    let ours = measure(
        || {
            std::hint::black_box(std::hint::black_box(&sensor).forward(std::hint::black_box(&x1)));
        },
        |epochs| {
            fit(&mut trained, &mut optimizer, &x, &y, &options(epochs)).expect("fit");
        },
        samples,
        if quick { 2 } else { 5 },
    );
    println!("Conv1D sensor model (128×3, 158,912 multiply-adds)");
    report("sensor", 158_912.0, &ours, base.as_ref());
}
