"""The public, validated entry points: ``jn.init``, ``jn.forward``, ``jn.cost``, ``jn.grads``, ...

Each checks its arguments once (see :mod:`jaxnet.validation`), normalises the labels
to ``(m, n[L])`` in the params' dtype, and calls the jit-compiled pure core of
:mod:`jaxnet.network`. They also work inside ``jax.jit``/``vmap``/``grad`` (shape
checks are static; value checks are skipped on tracers).

``key`` and ``train``: inference (``train=False``, the default) runs dropout as the
identity and batch norm on its moving averages; ``train=True`` runs them as in
training, and a network with dropout (``net.needs_key``) then needs a ``key``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxnet import initializers, network
from jaxnet.layers import param_trees
from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.validation import (
    as_labels,
    bind,
    check_backprop,
    check_caches,
    check_dtype,
    check_key,
    check_mode,
    check_model,
    check_network,
    check_params,
    check_real,
)

__all__ = [
    "backward",
    "cost",
    "evaluate",
    "format_summary",
    "forward",
    "forward_with_caches",
    "grads",
    "init",
    "predict",
    "summary",
]

# The compiled cores call the training contract (jaxnet.model): a Network or a jn.Model.


def _forward_core(net, params, X, key, train):
    return net.forward(params, X, key=key, train=train)


def _cost_core(net, params, X, Y, key, train):
    return net.cost(params, X, Y, key=key, train=train)


def _evaluate_core(net, params, X, Y):
    return net.evaluate(params, X, Y)


def _grads_core(net, params, X, Y, backprop="manual", *, key=None, train=False):
    return net.loss_and_grads(params, X, Y, None, backprop, key=key, train=train)[2]


_forward = jax.jit(_forward_core, static_argnames=("net", "train"))
_forward_with_caches = jax.jit(network.forward_with_caches, static_argnames=("net", "train"))
_cost = jax.jit(_cost_core, static_argnames=("net", "train"))
_backward = jax.jit(network.backward, static_argnames="net")
_evaluate = jax.jit(_evaluate_core, static_argnames="net")
_evaluate_sets = jax.jit(
    lambda net, params, sets: {k: net.evaluate(params, *XY) for k, XY in sets.items()},
    static_argnames="net",
)  # several sets, one program
_predict = jax.jit(
    lambda net, params, X: net.predictions(net.forward(params, X, key=None, train=False)),
    static_argnames="net",
)  # one program: the labels from the outputs are not separate eager ops
#: The one jitted gradient: ``jn.grads`` and ``jn.gradcheck`` call it.
compiled_grads = jax.jit(_grads_core, static_argnames=("net", "backprop", "train"))


def _checked(net, params, X, Y=None, *, key=None, train=False):
    """``(net, X, Y)``: the model (a :class:`jaxnet.Model` bound to ``X``), ``X`` and ``Y``
    validated in the params' dtype (``Y`` None when not given)."""
    check_model(net)
    dtype = check_params(net, params)
    check_mode(net, key, train)
    net, X = bind(net, params, X, dtype)
    return net, X, None if Y is None else as_labels(net, Y, X.shape[0], dtype)


