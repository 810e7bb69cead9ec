#!/usr/bin/env python3
"""Write a Keras model as staticnet's `network!` block, and its weights.

    python3 tools/keras_to_network.py model.keras [--name StructName]
        [--weights out.safetensors [--dtype f32|f64] [--bake path/in/crate.safetensors]]
        [--no-compile] [--no-check]

Prints the `network! { … }` block for a Keras functional model (a .keras
file; a legacy .h5 file loads the same way; a Sequential model is written
as the functional model it is). Every layer keeps its name (`name = "…"` is
always written); its other arguments are written where they differ from
Keras's defaults, as a user would write them. A layer called more than once
(shared weights) becomes a layer object, `let shared = Dense(6, name =
"shared");`, called on each tensor; a functional (or Sequential) sub-model
becomes `let encoder = Model(enc_in, enc_out, name = "encoder");` after its
own `Input`s and layers, called like a layer. The model's `compile(…)`
comes from its compile config when it was compiled (the optimizer with its
non-default hyperparameters, `Adam(learning_rate = 0.01)`; the losses, one
for all heads, a list or a map by head as Keras has them; loss weights;
metrics); `--no-compile` leaves it out.

Anything `network!` cannot express is an error (exit status 1) that names
the layer and the argument: Lambda and custom layers, operations applied to
tensors outside a layer (`x + y` rather than `add([x, y])`), masking, a
frozen layer (`trainable = False`), regularizers and constraints, GRU with
`reset_after = False`, `return_state`, `stateful`, `go_backwards`, dropout
inside a recurrent layer, channels-first data, losses and metrics staticnet
lacks, learning-rate schedules, …. Non-default initializers are only noted
on stderr: they decide `new(seed)`'s weights, not a converted model's.

Unless `--no-check`, the text is run back through tools/network_text.py and
must build the same Keras model (layers, configurations, connections,
inputs, heads, compile arguments).

With `--weights out.safetensors` the weights go to a safetensors file with
staticnet's keys (tools/keras_fixtures.py's `structural_keys`: Keras's
variable path with `/` as `.`, a recurrent layer's cell left out,
Bidirectional's copies as `forward`/`backward`, a wrapped layer under its
own name, a sub-model's layers under theirs with no prefix, a shared layer's
once), f32 unless `--dtype f64`, loadable with `Model::from_safetensors` or
`weights("…");`. The metadata holds the block (`network`), the input and
head names (JSON). `--bake PATH` adds `weights("PATH");` to the block, so
that the weights are baked in at compile time (`Model::<f32>::PRETRAINED`):
PATH is where the file will be, relative to the crate's root (the directory
of its Cargo.toml), usually the `--weights` path as seen from there.

Needs keras 3 and jax (the model loads on the JAX backend whatever
KERAS_BACKEND says: a .keras file is backend-neutral).
"""
import argparse
import json
import math
import os
import re
import sys
import warnings

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_ENABLE_X64", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
from keras import layers as L  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import network_text  # noqa: E402


class Unsupported(Exception):
    """Something `network!` cannot express; the message names it."""


NOTED = set()


def warn(message):
    if message not in NOTED:
        NOTED.add(message)
        print(f"note: {message}", file=sys.stderr)


# ------------------------------------------------------------ vocabulary

ACTIVATIONS = {"linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "sigmoid", "hard_sigmoid",
               "tanh", "softmax", "log_softmax", "softplus", "softsign", "silu", "swish", "mish",
               "exponential"}
LOSSES = {"mse", "MSE", "mean_squared_error", "mae", "MAE", "mean_absolute_error", "huber", "huber_loss",
          "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"}
LOSS_CLASSES = {"MeanSquaredError": "mean_squared_error", "MeanAbsoluteError": "mean_absolute_error",
                "Huber": "huber", "CategoricalCrossentropy": "categorical_crossentropy",
                "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
                "BinaryCrossentropy": "binary_crossentropy"}
METRICS = {"accuracy", "acc", "categorical_accuracy", "binary_accuracy", "sparse_categorical_accuracy",
           "mse", "mean_squared_error", "mae", "mean_absolute_error"}
METRIC_CLASSES = {"CategoricalAccuracy": "categorical_accuracy", "BinaryAccuracy": "binary_accuracy",
                  "SparseCategoricalAccuracy": "sparse_categorical_accuracy", "MeanSquaredError": "mse",
                  "MeanAbsoluteError": "mae"}
# staticnet's optimizers: Keras class → the text's lowercase name, the
# hyperparameters it takes (in its order), clipping for all.
OPTIMIZERS = {
    "Adam": ("adam", ["learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"]),
    "RMSprop": ("rmsprop", ["learning_rate", "rho", "momentum", "epsilon", "centered"]),
    "SGD": ("sgd", ["learning_rate", "momentum", "nesterov"]),
}
CLIPPING = ["clipnorm", "clipvalue", "global_clipnorm"]
MERGE_FUNCTIONS = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
                   "Maximum": "maximum", "Minimum": "minimum", "Concatenate": "concatenate", "Dot": "dot"}

