"""The convolutional layer (course 4, week 1), NHWC: ``conv_forward`` and its hand-derived ``conv_backward``.

Shapes: ``A_prev`` is ``(m, n_H_prev, n_W_prev, n_C_prev)``, the kernel ``W`` is
``(f, f, n_C_prev, n_C)``, ``b`` is ``(n_C,)`` and ``Z`` is ``(m, n_H, n_W, n_C)`` with
``n_H = floor((n_H_prev + 2 pad - f) / stride) + 1`` (likewise ``n_W``).

Forward (a correlation, as the course and every framework write it)::

    Z[i, h, w, c] = sum_{a, b, k} A_pad[i, h s + a, w s + b, k] W[a, b, k, c] + b[c]

Backward, derived from that sum (the course writes it as loops)::

    dA_pad[i, y, x, k] = sum_{h s + a = y, w s + b = x, c} dZ[i, h, w, c] W[a, b, k, c]
    dW[a, b, k, c] = (1/m) sum_{i, h, w} A_pad[i, h s + a, w s + b, k] dZ[i, h, w, c]
    db[c] = (1/m) sum_{i, h, w} dZ[i, h, w, c]

``dZ`` and ``dA_prev`` are per example (row i = d loss_i / d Z_i), ``dW`` and ``db`` the
gradient of the mean cost: the ``1/m`` of ``linear_backward``.

How XLA runs these sums (an implementation detail; each form is proven equal to
``jax.vjp`` of the plain convolution in float64, tests/test_layers_conv.py):

- ``dA_pad`` is one convolution: ``dZ`` dilated by ``s`` (``s - 1`` zeros between its
  rows and columns) with the kernel flipped in ``(a, b)`` and its channels swapped,
  padded ``f - 1`` on each side; rows the stride never reached get zeros.
- ``dW`` has two forms, chosen per platform when XLA lowers the program
  (``lax.platform_dependent``). On CPU, matrix products: for each kernel offset
  ``(a, b)`` the shifted input slice ``A_pad[:, a::s, b::s][:, :n_H, :n_W]``, as an
  ``(m n_H n_W, n_C_prev)`` matrix, transposed times ``dZ`` as ``(m n_H n_W, n_C)``; when
  ``n_C_prev`` is small several offsets share one product (their slices side by side, an
  im2col), so each product has at least ``_MATMUL_ROWS`` rows; and the examples are
  taken a cache-sized chunk at a time (a ``lax.scan`` summing the chunks). Elsewhere (GPU, TPU)
  one convolution: the correlation of ``A_pad`` with ``dZ`` dilated by ``s``, the
  examples summed as the contracted channels.

``conv_forward`` carries a ``jax.custom_vjp`` whose backward is this one (without the
``1/m``), so ``jax.grad`` of any model built on it runs these forms
(``jaxnet.layers._autodiff``).
"""

from __future__ import annotations

import dataclasses
import functools
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnet import activations, initializers, limits
from jaxnet.layers._autodiff import custom_vjp_enabled
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_activation, check_choice, check_int, check_l2

__all__ = [
    "Conv2D",
    "ConvCache",
    "check_padding",
    "conv_backward",
    "conv_forward",
    "conv_padding",
    "output_size",
    "same_padding",
]

Padding = tuple[tuple[int, int], tuple[int, int]]
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")
_MATMUL_ROWS = 32  # CPU dW: the fewest rows (offsets x n_C_prev) one matrix product gets
_CHUNK_BYTES = 512 * 1024  # CPU dW: the examples of one chunk's A_prev and dZ, at most


