#!/usr/bin/env python3
"""Write the Keras reference cases of tests/fixtures (convolutional and sequence models).

    python3 tools/keras_fixtures.py [--out tests/fixtures] [case …]
    python3 tools/keras_fixtures.py --list
    python3 tools/keras_fixtures.py --verify [case …]     # check existing files only

Each case builds a Keras model in float64 (JAX backend), draws a seeded batch
and targets, and writes `{out}/{case}.safetensors` in the layout of
tests/fixtures/README.md: the initial weights, the batch, `model.predict`, the
training-mode loss (total and per head), the gradient of the total loss (read
off Keras as `w − w'` after one SGD step with learning rate 1), and the losses
and every variable after three steps of the model's own optimizer. The
metadata holds the model as `network!` text, which the Rust test compiles.

A case is a function registered with `@case(name, seed)`: it gets a seeded
numpy generator (Keras's seed is set too) and returns a `Case` (the compiled
model's parts: model, inputs, targets, loss, loss weights, optimizer factory,
`network!` text, and a line on what it covers). Later cases (shared
layers, sub-models) add a function.

Weight keys are Keras's variable paths with `/` as `.`, leaving out a
recurrent layer's cell (`lstm/lstm_cell/kernel` is `lstm.kernel`) and
shortening a Bidirectional's copies (`bi/forward_lstm/lstm_cell/kernel` is
`bi.forward.kernel`); a wrapped layer keeps its name (`frames/dense/kernel`
is `frames.dense.kernel`); a sub-model's layers keep theirs, with no prefix
(Keras's path of a functional sub-model's variable is already
`proj/kernel`). A layer called several times (a shared layer) has its
variables once. `key()` derives them from the path and
`check_weight_names()` checks them against each layer's structure. Token
ids (an int32 input) are stored as f64 like every tensor, exact, and cast
to the input's dtype before Keras sees them.

Float64 in Keras 3.15 on JAX: Keras's type promotion (`result_type`) maps
float64 to float32 on every backend but TensorFlow, whatever JAX_ENABLE_X64
says, and the ops that promote through it (`ops.mean`, so global average
pooling and the `mse` loss; `BatchNormalization`, `LayerNormalization`,
`tanh`, …) then compute in float32 inside a float64 model. This script makes
that promotion keep float64 (one entry of Keras's table, see
`keep_float64()`), so every number in a fixture is float64 arithmetic on
Keras's own formulas. After writing a file it checks, among others, that
the jaxprs of the model's forward pass and of Keras's train step hold no
float32 value, and (in a child process without the change) that stock Keras
agrees with the file to float32 rounding (stock Keras cannot run a float64
SimpleRNN with tanh at all: the float32 state breaks its `scan`; the script
says so).

After writing, each file is reloaded and checked: the weights load into a
freshly built model by their names; `predict` on the stored batch gives the
stored outputs; an independent `jax.grad` of the stored losses (written here
with Keras's formulas) gives the stored gradients and losses; three fresh
optimizer steps give the stored losses and variables; the `network!` text,
run as Python against keras.layers, builds a model with the same layers,
configurations, connections and compile arguments (tools/network_text.py);
no softmax output sits in the cross-entropy's clipped range; no gradient is
rounding noise around an exact zero; no max-pooling window has a tie
(whose gradient would depend on the tie-break) except between zeros after
a relu (whose gradient is zero either way); and, for models built of
Embedding, SimpleRNN, GRU, LSTM, Bidirectional, TimeDistributed(Dense),
Dense, causal Conv1D, LayerNormalization, merges and pooling/flattening of
sequences, the stored outputs equal a forward pass written out here in numpy
from the stored weights by their keys, with the formulas of DESIGN.md
("Keras semantics to match"), to 1e-12 (`reference_forward`).
"""
import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
import warnings
from typing import Callable

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network_text  # noqa: E402
from network_text import optimizer_config  # noqa: E402

assert keras.backend.backend() == "jax", "run with KERAS_BACKEND=jax"
assert jax.config.jax_enable_x64, "run with JAX_ENABLE_X64=1"
keras.config.set_floatx("float64")
# A one-input functional model called on an array rather than a list says so.
warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "tests", "fixtures"))
BATCH = 8
STEPS = 3
PATCH_NOTE = (
    "keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE['float64'] = 'float64' "
    "(stock Keras 3.15 on JAX promotes float64 to float32 in ops.mean, "
    "BatchNormalization and others); see tools/keras_fixtures.py"
)


def keep_float64():
    """Make Keras's type promotion keep float64 on JAX, as JAX itself does
    with JAX_ENABLE_X64 (stock Keras maps it to float32 unless the backend is
    TensorFlow). Nothing else changes: the formulas are Keras's."""
    from keras.src.backend.common import dtypes

    dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"


def write_safetensors(path, tensors, metadata):
    """A safetensors file with its header in a fixed order (names and
    metadata sorted), so that regenerating a fixture gives the same bytes."""
    header = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, offset = [], 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name], dtype="<f8")
        data = a.tobytes(order="C")
        header[name] = {"dtype": "F64", "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as out:
        out.write(len(raw).to_bytes(8, "little"))
        out.write(raw)
        for blob in blobs:
            out.write(blob)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the cases


@dataclasses.dataclass
class Case:
    model: keras.Model
    inputs: dict  # input name -> [batch, …shape]
    targets: dict  # head name -> [batch, units] (a class index [batch, 1] for sparse losses)
    loss: list  # one Keras loss name per head, in output order
    loss_weights: list | None
    optimizer: Callable[[], keras.optimizers.Optimizer]  # a fresh instance of the model's optimizer
    network: str  # the model as `network!` text
    covers: str  # one line for the README
    batch: int = BATCH
    steps: int = STEPS
    name: str = ""  # set by build()
    seed: int = 0


CASES = {}


def case(name, seed):
    def register(fn):
        CASES[name] = (fn, seed)
        return fn

    return register


def randomize(model, rng):
    """Nonzero biases, and batch normalizations whose affine and moving
    statistics are not the identity (as the anchors did), so every term is
    seen and no pre-activation sits at exactly zero."""
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape
            layer.gamma.assign(rng.uniform(0.5, 1.5, n))
            layer.beta.assign(rng.uniform(-0.1, 0.1, n))
            layer.moving_mean.assign(rng.uniform(-0.1, 0.1, n))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, n))
            continue
        for v in layer.weights:
            if v.path.split("/")[-1] == "bias":
                v.assign(rng.uniform(-0.1, 0.1, v.shape))
    return model


def one_hot(rng, classes):
    return np.eye(classes)[rng.integers(0, classes, BATCH)]


def class_index(rng, classes):
    return rng.integers(0, classes, (BATCH, 1)).astype(np.float64)


