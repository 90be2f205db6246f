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


def extend(
    histories: list[dict], logs, first_epoch: int, completed, seconds: float, rates=None
) -> dict[str, list]:
    """Add one compiled chunk's epochs to K histories (in place); return model 0's as columns.

    Each logged key's ``(K, n)`` block is converted to Python floats once, and the columns
    every model shares (``epoch``, ``time``, ``learning_rate``) are built once and extended
    into each history: K models cost one conversion per key, not K.

    Args:
      histories: the K histories to extend.
      logs: one array ``(K', chunk)`` per key of :func:`logged`, in that order (``K' >= K``:
        a runner may carry padding models, which are not reported).
      first_epoch: epochs done before the chunk (its epochs are ``first_epoch + 1 ..``).
      completed: ``(K,)``, the epochs of the chunk each model completed (fewer than the
        chunk's for a model that failed in it).
      seconds: the chunk's wall time, shared equally by a model's completed epochs.
      rates: the learning rate of each of the chunk's epochs (``(n,)`` or more), or None.

    Returns:
      ``{key: [floats]}`` of model 0's completed epochs, for the logged keys (and
      ``learning_rate``).
    """
    K, n = len(histories), max(completed)
    keys = logged(histories[0])
    columns = [np.asarray(v[:K, :n], np.float64).tolist() for v in logs]
    shared = {"epoch": list(range(first_epoch + 1, first_epoch + n + 1))}
    if rates is not None and LEARNING_RATE in histories[0]:
        shared[LEARNING_RATE] = np.asarray(rates[:n], np.float64).tolist()
    for k, (history, c) in enumerate(zip(histories, completed)):
        if c <= 0:
            continue
        for key, column in zip(keys, columns):
            history[key].extend(column[k][:c] if c < n else column[k])
        for key, values in shared.items():
            history[key].extend(values[:c] if c < n else values)
        history["time"].extend([seconds / c] * c)
    c0 = max(completed[0], 0)
    first = {key: column[0][:c0] for key, column in zip(keys, columns)}
    if LEARNING_RATE in shared:
        first[LEARNING_RATE] = shared[LEARNING_RATE][:c0]
    return first


def epoch_logs(history: dict, index: int = -1) -> dict[str, float]:
    """One epoch's entries as Keras's ``logs``: ``{"loss": ..., "val_loss": ..., "learning_rate": ...}``."""
    return {k: v[index] for k, v in history.items() if k not in ("epoch", "time", STOPPED)}
