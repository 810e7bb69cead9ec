#!/usr/bin/env python3
"""Test tools/keras_to_network.py on Keras models, and write the Rust test of its output.

    python3 tools/convert_examples.py [--out tests/fixtures] [--tests tests] [example …]
    python3 tools/convert_examples.py --list

Each example builds a Keras model in float64 (JAX backend, keras_fixtures'
float64 change), compiles it as a user would, saves it as a .keras file and
converts the file with tools/keras_to_network.py, which checks that the text
builds the same Keras model (tools/network_text.py's `same_model`: layers,
configurations, connections, inputs, heads, compile arguments). Then:

- `tests/fixtures/convert_{example}.weights.safetensors`: the converter's
  f32 weights file (`--weights … --bake …`), which the block bakes in;
- `tests/fixtures/convert_{example}.safetensors`: the weights under
  staticnet's keys (`weights/{key}`), a batch of inputs (`input/{name}`,
  `[batch, …shape]`; token ids as exact f64) and targets (`target/{head}`),
  and Keras's numbers for them: predictions (`expect/output/{head}`), the
  training-mode loss (`expect/loss`, `expect/loss/{head}`), the gradient of
  the total loss (`expect/grad/{key}`, read off Keras as `w − w'` after one
  SGD step with learning rate 1), the losses of three steps of the model's
  own optimizer (`expect/step_loss/{i}`) and every variable after them
  (`expect/step3/{key}`); all f64, with the generated block in the metadata
  (`network`) and the input and head names (`inputs`, `heads`, JSON), as in
  the other fixtures (tests/fixtures/README.md). Keras computes in float64
  throughout: keras_fixtures.keep_float64() stops Keras 3.15 on JAX from
  running tanh, means and normalizations in float32, and the jaxprs of the
  forward pass and the train step are checked to hold no float32 value;
- checks of that file: a second Keras model, built from the text alone,
  loads the weights by their keys and predicts the stored outputs exactly;
  the converter's own `--weights` file (f32 and f64) holds the same keys
  and values; the stored loss is the weighted sum of the heads'; no
  gradient is rounding noise; no softmax or sigmoid output is in the
  cross-entropy's clipped range; no max-pooling window has a tie (but
  between zeros after a relu);
- `tests/converted.rs` (generated; never edit it by hand): each block
  compiled with `staticnet::network!`, its weights loaded from the fixture,
  and Keras's numbers checked in f64 (1e-9) and f32 (1e-4): `forward_slices`
  on the batch, `forward` on each sample, `loss_and_grad_slices`, and three
  steps of the block's `optimizer()`; and the `PRETRAINED` model (the f32
  file baked in) against Keras's predictions.

It also checks that the converter refuses what staticnet cannot express,
with an error naming the layer (`refusals()`), and converts a few smaller
models without fixtures (`accepted()`: a Sequential model, `None` steps, a
sub-model of two inputs, a shared merge layer, a legacy .h5 file, …).

Regenerate everything (the fixtures and tests/converted.rs) with
`python3 tools/convert_examples.py` (about five minutes on two cores); a
subset of examples rewrites their fixtures only (the Rust file needs all of
them).
"""
import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import types
import warnings

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402
import jax  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

import keras_fixtures  # noqa: E402 (float64 Keras on JAX)
import keras_to_network  # noqa: E402
import network_text  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, ".."))
BATCH = 8
COMMAND = "python3 tools/convert_examples.py"

EXAMPLES = {}


def example(name, struct, seed):
    def register(fn):
        EXAMPLES[name] = (fn, struct, seed)
        return fn

    return register


def one_hot(rng, classes):
    return np.eye(classes)[rng.integers(0, classes, BATCH)]


def class_index(rng, classes):
    return rng.integers(0, classes, (BATCH, 1)).astype(np.float64)


def token_ids(rng, vocabulary, length):
    ids = rng.integers(0, vocabulary, (BATCH, length))
    ids[0, 0], ids[1, -1] = 0, vocabulary - 1
    return ids.astype(np.float64)


# --------------------------------------------------------------- examples
# Each returns the compiled Keras model, its inputs {name: [batch, …]} and
# targets {head: [batch, …]} (a class index [batch, 1] for a sparse loss).


