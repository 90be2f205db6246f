"""Inverted dropout (course 2, week 1): ``dropout_forward`` and its hand-derived ``dropout_backward``.

``rate`` is the fraction of units dropped (Keras, Flax, PyTorch); the course writes
``keep_prob = 1 - rate``. In training, each unit is kept with probability ``keep_prob``
and the kept ones are scaled by ``1 / keep_prob`` so that ``E[A_out] = A`` and nothing
changes at inference, where dropout is the identity::

    D = (rand(A.shape) < keep_prob)        # the mask, drawn from an explicit key
    A_out = A * D / keep_prob
    dA = dA_out * D / keep_prob            # backward reuses the mask from the cache

Same key, same mask, bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_rate

__all__ = [
    "Dropout",
    "DropoutCache",
    "dropout_backward",
    "dropout_forward",
]


class DropoutCache(NamedTuple):
    """The mask ``D`` (bool, the shape of ``A``) and ``keep_prob = 1 - rate`` (a scalar of ``A``'s dtype).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import dropout_forward
      >>> A_out, cache = dropout_forward(jnp.ones((2, 3)), 0.2, jax.random.key(0))
      >>> cache.D.shape, cache.D.dtype, round(float(cache.keep_prob), 4)
      ((2, 3), dtype('bool'), 0.8)
    """

    D: jax.Array
    keep_prob: jax.Array


def dropout_forward(A, rate, key) -> tuple[jax.Array, DropoutCache]:
    """``A * D / (1 - rate)`` with ``D ~ Bernoulli(1 - rate)`` drawn from ``key``; returns ``(A_out, cache)``.

    ``rate`` may be a traced scalar (a vmapped sweep of rates), so it is not validated here;
    :class:`Dropout` checks it once.

    Args:
      A: the activations, any shape, e.g. ``(m, n[l])``.
      rate: the fraction of units dropped, in ``[0, 1)`` (``keep_prob = 1 - rate``).
      key: a ``jax.random`` key for the mask.

    Returns:
      ``(A_out, cache)``: ``A_out`` the shape of ``A``, and :class:`~jaxnet.layers.dropout.DropoutCache` ``(D, keep_prob)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import dropout_forward
      >>> A_out, cache = dropout_forward(jnp.ones((4, 1000)), 0.5, jax.random.key(0))
      >>> A_out.shape, sorted(set(A_out.ravel().tolist()))  # dropped, or scaled by 1 / keep_prob
      ((4, 1000), [0.0, 2.0])
    """
    keep_prob = jnp.asarray(1 - rate, A.dtype)
    D = jax.random.bernoulli(key, keep_prob, A.shape)
    return jnp.where(D, A / keep_prob, 0), DropoutCache(D, keep_prob)


def dropout_backward(dA, cache: DropoutCache):
    """``dA_prev = dA * D / keep_prob``: the same mask, the same scale.

    Args:
      dA: the gradient of the dropout's output, the shape of its input.
      cache: ``(D, keep_prob)`` from :func:`dropout_forward`.

    Returns:
      ``dA_prev``, the shape of ``dA``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import dropout_backward, dropout_forward
      >>> A_out, cache = dropout_forward(jnp.ones((2, 8)), 0.25, jax.random.key(1))
      >>> dA_prev = dropout_backward(jnp.ones((2, 8)), cache)
      >>> bool((dA_prev == A_out).all())  # the same mask and scale as the forward
      True
    """
    D, keep_prob = cache
    return jnp.where(D, dA / keep_prob, 0)


class Dropout(Layer):
    """Inverted dropout of a fraction ``rate`` in [0, 1) of the units (``keep_prob = 1 - rate``).


    Identity when ``train=False`` or ``rate == 0``; in training it needs ``key``.
    No parameters.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import Dropout
      >>> layer = Dropout(0.5)
      >>> A, cache = layer.forward({}, jnp.ones((2, 4)), key=jax.random.key(0), train=True)
      >>> A.shape, bool((layer.forward({}, jnp.ones((2, 4)))[0] == 1).all())  # inference: identity
      ((2, 4), True)
    """

    kind = "dropout"
    rate: float = field(default=0.5, check=check_rate)

    @property
    def needs_key(self) -> bool:  # type: ignore[override]
        """Whether a training forward draws a mask (``rate > 0``)."""
        return self.rate > 0

    def output_shape(self, input_shape) -> tuple:
        """The input shape."""
        return tuple(input_shape)

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, cache)``: :func:`dropout_forward` in training, else ``(A_prev, None)``."""
        del params, weights
        if not train or self.rate == 0:
            return A_prev, None
        if key is None:
            raise ValueError(
                f"Dropout(rate={self.rate}) in training needs a random key for its mask; got "
                "key=None (pass key=jax.random.key(seed), or train=False for inference)"
            )
        return dropout_forward(A_prev, self.rate, key)

    def backward(self, params, cache, dA):
        """``(dA_prev, {})``: :func:`dropout_backward`, or ``dA`` itself after an identity forward."""
        del params
        return (dA if cache is None else dropout_backward(dA, cache)), {}
