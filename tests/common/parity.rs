//! The harness the Keras parity tests share: a fixture's network compiled
//! and checked against its text, its weights loaded, and the batch, loss,
//! gradient and optimizer-step comparisons in f64 and f32, and the two
//! tests that run them. Included by `#[path]` from the parity tests (a
//! module of `common` would be dead code in the other tests).
#![allow(dead_code)]

use super::common::*;
use staticnet::nalgebra::SVector;
use staticnet::{Mode, Network, Optimizer, Scalar, Train};

/// Compiles the network and keeps its text, to check it against the fixture.
macro_rules! fixture_network {
    ($($t:tt)*) => {
        staticnet::network! { $($t)* }
        const NETWORK_TEXT: &str = stringify!($($t)*);
    };
}

/// A module's two tests: `f64_matches_keras` runs `$run::<f64>()`, and
/// `f32_matches_keras` `$run::<f32>()`.
macro_rules! precision_tests {
    ($run:ident) => {
        #[test]
        fn f64_matches_keras() {
            $run::<f64>();
        }

        #[test]
        fn f32_matches_keras() {
            $run::<f32>();
        }
    };
}

pub fn load<T: Scalar, M: Network<T>>(f: &Fixture) -> M {
    staticnet::weights::from_safetensors_prefixed::<T, M>(&f.bytes, "weights/").expect("fixture weights")
}

pub fn values<T: Scalar>(f: &Fixture, key: &str) -> Vec<T> {
    f.get(key).iter().map(|&v| T::of_f64(v)).collect()
}

/// Every parameter tensor of `model` (trainable ones only, with
/// `trainable_only`) against `{prefix}{name}` in the fixture.
pub fn assert_params<T: Scalar, M: Network<T>>(f: &Fixture, prefix: &str, model: &M, trainable_only: bool) {
    for (i, info) in M::TENSORS.iter().enumerate() {
        if trainable_only && !info.trainable {
            continue;
        }
        let key = format!("{prefix}{}", info.name);
        assert_close(&key, model.tensor(i), f.get(&key));
    }
}

/// Everything the fixture holds, through the traits `fit` uses: the batch's
/// outputs in inference mode, the loss (total and per head) and every
/// gradient, then the fixture's optimizer steps (`steps`, moving statistics
/// included) and every tensor after them. Returns the fixture and the model
/// with its initial weights, for the one-sample checks.
pub fn check<T: Scalar, M: Train<T>, O: Optimizer<T, M>>(name: &str, text: &str, mut optimizer: O) -> (Fixture, M) {
    let f = Fixture::load(name);
    f.assert_network_text(text);
    let n: usize = f.metadata["batch"].parse().expect("batch size");
    let steps: usize = f.metadata["steps"].parse().expect("steps");
    let heads: Vec<&str> = M::HEADS.iter().map(|h| h.name).collect();
    assert_eq!(heads, serde_list(&f.metadata["heads"]), "the heads, in the fixture and the model");
    let inputs: Vec<Vec<T>> = M::INPUT_NAMES.iter().map(|i| values(&f, &format!("input/{i}"))).collect();
    let targets: Vec<Vec<T>> = heads.iter().map(|h| values(&f, &format!("target/{h}"))).collect();
    let ins: Vec<&[T]> = inputs.iter().map(|v| v.as_slice()).collect();
    let tgs: Vec<&[T]> = targets.iter().map(|v| v.as_slice()).collect();
    let initial: M = load(&f);
    let mut model = initial.clone();
    let mut ws = vec![T::zero(); M::TRAIN_ROWS * n];
    let mut stats = vec![T::zero(); M::STATS_LEN];

    model.forward_slices(n, &ins, &mut ws, Mode::Inference, &mut stats);
    for (h, head) in M::HEADS.iter().enumerate() {
        let at = M::HEAD_OFFSETS[h] * n;
        assert_close(
            &format!("output {}", head.name),
            &ws[at..at + head.width * n],
            f.get(&format!("expect/output/{}", head.name)),
        );
    }

    let mut grads = M::zeros();
    let mut head_losses = vec![T::zero(); M::HEADS.len()];
    let total = model.loss_and_grad_slices(n, &ins, &tgs, None, &mut ws, &mut stats, &mut grads, &mut head_losses, 0);
    assert_scalar_close("loss", total, f.scalar("expect/loss"));
    if heads.len() > 1 {
        for (h, head) in heads.iter().enumerate() {
            assert_scalar_close(&format!("{head} loss"), head_losses[h], f.scalar(&format!("expect/loss/{head}")));
        }
    }
    assert_params(&f, "expect/grad/", &grads, true);

    for step in 0..steps {
        for i in 0..M::TENSORS.len() {
            grads.tensor_mut(i).fill(T::zero());
        }
        let total =
            model.loss_and_grad_slices(n, &ins, &tgs, None, &mut ws, &mut stats, &mut grads, &mut head_losses, 0);
        assert_scalar_close(&format!("step {step} loss"), total, f.scalar(&format!("expect/step_loss/{step}")));
        model.update_moving_statistics(&stats);
        optimizer.apply(&mut model, &grads);
    }
    assert_params(&f, "expect/step3/", &model, false);
    (f, initial)
}

/// `["a", "b"]` → its strings.
pub fn serde_list(json: &str) -> Vec<String> {
    json.trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Sample `s` of input `name`: its `size` values.
pub fn sample<T: Scalar, const N: usize>(f: &Fixture, name: &str, s: usize) -> SVector<T, N> {
    SVector::from_iterator(f.get(&format!("input/{name}"))[s * N..(s + 1) * N].iter().map(|&v| T::of_f64(v)))
}

/// Head `head`'s expected output for sample `s`.
pub fn expected<'f>(f: &'f Fixture, head: &str, s: usize, width: usize) -> &'f [f64] {
    &f.get(&format!("expect/output/{head}"))[s * width..(s + 1) * width]
}
