//! `step`, one time step at a time, against `forward` on the whole
//! sequence (f64, 1e-12), for every kind of layer that streams; models
//! whose steps have no length (`Input(shape = (None, c))`).

use approx::assert_relative_eq;
use staticnet::nalgebra::{SMatrix, SVector};
use staticnet::network;

network! {
    pub struct CausalStack {
        let x = Input(shape = (32, 1));
        let a = Conv1D(8, 3, padding = "causal", activation = tanh)(x);
        let b = Conv1D(8, 3, padding = "causal", dilation_rate = 2)(a);
        let c = BatchNormalization()(b);
        let y = Dense(1)(c);
        Model(x, y);
    }
}

network! {
    pub struct CausalStream {
        let x = Input(shape = (None, 1));
        let a = Conv1D(8, 3, padding = "causal", activation = tanh)(x);
        let b = Conv1D(8, 3, padding = "causal", dilation_rate = 2)(a);
        let c = BatchNormalization()(b);
        let y = Dense(1)(c);
        Model(x, y);
    }
}

network! {
    pub struct TwoHeads {
        let x = Input(shape = (None, 2));
        let h = GRU(4, return_sequences = true)(x);
        let a = Dense(3, name = "a")(h);
        let b = Dense(1, activation = sigmoid, name = "b")(h);
        Model(x, [a, b]);
    }
}

/// A sequence of `n` values in (−1, 1), deterministic.
fn signal(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|i| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            0.6 * (i as f64 * 0.37).sin() + 0.4 * ((s >> 11) as f64 / (1u64 << 53) as f64 - 0.5)
        })
        .collect()
}

/// Moving statistics away from 0 and 1, so batch normalization does something.
fn perturb<M: staticnet::Network<f64>>(model: &mut M) {
    for i in 0..M::TENSORS.len() {
        for (j, v) in model.tensor_mut(i).iter_mut().enumerate() {
            *v += 0.05 * ((i * 31 + j * 7) % 13) as f64 / 13.0;
        }
    }
}

#[test]
fn causal_convolutions_step_as_they_run_on_the_whole_sequence() {
    let mut model = CausalStack::<f64>::new(3);
    perturb(&mut model);
    let x = signal(32, 1);
    let whole = model.forward(&SVector::<f64, 32>::from_column_slice(&x));
    let mut state = CausalStackState::default();
    for t in 0..32 {
        let y = model.step(&mut state, &SVector::from([x[t]]));
        // a per-step head: `forward` gives every step's value
        assert_relative_eq!(y[0], whole[t], epsilon = 1e-12);
    }
    let steps = model.forward_steps(&SMatrix::<f64, 1, 32>::from_column_slice(&x));
    assert_relative_eq!(steps.as_slice(), whole.as_slice(), epsilon = 1e-12);
    state.reset();
    assert_eq!(state, CausalStackState::default());
}

#[test]
fn steps_without_a_length_stream_the_weights_of_a_fixed_length_model() {
    let mut fixed = CausalStack::<f64>::new(5);
    perturb(&mut fixed);
    let streaming = CausalStream::<f64>::from_safetensors(&fixed.to_safetensors()).unwrap();
    let x = signal(100, 2);
    let whole = fixed.forward(&SVector::<f64, 32>::from_column_slice(&x[..32]));
    let mut state = CausalStreamState::default();
    for t in 0..100 {
        let y = streaming.step(&mut state, &SVector::from([x[t]]));
        if t < 32 {
            assert_relative_eq!(y[0], whole[t], epsilon = 1e-12);
        }
    }
    let steps = streaming.forward_steps(&SMatrix::<f64, 1, 100>::from_column_slice(&x));
    assert_relative_eq!(&steps.as_slice()[..32], whole.as_slice(), epsilon = 1e-12);
    let summary = CausalStream::<f64>::summary().to_string();
    assert!(summary.contains("(None, None, 8)"), "{summary}");
}

#[test]
fn several_heads_step_into_one_output_struct() {
    let model = TwoHeads::<f64>::new(4);
    let x = signal(12, 3);
    let steps: TwoHeadsStepOutput<f64, 6> = model.forward_steps(&SMatrix::<f64, 2, 6>::from_column_slice(&x));
    let mut state = TwoHeadsState::default();
    for t in 0..6 {
        let y: TwoHeadsStepOutput<f64> = model.step(&mut state, &SVector::from_column_slice(&x[t * 2..][..2]));
        // `forward_steps` is `step` from a fresh state, a column per step
        assert_eq!(y.a, steps.a.column(t).into_owned());
        assert_eq!(y.b, steps.b.column(t).into_owned());
    }
}
