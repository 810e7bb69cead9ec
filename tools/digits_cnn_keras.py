#!/usr/bin/env python3
"""Keras's figure for the Rust example `digits_cnn`: a small CNN trained on
the UCI digits (data/digits.csv.gz) with the split the Rust examples draw.

    python3 tools/digits_cnn_keras.py [--variant base|wide|deep|all] [--seeds 7 8 9] [--epochs 50]

For each seed: the stratified 80/20 split of examples/common/mod.rs
(`Digits::split(seed)`: SplitMix64, a fifth of each class held out, both
parts shuffled), images as (8, 8, 1) scaled by 1/16, Keras's seed set to
the same value, adam, batch 32, categorical cross-entropy, 50 epochs (JAX
backend, float32); prints the test accuracy and the wall time of `fit`.

The split is checked by a checksum of the test indices, in order:
`Σ (k + 1)·test[k]` over positions k (Rust:
`test.iter().enumerate().map(|(k, &i)| (k + 1) * i).sum::<usize>()`), with
the first ten indices and the sizes.

Variants (each printed as `network!` text):
  base  Conv2D 16 3×3 same relu → MaxPooling2D 2 → Conv2D 32 3×3 same relu
        → GlobalAveragePooling2D → Dense 10 softmax
  wide  the same with 32 and 64 filters
  deep  Conv2D 32, Conv2D 32 → MaxPooling2D 2 → Conv2D 64, Conv2D 64 → GAP → Dense 10
  flat  base with Flatten instead of GlobalAveragePooling2D (4×4×32 → Dense 10)
  flat_wide  wide with Flatten;  flat_deep  16, 16 → pool → 32, 32 with Flatten

Results (this machine, keras 3.15.1, jax 0.10.2; seeds 7, 8, 9; test accuracy):
base 95.26, 94.71, 96.38 % (mean 95.45); wide 98.61, 98.05, 96.94 (97.86);
deep 98.89, 98.33, 99.44 (98.89); flat 99.44, 98.05, 99.16 (98.89);
flat_wide 99.44, 97.49, 99.44 (98.79); flat_deep 99.16, 97.49, 99.72 (98.79).
So `base` falls short of 98.5 %; `flat` (9,930 parameters, 3.5 s a fit) and
`deep` (65,642 parameters, 15 s) reach it on average.
"""
import argparse
import gzip
import hashlib
import json
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import network_text  # noqa: E402
DIGITS = os.path.join(HERE, "..", "data", "digits.csv.gz")
MASK = (1 << 64) - 1


class SplitMix64:
    """runtime/rng.rs `SplitMix64`."""

    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def below(self, bound):
        zone = MASK - (MASK % bound)
        while True:
            x = self.next()
            if x < zone:
                return x % bound


def shuffle(items, rng):
    """runtime/rng.rs `shuffle` (Fisher–Yates from the end)."""
    for i in range(len(items) - 1, 0, -1):
        j = rng.below(i + 1)
        items[i], items[j] = items[j], items[i]


def split(labels, seed):
    """examples/common/mod.rs `Digits::split`: returns (train, test) indices."""
    rng = SplitMix64(seed)
    train, test = [], []
    for cls in range(10):
        members = [i for i, label in enumerate(labels) if label == cls]
        shuffle(members, rng)
        held = (len(members) + 2) // 5
        test += members[:held]
        train += members[held:]
    shuffle(train, rng)
    shuffle(test, rng)
    return train, test


def checksum(idx):
    return sum((k + 1) * i for k, i in enumerate(idx))


def load():
    """examples/common/mod.rs `parse_digits`: 64 pixels and a label a line."""
    rows = [line.split(",") for line in gzip.open(DIGITS, "rt") if line.strip()]
    d = np.array([[float(f) for f in r] for r in rows])
    assert d.shape[1] == 65 and d[:, :64].min() >= 0 and d[:, :64].max() <= 16
    return d[:, :64], d[:, 64].astype(int)


