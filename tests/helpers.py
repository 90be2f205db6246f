"""Shared helpers for the tests: the checkout's paths, activation lists, random params, data,
architectures, ``Scale`` (a small layer of the tests' own that exercises the whole layer
protocol), the in-process ``jaxnet`` command, a compile counter and fixtures computed once
per test run."""

import collections
import contextlib
import functools
import importlib.util
import json
import os
import re
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock, so each worker computes once_per_run's values itself
    fcntl = None

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import strategies as st

import jaxnet as jn
from jaxnet import initializers
from jaxnet.layers.param_trees import is_shape

REPO = Path(__file__).resolve().parents[1]  # the checkout
SHARED_DATA = Path(os.environ.get("JAXNET_SHARED_DATA", REPO.parent / "shared" / "data"))

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "leaky_relu(0.2)", "softmax", "linear")
ELEMENTWISE = tuple(a for a in ACTIVATIONS if a != "softmax")

# (output activation, loss): the three fused pairs, then unfused ones.
OUTPUTS = (
    ("sigmoid", None),  # binary cross-entropy, fused
    ("softmax", None),  # categorical cross-entropy, fused
    ("linear", None),  # squared error, fused
    ("tanh", None),  # squared error through tanh'
    ("sigmoid", "mse"),  # squared error through sigmoid'
    ("softmax", "mse"),  # squared error through the softmax Jacobian
)


def make_net(sizes, hidden_activations, output, loss=None) -> jn.Network:
    """A network with one activation per hidden layer plus ``output``."""
    return jn.Network(sizes, activations=(*hidden_activations, output), loss=loss)


def random_params(seed, net, dtype=jnp.float32, bias_scale=0.5):
    """Params of ``net`` with every gradient term exercised: Xavier-scaled weights ``W``,
    random (non-zero) other trainable leaves, positive non-trainable ones.

    Drawn with NumPy: ``jax.random`` would compile an eager kernel for every new shape.
    """
    rng = np.random.default_rng(seed)

    def leaf(name, shape, trainable):
        if name == "W":
            fan_in, fan_out = initializers.fans(shape)
            values = rng.normal(size=shape) * np.sqrt(2 / (fan_in + fan_out))
        elif trainable:
            values = bias_scale * rng.normal(size=shape)
        else:
            values = np.abs(rng.normal(size=shape)) + 0.5
        return jax.device_put(np.asarray(values, dtype))  # NumPy casts: no compile per shape

    def draw(shapes, trainable, name=None):  # in the layers' key order; a block nests its layers'
        if isinstance(shapes, dict):
            return {k: draw(v, trainable[k], k) for k, v in shapes.items()}
        if is_shape(shapes):
            return leaf(name, shapes, trainable)
        return tuple(draw(s, t) for s, t in zip(shapes, trainable, strict=True))

    return tuple(draw(s, t) for s, t in zip(net.param_shapes(), net.trainable()))


def random_inputs(layer, input_shape, m, rng):
    """``(m, *input_shape)`` NumPy inputs for ``layer``: standard normals, or token ids in the
    vocabulary for an Embedding (with zeros, the padding id, at the end of some rows)."""
    vocab_size = getattr(layer, "vocab_size", None)
    if vocab_size is None:
        return rng.normal(size=(m, *input_shape))
    ids = rng.integers(1, vocab_size, size=(m, *input_shape))
    lengths = rng.integers(1, input_shape[0] + 1, size=(m, 1))
    return np.where(np.arange(input_shape[0]) < lengths, ids, 0).astype(np.float64)


def random_data(seed, net, m, dtype=jnp.float32):
    """``X (m, *input_shape)`` and labels as the public API takes them (integer classes for
    softmax+CCE)."""
    rng = np.random.default_rng(seed)
    X = random_inputs(net.layers[0], net.input_shape, m, rng)
    n_out = net.output_shape[0]
    if net.task == "multiclass":
        Y = rng.integers(0, n_out, size=m).astype(np.int32)
    elif net.task in ("binary", "multilabel"):
        Y = rng.integers(0, 2, size=(m, n_out)).astype(dtype)
    else:
        Y = rng.normal(size=(m, n_out)).astype(dtype)
    return jax.device_put(X.astype(dtype)), jax.device_put(Y)  # NumPy casts: no compile per shape


