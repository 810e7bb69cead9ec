#!/usr/bin/env python3
"""Load staticnet weights into the same Keras functional model.

    python tools/keras_import.py MODEL.keras WEIGHTS.safetensors OUT.keras

`WEIGHTS.safetensors` is what `model.to_safetensors()` wrote in Rust (f32 or
f64); every tensor `{layer}.{variable}` goes into the Keras layer of that name.
A tensor the model lacks, a weight the file lacks, or a shape that differs is
an error that names it. Needs keras (3.x) and numpy.
"""
import json
import struct
import sys

import numpy as np

DTYPES = {"F32": "<f4", "F64": "<f8"}


def read_safetensors(path):
    """name -> numpy array for every tensor of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    header.pop("__metadata__", None)
    data = raw[8 + length :]
    tensors = {}
    for name, info in header.items():
        if info["dtype"] not in DTYPES:
            raise SystemExit(f"error: tensor `{name}` has dtype {info['dtype']}, expected F32 or F64")
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return tensors


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 3:
        raise SystemExit(__doc__)
    model_path, weights_path, out_path = argv

    import keras

    model = keras.saving.load_model(model_path)
    tensors = read_safetensors(weights_path)
    used = set()
    for layer in model.layers:
        if not layer.weights:
            continue
        values = []
        for variable in layer.weights:
            name = f"{layer.name}.{variable.path.split('/')[-1]}"
            if name not in tensors:
                raise SystemExit(f"error: the file has no tensor `{name}`, which the model needs")
            value = tensors[name]
            if tuple(value.shape) != tuple(variable.shape):
                raise SystemExit(f"error: tensor `{name}` has shape {list(value.shape)}, the model needs {list(variable.shape)}")
            values.append(value.astype(variable.dtype))
            used.add(name)
        layer.set_weights(values)
    extra = sorted(set(tensors) - used)
    if extra:
        raise SystemExit(f"error: the file has a tensor `{extra[0]}`, which the model does not have")
    model.save(out_path)
    print(f"loaded {len(used)} tensors into {out_path}")


if __name__ == "__main__":
    sys.exit(main())
