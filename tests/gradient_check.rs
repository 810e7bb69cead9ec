//! Finite-difference checks in f64 of the generated backward passes: every
//! layer, merge, activation and loss, on graphs with several inputs and heads.

use staticnet::rng::SplitMix64;
use staticnet::{Loss, Network, Train};

/// Compares `loss_and_grad_slices` with central differences of the loss
/// for every trainable scalar (at most `per_tensor` of each tensor).
fn check_gradients<M: Train<f64>>(
    model: &M,
    n: usize,
    inputs: &[Vec<f64>],
    targets: &[Vec<f64>],
    sample_weight: Option<&[f64]>,
) {
    let ins: Vec<&[f64]> = inputs.iter().map(|v| v.as_slice()).collect();
    let tgs: Vec<&[f64]> = targets.iter().map(|v| v.as_slice()).collect();
    let mut ws = vec![0.0; M::TRAIN_ROWS * n];
    let mut stats = vec![0.0; M::STATS_LEN];
    let mut heads = vec![0.0; M::HEADS.len()];
    let mut loss_of = |m: &M, grads: &mut M| {
        m.loss_and_grad_slices(n, &ins, &tgs, sample_weight, &mut ws, &mut stats, grads, &mut heads, 99)
    };
    let mut grads = M::zeros();
    let total = loss_of(model, &mut grads);
    assert!(total.is_finite() && total > 0.0, "loss {total}");
    let mut scratch = M::zeros();
    let mut checked = 0;
    for (t, info) in M::TENSORS.iter().enumerate() {
        let g = grads.tensor(t).to_vec();
        if !info.trainable {
            assert!(g.iter().all(|&v| v == 0.0), "{} is not trainable but has a gradient", info.name);
            continue;
        }
        let scale = g.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(1e-3);
        let step = (g.len() / 25).max(1);
        for j in (0..g.len()).step_by(step) {
            let mut plus = model.clone();
            let w = plus.tensor(t)[j];
            let h = 1e-6 * w.abs().max(1.0);
            plus.tensor_mut(t)[j] = w + h;
            let mut minus = model.clone();
            minus.tensor_mut(t)[j] = w - h;
            let fd = (loss_of(&plus, &mut scratch) - loss_of(&minus, &mut scratch)) / (2.0 * h);
            assert!(
                (fd - g[j]).abs() <= 2e-6 * (fd.abs() + scale),
                "{}[{j}]: backward {:e}, finite difference {fd:e}",
                info.name,
                g[j]
            );
            checked += 1;
        }
    }
    assert!(checked > 0);
}

fn uniform(rng: &mut SplitMix64, len: usize, lo: f64, hi: f64) -> Vec<f64> {
    (0..len).map(|_| lo + (hi - lo) * rng.next_f64()).collect()
}

fn one_hot(rng: &mut SplitMix64, classes: usize, n: usize) -> Vec<f64> {
    let mut v = vec![0.0; classes * n];
    for s in 0..n {
        v[s * classes + rng.below(classes as u64) as usize] = 1.0;
    }
    v
}

fn bits(rng: &mut SplitMix64, len: usize) -> Vec<f64> {
    (0..len).map(|_| (rng.next() & 1) as f64).collect()
}

fn data_for<M: Network<f64>>(rng: &mut SplitMix64, n: usize) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let inputs = M::INPUT_WIDTHS.iter().map(|&w| uniform(rng, w * n, -1.0, 1.0)).collect();
    let targets = M::HEADS
        .iter()
        .map(|h| match h.loss {
            Some(Loss::CategoricalCrossentropy { .. }) => one_hot(rng, h.width, n),
            Some(Loss::SparseCategoricalCrossentropy { .. }) => {
                (0..n).map(|_| rng.below(h.width as u64) as f64).collect()
            }
            Some(Loss::BinaryCrossentropy { .. }) => bits(rng, h.width * n),
            _ => uniform(rng, h.width * n, -1.5, 1.5),
        })
        .collect();
    (inputs, targets)
}

