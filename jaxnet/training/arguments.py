"""The arguments ``jn.fit`` and ``jn.fit_ensemble`` share, checked once, before anything compiles.

Every error names the argument, what it got and what was expected. Numbers are
checked as numbers (a bool is not an int, ``1e-50`` is not a usable float32 learning
rate); the data are validated and put in the params' dtype.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import jax
import numpy as np
import optax

from jaxnet import network
from jaxnet.network import Network
from jaxnet.training import engine, optimizers
from jaxnet.validation import (
    as_inputs,
    as_labels,
    check_bool,
    check_choice,
    check_int,
    check_network,
    check_params,
)


class Setup(NamedTuple):
    """What the checks produce: the static config, the learning rate(s) to set, the data."""

    config: engine.TrainConfig
    learning_rate: np.ndarray | None  # in the params' dtype; None: the transformation's own
    train: engine.Dataset
    val: engine.Dataset | None


def refuse_tracers(entry: str, **arrays) -> None:
    """A clear ``TypeError`` when ``entry`` is called under ``jax.jit``/``vmap``/``grad``.

    Training is a Python loop over compiled chunks that reads the loss between them; it
    cannot itself be traced (``jn.fit_ensemble`` is the way to train many models at once).
    """
    for name, value in arrays.items():
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value)):
            raise TypeError(
                f"{entry} cannot be called inside jax.jit, jax.vmap or jax.grad ({name} is a "
                f"tracer): it is a Python loop over compiled chunks of epochs, compiled already. "
                f"Call it outside the transformation (to train many models at once, use "
                f"jn.fit_ensemble)"
            )


def check_arguments(
    net: Network,
    params,
    X,
    Y,
    *,
    optimizer,
    learning_rate,
    epochs,
    batch_size,
    validation_data,
    backprop,
    shuffle,
    verbose,
    models: int | None = None,
) -> Setup:
    """Check ``fit``'s shared arguments; ``models`` = K for ``fit_ensemble`` (one rate per model allowed).

    ``params`` is one model's params (``fit_ensemble`` checks its stacked params itself).
    """
    check_network(net)
    dtype = check_params(net, params)
    train, val = _datasets(net, X, Y, validation_data, dtype)
    check_int(epochs, "epochs", 1)
    m = train.X.shape[0]
    if batch_size is not None and not 1 <= check_int(batch_size, "batch_size") <= m:
        raise ValueError(
            f"batch_size must be None (full batch) or an int in 1..{m} (the number of examples), got {batch_size!r}"
        )
    check_choice(backprop, "backprop", network.BACKPROP)
    check_bool(shuffle, "shuffle")
    check_choice(check_int(verbose, "verbose"), "verbose", (0, 1, 2))
    tx, rate = _optimizer(optimizer, learning_rate, dtype, models)
    batch = None if batch_size is None else int(batch_size)
    config = engine.TrainConfig(net, tx, backprop, batch, bool(shuffle))
    return Setup(config, rate, train, val)


def _datasets(net: Network, X, Y, validation_data, dtype):
    """Validated ``(train, val)`` datasets in ``dtype`` (``val`` None without validation)."""
    X = as_inputs(net, X, dtype)
    train = engine.Dataset(X, as_labels(net, Y, X.shape[0], dtype))
    if validation_data is None:
        return train, None
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ValueError(
            f"validation_data must be a pair (X_val, Y_val), got {type(validation_data).__name__}"
        )
    X_val = as_inputs(net, validation_data[0], dtype, name="validation_data[0] (X_val)")
    Y_val = as_labels(
        net, validation_data[1], X_val.shape[0], dtype, name="validation_data[1] (Y_val)"
    )
    return train, engine.Dataset(X_val, Y_val)


def _optimizer(optimizer, learning_rate, dtype, models):
    """``(GradientTransformation, learning rate(s) or None)`` from a name or a transformation."""
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate must be None when optimizer is an optax GradientTransformation "
                "(its learning rate is part of it)"
            )
        return optimizer, None
    if not isinstance(optimizer, str):
        raise TypeError(
            f"optimizer must be a name ({', '.join(optimizers.NAMES)}) or an optax "
            f"GradientTransformation, got {optimizer!r}"
        )
    tx = optimizers.get(optimizer)
    rate = optimizers.DEFAULT_LEARNING_RATES[optimizer] if learning_rate is None else learning_rate
    return tx, check_learning_rate(rate, dtype, models)


def check_learning_rate(rate, dtype, models: int | None = None) -> np.ndarray:
    """A positive, finite learning rate that stays so in ``dtype`` (the params'), as an array of it.

    ``models`` = K: a scalar or one rate per model ``(K,)``; else a scalar.
    """
    values = None
    if not isinstance(rate, bool | str | bytes):
        with contextlib.suppress(TypeError, ValueError):  # e.g. a ragged list
            values = np.asarray(rate)
    if values is None or values.dtype.kind not in "iuf":
        raise TypeError(f"learning_rate must be a positive real number, got {rate!r}")
    if values.ndim != 0 and (models is None or values.shape != (models,)):
        expected = "a single number" if models is None else f"a number or one per model ({models},)"
        raise ValueError(f"learning_rate must be {expected}, got shape {values.shape}: {rate!r}")
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"learning_rate must be positive and finite, got {rate!r}")
    info = np.finfo(dtype)
    if not ((values >= info.tiny) & (values <= info.max)).all():
        raise ValueError(
            f"learning_rate {rate!r} is not usable in {np.dtype(dtype).name} (the params' dtype): "
            f"it must lie in [{info.tiny:.3g}, {info.max:.3g}]"
        )
    return values.astype(dtype)
