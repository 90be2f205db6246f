"""Activation functions g(Z), each with its hand-derived derivative written beside it.

Every activation is an :class:`Activation`: ``fn(Z)`` computes ``A = g(Z)``,
``derivative(Z)`` is ``g'(Z)`` and ``vjp(Z, dA)`` is the backward step of the course,
``dZ = dA * g'(Z)``. For the elementwise activations ``vjp`` is exactly that product;
for softmax, whose derivative is a Jacobian, ``vjp`` is the Jacobian-vector product
``dZ = A * (dA - sum(dA * A, axis=-1))`` and never builds an ``(m, K, K)`` tensor.

>>> import jax.numpy as jnp
>>> import jaxnet as jn
>>> relu = jn.activations.get("relu")
>>> relu.fn(jnp.array([-1.0, 2.0])), relu.derivative(jnp.array([-1.0, 2.0]))
(Array([0., 2.], dtype=float32), Array([0., 1.], dtype=float32))
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "NAMES",
    "Activation",
    "get",
    "leaky_relu",
    "leaky_relu_derivative",
    "linear",
    "linear_derivative",
    "relu",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "softmax_derivative",
    "softmax_vjp",
    "tanh",
    "tanh_derivative",
]


class Activation(NamedTuple):
    """A named activation ``g`` with its derivative.

    Attributes:
      name: canonical name, e.g. ``"relu"`` or ``"leaky_relu(0.2)"``; ``get(name)``
        returns this same object, so it can live in a hashable network description.
      fn: ``Z -> A = g(Z)``, any shape ``(..., n)``.
      derivative: ``Z -> g'(Z)``, same shape as ``Z`` (for softmax: the Jacobian
        ``(..., n, n)``, for inspection only).
      vjp: ``(Z, dA) -> dZ``, the backward step; same shape as ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> tanh = jn.activations.get("tanh")
      >>> tanh.name
      'tanh'
      >>> Z = jnp.array([[0.0, 1.0]])
      >>> np.asarray(tanh.vjp(Z, jnp.ones_like(Z)), float).round(4).tolist()  # dA * (1 - tanh(Z)^2)
      [[1.0, 0.42]]
    """

    name: str
    fn: Callable[[jax.Array], jax.Array]
    derivative: Callable[[jax.Array], jax.Array]
    vjp: Callable[[jax.Array, jax.Array], jax.Array]


def _elementwise(name, fn, derivative) -> Activation:
    return Activation(name, fn, derivative, lambda Z, dA: dA * derivative(Z))


@jax.custom_jvp
def sigmoid(Z):
    """sigma(z) = 1 / (1 + e^-z), computed without overflow for any ``|z|``.

    From ``e = e^-|z|`` (in ``(0, 1]``): ``sigma(z) = 1 / (1 + e)`` for ``z >= 0`` and
    ``e / (1 + e)`` for ``z < 0``. The binary cross-entropy from the logits
    (:func:`jaxnet.losses.softplus`) computes the same ``e``, so a sigmoid output and its
    cost share one exponential per example (XLA computes it once). The derivative is given
    explicitly, ``sigma(z) (1 - sigma(z))`` (:func:`sigmoid_derivative`), exact at ``z = 0``
    where autodiff of ``|z|`` is not to be trusted.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``A = sigma(Z)``, the shape of ``Z``, values in ``[0, 1]``.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import sigmoid
      >>> np.asarray(sigmoid(jnp.array([[-1.0, 0.0, 2.0]])), float).round(4).tolist()
      [[0.2689, 0.5, 0.8808]]
      >>> float(jax.grad(lambda z: sigmoid(z))(0.0))  # sigma(0) (1 - sigma(0))
      0.25
    """
    e = jnp.exp(-jnp.abs(Z))
    return jnp.where(Z >= 0, 1, e) / (1 + e)


@sigmoid.defjvp
def _sigmoid_jvp(primals, tangents):
    """``d sigma = sigma (1 - sigma) dz``."""
    (Z,), (dZ,) = primals, tangents
    s = sigmoid(Z)
    return s, s * (1 - s) * dZ


def sigmoid_derivative(Z):
    """sigma'(z) = sigma(z) (1 - sigma(z)).

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``sigma'(Z)``, the shape of ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import sigmoid_derivative
      >>> np.asarray(sigmoid_derivative(jnp.array([[0.0, 2.0]])), float).round(4).tolist()
      [[0.25, 0.105]]
    """
    s = sigmoid(Z)
    return s * (1 - s)


def tanh(Z):
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z).

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``A = tanh(Z)``, the shape of ``Z``, values in ``(-1, 1)``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import tanh
      >>> np.asarray(tanh(jnp.array([[-1.0, 0.0, 1.0]])), float).round(4).tolist()
      [[-0.7616, 0.0, 0.7616]]
    """
    return jnp.tanh(Z)


