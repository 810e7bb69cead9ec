#!/usr/bin/env python3
"""Keras and LiteRT baselines for staticnet's convolutional benchmarks.

    python3 benches/keras_conv_baseline.py [--model kws|sensor] [--quick]
                                           [--weights W.safetensors] [--reference R.safetensors]

Builds the benchmark model in float32 with seeded weights (Keras's default
initializers under seed 1234, then the batch normalizations' gamma, beta and
moving statistics drawn at random as the anchors did, so none is an
identity), measures it, and prints ONE JSON object on stdout (progress goes
to stderr), so a Rust benchmark can run this script and read the figures:

  litert     batch-1 latency of the LiteRT interpreter (ai-edge-litert) with
             XNNPACK (the default delegates) on 1 thread, of `invoke()` only
             (the input is set once before timing);
  jax_jit    batch-1 latency of `jax.jit(lambda x: model(x, training=False))`
             (the weights become constants), `.block_until_ready()`;
  keras_fit  `model.fit` throughput on the JAX backend at batch 64 (adam,
             sparse categorical cross-entropy, random data): one warm-up epoch
             (compilation), then timed epochs; samples/s = samples / epoch time.

Latencies follow /work/shared/anchors/litert (timing.bench_blocks): after a
0.2 s warm-up, K calls per round with K chosen so that a round takes about
5 ms; several passes of rounds, each after 50 ms of untimed calls; reported
as min and median (and p10, p90) of the per-round mean call time, in µs.
The LiteRT model is converted in a child process on the TensorFlow backend
(`tf.lite.TFLiteConverter.from_keras_model`, float32, no quantization),
from the same weights; its output and jax_jit's are checked against
`model.predict` on the same input.

Models (`--model`):
  kws     the anchors' model A, the keyword-spotting DS-CNN: (49, 10, 1) →
          Conv2D 64 (10, 4) stride 2 `same` + BatchNormalization + relu →
          4 × [DepthwiseConv2D 3×3 `same` + BN + relu → Conv2D 64 1×1 + BN +
          relu] → GlobalAveragePooling2D → Dense 12 softmax (relu as
          `Activation` layers, so the graph is the `network!` text printed).
  sensor  the anchors' model B: (128, 3) → Conv1D 16 k5 `causal` relu →
          Conv1D 16 k5 stride 2 `same` relu → MaxPooling1D 2 → Conv1D 32 k3
          relu → GlobalAveragePooling1D → Dense 6 softmax.

`--weights` writes the model's weights as safetensors with staticnet's key
names (`{layer}.{variable}`, Keras's shapes, f32), which
`Model::from_safetensors` loads; `--reference` writes the input and Keras's
output used for the checks (`input/{input}` [1, …shape],
`expect/output/{head}` [1, classes], f32). `--quick` measures less (fewer
rounds, fewer fit samples and epochs) for a smoke run.

Fit uses fewer samples than the anchors' 4096 for kws (1024, 5 timed epochs;
JAX trains it at 140 to 320 samples/s) so that a default run stays within
about 3 minutes (kws takes about 40 s on an AVX-512 EPYC, sensor 20 s); the
JSON says how many. Each figure carries the load on the machine while it was
taken (`load.other_cores`: cores busy with other processes).

JSON keys: model, dtype, network, inputs, heads, params, trainable_params,
macs, input_shape, seed, quick, weights, reference, machine {python, nproc,
cpu, simd}, versions {keras, jax, jaxlib, numpy, tensorflow, ai-edge-litert},
litert and jax_jit {min_us, median_us, p10_us, p90_us, calls_per_round,
rounds, load, what, max_abs_diff_vs_keras; litert also ops, tflite_bytes},
keras_fit {backend, batch, samples, timed_epochs, optimizer, loss,
warmup_epoch_s, epoch_s, samples_per_s_median, samples_per_s_best,
loss_first_last, note, load}, wall_s.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 1234

NETWORKS = {
    "kws": """pub struct Kws {
    let mfcc = Input(shape = (49, 10, 1));
    let x = Conv2D(64, (10, 4), strides = (2, 2), padding = "same", name = "conv0")(mfcc);
    let x = BatchNormalization(name = "bn0")(x);
    let x = Activation(relu, name = "relu0")(x);
""" + "".join(f"""    let x = DepthwiseConv2D((3, 3), padding = "same", name = "dw{i}")(x);
    let x = BatchNormalization(name = "bn_dw{i}")(x);
    let x = Activation(relu, name = "relu_dw{i}")(x);
    let x = Conv2D(64, (1, 1), name = "pw{i}")(x);
    let x = BatchNormalization(name = "bn_pw{i}")(x);
    let x = Activation(relu, name = "relu_pw{i}")(x);
""" for i in range(1, 5)) + """    let x = GlobalAveragePooling2D(name = "gap")(x);
    let fc = Dense(12, activation = softmax, name = "fc")(x);
    Model(mfcc, fc);
    compile(optimizer = adam, loss = sparse_categorical_crossentropy);
}""",
    "sensor": """pub struct Sensor {
    let imu = Input(shape = (128, 3));
    let x = Conv1D(16, 5, padding = "causal", activation = relu, name = "c1")(imu);
    let x = Conv1D(16, 5, strides = 2, padding = "same", activation = relu, name = "c2")(x);
    let x = MaxPooling1D(2, name = "pool")(x);
    let x = Conv1D(32, 3, activation = relu, name = "c3")(x);
    let x = GlobalAveragePooling1D(name = "gap")(x);
    let fc = Dense(6, activation = softmax, name = "fc")(x);
    Model(imu, fc);
    compile(optimizer = adam, loss = sparse_categorical_crossentropy);
}""",
}
CLASSES = {"kws": 12, "sensor": 6}
# (fit samples, timed epochs), default and --quick
FIT = {"kws": ((1024, 5), (256, 1)), "sensor": ((4096, 5), (1024, 2))}
# (passes, rounds per pass), default and --quick
ROUNDS = ((5, 30), (2, 10))


def log(*args):
    print(*args, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ models


def build(which):
    """The benchmark model (float32), compiled with adam and sparse
    categorical cross-entropy, with seeded weights."""
    import keras
    from keras import layers

    keras.backend.clear_session()
    keras.utils.set_random_seed(SEED)
    if which == "kws":
        inp = keras.Input((49, 10, 1), name="mfcc")
        x = layers.Conv2D(64, (10, 4), strides=(2, 2), padding="same", name="conv0")(inp)
        x = layers.BatchNormalization(name="bn0")(x)
        x = layers.Activation("relu", name="relu0")(x)
        for i in range(1, 5):
            x = layers.DepthwiseConv2D((3, 3), padding="same", name=f"dw{i}")(x)
            x = layers.BatchNormalization(name=f"bn_dw{i}")(x)
            x = layers.Activation("relu", name=f"relu_dw{i}")(x)
            x = layers.Conv2D(64, (1, 1), name=f"pw{i}")(x)
            x = layers.BatchNormalization(name=f"bn_pw{i}")(x)
            x = layers.Activation("relu", name=f"relu_pw{i}")(x)
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        out = layers.Dense(12, activation="softmax", name="fc")(x)
    else:
        inp = keras.Input((128, 3), name="imu")
        x = layers.Conv1D(16, 5, padding="causal", activation="relu", name="c1")(inp)
        x = layers.Conv1D(16, 5, strides=2, padding="same", activation="relu", name="c2")(x)
        x = layers.MaxPooling1D(2, name="pool")(x)
        x = layers.Conv1D(32, 3, activation="relu", name="c3")(x)
        x = layers.GlobalAveragePooling1D(name="gap")(x)
        out = layers.Dense(6, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out, name=which)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(SEED)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            n = layer.gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype("float32"), rng.uniform(-0.1, 0.1, n).astype("float32"),
                               rng.uniform(-0.1, 0.1, n).astype("float32"), rng.uniform(0.5, 1.5, n).astype("float32")])
    return model


def weights_of(model):
    """staticnet's name (Keras's variable path with `/` as `.`) -> array."""
    return {v.path.replace("/", "."): np.asarray(v.numpy(), dtype=np.float32) for v in model.weights}


def set_weights(model, weights):
    for v in model.weights:
        v.assign(weights[v.path.replace("/", ".")])


def macs(model):
    """Multiply-accumulates of the convolutions and dense layers, batch 1."""
    from keras import layers

    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.DepthwiseConv2D):
            total += int(np.prod(layer.output.shape[1:])) * int(np.prod(layer.kernel_size))
        elif isinstance(layer, (layers.Conv1D, layers.Conv2D)):
            total += int(np.prod(layer.output.shape[1:])) * int(np.prod(layer.kernel_size)) * layer.input.shape[-1]
        elif isinstance(layer, layers.Dense):
            total += layer.input.shape[-1] * layer.units
    return total


# ------------------------------------------------------------------ timing


class LoadMeter:
    """Cores busy with other processes, and the hypervisor's steal, during
    a phase (from /proc/stat; zeros where it is missing)."""

    @staticmethod
    def _stat():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return 0, 1, 0
        idle, steal = v[3] + v[4], (v[7] if len(v) > 7 else 0)
        return sum(v) - idle - steal, sum(v), steal

    def __enter__(self):
        self.b0, self.t0, self.s0 = self._stat()
        self.own0, self.w0 = sum(os.times()[:4]), time.time()
        return self

    def __exit__(self, *exc):
        b1, t1, s1 = self._stat()
        wall = max(time.time() - self.w0, 1e-9)
        busy = (b1 - self.b0) / max(1, t1 - self.t0) * os.cpu_count()
        own = (sum(os.times()[:4]) - self.own0) / wall
        self.result = dict(wall_s=round(wall, 1), other_cores=round(max(0.0, busy - own), 2),
                           steal=round((s1 - self.s0) / max(1, t1 - self.t0), 3),
                           loadavg=[round(x, 2) for x in os.getloadavg()])


def latency(fn, passes, rounds, target_s=0.005, settle_s=0.05):
    """Per-call time of `fn` in µs: min, median, p10, p90 of the per-round
    means over passes × rounds rounds of K back-to-back calls."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < 0.2:
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < 0.05:
        fn()
        n += 1
    k = max(1, round(target_s / ((time.perf_counter() - t0) / n)))
    means = []
    clock = time.perf_counter_ns
    with LoadMeter() as load:
        for _ in range(passes):
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < settle_s:
                fn()
            for _ in range(rounds):
                t = clock()
                for _ in range(k):
                    fn()
                means.append((clock() - t) / k / 1e3)
    means.sort()
    return dict(min_us=round(means[0], 2), median_us=round(statistics.median(means), 2),
                p10_us=round(means[len(means) // 10], 2), p90_us=round(means[(9 * len(means)) // 10], 2),
                calls_per_round=k, rounds=len(means), load=load.result)


def machine():
    info = dict(python=platform.python_version(), nproc=os.cpu_count())
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        info["cpu"] = next(l.split(":", 1)[1].strip() for l in text.splitlines() if l.startswith("model name"))
        flags = next(l for l in text.splitlines() if l.startswith("flags")).split()
        info["simd"] = [f for f in ("avx", "avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni") if f in flags]
    except (OSError, StopIteration):
        pass
    return info


def versions(*packages):
    import importlib.metadata as im

    out = {}
    for p in packages:
        try:
            out[p] = im.version(p)
        except im.PackageNotFoundError:
            pass
    return out


# ---------------------------------------------------- LiteRT (child process)


def litert_child(which, weights_path, ref_path, passes, rounds):
    """Runs on the TensorFlow backend: converts the model with the given
    weights to TFLite and times the interpreter; prints JSON."""
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from safetensors.numpy import load_file

    model = build(which)
    set_weights(model, load_file(weights_path))
    ref = np.load(ref_path)
    x, y = ref["x"], ref["y"]
    flatbuffer = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    it = Interpreter(model_content=flatbuffer, num_threads=1, experimental_op_resolver_type=OpResolverType.AUTO)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    it.set_tensor(inp["index"], x)
    it.invoke()
    diff = float(np.abs(it.get_tensor(out["index"]) - y).max())
    ops = sorted({o["op_name"] for o in it._get_ops_details()})
    log(f"  litert: output vs Keras max abs diff {diff:.1e}; ops {ops}")
    result = latency(it.invoke, passes, rounds)
    result.update(what="Interpreter(num_threads=1, AUTO = XNNPACK delegate).invoke(), input set once",
                  max_abs_diff_vs_keras=diff, ops=ops, tflite_bytes=len(flatbuffer),
                  versions=versions("tensorflow", "ai-edge-litert"))
    print(json.dumps(result))


# -------------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(NETWORKS), default="kws")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, samples and epochs")
    parser.add_argument("--weights", help="write the weights here (safetensors, staticnet's names)")
    parser.add_argument("--reference", help="write the check input and Keras's output here (safetensors)")
    parser.add_argument("--litert-child", nargs=3, metavar=("WEIGHTS", "REF", "PASSES_ROUNDS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    passes, rounds = ROUNDS[args.quick]

    if args.litert_child:
        p, r = map(int, args.litert_child[2].split(","))
        return litert_child(args.model, args.litert_child[0], args.litert_child[1], p, r)

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

    network_text.same_model(NETWORKS[which], model, ["sparse_categorical_crossentropy"], None, "adam")
    inputs, heads = network_text.io_names(model)
    weights = weights_of(model)
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(0).standard_normal((1,) + shape).astype(np.float32)
    y = np.asarray(model.predict(x, verbose=0))
    log(f"{which}: {model.count_params()} parameters, {macs(model)} MACs; weights seeded ({SEED})")

    with tempfile.TemporaryDirectory() as tmp:
        weights_path = args.weights or os.path.join(tmp, "weights.safetensors")
        meta = {"format": "staticnet", "inputs": json.dumps(inputs), "heads": json.dumps(heads),
                "network": NETWORKS[which], "generator": "benches/keras_conv_baseline.py"}
        save_file(weights, weights_path, metadata=meta)
        if args.reference:
            save_file({f"input/{inputs[0]}": x, f"expect/output/{heads[0]}": y}, args.reference,
                      metadata={"inputs": json.dumps(inputs), "heads": json.dumps(heads)})
        ref_path = os.path.join(tmp, "ref.npz")
        np.savez(ref_path, x=x, y=y)

        log("litert: converting and timing in a TensorFlow-backend child process")
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        child = subprocess.run([sys.executable, os.path.abspath(__file__), "--model", which, "--litert-child",
                                weights_path, ref_path, f"{passes},{rounds}"],
                               env=env, capture_output=True, text=True)
        if child.returncode:
            sys.stderr.write(child.stderr[-4000:])
            raise SystemExit("the LiteRT child process failed")
        for line in child.stderr.splitlines():
            if line.startswith("  litert"):
                log(line)
        litert = json.loads(child.stdout.strip().splitlines()[-1])

    log("jax_jit: timing")
    xj = jnp.asarray(x)
    forward = jax.jit(lambda x: model(x, training=False))
    jit_diff = float(np.abs(np.asarray(forward(xj)) - y).max())
    jax_jit = latency(lambda: forward(xj).block_until_ready(), passes, rounds)
    jax_jit.update(what="jax.jit(lambda x: model(x, training=False)) (weights as constants), batch 1, "
                        "block_until_ready()", max_abs_diff_vs_keras=jit_diff)

    samples, epochs = FIT[which][args.quick]
    log(f"keras_fit: {samples} samples, 1 warm-up + {epochs} timed epochs at batch 64")
    rng = np.random.default_rng(7)
    data = rng.standard_normal((samples,) + shape).astype(np.float32)
    labels = rng.integers(0, CLASSES[which], samples).astype(np.int32)

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
        backend="jax", batch=64, samples=samples, timed_epochs=epochs, optimizer="adam",
        loss="sparse_categorical_crossentropy", warmup_epoch_s=round(timer.times[0], 3),
        epoch_s=[round(t, 3) for t in timed], samples_per_s_median=round(samples / statistics.median(timed), 1),
        samples_per_s_best=round(samples / min(timed), 1),
        loss_first_last=[round(float(history.history["loss"][0]), 4), round(float(history.history["loss"][-1]), 4)],
        note=("random data; the first epoch (compilation) is not timed"
              + ("; 1024 samples rather than the anchors' 4096 to keep the run short" if which == "kws" and not args.quick else "")),
        load=load.result)

    result = dict(
        model=which, dtype="float32", network=NETWORKS[which], inputs=inputs, heads=heads,
        params=int(model.count_params()), trainable_params=int(sum(np.prod(v.shape) for v in model.trainable_weights)),
        macs=macs(model), input_shape=list(shape), seed=SEED, quick=args.quick, weights=args.weights,
        reference=args.reference, machine=machine(),
        versions={**versions("keras", "jax", "jaxlib", "numpy"), **litert.pop("versions")},
        litert=litert, jax_jit=jax_jit, keras_fit=keras_fit, wall_s=round(time.time() - start, 1))
    print(json.dumps(result, indent=1))
    log(f"litert {litert['min_us']} | {litert['median_us']} µs, jax.jit {jax_jit['min_us']} | {jax_jit['median_us']} µs, "
        f"fit {keras_fit['samples_per_s_median']} samples/s; {result['wall_s']} s")


if __name__ == "__main__":
    sys.exit(main())