@example("seed_mlp", "SeedMlp", seed=31)
def seed_mlp(rng):
    # The seed's classifier as Keras writes it: automatic layer names.
    input_tensor = keras.Input((64,), name="input_tensor")
    x = layers.Dense(32, activation="relu")(input_tensor)
    x = layers.Dense(32, activation="relu")(x)
    output_tensor = layers.Dense(10, activation="softmax")(x)
    model = keras.Model(input_tensor, output_tensor)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    return model, {"input_tensor": rng.standard_normal((BATCH, 64))}, {"dense_2": one_hot(rng, 10)}


@example("seed_qa", "QuestionAnswer", seed=32)
def seed_qa(rng):
    text = keras.Input((40,), name="text")
    question = keras.Input((24,), name="question")
    encoded_text = layers.Dense(32, activation="relu")(text)
    encoded_question = layers.Dense(16, activation="relu")(question)
    concatenated = layers.concatenate([encoded_text, encoded_question], axis=-1)
    answer = layers.Dense(10, activation="softmax", name="answer")(concatenated)
    model = keras.Model([text, question], answer)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return (model, {"text": rng.standard_normal((BATCH, 40)), "question": rng.standard_normal((BATCH, 24))},
            {"answer": one_hot(rng, 10)})


@example("seed_posts", "Posts", seed=33)
def seed_posts(rng):
    posts = keras.Input((48,), name="posts")
    x = layers.Dense(32, activation="relu")(posts)
    x = layers.Dense(32, activation="relu")(x)
    age = layers.Dense(1, name="age")(x)
    income = layers.Dense(10, activation="softmax", name="income")(x)
    gender = layers.Dense(1, activation="sigmoid", name="gender")(x)
    model = keras.Model(posts, [age, income, gender])
    model.compile(optimizer="rmsprop", loss=["mse", "categorical_crossentropy", "binary_crossentropy"],
                  loss_weights=[0.25, 1.0, 10.0])
    return model, {"posts": rng.standard_normal((BATCH, 48))}, {
        "age": rng.standard_normal((BATCH, 1)), "income": one_hot(rng, 10),
        "gender": rng.integers(0, 2, (BATCH, 1)).astype(np.float64)}


@example("image_cnn", "ImageCnn", seed=34)
def image_cnn(rng):
    image = keras.Input((12, 12, 2), name="image")
    x = layers.ZeroPadding2D(1, name="pad")(image)
    x = layers.Conv2D(8, 3, strides=2, activation="relu", name="stem")(x)
    x = layers.BatchNormalization(momentum=0.9, name="bn")(x)
    d = layers.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=False, name="dw")(x)
    d = layers.Activation("relu6", name="dw_relu")(d)
    p = layers.Conv2D(16, (1, 1), name="pw")(x)
    x = layers.add([d, p], name="merge")
    x = layers.SeparableConv2D(8, (3, 3), padding="same", activation="elu", name="sep")(x)
    y = layers.MaxPooling2D(name="max")(x)
    y = layers.AveragePooling2D((2, 2), strides=(1, 1), padding="same", name="avg")(y)
    y = layers.Flatten(name="flat")(y)
    cls = layers.Dense(4, activation="softmax", name="cls")(y)
    g = layers.GlobalAveragePooling2D(name="gap")(x)
    m = layers.GlobalMaxPooling2D(name="gmp")(x)
    score = layers.Dense(1, name="score")(layers.concatenate([g, m], name="pooled"))
    model = keras.Model(image, [cls, score])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.005, beta_2=0.99),
                  loss={"cls": "sparse_categorical_crossentropy", "score": "huber"},
                  loss_weights={"cls": 1.0, "score": 0.5}, metrics={"cls": ["accuracy"]})
    return model, {"image": rng.standard_normal((BATCH, 12, 12, 2))}, {
        "cls": class_index(rng, 4), "score": rng.standard_normal((BATCH, 1))}