staticnet::network! {
    /// Every activation, each behind its own Dense, merged and sent to
    /// regression heads with each regression loss.
    pub struct Activations {
        let x = Input(5);
        let y = Input(3);
        let a = Dense(4, activation = relu)(x);
        let b = Dense(4, activation = relu6)(y);
        let c = Dense(4, activation = leaky_relu)(x);
        let d = Dense(4, activation = elu)(y);
        let e = Dense(4, activation = selu)(x);
        let f = Dense(4, activation = gelu)(y);
        let g = Dense(4, activation = sigmoid)(x);
        let h = Dense(4, activation = hard_sigmoid)(y);
        let i = Dense(4, activation = tanh)(x);
        let j = Dense(4, activation = softmax)(y);
        let k = Dense(4, activation = log_softmax)(x);
        let l = Dense(4, activation = softplus)(y);
        let m = Dense(4, activation = softsign)(x);
        let n = Dense(4, activation = silu)(y);
        let o = Dense(4, activation = swish)(x);
        let p = Dense(4, activation = mish)(y);
        let q = Dense(4, activation = exponential, use_bias = false)(x);
        let r = Dense(4, activation = "linear")(y);
        let sum = add([a, b, c, d, e, f]);
        let cat = concatenate([g, h, i, j, k, l]);
        let rest = average([m, n, o, p, q, r]);
        let out1 = Dense(2, name = "out1")(sum);
        let out2 = Dense(3, name = "out2")(cat);
        let out3 = Dense(2, name = "out3")(rest);
        Model([x, y], [out1, out2, out3]);
        compile(loss = [mse, mae, huber], loss_weights = [1.0, 0.5, 2.0]);
    }
}

#[test]
fn every_activation() {
    let mut rng = SplitMix64::new(1);
    let model = Activations::<f64>::new(3);
    let (inputs, targets) = data_for::<Activations<f64>>(&mut rng, 4);
    check_gradients(&model, 4, &inputs, &targets, None);
}

staticnet::network! {
    /// Every merge and every other layer, with a head per classification loss.
    pub struct Layers {
        let u = Input(6);
        let v = Input(6);
        let a = Dense(5, activation = tanh)(u);
        let b = Dense(5, activation = sigmoid)(v);
        let diff = subtract([a, b]);
        let prod = multiply([a, b, diff]);
        let hi = maximum([a, b]);
        let lo = minimum([a, b]);
        let both = Concatenate(axis = -1)([diff, prod, hi, lo]);
        let normed = LayerNormalization()(both);
        let batch = BatchNormalization(momentum = 0.9)(normed);
        let act = Activation(elu)(batch);
        let drop = Dropout(0.3)(act);
        let sim = dot([a, b], axes = 1);
        let cos = Dot(axes = 1, normalize = true)([a, diff]);
        let feats = concatenate([drop, sim, cos]);
        let probs = Dense(4, activation = softmax, name = "probs")(feats);
        let logits = Dense(3, name = "logits")(feats);
        let sparse = Dense(3, activation = softmax, name = "sparse")(feats);
        let sparse_logits = Dense(4, name = "sparse_logits")(feats);
        let flag = Dense(2, activation = sigmoid, name = "flag")(feats);
        let flag_logits = Dense(1, name = "flag_logits")(feats);
        let through = Activation(softmax, name = "through")(logits);
        Model([u, v], [probs, logits, sparse, sparse_logits, flag, flag_logits, through]);
        compile(
            loss = {
                probs: categorical_crossentropy,
                logits: CategoricalCrossentropy(from_logits = true),
                sparse: sparse_categorical_crossentropy,
                sparse_logits: SparseCategoricalCrossentropy(from_logits = true),
                flag: binary_crossentropy,
                flag_logits: BinaryCrossentropy(from_logits = true),
                through: categorical_crossentropy,
            },
            loss_weights = { probs: 1.0, logits: 0.5, flag: 2.0, through: 0.7 },
        );
    }
}

#[test]
fn every_merge_layer_and_loss() {
    let mut rng = SplitMix64::new(2);
    let model = Layers::<f64>::new(5);
    let (inputs, targets) = data_for::<Layers<f64>>(&mut rng, 6);
    check_gradients(&model, 6, &inputs, &targets, None);
}

#[test]
fn sample_weights() {
    let mut rng = SplitMix64::new(4);
    let model = Layers::<f64>::new(6);
    let (inputs, targets) = data_for::<Layers<f64>>(&mut rng, 5);
    let weights = [0.5, 0.0, 2.0, 1.0, 0.25];
    check_gradients(&model, 5, &inputs, &targets, Some(&weights));
}

staticnet::network! {
    /// A head that feeds another layer too, so its fused gradient must not be used.
    pub struct SharedHead {
        let x = Input(4);
        let p = Dense(3, activation = softmax, name = "p")(x);
        let q = Dense(2, activation = sigmoid, name = "q")(p);
        Model(x, [p, q]);
        compile(loss = [categorical_crossentropy, binary_crossentropy]);
    }
}

#[test]
fn head_that_feeds_another_layer() {
    let mut rng = SplitMix64::new(8);
    let model = SharedHead::<f64>::new(9);
    let (inputs, targets) = data_for::<SharedHead<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
}