# filters of the convolutions before and after the pooling, and the head's
# reduction: global average pooling, or Flatten (keeping where things are)
VARIANTS = {
    "base": ((16,), (32,), "gap"),
    "wide": ((32,), (64,), "gap"),
    "deep": ((32, 32), (64, 64), "gap"),
    "flat": ((16,), (32,), "flatten"),
    "flat_wide": ((32,), (64,), "flatten"),
    "flat_deep": ((16, 16), (32, 32), "flatten"),
}


def build(variant):
    first, second, head = VARIANTS[variant]
    image = keras.Input((8, 8, 1), name="image")
    x, lines, n = image, [], 0
    for i, f in enumerate(first):
        n += 1
        x = layers.Conv2D(f, (3, 3), padding="same", activation="relu", name=f"conv{n}")(x)
        lines.append(f'let x = Conv2D({f}, (3, 3), padding = "same", activation = relu, name = "conv{n}")({"image" if n == 1 else "x"});')
    x = layers.MaxPooling2D((2, 2), name="pool")(x)
    lines.append('let x = MaxPooling2D((2, 2), name = "pool")(x);')
    for f in second:
        n += 1
        x = layers.Conv2D(f, (3, 3), padding="same", activation="relu", name=f"conv{n}")(x)
        lines.append(f'let x = Conv2D({f}, (3, 3), padding = "same", activation = relu, name = "conv{n}")(x);')
    if head == "gap":
        x = layers.GlobalAveragePooling2D(name="gap")(x)
        lines.append('let x = GlobalAveragePooling2D(name = "gap")(x);')
    else:
        x = layers.Flatten(name="flat")(x)
        lines.append('let x = Flatten(name = "flat")(x);')
    out = layers.Dense(10, activation="softmax", name="class")(x)
    lines.append('let class = Dense(10, activation = softmax, name = "class")(x);')
    model = keras.Model(image, out)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    network = "pub struct DigitsCnn {\n    let image = Input(shape = (8, 8, 1));\n"
    network += "".join(f"    {line}\n" for line in lines)
    network += "    Model(image, class);\n"
    network += "    compile(optimizer = adam, loss = categorical_crossentropy, metrics = [accuracy]);\n}"
    network_text.same_model(network, model, ["categorical_crossentropy"], None, "adam")
    return model, network


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="base", choices=list(VARIANTS) + ["all"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args(argv)

    pixels, labels = load()
    x = (pixels / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    y = np.eye(10, dtype="float32")[labels]
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {len(labels)} images")
    splits = {}
    for seed in args.seeds:
        train, test = split(list(labels), seed)
        splits[seed] = (train, test)
        digest = hashlib.sha256(",".join(map(str, test)).encode()).hexdigest()[:16]
        print(f"split seed {seed}: {len(train)} train, {len(test)} test; test checksum Σ(k+1)·test[k] = "
              f"{checksum(test)}, first {test[:10]}, sha256(\"i,j,…\")[:16] {digest}")
    results = {}
    for variant in (VARIANTS if args.variant == "all" else [args.variant]):
        model, network = build(variant)
        print(f"\nvariant {variant}: {model.count_params()} parameters\n{network}")
        runs = []
        for seed in args.seeds:
            train, test = splits[seed]
            keras.backend.clear_session()
            keras.utils.set_random_seed(seed)
            model, _ = build(variant)
            t = time.perf_counter()
            model.fit(x[train], y[train], epochs=args.epochs, batch_size=32, verbose=0)
            seconds = time.perf_counter() - t
            _, accuracy = model.evaluate(x[test], y[test], verbose=0)
            runs.append(dict(seed=seed, accuracy=float(accuracy), fit_s=round(seconds, 2)))
            print(f"  seed {seed}: test accuracy {accuracy * 100:.2f}% "
                  f"({round(accuracy * len(test))}/{len(test)}), fit {seconds:.1f} s for {args.epochs} epochs", flush=True)
        accs = [r["accuracy"] for r in runs]
        print(f"  {variant}: accuracy mean {statistics.mean(accs) * 100:.2f}%, min {min(accs) * 100:.2f}%, "
              f"max {max(accs) * 100:.2f}%; fit median {statistics.median(r['fit_s'] for r in runs):.1f} s")
        results[variant] = dict(network=network, params=model.count_params(), runs=runs)
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    sys.exit(main())
