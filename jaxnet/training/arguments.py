"""The arguments ``jn.fit`` and ``jn.fit_ensemble`` share, checked once, before anything compiles.

Every error names the argument, what it got and what was expected. Numbers are
checked as numbers (a bool is not an int, ``1e-50`` is not a usable float32 learning
rate); the data are validated and put in the params' dtype. A learning-rate schedule is
evaluated on the host for every step the run will train and checked before training.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from typing import NamedTuple

import jax
import numpy as np
import optax

from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.training import engine, optimizers
from jaxnet.validation import (
    as_labels,
    bind,
    check_backprop,
    check_bool,
    check_choice,
    check_int,
    check_model,
    check_params,
)


class Setup(NamedTuple):
    """What the checks produce: the static config, the learning rate(s) to set, the data."""

    config: engine.TrainConfig
    # in the params' dtype, or a schedule (a callable of the step count); None: the
    # transformation's own
    learning_rate: np.ndarray | Callable | None
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
    net: Network | Model,
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
    """Check ``fit``'s shared arguments; ``models`` = K for ``fit_ensemble`` (one rate per
    model allowed, no schedule).

    ``params`` is one model's params (``fit_ensemble`` checks its stacked params itself).
    The config holds the model bound to the data (:func:`jaxnet.validation.bind`).
    """
    check_model(net)
    dtype = check_params(net, params)
    net, train, val = _datasets(net, params, X, Y, validation_data, dtype)
    check_int(epochs, "epochs", 1)
    m = train.X.shape[0]
    if batch_size is not None and not 1 <= check_int(batch_size, "batch_size") <= m:
        raise ValueError(
            f"batch_size must be None (full batch) or an int in 1..{m} (the number of examples), got {batch_size!r}"
        )
    backprop = check_backprop(net, backprop)
    check_bool(shuffle, "shuffle")
    check_choice(check_int(verbose, "verbose"), "verbose", (0, 1, 2))
    tx, rate = _optimizer(optimizer, learning_rate, dtype, models)
    batch = None if batch_size is None else int(batch_size)
    config = engine.TrainConfig(net, tx, backprop, batch, bool(shuffle))
    return Setup(config, rate, train, val)


def _datasets(net: Network | Model, params, X, Y, validation_data, dtype):
    """``(net, train, val)``: the model bound to ``X`` and the validated datasets in ``dtype``
    (``val`` None without validation)."""
    net, X = bind(net, params, X, dtype)
    train = engine.Dataset(X, as_labels(net, Y, X.shape[0], dtype))
    if validation_data is None:
        return net, train, None
    if not isinstance(validation_data, tuple | list):
        raise TypeError(
            f"validation_data must be a pair (X_val, Y_val), got {type(validation_data).__name__}"
        )
    if len(validation_data) != 2:
        raise ValueError(
            f"validation_data must be a pair (X_val, Y_val), got {len(validation_data)} items"
        )
    _, X_val = bind(net, params, validation_data[0], dtype, name="validation_data[0] (X_val)")
    Y_val = as_labels(
        net, validation_data[1], X_val.shape[0], dtype, name="validation_data[1] (Y_val)"
    )
    return net, train, engine.Dataset(X_val, Y_val)


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
    if callable(learning_rate):
        if models is not None:
            raise TypeError(
                "learning_rate must be a number or one per model in jn.fit_ensemble, got the "
                f"schedule {learning_rate!r}: schedules are for jn.fit"
            )
        return tx, learning_rate
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


_BLOCK = 4096  # a schedule is evaluated on whole blocks of steps: step s always at s % _BLOCK


def learning_rates(rate, dtype, first_step: int, stop_step: int) -> np.ndarray:
    """The learning rate of each step ``first_step .. stop_step - 1``, in ``dtype``.

    Args:
      rate: a checked number (:func:`check_learning_rate`) or a schedule ``count -> rate``
        (optax's convention: ``count`` steps taken before, 0 for the first step).
      dtype: the params' dtype.
      first_step, stop_step: the run's steps (a resumed run starts after its saved steps).

    Returns:
      ``(stop_step - first_step,)`` positive, finite rates in ``dtype``.

    Raises:
      ValueError: naming ``learning_rate``, the first step (and its value) where the
        schedule's rate is not positive, not finite or not usable in ``dtype``.

    A schedule is called on NumPy ``int32`` arrays of whole blocks of steps, so step ``s``
    is always computed at the same position of the same call, whatever the run's length
    (a resumed run gets bitwise the rates of the straight one); one that cannot take an
    array (Python branching on the step) is called once per step.
    """
    if not callable(rate):
        return np.full(stop_step - first_step, rate, dtype)
    lo, hi = first_step // _BLOCK, -(-stop_step // _BLOCK)
    values = np.concatenate([_evaluate(rate, b * _BLOCK) for b in range(lo, hi)])
    values = values[first_step - lo * _BLOCK : stop_step - lo * _BLOCK]
    info = np.finfo(dtype)
    bad = ~(np.isfinite(values) & (values >= info.tiny) & (values <= info.max))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"learning_rate (a schedule) gave {float(values[i])!r} at step {first_step + i} "
            f"(0-based): every rate of the run's steps must be positive and finite in "
            f"{np.dtype(dtype).name} (in [{info.tiny:.3g}, {info.max:.3g}])"
        )
    return values.astype(dtype)


def _evaluate(schedule: Callable, first: int) -> np.ndarray:
    """``schedule`` at steps ``first .. first + _BLOCK - 1`` as float64, vectorised if it can be."""
    steps = np.arange(first, first + _BLOCK, dtype=np.int32)
    try:
        return _as_rates(schedule(steps), steps.shape, schedule)
    except Exception:  # e.g. Python branching on the step: one call per step
        one = [_as_rates(schedule(s), (), schedule) for s in steps]
        return np.stack(one)


def _as_rates(value, shape, schedule) -> np.ndarray:
    try:
        values = np.asarray(value, np.float64)
        return np.broadcast_to(values, shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"learning_rate (a schedule, {schedule!r}) must return one real number per step, "
            f"got {value!r:.80}"
        ) from None


def warn_if_padded_state(config: engine.TrainConfig, train: engine.Dataset) -> None:
    """Warn when a stateful :class:`jaxnet.Model`'s batches hold padding rows.

    A partial last minibatch, or a mesh whose device count does not divide the batch, is
    padded with masked rows (weight 0): they count nothing in the loss and the gradients,
    but a model's own batch statistics (its ``apply`` sees no weights) include them.
    jaxnet's :class:`~jaxnet.layers.BatchNorm` weighs them out; a jn.Model cannot.
    """
    if not getattr(config.net, "stateful", False):
        return
    B, m = config.batch_size, config.num_examples or train.X.shape[0]
    padded = train.weights is not None if B is None else m % B or (config.batch_slots or B) != B
    if padded:
        warnings.warn(
            f"model {config.net.name!r} is stateful and its batches are padded with masked rows "
            f"({m} examples, batch_size={B}, {1 if config.mesh is None else config.mesh.size} "
            "device(s)): the padding enters the statistics its apply computes over a batch; "
            "choose a batch size that divides the examples and is a multiple of the devices",
            RuntimeWarning,
            stacklevel=3,
        )
