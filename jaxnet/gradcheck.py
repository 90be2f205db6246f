"""Gradient checking: hand-derived backprop vs ``jax.grad`` vs centred finite differences.

The course's check: flatten the params into one vector theta
(``jax.flatten_util.ravel_pytree``), approximate each partial derivative by
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, and compare gradients by the
relative difference ``||g1 - g2|| / (||g1|| + ||g2||)``; below 2e-7 the backward pass
is taken to be right. Everything runs in float64, whatever the caller's dtype.

The autodiff gradients are JAX's own derivative of the ``lax`` primitives: convolution and
pooling are traced without the custom VJPs they carry in training (whose backward is the
hand-derived one), so the three gradients are computed three independent ways.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxnet import network
from jaxnet.api import compiled_grads
from jaxnet.layers._autodiff import plain_autodiff
from jaxnet.network import Network
from jaxnet.validation import (
    as_inputs,
    as_labels,
    check_mode,
    check_network,
    check_params,
    check_real,
)

__all__ = [
    "COURSE_THRESHOLD",
    "GradcheckReport",
    "gradcheck",
    "numeric_grads",
    "relative_difference",
]

COURSE_THRESHOLD = 2e-7


class GradcheckReport(NamedTuple):
    """The three pairwise relative differences and the verdict against ``threshold``.

    Attributes:
      manual_vs_autodiff: :func:`relative_difference` of hand-derived and ``jax.grad`` gradients.
      manual_vs_numeric: of hand-derived and finite-difference gradients.
      autodiff_vs_numeric: of ``jax.grad`` and finite-difference gradients.
      threshold: the largest difference that passes.
      passed: all three finite and below ``threshold``.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.random.normal(jax.random.key(1), (4, 2)), jax.numpy.array([0, 1, 1, 0])
      >>> report = jn.gradcheck(net, params, X, y)
      >>> report.passed, report.threshold
      (True, 2e-07)
      >>> print(str(report).splitlines()[-1])
      PASSED (threshold 2e-07)
    """

    manual_vs_autodiff: float
    manual_vs_numeric: float
    autodiff_vs_numeric: float
    threshold: float
    passed: bool

    def __str__(self) -> str:
        verdict = "PASSED" if self.passed else "FAILED"
        return (
            f"manual vs autodiff : {self.manual_vs_autodiff:.3e}\n"
            f"manual vs numeric  : {self.manual_vs_numeric:.3e}\n"
            f"autodiff vs numeric: {self.autodiff_vs_numeric:.3e}\n"
            f"{verdict} (threshold {self.threshold:g})"
        )


@functools.partial(jax.jit, static_argnames=("net", "train"))
def _plain_autodiff_grads(net: Network, params, X, Y, key, train: bool):
    """``jax.grad`` of J with convolution and pooling as plain ``lax`` primitives."""
    with plain_autodiff():
        return network.grads(net, params, X, Y, backprop="autodiff", key=key, train=train)


def relative_difference(g1, g2) -> float:
    """``||g1 - g2|| / (||g1|| + ||g2||)`` over flattened pytrees; 0 when both are zero, NaN
    when either holds a NaN or an infinity (such gradients fail any check).

    Args:
      g1: a pytree of arrays (e.g. the params' tree of gradients).
      g2: a pytree of the same structure and shapes.

    Returns:
      A Python float in ``[0, 1]``, or NaN.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> g = {"W": jnp.array([3.0, 4.0])}
      >>> jn.relative_difference(g, g), jn.relative_difference(g, {"W": jnp.zeros(2)})
      (0.0, 1.0)
    """
    return float(_relative_difference(g1, g2))


@jax.jit  # one program per pair of trees, not a compiled program for each of its operations
def _relative_difference(g1, g2):
    v1, v2 = ravel_pytree(g1)[0], ravel_pytree(g2)[0]
    finite = jnp.isfinite(v1).all() & jnp.isfinite(v2).all()
    denominator = jnp.linalg.norm(v1) + jnp.linalg.norm(v2)
    ratio = jnp.where(denominator > 0, jnp.linalg.norm(v1 - v2) / denominator, 0.0)
    return jnp.where(finite, ratio, jnp.nan)


def numeric_grads(
    net: Network,
    params,
    X,
    Y,
    epsilon: float = 1e-7,
    chunk_size: int = 256,
    *,
    key=None,
    train: bool = False,
):
    """Centred finite differences of J for every trainable parameter; same tree as ``params``
    (zeros for the non-trainable leaves, which J's gradient leaves out too).

    ``dtheta_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, the course's
    ``gradient_check_n``; no conversion to float64 here (:func:`gradcheck` does it).

    Args:
      net: the :class:`~jaxnet.Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``.
      Y: labels ``(m, n[L])`` in the params' dtype (not validated: the core's form).
      epsilon: the step ``eps`` (the course's 1e-7; meaningful in float64).
      chunk_size: how many parameters to perturb at once (bounds memory).
      key: the ``jax.random`` key of the training mode (dropout), or None.
      train: whether J is the training cost.

    Returns:
      The params' tree of approximate gradients, each leaf the shape of its parameter.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.random.normal(jax.random.key(1), (4, 2)), jax.numpy.array([0, 1, 1, 0])
      >>> from jaxnet.gradcheck import numeric_grads
      >>> Y = y[:, None].astype(X.dtype)  # the core takes labels (m, n[L]) in the params' dtype
      >>> numeric = numeric_grads(net, params, X, Y, epsilon=1e-2)  # float32: a large step
      >>> jn.relative_difference(numeric, jn.grads(net, params, X, y)) < 1e-3
      True
    """
    return _numeric_grads(net, params, X, Y, epsilon, key, train=train, chunk_size=chunk_size)


@functools.partial(jax.jit, static_argnames=("net", "train", "chunk_size"))
def _numeric_grads(net: Network, params, X, Y, epsilon, key, *, train: bool, chunk_size: int):
    """:func:`numeric_grads` as one program (its flattening and unflattening included)."""
    theta, unravel = ravel_pytree(params)
    trainable = jax.tree.map(lambda p, t: np.full(p.size, t), params, net.trainable())
    indices = np.flatnonzero(np.concatenate([np.zeros(0, bool), *jax.tree.leaves(trainable)]))
    if indices.size == 0:
        return unravel(jnp.zeros_like(theta))

    def two_sided(i):
        e = jnp.zeros_like(theta).at[i].set(epsilon)
        plus = network.cost(net, unravel(theta + e), X, Y, key=key, train=train)
        minus = network.cost(net, unravel(theta - e), X, Y, key=key, train=train)
        return (plus - minus) / (2 * epsilon)

    partials = jax.lax.map(
        two_sided, jnp.asarray(indices), batch_size=min(chunk_size, indices.size)
    )
    return unravel(jnp.zeros_like(theta).at[indices].set(partials))


def gradcheck(
    net: Network,
    params,
    X,
    Y,
    *,
    key=None,
    train: bool = False,
    epsilon: float = 1e-7,
    threshold: float = COURSE_THRESHOLD,
    manual_grads: Callable | None = None,
) -> GradcheckReport:
    """Compare manual, autodiff and numeric gradients of J pairwise, in float64.


    Args:
      net: the :class:`~jaxnet.Network`.
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``;
        any float dtype (converted to float64).
      X: the inputs ``(m, *net.input_shape)``.
      Y: labels ``(m, n[L])`` or ``(m,)``, as for ``jn.cost``.
      key, train: the mode of J, as for ``jn.cost`` (``train=True`` checks the training
        cost: dropout's mask drawn from ``key``, batch norm on batch statistics).
      epsilon: the finite-difference step (the course's 1e-7), a positive number.
      threshold: the largest relative difference that passes (the course's 2e-7).
      manual_grads: ``(net, params, X, Y) -> grads``, the backward pass under test; by
        default jaxnet's hand-derived backprop (in the mode of ``key`` and ``train``).
        Pass your own to check it.

    Returns:
      A :class:`GradcheckReport`; ``passed`` when all three differences are finite and
      below ``threshold`` (a NaN or infinite gradient fails).

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.random.normal(jax.random.key(1), (4, 2)), jax.numpy.array([0, 1, 1, 0])
      >>> jn.gradcheck(net, params, X, y).passed
      True
      >>> def wrong(n, p, x, y):  # a backward pass with a planted error
      ...     g = jn.grads(n, p, x, y)
      ...     return (dict(g[0], b=2 * g[0]["b"]), g[1])
      >>> jn.gradcheck(net, params, X, y, manual_grads=wrong).passed
      False
    """
    check_network(net)
    epsilon = check_real(epsilon, "epsilon", 0.0, strict=True)
    threshold = check_real(threshold, "threshold", 0.0, strict=True)
    if manual_grads is not None and not callable(manual_grads):
        raise TypeError(
            f"manual_grads must be a function (net, params, X, Y) -> grads, got {manual_grads!r:.80}"
        )
    if manual_grads is None:

        def manual_grads(n, p, x, y):
            return compiled_grads(n, p, x, y, backprop="manual", key=key, train=train)

    with jax.enable_x64(True):
        check_params(net, params)
        check_mode(net, key, train)
        params64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), tuple(params))
        X64 = as_inputs(net, X, jnp.float64)
        Y64 = as_labels(net, Y, X64.shape[0], jnp.float64)
        manual = manual_grads(net, params64, X64, Y64)
        autodiff = _plain_autodiff_grads(net, params64, X64, Y64, key, train)
        numeric = numeric_grads(net, params64, X64, Y64, epsilon, key=key, train=train)
        diffs = (
            relative_difference(manual, autodiff),
            relative_difference(manual, numeric),
            relative_difference(autodiff, numeric),
        )
    passed = all(math.isfinite(d) for d in diffs) and max(diffs) < threshold
    return GradcheckReport(*diffs, threshold=threshold, passed=passed)
