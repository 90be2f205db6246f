"""The Keras-like history of a run: one list per logged quantity, one entry per epoch.

``{"epoch": [1, 2, ...], "loss": [...], "accuracy": [...], "val_loss": [...],
"val_accuracy": [...], "learning_rate": [...], "time": [...]}`` (``mse`` instead of
``accuracy`` for regression; ``learning_rate``, the rate of each epoch's first step, for
the named optimisers), JSON-serialisable, as ``jn.fit`` returns it and a checkpoint
stores it. A run that a callback stopped (early stopping) also holds
``"stopped_epoch"``: the last epoch trained, an int (the one entry that is not a list).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jaxnet import metrics
from jaxnet.model import Model
from jaxnet.network import Network

LEARNING_RATE = "learning_rate"
STOPPED = "stopped_epoch"
_NOT_LOGGED = ("epoch", "time", LEARNING_RATE, STOPPED)  # not in the compiled chunk's logs


def logged_keys(net: Network | Model, validation: bool) -> tuple[str, ...]:
    """``("loss", "accuracy", "val_loss", "val_accuracy")`` (``mse`` for regression), in the
    order the compiled chunk returns them."""
    keys = ("loss", metrics.metric_name(net.task))
    return keys + tuple(f"val_{k}" for k in keys) if validation else keys


def new(net: Network | Model, validation: bool, learning_rate: bool = False) -> dict[str, Any]:
    """An empty history (with a ``learning_rate`` column if ``learning_rate``)."""
    rate = [LEARNING_RATE] if learning_rate else []
    return {"epoch": [], **{k: [] for k in (*logged_keys(net, validation), *rate)}, "time": []}


def logged(history: dict) -> list[str]:
    """The keys of ``history`` that the compiled chunk logs (all but epoch, time, learning_rate)."""
    return [k for k in history if k not in _NOT_LOGGED]


def append(
    history: dict, logs, first_epoch: int, n: int, seconds: float, rates=None
) -> dict[str, list]:
    """Add ``n`` epochs of one model's chunk logs to ``history``; return them as columns.

    Args:
      history: the history to extend (in place).
      logs: one array ``(chunk,)`` per key of :func:`logged`, in that order.
      first_epoch: epochs done before the chunk (its epochs are ``first_epoch + 1 ..``).
      n: the chunk's completed epochs.
      seconds: the chunk's wall time, shared equally by its epochs.
      rates: the learning rate of each of the chunk's epochs (``(n,)`` or more), or None.

    Returns:
      ``{key: [n floats]}`` for the logged keys (and ``learning_rate``).
    """
    added = {k: np.asarray(v[:n], np.float64).tolist() for k, v in zip(logged(history), logs)}
    if rates is not None and LEARNING_RATE in history:
        added[LEARNING_RATE] = np.asarray(rates[:n], np.float64).tolist()
    if n > 0:
        for k, values in added.items():
            history[k].extend(values)
        history["epoch"].extend(range(first_epoch + 1, first_epoch + n + 1))
        history["time"].extend([seconds / n] * n)
    return added


def epoch_logs(history: dict, index: int = -1) -> dict[str, float]:
    """One epoch's entries as Keras's ``logs``: ``{"loss": ..., "val_loss": ..., "learning_rate": ...}``."""
    return {k: v[index] for k, v in history.items() if k not in ("epoch", "time", STOPPED)}
