"""Metrics reported beside the cost: accuracy for classification, Keras's ``mse`` for regression.

``A`` and ``Y`` are ``(m, n_L)`` (outputs and normalised labels); ``weights`` ``(m,)``
optional, as in :mod:`jaxnet.losses`. For a network that outputs a sequence they are
``(m, T, n_L)``: each example's metric is the mean over its real steps (``mask (m, T)``,
True = a real step; :func:`jaxnet.losses.mean_over_steps`), then the (weighted) mean over
the examples: the accuracy per step.
"""

from __future__ import annotations

from jaxnet.losses import mean_over_steps, reduce_mean

__all__ = ["accuracy", "mean_squared_error", "metric", "metric_name"]


def accuracy(A, Y, task: str, weights=None, mask=None):
    """Fraction of examples classified right.

    ``task`` ``"multiclass"``: ``argmax A == argmax Y``; ``"binary"``/``"multilabel"``:
    ``(A > 0.5) == Y``, averaged over the output units.

    Args:
      A: the output activations ``(m, n_L)`` (probabilities).
      Y: the labels ``(m, n_L)``: 0/1, or one-hot for ``"multiclass"``.
      task: ``"binary"``, ``"multilabel"`` or ``"multiclass"`` (``Network.task``).
      weights: ``(m,)`` example weights, or None for the plain mean.
      mask: for sequences ``(m, T, n_L)``, the ``(m, T)`` real steps (None: all).

    Returns:
      A scalar in ``[0, 1]``, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.metrics import accuracy
      >>> A, Y = jnp.array([[0.9], [0.2], [0.7]]), jnp.array([[1.0], [1.0], [1.0]])
      >>> round(float(accuracy(A, Y, "binary")), 4)
      0.6667
      >>> float(accuracy(jnp.array([[0.1, 0.9]]), jnp.array([[0.0, 1.0]]), "multiclass"))
      1.0
      >>> A = jnp.array([[[0.1, 0.9], [0.8, 0.2], [0.6, 0.4]]])  # one sequence of 3 steps
      >>> Y = jnp.array([[[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]])
      >>> round(float(accuracy(A, Y, "multiclass")), 4), float(accuracy(A, Y, "multiclass", mask=jnp.array([[True, False, False]])))
      (0.3333, 1.0)
    """
    if task == "multiclass":
        correct = (A.argmax(axis=-1) == Y.argmax(axis=-1)).astype(A.dtype)
    else:
        correct = ((A > 0.5).astype(A.dtype) == Y).astype(A.dtype).mean(axis=-1)
    return reduce_mean(mean_over_steps(correct, mask), weights)


def mean_squared_error(A, Y, weights=None, mask=None):
    """Keras's ``mse``: ``mean((a - y)^2)`` over units and examples (no 1/2, unlike the cost).

    Args:
      A: the outputs ``(m, n_L)``.
      Y: the targets ``(m, n_L)``.
      weights: ``(m,)`` example weights, or None for the plain mean.
      mask: for sequences ``(m, T, n_L)``, the ``(m, T)`` real steps (None: all).

    Returns:
      A scalar, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.metrics import mean_squared_error
      >>> float(mean_squared_error(jnp.array([[1.0], [3.0]]), jnp.array([[0.0], [1.0]])))  # (1 + 4) / 2
      2.5
    """
    return reduce_mean(mean_over_steps(((A - Y) ** 2).mean(axis=-1), mask), weights)


def metric_name(task: str) -> str:
    """The history key of the metric for ``task``: ``"mse"`` for regression, else ``"accuracy"``.

    Args:
      task: ``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``.

    Returns:
      ``"mse"`` or ``"accuracy"``.

    Example:
      >>> from jaxnet.metrics import metric_name
      >>> metric_name("regression"), metric_name("multiclass")
      ('mse', 'accuracy')
    """
    return "mse" if task == "regression" else "accuracy"


def metric(A, Y, task: str, weights=None, mask=None):
    """The task's metric (see :func:`metric_name`): :func:`mean_squared_error` or :func:`accuracy`.

    Args:
      A: the output activations ``(m, n_L)``.
      Y: the labels or targets ``(m, n_L)``.
      task: ``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``.
      weights: ``(m,)`` example weights, or None for the plain mean.
      mask: for sequences ``(m, T, n_L)``, the ``(m, T)`` real steps (None: all).

    Returns:
      A scalar, shape ``()``.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.metrics import metric
      >>> float(metric(jnp.array([[2.0]]), jnp.array([[0.0]]), "regression"))
      4.0
    """
    if task == "regression":
        return mean_squared_error(A, Y, weights, mask)
    return accuracy(A, Y, task, weights, mask)
