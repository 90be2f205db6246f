"""The course's toy data sets, generated with `jax.random`: flower, spiral, parity, housing."""

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.datasets._validate import check_int, check_key, check_real

_F32 = jnp.float32
_MAX_BITS = 20


def planar_flower(key, m: int = 400, petals: float = 4.0, noise: float = 0.2):
    """The course's planar "flower" (week 3): two interleaved classes of m/2 points each.

    For class j in {0, 1}: `t = linspace(3.12 j, 3.12 (j+1), m/2) + noise * N(0, 1)`,
    `r = petals * sin(4 t) + noise * N(0, 1)`, point `(r sin t, r cos t)`, label j.
    `petals` is the course's `a`, the maximum ray (length) of a petal. Rows are in the
    course's order: the m/2 points of class 0, then those of class 1. Works under
    `jax.vmap` over `key`.

    Args:
      key: a `jax.random` key.
      m: number of examples, even, >= 2.
      petals: maximum petal length, > 0.
      noise: standard deviation of the angle and radius noise, >= 0.

    Returns:
      X: (m, 2) float32 jax.Array; y: (m,) int32 jax.Array in {0, 1}.

    >>> X, y = planar_flower(jax.random.key(0))
    >>> X.shape, X.dtype, y.shape, y.dtype
    ((400, 2), dtype('float32'), (400,), dtype('int32'))
    """
    check_key(key)
    m = check_int(m, "m", 2)
    if m % 2:
        raise ValueError(f"m must be even (m/2 points per class), got m={m}")
    petals = check_real(petals, "petals", 0.0, strict=True)
    noise = check_real(noise, "noise", 0.0)
    return _flower(key, petals, noise, m=m)


@partial(jax.jit, static_argnames="m")
def _flower(key, petals, noise, *, m):
    n = m // 2
    k_t, k_r = jax.random.split(key)
    base = jnp.concatenate([jnp.linspace(3.12 * j, 3.12 * (j + 1), n, dtype=_F32) for j in (0, 1)])
    t = base + noise * jax.random.normal(k_t, (m,), _F32)
    r = petals * jnp.sin(4.0 * t) + noise * jax.random.normal(k_r, (m,), _F32)
    X = jnp.stack([r * jnp.sin(t), r * jnp.cos(t)], axis=1)
    return X, jnp.repeat(jnp.arange(2, dtype=jnp.int32), n)


def spiral(key, m: int = 300, classes: int = 3, noise: float = 0.2):
    """Interleaved spiral arms, one per class (the CS231n spiral, any number of classes).

    Class c gets `m // classes` points (the first `m % classes` classes one more). Its
    point i of N has radius `r = i / (N - 1)` and angle
    `t = 2 pi c / classes + 4 r + noise * N(0, 1)`; the point is `(r sin t, r cos t)`.
    Rows are grouped by class.

    Args:
      key: a `jax.random` key.
      m: number of examples, >= 2 and >= classes.
      classes: number of arms, >= 2.
      noise: standard deviation of the angle noise (radians), >= 0.

    Returns:
      X: (m, 2) float32 jax.Array; y: (m,) int32 jax.Array in {0, ..., classes - 1}.
    """
    check_key(key)
    m = check_int(m, "m", 2)
    classes = check_int(classes, "classes", 2)
    if m < classes:
        raise ValueError(f"m must be >= classes (one point per arm), got m={m}, classes={classes}")
    noise = check_real(noise, "noise", 0.0)
    counts = [m // classes + (c < m % classes) for c in range(classes)]
    labels = np.repeat(np.arange(classes, dtype=np.int32), counts)
    radius = np.concatenate([np.linspace(0.0, 1.0, n) for n in counts]).astype(np.float32)
    offset = (2 * np.pi / classes * labels).astype(np.float32)
    return _spiral(key, offset + 4.0 * radius, radius, noise), jnp.asarray(labels)


@jax.jit
def _spiral(key, angle, radius, noise):
    t = angle + noise * jax.random.normal(key, angle.shape, _F32)
    return jnp.stack([radius * jnp.sin(t), radius * jnp.cos(t)], axis=1)


def xor_parity(n_bits: int):
    """Every n-bit input and its parity: the course's "deep beats shallow" XOR circuit.

    A tree of XOR gates computes parity with depth O(log n); a one-hidden-layer network
    needs exponentially many units. Not random (no key): row i holds the bits of i,
    most significant bit first.

    Args:
      n_bits: number of input bits, 1 <= n_bits <= 20 (2**n_bits rows).

    Returns:
      X: (2**n_bits, n_bits) float32 jax.Array in {0, 1};
      y: (2**n_bits,) int32 jax.Array, 1 when the row has an odd number of ones.

    >>> X, y = xor_parity(2)
    >>> X.tolist(), y.tolist()
    ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    if n_bits > _MAX_BITS:
        raise ValueError(f"n_bits must be <= {_MAX_BITS} (2**n_bits rows), got {n_bits}")
    rows = np.arange(2**n_bits, dtype=np.int64)
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    bits = (rows[:, None] >> shifts[None, :]) & 1
    return jnp.asarray(bits, _F32), jnp.asarray(bits.sum(axis=1) % 2, jnp.int32)


def housing_prices(key, m: int = 1000, noise: float = 0.1):
    """The course's first example: predict a house price from its features.

    Features (columns of X, natural units), all independent draws except bedrooms:
      0 size in square feet: `exp(log 1500 + 0.4 N(0,1))`, clipped to [400, 6000];
      1 bedrooms: `round(size / 600 + 0.6 N(0,1))`, clipped to [1, 6];
      2 zip-code wealth index: uniform in [0, 1];
      3 walkability score: uniform in [0, 100].
    Target, in thousands of dollars (always > 0):
      `price = (50 + 0.15 size + 10 bedrooms + 0.5 walkability) * (0.5 + wealth)
      * exp(noise * N(0,1))`.

    Args:
      key: a `jax.random` key.
      m: number of houses, >= 2.
      noise: standard deviation of the multiplicative log-price noise, >= 0.

    Returns:
      X: (m, 4) float32 jax.Array; y: (m,) float32 jax.Array of prices (use
      `y[:, None]` for an (m, 1) target).
    """
    check_key(key)
    m = check_int(m, "m", 2)
    noise = check_real(noise, "noise", 0.0)
    return _housing(key, noise, m=m)


@partial(jax.jit, static_argnames="m")
def _housing(key, noise, *, m):
    k_size, k_bed, k_wealth, k_walk, k_price = jax.random.split(key, 5)
    normal = lambda k: jax.random.normal(k, (m,), _F32)  # noqa: E731
    size = jnp.clip(jnp.exp(math.log(1500.0) + 0.4 * normal(k_size)), 400.0, 6000.0)
    bedrooms = jnp.clip(jnp.round(size / 600.0 + 0.6 * normal(k_bed)), 1.0, 6.0)
    wealth = jax.random.uniform(k_wealth, (m,), _F32)
    walk = jax.random.uniform(k_walk, (m,), _F32, 0.0, 100.0)
    value = 50.0 + 0.15 * size + 10.0 * bedrooms + 0.5 * walk
    price = value * (0.5 + wealth) * jnp.exp(noise * normal(k_price))
    return jnp.stack([size, bedrooms, wealth, walk], axis=1), price
