#!/usr/bin/env python3
"""Build, briefly train and save the Keras model of tests/keras_interop.rs.

    python tools/interop_model.py OUT.keras

The same model is written with `network!` in tests/keras_interop.rs; the
committed tests/fixtures/interop.safetensors was made with
`python tools/keras_export.py OUT.keras tests/fixtures/interop.safetensors --batch 8 --dtype float64`.
"""
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ.setdefault("JAX_ENABLE_X64", "1")
import keras
import numpy as np
from keras import layers

keras.config.set_floatx("float64")
keras.utils.set_random_seed(7)
a = keras.Input((12,), name="a")
b = keras.Input((6,), name="b")
x = layers.Dense(16, activation="gelu")(a)
x = layers.LayerNormalization()(x)
y = layers.Dense(16, activation="tanh", use_bias=False)(b)
m = layers.concatenate([x, y])
m = layers.BatchNormalization()(m)
m = layers.Dropout(0.2)(m)
p = layers.Dense(8)(m)
q = layers.Dense(8, activation="elu")(m)
s = layers.add([p, q])
cls = layers.Dense(5, activation="softmax", name="cls")(s)
reg = layers.Dense(2, name="reg")(s)
model = keras.Model([a, b], [cls, reg])
model.compile(optimizer="adam", loss=["categorical_crossentropy", "mse"])
rng = np.random.default_rng(1)
xa, xb = rng.normal(size=(256, 12)), rng.normal(size=(256, 6))
yc = np.eye(5)[rng.integers(0, 5, 256)]
yr = rng.normal(size=(256, 2))
# Training moves the weights and the batch-normalization statistics away
# from their initial values, so the parity check sees them all.
model.fit([xa, xb], [yc, yr], epochs=3, batch_size=32, verbose=0)
model.save(sys.argv[1] if len(sys.argv) > 1 else "interop.keras")