def same_padding(n: int, f: int, stride: int) -> tuple[int, int]:
    """Keras/TF ``"same"``: ``ceil(n / s)`` outputs; the odd pixel of padding goes after (bottom/right).

    Args:
      n: the input size along one axis (``n_H_prev`` or ``n_W_prev``).
      f: the kernel size.
      stride: the step ``s``.

    Returns:
      ``(before, after)``, the zero rows (or columns) to add on each side.

    Example:
      >>> from jaxnet.layers.conv import same_padding
      >>> same_padding(5, 3, 1), same_padding(6, 3, 2)
      ((1, 1), (0, 1))
    """
    total = max((-(-n // stride) - 1) * stride + f - n, 0)
    return total // 2, total - total // 2


def conv_padding(pad, n_H_prev: int, n_W_prev: int, f: int, stride: int) -> Padding:
    """``((top, bottom), (left, right))`` for ``pad`` = ``"valid"``, ``"same"``, an int or explicit pairs.

    Args:
      pad: ``"valid"``, ``"same"`` (:func:`same_padding`), an int ``p`` (the course's
        symmetric zero padding) or ``((top, bottom), (left, right))``.
      n_H_prev: the input height.
      n_W_prev: the input width.
      f: the kernel size.
      stride: the step ``s``.

    Returns:
      ``((top, bottom), (left, right))``, ints.

    Raises:
      ValueError: an unknown padding name.

    Example:
      >>> from jaxnet.layers.conv import conv_padding
      >>> conv_padding("same", 5, 6, 3, 2), conv_padding(1, 5, 5, 3, 1)
      (((1, 1), (0, 1)), ((1, 1), (1, 1)))
    """
    if isinstance(pad, str):
        if pad.lower() == "valid":
            return (0, 0), (0, 0)
        if pad.lower() == "same":
            return same_padding(n_H_prev, f, stride), same_padding(n_W_prev, f, stride)
        raise ValueError(f"padding must be 'valid', 'same' or an int >= 0; got {pad!r}")
    if isinstance(pad, numbers.Integral):
        return (int(pad), int(pad)), (int(pad), int(pad))
    (top, bottom), (left, right) = pad
    return (int(top), int(bottom)), (int(left), int(right))


def output_size(n: int, f: int, stride: int, before: int, after: int) -> int:
    """``floor((n + before + after - f) / s) + 1``: the course's ``floor((n + 2p - f) / s) + 1``.

    Args:
      n: the input size along one axis.
      f: the kernel size.
      stride: the step ``s``.
      before: the zero padding before (top or left).
      after: the zero padding after (bottom or right).

    Returns:
      The output size along that axis, an int.

    Example:
      >>> from jaxnet.layers.conv import output_size
      >>> output_size(5, 3, 2, 1, 1)  # floor((5 + 2 - 3) / 2) + 1
      3
    """
    return (n + before + after - f) // stride + 1


@dataclasses.dataclass(frozen=True)
class ConvCache:
    """The course's ``(A_prev, W, b, hparameters)``; ``stride`` and ``padding`` are static.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import conv_forward
      >>> Z, cache = conv_forward(jnp.ones((1, 4, 4, 1)), jnp.ones((3, 3, 1, 2)), jnp.zeros(2), pad="same")
      >>> cache.W.shape, cache.stride, cache.padding
      ((3, 3, 1, 2), 1, ((1, 1), (1, 1)))
    """

    A_prev: jax.Array
    W: jax.Array
    b: jax.Array
    stride: int
    padding: Padding


jax.tree_util.register_dataclass(
    ConvCache, data_fields=("A_prev", "W", "b"), meta_fields=("stride", "padding")
)


def conv_forward(A_prev, W, b, stride: int = 1, pad=0) -> tuple[jax.Array, ConvCache]:
    """``Z = W * A_prev + b`` (correlation), one XLA convolution; returns ``(Z (m, n_H, n_W, n_C), cache)``.

    ``jax.grad`` through ``Z`` runs :func:`conv_backward`'s sums (a ``jax.custom_vjp``, so no
    forward mode: ``jax.jvp`` raises).

    Args:
      A_prev: ``(m, n_H_prev, n_W_prev, n_C_prev)`` (NHWC).
      W: ``(f, f, n_C_prev, n_C)``.
      b: ``(n_C,)``.
      stride: the step ``s`` (default 1).
      pad: ``"valid"``, ``"same"`` (Keras/TF: asymmetric when needed, more on the
        bottom/right), an int (the course's symmetric zero padding) or
        ``((top, bottom), (left, right))``; default 0.

    Returns:
      ``(Z, cache)``: ``Z (m, n_H, n_W, n_C)`` with ``n_H = floor((n_H_prev + 2 pad - f) / s) + 1``
      (likewise ``n_W``), and the course's cache ``(A_prev, W, b, hparameters)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import conv_forward
      >>> Z, cache = conv_forward(jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 8)), jnp.zeros(8), stride=2, pad=1)
      >>> Z.shape, float(Z[0, 1, 1, 0])  # an interior window sums 3 * 3 * 3 ones
      ((2, 3, 3, 8), 27.0)
    """
    padding = conv_padding(pad, A_prev.shape[1], A_prev.shape[2], W.shape[0], stride)
    convolve = _convolve if custom_vjp_enabled() else _correlate
    Z = convolve(A_prev, W, stride, padding)
    return Z + b.reshape(1, 1, 1, -1), ConvCache(A_prev, W, b, stride, padding)


def _correlate(A_prev, W, stride: int, padding: Padding):
    """``Z`` without the bias: one XLA convolution (the forward's sum over ``a, b, k``)."""
    return lax.conv_general_dilated(
        A_prev, W, (stride, stride), padding, dimension_numbers=_DIMENSIONS
    )


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _convolve(A_prev, W, stride: int, padding: Padding):
    """:func:`_correlate` whose VJP is the hand-derived backward (:func:`_conv_grads`)."""
    return _correlate(A_prev, W, stride, padding)


def _convolve_forward(A_prev, W, stride, padding):
    return _correlate(A_prev, W, stride, padding), (A_prev, W)


def _convolve_backward(stride, padding, residuals, dZ):
    A_prev, W = residuals
    dA_prev, dW = _conv_grads(dZ, A_prev, W, stride, padding)
    return dA_prev.astype(A_prev.dtype), dW.astype(W.dtype)


_convolve.defvjp(_convolve_forward, _convolve_backward)


def _unreached(n: int, f: int, stride: int, before: int, after: int) -> int:
    """Trailing padded rows no window covers: ``(n + before + after - f) % s``."""
    return (n + before + after - f) % stride


def _conv_grads(dZ, A_prev, W, stride: int, padding: Padding):
    """``(dA_prev, m dW)``: the module docstring's sums (``dW`` without the ``1/m``)."""
    dW = lax.platform_dependent(
        A_prev,
        dZ,
        cpu=functools.partial(_dW_matmul, f=W.shape[0], stride=stride, padding=padding),
        default=functools.partial(_dW_convolution, f=W.shape[0], stride=stride, padding=padding),
    )
    return _dA_prev(dZ, W, A_prev.shape, stride, padding), dW


def _dA_prev(dZ, W, shape, stride: int, padding: Padding):
    """``dA_prev``: a full convolution of the stride-dilated ``dZ`` with the flipped kernel; the
    (negative where the forward padded) edges crop ``A_pad`` back to ``A_prev``."""
    (top, bottom), (left, right) = padding
    f = W.shape[0]
    r_H = _unreached(shape[1], f, stride, top, bottom)
    r_W = _unreached(shape[2], f, stride, left, right)
    # Operands in the forward's NHWC/HWIO layout: XLA:CPU runs other layouts far slower
    # inside a loop (fit's lax.scan; jax issue 12868).
    return lax.conv_general_dilated(
        dZ,
        jnp.swapaxes(W[::-1, ::-1], 2, 3),
        (1, 1),
        ((f - 1 - top, f - 1 - bottom + r_H), (f - 1 - left, f - 1 - right + r_W)),
        lhs_dilation=(stride, stride),
        dimension_numbers=_DIMENSIONS,
    )


def _dW_convolution(A_prev, dZ, *, f: int, stride: int, padding: Padding):
    """``m dW`` as one convolution: the examples are the contracted "channels" (``A_prev`` as
    ``(n_C_prev, H, W, m)``), ``dZ`` is the kernel ``(n_H, n_W, m, n_C)``, and the output
    ``(n_C_prev, f, f, n_C)`` is moved to ``(f, f, n_C_prev, n_C)``."""
    (top, bottom), (left, right) = padding
    r_H = _unreached(A_prev.shape[1], f, stride, top, bottom)
    r_W = _unreached(A_prev.shape[2], f, stride, left, right)
    return lax.conv_general_dilated(
        A_prev.transpose(3, 1, 2, 0),
        dZ.transpose(1, 2, 0, 3),
        (1, 1),
        ((top, bottom - r_H), (left, right - r_W)),
        rhs_dilation=(stride, stride),
        dimension_numbers=_DIMENSIONS,
    ).transpose(1, 2, 0, 3)


def _dW_matmul(A_prev, dZ, *, f: int, stride: int, padding: Padding):
    """``m dW`` as matrix products (:func:`_dW_products`), summed over chunks of examples: a
    ``lax.scan`` over chunks of ``c`` examples, ``c`` the largest divisor of ``m`` whose
    ``A_prev`` and ``dZ`` rows fit in :data:`_CHUNK_BYTES`, so that each chunk's shifted
    slices are copied within the cache (about a third less time than one pass over all
    ``m`` at workload E's shapes)."""
    m = A_prev.shape[0]
    example_bytes = (A_prev[0].size + dZ[0].size) * A_prev.dtype.itemsize
    c = max([d for d in range(1, m + 1) if m % d == 0 and d * example_bytes <= _CHUNK_BYTES] or [1])
    if c == m:
        return _dW_products(A_prev, dZ, f, stride, padding)

    def add_chunk(total, chunk):
        return total + _dW_products(*chunk, f, stride, padding), None

    chunks = (A_prev.reshape(m // c, c, *A_prev.shape[1:]), dZ.reshape(m // c, c, *dZ.shape[1:]))
    zeros = jnp.zeros((f, f, A_prev.shape[3], dZ.shape[3]), jnp.result_type(A_prev, dZ))
    return lax.scan(add_chunk, zeros, chunks)[0]


def _dW_products(A_prev, dZ, f: int, stride: int, padding: Padding):
    """``m dW`` as matrix products, one per group of kernel offsets (row-major ``(a, b)``):
    ``[A_pad[:, a::s, b::s] for (a, b) in group]`` side by side, ``(m n_H n_W, g n_C_prev)``,
    transposed times ``dZ`` ``(m n_H n_W, n_C)``; ``g`` offsets give ``g n_C_prev >=``
    ``_MATMUL_ROWS`` rows (one offset each once ``n_C_prev`` reaches it)."""
    (top, bottom), (left, right) = padding
    zero = jnp.zeros((), A_prev.dtype)
    A_pad = lax.pad(A_prev, zero, ((0, 0, 0), (top, bottom, 0), (left, right, 0), (0, 0, 0)))
    m, n_H, n_W, n_C = dZ.shape
    n_C_prev = A_prev.shape[3]
    offsets = [(a, b) for a in range(f) for b in range(f)]
    group = min(len(offsets), -(-_MATMUL_ROWS // n_C_prev))
    rows = dZ.reshape(m * n_H * n_W, n_C)
    products = []
    for first in range(0, len(offsets), group):
        slices = [
            lax.slice(
                A_pad,
                (0, a, b, 0),
                (m, a + (n_H - 1) * stride + 1, b + (n_W - 1) * stride + 1, n_C_prev),
                (1, stride, stride, 1),
            )
            for a, b in offsets[first : first + group]
        ]
        columns = slices[0] if len(slices) == 1 else jnp.concatenate(slices, axis=3)
        products.append(columns.reshape(m * n_H * n_W, -1).T @ rows)
    return jnp.concatenate(products).reshape(f, f, n_C_prev, n_C)


def conv_backward(dZ, cache: ConvCache):
    """Hand-derived gradients of :func:`conv_forward` (see the module docstring for the sums).

    Args:
      dZ: ``(m, n_H, n_W, n_C)``, each example's ``d loss_i / d Z_i``.
      cache: from :func:`conv_forward`.

    Returns:
      ``(dA_prev (m, n_H_prev, n_W_prev, n_C_prev), dW (f, f, n_C_prev, n_C), db (n_C,))``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import conv_backward, conv_forward
      >>> Z, cache = conv_forward(jnp.ones((2, 5, 5, 3)), jnp.ones((3, 3, 3, 8)), jnp.zeros(8), pad="same")
      >>> dA_prev, dW, db = conv_backward(jnp.ones(Z.shape), cache)
      >>> dA_prev.shape, dW.shape, db.tolist() == [25.0] * 8  # db: 5 * 5 positions per example
      ((2, 5, 5, 3), (3, 3, 3, 8), True)
    """
    m = cache.A_prev.shape[0]
    dA_prev, dW = _conv_grads(dZ, cache.A_prev, cache.W, cache.stride, cache.padding)
    return dA_prev, dW / m, dZ.sum(axis=(0, 1, 2)) / m


def check_padding(value, name: str = "padding") -> str | int:
    """A Conv2D ``padding``: ``"valid"`` or ``"same"`` (any case, kept lower-case) or an int >= 0.

    ``TypeError`` for another type, ``ValueError`` for another name or a negative int.

    >>> check_padding("SAME"), check_padding(np.int64(2))
    ('same', 2)
    """
    if isinstance(value, str):
        return check_choice(value.lower(), name, ("valid", "same"))
    if isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_):
        return check_int(value, name, 0, limits.MAXIMA["padding"])
    raise TypeError(
        f"{name} must be 'valid', 'same' or an int >= 0, got {name}={value!r:.80} of type "
        f"{type(value).__name__}"
    )


def _size(name: str):
    """The check of a size field: an int in ``1..jaxnet.limits.MAXIMA[name]``."""
    return functools.partial(check_int, minimum=1, maximum=limits.MAXIMA[name])


class Conv2D(Layer):
    """``filters`` square ``kernel_size`` x ``kernel_size`` kernels, then ``activation`` (None: linear).

    Params ``{"W": (f, f, n_C_prev, filters), "b": (filters,)}``; input and output NHWC.
    ``padding``: ``"valid"`` (none), ``"same"`` (output ``ceil(n / strides)``, Keras/TF) or an int.
    ``l2``: λ of the L2 penalty on ``W`` (``(λ / 2m) ||W||^2``, applied by the network; ``b``
    is never decayed), as :class:`jaxnet.layers.Dense`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import Conv2D
      >>> layer = Conv2D(8, 3, padding="same", activation="relu")
      >>> layer
      Conv2D(filters=8, kernel_size=3, strides=1, padding='same', activation='relu')
      >>> params = layer.init(jax.random.key(0), (5, 5, 3))
      >>> params["W"].shape, layer.forward(params, jnp.ones((2, 5, 5, 3)))[0].shape
      ((3, 3, 3, 8), (2, 5, 5, 8))
    """

    kind = "conv2d"
    filters: int = field(check=_size("filters"))
    kernel_size: int = field(check=_size("kernel_size"))
    strides: int = field(default=1, check=_size("strides"))
    padding: str | int = field(default="valid", check=check_padding)
    activation: str | None = field(
        default=None, check=functools.partial(check_activation, optional=True)
    )
    l2: float = field(default=0.0, check=check_l2, omit_default=True)

    def _padding(self, n_H_prev: int, n_W_prev: int) -> Padding:
        return conv_padding(self.padding, n_H_prev, n_W_prev, self.kernel_size, self.strides)

    def output_shape(self, input_shape) -> tuple[int, int, int]:
        """``(n_H, n_W, filters)`` for one example ``(n_H_prev, n_W_prev, n_C_prev)``."""
        if len(input_shape) != 3:
            raise ValueError(
                f"Conv2D expects images (n_H, n_W, n_C) per example (NHWC batches); got input "
                f"shape {tuple(input_shape)}: add a reshape to images before a Conv2D"
            )
        f, s = self.kernel_size, self.strides
        (top, bottom), (left, right) = self._padding(input_shape[0], input_shape[1])
        padded = (input_shape[0] + top + bottom, input_shape[1] + left + right)
        if f > min(padded):
            raise ValueError(
                f"kernel_size={f} is larger than the padded input {padded[0]}x{padded[1]} "
                f"(input {input_shape[0]}x{input_shape[1]}, padding={self.padding!r})"
            )
        n_H = output_size(input_shape[0], f, s, top, bottom)
        return n_H, output_size(input_shape[1], f, s, left, right), self.filters

    def param_shapes(self, input_shape) -> dict[str, tuple]:
        """``{"W": (f, f, n_C_prev, filters), "b": (filters,)}``."""
        f, n_C_prev = self.kernel_size, input_shape[-1]
        return {"W": (f, f, n_C_prev, self.filters), "b": (self.filters,)}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """``W`` by ``scheme`` with ``fan_in = f f n_C_prev``, ``fan_out = f f filters`` (Keras's);
        ``b = 0`` (``"pytorch"`` draws it; see :func:`jaxnet.initializers.kernel_and_bias`)."""
        self.output_shape(input_shape)
        shapes = self.param_shapes(input_shape)
        return initializers.kernel_and_bias(
            key, scheme, shapes["W"], shapes["b"], dtype, scale=scale
        )

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, cache)``: ``A = g(conv_forward(A_prev, W, b))``; ``key``, ``train``, ``weights`` unused."""
        del key, train, weights
        if A_prev.ndim != 4:
            raise ValueError(
                f"Conv2D expects A_prev of shape (m, n_H, n_W, n_C); got shape {A_prev.shape}"
            )
        if A_prev.shape[-1] != params["W"].shape[2]:
            raise ValueError(
                f"A_prev has {A_prev.shape[-1]} channels but the params' W {params['W'].shape} "
                f"expects n_C_prev={params['W'].shape[2]}"
            )
        self.output_shape(A_prev.shape[1:])
        Z, conv_cache = conv_forward(A_prev, params["W"], params["b"], self.strides, self.padding)
        A = Z if self.activation is None else activations.get(self.activation).fn(Z)
        return A, (conv_cache, Z)

    def backward(self, params, cache, dA):
        """``(dA_prev, {"W": dW, "b": db})``: ``dZ = dA g'(Z)``, then :func:`conv_backward`."""
        del params  # the cache holds W
        conv_cache, Z = cache
        dZ = dA if self.activation is None else activations.get(self.activation).vjp(Z, dA)
        dA_prev, dW, db = conv_backward(dZ, conv_cache)
        return dA_prev, {"W": dW, "b": db}
