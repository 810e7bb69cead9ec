"""Checks that `network!` text describes a given Keras model.

`network!` is close enough to Python that the text, run as Python against
`keras.layers` (`let x = …;` as an assignment, `true`/`false`, identifiers
such as `relu` or `adam` as strings), builds a Keras model. `same_model`
compares that model with the one a script built by hand (or loaded): the
same layers with the same classes and configurations, connected the same
way, the same inputs and heads in order, and the same compile arguments. It
covers the statements the scripts here write (`let v = Layer(…)(x);`,
function-form merges, `Model(inputs, outputs);`, `compile(…);`), and the
sequence forms: `Input(shape = (12,), dtype = "int32")` (the dtype is part
of the input layer's config, so it is compared), and wrapped layers such as
`Bidirectional(LSTM(4, return_sequences = true, name = "lstm"), merge_mode
= "sum", name = "bi")` and `TimeDistributed(Dense(3, name = "dense"), name
= "frames")`, which run as nested Python calls; the wrapper's config holds
the wrapped layer's (its units, activations, `reset_after`, name, …), so
those are compared too.

The functional API's other half runs as Keras runs it: a layer object
(`let shared = Dense(6, name = "shared");`, then `shared(a)` and
`shared(b)`, one layer with two calls), a sub-model (`let encoder =
Model(enc_in, enc_out, name = "encoder");` then `encoder(a)`; the last
`Model(…)` is the model), `let model = Model(…);` with `model.compile(…);`,
`weights("…");` (read and ignored: weights are no part of the graph),
and `compile` arguments as identifiers, strings, lists or maps keyed by
head name (`loss = {"out": "mse"}`, or `{ out: mse }`), losses as classes
(`CategoricalCrossentropy(from_logits = true)`). Sub-models are compared
layer by layer, recursively; a Keras `Sequential` compares equal to a
functional `Model` with the same layers (tools/keras_to_network.py writes
one as the other).

Used by tools/keras_fixtures.py, tools/keras_to_network.py,
benches/keras_conv_baseline.py, benches/keras_seq_baseline.py,
tools/digits_cnn_keras.py and tools/digits_rnn_keras.py. Needs keras (3.x).
"""
import keyword
import re

import keras
from keras import layers