@example("sensor_conv1d", "SensorConv1d", seed=35)
def sensor_conv1d(rng):
    imu = keras.Input((20, 3), name="imu")
    x = layers.ZeroPadding1D((2, 0), name="pad")(imu)
    x = layers.Conv1D(6, 3, dilation_rate=2, activation="gelu", name="dilated")(x)
    x = layers.Conv1D(6, 3, padding="causal", use_bias=False, name="causal")(x)
    x = layers.LayerNormalization(epsilon=1e-5, name="norm")(x)
    x = layers.MaxPooling1D(3, strides=2, padding="same", name="max")(x)
    x = layers.AveragePooling1D(2, name="avg")(x)
    f = layers.Flatten(name="flat")(x)
    r = layers.Reshape((4, -1), name="fold")(f)
    g = layers.GlobalMaxPooling1D(name="gmp")(r)
    a = layers.Dense(4, activation="swish", name="a")(g)
    b = layers.Dense(4, activation="selu", name="b")(layers.GlobalAveragePooling1D(name="gap")(x))
    sim = layers.dot([a, b], axes=1, normalize=True, name="sim")
    both = layers.concatenate([a, b, sim], name="both")
    kind = layers.Dense(3, name="kind")(both)
    model = keras.Model(imu, [kind, sim])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                  loss=[keras.losses.CategoricalCrossentropy(from_logits=True), "mae"], loss_weights=[1.0, 2.0])
    return model, {"imu": rng.standard_normal((BATCH, 20, 3))}, {
        "kind": one_hot(rng, 3), "sim": rng.uniform(-1, 1, (BATCH, 1))}


@example("text_rnn", "TextRnn", seed=36)
def text_rnn(rng):
    tokens = keras.Input((10,), dtype="int32", name="tokens")
    e = layers.Embedding(30, 8, name="embed")(tokens)
    x = layers.Bidirectional(layers.GRU(6, return_sequences=True, name="gru"), merge_mode="sum", name="bi")(e)
    x = layers.TimeDistributed(layers.Dense(4, activation="relu", name="dense"), name="frames")(x)
    x = layers.LSTM(5, recurrent_activation="hard_sigmoid", unit_forget_bias=False, name="lstm")(x)
    signal = keras.Input((10, 2), name="signal")
    s = layers.SimpleRNN(4, activation="relu", return_sequences=True, name="rnn")(signal)
    s = layers.Bidirectional(layers.LSTM(3, name="lstm_2"), name="bi_lstm")(s)
    h = layers.concatenate([x, s], name="joined")
    h = layers.Dense(8, activation="tanh", name="hidden")(h)
    out = layers.Dense(3, activation="softmax", name="out")(h)
    model = keras.Model([tokens, signal], out)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.002, rho=0.8, clipnorm=1.0),
                  loss="categorical_crossentropy", metrics=["categorical_accuracy"])
    return (model, {"tokens": token_ids(rng, 30, 10), "signal": rng.standard_normal((BATCH, 10, 2))},
            {"out": one_hot(rng, 3)})


@example("siamese", "Siamese", seed=37)
def siamese(rng):
    left = keras.Input((8,), name="left")
    right = keras.Input((8,), name="right")
    shared = layers.Dense(6, activation="relu", name="shared")
    a, b = shared(left), shared(right)
    enc_in = keras.Input((6,), name="enc_in")
    enc_out = layers.Dense(4, activation="tanh", name="proj")(enc_in)
    encoder = keras.Model(enc_in, enc_out, name="encoder")
    ea, eb = encoder(a), encoder(b)
    diff = layers.subtract([ea, eb], name="diff")
    prod = layers.multiply([ea, eb], name="prod")
    joined = layers.concatenate([diff, prod], name="joined")
    # a Sequential sub-model: Keras's variable paths carry its name
    # (`tower/t1/kernel`), staticnet's keys do not (`t1.kernel`)
    tower = keras.Sequential([keras.Input((8,), name="tower_in"), layers.Dense(4, activation="relu", name="t1")],
                             name="tower")
    same = layers.Dense(1, activation="sigmoid", name="same")(tower(joined))
    dist = layers.Dense(1, name="dist")(diff)
    model = keras.Model([left, right], [same, dist])
    model.compile(optimizer="adam", loss={"same": "binary_crossentropy", "dist": "mse"},
                  loss_weights={"same": 1.0, "dist": 0.5}, metrics={"same": ["accuracy"]})
    return model, {"left": rng.standard_normal((BATCH, 8)), "right": rng.standard_normal((BATCH, 8))}, {
        "same": rng.integers(0, 2, (BATCH, 1)).astype(np.float64), "dist": rng.standard_normal((BATCH, 1))}