def init(key, net: Network, scheme: str = "he", *, scale: float = 0.01, dtype=jnp.float32):
    """Params for ``net``: one dict per layer, each made by the layer's own ``init``.

    Args:
      key: a ``jax.random`` key.
      net: the :class:`Network`.
      scheme: a name of ``jaxnet.initializers.NAMES``: the course's ``"zeros"``,
        ``"normal"`` (``randn * scale``), ``"he"``, ``"xavier"``, ``"lecun"``; Keras's
        ``"glorot_uniform"`` (its default), ``"glorot_normal"``, ``"he_uniform"``,
        ``"he_normal"``, ``"lecun_uniform"``, ``"lecun_normal"``; PyTorch's ``"pytorch"``
        (the table in :mod:`jaxnet.initializers`).
      scale: the standard deviation for ``"normal"`` (the course's 0.01).
      dtype: float dtype of the params (float64 needs ``jax_enable_x64``).

    Returns:
      A tuple with one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``, conv
      ``{"W": (f, f, n_C_prev, n_C), "b": (n_C,)}``, batch norm ``{"gamma", "beta",
      "moving_mean", "moving_var"}`` each ``(n_C,)``, ``{}`` for parameter-free layers.
      Biases are zero except under ``"pytorch"``.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net, scheme="glorot_uniform")
      >>> [(p["W"].shape, p["b"].shape) for p in params]
      [((4, 2), (4,)), ((1, 4), (1,))]
    """
    check_key(key)
    check_network(net)
    initializers.get(scheme)  # not a str -> TypeError, unknown -> ValueError, before any work
    scale = check_real(scale, "scale", 0.0, strict=True)
    dtype = check_dtype(dtype)
    return network.init(key, net, scheme, scale=scale, dtype=dtype)


def forward(net: Network | Model, params, X, *, key=None, train: bool = False):
    """The output activations ``A[L]`` of ``net`` on inputs ``X``: the course's ``L_model_forward``.

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`: ``A = g(apply(...))``).
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.
      key: a ``jax.random`` key for the layers that draw in training (dropout's mask); None
        in inference.
      train: training behaviour (dropout on, batch norm on batch statistics); the default
        is inference (dropout the identity, batch norm on its moving averages).

    Returns:
      ``A[L] (m, n[L])`` (probabilities for sigmoid/softmax outputs).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> A = jn.forward(net, params, jax.numpy.ones((5, 2)))
      >>> A.shape, bool(((A > 0) & (A < 1)).all())
      ((5, 1), True)
    """
    net, X, _ = _checked(net, params, X, key=key, train=train)
    return _forward(net, params, X, key=key, train=train)


def forward_with_caches(net: Network, params, X, *, key=None, train: bool = False):
    """``(A[L], caches)``: one cache per layer (dense: ``((A_prev, W, b), Z)``), for :func:`backward`.

    Args:
      net: the :class:`~jaxnet.Network`.
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.
      key: a ``jax.random`` key for the layers that draw in training (dropout's mask); None
        in inference.
      train: training behaviour (dropout on, batch norm on batch statistics); the default
        is inference (dropout the identity, batch norm on its moving averages).

    Returns:
      ``(A[L], caches)``: ``A[L] (m, n[L])`` and a tuple of one cache per layer; the output
      layer's is ``(inner_cache, Z[L] (m, n[L]))``, the course's ``linear_activation_forward``
      cache.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> A, caches = jn.forward_with_caches(net, params, jax.numpy.ones((5, 2)))
      >>> (A_prev, W, b), Z = caches[0]
      >>> A.shape, len(caches), A_prev.shape, W.shape, Z.shape
      ((5, 1), 2, (5, 2), (4, 2), (5, 4))
    """
    check_network(net)
    net, X, _ = _checked(net, params, X, key=key, train=train)
    return _forward_with_caches(net, params, X, key=key, train=train)


def cost(net: Network | Model, params, X, Y, *, key=None, train: bool = False):
    """The cost J: the mean over examples of the loss, plus ``(λ / 2m) sum_l ||W[l]||^2``
    for the layers with ``l2 = λ > 0``.

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`).
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.
      Y: labels ``(m, n[L])``, or ``(m,)`` (0/1 for one sigmoid unit, class indices for
        softmax; one-hot ``(m, K)`` also taken); for a sequence output ``(m, T, n[L])``, one
        label per step (ids ``(m, T)``, or ``(m, T, n[L])``).
      key: a ``jax.random`` key for the layers that draw in training (dropout's mask); None
        in inference.
      train: training behaviour (dropout on, batch norm on batch statistics); the default
        is inference (dropout the identity, batch norm on its moving averages).

    Returns:
      The scalar J, shape ``()`` (a sequence output: each example's loss the mean over its
      real steps): binary cross-entropy for a sigmoid output, categorical
      cross-entropy for softmax, mean squared error otherwise (or ``net.loss``).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid", l2=0.1)
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.numpy.ones((5, 2)), jax.numpy.array([0, 1, 1, 0, 1])
      >>> J = jn.cost(net, params, X, y)
      >>> J.shape, bool(J > 0)
      ((), True)
    """
    net, X, Y = _checked(net, params, X, Y, key=key, train=train)
    return _cost(net, params, X, Y, key=key, train=train)


