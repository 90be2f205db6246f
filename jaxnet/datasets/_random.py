"""Counter-based random numbers for the generators, the same in NumPy and in jax.numpy.

A generator called with a concrete key computes its data with NumPy on the host and
compiles nothing (a one-off XLA program per generator cost a new process seconds); under
`jit`/`vmap` the key is traced and the same code runs on `jax.numpy`. Both use
Threefry-2x32 (Salmon et al. 2011, 20 rounds, the block cipher behind `jax.random`) keyed
by the key's two 32-bit words, so a key gives the same numbers either way (to float32
rounding of `log`, `sqrt`, `cos`). Stream `s`, draw `i` encrypts the counter pair `(s, i)`.
"""

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = 0x1BD11BDA  # Threefry's key-schedule constant
_TWO_TO_MINUS_24 = 2.0**-24


def namespace(key):
    """`jax.numpy` when `key` is traced (inside jit/vmap), else `numpy` (host, no compile)."""
    return jnp if isinstance(key, jax.core.Tracer) else np


def placed(*arrays):
    """Host (NumPy) arrays put on the default device without a compile; jax values unchanged.

    Returns one array for one argument, else a tuple.
    """
    out = tuple(a if isinstance(a, jax.Array) else jax.device_put(a) for a in arrays)
    return out if len(arrays) > 1 else out[0]


def key_words(key, xp):
    """The two uint32 words of a threefry key (typed or legacy `(2,)` uint32), shape (1,) each.

    Keys of other implementations (more words) are folded to two words with Threefry itself.
    """
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    words = xp.asarray(key).reshape(-1).astype(xp.uint32)
    k0, k1 = words[0:1], words[1:2]
    for i in range(2, words.shape[0]):
        k0, k1 = threefry2x32(xp, (k0, k1), (words[i : i + 1], xp.full((1,), i, xp.uint32)))
    return k0, k1


def threefry2x32(xp, key, counter):
    """Threefry-2x32 of the counter pairs `counter = (c0, c1)` (uint32 arrays) under `key`.

    Returns the two uint32 output words, shaped like the counters broadcast together.
    """
    k0, k1 = key
    ks = (k0, k1, k0 ^ k1 ^ xp.uint32(_PARITY))
    x0, x1 = counter[0] + ks[0], counter[1] + ks[1]
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            x0 = x0 + x1
            x1 = (x1 << xp.uint32(r)) | (x1 >> xp.uint32(32 - r))
            x1 = x0 ^ x1
        x0 = x0 + ks[(i + 1) % 3]
        x1 = x1 + ks[(i + 2) % 3] + xp.uint32(i + 1)
    return x0, x1


def seed_key(seed: int) -> np.ndarray:
    """The key data of ``jax.random.key(seed)`` for ``0 <= seed < 2**32``: ``[0, seed]``
    (Threefry's seeding keeps the high and low 32 bits), as a NumPy uint32 ``(2,)`` array."""
    return np.array([seed >> 32, seed & 0xFFFFFFFF], np.uint32)


def split_seed(seed: int, num: int = 2) -> np.ndarray | None:
    """``jax.random.key_data(jax.random.split(jax.random.key(seed), num))`` computed with NumPy:
    JAX's (partitionable) split encrypts the counters ``(0, i)`` under the key. ``(num, 2)``
    uint32, or None where JAX splits another way (``jax_threefry_partitionable`` off)."""
    if not jax.config.jax_threefry_partitionable:
        return None
    words = seed_key(seed)
    counters = (np.zeros(num, np.uint32), np.arange(num, dtype=np.uint32))
    b0, b1 = threefry2x32(np, (words[0:1], words[1:2]), counters)
    return np.stack([b0, b1], axis=1)


def bits(xp, key, stream: int, n: int):
    """Two arrays of n uint32 random words: Threefry of the counters `(stream, 0..n-1)`."""
    c0 = xp.full((n,), stream, xp.uint32)
    return threefry2x32(xp, key, (c0, xp.arange(n, dtype=xp.uint32)))


def uniform(xp, key, stream: int, n: int):
    """n float32 draws from U[0, 1): the top 24 bits of the first word, times 2**-24."""
    b0, _ = bits(xp, key, stream, n)
    return (b0 >> xp.uint32(8)).astype(xp.float32) * xp.float32(_TWO_TO_MINUS_24)


def normal(xp, key, stream: int, n: int):
    """n float32 draws from N(0, 1) by Box-Muller: `sqrt(-2 ln u1) cos(2 pi u2)`.

    u1 in (0, 1] and u2 in [0, 1) come from the top 24 bits of the two words.
    """
    b0, b1 = bits(xp, key, stream, n)
    scale = xp.float32(_TWO_TO_MINUS_24)
    u1 = ((b0 >> xp.uint32(8)) + xp.uint32(1)).astype(xp.float32) * scale
    u2 = (b1 >> xp.uint32(8)).astype(xp.float32) * scale
    radius = xp.sqrt(xp.float32(-2.0) * xp.log(u1))
    return radius * xp.cos(xp.float32(2 * np.pi) * u2)


def permutation(key, stream: int, m: int) -> np.ndarray:
    """A uniformly random order of 0..m-1 (NumPy int64, on the host): sort by 64 random bits."""
    b0, b1 = bits(np, key, stream, m)
    return np.lexsort((np.arange(m), b1, b0))
