"""The dense layer, batch-first: linear and dense (linear -> activation) building blocks.

Shapes (``m`` examples along axis 0): ``A_prev`` is ``(m, n[l-1])``, ``W`` is
``(n[l], n[l-1])``, ``b`` is ``(n[l],)``, ``Z`` and ``A`` are ``(m, n[l])``.

Forward:  ``Z = A_prev W^T + b``  (one example: ``z = W a_prev + b``),  ``A = g(Z)``.
Backward: ``dZ = dA * g'(Z)``, ``dW = dZ^T A_prev / m``, ``db = mean(dZ, axis=0)``,
``dA_prev = dZ W``. The caches are the course's: ``linear_cache = (A_prev, W, b)`` and
``cache = (linear_cache, Z)``.

A layer is also the triple of pure functions ``init / forward / backward`` that
:class:`Dense` bundles; a network is their composition.
"""

from __future__ import annotations

import functools
import operator
from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnet import activations, initializers

LinearCache = tuple[jax.Array, jax.Array, jax.Array]
DenseCache = tuple[LinearCache, jax.Array]


SMALL_LAYER = 32  # n[l] * n[l-1] up to which a layer's products are multiply-adds


def matmul(X, Y, small: bool):
    """``X @ Y`` for ``X (m, k)`` (or one example ``(k,)``), ``Y (k, n)``; with ``small``, as ``k``
    broadcast multiply-adds.

    ``sum_i X[:, i] Y[i, :]`` is one fused elementwise loop where a matrix product is a
    library call. For a tiny layer (``n k <= SMALL_LAYER``, e.g. the planar network's
    2 -> 4 -> 1) XLA:CPU ran it 1.5-3x faster, alone and vmapped over 64 models; from
    ``n k = 64`` the library wins.
    """
    if not small:
        return X @ Y
    lead = (1,) * (X.ndim - 1)  # explicit broadcasting: no rank promotion

    def term(i):
        return X[..., i : i + 1] * Y[i].reshape(*lead, -1)

    return functools.reduce(operator.add, (term(i) for i in range(Y.shape[0])))


def is_small(W) -> bool:
    """Whether the layer of ``W (n[l], n[l-1])`` is tiny enough for :func:`matmul`'s loop."""
    return W.shape[0] * W.shape[1] <= SMALL_LAYER


def linear_forward(A_prev, W, b) -> tuple[jax.Array, LinearCache]:
    """``Z = A_prev W^T + b``; returns ``(Z (m, n[l]), cache = (A_prev, W, b))``."""
    Z = matmul(A_prev, W.T, is_small(W))
    return Z + jnp.broadcast_to(b, Z.shape), (A_prev, W, b)  # explicit: no rank promotion


def linear_backward(dZ, cache: LinearCache):
    """Gradients of the mean cost through ``Z = A_prev W^T + b``.

    Args:
      dZ: ``(m, n[l])``, the derivative of each example's loss with respect to ``Z``.
      cache: ``(A_prev, W, b)`` from :func:`linear_forward`.

    Returns:
      ``(dA_prev (m, n[l-1]), dW (n[l], n[l-1]), db (n[l],))`` with
      ``dW = dZ^T A_prev / m``, ``db = mean(dZ, axis=0)``, ``dA_prev = dZ W``.
    """
    A_prev, W, _ = cache
    m = A_prev.shape[0]
    return matmul(dZ, W, is_small(W)), dZ.T @ A_prev / m, dZ.mean(axis=0)


def dense_forward(A_prev, W, b, activation="relu") -> tuple[jax.Array, DenseCache]:
    """``A = g(A_prev W^T + b)``; returns ``(A (m, n[l]), cache = (linear_cache, Z))``."""
    Z, linear_cache = linear_forward(A_prev, W, b)
    return activations.get(activation).fn(Z), (linear_cache, Z)


def dense_backward(dA, cache: DenseCache, activation="relu"):
    """``dZ = dA * g'(Z)`` (a Jacobian-vector product for softmax), then :func:`linear_backward`.

    Returns ``(dA_prev, dW, db)`` with the shapes of ``(A_prev, W, b)``.
    """
    linear_cache, Z = cache
    return linear_backward(activations.get(activation).vjp(Z, dA), linear_cache)


class Dense(NamedTuple):
    """A fully connected layer of ``units`` neurons: the ``init / forward / backward`` triple.

    Params are ``{"W": (units, n_in), "b": (units,)}``.
    """

    units: int
    activation: str = "relu"

    def init(self, key, n_in: int, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """``{"W": init(key, (units, n_in)), "b": zeros(units)}``."""
        W = initializers.get(scheme, scale=scale)(key, (self.units, n_in), dtype)
        return {"W": W, "b": jnp.zeros((self.units,), dtype)}

    def forward(self, params: dict, A_prev) -> tuple[jax.Array, DenseCache]:
        """``(A, cache)`` for ``A_prev (m, n_in)``."""
        return dense_forward(A_prev, params["W"], params["b"], self.activation)

    def backward(self, params: dict, cache: DenseCache, dA) -> tuple[jax.Array, dict]:
        """``(dA_prev, {"W": dW, "b": db})`` given ``dA (m, units)``."""
        del params  # the cache holds W
        dA_prev, dW, db = dense_backward(dA, cache, self.activation)
        return dA_prev, {"W": dW, "b": db}
