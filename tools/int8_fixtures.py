#!/usr/bin/env python3
"""Fixtures for staticnet's int8 inference: TFLite's own numbers.

Converts three Keras models with tf.lite.TFLiteConverter to full-integer
models (per-channel int8 weights, int8 activations, int32 biases, int8
input and output; representative dataset = the calibration inputs written
here), runs TFLite's *reference* kernels (BUILTIN_REF) and writes, for
tests/int8.rs (see tests/fixtures/README.md):

- the digits classifier (the seed's 64 → 32 → 32 → 10 MLP with the weights
  of examples/digits.safetensors): int8_digits_calibration (300 training
  images, the split of examples/common's `Digits::split(7)`, SplitMix64 and
  Fisher–Yates as in runtime/rng.rs), int8_seed_mlp.scales and
  int8_seed_mlp (the 359 test images quantized, TFLite's outputs, labels,
  TFLite's quantized weights);
- the keyword-spotting DS-CNN of tests/keras_parity_conv.rs with the weights
  of its Keras fixture: int8_kws.weights, int8_kws_calibration,
  int8_kws.scales and int8_kws (32 random inputs);
- a small CNN with pooling: int8_pools.weights, int8_pools.scales and
  int8_pools.

A scales file is in the layout `quantize(int8, scales = "…")` reads:
`{tensor}.scale` (f32 `[1]`) and `{tensor}.zero_point` (i32 `[1]`) for the
input (named as the input) and each layer's output (named as the last layer
TFLite fused into the op; for a Dense with softmax, its logits), and
`{layer}.{kernel}_scale` (f32 `[channels]`).

Run from the repository root: python3 tools/int8_fixtures.py
"""

import gzip
import json
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import keras  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
MASK = (1 << 64) - 1
CALIBRATION_SAMPLES = 300


class SplitMix64:
    """runtime/rng.rs's generator."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        zone = MASK - MASK % bound
        while True:
            x = self.next()
            if x < zone:
                return x % bound


def shuffle(items, rng):
    for i in range(len(items) - 1, 0, -1):
        j = rng.below(i + 1)
        items[i], items[j] = items[j], items[i]


def load_digits():
    with gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt") as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    rows = [r for r in rows if len(r) == 65 and r[0].replace(".", "").isdigit()]
    pixels = np.array([[float(v) for v in r[:64]] for r in rows], dtype=np.float32)
    labels = np.array([int(r[64]) for r in rows], dtype=np.int32)
    return pixels, labels


def split(labels, seed):
    """examples/common's `Digits::split`."""
    rng = SplitMix64(seed)
    train, test = [], []
    for c in range(10):
        members = [i for i in range(len(labels)) if labels[i] == c]
        shuffle(members, rng)
        held = (len(members) + 2) // 5
        test += members[:held]
        train += members[held:]
    shuffle(train, rng)
    shuffle(test, rng)
    return train, test


def digits_mlp():
    w = load_file(os.path.join(ROOT, "examples", "digits.safetensors"))
    image = keras.Input((64,), name="image")
    x = keras.layers.Dense(32, activation="relu", name="dense")(image)
    x = keras.layers.Dense(32, activation="relu", name="dense_1")(x)
    out = keras.layers.Dense(10, activation="softmax", name="class")(x)
    model = keras.Model(image, out)
    for name in ["dense", "dense_1", "class"]:
        model.get_layer(name).set_weights([w[f"{name}.kernel"], w[f"{name}.bias"]])
    return model, ["dense", "dense_1", "class"]


def kws_dscnn():
    """The keyword-spotting DS-CNN of tests/keras_parity_conv.rs, with the
    weights of its Keras fixture (random, batch normalizations not the
    identity)."""
    layers = keras.layers
    mfcc = keras.Input((49, 10, 1), name="mfcc")
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
    model = keras.Model(mfcc, fc)
    fixture = load_file(os.path.join(FIXTURES, "kws_dscnn.safetensors"))
    weights = {k[len("weights/"):]: v.astype(np.float32) for k, v in fixture.items() if k.startswith("weights/")}
    for layer in model.layers:
        for v in layer.weights:
            v.assign(weights[v.path.replace("/", ".")])
    return model, weights