def tanh_derivative(Z):
    """tanh'(z) = 1 - tanh(z)^2.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``tanh'(Z)``, the shape of ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import tanh_derivative
      >>> np.asarray(tanh_derivative(jnp.array([[0.0, 1.0]])), float).round(4).tolist()
      [[1.0, 0.42]]
    """
    return 1 - jnp.tanh(Z) ** 2


def relu(Z):
    """ReLU(z) = max(0, z); ``jax.grad`` takes 0 at z = 0, as :func:`relu_derivative` does.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``A = max(0, Z)``, the shape of ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import relu
      >>> np.asarray(relu(jnp.array([[-1.0, 0.0, 2.0]]))).tolist()
      [[0.0, 0.0, 2.0]]
    """
    return jax.nn.relu(Z)


def relu_derivative(Z):
    """ReLU'(z) = 1 if z > 0 else 0 (the course's choice at z = 0).

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``ReLU'(Z)``, 0s and 1s of ``Z``'s shape and dtype.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import relu_derivative
      >>> np.asarray(relu_derivative(jnp.array([[-1.0, 0.0, 2.0]]))).tolist()
      [[0.0, 0.0, 1.0]]
    """
    return (Z > 0).astype(Z.dtype)


def leaky_relu(Z, slope=0.01):
    """LeakyReLU(z) = z if z > 0 else slope * z.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).
      slope: the gradient for ``z <= 0`` (default 0.01).

    Returns:
      ``A``, the shape of ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import leaky_relu
      >>> np.asarray(leaky_relu(jnp.array([[-2.0, 3.0]]), slope=0.1), float).round(4).tolist()
      [[-0.2, 3.0]]
    """
    return jnp.where(Z > 0, Z, slope * Z)


def leaky_relu_derivative(Z, slope=0.01):
    """LeakyReLU'(z) = 1 if z > 0 else slope.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).
      slope: the gradient for ``z <= 0`` (default 0.01).

    Returns:
      ``LeakyReLU'(Z)``, the shape and dtype of ``Z``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import leaky_relu_derivative
      >>> np.asarray(leaky_relu_derivative(jnp.array([[-2.0, 3.0]]), slope=0.1), float).round(4).tolist()
      [[0.1, 1.0]]
    """
    return jnp.where(Z > 0, 1, slope).astype(Z.dtype)


def linear(Z):
    """The identity g(z) = z (regression outputs).

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      ``Z`` itself.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.activations import linear
      >>> linear(jnp.array([[-2.0, 3.0]])).tolist()
      [[-2.0, 3.0]]
    """
    return Z


def linear_derivative(Z):
    """g'(z) = 1.

    Args:
      Z: the pre-activations ``(m, n[l])`` (any shape works: elementwise).

    Returns:
      Ones of ``Z``'s shape and dtype.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.activations import linear_derivative
      >>> linear_derivative(jnp.array([[-2.0, 3.0]])).tolist()
      [[1.0, 1.0]]
    """
    return jnp.ones_like(Z)