@case("conv1d_sensor", seed=11)
def conv1d_sensor(rng):
    imu = keras.Input((32, 3), name="imu")
    x = layers.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu", name="c1")(imu)
    x = layers.Conv1D(8, 3, strides=2, padding="same", activation="relu", name="c2")(x)
    x = layers.MaxPooling1D(2, name="pool")(x)
    x = layers.Conv1D(12, 3, padding="valid", name="c3")(x)
    x = layers.AveragePooling1D(3, strides=2, padding="same", name="avg")(x)
    a = layers.GlobalAveragePooling1D(name="gap")(x)
    activity = layers.Dense(4, activation="softmax", name="activity")(a)
    m = layers.GlobalMaxPooling1D(name="gmp")(x)
    level = layers.Dense(1, name="level")(m)
    model = randomize(keras.Model(imu, [activity, level]), rng)
    network = """
pub struct Conv1dSensor {
    let imu = Input(shape = (32, 3));
    let x = Conv1D(8, 3, padding = "causal", dilation_rate = 2, activation = relu, name = "c1")(imu);
    let x = Conv1D(8, 3, strides = 2, padding = "same", activation = relu, name = "c2")(x);
    let x = MaxPooling1D(2, name = "pool")(x);
    let x = Conv1D(12, 3, padding = "valid", name = "c3")(x);
    let x = AveragePooling1D(3, strides = 2, padding = "same", name = "avg")(x);
    let a = GlobalAveragePooling1D(name = "gap")(x);
    let activity = Dense(4, activation = softmax, name = "activity")(a);
    let m = GlobalMaxPooling1D(name = "gmp")(x);
    let level = Dense(1, name = "level")(m);
    Model(imu, [activity, level]);
    compile(
        optimizer = adam,
        loss = [sparse_categorical_crossentropy, mse],
        loss_weights = [1.0, 0.5],
    );
}"""
    return Case(
        model=model,
        inputs={"imu": rng.standard_normal((BATCH, 32, 3))},
        targets={"activity": class_index(rng, 4), "level": rng.standard_normal((BATCH, 1))},
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
        optimizer=lambda: keras.optimizers.Adam(),
        network=network,
        covers="Conv1D causal with dilation 2, `same` with stride 2, `valid`; MaxPooling1D; "
        "AveragePooling1D `same` (stride 2, the last window partly padding); "
        "GlobalAveragePooling1D and GlobalMaxPooling1D into two heads "
        "(sparse categorical cross-entropy and mse, weights 1 and 0.5); adam",
    )


