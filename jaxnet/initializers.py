"""Weight initialisers ``W[l] = std * randn(n[l], n[l-1])``; every bias starts at zero.

::

    | scheme   | W[l]                                   | course use                              |
    |----------|----------------------------------------|-----------------------------------------|
    | zeros    | 0                                      | logistic regression (cannot break symmetry in a hidden layer) |
    | normal   | randn * scale (default 0.01)           | the shallow planar network              |
    | he       | randn * sqrt(2 / n[l-1])               | ReLU networks (He et al., 2015)         |
    | xavier   | randn * sqrt(2 / (n[l-1] + n[l]))      | Glorot & Bengio (2010), tanh networks   |
    | lecun    | randn / sqrt(n[l-1])                   | the deep-network application (cats)     |
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

Initializer = Callable[..., jax.Array]  # (key, shape, dtype) -> array of that shape


class Normals:
    """Pre-drawn standard normals that stand in for a key: ``jn.init`` draws ONE vector for
    every layer and hands each layer's ``init`` its slice, so a network compiles one
    random-number kernel whatever its depth (a kernel per layer compiles several times
    slower). Each :func:`standard_normal` call takes the next values.

    Without ``values`` it only counts what the draws would take (and gives zeros):
    ``jn.init`` runs each layer's ``init`` that way, under ``jax.eval_shape``, to size
    the one draw.
    """

    def __init__(self, values: jax.Array | None = None):
        self.values, self.used = values, 0

    def take(self, shape, dtype) -> jax.Array:
        """The next ``prod(shape)`` values as a ``shape`` array of ``dtype`` (zeros when counting)."""
        n, start = math.prod(shape), self.used
        self.used += n
        if self.values is None:
            return jnp.zeros(shape, dtype)
        if self.used > self.values.shape[0]:
            raise ValueError(f"drew {self.used} normals from a slice of {self.values.shape[0]}")
        return self.values[start : self.used].reshape(shape).astype(dtype)


def standard_normal(key, shape, dtype=jnp.float32) -> jax.Array:
    """``randn(*shape)`` from a ``jax.random`` key, or the next values of a :class:`Normals`."""
    if isinstance(key, Normals):
        return key.take(tuple(shape), dtype)
    return jax.random.normal(key, shape, dtype)


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)``: ``(n[l-1], n[l])`` for a dense ``W (n[l], n[l-1])``; for a conv
    kernel ``(f, f, n_C_prev, n_C)`` the receptive field counts: ``(f f n_C_prev, f f n_C)``."""
    if len(shape) == 2:
        n_out, n_in = shape
        return n_in, n_out
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def zeros(key, shape, dtype=jnp.float32):
    """All-zero weights of ``shape``; the key is unused."""
    del key
    return jnp.zeros(shape, dtype)


def _scaled(std_of: Callable[[int, int], float]) -> Initializer:
    """``randn(shape) * std_of(fan_in, fan_out)`` (see :func:`fans`)."""

    def init(key, shape, dtype=jnp.float32):
        std = std_of(*fans(shape))
        return standard_normal(key, shape, dtype) * jnp.asarray(std, dtype)

    return init


def normal(scale: float = 0.01) -> Initializer:
    """``randn * scale``: the course's small random initialisation."""
    return _scaled(lambda n_in, n_out: scale)


#: ``randn * sqrt(2 / n[l-1])`` (He et al., 2015), for ReLU networks.
he = _scaled(lambda n_in, n_out: math.sqrt(2.0 / n_in))
#: ``randn * sqrt(2 / (n[l-1] + n[l]))`` (Glorot & Bengio, 2010), for tanh networks.
xavier = _scaled(lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)))
#: ``randn / sqrt(n[l-1])``, the deep-network application (cats).
lecun = _scaled(lambda n_in, n_out: math.sqrt(1.0 / n_in))

NAMES = ("zeros", "normal", "he", "xavier", "lecun")


def get(scheme: str, *, scale: float = 0.01) -> Initializer:
    """Look up a scheme by name (one of ``NAMES``; ``glorot`` is an alias of ``xavier``).

    Every initializer is ``(key, shape, dtype) -> W``, where ``key`` is a ``jax.random``
    key or a :class:`Normals`.
    """
    name = str(scheme).lower()
    if name == "normal":
        return normal(scale)
    schemes = {"zeros": zeros, "he": he, "xavier": xavier, "glorot": xavier, "lecun": lecun}
    if name not in schemes:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of: {', '.join(NAMES)}")
    return schemes[name]
