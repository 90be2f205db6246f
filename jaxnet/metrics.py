"""Metrics reported beside the cost: accuracy for classification, Keras's ``mse`` for regression.

``A`` and ``Y`` are ``(m, n_L)`` (outputs and normalised labels); ``weights`` ``(m,)``
optional, as in :mod:`jaxnet.losses`.
"""

from __future__ import annotations

from jaxnet.losses import reduce_mean


def accuracy(A, Y, task: str, weights=None):
    """Fraction of examples classified right.

    ``task`` ``"multiclass"``: ``argmax A == argmax Y``; ``"binary"``/``"multilabel"``:
    ``(A > 0.5) == Y``, averaged over the output units.
    """
    if task == "multiclass":
        correct = (A.argmax(axis=-1) == Y.argmax(axis=-1)).astype(A.dtype)
    else:
        correct = ((A > 0.5).astype(A.dtype) == Y).astype(A.dtype).mean(axis=-1)
    return reduce_mean(correct, weights)


def mean_squared_error(A, Y, weights=None):
    """Keras's ``mse``: ``mean((a - y)^2)`` over units and examples (no 1/2, unlike the cost)."""
    return reduce_mean(((A - Y) ** 2).mean(axis=-1), weights)


def metric_name(task: str) -> str:
    """The history key of the metric for ``task``: ``"mse"`` for regression, else ``"accuracy"``."""
    return "mse" if task == "regression" else "accuracy"


def metric(A, Y, task: str, weights=None):
    """The task's metric (see :func:`metric_name`)."""
    if task == "regression":
        return mean_squared_error(A, Y, weights)
    return accuracy(A, Y, task, weights)
