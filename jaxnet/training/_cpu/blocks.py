"""Blocks of models: K models of a narrow network trained a block at a time, each block one ``vmap``.

Run examples-last (:mod:`.layout`), one block's widest activation, ``block * n * rows``
values, is kept within :data:`BLOCK_BYTES` (a power of two): XLA:CPU then streams each
step's arrays through the cache instead of memory. The blocks run one after the other (a
``lax.map``); K is padded to whole blocks with copies of model 0 that are dropped from the
results, so each model trains exactly as it would in one ``vmap`` of all K.

:data:`BLOCK_BYTES` is 1 MiB, not a core's cache: XLA:CPU splits an elementwise kernel
over two threads only from 512 KiB of memory traffic (its cost model for memory-bound
kernels), so a block must be that large for a step to use two cores; each thread's half
then stays within its core's L2 cache (1 MiB or more on current x86 cores). Smaller
blocks ran on one core (2026-12: 1,024 planar models in blocks of 32 kept every kernel
whole; in blocks of 128 the step's six largest kernels are split).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["BLOCK_BYTES", "models_per_block", "vmap_in_blocks"]

BLOCK_BYTES = 1024 * 1024  # one block of models' widest activation (two threads' share)


def models_per_block(net, K: int, rows: int, dtype) -> int:
    """How many models one ``vmap`` trains at once (K: all of them).

    The block loop costs compile time (a slice and an update per state leaf), so K is
    blocked only from 4 blocks on.

    Args:
      net: the network (its layers' input and output shapes per example).
      K: the number of models.
      rows: the examples in one step (the batch, or every row for full batch).
      dtype: the activations' dtype.

    Returns:
      The block size, a power of two, or K.
    """
    widest = max(math.prod(s) for s in (*net.input_shapes, net.output_shape))
    block = max(1, BLOCK_BYTES // (widest * rows * np.dtype(dtype).itemsize))
    block = 2 ** (block.bit_length() - 1)
    return block if 4 * block <= K else K


def vmap_in_blocks(many, args, net, rows: int, dtype):
    """``many(*args)``, a vmapped function of trees with a leading axis K, a block at a time.

    Args:
      many: a ``jax.vmap``-ed function of the trees in ``args``.
      args: a tuple of trees whose leaves all have the leading axis K (states, keys).
      net, rows, dtype: as for :func:`models_per_block`.

    Returns:
      What ``many(*args)`` returns: leaves with the leading axis K.
    """
    K = jax.tree.leaves(args)[0].shape[0]
    block = models_per_block(net, K, rows, dtype)
    if block >= K:
        return many(*args)
    n_blocks = -(-K // block)

    def blocked(a):
        a = jnp.concatenate([a, jnp.repeat(a[:1], n_blocks * block - K, axis=0)])
        return a.reshape(n_blocks, block, *a.shape[1:])

    out = jax.lax.map(lambda b: many(*b), jax.tree.map(blocked, args))
    return jax.tree.map(lambda a: a.reshape(n_blocks * block, *a.shape[2:])[:K], out)