RUST_KEYWORDS = set("""as break const continue crate else enum extern false fn for if impl in let loop match mod
move mut pub ref return self Self static struct super trait true type unsafe use where while async await dyn
abstract become box do final macro override priv typeof unsized virtual yield try gen union""".split())
PYTHON_KEYWORDS = {"and", "assert", "class", "def", "del", "elif", "except", "finally", "from", "global",
                   "import", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "with", "None",
                   "True", "False"}
# Names a tensor must not take: they mean something else in the text
# (`Activation(relu)` would read a tensor named `relu`).
RESERVED = (RUST_KEYWORDS | PYTHON_KEYWORDS | ACTIVATIONS | LOSSES | METRICS | set(LOSS_CLASSES)
            | {n for n, _ in OPTIMIZERS.values()} | set(OPTIMIZERS) | set(MERGE_FUNCTIONS.values())
            | {"Input", "Model", "compile", "layers", "keras", "weights", "quantize", "int8"}
            | {n for n in dir(L) if n[:1].isupper()})

# Config keys that never change what the model computes from its weights.
INITIALIZERS = re.compile(r".*_initializer$")


# ---------------------------------------------------------------- values


def fmt_float(x):
    """The shortest text for a float, as Rust and Python both read it
    (`0.01`, not the float32 value `0.009999999776482582`)."""
    x = float(x)
    if not math.isfinite(x):
        raise Unsupported(f"the value {x} has no literal in `network!`")
    text = repr(x)
    if len(text) > 12 and float(np.float32(x)) == x:
        text = repr(float(str(np.float32(x))))
    text = re.sub(r"e([+-]?)0*(\d)", lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)
    if not re.search(r"[.e]", text):
        text += ".0"
    return text


def fmt(value):
    """A value as the text writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "None"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return fmt_float(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        items = [fmt(v) for v in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    raise Unsupported(f"the value {value!r} has no literal in `network!`")


def window(value, rank):
    """kernel_size, strides, dilation_rate, pool_size: an int for 1-D
    layers, a pair for 2-D ones."""
    value = tuple(value) if isinstance(value, (list, tuple)) else (value,) * rank
    return fmt(value[0]) if rank == 1 else fmt(value)


def padding_amounts(value, rank):
    """ZeroPadding's `padding`, as short as it says the same."""
    if rank == 1:
        a, b = value
        return fmt(a) if a == b else fmt((a, b))
    (t, b), (l, r) = value
    if t == b and l == r:
        return fmt(t) if t == l else fmt((t, l))
    return fmt(((t, b), (l, r)))


# ---------------------------------------------------------------- layers


class Spec:
    """How one Keras class is written: `default(config)` makes the
    instance whose config gives the defaults, `positional` arguments are
    always written (by position), `keywords` where they differ from the
    default, `ignored` never (they do not change what the layer computes
    from its weights); any other key that differs is an error."""

    def __init__(self, default, positional=(), keywords=(), ignored=(), rank=1, hints=None):
        self.default, self.positional, self.keywords = default, list(positional), list(keywords)
        self.ignored, self.rank, self.hints = set(ignored), rank, hints or {}


RECURRENT_HINTS = {
    "dropout": "put a `Dropout` layer before or after the recurrent layer",
    "recurrent_dropout": "staticnet has no dropout between steps",
    "return_state": "a streaming model's states are its `{Name}State`, carried by `step`",
    "go_backwards": "wrap the layer in `Bidirectional` to read a sequence backwards",
    "stateful": "a model that streams keeps its state in `{Name}State`, passed to `step`",
    "reset_after": "only `reset_after = True` (Keras's default) is supported",
}
CONV_HINTS = {"groups": "only `groups = 1` is supported",
              "data_format": "staticnet's tensors are channels last"}
CHANNELS = {"data_format": "staticnet's tensors are channels last"}
# unroll and cuDNN change how, not what; zero_output_for_mask matters only with
# a mask (Bidirectional sets it on its copies), and masks are refused
RECURRENT_IGNORED = ("seed", "unroll", "use_cudnn", "zero_output_for_mask")