/// The fused softmax + cross-entropy gradient equals the chain rule through
/// Keras's clip, also where the clip is active (saturated probabilities).
#[test]
fn fused_gradient_matches_the_clipped_chain_rule() {
    use staticnet::__private::activations::{forward, Activation};
    use staticnet::__private::losses::{fused_loss_and_grad, loss_and_grad};
    let rows = 4;
    for z in [[0.3, -0.2, 1.1, 0.4], [40.0, 0.0, -3.0, 1.0], [-30.0, 2.0, 2.5, -1.0]] {
        let t = [0.0, 1.0, 0.0, 0.0];
        let loss_of = |z: &[f64]| {
            let mut p = [0.0; 4];
            forward(Activation::Softmax, z, &mut p, rows);
            loss_and_grad(Loss::CategoricalCrossentropy { from_logits: false }, &p, &t, rows, None, None)
        };
        let mut p = [0.0; 4];
        forward(Activation::Softmax, &z, &mut p, rows);
        let mut g = [0.0; 4];
        fused_loss_and_grad(
            Loss::CategoricalCrossentropy { from_logits: false },
            Activation::Softmax,
            &p,
            &t,
            rows,
            None,
            &mut g,
            1.0,
        );
        for i in 0..4 {
            let mut zp = z;
            zp[i] += 1e-6;
            let mut zm = z;
            zm[i] -= 1e-6;
            let fd = (loss_of(&zp) - loss_of(&zm)) / 2e-6;
            assert!((fd - g[i]).abs() < 1e-6, "z = {z:?}, i = {i}: fused {}, fd {fd}", g[i]);
        }
    }
}

staticnet::network! {
    /// Every 1-D layer over its padding, stride and dilation choices, on a
    /// sequence, with a head per regression loss.
    pub struct Sequence1d {
        let x = Input(shape = (13, 3));
        let a = Conv1D(4, 3, padding = "causal", dilation_rate = 2, activation = gelu)(x);
        let b = Conv1D(4, 3, strides = 2, padding = "same", activation = elu)(a);
        let c = Conv1D(5, 2, dilation_rate = 3, use_bias = false)(x);
        let d = Conv1D(5, 1, activation = sigmoid)(c);
        let e = MaxPooling1D(2)(d);
        let f = AveragePooling1D(3, strides = 2, padding = "same")(c);
        let g = ZeroPadding1D((1, 2))(b);
        let h = MaxPooling1D(3, strides = 2, padding = "same")(g);
        let i = GlobalAveragePooling1D()(e);
        let j = GlobalMaxPooling1D()(f);
        let k = GlobalMaxPooling1D()(h);
        let l = Dense(3, activation = softsign)(b);
        let m = Flatten()(l);
        let feats = concatenate([i, j, k, m]);
        let out = Dense(2, name = "out")(feats);
        let steps = Dense(3, activation = softmax, name = "steps")(GlobalAveragePooling1D()(LayerNormalization()(a)));
        Model(x, [out, steps]);
        compile(loss = [mse, categorical_crossentropy]);
    }
}

#[test]
fn one_dimensional_layers() {
    let mut rng = SplitMix64::new(11);
    let model = Sequence1d::<f64>::new(12);
    let (inputs, targets) = data_for::<Sequence1d<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
}

staticnet::network! {
    /// Every 2-D layer over its padding, stride and dilation choices, with
    /// the vector layers on images (Dense on the channels, normalization
    /// per channel, merges of images, concatenation on two axes).
    pub struct Image2d {
        let x = Input(shape = (7, 6, 2));
        let p = ZeroPadding2D(((1, 0), (2, 1)))(x);
        let a = Conv2D(3, (3, 2), strides = (2, 1), activation = elu)(p);
        let b = Conv2D(3, 3, padding = "same", dilation_rate = (2, 1), activation = gelu)(a);
        let c = DepthwiseConv2D((2, 2), strides = 2, padding = "same", depth_multiplier = 2)(b);
        let d = SeparableConv2D(4, (3, 3), padding = "same", depth_multiplier = 2, activation = softplus)(b);
        let e = MaxPooling2D((2, 2), padding = "same")(d);
        let f = AveragePooling2D((3, 3), strides = 1, padding = "same")(d);
        let g = add([d, f]);
        let h = BatchNormalization()(g);
        let i = Dense(5, activation = silu)(h);
        let j = concatenate([i, d], axis = -1);
        let k = concatenate([e, e], axis = 1);
        let l = GlobalMaxPooling2D()(j);
        let m = GlobalAveragePooling2D()(k);
        let n = Flatten()(c);
        let o = Reshape((2, -1))(n);
        let q = Dense(2, activation = elu)(Dropout(0.2)(o));
        let r = Flatten()(q);
        let feats = concatenate([l, m, r]);
        let out = Dense(4, activation = softmax, name = "out")(feats);
        let level = Dense(1, activation = sigmoid, name = "level")(feats);
        Model(x, [out, level]);
        compile(loss = [categorical_crossentropy, binary_crossentropy], loss_weights = [1.0, 0.5]);
    }
}