@example("shared_lstm_qa", "SharedLstmQa", seed=38)
def shared_lstm_qa(rng):
    # The seed's question-answering model with one Embedding and one LSTM
    # shared by the text and the question (Keras's shared-layer idiom).
    text = keras.Input((10,), dtype="int32", name="text")
    question = keras.Input((10,), dtype="int32", name="question")
    embed = layers.Embedding(40, 8, name="embed")
    encode = layers.LSTM(12, name="encode")
    encoded_text, encoded_question = encode(embed(text)), encode(embed(question))
    both = layers.multiply([encoded_text, encoded_question], name="both")
    merged = layers.concatenate([encoded_text, encoded_question, both], name="merged")
    answer = layers.Dense(16, activation="softmax", name="answer")(merged)
    model = keras.Model([text, question], answer)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return (model, {"text": token_ids(rng, 40, 10), "question": token_ids(rng, 40, 10)},
            {"answer": one_hot(rng, 16)})


# ------------------------------------------------------------- refusals


def refusals():
    """Models the converter must refuse, each with the words its error must
    hold (the layer's name, the argument)."""
    def one(make):
        x = keras.Input((6, 3), name="x")
        return keras.Model(x, make(x))

    cases = [
        (lambda: one(lambda x: layers.Lambda(lambda t: t * 2, name="double")(x)), ["`double`", "Lambda"]),
        (lambda: one(lambda x: layers.GRU(4, reset_after=False, name="old_gru")(x)), ["`old_gru`", "reset_after"]),
        (lambda: one(lambda x: layers.LSTM(4, dropout=0.2, name="drop_lstm")(x)), ["`drop_lstm`", "dropout"]),
        (lambda: one(lambda x: layers.LSTM(4, go_backwards=True, name="back")(x)), ["`back`", "go_backwards"]),
        (lambda: one(lambda x: layers.Dense(2, kernel_regularizer="l2", name="reg")(x)), ["`reg`", "regularizer"]),
        (lambda: one(lambda x: layers.Masking(name="mask")(x)), ["`mask`", "Masking"]),
        (lambda: one(lambda x: layers.Conv1D(2, 3, data_format="channels_first", name="cf")(x)),
         ["`cf`", "data_format"]),
        (lambda: one(lambda x: layers.Dense(2, activation="hard_silu", name="hs")(x)), ["`hs`", "hard_silu"]),
        (lambda: one(lambda x: x * 2.0), ["outside a layer"]),
        (lambda: one(lambda x: layers.Bidirectional(layers.LSTM(2), merge_mode=None, name="pair")(x)[0]),
         ["`pair`"]),
    ]

    def frozen():
        m = one(lambda x: layers.Dense(2, name="frozen")(x))
        m.get_layer("frozen").trainable = False
        return m

    def schedule():
        m = one(lambda x: layers.Dense(2, name="d")(x))
        m.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.ExponentialDecay(0.01, 10, 0.9)),
                  loss="mse")
        return m

    def focal():
        m = one(lambda x: layers.Dense(2, name="d")(x))
        m.compile(optimizer="adam", loss="binary_focal_crossentropy")
        return m

    def state():
        x = keras.Input((6, 3), name="x")
        y, h, c = layers.LSTM(4, return_state=True, name="stateful_lstm")(x)
        return keras.Model(x, [y, h])

    def shared_lengths():
        # Keras runs one LSTM over sequences of any length
        text, question = keras.Input((12, 4), name="text"), keras.Input((6, 4), name="question")
        encode = layers.LSTM(3, name="encode")
        return keras.Model([text, question], layers.concatenate([encode(text), encode(question)], name="both"))

    def submodel_sizes():
        image = keras.Input((None, None, 2), name="image")
        tower = keras.Model(image, layers.GlobalMaxPooling2D(name="gmp")(image), name="tower")
        a, b = keras.Input((8, 8, 2), name="a"), keras.Input((6, 6, 2), name="b")
        return keras.Model([a, b], layers.add([tower(a), tower(b)], name="sum"))

    cases += [(frozen, ["`frozen`", "trainable"]), (shared_lengths, ["`encode`", "(12, 4)", "(6, 4)"]),
              (submodel_sizes, ["`tower`", "(8, 8, 2)", "(6, 6, 2)"]), (schedule, ["learning_rate", "ExponentialDecay"]),
              (focal, ["binary_focal_crossentropy"]), (state, ["`stateful_lstm`"])]
    for make, words in cases:
        keras.backend.clear_session()
        try:
            model = make()
            keras_to_network.convert(model)
        except keras_to_network.Unsupported as e:
            missing = [w for w in words if w not in str(e)]
            assert not missing, f"the error {str(e)!r} does not say {missing}"
            keras_fixtures.log(f"  refused: {e}")
            continue
        raise AssertionError(f"converted a model it should refuse ({words})")