SPECS = {
    "Dense": Spec(lambda c: L.Dense(c["units"]), ["units"], ["activation", "use_bias"]),
    "Activation": Spec(lambda c: L.Activation(c["activation"]), ["activation"]),
    "Dropout": Spec(lambda c: L.Dropout(c["rate"]), ["rate"], ["seed"],
                    hints={"noise_shape": "staticnet drops every value on its own"}),
    "LayerNormalization": Spec(lambda c: L.LayerNormalization(), [], ["axis", "epsilon"],
                               hints={"rms_scaling": "staticnet's LayerNormalization subtracts the mean",
                                      "center": "staticnet's LayerNormalization always has `beta`",
                                      "scale": "staticnet's LayerNormalization always has `gamma`"}),
    "BatchNormalization": Spec(lambda c: L.BatchNormalization(), [], ["axis", "momentum", "epsilon"],
                               hints={"center": "staticnet's BatchNormalization always has `beta`",
                                      "scale": "staticnet's BatchNormalization always has `gamma`"}),
    "Conv1D": Spec(lambda c: L.Conv1D(c["filters"], c["kernel_size"]), ["filters", "kernel_size"],
                   ["strides", "padding", "dilation_rate", "activation", "use_bias"], hints=CONV_HINTS),
    "Conv2D": Spec(lambda c: L.Conv2D(c["filters"], c["kernel_size"]), ["filters", "kernel_size"],
                   ["strides", "padding", "dilation_rate", "activation", "use_bias"], rank=2, hints=CONV_HINTS),
    "DepthwiseConv2D": Spec(lambda c: L.DepthwiseConv2D(c["kernel_size"]), ["kernel_size"],
                            ["strides", "padding", "depth_multiplier", "dilation_rate", "activation", "use_bias"],
                            rank=2, hints=CONV_HINTS),
    "SeparableConv2D": Spec(lambda c: L.SeparableConv2D(c["filters"], c["kernel_size"]), ["filters", "kernel_size"],
                            ["strides", "padding", "depth_multiplier", "dilation_rate", "activation", "use_bias"],
                            rank=2, hints=CONV_HINTS),
    # pool_size is written by position when it is not the class's default
    # (always for the average poolings, which have none); strides when it is
    # not pool_size
    "MaxPooling1D": Spec(lambda c: L.MaxPooling1D(c["pool_size"]), [], ["strides", "padding"], hints=CHANNELS),
    "MaxPooling2D": Spec(lambda c: L.MaxPooling2D(c["pool_size"]), [], ["strides", "padding"], rank=2,
                         hints=CHANNELS),
    "AveragePooling1D": Spec(lambda c: L.AveragePooling1D(c["pool_size"]), [], ["strides", "padding"],
                             hints=CHANNELS),
    "AveragePooling2D": Spec(lambda c: L.AveragePooling2D(c["pool_size"]), [], ["strides", "padding"], rank=2,
                             hints=CHANNELS),
    "GlobalAveragePooling1D": Spec(lambda c: L.GlobalAveragePooling1D(), hints=CHANNELS),
    "GlobalAveragePooling2D": Spec(lambda c: L.GlobalAveragePooling2D(), hints=CHANNELS),
    "GlobalMaxPooling1D": Spec(lambda c: L.GlobalMaxPooling1D(), hints=CHANNELS),
    "GlobalMaxPooling2D": Spec(lambda c: L.GlobalMaxPooling2D(), hints=CHANNELS),
    "Flatten": Spec(lambda c: L.Flatten(), hints=CHANNELS),
    "Reshape": Spec(lambda c: L.Reshape(c["target_shape"]), ["target_shape"]),
    "ZeroPadding1D": Spec(lambda c: L.ZeroPadding1D(), [], ["padding"], hints=CHANNELS),
    "ZeroPadding2D": Spec(lambda c: L.ZeroPadding2D(), [], ["padding"], rank=2, hints=CHANNELS),
    "Embedding": Spec(lambda c: L.Embedding(c["input_dim"], c["output_dim"]), ["input_dim", "output_dim"],
                      hints={"mask_zero": "staticnet's sequences have no masks"}),
    "SimpleRNN": Spec(lambda c: L.SimpleRNN(c["units"]), ["units"],
                      ["activation", "use_bias", "return_sequences"], RECURRENT_IGNORED, hints=RECURRENT_HINTS),
    "GRU": Spec(lambda c: L.GRU(c["units"]), ["units"],
                ["activation", "recurrent_activation", "use_bias", "return_sequences"], RECURRENT_IGNORED,
                hints=RECURRENT_HINTS),
    "LSTM": Spec(lambda c: L.LSTM(c["units"]), ["units"],
                 ["activation", "recurrent_activation", "use_bias", "unit_forget_bias", "return_sequences"],
                 RECURRENT_IGNORED, hints=RECURRENT_HINTS),
    "Concatenate": Spec(lambda c: L.Concatenate(), [], ["axis"]),
    "Dot": Spec(lambda c: L.Dot(c["axes"]), [], ["axes", "normalize"]),
    **{k: Spec(lambda c, k=k: getattr(L, k)()) for k in ("Add", "Subtract", "Multiply", "Average", "Maximum",
                                                         "Minimum")},
}
POOL_DEFAULTS = {"MaxPooling1D": (2,), "MaxPooling2D": (2, 2)}
WINDOW_KEYS = {"kernel_size", "strides", "dilation_rate", "pool_size"}


def describe(layer):
    return f"layer `{layer.name}` ({type(layer).__name__})"


def check_trainable(layer):
    if not layer.trainable:
        raise Unsupported(f"{describe(layer)} is frozen (`trainable = False`): staticnet trains every layer; "
                          "unfreeze it before converting")


