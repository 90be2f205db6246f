"""One rule for the scalar arguments of every public entry point (jaxnet.validation).

A wrong TYPE is a ``TypeError`` and a wrong VALUE a ``ValueError``, both naming the
argument; NumPy integers are taken wherever Python ints are, and give the same result
(NumPy floats likewise); a bool is neither an int nor a float. Each row below is one
argument of one entry point: layer constructors, ``Network``, ``Sequential``, ``jn.init``,
``jn.fit``, ``jn.fit_ensemble``, ``jn.gradcheck``, ``jn.per_example_grads``, the callbacks
and the schedules. The ``fit`` rows raise before anything compiles
(tests/test_training_arguments.py proves that); one real run of each takes NumPy ints.
"""

import dataclasses
import functools
import re
from collections.abc import Callable
from typing import Any

import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet.layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D

NET = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
NO_VALUE_ERROR = object()  # an argument whose every value of the right type is allowed


@functools.cache
def params():
    return jn.init(jax.random.key(0), NET)


def fit(**kwargs):
    return jn.fit(NET, params(), X, Y, **{"verbose": 0, **kwargs})


def fit_ensemble(**kwargs):
    stacked = jax.tree.map(lambda a: np.stack([np.asarray(a)] * 2), params())
    return jn.fit_ensemble(NET, stacked, X, Y, **{"verbose": 0, **kwargs})


def saved_step(**kwargs):
    """The step a checkpoint holds after ``jn.checkpoint.save(..., **kwargs)``."""
    return jn.checkpoint.read_metadata(jn.checkpoint.save("c.safetensors", {}, **kwargs))["step"]


@dataclasses.dataclass(frozen=True)
class Arg:
    """One argument of one entry point: ``call(value)`` with a good value, a value of the
    wrong type and a value of the right type that is not allowed."""

    entry: str
    name: str
    call: Callable[[Any], Any]
    good: Any
    wrong_type: Any
    wrong_value: Any
    numpy: bool = True  # whether the numpy-scalar test runs it (fit's rows: one real run below)

    def __str__(self):
        return f"{self.entry}-{self.name}"


def keyword(entry: Callable, name: str, *args, **fixed):
    return lambda value: entry(*args, **{**fixed, name: value})