MERGES = ("add", "concatenate", "subtract", "multiply", "average", "maximum", "minimum", "dot")
OPTIMIZERS = ("Adam", "RMSprop", "SGD", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion")
LOSS_CLASSES = ("MeanSquaredError", "MeanAbsoluteError", "Huber", "CategoricalCrossentropy",
                "SparseCategoricalCrossentropy", "BinaryCrossentropy")

# Keras's names of a loss (functions, aliases, classes) → one name each.
LOSS_NAMES = {
    "mse": "mean_squared_error", "MSE": "mean_squared_error", "MeanSquaredError": "mean_squared_error",
    "mae": "mean_absolute_error", "MAE": "mean_absolute_error", "MeanAbsoluteError": "mean_absolute_error",
    "huber_loss": "huber", "Huber": "huber",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "BinaryCrossentropy": "binary_crossentropy",
}
# Keras's names of a metric → one name each (`accuracy` stays: Keras
# resolves it from the loss and the head).
METRIC_NAMES = {
    "acc": "accuracy", "mean_squared_error": "mse", "MeanSquaredError": "mse",
    "mean_absolute_error": "mae", "MeanAbsoluteError": "mae",
    "CategoricalAccuracy": "categorical_accuracy", "BinaryAccuracy": "binary_accuracy",
    "SparseCategoricalAccuracy": "sparse_categorical_accuracy",
}


def run(text):
    """The Keras model the text builds, and its `compile(…)` arguments
    (a dict, or None)."""
    body = pythonize(text[text.index("{") + 1: text.rindex("}")])
    statements = [s.strip() for s in body.split(";") if s.strip()]
    env, current = {}, {}

    def Input(shape=None, name=None, **kw):
        shape = shape if isinstance(shape, tuple) else (shape,)
        return keras.Input(shape, name=name or current["var"], **kw)

    built = []

    def Model(inputs=None, outputs=None, **kw):
        # built now, so that a sub-model can be called like a layer
        m = keras.Model(inputs, outputs, **kw)
        built.append((m, inputs, outputs))
        return m

    g = {"__builtins__": {}, "true": True, "false": False, "None": None, "layers": layers, "keras": keras}
    for n in dir(layers):
        if n[:1].isupper() or n in MERGES:
            g[n] = getattr(layers, n)
    g["Input"] = Input
    for n in OPTIMIZERS:
        g[n] = getattr(keras.optimizers, n)
    for n in LOSS_CLASSES:
        g[n] = getattr(keras.losses, n)
    g["Model"] = Model
    g["compile"] = lambda **kw: ("compile", kw)
    g["weights"] = lambda path: ("weights", path)  # a file baked in: no part of the graph

    class Names(dict):
        def __missing__(self, name):
            # a tensor, else a layer or function, else an identifier such as
            # `relu`, `mse` or `adam`, which Keras takes as a string
            return g.get(name, name)

    compiled = None
    for s in statements:
        s = re.sub(r"^\w+\s*\.\s*compile\s*\(", "compile(", s)  # `model.compile(…)`
        m = re.match(r"let\s+(\w+)\s*=\s*(.*)$", s, re.S)
        var, expr = (m.group(1), m.group(2)) if m else (None, s)
        current["var"] = var
        value = eval(expr, g, Names(env))  # noqa: S307 (our own text)
        if var:
            env[var] = value
        elif isinstance(value, tuple) and value[0] == "compile":
            compiled = value[1]
    assert built, "no Model(…) in the network text"
    _, inputs, outputs = built[-1]
    return keras.Model(as_list(inputs), as_list(outputs)), compiled


def pythonize(text):
    """Renames identifiers that are Python keywords (`class` → `class_`) and
    quotes the identifier keys of maps (`{ age: mse }` → `{"age": mse}`),
    outside string literals."""
    words = re.compile(r"\b(" + "|".join(k for k in keyword.kwlist if k[0].islower()) + r")\b")
    parts = re.split(r'("[^"]*")', text)
    out, depth = [], 0
    for p in parts:
        if p.startswith('"'):
            out.append(p)
            continue
        p = words.sub(r"\1_", p)
        pieces = []
        for piece in re.split(r"([{}])", p):
            if piece == "{":
                depth += 1
            elif piece == "}":
                depth -= 1
            elif depth > 0:
                piece = re.sub(r"(^|,)(\s*)([A-Za-z_]\w*)(\s*):(?!:)", r'\1\2"\3"\4:', piece)
            pieces.append(piece)
        out.append("".join(pieces))
    return "".join(out)


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def io_names(model):
    return ([t._keras_history.operation.name for t in model.inputs],
            [t._keras_history.operation.name for t in model.outputs])


def optimizer_config(optimizer):
    """The optimizer's Keras config, without the session's numbering of its
    name (`adam_2` is `adam`)."""
    if isinstance(optimizer, (str, dict)):
        optimizer = keras.optimizers.get(optimizer)
    config = optimizer.get_config()
    config["name"] = re.sub(r"_\d+$", "", config["name"])
    return config


def canonical_loss(loss):
    """One name per loss, whatever Keras name, alias, class or serialized
    form gives it; a loss object's settings other than its defaults follow
    in parentheses (`categorical_crossentropy(from_logits=True)`)."""
    if isinstance(loss, dict):
        loss = keras.losses.deserialize(loss)
    if isinstance(loss, str):
        return LOSS_NAMES.get(loss, loss)
    if isinstance(loss, keras.losses.Loss):
        name = LOSS_NAMES.get(type(loss).__name__, type(loss).__name__)
        config, default = loss.get_config(), type(loss)().get_config()
        extra = {k: v for k, v in config.items() if k != "name" and default.get(k) != v}
        return name + (f"({', '.join(f'{k}={v!r}' for k, v in sorted(extra.items()))})" if extra else "")
    if callable(loss):
        return LOSS_NAMES.get(loss.__name__, loss.__name__)
    raise AssertionError(f"not a loss: {loss!r}")


def canonical_metric(metric):
    if isinstance(metric, dict):
        metric = metric.get("class_name", metric)
    if isinstance(metric, keras.metrics.Metric):
        metric = type(metric).__name__
    assert isinstance(metric, str), f"not a metric: {metric!r}"
    return METRIC_NAMES.get(metric, metric)


def serialized(v):
    """Whether `v` is a serialized Keras object rather than a map by head."""
    return isinstance(v, dict) and "class_name" in v and "config" in v


def per_head(value, heads, default, what):
    """A compile argument's value for each head: one for all, a list in
    output order, or a map by head name."""
    if value is None:
        return [default] * len(heads)
    if isinstance(value, dict) and not serialized(value):
        assert set(value) <= set(heads), f"{what} names {sorted(set(value) - set(heads))}, not heads {heads}"
        return [value.get(h, default) for h in heads]
    if isinstance(value, (list, tuple)):
        assert len(value) == len(heads), f"{what} lists {len(value)} values for {len(heads)} heads"
        return list(value)
    return [value] * len(heads)


def metrics_per_head(metrics, heads):
    """Metric names for each head: a list for every head, a list of lists
    in output order, or a map by head name."""
    if not metrics:
        return [[] for _ in heads]
    if isinstance(metrics, dict):
        per = per_head(metrics, heads, [], "metrics")
    elif all(isinstance(m, (list, tuple)) for m in metrics):
        per = per_head(list(metrics), heads, [], "metrics")
    else:
        per = [metrics] * len(heads)
    return [[canonical_metric(m) for m in as_list(p)] for p in per]


def layers_of(model):
    """A model's layers by name, inputs left out (a Sequential lists none)."""
    return {l.name: l for l in model.layers if not isinstance(l, layers.InputLayer)}


def graph_nodes(model):
    """The ids of the nodes of a model's own graph (a Sequential's is its
    functional twin's), which leave out the calls of its layers elsewhere."""
    graph = getattr(model, "_functional", None) if isinstance(model, keras.Sequential) else model
    return {id(n) for depth in getattr(graph, "_nodes_by_depth", {}).values() for n in depth}


def inbound(layer, nodes):
    """The layer's calls in a graph: the names of the layers each takes."""
    return [[t._keras_history.operation.name for t in node.input_tensors]
            for node in layer._inbound_nodes if id(node) in nodes]


def plain(config):
    """A config with its tuples as lists: a loaded model's nested configs
    (a wrapped layer's `build_config`) hold lists where a built one's hold
    tuples."""
    if isinstance(config, dict):
        return {k: plain(v) for k, v in config.items()}
    if isinstance(config, (list, tuple)):
        return [plain(v) for v in config]
    return config


def same_graph(model, text_model, where=""):
    """The same layers, configurations and connections, inputs and heads,
    recursively through sub-models."""
    ours, theirs = layers_of(model), layers_of(text_model)
    nodes_a, nodes_b = graph_nodes(model), graph_nodes(text_model)
    assert ours.keys() == theirs.keys(), f"{where}layers differ: {sorted(ours.keys() ^ theirs.keys())}"
    for n, a in ours.items():
        b = theirs[n]
        if isinstance(a, keras.Model) or isinstance(b, keras.Model):
            assert isinstance(a, keras.Model) and isinstance(b, keras.Model), \
                f"{where}{n}: {type(a).__name__} vs {type(b).__name__}"
            same_graph(a, b, f"{where}{n}/")
        else:
            assert type(a) is type(b), f"{where}{n}: {type(a).__name__} vs {type(b).__name__}"
            ca, cb = plain(a.get_config()), plain(b.get_config())
            assert ca == cb, f"{where}{n}: configs differ: " + str(
                {k: (ca.get(k), cb.get(k)) for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)})
        ia, ib = inbound(a, nodes_a), inbound(b, nodes_b)
        assert ia == ib, f"{where}{n}: inputs {ia} vs {ib}"
    assert io_names(model) == io_names(text_model), \
        f"{where}inputs/heads {io_names(model)} vs {io_names(text_model)}"
    for a, b in zip(model.inputs, text_model.inputs):
        ca, cb = a._keras_history.operation.get_config(), b._keras_history.operation.get_config()
        assert ca == cb, f"{where}input {ca['name']}: {ca} vs {cb}"