def arguments(layer, name=None):
    """The arguments of `Class(…)`, as text, `name` (default the layer's)
    last."""
    kind = type(layer).__name__
    if kind == "Bidirectional":
        return bidirectional_arguments(layer)
    if kind == "TimeDistributed":
        return time_distributed_arguments(layer)
    spec = SPECS.get(kind)
    if spec is None or type(layer) is not getattr(L, kind, None):
        raise Unsupported(f"{describe(layer)}: staticnet has no such layer"
                          + (" (a Lambda's Python code cannot be compiled)" if kind == "Lambda" else ""))
    check_trainable(layer)
    config = layer.get_config()
    default = spec.default(config).get_config()
    differs = lambda k: normal(k, config.get(k)) != normal(k, default.get(k))  # noqa: E731
    init = [k for k in config if INITIALIZERS.match(k) and differs(k)]
    if init:
        warn(f"{describe(layer)} has non-default {', '.join(init)}: the weights carry the trained values, "
             "but staticnet's `new(seed)` starts from Keras's default initializers")
    written = set(spec.positional) | set(spec.keywords) | {"pool_size"}
    for k in config:
        if k in ("name", "dtype", "trainable") or k in written or k in spec.ignored or INITIALIZERS.match(k):
            continue
        if differs(k):
            hint = spec.hints.get(k) or ("staticnet has no regularizers" if "regularizer" in k else
                                         "staticnet has no constraints" if "constraint" in k else
                                         "staticnet does not support it")
            raise Unsupported(f"{describe(layer)}: `{k} = {config[k]!r}` cannot be written in `network!`: {hint}")
    if kind == "Dropout" and config.get("seed") is not None:
        warn(f"{describe(layer)}: its seed is kept, but staticnet's dropout masks are not Keras's")
    args = []
    if kind in POOL_DEFAULTS or kind.startswith("AveragePooling"):
        if kind not in POOL_DEFAULTS or tuple(config["pool_size"]) != POOL_DEFAULTS[kind]:
            args.append(window(config["pool_size"], spec.rank))
    for k in spec.positional:
        args.append(value_text(layer, k, config[k], spec))
    for k in spec.keywords:
        if differs(k):
            # ZeroPadding's padding by position, as Keras's examples write it
            named = "" if kind.startswith("ZeroPadding") and k == "padding" else f"{k} = "
            args.append(f"{named}{value_text(layer, k, config[k], spec)}")
    if kind == "Dot":
        args.insert(0, f"axes = {fmt(config['axes'])}")
    args.append(f"name = {fmt(name or layer.name)}")
    return args


def normal(key, value):
    """A config value as compared with the default: a normalization's
    `axis` is a list once the layer is built (`[-1]`), an int before."""
    if key == "axis" and isinstance(value, (list, tuple)) and len(value) == 1:
        return value[0]
    return value


def value_text(layer, key, value, spec):
    if key in ("activation", "recurrent_activation"):
        if not isinstance(value, str) or value not in ACTIVATIONS:
            raise Unsupported(f"{describe(layer)}: activation {value!r} is not one of staticnet's "
                              f"({', '.join(sorted(ACTIVATIONS))})")
        return value
    if key in WINDOW_KEYS:
        return window(value, spec.rank)
    if key == "padding" and type(layer).__name__.startswith("ZeroPadding"):
        return padding_amounts(value, spec.rank)
    if key == "axis":
        axis = normal(key, value)
        kind = type(layer).__name__
        rank = len(layer._inbound_nodes[0].input_tensors[0].shape) if layer._inbound_nodes else 0
        if kind.endswith("Normalization") and axis != -1 and not (axis == 1 and rank == 2):
            raise Unsupported(f"{describe(layer)}: `axis = {value!r}`: staticnet normalizes the last axis only")
        return fmt(axis)
    if key == "target_shape":
        return fmt(tuple(value))
    return fmt(value)


def inner_layer(layer, wrapper, allowed):
    kind = type(layer).__name__
    if kind not in allowed:
        raise Unsupported(f"{describe(wrapper)} wraps a {kind}; staticnet's {type(wrapper).__name__} "
                          f"wraps {' or '.join(allowed)}")
    return kind


def bidirectional_arguments(layer):
    check_trainable(layer)
    forward, backward = layer.forward_layer, layer.backward_layer
    kind = inner_layer(forward, layer, ("LSTM", "GRU", "SimpleRNN"))
    name = forward.name[len("forward_"):] if forward.name.startswith("forward_") else forward.name
    fc, bc = forward.get_config(), backward.get_config()
    for c in (fc, bc):
        c.pop("name")
    if bc.pop("go_backwards") is not True or fc.pop("go_backwards") or fc != bc or type(backward) is not type(forward):
        raise Unsupported(f"{describe(layer)} has its own `backward_layer`: staticnet's backward copy is the "
                          "wrapped layer's")
    if layer.merge_mode not in ("concat", "sum", "mul", "ave"):
        raise Unsupported(f"{describe(layer)}: `merge_mode = {layer.merge_mode!r}`: staticnet merges with "
                          "\"concat\", \"sum\", \"mul\" or \"ave\"")
    args = [f"{kind}({', '.join(arguments(forward, name))})"]
    if layer.merge_mode != "concat":
        args.append(f"merge_mode = {fmt(layer.merge_mode)}")
    args.append(f"name = {fmt(layer.name)}")
    return args


def time_distributed_arguments(layer):
    check_trainable(layer)
    inner_layer(layer.layer, layer, ("Dense",))
    return [f"Dense({', '.join(arguments(layer.layer))})", f"name = {fmt(layer.name)}"]


# ------------------------------------------------------------ the graph


def graph_of(model):
    """The functional graph of a model: itself, or a Sequential's."""
    if isinstance(model, keras.Sequential):
        graph = getattr(model, "_functional", None)
        if graph is None:
            raise Unsupported(f"Sequential `{model.name}` has no input shape: start it with `keras.Input(…)`")
        return graph
    if not hasattr(model, "_nodes_by_depth"):
        raise Unsupported(f"model `{model.name}` ({type(model).__name__}) is a subclassed model: only functional "
                          "and Sequential models have a graph to convert")
    return model


