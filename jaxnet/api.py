"""The public, validated entry points: ``jn.init``, ``jn.forward``, ``jn.cost``, ``jn.grads``, ...

Each checks its arguments once (see :mod:`jaxnet.validation`), normalises the labels
to ``(m, n[L])`` in the params' dtype, and calls the jit-compiled pure core of
:mod:`jaxnet.network`. They also work inside ``jax.jit``/``vmap``/``grad`` (shape
checks are static; value checks are skipped on tracers).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnet import initializers, metrics, network
from jaxnet.network import Network
from jaxnet.validation import as_inputs, as_labels, check_network, check_params

_forward_with_caches = jax.jit(network.forward_with_caches, static_argnames="net")
_cost = jax.jit(network.cost, static_argnames="net")
_backward = jax.jit(network.backward, static_argnames="net")
# the one jitted gradient (gradcheck uses it too)
compiled_grads = jax.jit(network.grads, static_argnames=("net", "backprop", "train"))
_evaluate = jax.jit(network.evaluate, static_argnames="net")


def _checked(net, params, X, Y=None):
    """Validated ``(params dtype, X, Y)``."""
    check_network(net)
    dtype = check_params(net, params)
    X = as_inputs(net, X, dtype)
    return X, None if Y is None else as_labels(net, Y, X.shape[0], dtype)


def init(key, net: Network, scheme: str = "he", *, scale: float = 0.01, dtype=jnp.float32):
    """Params for ``net``: a tuple of ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.

    Args:
      key: a ``jax.random`` key.
      net: the :class:`Network`.
      scheme: ``"zeros"``, ``"normal"`` (``randn * scale``), ``"he"``, ``"xavier"`` or ``"lecun"``.
      scale: the standard deviation for ``"normal"`` (the course's 0.01).
      dtype: float dtype of the params (float64 needs ``jax_enable_x64``).
    """
    check_network(net)
    initializer_name = str(scheme)
    initializers.get(initializer_name)  # unknown scheme -> ValueError before any work
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    if jnp.dtype(dtype).itemsize == 8 and not jax.config.jax_enable_x64:
        raise ValueError(
            "dtype float64 needs 64-bit JAX: jax.config.update('jax_enable_x64', True) "
            "or `with jax.enable_x64(True):`"
        )
    return network.init(key, net, initializer_name, scale=scale, dtype=dtype)


def forward(net: Network, params, X):
    """Output activations ``A[L]``, ``(m, n[L])``, for inputs ``X`` ``(m, n[0])``."""
    X, _ = _checked(net, params, X)
    return _forward_with_caches(net, params, X)[0]


def forward_with_caches(net: Network, params, X):
    """``(A[L], caches)``: one ``((A_prev, W, b), Z)`` per layer, for :func:`backward`."""
    X, _ = _checked(net, params, X)
    return _forward_with_caches(net, params, X)


def cost(net: Network, params, X, Y):
    """The cost J (scalar): the mean over examples of the loss that follows the output."""
    X, Y = _checked(net, params, X, Y)
    return _cost(net, params, X, Y)


def backward(net: Network, params, caches, Y):
    """Hand-derived gradients of J from the caches of :func:`forward_with_caches`; same tree as params."""
    check_network(net)
    dtype = check_params(net, params)
    return _backward(net, params, caches, as_labels(net, Y, caches[0][0][0].shape[0], dtype))


def grads(net: Network, params, X, Y, backprop: str = "manual"):
    """dJ/dparams by ``backprop`` ``"manual"`` (hand backprop) or ``"autodiff"`` (``jax.grad`` of J)."""
    if backprop not in network.BACKPROP:
        raise ValueError(f"backprop must be one of {network.BACKPROP}, got {backprop!r}")
    X, Y = _checked(net, params, X, Y)
    return compiled_grads(net, params, X, Y, backprop=backprop)


def predict(net: Network, params, X):
    """Class labels ``(m,)`` (binary or multiclass), 0/1 ``(m, n[L])`` (multilabel) or values (regression)."""
    return network.predictions(net, forward(net, params, X))


def evaluate(net: Network, params, X, Y) -> dict[str, float]:
    """``{"loss": J, "accuracy": ...}`` (``"mse"`` instead of accuracy for regression), as floats."""
    X, Y = _checked(net, params, X, Y)
    loss, metric = _evaluate(net, params, X, Y)
    return {"loss": float(loss), metrics.metric_name(net.task): float(metric)}


def format_summary(net: Network) -> str:
    """The Keras-like table that :func:`summary` prints."""
    check_network(net)
    rows = [("Layer", "Units", "Activation", "W shape", "b shape", "Params")]
    for l, (n_prev, n, act) in enumerate(zip(net.sizes, net.sizes[1:], net.activations), start=1):
        rows.append(
            (f"dense_{l}", str(n), act, str((n, n_prev)), str((n,)), f"{n * (n_prev + 1):,}")
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    line = "-" * (sum(widths) + 2 * (len(widths) - 1))
    table = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    head = f"Network {' -> '.join(map(str, net.sizes))}   loss: {net.loss}"
    total = f"Total params: {net.num_params:,}  (sum of n[l] (n[l-1] + 1))"
    return "\n".join([head, line, table[0], line, *table[1:], line, total])


def summary(net: Network) -> None:
    """Print the layers (W and b shapes, parameter counts) and the total, like Keras's ``summary``."""
    print(format_summary(net))