def backward(net: Network, params, caches, Y):
    """Hand-derived backprop: the gradients of :func:`cost` from :func:`forward_with_caches`'s caches.

    The course's ``L_model_backward``: ``dZ[L] = A[L] - Y`` (fused losses) and each layer's
    own ``backward`` in reverse, plus ``(λ / m) W`` for the layers with L2. In the mode of
    the forward pass that made the caches.

    Args:
      net: the :class:`~jaxnet.Network`.
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      caches: from :func:`forward_with_caches` of the same ``net`` and ``params`` (on ``m``
        examples).
      Y: labels ``(m, n[L])``, or ``(m,)`` (0/1 for one sigmoid unit, class indices for
        softmax; one-hot ``(m, K)`` also taken).

    Returns:
      The params' tree of gradients of J: a tuple with one dict per layer, dense
      ``{"W": dW (n[l], n[l-1]), "b": db (n[l],)}``; zeros for non-trainable leaves (batch
      norm's moving statistics).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.numpy.ones((5, 2)), jax.numpy.array([0, 1, 1, 0, 1])
      >>> A, caches = jn.forward_with_caches(net, params, X)
      >>> [(g["W"].shape, g["b"].shape) for g in jn.backward(net, params, caches, y)]
      [((4, 2), (4,)), ((1, 4), (1,))]
    """
    check_network(net)
    if net.masks_steps:
        raise ValueError(
            "jn.backward needs the mask of the padded steps, which comes from X "
            "(Embedding(mask_zero=True)); the caches do not hold it: use jn.grads(net, params, "
            "X, Y) (the same hand-derived backward)"
        )
    dtype = check_params(net, params)
    m = check_caches(net, caches)
    return _backward(net, params, caches, as_labels(net, Y, m, dtype))


def grads(
    net: Network | Model, params, X, Y, backprop: str | None = None, *, key=None,
    train: bool = False,
):  # fmt: skip
    """dJ/dparams of :func:`cost` with the same ``key`` and ``train``.

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`: ``jax.grad`` only).
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.
      Y: labels ``(m, n[L])``, or ``(m,)`` (0/1 for one sigmoid unit, class indices for
        softmax; one-hot ``(m, K)`` also taken).
      backprop: ``"manual"`` (hand-derived backprop, :func:`backward`) or ``"autodiff"``
        (``jax.grad`` of the cost); None: the model's own (``"manual"`` for a network).
      key: a ``jax.random`` key for the layers that draw in training (dropout's mask); None
        in inference.
      train: training behaviour (dropout on, batch norm on batch statistics); the default
        is inference (dropout the identity, batch norm on its moving averages).

    Returns:
      The params' tree of gradients (each leaf the shape of its parameter); zeros for
      non-trainable leaves.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid", l2=0.5)
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.numpy.ones((5, 2)), jax.numpy.array([0, 1, 1, 0, 1])
      >>> manual = jn.grads(net, params, X, y)
      >>> autodiff = jn.grads(net, params, X, y, backprop="autodiff")
      >>> jn.relative_difference(manual, autodiff) < 1e-6
      True
    """
    backprop = check_backprop(check_model(net), backprop)
    net, X, Y = _checked(net, params, X, Y, key=key, train=train)
    return compiled_grads(net, params, X, Y, backprop=backprop, key=key, train=train)


