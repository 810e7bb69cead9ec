#!/usr/bin/env python3
"""MicroFlow's two example models as staticnet f32 weights.

Reads `sine.tflite` and `speech.tflite` (shipped in the `microflow` crate's
`models/`; `firmware/measure.sh` copies them to firmware/models/), checks
that every op of the graph is one that `network!` has, dequantizes the int8
weights (`scale * (q - zero_point)`, per channel where the file says so; an
int32 bias with its own scale, which is input scale × weight scale) and
writes them under staticnet's keys:

  sine:   FULLY_CONNECTED(relu) ×2, FULLY_CONNECTED
          = Dense(16, relu), Dense(16, relu), Dense(1)
          -> dense.kernel [1, 16], dense.bias, dense_1.*, dense_2.*
  speech: RESHAPE [1960] -> [49, 40, 1]; DEPTHWISE_CONV_2D 10×8 stride 2
          SAME, depth multiplier 8, relu; FULLY_CONNECTED 4000 -> 4; SOFTMAX
          = Reshape((49, 40, 1)), DepthwiseConv2D((10, 8), strides = 2,
          padding = "same", depth_multiplier = 8, relu), Flatten(),
          Dense(4, softmax)
          -> depthwise_conv2d.kernel [10, 8, 1, 8], .bias [8],
             dense.kernel [4000, 4], dense.bias [4]

It also writes `{name}_scales.safetensors`, TFLite's own scales in the
layout `quantize(int8, scales = "…")` reads (README, "Quantized
inference"): `{tensor}.scale` and `{tensor}.zero_point` for the input and
each layer's output (a Dense with softmax: its logits), and
`{layer}.kernel_scale` per output channel, so that staticnet's int8 model
runs on exactly MicroFlow's quantization.

It also prints, for the firmware's inputs, the outputs of the dequantized
model computed in float64 with numpy (what staticnet f32 should give, up to
f32 rounding) next to the int8 model's own outputs from the TFLite
interpreter (what MicroFlow computes), so the cost of quantization is seen.

    pip install tflite ai-edge-litert safetensors numpy
    python3 tools/tflite_to_safetensors.py firmware/models
"""
import sys
from pathlib import Path

import numpy as np
import tflite
from safetensors.numpy import save_file

# TFLite's enums (schema.fbs).
SAME, VALID = 0, 1
ACT_NONE, ACT_RELU = 0, 1


class Graph:
    def __init__(self, path):
        self.buf = Path(path).read_bytes()
        self.model = tflite.Model.GetRootAsModel(self.buf, 0)
        self.g = self.model.Subgraphs(0)
        self.ops = []
        for i in range(self.g.OperatorsLength()):
            op = self.g.Operators(i)
            code = self.model.OperatorCodes(op.OpcodeIndex())
            name = tflite.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
            self.ops.append((name, op))

    def names(self):
        return [n for n, _ in self.ops]

    def tensor(self, index):
        """A constant tensor, dequantized to float64, and its int values."""
        t = self.g.Tensors(index)
        data = self.model.Buffers(t.Buffer()).DataAsNumpy()
        dtype = {tflite.TensorType.INT8: np.int8, tflite.TensorType.INT32: np.int32,
                 tflite.TensorType.FLOAT32: np.float32}[t.Type()]
        q = np.frombuffer(data.tobytes(), dtype=dtype).reshape(t.ShapeAsNumpy())
        if dtype == np.float32:
            return q.astype(np.float64)
        qp = t.Quantization()
        scale, zero = qp.ScaleAsNumpy(), qp.ZeroPointAsNumpy()
        if np.size(scale) == 0 or not np.any(scale):  # not quantized: a shape, say
            return q.astype(np.float64)
        axis = qp.QuantizedDimension()
        if np.size(scale) > 1:  # per channel along `axis`
            shape = [1] * q.ndim
            shape[axis] = -1
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        return scale * (q.astype(np.float64) - zero)

    def quant(self, index):
        qp = self.g.Tensors(index).Quantization()
        return float(qp.ScaleAsNumpy()[0]), int(qp.ZeroPointAsNumpy()[0])

    def options(self, op, kind):
        o = kind()
        t = op.BuiltinOptions()
        o.Init(t.Bytes, t.Pos)
        return o


