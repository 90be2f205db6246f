"""The dense layer, batch-first: linear and dense (linear -> activation) building blocks.

Shapes (``m`` examples along axis 0): ``A_prev`` is ``(m, n[l-1])``, ``W`` is
``(n[l], n[l-1])``, ``b`` is ``(n[l],)``, ``Z`` and ``A`` are ``(m, n[l])``.

Forward:  ``Z = A_prev W^T + b``  (one example: ``z = W a_prev + b``),  ``A = g(Z)``.
Backward: ``dZ = dA * g'(Z)``, ``dW = dZ^T A_prev / m``, ``db = mean(dZ, axis=0)``,
``dA_prev = dZ W``. The caches are the course's: ``linear_cache = (A_prev, W, b)`` and
``cache = (linear_cache, Z)``.

:class:`Dense` bundles them as a layer (see :mod:`jaxnet.layers.base`): the triple
``init / forward / backward`` that a network composes.
"""

from __future__ import annotations

import functools
import numbers

import jax
import jax.numpy as jnp

from jaxnet import activations, initializers, limits
from jaxnet.layers._matmul import is_small, matmul
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_activation, check_int, check_l2

__all__ = [
    "Dense",
    "dense_backward",
    "dense_forward",
    "linear_backward",
    "linear_forward",
]

LinearCache = tuple[jax.Array, jax.Array, jax.Array]
DenseCache = tuple[LinearCache, jax.Array]


def linear_forward(A_prev, W, b) -> tuple[jax.Array, LinearCache]:
    """``Z = A_prev W^T + b``; returns ``(Z (m, n[l]), cache = (A_prev, W, b))``.

    Args:
      A_prev: ``(m, n[l-1])``, the previous layer's activations.
      W: ``(n[l], n[l-1])``.
      b: ``(n[l],)``.

    Returns:
      ``(Z, cache)``: ``Z (m, n[l])`` and the course's ``linear_cache = (A_prev, W, b)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import linear_forward
      >>> Z, cache = linear_forward(jnp.ones((2, 3)), jnp.ones((4, 3)), jnp.arange(4.0))
      >>> Z.shape, Z[0].tolist()
      ((2, 4), [3.0, 4.0, 5.0, 6.0])
    """
    Z = matmul(A_prev, W.T, is_small(W))
    return Z + jnp.broadcast_to(b, Z.shape), (A_prev, W, b)  # explicit: no rank promotion


def linear_backward(dZ, cache: LinearCache):
    """Gradients of the mean cost through ``Z = A_prev W^T + b``.


    Args:
      dZ: ``(m, n[l])``, the derivative of each example's loss with respect to ``Z``.
      cache: ``(A_prev, W, b)`` from :func:`linear_forward`.

    Returns:
      ``(dA_prev (m, n[l-1]), dW (n[l], n[l-1]), db (n[l],))`` with
      ``dW = dZ^T A_prev / m``, ``db = mean(dZ, axis=0)``, ``dA_prev = dZ W``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import linear_backward, linear_forward
      >>> Z, cache = linear_forward(jnp.ones((2, 3)), jnp.ones((4, 3)), jnp.zeros(4))
      >>> dA_prev, dW, db = linear_backward(jnp.ones((2, 4)), cache)
      >>> dA_prev.shape, dW.shape, db.shape, dW[0].tolist()
      ((2, 3), (4, 3), (4,), [1.0, 1.0, 1.0])
    """
    A_prev, W, _ = cache
    m = A_prev.shape[0]
    return matmul(dZ, W, is_small(W)), dZ.T @ A_prev / m, dZ.mean(axis=0)


def dense_forward(A_prev, W, b, activation="relu") -> tuple[jax.Array, DenseCache]:
    """``A = g(A_prev W^T + b)``; returns ``(A (m, n[l]), cache = (linear_cache, Z))``.

    The course's ``linear_activation_forward``.

    Args:
      A_prev: ``(m, n[l-1])``.
      W: ``(n[l], n[l-1])``.
      b: ``(n[l],)``.
      activation: a name of :mod:`jaxnet.activations` (default ``"relu"``).

    Returns:
      ``(A, cache)``: ``A (m, n[l])`` and ``((A_prev, W, b), Z (m, n[l]))``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import dense_forward
      >>> W, b = jnp.array([[1.0, -1.0]]), jnp.zeros(1)
      >>> A, (linear_cache, Z) = dense_forward(jnp.array([[2.0, 1.0], [1.0, 2.0]]), W, b, "relu")
      >>> A.tolist(), Z.tolist()
      ([[1.0], [0.0]], [[1.0], [-1.0]])
    """
    Z, linear_cache = linear_forward(A_prev, W, b)
    return activations.get(activation).fn(Z), (linear_cache, Z)


