"""Weight initialisers ``W[l] = scale * randn(n[l], n[l-1])``; every bias starts at zero.

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

Initializer = Callable[[jax.Array, tuple[int, int], jnp.dtype], jax.Array]


def zeros(key, shape, dtype=jnp.float32):
    """All-zero weights ``shape = (n[l], n[l-1])``; the key is unused."""
    del key
    return jnp.zeros(shape, dtype)


def _scaled(std_of: Callable[[int, int], float]) -> Initializer:
    """``randn(shape) * std_of(n[l-1], n[l])``."""

    def init(key, shape, dtype=jnp.float32):
        n_out, n_in = shape
        return jax.random.normal(key, shape, dtype) * jnp.asarray(std_of(n_in, n_out), dtype)

    init.std_of = std_of
    return init


def normal(scale: float = 0.01) -> Initializer:
    """``randn * scale``: the course's small random initialisation."""
    return _scaled(lambda n_in, n_out: scale)


he = _scaled(lambda n_in, n_out: math.sqrt(2.0 / n_in))
xavier = _scaled(lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out)))
lecun = _scaled(lambda n_in, n_out: math.sqrt(1.0 / n_in))

NAMES = ("zeros", "normal", "he", "xavier", "lecun")


def get(scheme: str, *, scale: float = 0.01) -> Initializer:
    """Look up a scheme by name (one of ``NAMES``; ``glorot`` is an alias of ``xavier``)."""
    name = str(scheme).lower()
    if name == "normal":
        return normal(scale)
    schemes = {"zeros": zeros, "he": he, "xavier": xavier, "glorot": xavier, "lecun": lecun}
    if name not in schemes:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of: {', '.join(NAMES)}")
    return schemes[name]