def pools_cnn():
    """A small CNN for what the DS-CNN lacks: biases, relu6, max and average
    pooling (`same`, windows partly outside), a depth multiplier, Flatten."""
    layers = keras.layers
    image = keras.Input((12, 12, 2), name="image")
    x = layers.Conv2D(6, (3, 3), padding="same", activation="relu6", name="conv")(image)
    x = layers.MaxPooling2D((2, 2), name="max")(x)
    x = layers.DepthwiseConv2D((3, 3), depth_multiplier=2, activation="relu", name="dw")(x)
    x = layers.AveragePooling2D((2, 2), strides=(1, 1), padding="same", name="avg")(x)
    x = layers.Flatten(name="flat")(x)
    x = layers.Dense(8, activation="relu6", name="hidden")(x)
    out = layers.Dense(4, activation="softmax", name="out")(x)
    model = keras.Model(image, out)
    rng = np.random.default_rng(21)
    weights = {}
    for layer in model.layers:
        for v in layer.weights:
            key = v.path.replace("/", ".")
            value = rng.uniform(-0.5, 0.5, v.shape).astype(np.float32)
            v.assign(value)
            weights[key] = value
    return model, weights


def convert(model, calibration):
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]

    def representative():
        for x in calibration:
            yield [x[None].astype(np.float32)]

    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    return conv.convert()


