"""The course's ResNet building blocks (course 4, week 2), batch-first NHWC: the identity block and the convolutional block.

Each is a :class:`jaxnet.layers.Residual` of the course's layers, with ``F1, F2, F3 = filters``::

    identity block (input n_C = F3):
      main:     Conv2D(F1, 1) -> BatchNorm -> ReLU -> Conv2D(F2, f, same) -> BatchNorm -> ReLU
                -> Conv2D(F3, 1) -> BatchNorm
      shortcut: the input                                    A = ReLU(main + shortcut)

    convolutional block (stride s):
      main:     Conv2D(F1, 1, strides=s) -> BatchNorm -> ReLU -> Conv2D(F2, f, same) -> BatchNorm
                -> ReLU -> Conv2D(F3, 1) -> BatchNorm
      shortcut: Conv2D(F3, 1, strides=s) -> BatchNorm        A = ReLU(main + shortcut)

and, like ``conv_forward`` / ``conv_backward``, each has a forward that returns its cache
and a backward that takes it: ``identity_block_forward(A_prev, params, f)`` ->
``(A, cache)``, ``identity_block_backward(dA, cache)`` -> ``(dA_prev, grads)``; the
backward is the block's hand-derived one (``dA_prev = dA_main_prev + dA_shortcut_prev``).
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

import jax

from jaxnet.layers.activation import Activation
from jaxnet.layers.batchnorm import BatchNorm
from jaxnet.layers.conv import Conv2D
from jaxnet.layers.residual import Residual
from jaxnet.validation import check_int

__all__ = [
    "BlockCache",
    "convolutional_block",
    "convolutional_block_backward",
    "convolutional_block_forward",
    "identity_block",
    "identity_block_backward",
    "identity_block_forward",
]


def _filters(filters) -> tuple[int, int, int]:
    if isinstance(filters, str | bytes) or not hasattr(filters, "__len__"):
        raise TypeError(
            f"filters must be a sequence of three ints (F1, F2, F3), got filters={filters!r:.80} "
            f"of type {type(filters).__name__}"
        )
    if len(filters) != 3:
        raise ValueError(f"filters must be three ints (F1, F2, F3), got filters={filters!r:.80}")
    return tuple(check_int(n, f"filters[{i}]", 1) for i, n in enumerate(filters))


def _main(f: int, filters, s: int) -> tuple:
    F1, F2, F3 = _filters(filters)
    f = check_int(f, "f", 1)
    return (
        Conv2D(F1, 1, strides=s), BatchNorm(), Activation("relu"),
        Conv2D(F2, f, padding="same"), BatchNorm(), Activation("relu"),
        Conv2D(F3, 1), BatchNorm(),
    )  # fmt: skip


def identity_block(f: int, filters) -> Residual:
    """The course's identity block: three convolutions (1x1, fxf same, 1x1) and the input added.

    Args:
      f: the middle convolution's window (``f x f``, "same" padding).
      filters: ``(F1, F2, F3)``, the three convolutions' filters; the input must have
        ``n_C = F3`` channels (the shortcut is the input itself).

    Returns:
      A :class:`~jaxnet.layers.Residual` (output shape = input shape).

    Example:
      >>> from jaxnet.layers import identity_block
      >>> block = identity_block(3, (4, 4, 6))
      >>> block.output_shape((5, 5, 6)), [s.kind for s in block.main][:3], block.shortcut
      ((5, 5, 6), ['conv2d', 'batch_norm', 'activation'], None)
    """
    return Residual(_main(f, filters, 1), None, "relu")


def convolutional_block(f: int, filters, s: int = 2) -> Residual:
    """The course's convolutional block: the identity block's main path with stride ``s``
    in its first 1x1 convolution, and a shortcut of a strided 1x1 convolution + batch norm.

    Args:
      f: the middle convolution's window.
      filters: ``(F1, F2, F3)``; the output has ``F3`` channels.
      s: the stride of the first convolution and of the shortcut's.

    Returns:
      A :class:`~jaxnet.layers.Residual`: ``(n_H, n_W, n_C)`` -> ``(floor((n_H - 1) / s) + 1, ..., F3)``.

    Example:
      >>> from jaxnet.layers import convolutional_block
      >>> block = convolutional_block(3, (4, 4, 8), s=2)
      >>> block.output_shape((6, 6, 3)), block.shortcut
      ((3, 3, 8), (Conv2D(filters=8, kernel_size=1, strides=2, padding='valid', activation=None), BatchNorm(momentum=0.99, epsilon=0.001)))
    """
    s = check_int(s, "s", 1)
    F3 = _filters(filters)[2]
    return Residual(_main(f, filters, s), (Conv2D(F3, 1, strides=s), BatchNorm()), "relu")


@dataclasses.dataclass(frozen=True)
class BlockCache:
    """What a block's backward needs: the block (static), its params and its forward's cache.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import identity_block, identity_block_forward
      >>> params = identity_block(3, (2, 2, 3)).init(jax.random.key(0), (4, 4, 3))
      >>> A, cache = identity_block_forward(jnp.ones((2, 4, 4, 3)), params, 3)
      >>> cache.block.kind, len(cache.inner[0][0])  # the eight main-path caches
      ('residual', 8)
    """

    block: Residual
    params: Any
    inner: Any


jax.tree_util.register_dataclass(
    BlockCache, data_fields=("params", "inner"), meta_fields=("block",)
)


def _filters_of(params, name: str = "params") -> tuple[int, int, int]:
    """``(F1, F2, F3)`` from a block's params (its three main-path kernels ``W``)."""
    try:
        return tuple(int(params["main"][i]["W"].shape[-1]) for i in (0, 3, 6))
    except (TypeError, KeyError, IndexError, AttributeError):
        raise ValueError(
            f"{name} must be a course block's params, identity_block(f, filters).init(key, "
            f"input_shape) (a dict with 'main': 8 layer dicts), got {type(params).__name__}"
        ) from None


