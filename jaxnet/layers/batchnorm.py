"""Batch normalisation (course 2, week 3; Ioffe & Szegedy, 2015) with a closed-form hand-derived backward.

Per feature, the last axis: statistics are taken over every other axis, so one layer
normalises dense activations ``(m, n)`` per unit and conv outputs ``(m, n_H, n_W, n_C)``
per channel. With ``N`` values per feature (``m``, or ``m n_H n_W``)::

    mu = (1/N) sum_j x_j       var = (1/N) sum_j (x_j - mu)^2        (the biased variance)
    xhat = (x - mu) / sqrt(var + eps)       y = gamma xhat + beta

Backward (``dY`` per example, as every layer receives it)::

    dX = gamma / (N sqrt(var + eps)) * (N dY - sum_j dY_j - xhat sum_j dY_j xhat_j)
    dgamma = (1/m) sum_j dY_j xhat_j        dbeta = (1/m) sum_j dY_j

With example weights ``w (m,)`` (rows of weight 0 are padding) every ``1/N`` becomes
the weight ``p_j = w_i / (n_H n_W sum(w))`` of value ``j`` in example ``i``:
``mu = sum_j p_j x_j``, ``var = sum_j p_j (x_j - mu)^2`` and
``dX = gamma / sqrt(var + eps) * (dY - p (sum_j dY_j + xhat sum_j dY_j xhat_j))``.

At inference the moving averages replace the batch statistics:
``y = gamma (x - moving_mean) / sqrt(moving_var + eps) + beta`` and ``dX = gamma dY / sqrt(moving_var + eps)``.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_real

__all__ = [
    "BatchNorm",
    "BatchNormCache",
    "batchnorm_backward",
    "batchnorm_forward",
    "batchnorm_inference",
]


@dataclasses.dataclass(frozen=True)
class BatchNormCache:
    """``xhat``, ``gamma``, ``inv_std = 1/sqrt(var + eps)`` (keepdims), the value weights ``p``.


    ``p`` is None for the uniform ``1/N``, else ``(m, 1, ..., 1)``; ``train`` (static) says
    whether batch statistics were used (their gradient terms) or the moving averages.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import batchnorm_forward
      >>> Y, cache, _ = batchnorm_forward(jnp.array([[1.0], [3.0]]), jnp.ones(1), jnp.zeros(1))
      >>> cache.xhat.shape, cache.inv_std.shape, cache.p, cache.train
      ((2, 1), (1, 1), None, True)
    """

    xhat: jax.Array
    gamma: jax.Array
    inv_std: jax.Array
    p: jax.Array | None
    train: bool


jax.tree_util.register_dataclass(
    BatchNormCache, data_fields=("xhat", "gamma", "inv_std", "p"), meta_fields=("train",)
)


def _per_feature(v, ndim: int):
    """``(n_C,)`` -> ``(1, ..., 1, n_C)``: explicit broadcasting (no rank promotion)."""
    return v.reshape((1,) * (ndim - 1) + (-1,))


def value_weights(weights, shape):
    """``p (m, 1, ..., 1)``: each value of example ``i`` weighs ``w_i / (sum(w) * values per example)``."""
    per_example = math.prod(shape[1:-1])
    p = weights / (weights.sum() * per_example)
    return p.reshape((shape[0],) + (1,) * (len(shape) - 1))


def batchnorm_forward(X, gamma, beta, *, epsilon=1e-3, weights=None):
    """Normalise ``X (m, ..., n_C)`` with its batch statistics per feature (the last axis).


    Args:
      X: ``(m, n)`` or ``(m, n_H, n_W, n_C)``.
      gamma, beta: ``(n_C,)``.
      epsilon: added to the variance.
      weights: ``(m,)`` or None; rows of weight 0 do not enter the statistics.

    Returns:
      ``(Y, cache, (batch_mean, batch_var))``, the statistics ``(n_C,)`` (biased variance).

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.layers import batchnorm_forward
      >>> X = jnp.array([[1.0, 10.0], [3.0, 10.0]])
      >>> Y, cache, (mean, var) = batchnorm_forward(X, jnp.ones(2), jnp.zeros(2), epsilon=1e-3)
      >>> np.asarray(Y, float).round(4).tolist(), mean.tolist(), var.tolist()
      ([[-0.9995, 0.0], [0.9995, 0.0]], [2.0, 10.0], [1.0, 0.0])
    """
    axes = tuple(range(X.ndim - 1))
    if weights is None:
        p = None
        mu = X.mean(axis=axes, keepdims=True)
        d = X - mu
        var = (d * d).mean(axis=axes, keepdims=True)
    else:
        p = value_weights(weights.astype(X.dtype), X.shape)
        mu = (p * X).sum(axis=axes, keepdims=True)
        d = X - mu
        var = (p * d * d).sum(axis=axes, keepdims=True)
    inv_std = lax.rsqrt(var + epsilon)
    xhat = d * inv_std
    Y = _per_feature(gamma, X.ndim) * xhat + _per_feature(beta, X.ndim)
    n_C = X.shape[-1]
    return Y, BatchNormCache(xhat, gamma, inv_std, p, True), (mu.reshape(n_C), var.reshape(n_C))


def batchnorm_inference(X, gamma, beta, moving_mean, moving_var, *, epsilon=1e-3):
    """``Y = gamma (X - moving_mean) / sqrt(moving_var + eps) + beta``; returns ``(Y, cache)``.

    Args:
      X: ``(m, n)`` or ``(m, n_H, n_W, n_C)``.
      gamma: ``(n_C,)``, the trained scale.
      beta: ``(n_C,)``, the trained shift.
      moving_mean: ``(n_C,)``.
      moving_var: ``(n_C,)``.
      epsilon: added to the variance.

    Returns:
      ``(Y, cache)``: ``Y`` the shape of ``X``, and the cache for :func:`batchnorm_backward`.

    Example:
      >>> import jax.numpy as jnp, numpy as np
      >>> from jaxnet.layers import batchnorm_inference
      >>> Y, cache = batchnorm_inference(jnp.array([[3.0]]), jnp.array([2.0]), jnp.array([1.0]),
      ...                                jnp.array([1.0]), jnp.array([4.0]), epsilon=0.0)
      >>> Y.tolist()  # 2 * (3 - 1) / 2 + 1
      [[3.0]]
    """
    inv_std = lax.rsqrt(_per_feature(moving_var, X.ndim) + epsilon)
    xhat = (X - _per_feature(moving_mean, X.ndim)) * inv_std
    Y = _per_feature(gamma, X.ndim) * xhat + _per_feature(beta, X.ndim)
    return Y, BatchNormCache(xhat, gamma, inv_std, None, False)


def batchnorm_backward(dY, cache: BatchNormCache):
    """The closed-form gradients of :func:`batchnorm_forward` (or of :func:`batchnorm_inference`).


    Args:
      dY: the shape of ``X``, each example's ``d loss_i / d Y_i``.
      cache: from the forward.

    Returns:
      ``(dX, dgamma (n_C,), dbeta (n_C,))``: ``dX`` per example, ``dgamma``, ``dbeta`` of the mean cost.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import batchnorm_backward, batchnorm_forward
      >>> X = jnp.array([[1.0, 10.0], [3.0, 10.0]])
      >>> Y, cache, _ = batchnorm_forward(X, jnp.ones(2), jnp.zeros(2))
      >>> dX, dgamma, dbeta = batchnorm_backward(jnp.ones((2, 2)), cache)
      >>> dX.shape, dgamma.shape, dbeta.tolist()  # a constant dY moves no normalised value
      ((2, 2), (2,), [1.0, 1.0])
    """
    xhat, gamma, inv_std, p = cache.xhat, cache.gamma, cache.inv_std, cache.p
    m, axes = dY.shape[0], tuple(range(dY.ndim - 1))
    sum_dY = dY.sum(axis=axes, keepdims=True)
    sum_dY_xhat = (dY * xhat).sum(axis=axes, keepdims=True)
    scale = _per_feature(gamma, dY.ndim) * inv_std
    if not cache.train:
        dX = scale * dY
    else:
        p = 1 / math.prod(dY.shape[:-1]) if p is None else p
        dX = scale * (dY - p * (sum_dY + xhat * sum_dY_xhat))
    n_C = dY.shape[-1]
    return dX, sum_dY_xhat.reshape(n_C) / m, sum_dY.reshape(n_C) / m


def _check_batch(shape, weights) -> None:
    """Batch statistics need more than one value per feature (``m n_H n_W > 1``, real rows only)."""
    per_example = math.prod(shape[1:-1])
    if shape[0] * per_example == 1:
        raise ValueError(
            f"BatchNorm in training needs more than one value per feature for its batch "
            f"statistics; got a batch of size m=1 (A_prev shape {tuple(shape)}): train on "
            "batches of 2 or more, or use train=False"
        )
    if weights is None or per_example > 1:
        return
    try:
        rows = int(np.count_nonzero(np.asarray(weights)))
    except jax.errors.TracerArrayConversionError:
        return  # traced weights: the shape check above is all that can be done here
    if rows < 2:
        raise ValueError(
            f"BatchNorm in training needs more than one example with non-zero weight; got "
            f"weights with {rows} non-zero row(s) in a batch of size m={shape[0]}"
        )


class BatchNorm(Layer):
    """Batch normalisation per feature (the last axis): Keras's defaults ``momentum=0.99``, ``epsilon=1e-3``.


    Params ``{"gamma": 1, "beta": 0, "moving_mean": 0, "moving_var": 1}``, each ``(n_C,)``;
    ``moving_mean`` and ``moving_var`` are not trained (``non_trainable``): a training
    forward leaves their next values in the cache, ``stats(cache)`` returns them,
    ``moving = momentum * moving + (1 - momentum) * batch`` with the batch's biased
    variance, as Keras updates them (PyTorch's running variance uses the unbiased one).

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> from jaxnet.layers import BatchNorm
      >>> layer = BatchNorm(momentum=0.9)
      >>> params = layer.init(jax.random.key(0), (2,))
      >>> sorted(params), layer.non_trainable
      (['beta', 'gamma', 'moving_mean', 'moving_var'], ('moving_mean', 'moving_var'))
      >>> A, cache = layer.forward(params, jnp.array([[1.0, 0.0], [3.0, 0.0]]), train=True)
      >>> np.asarray(layer.stats(cache)["moving_mean"], float).round(4).tolist()  # 0.9 * 0 + 0.1 * 2
      [0.2, 0.0]
    """

    kind = "batch_norm"
    non_trainable = ("moving_mean", "moving_var")
    momentum: float = field(
        default=0.99, check=functools.partial(check_real, minimum=0.0, maximum=1.0)
    )
    epsilon: float = field(
        default=1e-3, check=functools.partial(check_real, minimum=0.0, strict=True)
    )

    def output_shape(self, input_shape) -> tuple:
        """The input shape (at least one axis: the features)."""
        if len(input_shape) == 0:
            raise ValueError("BatchNorm needs inputs with a feature axis; got per-example shape ()")
        return tuple(input_shape)

    def param_shapes(self, input_shape) -> dict[str, tuple]:
        """``gamma``, ``beta``, ``moving_mean``, ``moving_var``: each ``(n_C,)``, ``n_C = input_shape[-1]``."""
        n_C = self.output_shape(input_shape)[-1]
        return {name: (n_C,) for name in ("gamma", "beta", "moving_mean", "moving_var")}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """``gamma = 1``, ``beta = 0``, ``moving_mean = 0``, ``moving_var = 1`` (``key``, ``scheme`` unused)."""
        del key, scheme, scale
        shapes = self.param_shapes(input_shape)
        fill = {"gamma": 1, "beta": 0, "moving_mean": 0, "moving_var": 1}
        return {name: jnp.full(shape, fill[name], dtype) for name, shape in shapes.items()}

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, cache)``: batch statistics (``weights`` honoured) in training, moving averages otherwise."""
        del key
        if A_prev.ndim < 2 or A_prev.shape[-1] != params["gamma"].shape[0]:
            raise ValueError(
                f"BatchNorm params have n_C={params['gamma'].shape[0]} features; got A_prev of "
                f"shape {A_prev.shape} (expected (m, ..., {params['gamma'].shape[0]}))"
            )
        gamma, beta = params["gamma"], params["beta"]
        old = {"moving_mean": params["moving_mean"], "moving_var": params["moving_var"]}
        if not train:
            Y, cache = batchnorm_inference(
                A_prev, gamma, beta, old["moving_mean"], old["moving_var"], epsilon=self.epsilon
            )
            return Y, (cache, old)
        _check_batch(A_prev.shape, weights)
        Y, cache, batch = batchnorm_forward(
            A_prev, gamma, beta, epsilon=self.epsilon, weights=weights
        )
        new = {
            name: (self.momentum * value + (1 - self.momentum) * stat).astype(value.dtype)
            for (name, value), stat in zip(old.items(), batch)
        }
        return Y, (cache, new)

    def backward(self, params, cache, dA):
        """``(dA_prev, {"gamma", "beta", "moving_mean": 0, "moving_var": 0})`` by :func:`batchnorm_backward`."""
        dX, dgamma, dbeta = batchnorm_backward(dA, cache[0])
        zeros = {name: jnp.zeros_like(params[name]) for name in self.non_trainable}
        return dX, {"gamma": dgamma, "beta": dbeta, **zeros}

    def stats(self, cache) -> dict:
        """``{"moving_mean", "moving_var"}`` after this forward (unchanged after an inference forward)."""
        return dict(cache[1])