def accepted():
    """Smaller models the converter must take (converted from a file and
    checked by network_text.same_model, no fixture): a Sequential model, an
    input with `None` steps, a sub-model of two inputs, a shared merge layer,
    metrics per head as a list of lists, a loss object with its defaults, a
    legacy .h5 file, an uncompiled model."""
    def sequential():
        m = keras.Sequential([keras.Input((5,), name="features"), layers.Dense(4, activation="relu", name="h"),
                              layers.Dropout(0.1, seed=3, name="drop"), layers.Dense(2, name="y")], name="seq")
        m.compile(optimizer=keras.optimizers.SGD(clipvalue=0.5), loss=keras.losses.MeanSquaredError())
        return m

    def streaming():
        x = keras.Input((None, 3), name="samples")
        h = layers.GRU(4, return_sequences=True, name="gru")(x)
        y = layers.Dense(1, name="y")(layers.BatchNormalization(axis=-1, epsilon=1e-4, name="bn")(h))
        m = keras.Model(x, y, name="stream")
        m.compile(optimizer=keras.optimizers.Adam(amsgrad=True, epsilon=1e-6), loss="mse")
        return m

    def two_input_submodel():
        a_in, b_in = keras.Input((3,), name="a_in"), keras.Input((3,), name="b_in")
        pair = keras.Model([a_in, b_in], layers.maximum([a_in, b_in], name="top"), name="pair")
        x, y, z = (keras.Input((3,), name=n) for n in ("x", "y", "z"))
        cat = layers.Concatenate(name="cat")
        u, v = cat([pair([x, y]), z]), cat([x, y])
        out = layers.Dense(2, activation="softmax", name="out")(layers.average([u, v], name="mean"))
        other = layers.Dense(1, activation="sigmoid", name="other")(u)
        m = keras.Model([x, y, z], [out, other])
        m.compile(optimizer="rmsprop", loss=["categorical_crossentropy", "binary_crossentropy"],
                  metrics=[["accuracy"], ["binary_accuracy", "mae"]])
        return m

    def uncompiled():
        x = keras.Input((4, 4, 1), name="x")
        y = layers.Conv2D(2, (2, 3), dilation_rate=(1, 2), padding="same", name="c")(x)
        return keras.Model(x, layers.GlobalMaxPooling2D(name="g")(y))

    with tempfile.TemporaryDirectory() as tmp:
        for make, suffix in ((sequential, ".keras"), (streaming, ".keras"), (two_input_submodel, ".keras"),
                             (uncompiled, ".keras"), (sequential, ".h5")):
            keras.backend.clear_session()
            path = os.path.join(tmp, make.__name__ + suffix)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                make().save(path)
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = keras_to_network.main([path])
            assert code == 0, f"{make.__name__}{suffix}: exit status {code}"
            keras_fixtures.log(f"  converted {make.__name__}{suffix}:\n" + printed.getvalue().rstrip())


# ---------------------------------------------------------------- checks