def _forward(block, A_prev, params, key, train, weights):
    A, inner = block.forward(params, A_prev, key=key, train=train, weights=weights)
    return A, BlockCache(block, params, inner)


def identity_block_forward(A_prev, params, f: int, *, key=None, train=False, weights=None):
    """The identity block's forward: ``(A, cache)``.

    Args:
      A_prev: ``(m, n_H, n_W, F3)``.
      params: ``identity_block(f, filters).init(key, (n_H, n_W, F3))``'s tree.
      f: the middle window (the filters are read from ``params``).
      key: unused (no dropout in the course's block); kept for the layer protocol.
      train: batch statistics (True) or the moving averages (False, the default).
      weights: ``(m,)`` example weights (0: padding rows out of the batch statistics).

    Returns:
      ``(A (m, n_H, n_W, F3), cache)``, the cache a :class:`~jaxnet.layers.resnet_blocks.BlockCache`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import identity_block, identity_block_backward, identity_block_forward
      >>> params = identity_block(2, (4, 4, 3)).init(jax.random.key(0), (4, 4, 3))
      >>> X = jax.random.normal(jax.random.key(1), (3, 4, 4, 3))
      >>> A, cache = identity_block_forward(X, params, 2, train=True)
      >>> dA_prev, grads = identity_block_backward(jnp.ones(A.shape), cache)
      >>> A.shape, dA_prev.shape, grads["main"][3]["W"].shape
      ((3, 4, 4, 3), (3, 4, 4, 3), (2, 2, 4, 4))
    """
    if not isinstance(f, numbers.Integral):
        raise TypeError(f"f must be an int, got f={f!r:.40} of type {type(f).__name__}")
    block = identity_block(f, _filters_of(params))
    return _forward(block, A_prev, params, key, train, weights)


def identity_block_backward(dA, cache: BlockCache):
    """The hand-derived backward of :func:`identity_block_forward`: ``(dA_prev, grads)``,
    ``grads`` in the params' tree (zeros for the moving statistics); ``dA_prev = dA_main_prev + dZ``."""
    return cache.block.backward(cache.params, cache.inner, dA)


def convolutional_block_forward(A_prev, params, f: int, s: int = 2, *, key=None, train=False,
                                weights=None):  # fmt: skip
    """The convolutional block's forward: ``(A, cache)``.

    Args:
      A_prev: ``(m, n_H_prev, n_W_prev, n_C_prev)``.
      params: ``convolutional_block(f, filters, s).init(key, input_shape)``'s tree.
      f: the middle window.
      s: the stride (of the first convolution and of the shortcut's).
      key: unused; kept for the layer protocol.
      train: batch statistics (True) or the moving averages (False, the default).
      weights: ``(m,)`` example weights.

    Returns:
      ``(A (m, n_H, n_W, F3), cache)`` with ``n_H = floor((n_H_prev - 1) / s) + 1``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import (convolutional_block, convolutional_block_backward,
      ...                            convolutional_block_forward)
      >>> params = convolutional_block(3, (2, 2, 6), s=2).init(jax.random.key(0), (5, 5, 3))
      >>> A, cache = convolutional_block_forward(jnp.ones((2, 5, 5, 3)), params, 3, s=2)
      >>> dA_prev, grads = convolutional_block_backward(jnp.ones(A.shape), cache)
      >>> A.shape, dA_prev.shape, grads["shortcut"][0]["W"].shape
      ((2, 3, 3, 6), (2, 5, 5, 3), (1, 1, 3, 6))
    """
    if not isinstance(f, numbers.Integral):
        raise TypeError(f"f must be an int, got f={f!r:.40} of type {type(f).__name__}")
    block = convolutional_block(f, _filters_of(params), s)
    return _forward(block, A_prev, params, key, train, weights)


def convolutional_block_backward(dA, cache: BlockCache):
    """The hand-derived backward of :func:`convolutional_block_forward`: ``(dA_prev, grads)``,
    ``dA_prev = dA_main_prev + dA_shortcut_prev``."""
    return cache.block.backward(cache.params, cache.inner, dA)
