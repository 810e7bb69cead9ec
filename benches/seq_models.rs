//! The question-answering LSTM (anchor model C of ../shared/anchors/litert:
//! the seed book's two token sequences through `Embedding` → `LSTM`, then
//! `concatenate` and a softmax), ours against Keras on JAX in one run:
//! - batch-1 `forward` against `jax.jit` (µs per call);
//! - `fit` at batch 64, rmsprop, categorical cross-entropy on random token
//!   ids and one-hot targets, against Keras `fit` on JAX (samples/s).
//!
//! ```sh
//! cargo bench --bench seq_models             # Python baseline included
//! QUICK=1 cargo bench --bench seq_models     # fewer rounds and epochs
//! NO_PYTHON=1 cargo bench --bench seq_models # ours only
//! cargo bench --features parallel --bench seq_models # `fit` on two threads, as Keras uses both cores
//! ```
//! The Python side is `benches/keras_seq_baseline.py` (`pip install keras
//! jax`); it draws the weights, which ours loads and checks against Keras's
//! output on its reference input before anything is timed.
mod common;

use common::race;
use staticnet::nalgebra::{Const, Dyn, OMatrix, SVector};
use staticnet::{fit, FitOptions};
use std::process::Command;
use std::time::Instant;

staticnet::network! {
    /// Anchor C: the question-answering LSTM.
    pub struct QaLstm {
        let story = Input(shape = (50,), dtype = "int32", name = "story");
        let question = Input(shape = (20,), dtype = "int32", name = "question");
        let xa = Embedding(1000, 64, name = "emb_a")(story);
        let xa = LSTM(32, name = "lstm_a")(xa);
        let xb = Embedding(1000, 32, name = "emb_b")(question);
        let xb = LSTM(16, name = "lstm_b")(xb);
        let x = Concatenate(name = "cat")([xa, xb]);
        let fc = Dense(100, activation = softmax, name = "fc")(x);
        Model([story, question], fc);
        compile(optimizer = rmsprop, loss = categorical_crossentropy);
    }
}

/// Runs the Python baseline: its JSON, and the path of its weights and
/// reference output.
fn baseline(quick: bool) -> Option<serde_json::Value> {
    if std::env::var_os("NO_PYTHON").is_some() {
        return None;
    }
    std::fs::create_dir_all("target/bench").ok()?;
    let mut cmd = Command::new("python3");
    cmd.args(["benches/keras_seq_baseline.py", "--model", "qa"]);
    cmd.args(["--weights", "target/bench/qa.safetensors", "--reference", "target/bench/qa_ref.safetensors"]);
    if quick {
        cmd.arg("--quick");
    }
    eprintln!("running the Python baseline (jax.jit, Keras fit)…");
    match cmd.output() {
        Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout).ok(),
        Ok(out) => {
            eprintln!("the baseline failed:\n{}", String::from_utf8_lossy(&out.stderr));
            None
        }
        Err(e) => {
            eprintln!("no python3 ({e}): our figures only");
            None
        }
    }
}

fn get(json: &serde_json::Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(json, |v, p| v.get(p))?.as_f64()
}

/// The baseline's weights, checked: our output on its reference input
/// against Keras's.
fn load_checked() -> Option<QaLstm<f32>> {
    let weights = std::fs::read("target/bench/qa.safetensors").ok()?;
    let model = staticnet::weights::from_safetensors::<f32, QaLstm<f32>>(&weights).expect("the baseline's weights");
    let reference = std::fs::read("target/bench/qa_ref.safetensors").ok()?;
    let st = safetensors::SafeTensors::deserialize(&reference).ok()?;
    let words = |name: &str| -> Vec<[u8; 4]> {
        st.tensor(name)
            .map(|t| t.data().chunks_exact(4).map(|c| [c[0], c[1], c[2], c[3]]).collect())
            .unwrap_or_default()
    };
    let ids = |name: &str| words(name).into_iter().map(|w| i32::from_le_bytes(w) as u32).collect::<Vec<u32>>();
    let story = SVector::<u32, 50>::from_column_slice(&ids("input/story"));
    let question = SVector::<u32, 20>::from_column_slice(&ids("input/question"));
    let want: Vec<f32> = words("expect/output/fc").into_iter().map(f32::from_le_bytes).collect();
    let got = model.forward(&story, &question);
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("the baseline's weights loaded; max |ours − Keras| on its reference input = {diff:.2e}");
    assert!(want.len() == 100 && diff < 1e-4, "outputs differ from Keras's by {diff}");
    Some(model)
}