def interpreter(flatbuffer):
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
    except ImportError:  # pragma: no cover
        Interpreter = tf.lite.Interpreter
        OpResolverType = tf.lite.experimental.OpResolverType
    interp = Interpreter(model_content=flatbuffer, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    return interp


def quant_of(details):
    q = details["quantization_parameters"]
    return np.asarray(q["scales"], dtype=np.float32), np.asarray(q["zero_points"], dtype=np.int64)


def export(model, flat, input_name, plan, x_test, name, extra_meta):
    """Writes TFLite's scales for `plan` (one (op, tensor, kernel scale key)
    per TFLite op in order) and its outputs on `x_test` quantized."""
    interp = interpreter(flat)
    tensors = {t["index"]: t for t in interp.get_tensor_details()}
    ops = interp._get_ops_details()
    kinds = [op["op_name"] for op in ops]
    print(name, "TFLite ops:", kinds, file=sys.stderr)
    assert kinds == [p[0] for p in plan], kinds
    scales, data, per_channel = {}, {}, []
    inp = interp.get_input_details()[0]
    s, z = quant_of(inp)
    scales[f"{input_name}.scale"] = s[:1]
    scales[f"{input_name}.zero_point"] = z[:1].astype(np.int32)
    for op, (kind, tensor, kernel_key) in zip(ops, plan):
        out = tensors[op["outputs"][0]]
        s, z = quant_of(out)
        if kind == "SOFTMAX":
            assert abs(s[0] - 1 / 256) < 1e-9 and z[0] == -128, (s, z)
            continue
        if tensor is None:  # shape arithmetic (Flatten's SHAPE, PACK, …)
            continue
        scales[f"{tensor}.scale"] = s[:1]
        scales[f"{tensor}.zero_point"] = z[:1].astype(np.int32)
        if kernel_key is None:
            continue
        w_idx, b_idx = op["inputs"][1], op["inputs"][2]
        kernel = interp.get_tensor(w_idx)
        units = kernel.shape[-1] if kind == "DEPTHWISE_CONV_2D" else kernel.shape[0]
        ws, _ = quant_of(tensors[w_idx])
        per_channel.append(len(ws) == units and units > 1)
        scales[f"{kernel_key}_scale"] = np.broadcast_to(ws, (units,)).astype(np.float32).copy()
        data[f"tflite/{kernel_key}"] = kernel.astype(np.int8).reshape(-1)
        data[f"tflite/{tensor}.bias"] = interp.get_tensor(b_idx).astype(np.int32)
    in_scale, in_zp = float(scales[f"{input_name}.scale"][0]), int(scales[f"{input_name}.zero_point"][0])
    # TFLite's QUANTIZE rounds half away from zero
    v = x_test / np.float32(in_scale)
    q = np.clip(np.sign(v) * np.floor(np.abs(v) + 0.5) + in_zp, -128, 127).astype(np.int8)
    interp.resize_tensor_input(inp["index"], [len(q)] + list(x_test.shape[1:]))
    interp.allocate_tensors()
    interp.set_tensor(inp["index"], q)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    data["input"] = q.reshape(len(q), -1)
    data["output"] = out.astype(np.int8).reshape(len(q), -1)
    meta = {
        "generator": "tools/int8_fixtures.py",
        "tensorflow": tf.__version__,
        "ops": json.dumps(kinds),
        "kernel_quantization": "per-channel" if all(per_channel) else "per-tensor",
        **extra_meta,
    }
    save_file(scales, os.path.join(FIXTURES, f"{name}.scales.safetensors"), metadata=meta)
    return data, meta, out


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    pixels, labels = load_digits()
    train, test = split(labels, 7)
    calibration = pixels[train[:CALIBRATION_SAMPLES]] / np.float32(16.0)
    x_test = pixels[test] / np.float32(16.0)
    model, _ = digits_mlp()
    flat = convert(model, calibration)
    plan = [
        ("FULLY_CONNECTED", "dense", "dense.kernel"),
        ("FULLY_CONNECTED", "dense_1", "dense_1.kernel"),
        ("FULLY_CONNECTED", "class", "class.kernel"),
        ("SOFTMAX", None, None),
    ]
    float_pred = model.predict(x_test, verbose=0).argmax(1)
    data, meta, out = export(model, flat, "image", plan, x_test, "int8_seed_mlp", {})
    data["label"] = labels[test].astype(np.int32)
    meta["test_accuracy_f32"] = f"{float((float_pred == labels[test]).mean()):.6f}"
    meta["test_accuracy_tflite_int8"] = f"{float((out.argmax(1) == labels[test]).mean()):.6f}"
    save_file(data, os.path.join(FIXTURES, "int8_seed_mlp.safetensors"), metadata=meta)
    save_file({"image": calibration.astype(np.float32)},
              os.path.join(FIXTURES, "int8_digits_calibration.safetensors"),
              metadata={"generator": "tools/int8_fixtures.py", "samples": str(len(calibration))})
    print(json.dumps(meta, indent=1))

    # The keyword-spotting DS-CNN: random MFCC-like inputs (normal, σ = 1)
    # for calibration and test, its weights written for `weights("…")`.
    model, weights = kws_dscnn()
    rng = np.random.default_rng(16)
    calibration = rng.normal(0.0, 1.0, (64, 49, 10, 1)).astype(np.float32)
    x_test = rng.normal(0.0, 1.0, (32, 49, 10, 1)).astype(np.float32)
    flat = convert(model, calibration)
    plan = [
        ("CONV_2D", "relu0", "conv0.kernel"),
        ("DEPTHWISE_CONV_2D", "relu_dw1", "dw1.kernel"),
        ("CONV_2D", "relu_pw1", "pw1.kernel"),
        ("DEPTHWISE_CONV_2D", "relu_dw2", "dw2.kernel"),
        ("CONV_2D", "relu_pw2", "pw2.kernel"),
        ("DEPTHWISE_CONV_2D", "sep.depthwise", "sep.depthwise_kernel"),
        ("CONV_2D", "sep", "sep.pointwise_kernel"),
        ("MEAN", "gap", None),
        ("FULLY_CONNECTED", "fc", "fc.kernel"),
        ("SOFTMAX", None, None),
    ]
    data, meta, _ = export(model, flat, "mfcc", plan, x_test, "int8_kws", {})
    save_file(data, os.path.join(FIXTURES, "int8_kws.safetensors"), metadata=meta)
    save_file(weights, os.path.join(FIXTURES, "int8_kws.weights.safetensors"),
              metadata={"generator": "tools/int8_fixtures.py", "from": "kws_dscnn.safetensors"})
    save_file({"mfcc": calibration}, os.path.join(FIXTURES, "int8_kws_calibration.safetensors"),
              metadata={"generator": "tools/int8_fixtures.py", "samples": str(len(calibration))})
    print(json.dumps(meta, indent=1))

    # The pooling CNN: uniform inputs in [0, 2).
    model, weights = pools_cnn()
    rng = np.random.default_rng(22)
    calibration = rng.uniform(0.0, 2.0, (64, 12, 12, 2)).astype(np.float32)
    x_test = rng.uniform(0.0, 2.0, (32, 12, 12, 2)).astype(np.float32)
    flat = convert(model, calibration)
    plan = [
        ("CONV_2D", "conv", "conv.kernel"),
        ("MAX_POOL_2D", "max", None),
        ("DEPTHWISE_CONV_2D", "dw", "dw.kernel"),
        ("AVERAGE_POOL_2D", "avg", None),
        ("SHAPE", None, None),
        ("STRIDED_SLICE", None, None),
        ("PACK", None, None),
        ("RESHAPE", "flat", None),
        ("FULLY_CONNECTED", "hidden", "hidden.kernel"),
        ("FULLY_CONNECTED", "out", "out.kernel"),
        ("SOFTMAX", None, None),
    ]
    data, meta, _ = export(model, flat, "image", plan, x_test, "int8_pools", {})
    save_file(data, os.path.join(FIXTURES, "int8_pools.safetensors"), metadata=meta)
    save_file(weights, os.path.join(FIXTURES, "int8_pools.weights.safetensors"),
              metadata={"generator": "tools/int8_fixtures.py"})
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