def predict(net: Network | Model, params, X):
    """Class labels ``(m,)`` (binary or multiclass), 0/1 ``(m, n[L])`` (multilabel) or values (regression).

    Binary and multilabel: ``A[L] > 0.5``; multiclass: ``argmax A[L]``. In inference mode.
    A network whose output is a sequence predicts at every step: ``(m, T)`` labels (or
    ``(m, T, n[L])``).

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`).
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.

    Returns:
      int32 labels ``(m,)`` (binary, multiclass), int32 0/1 ``(m, n[L])`` (multilabel), or
      ``A[L] (m, n[L])`` itself (regression).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 3), hidden_activation="relu", output_activation="softmax")
      >>> params = jn.init(jax.random.key(0), net)
      >>> labels = jn.predict(net, params, jax.numpy.ones((5, 2)))
      >>> labels.shape, labels.dtype, bool(((labels >= 0) & (labels < 3)).all())
      ((5,), dtype('int32'), True)
    """
    net, X, _ = _checked(net, params, X)
    return _predict(net, params, X)


def evaluate(net: Network | Model, params, X, Y) -> dict[str, float]:
    """``{"loss": J, "accuracy": ...}`` (``"mse"`` instead of accuracy for regression), as floats.

    In inference mode; J is :func:`cost`'s, the L2 term included. For a sequence output the
    accuracy is per step (each example's over its real steps, then the mean).

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`).
      params: its params (:func:`init`), one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``: ``(m, n[0])`` vectors or ``(m, n_H, n_W, n_C)`` images.
      Y: labels ``(m, n[L])``, or ``(m,)`` (0/1 for one sigmoid unit, class indices for
        softmax; one-hot ``(m, K)`` also taken).

    Returns:
      A dict of two Python floats: ``"loss"`` and ``"accuracy"`` (or ``"mse"``).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.numpy.ones((4, 2)), jax.numpy.array([0, 1, 1, 1])
      >>> result = jn.evaluate(net, params, X, y)
      >>> sorted(result), result["accuracy"] in (0.25, 0.75)
      (['accuracy', 'loss'], True)
    """
    net, X, Y = _checked(net, params, X, Y)
    return {k: float(v) for k, v in _evaluate(net, params, X, Y).items()}


def evaluate_sets(net: Network | Model, params, sets) -> dict[str, dict[str, float]]:
    """:func:`evaluate` of several sets in one compiled program: ``{name: {"loss", ...}}``.

    Each set's numbers are :func:`evaluate`'s on it (the same computation; one XLA program
    for all of them instead of one per set's shape, as the ``jaxnet`` command's splits).

    Args:
      net, params: as for :func:`evaluate`.
      sets: ``{name: (X, Y)}``, each as :func:`evaluate` takes it.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> from jaxnet import api
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X = jnp.ones((4, 2))
      >>> out = api.evaluate_sets(net, params, {"a": (X, jnp.zeros(4)), "b": (X[:2], jnp.ones(2))})
      >>> out["b"] == jn.evaluate(net, params, X[:2], jnp.ones(2))
      True
    """
    bound = {k: _checked(net, params, X, Y) for k, (X, Y) in sets.items()}
    nets = {b[0] for b in bound.values()}  # a jn.Model binds to the data's example shape
    if len(nets) > 1:
        raise ValueError(
            f"sets: every set's X must have the same example shape, got "
            f"{ {k: tuple(b[1].shape[1:]) for k, b in bound.items()} }"
        )
    net = nets.pop() if nets else net
    results = _evaluate_sets(net, params, {k: (X, Y) for k, (_, X, Y) in bound.items()})
    return {k: {m: float(v) for m, v in r.items()} for k, r in results.items()}


def _layer_rows(net: Network) -> list[tuple[str, ...]]:
    counts: dict[str, int] = {}
    rows: list[tuple[str, ...]] = []
    for layer, shape in zip(net.layers, net.input_shapes):
        _rows(layer, shape, counts, "", rows)
    return rows


