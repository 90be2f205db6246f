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

from jaxnet import initializers, metrics, network
from jaxnet.network import Network
from jaxnet.validation import (
    as_inputs,
    as_labels,
    check_caches,
    check_choice,
    check_dtype,
    check_key,
    check_mode,
    check_network,
    check_params,
    check_real,
)

_forward_with_caches = jax.jit(network.forward_with_caches, static_argnames=("net", "train"))
_cost = jax.jit(network.cost, static_argnames=("net", "train"))
_backward = jax.jit(network.backward, static_argnames="net")
_evaluate = jax.jit(network.evaluate, static_argnames="net")
#: The one jitted gradient: ``jn.grads`` and ``jn.gradcheck`` call it.
compiled_grads = jax.jit(network.grads, static_argnames=("net", "backprop", "train"))


def _checked(net, params, X, Y=None, *, key=None, train=False):
    """Validated ``(X, Y)`` in the params' dtype (``Y`` None when not given)."""
    check_network(net)
    dtype = check_params(net, params)
    check_mode(net, key, train)
    X = as_inputs(net, X, dtype)
    return X, None if Y is None else as_labels(net, Y, X.shape[0], dtype)


def init(key, net: Network, scheme: str = "he", *, scale: float = 0.01, dtype=jnp.float32):
    """Params for ``net``: one dict per layer, each made by the layer's own ``init``
    (dense: ``{"W": (n[l], n[l-1]), "b": (n[l],)}``).

    Args:
      key: a ``jax.random`` key.
      net: the :class:`Network`.
      scheme: ``"zeros"``, ``"normal"`` (``randn * scale``), ``"he"``, ``"xavier"`` or ``"lecun"``.
      scale: the standard deviation for ``"normal"`` (the course's 0.01).
      dtype: float dtype of the params (float64 needs ``jax_enable_x64``).
    """
    check_key(key)
    check_network(net)
    initializer_name = str(scheme)
    initializers.get(initializer_name)  # unknown scheme -> ValueError before any work
    scale = check_real(scale, "scale", 0.0, strict=True)
    dtype = check_dtype(dtype)
    return network.init(key, net, initializer_name, scale=scale, dtype=dtype)


def forward(net: Network, params, X, *, key=None, train: bool = False):
    """Output activations ``A[L]``, ``(m, n[L])``, for inputs ``X`` ``(m, *net.input_shape)``."""
    return forward_with_caches(net, params, X, key=key, train=train)[0]


def forward_with_caches(net: Network, params, X, *, key=None, train: bool = False):
    """``(A[L], caches)``: one cache per layer (dense: ``((A_prev, W, b), Z)``), for :func:`backward`."""
    X, _ = _checked(net, params, X, key=key, train=train)
    return _forward_with_caches(net, params, X, key=key, train=train)


def cost(net: Network, params, X, Y, *, key=None, train: bool = False):
    """The cost J (scalar): the mean over examples of the loss that follows the output."""
    X, Y = _checked(net, params, X, Y, key=key, train=train)
    return _cost(net, params, X, Y, key=key, train=train)


def backward(net: Network, params, caches, Y):
    """Hand-derived gradients of J from the caches of :func:`forward_with_caches`; same tree as params."""
    check_network(net)
    dtype = check_params(net, params)
    m = check_caches(net, caches)
    return _backward(net, params, caches, as_labels(net, Y, m, dtype))


def grads(net: Network, params, X, Y, backprop: str = "manual", *, key=None, train: bool = False):
    """dJ/dparams by ``backprop`` ``"manual"`` (hand backprop) or ``"autodiff"`` (``jax.grad`` of
    :func:`cost` with the same ``key`` and ``train``); zeros for non-trainable leaves."""
    check_choice(backprop, "backprop", network.BACKPROP)
    X, Y = _checked(net, params, X, Y, key=key, train=train)
    return compiled_grads(net, params, X, Y, backprop=backprop, key=key, train=train)


def predict(net: Network, params, X):
    """Class labels ``(m,)`` (binary or multiclass), 0/1 ``(m, n[L])`` (multilabel) or values (regression)."""
    return network.predictions(net, forward(net, params, X))


def evaluate(net: Network, params, X, Y) -> dict[str, float]:
    """``{"loss": J, "accuracy": ...}`` (``"mse"`` instead of accuracy for regression), as floats."""
    X, Y = _checked(net, params, X, Y)
    loss, metric = _evaluate(net, params, X, Y)
    return {"loss": float(loss), metrics.metric_name(net.task): float(metric)}


def _layer_rows(net: Network) -> list[tuple[str, ...]]:
    counts: dict[str, int] = {}
    rows = []
    for layer, shape, params in zip(net.layers, net.output_shapes, net.param_shapes()):
        kind = layer.kind
        counts[kind] = counts.get(kind, 0) + 1
        activation = getattr(layer, "activation", None)
        rows.append(
            (
                f"{kind}_{counts[kind]} ({type(layer).__name__})",
                str((None, *shape)),
                "" if activation is None else str(activation),
                ", ".join(f"{k} {s}" for k, s in params.items()),
                f"{sum(math.prod(s) for s in params.values()):,}",
            )
        )
    return rows


def format_summary(net: Network) -> str:
    """The Keras-like table that :func:`summary` prints: layer, output shape, params."""
    check_network(net)
    rows = [("Layer (type)", "Output shape", "Activation", "Params", "Param #")]
    rows += _layer_rows(net)
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
    """Print the layers (output shapes, parameter shapes and counts) and the totals, like Keras's."""
    print(format_summary(net))
