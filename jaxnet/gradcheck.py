"""Gradient checking: hand-derived backprop vs ``jax.grad`` vs centred finite differences.

The course's check: flatten the params into one vector theta
(``jax.flatten_util.ravel_pytree``), approximate each partial derivative by
``(J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, and compare gradients by the
relative difference ``||g1 - g2|| / (||g1|| + ||g2||)``; below 2e-7 the backward pass
is taken to be right. Everything runs in float64, whatever the caller's dtype.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from jaxnet import network
from jaxnet.api import compiled_grads
from jaxnet.network import Network
from jaxnet.validation import as_inputs, as_labels, check_network, check_params

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
    """``||g1 - g2|| / (||g1|| + ||g2||)`` over flattened pytrees; 0 when both are zero."""
    v1, v2 = ravel_pytree(g1)[0], ravel_pytree(g2)[0]
    denominator = jnp.linalg.norm(v1) + jnp.linalg.norm(v2)
    return float(jnp.where(denominator > 0, jnp.linalg.norm(v1 - v2) / denominator, 0.0))


def numeric_grads(net: Network, params, X, Y, epsilon: float = 1e-7, chunk_size: int = 256):
    """Centred finite differences of J for every parameter; same tree as ``params``."""
    theta, unravel = ravel_pytree(params)

    @jax.jit
    def two_sided(i):
        e = jnp.zeros_like(theta).at[i].set(epsilon)
        plus = network.cost(net, unravel(theta + e), X, Y)
        minus = network.cost(net, unravel(theta - e), X, Y)
        return (plus - minus) / (2 * epsilon)

    indices = jnp.arange(theta.size)
    return unravel(jax.lax.map(two_sided, indices, batch_size=min(chunk_size, theta.size)))


def gradcheck(
    net: Network,
    params,
    X,
    Y,
    *,
    epsilon: float = 1e-7,
    threshold: float = COURSE_THRESHOLD,
    manual_grads: Callable | None = None,
) -> GradcheckReport:
    """Compare manual, autodiff and numeric gradients of J pairwise, in float64.

    Args:
      net, params, X, Y: as for ``jn.cost``.
      epsilon: the finite-difference step (the course's 1e-7).
      threshold: the largest relative difference that passes (the course's 2e-7).
      manual_grads: ``(net, params, X, Y) -> grads``, the backward pass under test; by
        default jaxnet's hand-derived backprop. Pass your own to check it.

    Returns:
      A :class:`GradcheckReport`; ``passed`` when all three differences are below ``threshold``.
    """
    check_network(net)
    check_params(net, params)
    manual_grads = manual_grads or (
        lambda n, p, x, y: compiled_grads(n, p, x, y, backprop="manual")
    )
    with jax.enable_x64(True):
        params64 = jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), params)
        X64 = as_inputs(net, X, jnp.float64)
        Y64 = as_labels(net, Y, X64.shape[0], jnp.float64)
        manual = manual_grads(net, params64, X64, Y64)
        autodiff = compiled_grads(net, params64, X64, Y64, backprop="autodiff")
        numeric = numeric_grads(net, params64, X64, Y64, epsilon)
        diffs = (
            relative_difference(manual, autodiff),
            relative_difference(manual, numeric),
            relative_difference(autodiff, numeric),
        )
    return GradcheckReport(*diffs, threshold=threshold, passed=max(diffs) < threshold)