def fully_connected(graph, op, relu):
    o = graph.options(op, tflite.FullyConnectedOptions)
    assert o.FusedActivationFunction() == (ACT_RELU if relu else ACT_NONE), "unexpected fused activation"
    assert o.WeightsFormat() == 0, "only the default weights format maps to Dense"
    _, w, b = op.InputsAsNumpy()
    # TFLite's FC weights are [out, in]; Keras's kernel is [in, out].
    return graph.tensor(w).T, graph.tensor(b)


def sine(graph):
    assert graph.names() == ["FULLY_CONNECTED"] * 3, graph.names()
    weights = {}
    for i, (key, relu) in enumerate([("dense", True), ("dense_1", True), ("dense_2", False)]):
        k, b = fully_connected(graph, graph.ops[i][1], relu)
        weights[f"{key}.kernel"], weights[f"{key}.bias"] = k, b
    return weights


def speech(graph):
    assert graph.names() == ["RESHAPE", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "SOFTMAX"], graph.names()
    reshape = graph.ops[0][1]
    assert list(graph.tensor(reshape.InputsAsNumpy()[1]).astype(int)) == [-1, 49, 40, 1]
    dw = graph.ops[1][1]
    o = graph.options(dw, tflite.DepthwiseConv2DOptions)
    assert (o.Padding(), o.StrideH(), o.StrideW(), o.DepthMultiplier()) == (SAME, 2, 2, 8)
    assert (o.DilationHFactor(), o.DilationWFactor(), o.FusedActivationFunction()) == (1, 1, ACT_RELU)
    _, w, b = dw.InputsAsNumpy()
    w = graph.tensor(w)  # [1, kh, kw, in·dm], in = 1
    assert w.shape == (1, 10, 8, 8)
    kernel = w.reshape(10, 8, 1, 8)  # Keras: [kh, kw, in, depth_multiplier]
    k, bias = fully_connected(graph, graph.ops[2][1], relu=False)
    sm = graph.options(graph.ops[3][1], tflite.SoftmaxOptions)
    assert sm.Beta() == 1.0
    return {"depthwise_conv2d.kernel": kernel, "depthwise_conv2d.bias": graph.tensor(b),
            "dense.kernel": k, "dense.bias": bias}


def quant(graph, index):
    """A tensor's (scale, zero point) as the scales file holds them."""
    qp = graph.g.Tensors(index).Quantization()
    s, z = qp.ScaleAsNumpy(), qp.ZeroPointAsNumpy()
    assert np.size(s) == 1, "per-tensor activations"
    return np.asarray([s[0]], dtype=np.float32), np.asarray([z[0]], dtype=np.int32)


def kernel_scale(graph, index, units):
    qp = graph.g.Tensors(index).Quantization()
    return np.broadcast_to(np.asarray(qp.ScaleAsNumpy(), dtype=np.float32), (units,)).copy()


def put(scales, name, pair):
    scales[f"{name}.scale"], scales[f"{name}.zero_point"] = pair


def sine_scales(graph):
    scales = {}
    put(scales, "x", quant(graph, graph.ops[0][1].InputsAsNumpy()[0]))
    for i, key in enumerate(["dense", "dense_1", "dense_2"]):
        op = graph.ops[i][1]
        put(scales, key, quant(graph, op.OutputsAsNumpy()[0]))
        w = op.InputsAsNumpy()[1]
        scales[f"{key}.kernel_scale"] = kernel_scale(graph, w, graph.g.Tensors(w).ShapeAsNumpy()[0])
    return scales


