"""Gradient checking: hand-derived backprop vs ``jax.grad`` vs centred finite differences.

The course's check: flatten the params into one vector theta
(``jax.flatten_util.ravel_pytree``), approximate each partial derivative by
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, and compare gradients by the
relative difference ``||g1 - g2|| / (||g1|| + ||g2||)``; below 2e-7 the backward pass
is taken to be right. Everything runs in float64, whatever the caller's dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from jaxnet import network
from jaxnet.api import compiled_grads
from jaxnet.network import Network
from jaxnet.validation import (
    as_inputs,
    as_labels,
    check_mode,
    check_network,
    check_params,
    check_real,
)

COURSE_THRESHOLD = 2e-7


class GradcheckReport(NamedTuple):
    """The three pairwise relative differences and the verdict against ``threshold``."""

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


def relative_difference(g1, g2) -> float:
    """``||g1 - g2|| / (||g1|| + ||g2||)`` over flattened pytrees; 0 when both are zero, NaN
    when either holds a NaN or an infinity (such gradients fail any check)."""
    v1, v2 = ravel_pytree(g1)[0], ravel_pytree(g2)[0]
    if not (jnp.isfinite(v1).all() and jnp.isfinite(v2).all()):
        return math.nan
    denominator = jnp.linalg.norm(v1) + jnp.linalg.norm(v2)
    return float(jnp.where(denominator > 0, jnp.linalg.norm(v1 - v2) / denominator, 0.0))


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
    (zeros for the non-trainable leaves, which J's gradient leaves out too)."""
    theta, unravel = ravel_pytree(params)
    mask, _ = ravel_pytree(jax.tree.map(lambda p, t: np.full(p.shape, t), params, net.trainable()))
    indices = np.flatnonzero(np.asarray(mask))
    if indices.size == 0:
        return unravel(jnp.zeros_like(theta))

    @jax.jit
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
      net, params, X, Y: as for ``jn.cost``.
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
        autodiff = compiled_grads(
            net, params64, X64, Y64, backprop="autodiff", key=key, train=train
        )
        numeric = numeric_grads(net, params64, X64, Y64, epsilon, key=key, train=train)
        diffs = (
            relative_difference(manual, autodiff),
            relative_difference(manual, numeric),
            relative_difference(autodiff, numeric),
        )
    passed = all(math.isfinite(d) for d in diffs) and max(diffs) < threshold
    return GradcheckReport(*diffs, threshold=threshold, passed=passed)
