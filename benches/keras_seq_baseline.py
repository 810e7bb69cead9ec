#!/usr/bin/env python3
"""Keras baselines for staticnet's sequence benchmarks.

    python3 benches/keras_seq_baseline.py [--model qa] [--quick]
                                          [--weights W.safetensors] [--reference R.safetensors]

Builds the benchmark model in float32 with seeded weights (Keras's default
initializers under seed 1234: embeddings uniform in ±0.05, Glorot-uniform
kernels, orthogonal recurrent kernels, zero biases but the LSTMs' forget
gate at 1), measures it, and prints ONE JSON object on stdout (progress
goes to stderr), so a Rust benchmark can run this script and read the
figures:

  jax_jit    batch-1 latency of `jax.jit(lambda x: model(x, training=False))`
             (the weights become constants), `.block_until_ready()`;
  keras_fit  `model.fit` throughput on the JAX backend at batch 64 (rmsprop,
             categorical cross-entropy over one-hot targets, random token
             ids): one warm-up epoch (compilation), then timed epochs;
             samples/s = samples / epoch time.

Timing, the load meter and the machine and version fields are those of
benches/keras_conv_baseline.py (imported from it): after a 0.2 s warm-up,
K calls per round with K chosen so that a round takes about 5 ms; several
passes of rounds, each after 50 ms of untimed calls; reported as min and
median (and p10, p90) of the per-round mean call time, in µs. jax_jit's
output is checked against `model.predict` on the same input. No LiteRT
figure here: the anchors (/work/shared/anchors/litert, model C) have it,
and converting the LSTMs needs a batch-1 static copy of the model.

Models (`--model`):
  qa      the anchors' model C, the question-answering LSTM: two int32
          inputs `story` (50,) and `question` (20,), vocabulary 1000 →
          Embedding 64 → LSTM 32 ‖ Embedding 32 → LSTM 16 → Concatenate →
          Dense 100 softmax; rmsprop, categorical cross-entropy.

`--weights` writes the model's weights as safetensors with staticnet's key
names (Keras's variable path with `/` as `.`, the recurrent cell left out:
`lstm_a.kernel` [64, 128], `lstm_a.recurrent_kernel` [32, 128],
`lstm_a.bias` [128], `emb_a.embeddings` [1000, 64], …; Keras's shapes,
f32), which `Model::from_safetensors` loads; `--reference` writes the input
and Keras's output used for the checks (`input/{input}` [1, length] as
int32 token ids, `expect/output/{head}` [1, classes] f32). `--quick`
measures less (fewer rounds, fewer fit samples and epochs) for a smoke run.

Fit uses the anchors' 4096 samples and 5 timed epochs (the anchors measured
JAX at 4,883 samples/s on their quiet run, so about a second an epoch);
`--quick` 1024 samples and 1 timed epoch. Each figure carries the load on
the machine while it was taken (`load.other_cores`: cores busy with other
processes). A default run takes about 25 s; one on this 2-core machine with
about 1.3 other cores busy (Rust builds) gave jax_jit 92 | 118 µs (min |
median) and fit 5,661 samples/s (median epoch; best 8,713), against the
anchors' quiet 132 to 142 µs and 4,883 samples/s.

JSON keys: model, dtype, network, inputs, heads, params, trainable_params,
macs, input_shapes {input: shape}, vocabulary, seed, quick, weights,
reference, machine {python, nproc, cpu, simd}, versions {keras, jax,
jaxlib, numpy}, jax_jit {min_us, median_us, p10_us, p90_us,
calls_per_round, rounds, load, what, max_abs_diff_vs_keras}, keras_fit
{backend, batch, samples, timed_epochs, optimizer, loss, warmup_epoch_s,
epoch_s, samples_per_s_median, samples_per_s_best, loss_first_last, note,
load}, wall_s.
"""
import argparse
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from keras_conv_baseline import LoadMeter, latency, log, machine, versions  # noqa: E402

SEED = 1234

NETWORKS = {
    "qa": """pub struct QaLstm {
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
}""",
}
VOCABULARY = {"qa": 1000}
CLASSES = {"qa": 100}
LOSS = {"qa": ("rmsprop", "categorical_crossentropy")}
# (fit samples, timed epochs), default and --quick
FIT = {"qa": ((4096, 5), (1024, 1))}
# (passes, rounds per pass), default and --quick
ROUNDS = ((5, 30), (2, 10))


# ------------------------------------------------------------------ models


def build(which):
    """The benchmark model (float32), compiled, with seeded weights."""
    import keras
    from keras import layers

    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    # the anchors' build_C (/work/shared/anchors/litert/models.py)
    a = keras.Input((50,), dtype="int32", name="story")
    b = keras.Input((20,), dtype="int32", name="question")
    xa = layers.Embedding(1000, 64, name="emb_a")(a)
    xa = layers.LSTM(32, name="lstm_a")(xa)
    xb = layers.Embedding(1000, 32, name="emb_b")(b)
    xb = layers.LSTM(16, name="lstm_b")(xb)
    x = layers.Concatenate(name="cat")([xa, xb])
    out = layers.Dense(100, activation="softmax", name="fc")(x)
    model = keras.Model([a, b], out, name=which)
    model.compile(optimizer=LOSS[which][0], loss=LOSS[which][1])
    return model


def key(variable):
    """staticnet's name of a Keras variable: its path with `/` as `.`,
    without a recurrent layer's cell (`lstm_a/lstm_cell/kernel` is
    `lstm_a.kernel`)."""
    return ".".join(p for p in variable.path.split("/") if p not in ("simple_rnn_cell", "gru_cell", "lstm_cell"))


