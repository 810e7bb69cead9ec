#!/usr/bin/env python3
"""Times Keras 3 (JAX backend) on the models the Rust benches time, for the
side-by-side ratios in the README's performance table (with
`cargo bench --bench ratios`).

    pip install keras jax            # CPU JAX is enough
    python benches/keras_baseline.py            # every measurement
    python benches/keras_baseline.py predict    # or some of: predict jit fit digits

Measurements (each repeated; the best and the median are printed):
  predict  `model.predict(x)` of one sample through the seed's 64->32->32->10
           classifier (what `Digits::forward` computes);
  jit      the same network as one raw `jax.jit` function of the weights;
  fit      `model.fit` of the multi-output model (256->64->64->{1, 10
           softmax, 1 sigmoid}, RMSprop, loss weights 0.25/1/10) at batch 64:
           samples per second over whole epochs after the first (compiling) one;
  digits   the main example: the classifier trained on the UCI digits with
           `fit` (RMSprop, batch 32, 50 epochs) on the same stratified 80/20
           split the Rust example draws for seed 7, with its test accuracy.
"""
import gzip
import os
import statistics
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DIGITS = os.path.join(HERE, "..", "data", "digits.csv.gz")
MASK = (1 << 64) - 1


def report(name, seconds, unit="s", per=None):
    best, median = min(seconds), statistics.median(seconds)
    if per is not None:
        print(f"{name:34s} best {per / best:12.0f} {unit}   median {per / median:12.0f} {unit}")
    elif best < 1e-3:
        print(f"{name:34s} best {best * 1e6:10.2f} us   median {median * 1e6:10.2f} us")
    else:
        print(f"{name:34s} best {best:10.4f} s    median {median:10.4f} s")
    sys.stdout.flush()


def classifier():
    inp = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu")(inp)
    h = keras.layers.Dense(32, activation="relu")(h)
    out = keras.layers.Dense(10, activation="softmax")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def bench_predict(repeats):
    model = classifier()
    x = np.random.RandomState(0).rand(1, 64).astype("float32")
    model.predict(x, verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(50):
            model.predict(x, verbose=0)
        times.append((time.perf_counter() - t) / 50)
    report("keras predict, 1 sample", times)


def bench_jit(repeats):
    model = classifier()
    params = [w.numpy() if hasattr(w, "numpy") else np.asarray(w) for w in model.weights]
    params = [jnp.asarray(p) for p in params]

    @jax.jit
    def forward(params, x):
        w1, b1, w2, b2, w3, b3 = params
        h = jax.nn.relu(x @ w1 + b1)
        h = jax.nn.relu(h @ w2 + b2)
        return jax.nn.softmax(h @ w3 + b3)

    x = jnp.asarray(np.random.RandomState(0).rand(1, 64).astype("float32"))
    forward(params, x).block_until_ready()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(2000):
            forward(params, x).block_until_ready()
        times.append((time.perf_counter() - t) / 2000)
    report("jax.jit forward, 1 sample", times)


def bench_fit(repeats):
    posts = keras.Input((256,))
    x = keras.layers.Dense(64, activation="relu")(posts)
    x = keras.layers.Dense(64, activation="relu")(x)
    age = keras.layers.Dense(1, name="age")(x)
    income = keras.layers.Dense(10, activation="softmax", name="income")(x)
    gender = keras.layers.Dense(1, activation="sigmoid", name="gender")(x)
    model = keras.Model(posts, [age, income, gender])
    model.compile(
        optimizer="rmsprop",
        loss=["mse", "categorical_crossentropy", "binary_crossentropy"],
        loss_weights=[0.25, 1.0, 10.0],
    )
    n = 64 * 400
    rng = np.random.RandomState(0)
    data = rng.rand(n, 256).astype("float32") - 0.3
    ages = rng.rand(n, 1).astype("float32")
    incomes = np.eye(10, dtype="float32")[rng.randint(0, 10, n)]
    genders = rng.randint(0, 2, (n, 1)).astype("float32")
    model.fit(data, [ages, incomes, genders], batch_size=64, epochs=1, verbose=0)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        model.fit(data, [ages, incomes, genders], batch_size=64, epochs=1, verbose=0)
        times.append(time.perf_counter() - t)
    report("keras fit multi-output, batch 64", times, "samples/s", per=n)


class SplitMix64:
    """The runtime's SplitMix64, to draw the Rust example's split."""

    def __init__(self, seed):
        self.state = seed

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

    def shuffle(self, items):
        for i in range(len(items) - 1, 0, -1):
            j = self.below(i + 1)
            items[i], items[j] = items[j], items[i]


def digits_split(labels, seed):
    """examples/common/mod.rs `Digits::split`: a fifth of each class held out."""
    rng = SplitMix64(seed)
    train, test = [], []
    for cls in range(10):
        members = [i for i, label in enumerate(labels) if label == cls]
        rng.shuffle(members)
        held = (len(members) + 2) // 5
        test += members[:held]
        train += members[held:]
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


def bench_digits(repeats, seed=7):
    rows = [list(map(float, line.split(","))) for line in gzip.open(DIGITS, "rt") if line.strip()]
    d = np.array(rows)
    x, labels = (d[:, :64] / 16.0).astype("float32"), d[:, 64].astype(int)
    y = np.eye(10, dtype="float32")[labels]
    train, test = digits_split(list(labels), seed)
    times, accuracies = [], []
    for r in range(repeats):
        keras.utils.set_random_seed(seed + r)
        model = classifier()
        t = time.perf_counter()
        model.fit(x[train], y[train], epochs=50, batch_size=32, verbose=0)
        times.append(time.perf_counter() - t)
        accuracies.append(model.evaluate(x[test], y[test], verbose=0)[1])
    report("keras fit digits, 50 epochs", times)
    print(f"{'keras digits test accuracy':34s} best {max(accuracies) * 100:9.2f} %    median {statistics.median(accuracies) * 100:9.2f} %")


def main():
    which = sys.argv[1:] or ["predict", "jit", "fit", "digits"]
    print(f"keras {keras.__version__}, jax {jax.__version__}, backend {keras.backend.backend()}, devices {jax.devices()}")
    for name in which:
        {"predict": lambda: bench_predict(7), "jit": lambda: bench_jit(7), "fit": lambda: bench_fit(5), "digits": lambda: bench_digits(5)}[name]()


if __name__ == "__main__":
    main()