#[test]
fn two_dimensional_layers() {
    let mut rng = SplitMix64::new(13);
    let model = Image2d::<f64>::new(14);
    let (inputs, targets) = data_for::<Image2d<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
}

#[test]
fn image_layers_with_sample_weights() {
    let mut rng = SplitMix64::new(15);
    let model = Image2d::<f64>::new(16);
    let (inputs, targets) = data_for::<Image2d<f64>>(&mut rng, 4);
    check_gradients(&model, 4, &inputs, &targets, Some(&[1.0, 0.0, 0.5, 2.0]));
}

staticnet::network! {
    /// Heads with a value per step: a loss on each step, averaged over the
    /// steps and samples, a sample's weight on each of its steps.
    pub struct PerStep {
        let x = Input(shape = (6, 2));
        let h = Conv1D(5, 3, padding = "causal", activation = elu)(x);
        let tags = Conv1D(4, 2, padding = "same", activation = softmax, name = "tags")(h);
        let level = Dense(1, activation = sigmoid, name = "level")(h);
        let sparse = Dense(3, activation = softmax, name = "sparse")(h);
        Model(x, [tags, level, sparse]);
        compile(loss = [categorical_crossentropy, binary_crossentropy, sparse_categorical_crossentropy], loss_weights = [1.0, 0.5, 2.0]);
    }
}

#[test]
fn losses_on_every_step() {
    let mut rng = SplitMix64::new(17);
    let model = PerStep::<f64>::new(18);
    let n = 3;
    let inputs = vec![uniform(&mut rng, 12 * n, -1.0, 1.0)];
    let tags = one_hot(&mut rng, 4, 6 * n);
    let level = bits(&mut rng, 6 * n);
    let sparse: Vec<f64> = (0..6 * n).map(|_| rng.below(3) as f64).collect();
    let targets = vec![tags, level, sparse];
    check_gradients(&model, n, &inputs, &targets, None);
    check_gradients(&model, n, &inputs, &targets, Some(&[1.0, 0.25, 3.0]));
}

staticnet::network! {
    /// Every recurrent layer with and without `return_sequences`, with and
    /// without a bias, with other activations, stacked; a head on the last
    /// states and one on every step.
    pub struct Recurrent {
        let x = Input(shape = (5, 3));
        let a = SimpleRNN(4, return_sequences = true)(x);
        let b = SimpleRNN(3, activation = relu)(x);
        let c = GRU(4, return_sequences = true)(a);
        let d = GRU(3)(x);
        let e = LSTM(4, return_sequences = true)(x);
        let f = LSTM(3, use_bias = false)(e);
        let g = GRU(2, use_bias = false, return_sequences = true)(c);
        let h = LSTM(2, activation = gelu, recurrent_activation = hard_sigmoid)(g);
        let i = GRU(2, activation = softsign, recurrent_activation = silu)(e);
        let j = SimpleRNN(2, use_bias = false, return_sequences = true)(e);
        let last = concatenate([b, d, f, h, i]);
        let out = Dense(2, activation = softmax, name = "out")(last);
        let every = concatenate([a, c, e, g, j]);
        let steps = TimeDistributed(Dense(2), name = "steps")(every);
        Model(x, [out, steps]);
        compile(loss = [categorical_crossentropy, mse]);
    }
}

#[test]
fn recurrent_layers_through_time() {
    let mut rng = SplitMix64::new(19);
    let model = Recurrent::<f64>::new(20);
    let (inputs, targets) = data_for::<Recurrent<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
    check_gradients(&model, 3, &inputs, &targets, Some(&[0.5, 2.0, 1.0]));
}

staticnet::network! {
    /// `Bidirectional` in each merge mode, with and without
    /// `return_sequences`, over each cell.
    pub struct BothWays {
        let x = Input(shape = (4, 2));
        let a = Bidirectional(LSTM(3, return_sequences = true), merge_mode = "concat")(x);
        let b = Bidirectional(GRU(3), merge_mode = "sum")(a);
        let c = Bidirectional(SimpleRNN(2, return_sequences = true), merge_mode = "mul")(x);
        let d = Bidirectional(LSTM(2, use_bias = false), merge_mode = "ave")(c);
        let e = Bidirectional(GRU(2, return_sequences = true))(c);
        let f = Flatten()(e);
        let out = Dense(1, name = "out")(concatenate([b, d, f]));
        Model(x, out);
        compile(loss = mse);
    }
}