def speech_scales(graph):
    scales = {}
    reshape, dw, fc, sm = (op for _, op in graph.ops)
    put(scales, "frames", quant(graph, reshape.InputsAsNumpy()[0]))
    put(scales, "reshape", quant(graph, reshape.OutputsAsNumpy()[0]))
    put(scales, "depthwise_conv2d", quant(graph, dw.OutputsAsNumpy()[0]))
    scales["depthwise_conv2d.kernel_scale"] = kernel_scale(graph, dw.InputsAsNumpy()[1], 8)
    # TFLite's FULLY_CONNECTED reads the 4-D tensor as it is: Flatten keeps its scale
    put(scales, "flatten", quant(graph, dw.OutputsAsNumpy()[0]))
    put(scales, "dense", quant(graph, fc.OutputsAsNumpy()[0]))
    scales["dense.kernel_scale"] = kernel_scale(graph, fc.InputsAsNumpy()[1], 4)
    s, z = quant(graph, sm.OutputsAsNumpy()[0])
    assert abs(s[0] - 1 / 256) < 1e-9 and z[0] == -128, (s, z)
    return scales


# The float model, in float64, for the comparison.
def sine_forward(w, x):
    h = np.maximum(x @ w["dense.kernel"] + w["dense.bias"], 0)
    h = np.maximum(h @ w["dense_1.kernel"] + w["dense_1.bias"], 0)
    return h @ w["dense_2.kernel"] + w["dense_2.bias"]


def speech_forward(w, x):
    img = x.reshape(49, 40)
    # SAME with stride 2: 25×20 outputs, padding 9 rows (4 before) and 6 columns (3 before)
    pad = np.zeros((49 + 9, 40 + 6))
    pad[4:4 + 49, 3:3 + 40] = img
    k = w["depthwise_conv2d.kernel"][:, :, 0, :]  # [10, 8, 8]
    out = np.zeros((25, 20, 8))
    for i in range(25):
        for j in range(20):
            patch = pad[2 * i:2 * i + 10, 2 * j:2 * j + 8]
            out[i, j] = np.einsum("hw,hwc->c", patch, k)
    out = np.maximum(out + w["depthwise_conv2d.bias"], 0)
    z = out.reshape(-1) @ w["dense.kernel"] + w["dense.bias"]
    e = np.exp(z - z.max())
    return e / e.sum()


def speech_inputs():
    """The firmware's speech inputs (firmware/src/lib.rs `speech_input`)."""
    half = np.full(1960, 0.5)
    # a deterministic pattern in [0, 26), the range of the int8 input
    ramp = np.array([((i * 37) % 101) / 101.0 * 26.0 for i in range(1960)], dtype=np.float32)
    return [("all 0.5", half), ("pattern", ramp.astype(np.float64))]


def interpreter(path, x):
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(path))
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    s, z = inp["quantization"]
    q = np.clip(np.round(np.asarray(x) / s) + z, -128, 127).astype(np.int8)
    it.set_tensor(inp["index"], q.reshape(inp["shape"]))
    it.invoke()
    s, z = out["quantization"]
    return s * (it.get_tensor(out["index"]).astype(np.float64).reshape(-1) - z)


def main():
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "firmware/models")
    for name, convert in [("sine", sine), ("speech", speech)]:
        graph = Graph(folder / f"{name}.tflite")
        weights = convert(graph)
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()},
                  str(folder / f"{name}.safetensors"), metadata={"format": "staticnet", "from": f"{name}.tflite"})
        print(f"{name}: {' '.join(graph.names())} -> {folder / name}.safetensors "
              f"({sum(v.size for v in weights.values())} parameters)")
        scales = {"sine": sine_scales, "speech": speech_scales}[name](graph)
        save_file(scales, str(folder / f"{name}_scales.safetensors"),
                  metadata={"format": "staticnet", "from": f"{name}.tflite"})
        print(f"  TFLite's scales -> {folder / name}_scales.safetensors")
        f64 = {k: v.astype(np.float32).astype(np.float64) for k, v in weights.items()}
        if name == "sine":
            cases = [(str(x), np.array([x])) for x in (0.5, 1.0, 2.0, 4.0)]
            forward = sine_forward
        else:
            cases = speech_inputs()
            forward = speech_forward
        for label, x in cases:
            f = forward(f64, x).reshape(-1)
            q = interpreter(folder / f"{name}.tflite", x)
            print(f"  {label}: float {np.array2string(f, precision=7)}  tflite int8 {np.array2string(q, precision=7)}"
                  f"  max |diff| {np.abs(f - q).max():.4f}")


if __name__ == "__main__":
    main()