def weights_of(model):
    """staticnet's name -> array (f32)."""
    out = {key(v): np.asarray(v.numpy(), dtype=np.float32) for v in model.weights}
    assert len(out) == len(model.weights), "two variables with one name"
    return out


def macs(model):
    """Multiply-accumulates of the dense and recurrent matmuls, batch 1
    (T·gates·units·(in + units) for a recurrent layer; the embedding lookup
    is not counted), as the anchors count them."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
        elif isinstance(layer, (layers.LSTM, layers.GRU, layers.SimpleRNN)):
            steps, inputs = layer.input.shape[1], layer.input.shape[-1]
            gates = 4 if isinstance(layer, layers.LSTM) else 3 if isinstance(layer, layers.GRU) else 1
            total += steps * gates * layer.units * (inputs + layer.units)
    return total


def token_data(rng, model, samples, vocabulary):
    """Random token ids, one int32 array [samples, length] per input."""
    return [rng.integers(0, vocabulary, (samples,) + tuple(t.shape[1:])).astype(np.int32) for t in model.inputs]


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(NETWORKS), default="qa")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, samples and epochs")
    parser.add_argument("--weights", help="write the weights here (safetensors, staticnet's names)")
    parser.add_argument("--reference", help="write the check input and Keras's output here (safetensors)")
    args = parser.parse_args(argv)
    passes, rounds = ROUNDS[args.quick]

    start = time.time()
    import jax
    import jax.numpy as jnp
    import keras
    from safetensors.numpy import save_file

    assert keras.backend.backend() == "jax"
    which = args.model
    model = build(which)
    sys.path.insert(0, os.path.join(HERE, "..", "tools"))
    import network_text

    optimizer, loss = LOSS[which]
    network_text.same_model(NETWORKS[which], model, [loss], None, optimizer)
    inputs, heads = network_text.io_names(model)
    shapes = {n: list(t.shape[1:]) for n, t in zip(inputs, model.inputs)}
    weights = weights_of(model)
    vocabulary = VOCABULARY[which]
    # the check input: token ids with 0 and the top id among them
    x = token_data(np.random.default_rng(0), model, 1, vocabulary)
    x[0][0, 0], x[-1][0, -1] = 0, vocabulary - 1
    y = np.asarray(model.predict(x, verbose=0))
    log(f"{which}: {model.count_params()} parameters, {macs(model)} MACs; weights seeded ({SEED})")

    if args.weights:
        meta = {"format": "staticnet", "inputs": json.dumps(inputs), "heads": json.dumps(heads),
                "network": NETWORKS[which], "generator": "benches/keras_seq_baseline.py"}
        save_file(weights, args.weights, metadata=meta)
    if args.reference:
        ref = {f"input/{n}": v for n, v in zip(inputs, x)}
        ref[f"expect/output/{heads[0]}"] = y
        save_file(ref, args.reference, metadata={"inputs": json.dumps(inputs), "heads": json.dumps(heads)})

    log("jax_jit: timing")
    xj = [jnp.asarray(v) for v in x]
    forward = jax.jit(lambda x: model(x, training=False))
    jit_diff = float(np.abs(np.asarray(forward(xj)) - y).max())
    jax_jit = latency(lambda: forward(xj).block_until_ready(), passes, rounds)
    jax_jit.update(what="jax.jit(lambda x: model(x, training=False)) (weights as constants), batch 1, "
                        "block_until_ready()", max_abs_diff_vs_keras=jit_diff)

    samples, epochs = FIT[which][args.quick]
    log(f"keras_fit: {samples} samples, 1 warm-up + {epochs} timed epochs at batch 64")
    rng = np.random.default_rng(7)
    data = token_data(rng, model, samples, vocabulary)
    labels = np.eye(CLASSES[which], dtype=np.float32)[rng.integers(0, CLASSES[which], samples)]

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.t0)

    timer = EpochTimer()
    with LoadMeter() as load:
        history = model.fit(data, labels, batch_size=64, epochs=1 + epochs, shuffle=True, verbose=0, callbacks=[timer])
    timed = timer.times[1:]
    keras_fit = dict(
        backend="jax", batch=64, samples=samples, timed_epochs=epochs, optimizer=optimizer, loss=loss,
        warmup_epoch_s=round(timer.times[0], 3), epoch_s=[round(t, 3) for t in timed],
        samples_per_s_median=round(samples / statistics.median(timed), 1),
        samples_per_s_best=round(samples / min(timed), 1),
        loss_first_last=[round(float(history.history["loss"][0]), 4), round(float(history.history["loss"][-1]), 4)],
        note="random token ids and one-hot targets; the first epoch (compilation) is not timed",
        load=load.result)

    result = dict(
        model=which, dtype="float32", network=NETWORKS[which], inputs=inputs, heads=heads,
        params=int(model.count_params()), trainable_params=int(sum(np.prod(v.shape) for v in model.trainable_weights)),
        macs=macs(model), input_shapes=shapes, vocabulary=vocabulary, seed=SEED, quick=args.quick,
        weights=args.weights, reference=args.reference, machine=machine(),
        versions=versions("keras", "jax", "jaxlib", "numpy"),
        jax_jit=jax_jit, keras_fit=keras_fit, wall_s=round(time.time() - start, 1))
    print(json.dumps(result, indent=1))
    log(f"jax.jit {jax_jit['min_us']} | {jax_jit['median_us']} µs, "
        f"fit {keras_fit['samples_per_s_median']} samples/s; {result['wall_s']} s")


if __name__ == "__main__":
    sys.exit(main())
