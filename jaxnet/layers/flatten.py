"""Flatten: images ``(m, n_H, n_W, n_C)`` to rows ``(m, n_H n_W n_C)`` for the dense layers, and back.

Row-major (C order), as NumPy's and Keras's ``reshape``: the course's ``X.reshape(m, -1)``.
The backward is the inverse reshape of ``dA``.
"""

from __future__ import annotations

import dataclasses
import math

import jax

from jaxnet.layers.base import Layer

__all__ = [
    "Flatten",
    "FlattenCache",
    "flatten_backward",
    "flatten_forward",
]


@dataclasses.dataclass(frozen=True)
class FlattenCache:
    """The input shape (static).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import flatten_forward
      >>> flatten_forward(jnp.zeros((2, 3, 3, 4)))[1]
      FlattenCache(shape=(2, 3, 3, 4))
    """

    shape: tuple[int, ...]


jax.tree_util.register_dataclass(FlattenCache, data_fields=(), meta_fields=("shape",))


def flatten_forward(A_prev) -> tuple[jax.Array, FlattenCache]:
    """``(A_prev.reshape(m, -1), cache)``.

    Args:
      A_prev: ``(m, n_H, n_W, n_C)`` (any ``(m, ...)``).

    Returns:
      ``(A (m, n_H n_W n_C), cache)``; the cache holds the input shape.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import flatten_forward
      >>> A, cache = flatten_forward(jnp.zeros((2, 4, 4, 3)))
      >>> A.shape, cache.shape
      ((2, 48), (2, 4, 4, 3))
    """
    return A_prev.reshape(A_prev.shape[0], -1), FlattenCache(tuple(A_prev.shape))


def flatten_backward(dA, cache: FlattenCache):
    """``dA (m, n_H n_W n_C)`` back to the input shape.

    Args:
      dA: ``(m, n_H n_W n_C)``.
      cache: from :func:`flatten_forward`.

    Returns:
      ``dA_prev (m, n_H, n_W, n_C)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import flatten_backward, flatten_forward
      >>> A, cache = flatten_forward(jnp.zeros((2, 4, 4, 3)))
      >>> flatten_backward(jnp.ones((2, 48)), cache).shape
      (2, 4, 4, 3)
    """
    return dA.reshape(cache.shape)


class Flatten(Layer):
    """Flattens each example to one row. No parameters.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import Flatten
      >>> Flatten().output_shape((4, 4, 3))
      (48,)
      >>> Flatten().forward({}, jnp.zeros((2, 4, 4, 3)))[0].shape
      (2, 48)
    """

    kind = "flatten"

    def output_shape(self, input_shape) -> tuple[int]:
        """``(prod(input_shape),)``."""
        return (math.prod(input_shape),)

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, cache)`` from :func:`flatten_forward`."""
        del params, key, train, weights
        if A_prev.ndim < 2:
            raise ValueError(f"Flatten expects A_prev of shape (m, ...); got shape {A_prev.shape}")
        return flatten_forward(A_prev)

    def backward(self, params, cache, dA):
        """``(dA_prev, {})`` from :func:`flatten_backward`."""
        del params
        return flatten_backward(dA, cache), {}
