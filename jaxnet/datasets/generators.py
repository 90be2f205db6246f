"""The course's toy data sets, pure functions of a `jax.random` key: flower, spiral, parity, housing.

With a concrete key the data is computed by NumPy on the host and placed on the device
(nothing is compiled: a first result should not wait for one-off XLA programs); under
`jax.jit`/`jax.vmap` the same formulas run on `jax.numpy`. Both draw from Threefry-2x32
keyed by the key (`jaxnet.datasets._random`), so a key gives the same data either way.
"""

import math

import numpy as np

from jaxnet.datasets import _random
from jaxnet.validation import check_int, check_key, check_real

__all__ = ["housing_prices", "planar_flower", "spiral", "xor_parity"]

_F32 = np.float32
_MAX_BITS = 20


def planar_flower(key, m: int = 400, petals: float = 4.0, noise: float = 0.2):
    """The course's planar "flower" (week 3): two interleaved classes of m/2 points each.

    For class j in {0, 1}: `t = linspace(3.12 j, 3.12 (j+1), m/2) + noise * N(0, 1)`,
    `r = petals * sin(4 t) + noise * N(0, 1)`, point `(r sin t, r cos t)`, label j.
    `petals` is the course's `a`, the maximum ray (length) of a petal. Rows are in the
    course's order: the m/2 points of class 0, then those of class 1. The normal draws
    are Box-Muller from Threefry bits (streams 0 for t, 1 for r). Works under `jax.vmap`
    over `key`, with the same values as a call per key.

    Args:
      key: a `jax.random` key.
      m: number of examples, even, >= 2.
      petals: maximum petal length, > 0.
      noise: standard deviation of the angle and radius noise, >= 0.

    Returns:
      X: (m, 2) float32 jax.Array; y: (m,) int32 jax.Array in {0, 1}.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.planar_flower(jax.random.key(0))
      >>> X.shape, X.dtype, y.shape, y.dtype
      ((400, 2), dtype('float32'), (400,), dtype('int32'))
      >>> y[:3].tolist(), y[-3:].tolist()
      ([0, 0, 0], [1, 1, 1])
    """
    check_key(key)
    m = check_int(m, "m", 2)
    if m % 2:
        raise ValueError(f"m must be even (m/2 points per class), got m={m}")
    petals = check_real(petals, "petals", 0.0, strict=True)
    noise = check_real(noise, "noise", 0.0)
    xp = _random.namespace(key)
    words = _random.key_words(key, xp)
    n = m // 2
    base = np.concatenate([np.linspace(3.12 * j, 3.12 * (j + 1), n) for j in (0, 1)]).astype(_F32)
    t = base + noise * _random.normal(xp, words, 0, m)
    r = petals * xp.sin(4.0 * t) + noise * _random.normal(xp, words, 1, m)
    X = xp.stack([r * xp.sin(t), r * xp.cos(t)], axis=1)
    return _random.placed(X, np.repeat(np.arange(2, dtype=np.int32), n))


def spiral(key, m: int = 300, classes: int = 3, noise: float = 0.2):
    """Interleaved spiral arms, one per class (the CS231n spiral, any number of classes).

    Class c gets `m // classes` points (the first `m % classes` classes one more). Its
    point i of N has radius `r = i / (N - 1)` and angle
    `t = 2 pi c / classes + 4 r + noise * N(0, 1)`; the point is `(r sin t, r cos t)`.
    Rows are grouped by class. Works under `jax.vmap` over `key`.

    Args:
      key: a `jax.random` key.
      m: number of examples, >= 2 and >= classes.
      classes: number of arms, >= 2.
      noise: standard deviation of the angle noise (radians), >= 0.

    Returns:
      X: (m, 2) float32 jax.Array; y: (m,) int32 jax.Array in {0, ..., classes - 1}.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.spiral(jax.random.key(0), m=7, classes=3)
      >>> X.shape, X.dtype, y.tolist()
      ((7, 2), dtype('float32'), [0, 0, 0, 1, 1, 2, 2])
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
    xp = _random.namespace(key)
    t = offset + 4.0 * radius + noise * _random.normal(xp, _random.key_words(key, xp), 0, m)
    return _random.placed(xp.stack([radius * xp.sin(t), radius * xp.cos(t)], axis=1), labels)


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

    Example:
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.xor_parity(2)
      >>> X.tolist(), y.tolist()
      ([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], [0, 1, 1, 0])
    """
    n_bits = check_int(n_bits, "n_bits", 1)
    if n_bits > _MAX_BITS:
        raise ValueError(f"n_bits must be <= {_MAX_BITS} (2**n_bits rows), got {n_bits}")
    rows = np.arange(2**n_bits, dtype=np.int64)
    shifts = np.arange(n_bits - 1, -1, -1, dtype=np.int64)
    bits = (rows[:, None] >> shifts[None, :]) & 1
    return _random.placed(bits.astype(_F32), (bits.sum(axis=1) % 2).astype(np.int32))


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

    Works under `jax.vmap` over `key`.

    Args:
      key: a `jax.random` key.
      m: number of houses, >= 2.
      noise: standard deviation of the multiplicative log-price noise, >= 0.

    Returns:
      X: (m, 4) float32 jax.Array; y: (m,) float32 jax.Array of prices (use
      `y[:, None]` for an (m, 1) target).

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.housing_prices(jax.random.key(0), m=5)
      >>> X.shape, y.shape, y.dtype
      ((5, 4), (5,), dtype('float32'))
      >>> bool((y > 0).all()), bool(((X[:, 1] >= 1) & (X[:, 1] <= 6)).all())
      (True, True)
    """
    check_key(key)
    m = check_int(m, "m", 2)
    noise = check_real(noise, "noise", 0.0)
    xp = _random.namespace(key)
    words = _random.key_words(key, xp)
    size = xp.clip(xp.exp(math.log(1500.0) + 0.4 * _random.normal(xp, words, 0, m)), 400.0, 6000.0)
    bedrooms = xp.clip(xp.round(size / 600.0 + 0.6 * _random.normal(xp, words, 1, m)), 1.0, 6.0)
    wealth = _random.uniform(xp, words, 2, m)
    walk = 100.0 * _random.uniform(xp, words, 3, m)
    value = 50.0 + 0.15 * size + 10.0 * bedrooms + 0.5 * walk
    price = value * (0.5 + wealth) * xp.exp(noise * _random.normal(xp, words, 4, m))
    return _random.placed(xp.stack([size, bedrooms, wealth, walk], axis=1), price)