def softmax(Z):
    """softmax(z)_k = e^{z_k} / sum_j e^{z_j} over the last axis, shifted by max(z) for stability.

    Args:
      Z: the logits ``(m, K)`` (or ``(..., K)``).

    Returns:
      ``A (m, K)``: each row positive, summing to 1.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import softmax
      >>> A = softmax(jnp.array([[1.0, 2.0, 3.0], [1000.0, 0.0, 0.0]]))
      >>> np.asarray(A, float).round(4).tolist()
      [[0.09, 0.2447, 0.6652], [1.0, 0.0, 0.0]]
    """
    e = jnp.exp(Z - jax.lax.stop_gradient(Z.max(axis=-1, keepdims=True)))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_derivative(Z):
    """The Jacobian d a_k / d z_j = a_k (delta_kj - a_j), shape ``(..., K, K)``.

    Args:
      Z: the logits ``(m, K)``.

    Returns:
      The Jacobians ``(m, K, K)``, one per example (for inspection: backprop uses
      :func:`softmax_vjp`).

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import softmax_derivative
      >>> J = softmax_derivative(jnp.zeros((1, 2)))
      >>> J.shape, np.asarray(J, float).round(4).tolist()
      ((1, 2, 2), [[[0.25, -0.25], [-0.25, 0.25]]])
    """
    A = softmax(Z)
    eye = jnp.eye(Z.shape[-1], dtype=Z.dtype).reshape((1,) * (Z.ndim - 1) + 2 * Z.shape[-1:])
    return A[..., :, None] * (eye - A[..., None, :])


def softmax_vjp(Z, dA):
    """dZ = J^T dA = A * (dA - sum_k dA_k A_k): the Jacobian-vector product, O(m K) memory.

    Args:
      Z: the logits ``(m, K)``.
      dA: ``(m, K)``, each example's ``d loss_i / dA_i``.

    Returns:
      ``dZ (m, K)``, each example's ``d loss_i / dZ_i``.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.activations import softmax_vjp
      >>> np.asarray(softmax_vjp(jnp.zeros((1, 2)), jnp.array([[1.0, 0.0]])), float).round(4).tolist()
      [[0.25, -0.25]]
    """
    A = softmax(Z)
    return A * (dA - (dA * A).sum(axis=-1, keepdims=True))


_PARAMETERLESS = {
    "sigmoid": _elementwise("sigmoid", sigmoid, sigmoid_derivative),
    "tanh": _elementwise("tanh", tanh, tanh_derivative),
    "relu": _elementwise("relu", relu, relu_derivative),
    "linear": _elementwise("linear", linear, linear_derivative),
    "softmax": Activation("softmax", softmax, softmax_derivative, softmax_vjp),
}
NAMES = (*_PARAMETERLESS, "leaky_relu")
_LEAKY = re.compile(r"leaky_relu(?:\((?:slope=)?([^)]+)\))?")


@functools.cache
def _leaky(slope: float) -> Activation:
    name = "leaky_relu" if slope == 0.01 else f"leaky_relu({slope!r})"
    return _elementwise(
        name,
        functools.partial(leaky_relu, slope=slope),
        functools.partial(leaky_relu_derivative, slope=slope),
    )


def get(name: str | Activation, **kwargs) -> Activation:
    """Look up an activation by name.

    Args:
      name: one of ``NAMES`` (case-insensitive), ``"leaky_relu(0.2)"`` for another
        slope, or an ``Activation`` (returned as it is).
      **kwargs: ``slope=`` for ``"leaky_relu"`` (default 0.01).

    Returns:
      The ``Activation``; the same object for the same arguments.

    Raises:
      ValueError: for an unknown name (the message lists the valid ones).

    Example:
      >>> import jaxnet as jn
      >>> jn.activations.get("ReLU").name, jn.activations.get("leaky_relu", slope=0.2).name
      ('relu', 'leaky_relu(0.2)')
      >>> jn.activations.get("tanh") is jn.activations.get("tanh")
      True
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name (str) or an Activation, got {name!r}")
    key = name.strip().lower().replace("-", "_")
    if key in _PARAMETERLESS and not kwargs:
        return _PARAMETERLESS[key]
    leaky = _LEAKY.fullmatch(key)
    if leaky and set(kwargs) <= {"slope"}:
        slope = kwargs.get("slope", leaky.group(1) or 0.01)
        try:
            slope = float(slope)
        except (TypeError, ValueError):
            slope = float("nan")  # not a number: the message below
        if slope != slope or abs(slope) == float("inf"):  # NaN or infinite
            raise ValueError(
                f"activation {name!r}: slope must be a finite number, got {kwargs.get('slope', leaky.group(1))!r}"
            )
        return _leaky(slope)
    valid = ", ".join(NAMES)
    extra = f" with arguments {kwargs}" if kwargs else ""
    raise ValueError(f"unknown activation {name!r}{extra}; expected one of: {valid}")