def normalised_labels(net, Y, dtype=jnp.float32):
    """Labels as the traced core expects them: ``(m, n[L])`` in ``dtype`` (one-hot for softmax+CCE)."""
    if net.task == "multiclass" and Y.ndim == 1:
        return jax.nn.one_hot(Y, net.output_shape[0], dtype=dtype)
    return jnp.asarray(Y, dtype)


@st.composite
def architectures(draw, max_depth=5, max_width=8, max_m=16):
    """``(net, m, seed)``: depth 1..max_depth, widths 1..max_width, any activations and output."""
    depth = draw(st.integers(1, max_depth))
    hidden = draw(st.lists(st.sampled_from(ACTIVATIONS), min_size=depth - 1, max_size=depth - 1))
    output, loss = draw(st.sampled_from(OUTPUTS))
    widths = draw(st.lists(st.integers(1, max_width), min_size=depth, max_size=depth))
    n_out = draw(st.integers(2 if output == "softmax" else 1, max_width))
    m = draw(st.integers(1, max_m))
    seed = draw(st.integers(0, 2**31 - 1))
    return make_net((*widths, n_out), hidden, output, loss), m, seed


class Scale(jn.layers.Layer):
    """A test layer with every part of the protocol: ``A = A_prev * s + offset`` per feature
    (the last axis), plus ``noise * N(0, 1)`` in training (so it needs a key when ``noise > 0``).

    ``s`` is trained; ``offset`` is a non-trainable leaf that training sets to the batch
    (weighted) mean of ``A_prev`` (:meth:`stats`), and that inference uses.
    """

    kind = "test_scale"
    non_trainable = ("offset",)
    noise: float = 0.0

    @property
    def needs_key(self) -> bool:
        return self.noise > 0

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def param_shapes(self, input_shape):
        return {"s": tuple(input_shape[-1:]), "offset": tuple(input_shape[-1:])}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32):
        shape = tuple(input_shape[-1:])
        s = 1 + 0.1 * initializers.standard_normal(key, shape, dtype)
        return {"s": s, "offset": jnp.zeros(shape, dtype)}

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        A = A_prev * _last_axis(params["s"], A_prev) + _last_axis(params["offset"], A_prev)
        if train and self.noise > 0:
            A = A + self.noise * jax.random.normal(key, A.shape, A.dtype)
        rows = A_prev.reshape(-1, A_prev.shape[-1])
        if weights is None:
            mean = rows.mean(axis=0)
        else:
            w = jnp.repeat(weights, rows.shape[0] // weights.shape[0])[:, None]
            mean = (w * rows).sum(axis=0) / w.sum()  # padding rows excluded
        return A, (A_prev, params["s"], mean)

    def backward(self, params, cache, dA):
        A_prev, s, _ = cache
        m = A_prev.shape[0]
        ds = (dA * A_prev).reshape(-1, s.shape[0]).sum(axis=0) / m
        return dA * _last_axis(s, dA), {"s": ds, "offset": jnp.zeros_like(params["offset"])}

    def stats(self, cache):
        return {"offset": cache[2]}


def _last_axis(v, A):
    """``v (n,)`` shaped to broadcast along the last axis of ``A`` (no rank promotion)."""
    return v.reshape((1,) * (A.ndim - 1) + v.shape)


def jaxnet(capsys, *argv):
    """Run ``jaxnet argv`` in-process (``jaxnet.cli.main``): ``(exit status, stdout, stderr)``."""
    from jaxnet import cli

    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def script(name: str):
    """``scripts/<name>.py`` imported as a module (the tests call what the command line runs)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refused(capsys, *argv, code=2):
    """Run ``jaxnet argv`` in-process, which must fail with exit status ``code`` and one line on
    stderr (no traceback); return that line."""
    status, _, err = jaxnet(capsys, *argv)
    assert status == code, err
    assert err.startswith("jaxnet: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def without_time(history):
    """A history without its wall times (``"time"``), the part two equal runs may differ in."""
    return {k: v for k, v in history.items() if k != "time"}


@functools.cache
def writing_a_layer() -> dict:
    """The namespace of docs/writing_a_layer.md's ```python blocks, run once (its own checks
    assert as they run): the page's ``ScaleShift`` is a tested layer, not a sketch."""
    page = (REPO / "docs" / "writing_a_layer.md").read_text()
    namespace = {"__name__": "writing_a_layer"}
    exec("\n".join(re.findall(r"^```python\n(.*?)^```", page, re.S | re.M)), namespace)  # noqa: S102
    return namespace