ARGS = [
    # layers
    Arg("Dense", "units", lambda v: Dense(v), 3, 3.0, 0),
    Arg("Dense", "activation", keyword(Dense, "activation", 3), "tanh", 1, "swish"),
    Arg("Dense", "l2", keyword(Dense, "l2", 3), 0.5, "0.5", -0.5),
    Arg("Conv2D", "filters", lambda v: Conv2D(v, 3), 4, 4.0, 0),
    Arg("Conv2D", "kernel_size", lambda v: Conv2D(4, v), 3, "3", 0),
    Arg("Conv2D", "strides", keyword(Conv2D, "strides", 4, 3), 2, True, 0),
    Arg("Conv2D", "padding", keyword(Conv2D, "padding", 4, 3), 1, 1.0, -1),
    Arg("Conv2D", "padding", keyword(Conv2D, "padding", 4, 3), "same", None, "full"),
    Arg("Conv2D", "activation", keyword(Conv2D, "activation", 4, 3), "relu", 1, "swish"),
    Arg("Conv2D", "l2", keyword(Conv2D, "l2", 4, 3), 0.25, None, float("inf")),
    Arg("MaxPool2D", "pool_size", lambda v: MaxPool2D(v), 2, 2.0, 0),
    Arg("MaxPool2D", "strides", keyword(MaxPool2D, "strides", 2), 1, "1", 0),
    Arg("AvgPool2D", "pool_size", lambda v: AvgPool2D(v), 3, True, -1),
    Arg("AvgPool2D", "strides", keyword(AvgPool2D, "strides", 2), 2, 2.5, 0),
    Arg("BatchNorm", "momentum", keyword(BatchNorm, "momentum"), 0.5, "0.9", 1.5),
    Arg("BatchNorm", "epsilon", keyword(BatchNorm, "epsilon"), 0.25, None, 0.0),
    Arg("Dropout", "rate", lambda v: Dropout(v), 0.5, True, 1.0),
    # networks
    Arg("Network", "sizes", lambda v: jn.Network((3, v, 1)), 4, 4.0, 0),
    Arg("Network", "sizes", lambda v: jn.Network(v), (3, 1), 3, (3,)),
    Arg("Network", "hidden_activation", keyword(jn.Network, "hidden_activation", (3, 4, 1)),
        "relu", 1, "swish"),
    Arg("Network", "output_activation", keyword(jn.Network, "output_activation", (3, 4, 1)),
        "tanh", None, "swish"),
    Arg("Network", "activations", keyword(jn.Network, "activations", (3, 4, 1)),
        ("relu", "sigmoid"), "relu", ("relu",)),
    Arg("Network", "loss", keyword(jn.Network, "loss", (3, 4, 1)), "mse", 3, "hinge"),
    Arg("Network", "l2", keyword(jn.Network, "l2", (3, 4, 1)), 0.5, "0.5", -1.0),
    Arg("Network", "dropout", keyword(jn.Network, "dropout", (3, 4, 1)), 0.25, True, 1.0),
    Arg("Network", "batch_norm", keyword(jn.Network, "batch_norm", (3, 4, 1)), True, 1,
        NO_VALUE_ERROR),
    Arg("Sequential", "input_shape", lambda v: jn.Sequential([Dense(1)], (v,)), 3, 3.0, 0),
    Arg("Sequential", "layers", lambda v: jn.Sequential(v, (3,)), [Dense(1)], Dense(1), []),
    Arg("Sequential", "l2", keyword(jn.Sequential, "l2", [Dense(1)], (3,)), 0.5, "1", -1.0),
    Arg("Sequential", "loss", keyword(jn.Sequential, "loss", [Dense(1)], (3,)), "mse", 1,
        "hinge"),
    # init, gradients
    Arg("init", "scheme", lambda v: jn.init(jax.random.key(0), NET, v), "xavier", 3, "bogus"),
    Arg("init", "scale", lambda v: jn.init(jax.random.key(0), NET, "normal", scale=v), 0.5,
        "0.5", 0.0),
    Arg("gradcheck", "epsilon", lambda v: jn.gradcheck(NET, params(), X, Y, epsilon=v), 0.125,
        "1e-7", -1.0),
    Arg("gradcheck", "threshold", lambda v: jn.gradcheck(NET, params(), X, Y, threshold=v),
        0.5, None, 0.0),
    Arg("gradcheck", "train", lambda v: jn.gradcheck(NET, params(), X, Y, train=v), False, 0,
        NO_VALUE_ERROR),
    Arg("per_example_grads", "chunk_size",
        lambda v: jn.per_example_grads(NET, params(), X, Y, chunk_size=v), 3, 3.0, 0),
    Arg("per_example_grads", "backprop",
        lambda v: jn.per_example_grads(NET, params(), X, Y, backprop=v), "manual", 1, "numeric"),
    # training (raise before compiling; the NumPy ints: test_fit_takes_numpy_integers)
    *(
        Arg(name, arg, keyword(entry, arg), good, wrong_type, wrong_value, numpy=False)
        for name, entry in (("fit", fit), ("fit_ensemble", fit_ensemble))
        for arg, good, wrong_type, wrong_value in (
            ("epochs", 1, 1.0, 0),
            ("batch_size", 2, "2", 7),
            ("verbose", 0, True, 3),
            ("learning_rate", 0.5, "0.5", -0.5),
            ("backprop", "manual", True, "numeric"),
            ("shuffle", False, 0, NO_VALUE_ERROR),
            ("optimizer", "sgd", 3, "nesterov"),
            ("validation_data", (X, Y), X, (X, Y, X)),
        )
    ),
    Arg("fit", "checkpoint_every", keyword(fit, "checkpoint_every"), None, 1.5, 0, numpy=False),
    Arg("fit", "on_nonfinite", keyword(fit, "on_nonfinite"), "raise", 1, "ignore", numpy=False),
    Arg("fit_ensemble", "shard", keyword(fit_ensemble, "shard"), "data", 1, "layers",
        numpy=False),
    # callbacks and schedules
    Arg("EarlyStopping", "patience", keyword(jn.callbacks.EarlyStopping, "patience"), 2, 2.0, -1),
    Arg("EarlyStopping", "min_delta", keyword(jn.callbacks.EarlyStopping, "min_delta"), 0.5,
        "0", -0.5),
    Arg("EarlyStopping", "mode", keyword(jn.callbacks.EarlyStopping, "mode"), "min", 1, "up"),
    Arg("EarlyStopping", "every", keyword(jn.callbacks.EarlyStopping, "every"), 2, True, 0),
    Arg("EarlyStopping", "restore_best_params",
        keyword(jn.callbacks.EarlyStopping, "restore_best_params"), True, 1, NO_VALUE_ERROR),
    Arg("EarlyStopping", "monitor", keyword(jn.callbacks.EarlyStopping, "monitor"), "loss", 1,
        ""),
    Arg("CSVLogger", "every", keyword(jn.callbacks.CSVLogger, "every", "log.csv"), 3, 3.0, 0),
    Arg("CSVLogger", "min_interval", keyword(jn.callbacks.CSVLogger, "min_interval", "log.csv"),
        0.5, "1", -1.0),
    Arg("ModelCheckpoint", "every", keyword(jn.callbacks.ModelCheckpoint, "every", "m"), 2, "2",
        0),
    Arg("ModelCheckpoint", "mode", keyword(jn.callbacks.ModelCheckpoint, "mode", "m"), "max",
        None, "best"),
    Arg("inverse_time_decay", "learning_rate",
        lambda v: jn.schedules.inverse_time_decay(v, 1.0), 0.5, "0.5", 0.0),
    Arg("inverse_time_decay", "steps_per_epoch",
        lambda v: jn.schedules.inverse_time_decay(0.5, 1.0, steps_per_epoch=v), 4, 4.0, 0),
    Arg("fixed_interval_decay", "time_interval",
        lambda v: jn.schedules.fixed_interval_decay(0.5, 1.0, time_interval=v), 2, "2", 0),
    Arg("steps_per_epoch", "batch_size", lambda v: jn.schedules.steps_per_epoch(10, v), 3, 3.0, 0),
    # files
    Arg("checkpoint.save", "step", lambda v: saved_step(step=v), 2, 2.0, -1),
    Arg("load_mnist", "download", lambda v: jn.datasets.load_mnist("none", download=v), False,
        "yes", NO_VALUE_ERROR, numpy=False),
]  # fmt: skip