def _rows(layer, input_shape, counts: dict[str, int], indent: str, rows: list) -> None:
    """The summary rows of ``layer`` on ``input_shape``; a layer made of layers (a residual
    block) is followed by its paths, each indented under its name, every path on the
    block's input."""
    kind = layer.kind
    counts[kind] = counts.get(kind, 0) + 1
    activation = getattr(layer, "activation", None)
    shapes, branches = layer.param_shapes(input_shape), layer.sublayers()
    names = ""
    if not branches:
        trainable = layer.trainable(input_shape)
        names = ", ".join(f"{k} {s}" if trainable[k] else f"[{k} {s}]" for k, s in shapes.items())
    rows.append(
        (
            f"{indent}{kind}_{counts[kind]} ({type(layer).__name__})",
            str((None, *layer.output_shape(input_shape))),
            "" if activation is None else str(activation),
            names,
            f"{sum(math.prod(s) for s in param_trees.shape_leaves(shapes)):,}",
            f"{layer.l2:g}" if getattr(layer, "l2", 0) else "",
        )
    )
    for name, sublayers in branches.items():
        rows.append((f"{indent}  {name}:", *("",) * 5))
        shape = tuple(input_shape)
        for sub in sublayers:
            _rows(sub, shape, counts, indent + "    ", rows)
            shape = tuple(sub.output_shape(shape))
    if branches and "shortcut" not in branches and hasattr(layer, "shortcut"):
        rows.append((f"{indent}  shortcut: the input (identity)", *("",) * 5))


def format_summary(net: Network) -> str:
    """The Keras-like table that :func:`summary` prints: layer, output shape, params.

    Non-trainable params are in brackets; an ``L2`` column gives λ where a layer has one.

    Args:
      net: the :class:`~jaxnet.Network`.

    Returns:
      The table, a str of several lines (no trailing newline).

    Example:
      >>> import jaxnet as jn
      >>> print(jn.format_summary(jn.Network((3, 2, 1), l2=0.5)).splitlines()[0])
      Network 3 -> 2 -> 1   loss: binary_cross_entropy
    """
    check_network(net)
    rows = [("Layer (type)", "Output shape", "Activation", "Params", "Param #", "L2")]
    rows += _layer_rows(net)
    if not any(net.l2):
        rows = [r[:-1] for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = "-" * (sum(widths) + 2 * (len(widths) - 1))
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if net.is_dense:
        head = f"Network {' -> '.join(map(str, net.sizes))}   loss: {net.loss}"
    else:
        head = f"Sequential, input shape {net.input_shape}   loss: {net.loss}"
    trainable = net.num_trainable_params
    totals = [
        f"Total params: {net.num_params:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {net.num_params - trainable:,}",
    ]
    return "\n".join([head, line, table[0], line, *table[1:], line, *totals])


def summary(net: Network) -> None:
    """Print the layers (output shapes, parameter shapes and counts) and the totals, like Keras's.

    Args:
      net: the :class:`~jaxnet.Network`.

    Returns:
      None; prints :func:`format_summary`'s table.

    Example:
      >>> import jaxnet as jn
      >>> cnn = jn.Sequential([jn.layers.Conv2D(4, 3), jn.layers.Flatten(), jn.layers.Dense(2, "softmax")],
      ...                     input_shape=(5, 5, 1))
      >>> jn.summary(cnn)
      Sequential, input shape (5, 5, 1)   loss: categorical_cross_entropy
      ---------------------------------------------------------------------------------
      Layer (type)         Output shape     Activation  Params                  Param #
      ---------------------------------------------------------------------------------
      conv2d_1 (Conv2D)    (None, 3, 3, 4)              W (3, 3, 1, 4), b (4,)  40
      flatten_1 (Flatten)  (None, 36)                                           0
      dense_1 (Dense)      (None, 2)        softmax     W (2, 36), b (2,)       74
      ---------------------------------------------------------------------------------
      Total params: 114
      Trainable params: 114
      Non-trainable params: 0
    """
    print(format_summary(net))