def dense_backward(dA, cache: DenseCache, activation="relu"):
    """``dZ = dA * g'(Z)`` (a Jacobian-vector product for softmax), then :func:`linear_backward`.

    The course's ``linear_activation_backward``.

    Args:
      dA: ``(m, n[l])``, each example's ``d loss_i / dA_i``.
      cache: ``(linear_cache, Z)`` from :func:`dense_forward`.
      activation: the forward's activation (default ``"relu"``).

    Returns:
      ``(dA_prev (m, n[l-1]), dW (n[l], n[l-1]), db (n[l],))``: the shapes of ``(A_prev, W, b)``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import dense_backward, dense_forward
      >>> W, b = jnp.array([[1.0, -1.0]]), jnp.zeros(1)
      >>> A, cache = dense_forward(jnp.array([[2.0, 1.0], [1.0, 2.0]]), W, b, "relu")
      >>> dA_prev, dW, db = dense_backward(jnp.ones((2, 1)), cache, "relu")
      >>> dA_prev.shape, dW.tolist(), db.tolist()  # only the first example passes the ReLU
      ((2, 2), [[1.0, 0.5]], [0.5])
    """
    linear_cache, Z = cache
    return linear_backward(activations.get(activation).vjp(Z, dA), linear_cache)


class Dense(Layer):
    """A fully connected layer of ``units`` neurons: the course's ``linear -> activation`` block.

    Params ``{"W": (units, n[l-1]), "b": (units,)}``; input ``(m, n[l-1])``, output
    ``(m, units)``; on a sequence ``(m, T, n[l-1])`` it acts at every step (Keras's
    ``TimeDistributed(Dense)``), output ``(m, T, units)``. ``activation`` is any name of :mod:`jaxnet.activations` (kept in its
    canonical form, so equal layers compare and hash equal). ``l2`` is the course's λ:
    the network adds ``(λ / 2m) ||W||^2`` to the cost and ``(λ / m) W`` to ``dW``
    (``b`` is never decayed); see ``jaxnet.network.penalty``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import Dense
      >>> Dense(4, "ReLU")
      Dense(units=4, activation='relu')
      >>> Dense(4, "relu", l2=0.7)
      Dense(units=4, activation='relu', l2=0.7)
      >>> layer = Dense(4, "tanh")
      >>> params = layer.init(jax.random.key(0), (3,))
      >>> A, cache = layer.forward(params, jnp.ones((2, 3)))
      >>> A.shape, [g.shape for g in layer.backward(params, cache, jnp.ones((2, 4)))[1].values()]
      ((2, 4), [(4, 3), (4,)])
    """

    kind = "dense"
    units: int = field(
        check=functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["units"])
    )
    activation: str = field(default="relu", check=check_activation)
    l2: float = field(default=0.0, check=check_l2, omit_default=True)

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """``(units,)`` for a vector of ``n[l-1]`` features per example; ``(T, units)`` for a
        sequence ``(T, n[l-1])`` (the same weights at every step)."""
        input_shape = _vector_shape(input_shape)
        if len(input_shape) not in (1, 2):
            raise ValueError(
                f"Dense expects a vector of features (n,) or a sequence (T, n) per example, "
                f"got input shape {input_shape}: put a Flatten() before it"
            )
        return (*input_shape[:-1], self.units)

    def param_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """``{"W": (units, n[l-1]), "b": (units,)}``."""
        n_prev = _vector_shape(input_shape)[-1]
        return {"W": (self.units, n_prev), "b": (self.units,)}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """``{"W": drawn by scheme, "b": zeros}`` (``"pytorch"`` draws ``b`` too; see
        :func:`jaxnet.initializers.kernel_and_bias`); ``input_shape`` is ``(n[l-1],)`` (or the int)."""
        shapes = self.param_shapes(input_shape)
        return initializers.kernel_and_bias(
            key, scheme, shapes["W"], shapes["b"], dtype, scale=scale
        )

    def forward(
        self, params: dict, A_prev, *, key=None, train=False, weights=None
    ) -> tuple[jax.Array, DenseCache]:
        """``(A (m, units), cache)`` for ``A_prev (m, n[l-1])``, ``(A (m, T, units), cache)`` for a
        sequence ``A_prev (m, T, n[l-1])`` (its ``m T`` steps as rows); ``key``, ``train``,
        ``weights`` unused."""
        del key, train, weights
        if A_prev.ndim == 3:
            m, T, n_prev = A_prev.shape
            rows = A_prev.reshape(m * T, n_prev)
            A, cache = dense_forward(rows, params["W"], params["b"], self.activation)
            return A.reshape(m, T, -1), cache
        return dense_forward(A_prev, params["W"], params["b"], self.activation)

    def backward(self, params: dict, cache: DenseCache, dA) -> tuple[jax.Array, dict]:
        """``(dA_prev, {"W": dW, "b": db})`` given ``dA (m, units)`` or ``(m, T, units)``; for a
        sequence the gradient of the mean over the ``m`` examples sums over the steps:
        ``dW = (1/m) sum_{i,t} dZ_it^T A_prev_it``."""
        del params  # the cache holds W
        if dA.ndim == 3:
            m, T, units = dA.shape
            dA_prev, dW, db = dense_backward(dA.reshape(m * T, units), cache, self.activation)
            return dA_prev.reshape(m, T, -1), {"W": dW * T, "b": db * T}
        dA_prev, dW, db = dense_backward(dA, cache, self.activation)
        return dA_prev, {"W": dW, "b": db}


def _vector_shape(input_shape) -> tuple[int, ...]:
    """``input_shape`` as a tuple; an int ``n`` means ``(n,)``."""
    if isinstance(input_shape, numbers.Integral):
        return (int(input_shape),)
    return tuple(input_shape)