def _raises(error, arg: Arg, value):
    with pytest.raises(error) as e:
        arg.call(value)
    assert re.search(rf"\b{arg.name}\b", str(e.value)), f"{error.__name__} {e.value} lacks {arg}"


@pytest.mark.parametrize("arg", ARGS, ids=str)
def test_a_wrong_type_is_a_type_error_naming_the_argument(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _raises(TypeError, arg, arg.wrong_type)


VALUE_ARGS = [a for a in ARGS if a.wrong_value is not NO_VALUE_ERROR]


@pytest.mark.parametrize("arg", VALUE_ARGS, ids=str)
def test_a_wrong_value_is_a_value_error_naming_the_argument(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _raises(ValueError, arg, arg.wrong_value)


def _numpy_forms(value):
    """``value``'s NumPy scalars (ints: int32 and int64; floats: float32 and float64), or ()."""
    if isinstance(value, bool):
        return (np.bool_(value),)
    if isinstance(value, int):
        return np.int32(value), np.int64(value)
    if isinstance(value, float):
        return np.float32(value), np.float64(value)  # the good floats are exact in float32
    if isinstance(value, tuple) and all(type(v) is int for v in value):
        return tuple(np.int32(v) for v in value), np.array(value, np.int64)
    return ()


def _same(a, b) -> bool:
    """Equal results: layers and networks by value, trees leaf by leaf (arrays exactly),
    schedules by their rates, callbacks by their attributes."""
    if type(a) is not type(b):
        return False
    if isinstance(a, jn.layers.Layer | jn.Network):
        return a == b
    if isinstance(a, tuple | list | dict | np.ndarray | jax.Array | int | float):
        leaves_a, leaves_b = jax.tree.leaves(a), jax.tree.leaves(b)
        return len(leaves_a) == len(leaves_b) and all(
            np.array_equal(x, y) for x, y in zip(leaves_a, leaves_b, strict=True)
        )
    if callable(a) and not hasattr(a, "__dict__"):  # a schedule
        return all(float(a(s)) == float(b(s)) for s in (0, 7, 100))
    return vars(a) == vars(b)


NUMPY_ARGS = [a for a in ARGS if a.numpy and _numpy_forms(a.good)]


@pytest.mark.parametrize("arg", NUMPY_ARGS, ids=str)
def test_numpy_scalars_are_taken_as_python_ones(arg, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = arg.call(arg.good)
    for value in _numpy_forms(arg.good):
        got = arg.call(value)
        assert _same(got, expected), f"{arg} = {value!r}: {got!r} != {expected!r}"


def test_numpy_integers_give_the_layers_python_ints():
    """Issue 23 row 10: Conv2D and the pools refused NumPy integers that Dense took."""
    conv = Conv2D(np.int64(4), np.int32(3), strides=np.int64(2), padding=np.int32(1))
    assert conv == Conv2D(4, 3, strides=2, padding=1) and hash(conv) == hash(Conv2D(4, 3, 2, 1))
    assert all(type(v) is int for v in (conv.filters, conv.kernel_size, conv.strides, conv.padding))
    assert type(MaxPool2D(np.int64(2), np.int32(1)).pool_size) is int
    assert jn.layers.from_dict(conv.to_dict()) == conv  # to_dict holds plain ints: JSON-friendly


def test_flatten_takes_no_arguments():
    with pytest.raises(TypeError, match="Flatten"):
        Flatten(3)


@pytest.mark.parametrize("entry", [fit, fit_ensemble], ids=["fit", "fit_ensemble"])
def test_fit_takes_numpy_integers(entry):
    """epochs, batch_size and verbose as NumPy ints train exactly as the Python ints do."""
    key = jax.random.key(1)
    keys = {"key": key} if entry is fit else {"keys": jax.random.split(key, 2)}
    want, _ = entry(epochs=2, batch_size=4, verbose=0, learning_rate=0.5, **keys)
    got, _ = entry(
        epochs=np.int64(2), batch_size=np.int32(4), verbose=np.int64(0),
        learning_rate=np.float32(0.5), **keys,
    )  # fmt: skip
    assert _same(got, want)