def nodes_of(graph):
    return [n for depth in graph._nodes_by_depth.values() for n in depth]


def producer(tensor):
    op, node_index, _ = tensor._keras_history
    return op, op._inbound_nodes[node_index]


def rust_ident(name):
    ident = re.sub(r"\W", "_", name)
    if not ident or ident[0].isdigit():
        ident = "t_" + ident
    return ident


class Writer:
    def __init__(self, model):
        self.model = model
        self.lines = []
        self.taken = set()
        self.var = {}  # id(tensor) → its variable
        self.objects = {}  # id(layer or sub-model) → its variable
        self.done = set()  # ids of emitted nodes
        self.calls = {}  # id(layer) → how many calls the whole model makes
        self.home = {}  # id(layer) → the graph that calls it
        self.shapes = {}  # id(shared layer or sub-model) → its first call's input shapes, and that call
        self.count(model)

    def count(self, model):
        graph = graph_of(model)
        for node in nodes_of(graph):
            op = node.operation
            if node.is_input or isinstance(op, L.InputLayer):
                continue
            if id(op) in self.home and self.home[id(op)] is not graph:
                raise Unsupported(f"layer `{op.name}` is called both inside and outside sub-model "
                                  f"`{model.name}`: write it as two layers, or call the sub-model only")
            self.home[id(op)] = graph
            self.calls[id(op)] = self.calls.get(id(op), 0) + 1
            if isinstance(op, keras.Model) and self.calls[id(op)] == 1:
                self.count(op)

    def name(self, want):
        """A fresh variable, `want` if it is free."""
        base = rust_ident(want)
        if base in RESERVED:
            base += "_out"
        name, i = base, 2
        while name in self.taken:
            name, i = f"{base}_{i}", i + 1
        self.taken.add(name)
        return name

    def emit(self, line):
        self.lines.append(line)

    def graph(self, model):
        """Emits a model's inputs and layers; returns its input and output
        variables."""
        graph = graph_of(model)
        inputs = []
        for t in graph.inputs:
            var = self.input(t)
            inputs.append(var)
        outputs = []
        for t in graph.outputs:
            op, node = producer(t)
            if isinstance(op, L.InputLayer):
                raise Unsupported(f"output `{op.name}` of `{model.name}` is an input: staticnet's heads are layers")
            self.node(node, model)
            outputs.append(self.var[id(t)])
        return inputs, outputs

    def input(self, tensor):
        layer = tensor._keras_history.operation
        config = layer.get_config()
        for k in ("sparse", "ragged", "optional"):
            if config.get(k):
                raise Unsupported(f"input `{layer.name}` is {k}: staticnet's inputs are dense tensors")
        shape = tuple(config["batch_shape"][1:])
        if config["batch_shape"][0] is not None:
            warn(f"input `{layer.name}` fixes the batch size at {config['batch_shape'][0]}; staticnet chooses it "
                 "when the network is used")
        dtype = config["dtype"]
        var = self.name(layer.name)
        args = []
        if len(shape) == 1 and "float" in dtype:
            args.append(fmt(shape[0]))
        else:
            args.append(f"shape = {fmt(shape)}")
        if "int" in dtype:
            if dtype not in ("int32", "int64", "uint32"):
                raise Unsupported(f"input `{layer.name}` has dtype {dtype}: staticnet takes token ids as int32")
            args.append(f"dtype = {fmt(dtype)}")
        elif "float" not in dtype:
            raise Unsupported(f"input `{layer.name}` has dtype {dtype}: staticnet takes floats or int32 token ids")
        if var != layer.name:
            args.append(f"name = {fmt(layer.name)}")
        self.emit(f"let {var} = Input({', '.join(args)});")
        self.var[id(tensor)] = var
        return var

    def argument(self, value):
        """A call's argument: a tensor's variable, or a list of them."""
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(self.argument(v) for v in value) + "]"
        if id(value) not in self.var:
            raise Unsupported(f"a call takes {value!r}, which is not a tensor of the model")
        return self.var[id(value)]

    def node(self, node, model):
        if id(node) in self.done:
            return
        layer = node.operation
        for t in node.input_tensors:
            op, parent = producer(t)
            if isinstance(op, L.InputLayer):
                if id(t) not in self.var:
                    raise Unsupported(f"`{model.name}` reads input `{op.name}` that is not one of its inputs")
                continue
            self.node(parent, model)
        self.done.add(id(node))
        if not isinstance(layer, L.Layer):
            raise Unsupported(f"operation `{layer.name}` ({type(layer).__name__}) is applied to tensors outside a "
                              "layer (keras.ops or a Python operator); staticnet needs a layer there, such as "
                              "`layers.Add()` for `x + y`")
        if len(node.outputs) != 1:
            raise Unsupported(f"{describe(layer)} gives {len(node.outputs)} tensors; staticnet's layers give one")
        if not isinstance(layer, keras.Model):
            arguments(layer)  # the layer's own refusals first
        args, kwargs = node.arguments.args, node.arguments.kwargs
        # `training` as recorded in a node changes nothing: the functional
        # model passes its own call's `training` (fit's, predict's) to
        # every layer (keras.src.models.functional.operation_fn)
        empty = lambda v: v is None or isinstance(v, (list, tuple)) and all(empty(x) for x in v)  # noqa: E731
        kwargs = {k: v for k, v in kwargs.items() if not empty(v) and k != "training"}
        if kwargs:
            raise Unsupported(f"{describe(layer)} is called with {', '.join(f'{k}={v!r}' for k, v in kwargs.items())}; "
                              "staticnet's calls take the tensors only")
        if len(args) != 1:
            raise Unsupported(f"{describe(layer)} is called with {len(args)} arguments; staticnet's calls take one "
                              "tensor or a list")
        arg = self.argument(args[0])
        out = node.outputs[0]
        kind = type(layer).__name__
        shared = self.calls.get(id(layer), 1) > 1
        if shared:
            self.same_shapes(layer, node)
        if isinstance(layer, keras.Model):
            check_trainable(layer)
            if id(layer) not in self.objects:
                self.submodel(layer)
            var = self.call_var(layer, args[0])
            self.emit(f"let {var} = {self.objects[id(layer)]}({arg});")
        elif shared:
            if id(layer) not in self.objects:
                obj = self.name(layer.name)
                self.objects[id(layer)] = obj
                self.emit(f"let {obj} = {kind}({', '.join(arguments(layer))});")
            var = self.call_var(layer, args[0])
            self.emit(f"let {var} = {self.objects[id(layer)]}({arg});")
        else:
            var = self.name(layer.name)
            if kind in MERGE_FUNCTIONS and type(layer) is getattr(L, kind):
                fn_args = arguments(layer)
                self.emit(f"let {var} = {MERGE_FUNCTIONS[kind]}({', '.join([arg] + fn_args)});")
            else:
                self.emit(f"let {var} = {kind}({', '.join(arguments(layer))})({arg});")
        self.var[id(out)] = var

    def same_shapes(self, layer, node):
        """A shared layer or sub-model is called on one shape: staticnet
        sizes its code (and a recurrent layer's steps) for it, where Keras
        may call it on sequences of other lengths or images of other sizes."""
        shapes = [tuple(t.shape[1:]) for t in node.input_tensors]
        first = self.shapes.setdefault(id(layer), (shapes, node))
        if first[0] != shapes:
            def text(shapes):
                return ", ".join("(" + ", ".join(str(d) for d in s) + ")" for s in shapes)

            what = "sub-model" if isinstance(layer, keras.Model) else describe(layer)
            name = f"`{layer.name}`" if isinstance(layer, keras.Model) else ""
            raise Unsupported(f"{what}{' ' + name if name else ''} is called on {text(first[0])} and on "
                              f"{text(shapes)}: a layer or sub-model shared in staticnet is built for one shape "
                              "(give its inputs one shape, padding sequences to one length)")

    def call_var(self, layer, arg):
        """The variable of one call of a shared layer or a sub-model:
        `{layer}_{input}`."""
        if not isinstance(arg, (list, tuple)) and id(arg) in self.var:
            return self.name(f"{layer.name}_{self.var[id(arg)]}")
        return self.name(f"{layer.name}_out")

    def submodel(self, model):
        inputs, outputs = self.graph(model)
        if len(outputs) != 1:
            raise Unsupported(f"sub-model `{model.name}` has {len(outputs)} outputs; a sub-model called like a "
                              "layer gives one tensor in staticnet")
        var = self.name(model.name)
        self.objects[id(model)] = var
        ins = inputs[0] if len(inputs) == 1 else "[" + ", ".join(inputs) + "]"
        self.emit(f"let {var} = Model({ins}, {outputs[0]}, name = {fmt(model.name)});")


