"""Pooling layers (course 4, week 1), NHWC: ``pool_forward`` and its hand-derived ``pool_backward``.

Shapes: ``A_prev`` is ``(m, n_H_prev, n_W_prev, n_C)``, ``A`` is ``(m, n_H, n_W, n_C)`` with
``n_H = floor((n_H_prev - f) / stride) + 1`` (no padding, as the course and Keras's default).
Each channel is pooled on its own: ``A[i, h, w, c]`` is the max (or the mean) of the window
``A_prev[i, h s : h s + f, w s : w s + f, c]``.

Backward (the course's loops, vectorised over windows; windows may overlap when ``s < f``,
and every window adds its share):

- max: each ``dA[i, h, w, c]`` goes to the position of its window's maximum. On ties it goes
  to the FIRST maximum in row-major window order, which is what ``jax.vjp`` of
  ``lax.reduce_window(max)`` picks; the course's ``create_mask_from_window`` marks every
  position equal to the maximum and so sends a tied window's gradient to each of them.
- average: each ``dA[i, h, w, c]`` is spread evenly, ``dA / f^2``, over its window.

``dA`` and ``dA_prev`` are per example; pooling has no parameters. ``pool_forward`` carries a
``jax.custom_vjp`` whose backward is ``pool_backward``, so ``jax.grad`` through it runs this
backward (``jaxnet.layers._autodiff``).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
from jax import lax

from jaxnet import limits
from jaxnet.layers._autodiff import custom_vjp_enabled
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_int

MODES = ("max", "average")

__all__ = [
    "MODES",
    "AvgPool2D",
    "MaxPool2D",
    "PoolCache",
    "pool_backward",
    "pool_forward",
]


@dataclasses.dataclass(frozen=True)
class PoolCache:
    """The course's ``(A_prev, hparameters)``: the window size, its step and the mode.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import pool_forward
      >>> cache = pool_forward(jnp.zeros((1, 4, 4, 2)), 2)[1]
      >>> cache.A_prev.shape, cache.f, cache.stride, cache.mode
      ((1, 4, 4, 2), 2, 2, 'max')
    """

    A_prev: jax.Array
    f: int
    stride: int
    mode: str


jax.tree_util.register_dataclass(
    PoolCache, data_fields=("A_prev",), meta_fields=("f", "stride", "mode")
)


def pool_forward(A_prev, f: int, stride: int | None = None, mode: str = "max"):
    """Max or average pooling of ``f x f`` windows moved by ``stride`` (default ``f``).

    ``jax.grad`` through ``A`` runs :func:`pool_backward` (a ``jax.custom_vjp``, so no forward
    mode: ``jax.jvp`` raises).

    Args:
      A_prev: ``(m, n_H_prev, n_W_prev, n_C)`` (NHWC).
      f: the window size.
      stride: the window step ``s``; None means ``f``.
      mode: ``"max"`` or ``"average"``.

    Returns:
      ``(A, cache)``: ``A (m, n_H, n_W, n_C)`` with ``n_H = floor((n_H_prev - f) / s) + 1``
      (likewise ``n_W``), and the course's cache ``(A_prev, hparameters)``.

    Raises:
      ValueError: an unknown ``mode``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import pool_forward
      >>> A_prev = jnp.arange(16.0).reshape(1, 4, 4, 1)
      >>> A, cache = pool_forward(A_prev, 2)
      >>> A.shape, A[0, :, :, 0].tolist()
      ((1, 2, 2, 1), [[5.0, 7.0], [13.0, 15.0]])
      >>> pool_forward(A_prev, 2, mode="average")[0][0, :, :, 0].tolist()
      [[2.5, 4.5], [10.5, 12.5]]
    """
    stride = f if stride is None else stride
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
    pool = _pool if custom_vjp_enabled() else _reduce
    return pool(A_prev, f, stride, mode), PoolCache(A_prev, f, stride, mode)


def _reduce(A_prev, f: int, stride: int, mode: str):
    """``A``: one ``lax.reduce_window`` (max, or sum / f^2)."""
    window, strides = (1, f, f, 1), (1, stride, stride, 1)
    # Python scalars as init values: lax recognises the max/sum window and can differentiate it.
    if mode == "max":
        return lax.reduce_window(A_prev, -jnp.inf, lax.max, window, strides, "VALID")
    return lax.reduce_window(A_prev, 0.0, lax.add, window, strides, "VALID") / (f * f)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _pool(A_prev, f: int, stride: int, mode: str):
    """:func:`_reduce` whose VJP is :func:`pool_backward` (``jax.grad`` through pooling runs it;
    XLA:CPU runs JAX's own ``select_and_scatter`` for max pooling many times slower)."""
    return _reduce(A_prev, f, stride, mode)


def _pool_forward(A_prev, f, stride, mode):
    return _reduce(A_prev, f, stride, mode), A_prev


def _pool_backward(f, stride, mode, A_prev, dA):
    return (pool_backward(dA, PoolCache(A_prev, f, stride, mode)).astype(A_prev.dtype),)


_pool.defvjp(_pool_forward, _pool_backward)


def _pad(x, config):
    """``lax.pad`` with zeros; ``config`` lists ``(low, high, interior)`` per axis."""
    return lax.pad(x, jnp.zeros((), x.dtype), config)


def _tile(parts, stride: int, size: tuple[int, int]):
    """Windows that do not overlap (``s >= f``) tile the input: one stack, one reshape, one fusion."""
    f = len(parts)
    m, n_H, n_W, n_C = parts[0][0].shape
    blocks = jnp.stack(
        [jnp.stack(row, axis=3) for row in parts], axis=2
    )  # (m, n_H, f, n_W, f, n_C)
    gap = (0, stride - f, 0)  # positions between windows get nothing
    blocks = _pad(blocks, [(0, 0, 0), (0, 0, 0), gap, (0, 0, 0), gap, (0, 0, 0)])
    tiled = blocks.reshape(m, n_H * stride, n_W * stride, n_C)
    # the last rows/columns no window reached ((n - f) % s of them) get zeros
    edges = [(0, size[0] - n_H * stride, 0), (0, size[1] - n_W * stride, 0)]
    return _pad(tiled, [(0, 0, 0), *edges, (0, 0, 0)])


def _overlap(parts, stride: int, size: tuple[int, int]):
    """Overlapping windows (``s < f``): each offset's part is added by a strided (interior) padding."""
    total = 0
    for a, row in enumerate(parts):
        for b, part in enumerate(row):
            config = [(0, 0, 0)]
            for offset, n_out, n in zip((a, b), part.shape[1:3], size):
                config.append((offset, n - offset - (n_out - 1) * stride - 1, stride - 1))
            total = total + _pad(part, [*config, (0, 0, 0)])
    return total


def _place(parts, stride: int, size: tuple[int, int]):
    """``dA_prev (m, *size, n_C)``: the sum of ``parts[a][b][:, h, w]`` placed at ``(a + h s, b + w s)``."""
    return _tile(parts, stride, size) if stride >= len(parts) else _overlap(parts, stride, size)


def _max_backward(dA, cache: PoolCache):
    """Each window's gradient to its first maximum (row-major order): one mask per window offset.

    The argmax is found here, by a running strict ``>`` over the window offsets, from
    ``A_prev`` alone; comparing ``A_prev`` with the forward's output ``A`` instead would
    depend on XLA computing ``A_prev`` bit-identically in both places, which fusion does
    not promise (an input recomputed inside two fusions can round differently).
    """
    A_prev, f, s = cache.A_prev, cache.f, cache.stride
    n_H, n_W = dA.shape[1:3]
    windows = [
        A_prev[:, a : a + (n_H - 1) * s + 1 : s, b : b + (n_W - 1) * s + 1 : s]
        for a in range(f)
        for b in range(f)
    ]
    best, argmax = windows[0], jnp.zeros(dA.shape, jnp.int32)
    for k, x in enumerate(windows[1:], start=1):
        better = x > best  # strict: on ties the first maximum keeps the gradient
        best, argmax = jnp.where(better, x, best), jnp.where(better, k, argmax)
    parts = [[jnp.where(argmax == a * f + b, dA, 0) for b in range(f)] for a in range(f)]
    return _place(parts, s, A_prev.shape[1:3])


def _average_backward(dA, cache: PoolCache):
    """``dA / f^2`` summed over the windows covering each position: a window sum of the stride-dilated ``dA``."""
    f, s = cache.f, cache.stride
    config = [(0, 0, 0)]
    for n_out, n in zip(dA.shape[1:3], cache.A_prev.shape[1:3]):
        unreached = n - f - (n_out - 1) * s
        config.append((f - 1, f - 1 + unreached, s - 1))
    dilated = _pad(dA / (f * f), [*config, (0, 0, 0)])
    return lax.reduce_window(dilated, 0.0, lax.add, (1, f, f, 1), (1, 1, 1, 1), "VALID")


def pool_backward(dA, cache: PoolCache):
    """``dA_prev (m, n_H_prev, n_W_prev, n_C)`` from ``dA (m, n_H, n_W, n_C)`` (module docstring).

    Max: each window's gradient to its first maximum; average: spread evenly, ``dA / f^2``.

    Args:
      dA: ``(m, n_H, n_W, n_C)``, the gradient of the pooled output.
      cache: from :func:`pool_forward`.

    Returns:
      ``dA_prev (m, n_H_prev, n_W_prev, n_C)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import pool_backward, pool_forward
      >>> A, cache = pool_forward(jnp.arange(16.0).reshape(1, 4, 4, 1), 2)
      >>> pool_backward(jnp.ones(A.shape), cache)[0, :, :, 0].tolist()
      [[0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    """
    if cache.mode == "max":
        return _max_backward(dA, cache)
    return _average_backward(dA, cache)


def _stride(value, name: str) -> int | None:
    """A pool's ``strides``: None (the pool size) or an int >= 1."""
    return None if value is None else check_int(value, name, 1, limits.MAXIMA["strides"])


class _Pool2D(Layer):
    """Shared by :class:`MaxPool2D` and :class:`AvgPool2D` (equal only to a layer of the same class)."""

    mode = "max"
    pool_size: int = field(
        default=2, check=functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["pool_size"])
    )
    strides: int | None = field(default=None, check=_stride)

    @property
    def stride(self) -> int:
        """The window step: ``strides``, or ``pool_size`` when None."""
        return self.pool_size if self.strides is None else self.strides

    def output_shape(self, input_shape) -> tuple[int, int, int]:
        """``(n_H, n_W, n_C)`` for one example ``(n_H_prev, n_W_prev, n_C)``."""
        name = type(self).__name__
        if len(input_shape) != 3:
            raise ValueError(
                f"{name} expects images (n_H, n_W, n_C) per example (NHWC batches); got input "
                f"shape {tuple(input_shape)}"
            )
        if self.pool_size > min(input_shape[:2]):
            raise ValueError(
                f"{name} pool_size={self.pool_size} is larger than the input "
                f"{input_shape[0]}x{input_shape[1]}"
            )
        f, s = self.pool_size, self.stride
        return (input_shape[0] - f) // s + 1, (input_shape[1] - f) // s + 1, input_shape[2]

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, cache)`` from :func:`pool_forward`; ``key``, ``train``, ``weights`` unused."""
        del params, key, train, weights
        if A_prev.ndim != 4:
            raise ValueError(
                f"{type(self).__name__} expects A_prev of shape (m, n_H, n_W, n_C); got shape "
                f"{A_prev.shape}"
            )
        self.output_shape(A_prev.shape[1:])
        return pool_forward(A_prev, self.pool_size, self.stride, self.mode)

    def backward(self, params, cache, dA):
        """``(dA_prev, {})`` from :func:`pool_backward`."""
        del params
        return pool_backward(dA, cache), {}


class MaxPool2D(_Pool2D):
    """Max pooling of ``pool_size`` x ``pool_size`` windows, step ``strides`` (default ``pool_size``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import MaxPool2D
      >>> layer = MaxPool2D(2)
      >>> layer.output_shape((28, 28, 8)), layer.forward({}, jnp.ones((2, 28, 28, 8)))[0].shape
      ((14, 14, 8), (2, 14, 14, 8))
    """

    kind = "max_pool2d"
    mode = "max"


class AvgPool2D(_Pool2D):
    """Average pooling of ``pool_size`` x ``pool_size`` windows, step ``strides`` (default ``pool_size``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import AvgPool2D
      >>> A, cache = AvgPool2D(2, strides=1).forward({}, jnp.arange(9.0).reshape(1, 3, 3, 1))
      >>> A[0, :, :, 0].tolist()
      [[2.0, 3.0], [5.0, 6.0]]
    """

    kind = "avg_pool2d"
    mode = "average"