def training_numbers(built, keys, inputs, targets):
    """Keras's training numbers for the model as built (its weights already
    randomized), in f64: the training-mode loss (total and per head), the
    gradient of the total (`w − w'` after one SGD step with learning rate 1)
    and the losses of three steps of the model's own optimizer and every
    variable after them. The weights are put back afterwards."""
    model_inputs, heads = keras_fixtures.names(built)
    config = built._compile_config.config
    own = built.optimizer
    x = [np.asarray(inputs[n], dtype=str(t.dtype)) for n, t in zip(model_inputs, built.inputs)]
    x = x if len(x) > 1 else x[0]
    y = [targets[h] for h in heads]
    y = y if len(y) > 1 else y[0]

    def weights():
        return {keys[v.path]: np.array(v.numpy(), dtype=np.float64) for v in built.weights}

    def restore(values):
        for v in built.weights:
            v.assign(values[keys[v.path]])

    def compile_with(optimizer):
        built.compile(optimizer=optimizer, loss=config["loss"], loss_weights=config["loss_weights"])

    w0 = weights()
    trainable = {keys[v.path] for v in built.trainable_weights}
    compile_with(keras.optimizers.SGD(learning_rate=1.0))
    logs = built.train_on_batch(x, y, return_dict=True)
    w1 = weights()
    t = {"expect/loss": np.array(logs["loss"])}
    if len(heads) > 1:
        per = [float(logs[f"{h}_loss"]) for h in heads]
        lw = network_text.per_head(config["loss_weights"], heads, 1.0, "loss_weights")
        total = sum(w * p for w, p in zip(lw, per))
        assert abs(total - logs["loss"]) <= 1e-12 * abs(total), f"loss {logs['loss']} is not Σ w·loss {total}"
        t.update({f"expect/loss/{h}": np.array(p) for h, p in zip(heads, per)})
    for k in trainable:
        g = w0[k] - w1[k]
        # a gradient that is zero in exact arithmetic (a bias before a batch
        # normalization) would be rounding noise, which no test can compare
        assert np.abs(g).max() > 1e-9 * max(np.abs(w0[k]).max(), 1e-3), f"grad {k} is rounding noise"
        t[f"expect/grad/{k}"] = g

    restore(w0)
    compile_with(type(own).from_config(own.get_config()))
    steps = [built.train_on_batch(x, y, return_dict=True)["loss"] for _ in range(3)]
    assert steps[0] == logs["loss"], f"first step's loss {steps[0]} vs {logs['loss']}"
    t.update({f"expect/step_loss/{i}": np.array(l) for i, l in enumerate(steps)})
    t.update({f"expect/step3/{k}": v for k, v in weights().items()})
    # no max-pooling window with a tie (whose gradient would depend on the
    # tie-break) except between zeros after a relu
    ties = keras_fixtures.max_pool_ties(built, x)
    bad = {k: v for k, v in ties.items() if v[0] != v[1] or v[1] and not v[2]}
    assert not bad, f"max-pooling ties other than between zeros after a relu: {bad}"
    # Keras computed all of it in float64 (keras_fixtures.keep_float64: stock
    # Keras 3.15 on JAX runs tanh, means and normalizations in float32)
    keras_fixtures.check_jaxprs_float64(built, types.SimpleNamespace(inputs=inputs, targets=targets))
    restore(w0)
    return t