# --------------------------------------------------------------- compile


def loss_text(loss, head):
    where = f"the loss of head `{head}`" if head else "the loss"
    if loss is None:
        raise Unsupported(f"{where} is missing: staticnet's `compile` needs a loss for every head")
    if isinstance(loss, str):
        if loss not in LOSSES:
            raise Unsupported(f"{where} is `{loss}`, which staticnet lacks (it has {', '.join(sorted(LOSSES))})")
        return loss
    if isinstance(loss, dict) and loss.get("class_name") in LOSS_CLASSES:
        name, config = loss["class_name"], loss.get("config") or {}
        default = getattr(keras.losses, name)().get_config()
        bad = {k: v for k, v in config.items()
               if k not in ("name", "from_logits", "dtype") and default.get(k) != v}
        if bad:
            raise Unsupported(f"{where} is {name} with {bad}: staticnet supports its defaults"
                              + (" and `from_logits`" if "from_logits" in default else ""))
        if config.get("from_logits"):
            return f"{name}(from_logits = true)"
        return LOSS_CLASSES[name]
    raise Unsupported(f"{where} is {loss!r}, which staticnet lacks")


def metric_text(metric):
    if isinstance(metric, str) and metric in METRICS:
        return metric
    if isinstance(metric, dict) and metric.get("class_name") in METRIC_CLASSES:
        name, config = metric["class_name"], metric.get("config") or {}
        default = getattr(keras.metrics, name)().get_config()
        bad = {k: v for k, v in config.items() if k not in ("name", "dtype") and default.get(k) != v}
        if bad:
            raise Unsupported(f"metric {name} with {bad}: staticnet supports its defaults")
        return METRIC_CLASSES[name]
    raise Unsupported(f"metric {metric!r}: staticnet's metrics are {', '.join(sorted(METRICS))}")


