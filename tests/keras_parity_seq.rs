//! Parity with Keras (f64, JAX; tools/keras_fixtures.py) on the sequence
//! cases: batch outputs in inference mode, the one-sample `forward` (and
//! `step`, one time step at a time, where the model streams), losses,
//! gradients through time, and three steps of each model's own optimizer,
//! in f64 and in f32.

mod common;
#[path = "common/parity.rs"]
#[macro_use]
mod parity;

use common::*;
use parity::*;
use staticnet::nalgebra::SVector;
use staticnet::Scalar;

/// Sample `s` of token-id input `name` (stored as exact f64 values).
fn ids<const N: usize>(f: &Fixture, name: &str, s: usize) -> SVector<u32, N> {
    SVector::from_iterator(f.get(&format!("input/{name}"))[s * N..(s + 1) * N].iter().map(|&v| v as u32))
}

mod seed_qa_lstm {
    use super::*;

    fixture_network! {
        pub struct SeedQaLstm {
            let text = Input(shape = (12,), dtype = "int32");
            let embedded_text = Embedding(60, 64, name = "text_embedding")(text);
            let encoded_text = LSTM(32, name = "text_lstm")(embedded_text);
            let question = Input(shape = (6,), dtype = "int32");
            let embedded_question = Embedding(40, 32, name = "question_embedding")(question);
            let encoded_question = LSTM(16, name = "question_lstm")(embedded_question);
            let concatenated = concatenate([encoded_text, encoded_question], axis = -1, name = "concatenated");
            let answer = Dense(20, activation = softmax, name = "answer")(concatenated);
            Model([text, question], answer);
            compile(optimizer = rmsprop, loss = categorical_crossentropy, metrics = [accuracy]);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, SeedQaLstm<T>, _>("seed_qa_lstm", NETWORK_TEXT, SeedQaLstm::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&ids::<12>(&f, "text", s), &ids::<6>(&f, "question", s));
            assert_close("forward", out.as_slice(), expected(&f, "answer", s, 20));
        }
    }

    precision_tests!(run);
}

mod sequence_stack {
    use super::*;

    fixture_network! {
        pub struct SequenceStack {
            let seq = Input(shape = (10, 4));
            let x = GRU(6, return_sequences = true, name = "gru")(seq);
            let x = SimpleRNN(5, activation = relu, use_bias = false, return_sequences = true, name = "rnn")(x);
            let x = TimeDistributed(Dense(3, name = "dense"), name = "frames")(x);
            let x = Bidirectional(LSTM(4, return_sequences = true, name = "lstm"), merge_mode = "sum", name = "bi_sum")(x);
            let h = GRU(3, recurrent_activation = hard_sigmoid, name = "last")(x);
            let label = Dense(2, activation = softmax, name = "label")(h);
            let b = Bidirectional(GRU(2, name = "gru_2"), merge_mode = "concat", name = "bi_concat")(x);
            let value = Dense(1, name = "value")(b);
            Model(seq, [label, value]);
            compile(
                optimizer = adam,
                loss = [categorical_crossentropy, mse],
                loss_weights = [1.0, 0.5],
            );
        }
    }

    fn run<T: Scalar>() {
        let (f, model) =
            check::<T, SequenceStack<T>, _>("sequence_stack", NETWORK_TEXT, SequenceStack::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 40>(&f, "seq", s));
            assert_close("forward label", out.label.as_slice(), expected(&f, "label", s, 2));
            assert_close("forward value", out.value.as_slice(), expected(&f, "value", s, 1));
        }
        // the contract's batch methods on the same fixture
        let x = f.matrix::<T, 40, 8>("input/seq");
        let (label, value) = (f.matrix::<T, 2, 8>("target/label"), f.matrix::<T, 1, 8>("target/value"));
        let mut trained = model.clone();
        let mut optimizer = SequenceStack::<T>::optimizer();
        for step in 0..3 {
            let losses = trained.train_step::<8>(&mut optimizer, &x, &label, &value);
            assert_scalar_close(
                &format!("train_step {step}"),
                losses.total,
                f.scalar(&format!("expect/step_loss/{step}")),
            );
        }
        assert_params(&f, "expect/step3/", &trained, false);
    }

    precision_tests!(run);
}

mod bidi_merges {
    use super::*;

