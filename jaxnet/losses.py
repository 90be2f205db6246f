"""Costs J and their hand-derived gradients: binary and categorical cross-entropy, squared error.

Every cost is the course's J: the mean over the m examples of a per-example loss,
``J = (1/m) sum_i loss(a_i, y_i)`` (a weighted mean when example weights are given,
which the training loop uses to mask padded examples). ``A`` and ``Y`` are ``(m, n_L)``.

A network that outputs a sequence (``(m, T, n_L)``: a softmax at every step, a language
model's next character, a translator's output characters) has one loss per step,
``(m, T)``; each example's loss is the mean over its real steps,
``loss_i = sum_t s_it loss_it`` with the step weights ``s_it = mask_it / sum_t mask_it``
(:func:`step_weights`; ``1 / T`` without a mask), so padded steps count zero and a padded
sequence has the loss of the sequence alone (:func:`mean_over_steps`). Keras's masked loss
is instead the mean over all the batch's real steps; the two agree when every sequence has
the same number of real steps.

* binary cross-entropy, ``loss = -sum_k [y_k log a_k + (1 - y_k) log(1 - a_k)]``
  (for one output unit this is exactly the course's logistic-regression cost);
* categorical cross-entropy, ``loss = -sum_k y_k log a_k`` with one-hot ``y``;
* squared error, ``loss = 1/2 sum_k (a_k - y_k)^2`` (the course's 1/2, so that
  ``dA = A - Y``; history reports Keras's ``mse = mean((a - y)^2)`` separately).

The gradients here are the course's ``dA[L]``: the derivative of each example's loss
with respect to its output, ``(m, n_L)``; the ``1/m`` is applied later, in
``linear_backward`` (``dW = dZ^T A_prev / m``). Each cross-entropy is paired with the
activation for which the gradient through it fuses to ``dZ[L] = A[L] - Y`` (sigmoid,
softmax; linear for squared error), and has a form computed from the logits ``Z[L]``
that never takes ``log(0)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "BINARY_CROSS_ENTROPY",
    "CATEGORICAL_CROSS_ENTROPY",
    "MEAN_SQUARED_ERROR",
    "NAMES",
    "Loss",
    "binary_cross_entropy",
    "binary_cross_entropy_from_logits",
    "binary_cross_entropy_gradient",
    "categorical_cross_entropy",
    "categorical_cross_entropy_from_logits",
    "categorical_cross_entropy_gradient",
    "for_output",
    "get",
    "mean_squared_error",
    "mean_over_steps",
    "mean_squared_error_gradient",
    "reduce_mean",
    "softplus",
    "step_weights",
]


class Loss(NamedTuple):
    """A cost with its gradient.


    Attributes:
      name: canonical name.
      per_example: ``(A, Y) -> (m,)`` losses from the output activations.
      per_example_from_logits: ``(Z, Y) -> (m,)`` from the logits of ``fused_activation``.
      gradient: ``(A, Y) -> dA``, the course's unfused ``dA[L]``, ``(m, n_L)``.
      fused_activation: the output activation for which ``dZ[L] = A[L] - Y``.

    Example:
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> bce = jn.losses.get("bce")
      >>> bce.name, bce.fused_activation
      ('binary_cross_entropy', 'sigmoid')
      >>> bce.per_example(jnp.array([[0.5], [0.5]]), jnp.array([[1.0], [0.0]])).shape
      (2,)
    """

    name: str
    per_example: Callable[[jax.Array, jax.Array], jax.Array]
    per_example_from_logits: Callable[[jax.Array, jax.Array], jax.Array]
    gradient: Callable[[jax.Array, jax.Array], jax.Array]
    fused_activation: str


def reduce_mean(losses: jax.Array, weights: jax.Array | None = None) -> jax.Array:
    """J = sum_i w_i loss_i / sum_i w_i; the plain mean when ``weights`` is None.

    Args:
      losses: ``(m,)``, each example's loss.
      weights: ``(m,)`` non-negative example weights (0 for padding rows), or None.

    Returns:
      The scalar J, an array of shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import reduce_mean
      >>> losses = jnp.array([1.0, 2.0, 6.0])
      >>> float(reduce_mean(losses)), float(reduce_mean(losses, jnp.array([1.0, 1.0, 0.0])))
      (3.0, 1.5)
    """
    if weights is None:
        return losses.mean()
    return (weights * losses).sum() / weights.sum()


def step_weights(mask, shape, dtype):
    """``s (m, T)``: each step's weight in its example's mean, ``mask / (real steps)`` or ``1 / T``.

    Args:
      mask: ``(m, T)`` booleans (True = a real step), or None (every step real).
      shape: ``(m, T)``, the losses' shape (used when ``mask`` is None).
      dtype: the float dtype of the weights.

    Returns:
      ``(m, T)`` weights, each row summing to 1 (to 0 for a row without a real step).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import step_weights
      >>> step_weights(jnp.array([[True, True, False, False]]), (1, 4), jnp.float32).tolist()
      [[0.5, 0.5, 0.0, 0.0]]
      >>> step_weights(None, (1, 4), jnp.float32).tolist()
      [[0.25, 0.25, 0.25, 0.25]]
    """
    if mask is None:
        return jnp.full(shape, 1 / shape[-1], dtype)
    mask = mask.astype(dtype)
    return mask / jnp.maximum(mask.sum(axis=-1, keepdims=True), 1)


def mean_over_steps(losses, mask=None):
    """Each example's loss from its per-step losses: ``sum_t s_it losses_it`` (:func:`step_weights`).

    Args:
      losses: ``(m, T)``, the loss at every step; or ``(m,)``, one per example (returned as is).
      mask: ``(m, T)`` booleans (True = a real step), or None.

    Returns:
      ``(m,)``: each example's mean over its real steps.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import mean_over_steps
      >>> losses = jnp.array([[1.0, 3.0, 9.0]])
      >>> mean_over_steps(losses).tolist(), mean_over_steps(losses, jnp.array([[True, True, False]])).tolist()
      ([4.333333492279053], [2.0])
    """
    if losses.ndim == 1:
        return losses
    if mask is None:
        return losses.mean(axis=-1)
    mask = mask.astype(losses.dtype)  # the weights of step_weights, the division last (exact 1s)
    return (mask * losses).sum(axis=-1) / jnp.maximum(mask.sum(axis=-1), 1)


def _clip(A):
    eps = jnp.finfo(A.dtype).eps
    return jnp.clip(A, eps, 1 - eps)


def _as_one_hot(Y, A):
    """Integer class labels ``(m,)`` -> one-hot ``(m, K)``; one-hot ``Y`` passes through."""
    if Y.ndim == A.ndim - 1 and jnp.issubdtype(Y.dtype, jnp.integer):
        return jax.nn.one_hot(Y, A.shape[-1], dtype=A.dtype)
    return Y


def _bce(A, Y):
    A = _clip(A)
    return -(Y * jnp.log(A) + (1 - Y) * jnp.log1p(-A)).sum(axis=-1)


def _softplus_and_exp(z):
    """``(softplus(z), e^-|z|)``: the value and the exponential its derivative reuses."""
    e = jnp.exp(-jnp.abs(z))
    return jnp.maximum(z, 0) + jnp.log1p(e), e


@jax.custom_jvp
def softplus(z):
    """``log(1 + e^z) = max(z, 0) + log1p(e^-|z|)``, stable for any ``z``, with its derivative
    ``s(z)`` given explicitly (exact at every ``z``, including the kinks of ``max`` and ``|z|``
    at 0, where autodiff of the formula is not to be trusted).

    Args:
      z: an array of any shape.

    Returns:
      ``softplus(z)``, the shape of ``z``.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> from jaxnet.losses import softplus
      >>> np.asarray(softplus(jnp.array([-1000.0, 0.0, 1000.0])), float).round(4).tolist()
      [0.0, 0.6931, 1000.0]
      >>> float(jax.grad(softplus)(0.0))  # the sigmoid at 0
      0.5
    """
    return _softplus_and_exp(z)[0]


@softplus.defjvp
def _softplus_jvp(primals, tangents):
    """``s(z) = 1 / (1 + e^-z)`` from the same ``e = e^-|z|`` as the value: one exponential."""
    (z,), (dz,) = primals, tangents
    value, e = _softplus_and_exp(z)
    return value, jnp.where(z >= 0, 1, e) / (1 + e) * dz


def _bce_from_logits(Z, Y):
    # -[y log s(z) + (1-y) log(1-s(z))] = log(1 + e^z) - z y
    return (softplus(Z) - Z * Y).sum(axis=-1)


def _bce_gradient(A, Y):
    return -(Y / A - (1 - Y) / (1 - A))


def _cce(A, Y):
    return -(_as_one_hot(Y, A) * jnp.log(_clip(A))).sum(axis=-1)


def _cce_from_logits(Z, Y):
    return jax.nn.logsumexp(Z, axis=-1) - (_as_one_hot(Y, Z) * Z).sum(axis=-1)


def _cce_gradient(A, Y):
    return -_as_one_hot(Y, A) / A


def _squared_error(A, Y):
    return 0.5 * ((A - Y) ** 2).sum(axis=-1)


def _squared_error_gradient(A, Y):
    return A - Y


BINARY_CROSS_ENTROPY = Loss(
    "binary_cross_entropy", _bce, _bce_from_logits, _bce_gradient, "sigmoid"
)
CATEGORICAL_CROSS_ENTROPY = Loss(
    "categorical_cross_entropy", _cce, _cce_from_logits, _cce_gradient, "softmax"
)
MEAN_SQUARED_ERROR = Loss(
    "mean_squared_error", _squared_error, _squared_error, _squared_error_gradient, "linear"
)
_LOSSES = {
    loss.name: loss
    for loss in (BINARY_CROSS_ENTROPY, CATEGORICAL_CROSS_ENTROPY, MEAN_SQUARED_ERROR)
}
_ALIASES = {
    "bce": "binary_cross_entropy",
    "cce": "categorical_cross_entropy",
    "mse": "mean_squared_error",
}
NAMES = tuple(_LOSSES)


def get(name: str | Loss) -> Loss:
    """Look up a loss by name (or alias ``bce``, ``cce``, ``mse``); a ``Loss`` passes through.

    Args:
      name: a name of ``NAMES`` or an alias (case-insensitive), or a :class:`Loss`.

    Returns:
      The :class:`Loss` (one of the module's constants, e.g. ``BINARY_CROSS_ENTROPY``).

    Raises:
      TypeError: ``name`` is not a str or a :class:`Loss`.
      ValueError: for an unknown name (the message lists the valid ones).

    Example:
      >>> import jaxnet as jn
      >>> jn.losses.get("cce").name
      'categorical_cross_entropy'
      >>> jn.losses.get("MSE") is jn.losses.MEAN_SQUARED_ERROR
      True
    """
    if isinstance(name, Loss):
        return name
    if not isinstance(name, str):
        raise TypeError(
            f"loss must be a name ({', '.join(NAMES)}) or a jaxnet.losses.Loss, got "
            f"loss={name!r:.80} of type {type(name).__name__}"
        )
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _LOSSES:
        raise ValueError(
            f"unknown loss {name!r}; expected one of: {', '.join(NAMES)} (or bce, cce, mse)"
        )
    return _LOSSES[key]


def for_output(activation_name: str) -> Loss:
    """The loss that follows an output activation: sigmoid -> BCE, softmax -> CCE, else MSE.

    Args:
      activation_name: the canonical name of the output activation, e.g. ``"sigmoid"``.

    Returns:
      The :class:`Loss` whose gradient fuses with that activation (``dZ[L] = A[L] - Y``).

    Example:
      >>> import jaxnet as jn
      >>> [jn.losses.for_output(a).name for a in ("sigmoid", "softmax", "linear")]
      ['binary_cross_entropy', 'categorical_cross_entropy', 'mean_squared_error']
    """
    return {"sigmoid": BINARY_CROSS_ENTROPY, "softmax": CATEGORICAL_CROSS_ENTROPY}.get(
        activation_name, MEAN_SQUARED_ERROR
    )


def binary_cross_entropy(A, Y, weights=None):
    """J = -(1/m) sum_i [y log a + (1 - y) log(1 - a)] from probabilities ``A`` (m, n_L).

    ``A`` is clipped to ``[eps, 1 - eps]`` so that a saturated sigmoid gives a finite cost.

    Args:
      A: the output probabilities ``(m, n_L)``.
      Y: the labels ``(m, n_L)``, 0 or 1.
      weights: ``(m,)`` example weights, or None for the plain mean.

    Returns:
      The scalar J, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import binary_cross_entropy
      >>> round(float(binary_cross_entropy(jnp.array([[0.5]]), jnp.array([[1.0]]))), 4)  # log 2
      0.6931
    """
    return reduce_mean(_bce(A, Y), weights)


def binary_cross_entropy_from_logits(Z, Y, weights=None):
    """The same J from the logits ``Z = W A_prev + b`` (m, n_L); finite for any Z.

    Per example ``log(1 + e^z) - z y`` (``softplus``), equal to the cross-entropy of
    ``a = sigmoid(z)`` without forming ``a``.

    Args:
      Z: the output logits ``(m, n_L)``.
      Y: the labels ``(m, n_L)``, 0 or 1.
      weights: ``(m,)`` example weights, or None for the plain mean.

    Returns:
      The scalar J, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import binary_cross_entropy_from_logits
      >>> round(float(binary_cross_entropy_from_logits(jnp.array([[0.0]]), jnp.array([[1.0]]))), 4)
      0.6931
      >>> float(binary_cross_entropy_from_logits(jnp.array([[-200.0]]), jnp.array([[1.0]])))
      200.0
    """
    return reduce_mean(_bce_from_logits(Z, Y), weights)


def binary_cross_entropy_gradient(A, Y):
    """The course's ``dA[L] = -(Y / A - (1 - Y) / (1 - A))``, (m, n_L).

    Args:
      A: the output probabilities ``(m, n_L)``.
      Y: the labels ``(m, n_L)``, 0 or 1.

    Returns:
      ``dA[L] (m, n_L)``, each example's ``d loss_i / dA_i`` (no ``1/m``).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import binary_cross_entropy_gradient
      >>> binary_cross_entropy_gradient(jnp.array([[0.5], [0.5]]), jnp.array([[1.0], [0.0]])).tolist()
      [[-2.0], [2.0]]
    """
    return _bce_gradient(A, Y)


def categorical_cross_entropy(A, Y, weights=None):
    """J = -(1/m) sum_i sum_k y_k log a_k; ``A`` softmax outputs (m, K), ``Y`` one-hot (m, K) or labels (m,).

    Args:
      A: the softmax outputs ``(m, K)``.
      Y: one-hot labels ``(m, K)`` or integer class labels ``(m,)``.
      weights: ``(m,)`` example weights, or None for the plain mean.

    Returns:
      The scalar J, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import categorical_cross_entropy
      >>> A = jnp.array([[0.25, 0.75], [0.5, 0.5]])
      >>> round(float(categorical_cross_entropy(A, jnp.array([1, 0]))), 4)  # -(log .75 + log .5) / 2
      0.4904
    """
    return reduce_mean(_cce(A, Y), weights)


def categorical_cross_entropy_from_logits(Z, Y, weights=None):
    """The same J from logits (m, K): ``logsumexp(z) - z[y]``; finite for any Z.

    Args:
      Z: the output logits ``(m, K)``.
      Y: one-hot labels ``(m, K)`` or integer class labels ``(m,)``.
      weights: ``(m,)`` example weights, or None for the plain mean.

    Returns:
      The scalar J, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import categorical_cross_entropy_from_logits
      >>> round(float(categorical_cross_entropy_from_logits(jnp.zeros((1, 4)), jnp.array([2]))), 4)  # log 4
      1.3863
    """
    return reduce_mean(_cce_from_logits(Z, Y), weights)


def categorical_cross_entropy_gradient(A, Y):
    """``dA[L] = -Y / A``, (m, K).

    Args:
      A: the softmax outputs ``(m, K)``.
      Y: one-hot labels ``(m, K)`` or integer class labels ``(m,)``.

    Returns:
      ``dA[L] (m, K)``, each example's ``d loss_i / dA_i``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import categorical_cross_entropy_gradient
      >>> dA = categorical_cross_entropy_gradient(jnp.array([[0.25, 0.75]]), jnp.array([1]))
      >>> dA.shape, float(dA[0, 0]) == 0, round(float(dA[0, 1]), 4)  # -1 / 0.75
      ((1, 2), True, -1.3333)
    """
    return _cce_gradient(A, Y)


def mean_squared_error(A, Y, weights=None):
    """J = (1/m) sum_i 1/2 ||a_i - y_i||^2, the course's cost with its 1/2.

    Args:
      A: the outputs ``(m, n_L)``.
      Y: the targets ``(m, n_L)``.
      weights: ``(m,)`` example weights, or None for the plain mean.

    Returns:
      The scalar J, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import mean_squared_error
      >>> float(mean_squared_error(jnp.array([[1.0], [3.0]]), jnp.array([[0.0], [1.0]])))  # (1 + 4) / 2 / 2
      1.25
    """
    return reduce_mean(_squared_error(A, Y), weights)


def mean_squared_error_gradient(A, Y):
    """``dA[L] = A - Y``, (m, n_L).

    Args:
      A: the outputs ``(m, n_L)``.
      Y: the targets ``(m, n_L)``.

    Returns:
      ``dA[L] (m, n_L)``, each example's ``d loss_i / dA_i``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.losses import mean_squared_error_gradient
      >>> mean_squared_error_gradient(jnp.array([[1.0], [3.0]]), jnp.array([[0.0], [1.0]])).tolist()
      [[1.0], [2.0]]
    """
    return _squared_error_gradient(A, Y)
