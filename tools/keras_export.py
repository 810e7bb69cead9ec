#!/usr/bin/env python3
"""Export a Keras functional model's weights in staticnet's safetensors layout.

    python tools/keras_export.py MODEL.keras OUT.safetensors [--batch N] [--seed 0] [--dtype float32]

Writes every weight as staticnet names it (`{layer}.kernel` with Keras's
`[in, out]` shape, `{layer}.bias`, `{layer}.gamma`, `{layer}.beta`,
`{layer}.moving_mean`, `{layer}.moving_variance`), so that
`Model::from_safetensors(&bytes)` (or the `weights("…")` statement) loads it.

With `--batch N` (N > 0) the file is a parity case laid out like
tests/fixtures: the weights go under `weights/` (load them with
`staticnet::weights::from_safetensors_prefixed(&bytes, "weights/")`), with a
random batch `input/{name}` (`[batch, features]`, inputs in the model's
order) and what Keras predicts for it, `expect/output/{head}`. With the
default `--batch 0` the file holds only the weights, for `from_safetensors`.
The metadata holds the input names (`inputs`) and head names (`heads`) as
JSON lists.

Needs keras (3.x) and numpy; writes the safetensors format itself.
"""
import argparse
import json
import struct
import sys

import numpy as np

SUPPORTED = {
    "Dense": ("kernel", "bias"),
    "LayerNormalization": ("gamma", "beta"),
    "BatchNormalization": ("gamma", "beta", "moving_mean", "moving_variance"),
}
NO_WEIGHTS = {
    "InputLayer", "Activation", "Dropout", "Concatenate", "Add", "Subtract",
    "Multiply", "Average", "Maximum", "Minimum", "Dot",
}
DTYPES = {np.dtype("float32"): "F32", np.dtype("float64"): "F64"}


def write_safetensors(path, tensors, metadata):
    """Write `tensors` (name -> numpy array) as a safetensors file."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name])
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[array.dtype], "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(raw)))
        out.write(raw)
        for blob in blobs:
            out.write(blob)


def layer_weights(model, dtype):
    """staticnet's name -> array for every weight of the model."""
    tensors = {}
    for layer in model.layers:
        kind = type(layer).__name__
        if kind in NO_WEIGHTS:
            continue
        if kind not in SUPPORTED:
            raise SystemExit(f"error: layer `{layer.name}` is a {kind}, which staticnet does not have")
        if kind in ("LayerNormalization", "BatchNormalization") and not (layer.center and layer.scale):
            raise SystemExit(f"error: layer `{layer.name}` needs center=True and scale=True for staticnet")
        names = [v.path.split("/")[-1] for v in layer.weights]
        for variable, value in zip(names, layer.get_weights()):
            if variable not in SUPPORTED[kind]:
                raise SystemExit(f"error: layer `{layer.name}` has an unexpected variable `{variable}`")
            tensors[f"{layer.name}.{variable}"] = np.asarray(value, dtype=dtype)
    return tensors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file")
    parser.add_argument("out", help="the .safetensors file to write")
    parser.add_argument("--batch", type=int, default=0, help="samples in a parity batch (0: weights only)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    args = parser.parse_args(argv)

    import keras

    model = keras.saving.load_model(args.model)
    tensors = layer_weights(model, args.dtype)
    input_names = [t.name.split(":")[0] for t in model.inputs]
    input_layers = [layer for layer in model.layers if type(layer).__name__ == "InputLayer"]
    head_names = [t._keras_history[0].name for t in model.outputs]
    metadata = {"format": "staticnet", "inputs": json.dumps(input_names), "heads": json.dumps(head_names)}
    if args.batch:
        tensors = {f"weights/{name}": value for name, value in tensors.items()}
        rng = np.random.default_rng(args.seed)
        # Rounded to each InputLayer's compute dtype (`predict` casts inputs to
        # it, float32 by default even in a float64 model), so the stored batch
        # is exactly what Keras computed with.
        batch = [
            rng.uniform(-1, 1, size=(args.batch,) + tuple(t.shape[1:])).astype(t._keras_history[0].compute_dtype).astype(args.dtype)
            for t in model.inputs
        ]
        outputs = model.predict(batch if len(batch) > 1 else batch[0], verbose=0)
        if len(head_names) == 1:
            outputs = [outputs]
        for name, value in zip(input_names, batch):
            tensors[f"input/{name}"] = value.astype(args.dtype)
        for name, value in zip(head_names, outputs):
            tensors[f"expect/output/{name}"] = np.asarray(value, dtype=args.dtype)
    write_safetensors(args.out, tensors, metadata)
    print(f"wrote {len(tensors)} tensors to {args.out} ({len(input_layers)} inputs, heads {', '.join(head_names)})")


if __name__ == "__main__":
    sys.exit(main())