def optimizer_text(optimizer):
    if optimizer is None:
        return None
    if isinstance(optimizer, str):
        if optimizer.lower() not in {n for n, _ in OPTIMIZERS.values()}:
            raise Unsupported(f"optimizer `{optimizer}`: staticnet has sgd, rmsprop and adam")
        return optimizer.lower()
    kind = optimizer.get("class_name")
    if kind not in OPTIMIZERS:
        raise Unsupported(f"optimizer {kind}: staticnet has SGD, RMSprop and Adam")
    name, hyper = OPTIMIZERS[kind]
    config, default = optimizer["config"], getattr(keras.optimizers, kind)().get_config()
    args = []
    for k, v in config.items():
        if k == "name":
            continue
        if isinstance(v, dict):
            raise Unsupported(f"optimizer {kind}: `{k}` is a {v.get('class_name', 'schedule')}; staticnet's "
                              f"`{k}` is a number")
        same = v == default.get(k) or (isinstance(v, float) and isinstance(default.get(k), float)
                                       and np.float32(v) == np.float32(default[k]))
        if same:
            continue
        if k not in hyper and k not in CLIPPING:
            raise Unsupported(f"optimizer {kind}: `{k} = {v!r}` is not supported by staticnet "
                              f"(it takes {', '.join(hyper + CLIPPING)})")
    for k in hyper + CLIPPING:
        v = config.get(k)
        same = v == default.get(k) or (isinstance(v, float) and isinstance(default.get(k), float)
                                       and np.float32(v) == np.float32(default[k]))
        if not same:
            args.append(f"{k} = {fmt(v)}")
    return f"{kind}({', '.join(args)})" if args else name


def compile_text(config, heads):
    """`compile(…);` from a model's compile config, or None."""
    if not config:
        return None
    for k in ("weighted_metrics",):
        if config.get(k):
            raise Unsupported(f"`compile({k} = …)` is not supported by staticnet")
    if config.get("loss_weights") is not None and config.get("loss") is None:
        raise Unsupported("`compile` gives loss_weights without a loss")
    args = []
    opt = optimizer_text(config.get("optimizer"))
    if opt:
        args.append(f"optimizer = {opt}")
    loss = config.get("loss")
    if loss is None:
        raise Unsupported("the model was compiled without a loss: staticnet's `compile` needs one "
                          "(or convert with --no-compile)")
    if isinstance(loss, dict) and not network_text.serialized(loss):
        unknown = set(loss) - set(heads)
        if unknown:
            raise Unsupported(f"the loss names {sorted(unknown)}, which are not heads ({heads})")
        args.append("loss = {" + ", ".join(f"{fmt(h)}: {loss_text(loss.get(h), h)}" for h in heads) + "}")
    elif isinstance(loss, (list, tuple)):
        if len(loss) != len(heads):
            raise Unsupported(f"the loss lists {len(loss)} losses for {len(heads)} heads")
        args.append("loss = [" + ", ".join(loss_text(l, h) for l, h in zip(loss, heads)) + "]")
    else:
        args.append(f"loss = {loss_text(loss, None)}")
    weights = config.get("loss_weights")
    if isinstance(weights, dict):
        args.append("loss_weights = {" + ", ".join(f"{fmt(h)}: {fmt(float(w))}" for h, w in weights.items()) + "}")
    elif isinstance(weights, (list, tuple)):
        args.append("loss_weights = [" + ", ".join(fmt(float(w)) for w in weights) + "]")
    elif weights is not None:
        args.append(f"loss_weights = [{', '.join([fmt(float(weights))] * len(heads))}]")
    metrics = config.get("metrics")
    if metrics:
        if isinstance(metrics, dict):
            per = {h: [metric_text(m) for m in network_text.as_list(v)] for h, v in metrics.items()}
            args.append("metrics = {" + ", ".join(f"{fmt(h)}: [{', '.join(m)}]" for h, m in per.items()) + "}")
        elif all(isinstance(m, (list, tuple)) for m in metrics):
            per = {h: [metric_text(m) for m in ms] for h, ms in zip(heads, metrics)}
            args.append("metrics = {" + ", ".join(f"{fmt(h)}: [{', '.join(m)}]" for h, m in per.items() if m) + "}")
        else:
            args.append(f"metrics = [{', '.join(metric_text(m) for m in metrics)}]")
    if len(", ".join(args)) > 70:
        return "compile(\n" + "".join(f"        {a},\n" for a in args) + "    );"
    return f"compile({', '.join(args)});"


def compiled_config(model):
    if not getattr(model, "compiled", False):
        return None
    config = model.get_compile_config()
    return config or None


def expected_compile(model):
    """What `network_text.same_model` should find in the text's `compile`."""
    config = compiled_config(model)
    if config is None:
        return {"loss": None}
    return {"loss": config["loss"], "loss_weights": config.get("loss_weights"),
            "optimizer": config.get("optimizer") or "rmsprop", "metrics": config.get("metrics") or []}


# ------------------------------------------------------------------ main