#[test]
fn bidirectional_merge_modes() {
    let mut rng = SplitMix64::new(21);
    let model = BothWays::<f64>::new(22);
    let (inputs, targets) = data_for::<BothWays<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
}

staticnet::network! {
    /// Token ids through an `Embedding` (its table's gradient) into an
    /// LSTM, joined with a second sequence of values.
    pub struct Tokens {
        let ids = Input(shape = (6,), dtype = "int32");
        let values = Input(shape = (6, 2));
        let x = Embedding(10, 4)(ids);
        let y = concatenate([x, values]);
        let h = LSTM(3)(y);
        let out = Dense(3, activation = softmax, name = "out")(h);
        Model([ids, values], out);
        compile(loss = categorical_crossentropy);
    }
}

#[test]
fn embedding_into_a_recurrent_layer() {
    let mut rng = SplitMix64::new(23);
    let model = Tokens::<f64>::new(24);
    let n = 3;
    // ids repeat within a sample, so a row of the table gathers several steps
    let ids: Vec<f64> = (0..6 * n).map(|_| rng.below(5) as f64).collect();
    let values = uniform(&mut rng, 12 * n, -1.0, 1.0);
    let targets = vec![one_hot(&mut rng, 3, n)];
    check_gradients(&model, n, &[ids, values], &targets, None);
}

staticnet::network! {
    /// One `Dense` object called on three tensors (its gradient is the sum
    /// over the calls), a shared `LayerNormalization`, and a sub-model
    /// called twice.
    pub struct Shared {
        let a = Input(4);
        let b = Input(4);
        let c = Input(4);
        let shared = Dense(3, activation = tanh, name = "shared");
        let norm = LayerNormalization();
        let x = norm(shared(a));
        let y = norm(shared(b));
        let z = shared(c);
        let inner = Input(3);
        let projected = Dense(2, activation = elu, name = "proj")(inner);
        let encoder = Model(inner, projected, name = "encoder");
        let ex = encoder(x);
        let ey = encoder(y);
        let out = Dense(2, activation = softmax, name = "out")(concatenate([ex, ey, z]));
        let model = Model([a, b, c], out);
        model.compile(optimizer = "adam", loss = "categorical_crossentropy");
    }
}

#[test]
fn a_layer_shared_three_times_and_a_sub_model_called_twice() {
    let mut rng = SplitMix64::new(25);
    let model = Shared::<f64>::new(26);
    // one set of weights per layer, under the layers' own names
    let names: Vec<&str> = Shared::<f64>::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "shared.kernel",
            "shared.bias",
            "layer_normalization.gamma",
            "layer_normalization.beta",
            "proj.kernel",
            "proj.bias",
            "out.kernel",
            "out.bias"
        ]
    );
    let (inputs, targets) = data_for::<Shared<f64>>(&mut rng, 3);
    check_gradients(&model, 3, &inputs, &targets, None);
    check_gradients(&model, 3, &inputs, &targets, Some(&[2.0, 0.5, 1.0]));
}

staticnet::network! {
    /// A network of its own, called as a layer below.
    pub struct Encoder {
        let x = Input(5);
        let h = Dense(4, activation = tanh, name = "hidden")(x);
        let n = BatchNormalization(name = "norm")(h);
        let y = Dense(3, activation = elu, name = "code")(n);
        Model(x, y);
    }
}

staticnet::network! {
    /// Another network's struct called as a layer on two branches (two
    /// instances, each trained through its own backward pass).
    pub struct UsesEncoder {
        let a = Input(5);
        let b = Input(2);
        let code = Encoder(a);
        let other = Encoder(concatenate([b, Dense(3)(b)]));
        let out = Dense(2, activation = softmax, name = "out")(concatenate([code, other]));
        Model([a, b], out);
        compile(loss = categorical_crossentropy);
    }
}

#[test]
fn a_network_called_as_a_layer() {
    let mut rng = SplitMix64::new(27);
    let model = UsesEncoder::<f64>::new(28);
    let names: Vec<&str> = UsesEncoder::<f64>::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(&names[..3], ["encoder.hidden.kernel", "encoder.hidden.bias", "encoder.norm.gamma"]);
    assert!(names.contains(&"encoder_1.code.bias"), "{names:?}");
    let (inputs, targets) = data_for::<UsesEncoder<f64>>(&mut rng, 4);
    check_gradients(&model, 4, &inputs, &targets, None);
}
