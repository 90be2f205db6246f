"""The Keras-like history of a run: one list per logged quantity, one entry per epoch.

``{"epoch": [1, 2, ...], "loss": [...], "accuracy": [...], "val_loss": [...],
"val_accuracy": [...], "time": [...]}`` (``mse`` instead of ``accuracy`` for regression),
JSON-serialisable, as ``jn.fit`` returns it and a checkpoint stores it.
"""

from __future__ import annotations

import numpy as np

from jaxnet import metrics
from jaxnet.network import Network


def logged_keys(net: Network, validation: bool) -> tuple[str, ...]:
    """``("loss", "accuracy", "val_loss", "val_accuracy")`` (``mse`` for regression), in the
    order the compiled chunk returns them."""
    keys = ("loss", metrics.metric_name(net.task))
    return keys + tuple(f"val_{k}" for k in keys) if validation else keys


def new(net: Network, validation: bool) -> dict[str, list]:
    """An empty history."""
    return {"epoch": [], **{k: [] for k in logged_keys(net, validation)}, "time": []}


def logged(history: dict) -> list[str]:
    """The keys of ``history`` that the compiled chunk logs (all but ``epoch`` and ``time``)."""
    return [k for k in history if k not in ("epoch", "time")]


def append(history: dict, logs, first_epoch: int, n: int, seconds: float) -> dict[str, list]:
    """Add ``n`` epochs of one model's chunk logs (one array ``(chunk,)`` per logged key, in
    :func:`logged` order) to ``history``; return them as columns ``{key: [n floats]}``."""
    added = {k: np.asarray(v[:n], np.float64).tolist() for k, v in zip(logged(history), logs)}
    if n > 0:
        for k, values in added.items():
            history[k].extend(values)
        history["epoch"].extend(range(first_epoch + 1, first_epoch + n + 1))
        history["time"].extend([seconds / n] * n)
    return added