def once_per_run(tmp_path_factory, name, compute):
    """``compute(folder)``'s JSON value and its folder, computed once per test run.

    For a module fixture that runs a subprocess or a training (seconds to minutes): under
    pytest-xdist every worker that runs one of its tests would set it up again, so the first
    worker to ask computes it in a folder the workers share (pytest-xdist's recipe for
    fixtures that must run once) and the others wait for it and read its result. A compute
    that raises leaves no result, and the next worker to ask tries again.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER") and fcntl is not None:
        root = root.parent  # the run's folder, above each worker's own
    folder, result = root / f"once-{name}", root / f"once-{name}.json"
    with open(root / f"once-{name}.lock", "w") as lock:
        if fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not result.is_file():
            folder.mkdir(exist_ok=True)
            value = compute(folder)
            result.write_text(json.dumps(value))
        return json.loads(result.read_text()), folder


@contextlib.contextmanager
def count_compiles():
    """Count XLA compilations while the block runs: yields a ``Counter`` ``{function name: n}``.

    Listens to JAX's public backend-compile event (``jax.monitoring``); a call that hits a
    jitted function's cache compiles nothing and counts nothing.

    >>> with count_compiles() as compiles:
    ...     _ = jax.jit(lambda x: x + 1)(1.0)
    >>> compiles["jit(<lambda>)"]
    1
    """
    counts = collections.Counter()

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            counts[kwargs.get("fun_name", "")] += 1

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield counts
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


# --- random networks with the layers of the regularisation and convolution issues ---------


@st.composite
def regularised_nets(draw, max_depth=3, max_width=6, max_m=9):
    """``(net, m, seed)``: Dense stacks with, per hidden layer, optional BatchNorm and Dropout
    and an L2 coefficient (0 or positive) per Dense, any hidden activations and output."""
    from jaxnet.layers import BatchNorm, Dense, Dropout

    depth = draw(st.integers(1, max_depth))
    layers = []
    for _ in range(depth - 1):
        layers.append(
            Dense(
                draw(st.integers(1, max_width)),
                draw(st.sampled_from(ACTIVATIONS)),
                l2=draw(st.sampled_from((0.0, 0.05, 1.3))),
            )
        )
        if draw(st.booleans()):
            layers.append(BatchNorm(momentum=draw(st.sampled_from((0.9, 0.99)))))
        if draw(st.booleans()):
            layers.append(Dropout(draw(st.sampled_from((0.1, 0.5)))))
    output, loss = draw(st.sampled_from(OUTPUTS))
    n_out = draw(st.integers(2 if output == "softmax" else 1, max_width))
    layers.append(Dense(n_out, output, l2=draw(st.sampled_from((0.0, 0.7)))))
    n_x = draw(st.integers(1, max_width))
    m = draw(st.integers(2, max_m))  # batch norm in training needs two examples
    seed = draw(st.integers(0, 2**31 - 1))
    return jn.Sequential(layers, input_shape=(n_x,), loss=loss), m, seed


@st.composite
def cnns(draw, max_m=5):
    """``(net, m, seed)``: NHWC images through Conv2D (any stride, padding, activation, L2),
    optional BatchNorm, a max or average pool, optionally a second conv block, Flatten,
    optional Dropout and a Dense output; only shapes that fit (others are drawn again)."""
    from hypothesis import assume

    from jaxnet.layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D

    shape = (draw(st.integers(3, 7)), draw(st.integers(3, 7)), draw(st.integers(1, 3)))
    layers = []
    for _ in range(draw(st.integers(1, 2))):
        layers.append(
            Conv2D(
                draw(st.integers(1, 3)),
                draw(st.integers(1, 3)),
                strides=draw(st.integers(1, 2)),
                padding=draw(st.sampled_from(("valid", "same", 1))),
                activation=draw(st.sampled_from((None, "relu", "tanh", "sigmoid"))),
                l2=draw(st.sampled_from((0.0, 0.4))),
            )
        )
        if draw(st.booleans()):
            layers.append(BatchNorm())
        pool = draw(st.sampled_from((MaxPool2D, AvgPool2D)))
        layers.append(pool(draw(st.integers(1, 2)), strides=draw(st.sampled_from((None, 1)))))
    layers.append(Flatten())
    if draw(st.booleans()):
        layers.append(Dropout(0.3))
    output, loss = draw(st.sampled_from(OUTPUTS))
    layers.append(Dense(draw(st.integers(2, 3)), output, l2=draw(st.sampled_from((0.0, 0.2)))))
    try:
        net = jn.Sequential(layers, input_shape=shape, loss=loss)
    except ValueError:  # a window larger than its input
        assume(False)
    m = draw(st.integers(2, max_m))
    return net, m, draw(st.integers(0, 2**31 - 1))


# --- residual blocks (course 4, week 2) -------------------------------------------------------


@st.composite
def residual_blocks(draw):
    """``(block, input_shape)``: a Residual on NHWC images, its main path one or two units of
    Conv2D (the first possibly strided) with optional BatchNorm, Activation and Dropout; the
    shortcut the identity where the shapes allow it and a drawn choice says so, else a 1x1
    projection (with the main path's stride) with optional BatchNorm; any final activation.
    One draw in three nests the block in another block (the same kind of shortcut)."""
    from hypothesis import assume

    from jaxnet.layers import Activation, BatchNorm, Conv2D, Dropout, Residual

    shape = (draw(st.integers(3, 6)), draw(st.integers(3, 6)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from((1, 1, 2)))
    main = []
    for unit in range(draw(st.integers(1, 2))):
        main.append(
            Conv2D(
                draw(st.integers(1, 3)),
                draw(st.integers(1, 3)),
                strides=stride if unit == 0 else 1,
                padding="same",
                activation=draw(st.sampled_from((None, None, "tanh"))),
            )
        )
        if draw(st.booleans()):
            main.append(BatchNorm(momentum=draw(st.sampled_from((0.9, 0.99)))))
        if draw(st.booleans()):
            main.append(Activation(draw(st.sampled_from(("relu", "sigmoid", "leaky_relu")))))
        if draw(st.booleans()):
            main.append(Dropout(draw(st.sampled_from((0.2, 0.5)))))
    main_shape = shape
    for layer in main:
        main_shape = layer.output_shape(main_shape)
    shortcut = None
    if main_shape != shape or draw(st.booleans()):
        shortcut = [Conv2D(main_shape[-1], 1, strides=stride)]
        if draw(st.booleans()):
            shortcut.append(BatchNorm())
    block = Residual(main, shortcut, draw(st.sampled_from(("relu", "tanh", None))))
    try:
        block.output_shape(shape)
    except ValueError:  # "same" padding with a stride: a shortcut of another size
        assume(False)
    if draw(st.integers(0, 2)) == 0:  # the block inside another, with a shortcut like its own
        block = Residual(
            (block, BatchNorm()), block.shortcut, draw(st.sampled_from(("relu", None)))
        )
    return block, shape


def small_sequence_net(rate=0.2, l2=0.01):
    """Token ids (0 = padding, masked) -> LSTM per step -> Dense per step -> GRU -> softmax."""
    from jaxnet.layers import GRU, LSTM, Dense, Dropout, Embedding

    return jn.Sequential(
        [Embedding(6, 4, mask_zero=True), LSTM(5, return_sequences=True), Dense(4, "tanh"),
         GRU(4), Dropout(rate), Dense(3, "softmax", l2=l2)],
        input_shape=(7,),
    )  # fmt: skip


def token_sequences(m=20, seed=0, dtype=np.float32):
    """Ids ``(m, 7)`` in 1..5 padded with zeros to lengths 2..7, and 3 classes from a rule the
    network can learn (the first token)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 6, size=(m, 7))
    lengths = rng.integers(2, 8, size=(m, 1))
    X = np.where(np.arange(7) < lengths, ids, 0).astype(dtype)
    return X, (ids[:, 0] % 3).astype(np.int32)