def run_example(name, out_dir):
    fn, struct, seed = EXAMPLES[name]
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    built, inputs, targets = fn(rng)
    keras_fixtures.randomize(built, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"{name}.keras")
        built.save(path)
        model = keras_to_network.load(path)
        # the test's block bakes in the converter's f32 weights file
        baked = f"tests/fixtures/convert_{name}.weights.safetensors"
        text = keras_to_network.convert(model, struct, bake=baked)
        keras_to_network.check(text, model)
        # the converter's own command: the same text, the weights in f32
        # (the file baked in, written to the fixtures) and f64
        written = {}
        for dtype, weights, bake in (("f32", os.path.join(out_dir, os.path.basename(baked)), ["--bake", baked]),
                                     ("f64", os.path.join(tmp, f"{name}.f64.safetensors"), [])):
            with contextlib.redirect_stdout(io.StringIO()) as printed:
                code = keras_to_network.main([path, "--name", struct, "--weights", weights, "--dtype", dtype,
                                              "--no-check"] + bake)
            block = text if bake else keras_to_network.convert(model, struct)
            assert printed.getvalue() == "staticnet::network! {\n" + "\n".join(
                "    " + l if l else l for l in block.splitlines()) + "\n}\n", "the command prints another block"
            assert code == 0, f"keras_to_network.py exited with {code}"
            written[dtype] = load_file(weights)
    keys = keras_fixtures.weight_keys(model)
    weights = {keys[v.path]: np.asarray(v.numpy(), np.float64) for v in model.weights}
    for dtype, tensors in written.items():
        assert tensors.keys() == weights.keys(), f"--weights {dtype}: keys {sorted(tensors.keys() ^ weights.keys())}"
        for k, v in tensors.items():
            want = weights[k].astype(np.float32) if dtype == "f32" else weights[k]
            assert v.dtype == want.dtype and np.array_equal(v, want), f"--weights {dtype}: {k}"

    model_inputs, heads = network_text.io_names(keras_to_network.graph_of(model))
    xs = [np.asarray(inputs[n], dtype=str(t.dtype)) if "int" in str(t.dtype) else inputs[n]
          for n, t in zip(model_inputs, keras_to_network.graph_of(model).inputs)]
    outputs = model.predict(xs if len(xs) > 1 else xs[0], batch_size=BATCH, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]

    # the training numbers from the model as built, whose weights are the
    # loaded model's (checked) and whose heads are in the same order
    built_keys = keras_fixtures.weight_keys(built)
    assert keras_fixtures.names(built) == (model_inputs, heads)
    assert all(np.array_equal(v.numpy(), weights[built_keys[v.path]]) for v in built.weights)
    training = training_numbers(built, built_keys, inputs, targets)

    tensors = {f"weights/{k}": v for k, v in weights.items()}
    tensors.update({f"input/{n}": inputs[n] for n in model_inputs})
    tensors.update({f"target/{h}": targets[h] for h in heads})
    tensors.update({f"expect/output/{h}": np.asarray(o, np.float64) for h, o in zip(heads, outputs)})
    tensors.update(training)
    for h, o in zip(heads, outputs):
        o = np.asarray(o)
        if keras_to_network.graph_of(model).get_layer(h).get_config().get("activation") in ("softmax", "sigmoid"):
            # no probability in the cross-entropy's clipped range
            assert o.min() > 1e-7 and o.max() < 1 - 1e-7, f"{name}: head {h} is in the clipped range"
    metadata = {
        "network": text,
        "inputs": json.dumps(model_inputs),
        "heads": json.dumps(heads),
        "batch": str(BATCH),
        "steps": "3",
        "case": f"convert_{name}",
        "seed": str(seed),
        "keras": keras.__version__,
        "jax": jax.__version__,
        "generator": "tools/convert_examples.py (the block by tools/keras_to_network.py)",
        "keras_patch": keras_fixtures.PATCH_NOTE,
    }
    file = os.path.join(out_dir, f"convert_{name}.safetensors")
    keras_fixtures.write_safetensors(file, tensors, metadata)

    # a model built from the text alone, its weights loaded by key, predicts the same
    stored = load_file(file)
    keras.backend.clear_session()
    again, _ = network_text.run(text)
    again_keys = keras_fixtures.weight_keys(again)
    for v in again.weights:
        v.assign(stored[f"weights/{again_keys[v.path]}"])
    assert {f"weights/{k}" for k in again_keys.values()} == {k for k in stored if k.startswith("weights/")}
    xs = [np.asarray(stored[f"input/{n}"], dtype=str(t.dtype)) for n, t in zip(model_inputs, again.inputs)]
    again_out = again.predict(xs if len(xs) > 1 else xs[0], batch_size=BATCH, verbose=0)
    again_out = again_out if isinstance(again_out, (list, tuple)) else [again_out]
    for h, o in zip(heads, again_out):
        assert np.array_equal(np.asarray(o), stored[f"expect/output/{h}"]), f"{name}: the text's model, head {h}"
    keras_fixtures.log(f"{name}: wrote {file} ({len(weights)} weights); the text rebuilds the model and, "
                       "loaded by key, predicts the same")
    return {"name": name, "struct": struct, "text": text, "heads": heads,
            "inputs": [(n, int(np.prod(t.shape[1:])), "int" in str(t.dtype))
                       for n, t in zip(model_inputs, keras_to_network.graph_of(model).inputs)],
            "widths": [int(np.prod(o.shape[1:])) for o in outputs]}


# ------------------------------------------------------------ the Rust tests

PREAMBLE = '''//! Generated by tools/convert_examples.py from Keras models converted by
//! tools/keras_to_network.py; do not edit. Regenerate with
//! `{command}`.
//!
//! Each module compiles one converted `network!` block and loads its
//! weights from its fixture (tests/fixtures/convert_*.safetensors,
//! staticnet's keys under `weights/`). Against Keras's numbers in the
//! fixture, in f64 (1e-9 relative) and f32 (1e-4): the batch's outputs
//! through `forward_slices`, each sample's through `forward`, the
//! training-mode loss (total and per head) and gradient of every weight,
//! and the losses of three steps of the model's own optimizer (`compile`'s,
//! as converted) and every tensor after them. Each block also bakes in the
//! converter's f32 weights file (`weights("…")`, from `--weights … --bake
//! …`), whose `PRETRAINED` model must hold the fixture's weights rounded
//! to f32 and predict Keras's outputs to 1e-4.

mod common;
#[path = "common/parity.rs"]
#[macro_use]
mod parity;

use common::*;
use parity::*;
use staticnet::nalgebra::SVector;
use staticnet::{{Network, Scalar}};

/// A block's tests, given its struct and fixture and a `per_sample`
/// function (`forward` on each sample against Keras's outputs): in f64 and
/// f32, [`check`] then `per_sample`; and the weights it bakes in (the
/// converter's f32 file), then `per_sample` on its `PRETRAINED` model.
macro_rules! parity_tests {{
    ($model:ident, $fixture:literal) => {{
        fn run<T: Scalar>() {{
            let (f, model) = check::<T, $model<T>, _>($fixture, NETWORK_TEXT, $model::<T>::optimizer());
            per_sample(&f, &model);
        }}

        precision_tests!(run);

        #[test]
        fn baked_weights_match_keras() {{
            let f = Fixture::load($fixture);
            let model = $model::<f32>::PRETRAINED;
            assert_baked(&f, &model);
            per_sample(&f, &model);
        }}
    }};
}}
'''

