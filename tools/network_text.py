"""Checks that `network!` text describes a given Keras model.

`network!` is close enough to Python that the text, run as Python against
`keras.layers` (`let x = …;` as an assignment, `true`/`false`, identifiers
such as `relu` or `adam` as strings), builds a Keras model. `same_model`
compares that model with the one a script built by hand: the same layers
with the same classes and configurations, connected the same way, the same
inputs and heads in order, and the same compile arguments. It covers the
statements the scripts here write (`let v = Layer(…)(x);`, function-form
merges, `Model(inputs, outputs);`, `compile(…);`), and the sequence forms:
`Input(shape = (12,), dtype = "int32")` (the dtype is part of the input
layer's config, so it is compared), and wrapped layers such as
`Bidirectional(LSTM(4, return_sequences = true, name = "lstm"), merge_mode
= "sum", name = "bi")` and `TimeDistributed(Dense(3, name = "dense"), name
= "frames")`, which run as nested Python calls; the wrapper's config holds
the wrapped layer's (its units, activations, `reset_after`, name, …), so
those are compared too.

Used by tools/keras_fixtures.py, benches/keras_conv_baseline.py,
benches/keras_seq_baseline.py, tools/digits_cnn_keras.py and
tools/digits_rnn_keras.py. Needs keras (3.x).
"""
import keyword
import re

import keras
from keras import layers

MERGES = ("add", "concatenate", "subtract", "multiply", "average", "maximum", "minimum", "dot")
OPTIMIZERS = ("Adam", "RMSprop", "SGD", "AdamW", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl", "Lion")


def run(text):
    """The Keras model the text builds, and its `compile(…)` arguments
    (a dict, or None)."""
    body = pythonize(text[text.index("{") + 1: text.rindex("}")])
    statements = [s.strip() for s in body.split(";") if s.strip()]
    env, current = {}, {}

    def Input(shape=None, name=None, **kw):
        shape = shape if isinstance(shape, tuple) else (shape,)
        return keras.Input(shape, name=name or current["var"], **kw)

    g = {"__builtins__": {}, "true": True, "false": False, "None": None}
    for n in dir(layers):
        if n[:1].isupper() or n in MERGES:
            g[n] = getattr(layers, n)
    g["Input"] = Input
    for n in OPTIMIZERS:
        g[n] = getattr(keras.optimizers, n)
    g["Model"] = lambda inputs, outputs, **kw: ("Model", inputs, outputs)
    g["compile"] = lambda **kw: ("compile", kw)

    class Names(dict):
        def __missing__(self, name):
            # a tensor, else a layer or function, else an identifier such as
            # `relu`, `mse` or `adam`, which Keras takes as a string
            return g.get(name, name)

    built, compiled = None, None
    for s in statements:
        m = re.match(r"let\s+(\w+)\s*=\s*(.*)$", s, re.S)
        var, expr = (m.group(1), m.group(2)) if m else (None, s)
        current["var"] = var
        value = eval(expr, g, Names(env))  # noqa: S307 (our own text)
        if var:
            env[var] = value
        elif isinstance(value, tuple) and value[0] == "Model":
            built = value
        elif isinstance(value, tuple) and value[0] == "compile":
            compiled = value[1]
    assert built, "no Model(…) in the network text"
    return keras.Model(as_list(built[1]), as_list(built[2])), compiled


def pythonize(text):
    """Renames identifiers that are Python keywords (`class` → `class_`),
    outside string literals."""
    words = re.compile(r"\b(" + "|".join(k for k in keyword.kwlist if k[0].islower()) + r")\b")
    parts = re.split(r'("[^"]*")', text)
    return "".join(p if p.startswith('"') else words.sub(r"\1_", p) for p in parts)


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def io_names(model):
    return ([t._keras_history.operation.name for t in model.inputs],
            [t._keras_history.operation.name for t in model.outputs])


def optimizer_config(optimizer):
    """The optimizer's Keras config, without the session's numbering of its
    name (`adam_2` is `adam`)."""
    if isinstance(optimizer, str):
        optimizer = keras.optimizers.get(optimizer)
    config = optimizer.get_config()
    config["name"] = re.sub(r"_\d+$", "", config["name"])
    return config


def same_model(text, model, loss, loss_weights=None, optimizer="rmsprop"):
    """Asserts that `text` builds `model` and compiles it with `loss` (a list,
    one per head), `loss_weights` and `optimizer` (an instance or a name)."""
    text_model, compiled = run(text)
    ours, theirs = {l.name: l for l in model.layers}, {l.name: l for l in text_model.layers}
    assert ours.keys() == theirs.keys(), f"layers differ: {sorted(ours.keys() ^ theirs.keys())}"
    for n, a in ours.items():
        b = theirs[n]
        assert type(a) is type(b), f"{n}: {type(a).__name__} vs {type(b).__name__}"
        ca, cb = a.get_config(), b.get_config()
        assert ca == cb, f"{n}: configs differ: " + str(
            {k: (ca.get(k), cb.get(k)) for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k)})
        inbound = lambda l: [[t._keras_history.operation.name for t in node.input_tensors]  # noqa: E731
                             for node in l._inbound_nodes]
        assert inbound(a) == inbound(b), f"{n}: inputs {inbound(a)} vs {inbound(b)}"
    assert io_names(model) == io_names(text_model), f"inputs/heads {io_names(model)} vs {io_names(text_model)}"
    assert compiled is not None, "no compile(…) in the network text"
    got = as_list(compiled["loss"])
    got = got * len(loss) if len(got) == 1 else got
    assert got == list(loss), f"loss {got} vs {loss}"
    weights = compiled.get("loss_weights") or [1.0] * len(loss)
    assert weights == (loss_weights or [1.0] * len(loss)), f"loss_weights {weights} vs {loss_weights}"
    a = optimizer_config(compiled.get("optimizer", "rmsprop"))
    b = optimizer_config(optimizer)
    assert a == b, f"optimizer {a} vs {b}"