fn main() {
    let quick = std::env::var_os("QUICK").is_some();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "kernels: {}; feature parallel: {} ({threads} threads available; Keras uses all)",
        staticnet::kernels::simd(),
        if cfg!(feature = "parallel") { "on, `fit` splits each batch over two threads" } else { "off, one thread" }
    );
    let base = baseline(quick);
    let model = base.as_ref().and_then(|_| load_checked()).unwrap_or_else(|| QaLstm::new(1234));

    // Random ids and one-hot targets, as the baseline draws them (its own
    // generator: the figures, not the values, are compared).
    let samples = base.as_ref().and_then(|b| get(b, &["keras_fit", "samples"])).map_or(4096, |s| s as usize);
    let epochs = base.as_ref().and_then(|b| get(b, &["keras_fit", "timed_epochs"])).map_or(5, |e| e as usize);
    let mut state = 0x9e37_79b9_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let story = OMatrix::<u32, Const<50>, Dyn>::from_fn(samples, |_, _| next() % 1000);
    let question = OMatrix::<u32, Const<20>, Dyn>::from_fn(samples, |_, _| next() % 1000);
    let classes: Vec<usize> = (0..samples).map(|_| (next() % 100) as usize).collect();
    let targets = OMatrix::<f32, Const<100>, Dyn>::from_fn(samples, |i, j| f32::from(u8::from(classes[j] == i)));

    let (s1, q1) = (story.column(0).into_owned(), question.column(0).into_owned());
    let t = race(vec![&mut || {
        std::hint::black_box(
            std::hint::black_box(&model).forward(std::hint::black_box(&s1), std::hint::black_box(&q1)),
        );
    }]);
    let (one_min, one_median) = (t[0].min * 1e6, t[0].median * 1e6);

    let (mut trained, mut optimizer) = (model.clone(), QaLstm::<f32>::optimizer());
    let options = |epochs: usize| FitOptions::new().epochs(epochs).batch_size(64).verbose(0);
    fit(&mut trained, &mut optimizer, (&story, &question), &targets, &options(1)).expect("fit");
    let start = Instant::now();
    let history = fit(&mut trained, &mut optimizer, (&story, &question), &targets, &options(epochs)).expect("fit");
    let per_s = (samples * epochs) as f64 / start.elapsed().as_secs_f64();
    let losses = history.get("loss").unwrap_or_default();
    println!(
        "QA LSTM (story 50 ids, question 20 ids → Embedding 64/32 → LSTM 32/16 → Dense 100 softmax), {samples} samples, {epochs} timed epochs"
    );
    println!("  ours, batch 1 `forward`: {one_median:.1} µs median, {one_min:.1} µs fastest round");
    println!(
        "  ours, `fit` at batch 64: {per_s:.0} samples/s (loss {:.4} → {:.4})",
        losses.first().copied().unwrap_or(f64::NAN),
        losses.last().copied().unwrap_or(f64::NAN)
    );
    let Some(b) = base else { return };
    if let (Some(jmin), Some(jmed)) = (get(&b, &["jax_jit", "min_us"]), get(&b, &["jax_jit", "median_us"])) {
        println!(
            "  jax.jit: {jmin:.0} µs fastest, {jmed:.0} µs median → jax/ours {:.1}× (fastest), {:.1}× (median)",
            jmin / one_min,
            jmed / one_median
        );
    }
    if let Some(k) = get(&b, &["keras_fit", "samples_per_s_median"]) {
        println!("  Keras fit on JAX: {k:.0} samples/s (median epoch) → ours/Keras {:.1}×", per_s / k);
    }
}