HELPERS = '''
/// Sample `s` of token-id input `name` (stored as exact f64 values).
#[allow(dead_code)]
fn ids<const N: usize>(f: &Fixture, name: &str, s: usize) -> SVector<u32, N> {
    SVector::from_iterator(f.get(&format!("input/{name}"))[s * N..(s + 1) * N].iter().map(|&v| v as u32))
}

/// The weights a block bakes in with `weights("…")` (the converter's f32
/// file) are the fixture's, rounded to f32.
fn assert_baked<M: Network<f32>>(f: &Fixture, model: &M) {
    for (i, info) in M::TENSORS.iter().enumerate() {
        let key = format!("weights/{}", info.name);
        let want: Vec<f32> = f.get(&key).iter().map(|&v| v as f32).collect();
        assert_eq!(model.tensor(i), want.as_slice(), "{key}");
    }
}
'''


def rust_module(e):
    text = "\n".join("        " + l if l else l for l in e["text"].splitlines())
    struct = e["struct"]
    lines = [f"mod {e['name']} {{", "    use super::*;", "", "    fixture_network! {", text, "    }", "",
             "    /// `forward` on each sample against Keras's outputs.",
             f"    fn per_sample<T: Scalar>(f: &Fixture, model: &{struct}<T>) {{",
             f"        for s in 0..{BATCH} {{"]
    lines += forward_lines(e)
    lines += ["        }", "    }", "", f"    parity_tests!({struct}, \"convert_{e['name']}\");", "}"]
    return "\n".join(lines)


def forward_lines(e):
    """`forward` on sample `s` against Keras's outputs, in the scalar type `T`."""
    args = []
    for n, width, token_ids in e["inputs"]:
        args.append(f"&ids::<{width}>(f, \"{n}\", s)" if token_ids else f"&sample::<T, {width}>(f, \"{n}\", s)")
    lines = [f"            let out = model.forward({', '.join(args)});"]
    for h, width in zip(e["heads"], e["widths"]):
        field = "out" if len(e["heads"]) == 1 else f"out.{h}"
        lines.append(f"            assert_close(\"forward {h}\", {field}.as_slice(), expected(f, \"{h}\", s, {width}));")
    return lines


def rust_file(examples):
    return PREAMBLE.format(command=COMMAND) + HELPERS + "".join("\n" + rust_module(e) + "\n" for e in examples)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="*", help=f"examples (default: all of {', '.join(EXAMPLES)})")
    parser.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"), help="fixtures directory")
    parser.add_argument("--tests", default=os.path.join(ROOT, "tests"), help="where the Rust test goes")
    parser.add_argument("--list", action="store_true", help="list the examples")
    args = parser.parse_args(argv)
    if args.list:
        for n, (fn, struct, _) in EXAMPLES.items():
            print(f"{n}: {struct}")
        return 0
    unknown = [n for n in args.examples if n not in EXAMPLES]
    if unknown:
        parser.error(f"unknown example(s) {', '.join(unknown)}; known: {', '.join(EXAMPLES)}")
    keras_fixtures.keep_float64()
    warnings.filterwarnings("ignore", message=".*Skipping variable loading for optimizer.*")
    keras_fixtures.log("refusals:")
    refusals()
    keras_fixtures.log("accepted:")
    accepted()
    done = [run_example(n, args.out) for n in (args.examples or EXAMPLES)]
    if args.examples:
        keras_fixtures.log("(a subset: tests/converted.rs is left as it is)")
        return 0
    path = os.path.join(args.tests, "converted.rs")
    # formatted as `cargo fmt` formats it, so that a regenerated file equals the committed one
    formatted = subprocess.run(["rustfmt", "--edition", "2021", "--config-path", os.path.join(ROOT, "rustfmt.toml")],
                               input=rust_file(done), capture_output=True, text=True, check=True).stdout
    with open(path, "w") as out:
        out.write(formatted)
    keras_fixtures.log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