def struct_name(model):
    words = re.split(r"[^A-Za-z0-9]+", model.name)
    name = "".join(w[:1].upper() + w[1:] for w in words if w)
    return name if name and not name[0].isdigit() else "Net" + name


def model_dtype(model):
    """The float type the model computes in (its input layers', else its
    layers'), under which the text is run back to compare configurations."""
    for t in graph_of(model).inputs:
        dtype = t._keras_history.operation.get_config()["dtype"]
        if "float" in dtype:
            return dtype
    for layer in model.layers:
        policy = getattr(layer, "dtype_policy", None)
        if policy is not None and "float" in policy.name and not isinstance(layer, L.InputLayer):
            return policy.compute_dtype
    return "float32"


def convert(model, name=None, with_compile=True, bake=None):
    """The `network!` block for a Keras model, with `weights("{bake}");`
    unless bake is None; raises Unsupported."""
    if not isinstance(model, keras.Model):
        raise Unsupported(f"{model!r} is not a Keras model")
    for layer in model.layers:
        policy = getattr(layer, "dtype_policy", None)
        if policy is not None and policy.compute_dtype != policy.variable_dtype:
            raise Unsupported(f"{describe(layer)} has the mixed-precision policy {policy.name}: staticnet "
                              "computes in one scalar type, chosen when the network is used")
    w = Writer(model)
    inputs, outputs = w.graph(model)
    heads = network_text.io_names(model)[1] if not isinstance(model, keras.Sequential) else \
        network_text.io_names(graph_of(model))[1]
    if len(set(heads)) != len(heads):
        raise Unsupported(f"two heads share a name ({heads}): staticnet names a head after its output layer")
    one = lambda vs: vs[0] if len(vs) == 1 else "[" + ", ".join(vs) + "]"  # noqa: E731
    w.emit(f"Model({one(inputs)}, {one(outputs)});")
    if bake is not None:
        w.emit(f"weights({fmt(bake)});")
    if with_compile:
        text = compile_text(compiled_config(model), heads)
        if text:
            w.emit(text)
    body = "".join(f"    {line}\n" for line in w.lines)
    return f"pub struct {name or struct_name(model)} {{\n{body}}}"


def check(text, model, with_compile=True):
    """The text builds the same Keras model, compiled alike."""
    floatx = keras.config.floatx()
    keras.config.set_floatx(model_dtype(model))
    try:
        expected = expected_compile(model) if with_compile else {"loss": None}
        network_text.same_model(text, model, **expected)
    finally:
        keras.config.set_floatx(floatx)


def write_weights(model, path, dtype, text):
    """The weights under staticnet's keys, as safetensors."""
    from keras_fixtures import weight_keys  # noqa: E402 (after the environment is set)
    from keras_export import write_safetensors  # noqa: E402

    keys = weight_keys(model)
    tensors = {keys[v.path]: np.asarray(v.numpy(), dtype=dtype) for v in model.weights}
    inputs, heads = network_text.io_names(graph_of(model))
    metadata = {"format": "staticnet", "network": text, "inputs": json.dumps(inputs), "heads": json.dumps(heads),
                "generator": "tools/keras_to_network.py"}
    write_safetensors(path, tensors, metadata)
    return tensors


def load(path):
    warnings.filterwarnings("ignore", message=".*Skipping variable loading for optimizer.*")
    try:
        return keras.saving.load_model(path, compile=True)
    except Exception as e:  # noqa: BLE001 (say which file, then what Keras said)
        raise SystemExit(f"error: cannot load {path}: {e}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a .keras file (or a legacy .h5)")
    parser.add_argument("--name", help="the struct's name (default: the model's name in CamelCase)")
    parser.add_argument("--weights", metavar="OUT.safetensors", help="also write the weights, staticnet's keys")
    parser.add_argument("--dtype", choices=["f32", "f64"], default="f32", help="the weights' type (default f32)")
    parser.add_argument("--bake", metavar="PATH", help="add `weights(\"PATH\");` to the block (PATH: the --weights "
                        "file as the crate sees it, relative to its Cargo.toml)")
    parser.add_argument("--no-compile", action="store_true", help="leave `compile(…)` out")
    parser.add_argument("--no-check", action="store_true", help="skip running the text back through Keras")
    args = parser.parse_args(argv)
    if args.name and not re.fullmatch(r"[A-Za-z_]\w*", args.name):
        parser.error(f"--name {args.name!r} is not a Rust identifier")
    if args.bake is not None and not args.weights:
        parser.error("--bake needs --weights (the file to bake in)")

    model = load(args.model)
    try:
        text = convert(model, args.name, not args.no_compile, args.bake)
        if not args.no_check:
            try:
                check(text, model, not args.no_compile)
            except AssertionError as e:
                print(f"error: the text does not build the same Keras model (a bug of this script): {e}\n{text}",
                      file=sys.stderr)
                return 2
        if args.weights:
            tensors = write_weights(model, args.weights, {"f32": np.float32, "f64": np.float64}[args.dtype], text)
            print(f"note: wrote {len(tensors)} tensors to {args.weights}", file=sys.stderr)
    except Unsupported as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print("staticnet::network! {\n" + "\n".join("    " + l if l else l for l in text.splitlines()) + "\n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