    fixture_network! {
        pub struct BidiMerges {
            let seq = Input(shape = (7, 3));
            let a = Bidirectional(SimpleRNN(4, return_sequences = true, name = "rnn"), merge_mode = "mul", name = "bi_mul")(seq);
            let a = LayerNormalization(name = "norm")(a);
            let b = Bidirectional(GRU(3, return_sequences = true, name = "gru"), merge_mode = "ave", name = "bi_ave")(a);
            let p = Dense(3, activation = tanh, name = "proj")(seq);
            let m = add([b, p], name = "skip");
            let m = LSTM(3, activation = softsign, unit_forget_bias = false, return_sequences = true, name = "lstm")(m);
            let g = GlobalAveragePooling1D(name = "gap")(m);
            let f = Flatten(name = "flat")(m);
            let h = concatenate([g, f], name = "cat");
            let out = Dense(3, activation = softmax, name = "out")(h);
            Model(seq, out);
            compile(optimizer = Adam(learning_rate = 0.01), loss = categorical_crossentropy);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, BidiMerges<T>, _>("bidi_merges", NETWORK_TEXT, BidiMerges::<T>::optimizer());
        for s in 0..8 {
            let out = model.forward(&sample::<T, 21>(&f, "seq", s));
            assert_close("forward", out.as_slice(), expected(&f, "out", s, 3));
        }
    }

    precision_tests!(run);
}

mod per_step_head {
    use super::*;

    fixture_network! {
        pub struct PerStepHead {
            let seq = Input(shape = (12, 3));
            let h = LSTM(5, return_sequences = true, name = "lstm")(seq);
            let tags = TimeDistributed(Dense(4, activation = softmax, name = "dense"), name = "tags")(h);
            let level = Dense(1, name = "level")(h);
            Model(seq, [tags, level]);
            compile(optimizer = rmsprop, loss = [sparse_categorical_crossentropy, mse]);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, PerStepHead<T>, _>("per_step_head", NETWORK_TEXT, PerStepHead::<T>::optimizer());
        for s in 0..8 {
            let x = sample::<T, 36>(&f, "seq", s);
            let out = model.forward(&x);
            assert_close("forward tags", out.tags.as_slice(), expected(&f, "tags", s, 48));
            assert_close("forward level", out.level.as_slice(), expected(&f, "level", s, 12));
            // one step at a time: each step's outputs as Keras gives them
            let mut state = PerStepHeadState::default();
            for t in 0..12 {
                let y = model.step(&mut state, &SVector::from_column_slice(&x.as_slice()[t * 3..][..3]));
                assert_close("step tags", y.tags.as_slice(), &expected(&f, "tags", s, 48)[t * 4..][..4]);
                assert_close("step level", y.level.as_slice(), &expected(&f, "level", s, 12)[t..][..1]);
            }
        }
    }

    precision_tests!(run);
}

mod causal_stream {
    use super::*;

    fixture_network! {
        pub struct CausalStream {
            let signal = Input(shape = (16, 2));
            let x = Conv1D(4, 3, padding = "causal", dilation_rate = 2, name = "conv")(signal);
            let x = GRU(6, return_sequences = true, name = "gru")(x);
            let x = LSTM(5, return_sequences = true, name = "lstm")(x);
            let y = Dense(1, name = "y")(x);
            Model(signal, y);
            compile(optimizer = sgd, loss = mse);
        }
    }

    fn run<T: Scalar>() {
        let (f, model) = check::<T, CausalStream<T>, _>("causal_stream", NETWORK_TEXT, CausalStream::<T>::optimizer());
        for s in 0..8 {
            let x = sample::<T, 32>(&f, "signal", s);
            assert_close("forward", model.forward(&x).as_slice(), expected(&f, "y", s, 16));
            let mut state = CausalStreamState::default();
            let steps: Vec<T> = (0..16)
                .map(|t| model.step(&mut state, &SVector::from_column_slice(&x.as_slice()[t * 2..][..2]))[0])
                .collect();
            assert_close("step", &steps, expected(&f, "y", s, 16));
            let columns = staticnet::nalgebra::SMatrix::<T, 2, 16>::from_column_slice(x.as_slice());
            assert_close("forward_steps", model.forward_steps(&columns).as_slice(), expected(&f, "y", s, 16));
        }
    }

    precision_tests!(run);
}