@case("kws_dscnn", seed=12)
def kws_dscnn(rng):
    mfcc = keras.Input((49, 10, 1), name="mfcc")
    # No bias on the convolutions that a batch normalization follows: the
    # normalization removes it, so its gradient is zero up to rounding noise,
    # which no relative tolerance can compare.
    x = layers.Conv2D(16, (10, 4), strides=(2, 2), padding="same", use_bias=False, name="conv0")(mfcc)
    x = layers.BatchNormalization(name="bn0")(x)
    x = layers.Activation("relu", name="relu0")(x)
    for i in (1, 2):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"bn_dw{i}")(x)
        x = layers.Activation("relu", name=f"relu_dw{i}")(x)
        x = layers.Conv2D(16, (1, 1), use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"bn_pw{i}")(x)
        x = layers.Activation("relu", name=f"relu_pw{i}")(x)
    x = layers.SeparableConv2D(16, (3, 3), padding="same", activation="relu", name="sep")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    fc = layers.Dense(12, activation="softmax", name="fc")(x)
    model = randomize(keras.Model(mfcc, fc), rng)
    network = """
pub struct KwsDscnn {
    let mfcc = Input(shape = (49, 10, 1));
    let x = Conv2D(16, (10, 4), strides = (2, 2), padding = "same", use_bias = false, name = "conv0")(mfcc);
    let x = BatchNormalization(name = "bn0")(x);
    let x = Activation(relu, name = "relu0")(x);
    let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw1")(x);
    let x = BatchNormalization(name = "bn_dw1")(x);
    let x = Activation(relu, name = "relu_dw1")(x);
    let x = Conv2D(16, (1, 1), use_bias = false, name = "pw1")(x);
    let x = BatchNormalization(name = "bn_pw1")(x);
    let x = Activation(relu, name = "relu_pw1")(x);
    let x = DepthwiseConv2D((3, 3), padding = "same", use_bias = false, name = "dw2")(x);
    let x = BatchNormalization(name = "bn_dw2")(x);
    let x = Activation(relu, name = "relu_dw2")(x);
    let x = Conv2D(16, (1, 1), use_bias = false, name = "pw2")(x);
    let x = BatchNormalization(name = "bn_pw2")(x);
    let x = Activation(relu, name = "relu_pw2")(x);
    let x = SeparableConv2D(16, (3, 3), padding = "same", activation = relu, name = "sep")(x);
    let x = GlobalAveragePooling2D(name = "gap")(x);
    let fc = Dense(12, activation = softmax, name = "fc")(x);
    Model(mfcc, fc);
    compile(optimizer = rmsprop, loss = categorical_crossentropy);
}"""
    return Case(
        model=model,
        inputs={"mfcc": rng.standard_normal((BATCH, 49, 10, 1))},
        targets={"fc": one_hot(rng, 12)},
        loss=["categorical_crossentropy"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.RMSprop(),
        network=network,
        covers="the keyword-spotting DS-CNN at 16 channels: Conv2D (10, 4) stride 2 `same`, "
        "2 blocks of DepthwiseConv2D 3×3 `same` and 1×1 Conv2D (no biases before the "
        "normalizations), each followed by "
        "BatchNormalization (random moving statistics; batch statistics in training, "
        "moving statistics updated by each step) and Activation relu; SeparableConv2D; "
        "GlobalAveragePooling2D; rmsprop",
    )


@case("residual_image", seed=13)
def residual_image(rng):
    image = keras.Input((8, 8, 2), name="image")
    padded = layers.ZeroPadding2D(((1, 2), (2, 1)), name="pad")(image)
    x = layers.Conv2D(6, (3, 3), strides=(1, 1), padding="valid", activation="relu", name="c1")(padded)
    x = layers.Conv2D(6, (3, 3), padding="same", dilation_rate=(2, 2), name="c2")(x)
    # The shortcut: a projection of the padded input to the block's output
    # shape (a 1×1 projection would keep 11×11; this 3×3 `valid` one gives 9×9).
    shortcut = layers.Conv2D(6, (3, 3), padding="valid", use_bias=False, name="proj")(padded)
    x = layers.add([x, shortcut], name="skip")
    x = layers.Activation("relu", name="relu")(x)
    x = layers.MaxPooling2D((2, 2), padding="same", name="max")(x)
    x = layers.AveragePooling2D((2, 2), strides=(1, 1), padding="valid", name="avg")(x)
    x = layers.DepthwiseConv2D((2, 2), depth_multiplier=2, name="dw")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(10, activation="relu", name="hidden")(x)
    x = layers.Reshape((5, 2), name="fold")(x)
    x = layers.Flatten(name="flat_1")(x)
    out = layers.Dense(3, activation="softmax", name="out")(x)
    model = randomize(keras.Model(image, out), rng)
    network = """
pub struct ResidualImage {
    let image = Input(shape = (8, 8, 2));
    let padded = ZeroPadding2D(((1, 2), (2, 1)), name = "pad")(image);
    let x = Conv2D(6, (3, 3), strides = (1, 1), padding = "valid", activation = relu, name = "c1")(padded);
    let x = Conv2D(6, (3, 3), padding = "same", dilation_rate = (2, 2), name = "c2")(x);
    let shortcut = Conv2D(6, (3, 3), padding = "valid", use_bias = false, name = "proj")(padded);
    let x = add([x, shortcut], name = "skip");
    let x = Activation(relu, name = "relu")(x);
    let x = MaxPooling2D((2, 2), padding = "same", name = "max")(x);
    let x = AveragePooling2D((2, 2), strides = (1, 1), padding = "valid", name = "avg")(x);
    let x = DepthwiseConv2D((2, 2), depth_multiplier = 2, name = "dw")(x);
    let x = Flatten(name = "flat")(x);
    let x = Dense(10, activation = relu, name = "hidden")(x);
    let x = Reshape((5, 2), name = "fold")(x);
    let x = Flatten(name = "flat_1")(x);
    let out = Dense(3, activation = softmax, name = "out")(x);
    Model(image, out);
    compile(optimizer = SGD(learning_rate = 0.05, momentum = 0.9), loss = categorical_crossentropy);
}"""
    return Case(
        model=model,
        inputs={"image": rng.standard_normal((BATCH, 8, 8, 2))},
        targets={"out": one_hot(rng, 3)},
        loss=["categorical_crossentropy"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.SGD(learning_rate=0.05, momentum=0.9),
        network=network,
        covers="ZeroPadding2D ((1, 2), (2, 1)); Conv2D `valid`, `same` with dilation (2, 2), and "
        "without bias (the shortcut projection); `add`; MaxPooling2D `same` (9×9 to 5×5); "
        "AveragePooling2D stride 1 `valid`; DepthwiseConv2D with depth_multiplier 2; "
        "Flatten, Dense on it, Reshape and Flatten again; SGD with momentum 0.9",
    )


@case("image_branches", seed=14)
def image_branches(rng):
    image = keras.Input((16, 15, 3), name="image")
    t = layers.Conv2D(6, (3, 3), strides=(2, 3), padding="valid", activation="elu", name="strided")(image)
    d = layers.Conv2D(4, (3, 3), padding="same", dilation_rate=(2, 1), activation="sigmoid",
                      use_bias=False, name="dilated")(t)
    p = layers.Conv2D(3, (1, 1), name="point")(t)
    c = layers.concatenate([d, p], axis=-1, name="cat")
    x = layers.AveragePooling2D((3, 3), strides=(2, 2), padding="same", name="avg")(c)
    x = layers.SeparableConv2D(8, (3, 3), strides=(2, 2), padding="same", depth_multiplier=2, name="sep")(x)
    x = layers.GlobalMaxPooling2D(name="gmp")(x)
    cls = layers.Dense(5, activation="softmax", name="cls")(x)
    y = layers.MaxPooling2D((3, 3), strides=(2, 1), padding="valid", name="max")(c)
    y = layers.Reshape((3, -1), name="rows")(y)
    y = layers.GlobalAveragePooling1D(name="row_mean")(y)
    score = layers.Dense(1, name="score")(y)
    model = randomize(keras.Model(image, [cls, score]), rng)
    network = """
pub struct ImageBranches {
    let image = Input(shape = (16, 15, 3));
    let t = Conv2D(6, (3, 3), strides = (2, 3), padding = "valid", activation = elu, name = "strided")(image);
    let d = Conv2D(4, (3, 3), padding = "same", dilation_rate = (2, 1), activation = sigmoid, use_bias = false, name = "dilated")(t);
    let p = Conv2D(3, (1, 1), name = "point")(t);
    let c = concatenate([d, p], axis = -1, name = "cat");
    let x = AveragePooling2D((3, 3), strides = (2, 2), padding = "same", name = "avg")(c);
    let x = SeparableConv2D(8, (3, 3), strides = (2, 2), padding = "same", depth_multiplier = 2, name = "sep")(x);
    let x = GlobalMaxPooling2D(name = "gmp")(x);
    let cls = Dense(5, activation = softmax, name = "cls")(x);
    let y = MaxPooling2D((3, 3), strides = (2, 1), padding = "valid", name = "max")(c);
    let y = Reshape((3, -1), name = "rows")(y);
    let y = GlobalAveragePooling1D(name = "row_mean")(y);
    let score = Dense(1, name = "score")(y);
    Model(image, [cls, score]);
    compile(
        optimizer = RMSprop(learning_rate = 0.01),
        loss = [categorical_crossentropy, mse],
        loss_weights = [1.0, 2.0],
    );
}"""
    return Case(
        model=model,
        inputs={"image": rng.standard_normal((BATCH, 16, 15, 3))},
        targets={"cls": one_hot(rng, 5), "score": rng.standard_normal((BATCH, 1))},
        loss=["categorical_crossentropy", "mse"],
        loss_weights=[1.0, 2.0],
        optimizer=lambda: keras.optimizers.RMSprop(learning_rate=0.01),
        network=network,
        covers="Conv2D strides (2, 3) `valid` with elu; Conv2D dilation (2, 1) `same`, sigmoid, "
        "no bias; 1×1 Conv2D; `concatenate` of the two conv branches on channels; "
        "AveragePooling2D 3×3 stride 2 `same` (padding on both sides, edges average real values only); "
        "SeparableConv2D depth_multiplier 2, stride 2 `same`; GlobalMaxPooling2D; MaxPooling2D 3×3 "
        "strides (2, 1) `valid`; Reshape((3, -1)); GlobalAveragePooling1D; two heads (categorical "
        "cross-entropy and mse, weights 1 and 2); RMSprop(learning_rate = 0.01)",
    )


@case("signal_branches", seed=15)
def signal_branches(rng):
    signal = keras.Input((30, 4), name="signal")
    x = layers.ZeroPadding1D((2, 1), name="pad")(signal)
    x = layers.Conv1D(6, 3, dilation_rate=3, padding="valid", use_bias=False, name="dilated")(x)
    x = layers.MaxPooling1D(3, strides=2, padding="valid", name="max")(x)
    a = layers.Conv1D(4, 2, padding="same", activation="relu", name="wide")(x)
    b = layers.Conv1D(3, 5, padding="causal", activation="elu", name="causal")(x)
    x = layers.concatenate([a, b], name="cat")
    x = layers.AveragePooling1D(2, strides=3, padding="valid", name="avg")(x)
    x = layers.Flatten(name="flat")(x)
    out = layers.Dense(3, activation="softmax", name="out")(x)
    model = randomize(keras.Model(signal, out), rng)
    network = """
pub struct SignalBranches {
    let signal = Input(shape = (30, 4));
    let x = ZeroPadding1D((2, 1), name = "pad")(signal);
    let x = Conv1D(6, 3, dilation_rate = 3, padding = "valid", use_bias = false, name = "dilated")(x);
    let x = MaxPooling1D(3, strides = 2, padding = "valid", name = "max")(x);
    let a = Conv1D(4, 2, padding = "same", activation = relu, name = "wide")(x);
    let b = Conv1D(3, 5, padding = "causal", activation = elu, name = "causal")(x);
    let x = concatenate([a, b], name = "cat");
    let x = AveragePooling1D(2, strides = 3, padding = "valid", name = "avg")(x);
    let x = Flatten(name = "flat")(x);
    let out = Dense(3, activation = softmax, name = "out")(x);
    Model(signal, out);
    compile(optimizer = Adam(learning_rate = 0.005), loss = sparse_categorical_crossentropy);
}"""
    return Case(
        model=model,
        inputs={"signal": rng.standard_normal((BATCH, 30, 4))},
        targets={"out": class_index(rng, 3)},
        loss=["sparse_categorical_crossentropy"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.Adam(learning_rate=0.005),
        network=network,
        covers="ZeroPadding1D (2, 1); Conv1D dilation 3 `valid` without bias; MaxPooling1D 3 "
        "stride 2 `valid`; Conv1D `same` with an even kernel (2) and `causal` with elu; "
        "`concatenate` (default axis); AveragePooling1D 2 stride 3 `valid`; Flatten; sparse "
        "categorical cross-entropy; Adam(learning_rate = 0.005)",
    )


# ------------------------------------------------------- sequence cases


def token_ids(rng, vocabulary, length):
    """Token ids [batch, length] (f64, exact) with 0 and the top ids of the
    vocabulary among them, so the first and last rows of the embedding are used."""
    ids = rng.integers(0, vocabulary, (BATCH, length))
    ids[0, 0], ids[1, -1], ids[2, length // 2] = 0, vocabulary - 1, vocabulary - 2
    ids[3, 1] = ids[4, 2] = 0
    return ids.astype(np.float64)


@case("seed_qa_lstm", seed=16)
def seed_qa_lstm(rng):
    # Chollet, Deep Learning with Python, §7.1.1 (a two-input question
    # answering model), with small vocabularies and fixed lengths.
    text = keras.Input((12,), dtype="int32", name="text")
    embedded_text = layers.Embedding(60, 64, name="text_embedding")(text)
    encoded_text = layers.LSTM(32, name="text_lstm")(embedded_text)
    question = keras.Input((6,), dtype="int32", name="question")
    embedded_question = layers.Embedding(40, 32, name="question_embedding")(question)
    encoded_question = layers.LSTM(16, name="question_lstm")(embedded_question)
    concatenated = layers.concatenate([encoded_text, encoded_question], axis=-1, name="concatenated")
    answer = layers.Dense(20, activation="softmax", name="answer")(concatenated)
    model = randomize(keras.Model([text, question], answer), rng)
    network = """
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
}"""
    return Case(
        model=model,
        inputs={"text": token_ids(rng, 60, 12), "question": token_ids(rng, 40, 6)},
        targets={"answer": one_hot(rng, 20)},
        loss=["categorical_crossentropy"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.RMSprop(),
        network=network,
        covers="the seed book's question-answering model (Deep Learning with Python §7.1.1): two int32 "
        "inputs (token ids, 0 and the top ids included; stored as f64), Embedding 60×64 and 40×32, "
        "LSTM 32 and 16 (last state), `concatenate`, Dense 20 softmax; categorical cross-entropy; rmsprop",
    )


@case("sequence_stack", seed=17)
def sequence_stack(rng):
    seq = keras.Input((10, 4), name="seq")
    x = layers.GRU(6, return_sequences=True, name="gru")(seq)
    x = layers.SimpleRNN(5, activation="relu", use_bias=False, return_sequences=True, name="rnn")(x)
    x = layers.TimeDistributed(layers.Dense(3, name="dense"), name="frames")(x)
    x = layers.Bidirectional(layers.LSTM(4, return_sequences=True, name="lstm"), merge_mode="sum", name="bi_sum")(x)
    h = layers.GRU(3, recurrent_activation="hard_sigmoid", name="last")(x)
    label = layers.Dense(2, activation="softmax", name="label")(h)
    b = layers.Bidirectional(layers.GRU(2, name="gru_2"), merge_mode="concat", name="bi_concat")(x)
    value = layers.Dense(1, name="value")(b)
    model = randomize(keras.Model(seq, [label, value]), rng)
    network = """
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
}"""
    return Case(
        model=model,
        inputs={"seq": rng.standard_normal((BATCH, 10, 4))},
        targets={"label": one_hot(rng, 2), "value": rng.standard_normal((BATCH, 1))},
        loss=["categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
        optimizer=lambda: keras.optimizers.Adam(),
        network=network,
        covers="GRU (reset_after) with return_sequences; SimpleRNN relu without bias; TimeDistributed(Dense); "
        "Bidirectional(LSTM) with return_sequences, merge_mode `sum`; two heads from the sequence: "
        "GRU with recurrent_activation hard_sigmoid (last state) → Dense softmax (categorical "
        "cross-entropy), Bidirectional(GRU) last states `concat` → Dense 1 (mse); loss weights 1 and "
        "0.5; adam",
    )


@case("bidi_merges", seed=18)
def bidi_merges(rng):
    seq = keras.Input((7, 3), name="seq")
    a = layers.Bidirectional(layers.SimpleRNN(4, return_sequences=True, name="rnn"), merge_mode="mul",
                             name="bi_mul")(seq)
    a = layers.LayerNormalization(name="norm")(a)
    b = layers.Bidirectional(layers.GRU(3, return_sequences=True, name="gru"),
                             merge_mode="ave", name="bi_ave")(a)
    p = layers.Dense(3, activation="tanh", name="proj")(seq)
    m = layers.add([b, p], name="skip")
    m = layers.LSTM(3, activation="softsign", unit_forget_bias=False, return_sequences=True, name="lstm")(m)
    g = layers.GlobalAveragePooling1D(name="gap")(m)
    f = layers.Flatten(name="flat")(m)
    h = layers.concatenate([g, f], name="cat")
    out = layers.Dense(3, activation="softmax", name="out")(h)
    model = randomize(keras.Model(seq, out), rng)
    network = """
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
}"""
    return Case(
        model=model,
        inputs={"seq": rng.standard_normal((BATCH, 7, 3))},
        targets={"out": one_hot(rng, 3)},
        loss=["categorical_crossentropy"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.Adam(learning_rate=0.01),
        network=network,
        covers="Bidirectional(SimpleRNN) `mul` and Bidirectional(GRU, bias [2, 3U]) "
        "`ave`, both with return_sequences; LayerNormalization per step; Dense tanh on the last axis of "
        "a sequence; `add` of sequences; LSTM softsign with unit_forget_bias = false; "
        "GlobalAveragePooling1D and Flatten of a sequence, `concatenate`; Adam(learning_rate = 0.01)",
    )


@case("per_step_head", seed=19)
def per_step_head(rng):
    seq = keras.Input((12, 3), name="seq")
    h = layers.LSTM(5, return_sequences=True, name="lstm")(seq)
    tags = layers.TimeDistributed(layers.Dense(4, activation="softmax", name="dense"), name="tags")(h)
    level = layers.Dense(1, name="level")(h)
    model = randomize(keras.Model(seq, [tags, level]), rng)
    network = """
pub struct PerStepHead {
    let seq = Input(shape = (12, 3));
    let h = LSTM(5, return_sequences = true, name = "lstm")(seq);
    let tags = TimeDistributed(Dense(4, activation = softmax, name = "dense"), name = "tags")(h);
    let level = Dense(1, name = "level")(h);
    Model(seq, [tags, level]);
    compile(optimizer = rmsprop, loss = [sparse_categorical_crossentropy, mse]);
}"""
    return Case(
        model=model,
        inputs={"seq": rng.standard_normal((BATCH, 12, 3))},
        # a class index per step, [batch, steps, 1] (Keras takes [batch, steps] too, same loss)
        targets={"tags": rng.integers(0, 4, (BATCH, 12, 1)).astype(np.float64),
                 "level": rng.standard_normal((BATCH, 12, 1))},
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.RMSprop(),
        network=network,
        covers="per-step heads: LSTM with return_sequences → TimeDistributed(Dense 4 softmax) with sparse "
        "categorical cross-entropy on a class index per step (target [batch, 12, 1]) and Dense 1 on the "
        "last axis with mse (target [batch, 12, 1]); each loss the mean over batch and steps; rmsprop",
    )


@case("causal_stream", seed=20)
def causal_stream(rng):
    signal = keras.Input((16, 2), name="signal")
    x = layers.Conv1D(4, 3, padding="causal", dilation_rate=2, name="conv")(signal)
    x = layers.GRU(6, return_sequences=True, name="gru")(x)
    x = layers.LSTM(5, return_sequences=True, name="lstm")(x)
    y = layers.Dense(1, name="y")(x)
    model = randomize(keras.Model(signal, y), rng)
    network = """
pub struct CausalStream {
    let signal = Input(shape = (16, 2));
    let x = Conv1D(4, 3, padding = "causal", dilation_rate = 2, name = "conv")(signal);
    let x = GRU(6, return_sequences = true, name = "gru")(x);
    let x = LSTM(5, return_sequences = true, name = "lstm")(x);
    let y = Dense(1, name = "y")(x);
    Model(signal, y);
    compile(optimizer = sgd, loss = mse);
}"""
    return Case(
        model=model,
        inputs={"signal": rng.standard_normal((BATCH, 16, 2))},
        targets={"y": rng.standard_normal((BATCH, 16, 1))},
        loss=["mse"],
        loss_weights=None,
        optimizer=lambda: keras.optimizers.SGD(),
        network=network,
        covers="a streamable model: Conv1D `causal` with dilation 2 → GRU → LSTM (both with "
        "return_sequences) → Dense 1 per step (mse over batch and steps, target [batch, 16, 1]); sgd "
        "(for `step()` against the whole-sequence output)",
    )


# ------------------------------------------------------------ computation


RNN_CELLS = ("simple_rnn_cell", "gru_cell", "lstm_cell")  # the fixed names Keras 3.15 gives an RNN's cell


def key(variable):
    """staticnet's name of a Keras variable: its path with `/` as `.`,
    leaving out a recurrent layer's cell (`lstm/lstm_cell/kernel` is
    `lstm.kernel`) and shortening a Bidirectional's copies, which Keras names
    `forward_{inner}` and `backward_{inner}`, to `forward` and `backward`
    (`bi/forward_lstm/lstm_cell/kernel` is `bi.forward.kernel`); a wrapped
    layer keeps its own name (`frames/dense/kernel` is `frames.dense.kernel`).
    `check_weight_names` checks this against the model's structure."""
    parts = [p for p in variable.path.split("/") if p not in RNN_CELLS]
    if len(parts) == 3 and re.fullmatch(r"(forward|backward)_.+", parts[1]):
        parts[1] = parts[1].split("_", 1)[0]
    return ".".join(parts)


def names(model):
    inputs = [t._keras_history.operation.name for t in model.inputs]
    heads = [t._keras_history.operation.name for t in model.outputs]
    return inputs, heads


def arranged(model, c):
    """The batch and targets in Keras's argument form."""
    inputs, heads = names(model)
    xs = []
    for n, t in zip(inputs, model.inputs):
        x = c.inputs[n]
        if "int" in str(t.dtype):
            # token ids: stored as f64 like every tensor of a fixture, exact
            assert np.array_equal(x, np.round(x)) and x.min() >= 0, f"input {n}: not token ids"
            x = np.asarray(x, dtype=str(t.dtype))
        xs.append(x)
    ys = [c.targets[h] for h in heads]
    return (xs if len(xs) > 1 else xs[0]), (ys if len(ys) > 1 else ys[0])


def variables(model):
    return {key(v): np.array(v.numpy(), dtype=np.float64) for v in model.weights}


def set_variables(model, values):
    for v in model.weights:
        v.assign(values[key(v)])


def compile_with(model, c, optimizer):
    model.compile(optimizer=optimizer, loss=c.loss, loss_weights=c.loss_weights)


def build(name):
    fn, seed = CASES[name]
    keras.backend.clear_session()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    c = fn(rng)
    c.name, c.seed = name, seed
    return c


def structural_keys(layer):
    """The keys of a top-level layer's variables, from the layer's structure
    (what `key` must agree with): {variable path: key}."""
    def rnn(l):
        # a recurrent layer's variables are its cell's; anything else's are its own
        return l.cell if isinstance(l, layers.RNN) else l

    out = {}
    if isinstance(layer, keras.Model):
        # a sub-model (functional or Sequential): its layers keep their own
        # names, with no prefix (Keras 3.15 gives a functional sub-model's
        # variables their layer's path, `proj/kernel`, but a Sequential's its
        # own name in front, `tower/s1/kernel`: the structure decides)
        for inner in layer.layers:
            out.update(structural_keys(inner))
    elif isinstance(layer, layers.Bidirectional):
        for side, inner in (("forward", layer.forward_layer), ("backward", layer.backward_layer)):
            for v in rnn(inner).weights:
                out[v.path] = f"{layer.name}.{side}.{v.name}"
    elif isinstance(layer, layers.TimeDistributed):
        for v in layer.layer.weights:
            out[v.path] = f"{layer.name}.{layer.layer.name}.{v.name}"
    else:
        for v in rnn(layer).weights:
            out[v.path] = f"{layer.name}.{v.name}"
    return out


def check_weight_names(model):
    """Every variable's key (`key`, from its path) is the one its layer's
    structure gives (`{layer}.{variable}`, `{bidirectional}.forward.{variable}`,
    `{time_distributed}.{inner layer}.{variable}`), and the keys are unique;
    returns the mapping as text."""
    rows, seen = [], set()
    for layer in model.layers:
        want = structural_keys(layer)
        assert {v.path for v in layer.weights} == set(want), f"{layer.name}: variables {[v.path for v in layer.weights]}"
        for v in layer.weights:
            assert key(v) == want[v.path], f"{v.path}: key {key(v)}, structure says {want[v.path]}"
            assert key(v) not in seen, f"two variables named {key(v)}"
            seen.add(key(v))
            rows.append(f"{type(layer).__name__:22s} {v.path:40s} -> {key(v):28s} {list(v.shape)}")
    return rows


def weight_keys(model):
    """{variable path: key} for every variable of the model, from its
    structure (`structural_keys`; a Sequential sub-model's paths carry its
    name, its keys do not), with each variable once however often its layer
    is called; a key that two variables would share is an error naming it."""
    out, owner = {}, {}
    for layer in model.layers:
        for path, k in structural_keys(layer).items():
            if path in out:
                assert out[path] == k, f"{path}: keys {out[path]} and {k}"
                continue
            assert k not in owner, f"two variables named {k}: {owner[k]} and {path}"
            out[path], owner[k] = k, path
    return out


def compute(c):
    """Everything the fixture holds, from Keras."""
    model = c.model
    inputs, heads = names(model)
    x, y = arranged(model, c)
    w0 = variables(model)
    trainable = [key(v) for v in model.trainable_weights]

    outputs = model.predict(x, batch_size=c.batch, verbose=0)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]

    compile_with(model, c, keras.optimizers.SGD(learning_rate=1.0))
    logs = model.train_on_batch(x, y, return_dict=True)
    w1 = variables(model)
    grads = {k: w0[k] - w1[k] for k in trainable}

    set_variables(model, w0)
    compile_with(model, c, c.optimizer())
    step_losses = [model.train_on_batch(x, y, return_dict=True)["loss"] for _ in range(c.steps)]
    step3 = variables(model)
    set_variables(model, w0)

    t = {}
    for k, v in w0.items():
        t[f"weights/{k}"] = v
    for n in inputs:
        t[f"input/{n}"] = c.inputs[n]
    for h in heads:
        t[f"target/{h}"] = c.targets[h]
    for h, o in zip(heads, outputs):
        t[f"expect/output/{h}"] = np.asarray(o)
    t["expect/loss"] = np.array(logs["loss"])
    if len(heads) > 1:
        for h in heads:
            t[f"expect/loss/{h}"] = np.array(logs[f"{h}_loss"])
    for k, g in grads.items():
        t[f"expect/grad/{k}"] = g
    for i, l in enumerate(step_losses):
        t[f"expect/step_loss/{i}"] = np.array(l)
    for k, v in step3.items():
        t[f"expect/step3/{k}"] = v
    # (np.array, not np.ascontiguousarray, which makes a scalar [1]: the
    # README gives the losses shape [])
    t = {k: np.array(v, dtype=np.float64, order="C") for k, v in t.items()}

    opt = optimizer_config(c.optimizer())
    metadata = {
        "network": c.network.strip(),
        "inputs": json.dumps(inputs),
        "heads": json.dumps(heads),
        "batch": str(c.batch),
        "steps": str(c.steps),
        "optimizer": json.dumps(opt, default=float),
        "keras": keras.__version__,
        "case": c.name,
        "covers": c.covers,
        "loss": json.dumps(c.loss),
        "loss_weights": json.dumps(c.loss_weights),
        "seed": str(c.seed),
        "jax": jax.__version__,
        "generator": "tools/keras_fixtures.py",
        "keras_patch": PATCH_NOTE,
    }
    return t, metadata


# ------------------------------------------- the formulas, written out


ACTIVATIONS = {
    "linear": lambda v: v,
    "relu": lambda v: np.maximum(v, 0.0),
    "tanh": np.tanh,
    "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
    "hard_sigmoid": lambda v: np.clip(v + 3.0, 0.0, 6.0) / 6.0,
    "softsign": lambda v: v / (1.0 + np.abs(v)),
    "elu": lambda v: np.where(v > 0, v, np.expm1(np.minimum(v, 0.0))),
    "softmax": lambda v: (lambda e: e / e.sum(-1, keepdims=True))(np.exp(v - v.max(-1, keepdims=True))),
}


def recurrent(kind, config, w, x):
    """A SimpleRNN, GRU or LSTM over x [batch, steps, in] with the weights
    w (`kernel`, `recurrent_kernel`, `bias`), in the formulas of
    /work/shared/DESIGN.md ("Keras semantics to match"); the initial state
    is zero. Returns [batch, steps, units] or the last state."""
    act, ract = ACTIVATIONS[config["activation"]], ACTIVATIONS.get(config.get("recurrent_activation", "linear"))
    W, U = w["kernel"], w["recurrent_kernel"]
    units = U.shape[0]
    b = w.get("bias")
    h = np.zeros((x.shape[0], units))
    c = np.zeros_like(h)
    out = []
    for t in range(x.shape[1]):
        xt = x[:, t]
        if kind == "SimpleRNN":
            h = act(xt @ W + h @ U + (b if b is not None else 0.0))
        elif kind == "LSTM":
            z = xt @ W + h @ U + (b if b is not None else 0.0)
            i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))  # gates i, f, c, o
            c = ract(f) * c + ract(i) * act(g)
            h = ract(o) * act(c)
        elif kind == "GRU":
            part = lambda m, k: m[..., k * units:(k + 1) * units]  # noqa: E731 (gates z, r, h)
            if config["reset_after"]:
                bx, bh = (b[0], b[1]) if b is not None else (0.0, 0.0)
                mx, mh = xt @ W + bx, h @ U + bh
                z = ract(part(mx, 0) + part(mh, 0))
                r = ract(part(mx, 1) + part(mh, 1))
                hh = act(part(mx, 2) + r * part(mh, 2))
            else:
                mx = xt @ W + (b if b is not None else 0.0)
                z = ract(part(mx, 0) + h @ part(U, 0))
                r = ract(part(mx, 1) + h @ part(U, 1))
                hh = act(part(mx, 2) + (r * h) @ part(U, 2))
            h = z * h + (1.0 - z) * hh
        out.append(h)
    return np.stack(out, axis=1) if config["return_sequences"] else h


def reference_forward(model, weights, x):
    """The model's inference output from the fixture's weights (by their
    keys), computed here layer by layer in numpy with the formulas written
    out, for models built of the layers below; None for a model with any
    other layer (the convolutional cases)."""
    xs = x if isinstance(x, (list, tuple)) else [x]
    value = {id(t): np.asarray(v, np.float64) for t, v in zip(model.inputs, xs)}

    def of(layer):
        prefix = layer.name + "."
        return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}

    def dense(config, w, v):
        y = v @ w["kernel"] + (w["bias"] if config["use_bias"] else 0.0)
        return ACTIVATIONS[config["activation"]](y)

    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "InputLayer":
            continue
        node = layer._inbound_nodes[0]
        args = [value[id(t)] for t in node.input_tensors]
        v, cfg, w = args[0], layer.get_config(), of(layer)
        if kind == "Embedding":
            ids = v.astype(int)
            y = w["embeddings"][ids] * ((ids >= 0) & (ids < cfg["input_dim"]))[..., None]
        elif kind == "Dense":
            y = dense(cfg, w, v)
        elif kind == "TimeDistributed" and type(layer.layer).__name__ == "Dense":
            y = dense(layer.layer.get_config(), {k.split(".", 1)[1]: a for k, a in w.items()}, v)
        elif kind in ("SimpleRNN", "GRU", "LSTM"):
            y = recurrent(kind, cfg, w, v)
        elif kind == "Bidirectional":
            inner = type(layer.forward_layer).__name__
            cfg = layer.forward_layer.get_config()
            side = lambda s: {k.split(".", 1)[1]: a for k, a in w.items() if k.startswith(s + ".")}  # noqa: E731
            f = recurrent(inner, cfg, side("forward"), v)
            b = recurrent(inner, cfg, side("backward"), v[:, ::-1])
            if cfg["return_sequences"]:
                b = b[:, ::-1]  # back in the order of the steps
            mode = layer.merge_mode
            y = {"concat": lambda: np.concatenate([f, b], -1), "sum": lambda: f + b,
                 "mul": lambda: f * b, "ave": lambda: (f + b) / 2}[mode]()
        elif kind == "Conv1D" and cfg["padding"] == "causal" and cfg["strides"] == (1,):
            k, d = cfg["kernel_size"][0], cfg["dilation_rate"][0]
            p = np.pad(v, ((0, 0), (d * (k - 1), 0), (0, 0)))
            y = sum(p[:, j * d:j * d + v.shape[1]] @ w["kernel"][j] for j in range(k))
            y = ACTIVATIONS[cfg["activation"]](y + (w["bias"] if cfg["use_bias"] else 0.0))
        elif kind == "LayerNormalization" and cfg["axis"] in (-1, [-1]):
            mean, var = v.mean(-1, keepdims=True), v.var(-1, keepdims=True)
            y = (v - mean) / np.sqrt(var + cfg["epsilon"]) * w["gamma"] + w["beta"]
        elif kind == "Add":
            y = sum(args)
        elif kind == "Concatenate":
            y = np.concatenate(args, axis=cfg["axis"])
        elif kind == "GlobalAveragePooling1D":
            y = v.mean(axis=1)
        elif kind == "Flatten":
            y = v.reshape(v.shape[0], -1)
        else:
            return None
        value[id(node.output_tensors[0])] = y
    return [value[id(t)] for t in model.outputs]


# ----------------------------------------------------------------- checks


def xp_loss(xp, name, target, pred):
    """Keras's per-batch loss, written out (xp is numpy or jax.numpy)."""
    eps = 1e-7  # keras.config.epsilon()
    if name == "mse":
        return xp.mean(xp.mean((target - pred) ** 2, axis=-1))
    if name in ("categorical_crossentropy", "sparse_categorical_crossentropy"):
        if name.startswith("sparse"):
            # a class index per sample [batch, 1], or per step [batch, steps, 1]
            target = xp.asarray(np.eye(pred.shape[-1])[np.asarray(target[..., 0], dtype=int)])
        p = pred / xp.sum(pred, axis=-1, keepdims=True)
        p = xp.clip(p, eps, 1 - eps)
        return xp.mean(-xp.sum(target * xp.log(p), axis=-1))
    raise ValueError(f"no formula here for loss {name}")


def close(what, got, want, tol):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} vs {want.shape}"
    scale = np.max(np.abs(want)) if want.size else 0.0
    err = np.abs(got - want) / (np.abs(want) + scale + 1e-300)
    worst = float(np.max(err)) if err.size else 0.0
    assert worst <= tol, f"{what}: relative difference {worst:.3e} > {tol:.0e}"
    return worst


def check_network_text(c):
    """The `network!` text builds the case's model, compiled alike."""
    network_text.same_model(c.network, c.model, c.loss, c.loss_weights, c.optimizer())


def max_pool_ties(model, x):
    """Windows of every max pooling whose maximum is reached twice (the
    gradient's tie-break could matter); returns {layer: (windows with a tie,
    of which at a zero value, whether the pooling's input is a relu's
    output)}. Ties between zeros after a relu are harmless: the relu's
    gradient is zero at both."""
    out = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if "MaxPooling" not in kind:
            continue
        v = np.asarray(keras.Model(model.inputs, layer.input)(x, training=False))
        spatial = v.shape[1:-1]
        if kind.startswith("Global"):
            pool, strides, padding = spatial, spatial, "valid"
        else:
            pool, strides, padding = layer.pool_size, layer.strides, layer.padding
        pads = []
        for n, k, s in zip(spatial, pool, strides):
            if padding == "same":
                o = -(-n // s)
                total = max((o - 1) * s + k - n, 0)
                pads.append((total // 2, total - total // 2))
            else:
                pads.append((0, 0))
        v = np.pad(v, [(0, 0)] + pads + [(0, 0)], constant_values=-np.inf)
        ties = zeros = 0
        ranges = [range(0, v.shape[1 + i] - k + 1, s) for i, (k, s) in enumerate(zip(pool, strides))]
        for start in np.ndindex(*[len(r) for r in ranges]):
            idx = tuple(slice(r[j], r[j] + k) for r, j, k in zip(ranges, start, pool))
            w = v[(slice(None),) + idx + (slice(None),)].reshape(v.shape[0], -1, v.shape[-1])
            top = w.max(axis=1, keepdims=True)
            tied = (w == top).sum(axis=1) > 1
            ties += int(tied.sum())
            zeros += int((tied & (top[:, 0] == 0)).sum())
        producer = layer.input._keras_history.operation
        relu = getattr(producer, "activation", None) in (keras.activations.relu, "relu")
        out[layer.name] = (ties, zeros, relu)
    return out


def check_jaxprs_float64(model, c):
    """No float32 value in Keras's own predict and train steps."""
    x, y = arranged(model, c)
    found = []
    tv = [v.value for v in model.trainable_variables]
    ntv = [v.value for v in model.non_trainable_variables]
    for mode in (False, True):
        s = str(jax.make_jaxpr(lambda tv, x: model.stateless_call(tv, ntv, x, training=mode)[0])(tv, x))
        if "f32" in s:
            found.append(f"forward(training={mode})")
    # the model is compiled with its optimizer and has trained, so the
    # optimizer's and metrics' variables exist
    state = model._get_jax_state(trainable_variables=True, non_trainable_variables=True,
                                 optimizer_variables=True, metrics_variables=True)
    s = str(jax.make_jaxpr(model.train_step)(state, (x, y)))
    if "f32" in s:
        found.append("train_step")
    assert not found, f"float32 values in {found}"


def verify(name, path, quiet=False):
    """Reloads a written file and checks it against a fresh Keras model."""
    t = load_file(path)
    from safetensors import safe_open

    with safe_open(path, "np") as f:
        meta = f.metadata()
    c = build(name)
    model = c.model
    inputs, heads = names(model)
    assert json.loads(meta["inputs"]) == inputs and json.loads(meta["heads"]) == heads
    assert meta["network"] == c.network.strip()
    check_network_text(c)
    for k, v in t.items():
        assert v.dtype == np.float64, k
    expected = {f"weights/{key(v)}" for v in model.weights}
    stored = {k for k in t if k.startswith("weights/")}
    assert expected == stored, f"weights differ: {sorted(expected ^ stored)}"
    for v in model.weights:
        assert tuple(t[f"weights/{key(v)}"].shape) == tuple(v.shape), key(v)
    set_variables(model, {k[len("weights/"):]: v for k, v in t.items() if k.startswith("weights/")})
    c.inputs = {n: t[f"input/{n}"] for n in inputs}
    c.targets = {h: t[f"target/{h}"] for h in heads}
    x, y = arranged(model, c)
    report = {}

    # predict on the stored batch
    outs = model.predict(x, batch_size=c.batch, verbose=0)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    for h, o in zip(heads, outs):
        report[f"predict {h}"] = close(f"predict {h}", o, t[f"expect/output/{h}"], 0.0)

    # loss and gradient by jax.grad of the losses written out here
    tv = [jnp.asarray(v.numpy()) for v in model.trainable_variables]
    ntv = [jnp.asarray(v.numpy()) for v in model.non_trainable_variables]
    weights = c.loss_weights or [1.0] * len(heads)

    def losses(tv):
        out = model.stateless_call(tv, ntv, x, training=True)[0]
        out = out if isinstance(out, (list, tuple)) else [out]
        per = [xp_loss(jnp, l, jnp.asarray(c.targets[h]), o) for l, h, o in zip(c.loss, heads, out)]
        return sum(w * p for w, p in zip(weights, per)), (per, out)

    (total, (per, train_out)), g = jax.value_and_grad(losses, has_aux=True)(tv)
    report["loss"] = close("loss", total, t["expect/loss"], 1e-13)
    if len(heads) > 1:
        for h, p in zip(heads, per):
            report[f"loss {h}"] = close(f"loss {h}", p, t[f"expect/loss/{h}"], 1e-13)
    for v, gv in zip(model.trainable_variables, g):
        report[f"grad {key(v)}"] = close(f"grad {key(v)}", gv, t[f"expect/grad/{key(v)}"], 1e-11)
    assert {f"expect/grad/{key(v)}" for v in model.trainable_variables} == {k for k in t if k.startswith("expect/grad/")}
    for v in model.trainable_variables:
        # a gradient that is zero in exact arithmetic (a bias before a batch
        # normalization) is rounding noise, which no relative test can compare
        gk, wk = np.abs(t[f"expect/grad/{key(v)}"]), np.abs(t[f"weights/{key(v)}"])
        assert gk.max() == 0 or gk.max() > 1e-9 * max(wk.max(), 1e-3), f"grad {key(v)} is rounding noise ({gk.max():.1e})"
    for l, o in zip(c.loss, list(train_out) + list(outs)):
        if "crossentropy" in l:
            o = np.asarray(o)
            assert o.min() > 1e-7 and o.max() < 1 - 1e-7, "a probability sits in the clipped range"

    # three fresh steps of the model's optimizer
    compile_with(model, c, c.optimizer())
    for i in range(c.steps):
        logs = model.train_on_batch(x, y, return_dict=True)
        close(f"step {i} loss", logs["loss"], t[f"expect/step_loss/{i}"], 0.0)
    assert close("step 0 loss = loss", t["expect/step_loss/0"], t["expect/loss"], 0.0) == 0.0
    for v in model.weights:
        close(f"step3 {key(v)}", v.numpy(), t[f"expect/step3/{key(v)}"], 0.0)
    assert {f"expect/step3/{key(v)}" for v in model.weights} == {k for k in t if k.startswith("expect/step3/")}
    moved = [key(v) for v in model.non_trainable_weights
             if np.array_equal(t[f"expect/step3/{key(v)}"], t[f"weights/{key(v)}"])]
    assert not moved, f"non-trainable variables unchanged by training: {moved}"

    # the float64 change took: no float32 anywhere
    check_jaxprs_float64(model, c)
    set_variables(model, {k[len("weights/"):]: v for k, v in t.items() if k.startswith("weights/")})

    # the outputs from the formulas written out (the sequence cases)
    reference = reference_forward(model, {k[len("weights/"):]: v for k, v in t.items() if k.startswith("weights/")}, x)
    if reference is not None:
        report["formulas"] = max(close(f"formulas {h}", r, t[f"expect/output/{h}"], 1e-12)
                                 for h, r in zip(heads, reference))

    ties = max_pool_ties(model, x)
    bad = {k: v for k, v in ties.items() if v[0] != v[1] or v[1] and not v[2]}
    assert not bad, f"max-pooling ties other than between zeros after a relu: {bad}"
    report["max-pool ties (all, at 0, after relu)"] = ties
    if not quiet:
        worst_grad = max(v for k, v in report.items() if k.startswith("grad"))
        log(f"  verified {name}: predict exact, loss {report['loss']:.1e}, grads ≤ {worst_grad:.1e} "
            f"(jax.grad vs SGD step), 3 fresh steps exact, no float32, ties {ties}"
            + (f", outputs = formulas written out to {report['formulas']:.1e}" if "formulas" in report else ""))
    return report


def stock_keras_difference(name, path):
    """In a child process with stock Keras (float32 inside), the largest
    relative difference of predict and the loss from the file."""
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "--stock-diff", name, path],
                       capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"stock-Keras check failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def stock_diff(name, path):
    t = load_file(path)
    c = build(name)
    model = c.model
    inputs, heads = names(model)
    set_variables(model, {k[len("weights/"):]: v for k, v in t.items() if k.startswith("weights/")})
    c.inputs = {n: t[f"input/{n}"] for n in inputs}
    c.targets = {h: t[f"target/{h}"] for h in heads}
    x, y = arranged(model, c)
    try:
        outs = model.predict(x, batch_size=c.batch, verbose=0)
    except TypeError as e:
        # Stock Keras cannot run some float64 recurrent layers at all: a
        # SimpleRNN whose activation (tanh) computes in float32 returns a
        # float32 state from a float64 `scan` carry, which JAX refuses.
        if "carry" not in str(e):
            raise
        first = re.sub(r"\x1b\[[0-9;]*m", "", next(l for l in str(e).splitlines() if "carry" in l))
        print(json.dumps({"stock_keras_fails": first.strip()}))
        return
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    rel = lambda a, b: float(np.max(np.abs(np.asarray(a) - b) / (np.abs(b) + np.max(np.abs(b)))))  # noqa: E731
    diff = {"predict": max(rel(o, t[f"expect/output/{h}"]) for h, o in zip(heads, outs))}
    compile_with(model, c, keras.optimizers.SGD(learning_rate=1.0))
    logs = model.train_on_batch(x, y, return_dict=True)
    diff["loss"] = rel(logs["loss"], t["expect/loss"])
    w1 = variables(model)
    diff["grad"] = max(rel(t[f"weights/{key(v)}"] - w1[key(v)], t[f"expect/grad/{key(v)}"])
                       for v in model.trainable_weights)
    print(json.dumps(diff))


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"cases to write (default: all of {', '.join(CASES)})")
    parser.add_argument("--out", default=DEFAULT_OUT, help="directory of the fixtures (default tests/fixtures)")
    parser.add_argument("--list", action="store_true", help="list the cases and what they cover")
    parser.add_argument("--verify", action="store_true", help="only check the existing files")
    parser.add_argument("--stock-diff", nargs=2, metavar=("CASE", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.stock_diff:
        return stock_diff(*args.stock_diff)
    keep_float64()
    if args.list:
        for name in CASES:
            print(f"{name}: {build(name).covers}")
        return
    todo = args.cases or list(CASES)
    unknown = [n for n in todo if n not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    os.makedirs(args.out, exist_ok=True)
    for name in todo:
        path = os.path.join(args.out, f"{name}.safetensors")
        if not args.verify:
            c = build(name)
            log(f"{name}:")
            for row in check_weight_names(c.model):
                log("   ", row)
            tensors, metadata = compute(c)
            write_safetensors(path, tensors, metadata)
            log(f"  wrote {path} ({os.path.getsize(path):,} bytes, {len(tensors)} tensors)")
        verify(name, path)
        diff = stock_keras_difference(name, path)
        if "stock_keras_fails" in diff:
            log(f"  stock Keras (float32 inside) cannot run this model in float64: {diff['stock_keras_fails']}")
        else:
            log(f"  stock Keras (float32 inside) differs from the file by at most {diff}")


if __name__ == "__main__":
    sys.exit(main())