def same_model(text, model, loss, loss_weights=None, optimizer="rmsprop", metrics=None):
    """Asserts that `text` builds `model` and compiles it with `loss` (one
    for all heads, a list in output order or a map by head; None: the text
    must not compile), `loss_weights` (list or map), `optimizer` (an
    instance, a name or a serialized config) and, unless None, `metrics`."""
    text_model, compiled = run(text)
    same_graph(model, text_model)
    heads = io_names(model)[1]
    if loss is None:
        assert compiled is None, "the network text compiles a model that Keras did not"
        return
    assert compiled is not None, "no compile(…) in the network text"
    got = [canonical_loss(l) for l in per_head(compiled.get("loss"), heads, None, "loss")]
    want = [canonical_loss(l) for l in per_head(loss, heads, None, "loss")]
    assert got == want, f"loss {got} vs {want}"
    got = per_head(compiled.get("loss_weights"), heads, 1.0, "loss_weights")
    want = per_head(loss_weights, heads, 1.0, "loss_weights")
    assert got == want, f"loss_weights {got} vs {want}"
    a = optimizer_config(compiled.get("optimizer", "rmsprop"))
    b = optimizer_config(optimizer)
    assert a == b, f"optimizer {a} vs {b}"
    if metrics is not None:
        got, want = metrics_per_head(compiled.get("metrics"), heads), metrics_per_head(metrics, heads)
        assert got == want, f"metrics {got} vs {want}"
