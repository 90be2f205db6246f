"""Checkpoints of a training run, and resuming one bitwise: between ``fit`` and :mod:`jaxnet.io.checkpoint`.

A checkpoint holds the params, the optimiser state, the run key, the history and the
run's settings (network, optimizer, batch size, shuffling, steps taken, whether the
learning rate followed a schedule). A resumed run must be the same run: a call that
differs in a setting the continuation depends on is refused with a message naming it,
before anything is loaded.

This module decides what a RUN's checkpoint holds and what resuming requires; it never
reads or writes a file itself: the file format (and which path names which file) is
:mod:`jaxnet.io.checkpoint`'s, the only code that touches checkpoint files (its docstring
lists the four checkpoint modules and why they are apart).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.io import checkpoint
from jaxnet.training import history as history_
from jaxnet.training import optimizers
from jaxnet.training.engine import TrainConfig, TrainState
from jaxnet.validation import check_state

STEP_LIMIT = 2**31 - 1  # the optimiser's step count is an int32


def writable_directory(path) -> Path:
    """``checkpoint_dir`` as a ``Path``: created if missing and probed for writing, before training.

    A path that exists and is not a directory is refused (never replaced), and so is a
    ``checkpoint.safetensors`` in it that jaxnet did not write.
    """
    try:
        path = Path(path)
    except TypeError:
        raise TypeError(f"checkpoint_dir must be a path, got {path!r}") from None
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"checkpoint_dir {path} exists and is not a directory (it is left as it is); "
            "pass a directory, new or existing"
        )
    above = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if above is not None:
        raise ValueError(
            f"checkpoint_dir {path} cannot be written: {above} is a file, not a folder"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise ValueError(f"checkpoint_dir {path} cannot be written: {e.strerror or e}") from None
    checkpoint.check_target(
        path, "checkpoint_dir", hint="move it away, or choose another checkpoint_dir"
    )
    return path


def directory_of(path) -> Path:
    """The folder of a checkpoint: ``path`` itself if it names a folder, else the file's parent."""
    return checkpoint.file_of(path).parent


def settings(config: TrainConfig) -> dict:
    """The JSON description of a run stored beside its arrays."""
    return {
        "network": config.net.to_dict(),
        "optimizer": optimizers.name_of(config.optimizer) or "optax",
        "backprop": config.backprop,
        "batch_size": config.batch_size,
        "shuffle": config.shuffle,
    }


def save(
    directory,
    state: TrainState,
    config: TrainConfig,
    key,
    history: dict,
    epochs_done: int,
    *,
    schedule: bool = False,
):
    """Write ``directory/checkpoint.safetensors`` atomically (the previous one survives a crash).

    ``schedule``: the learning rate follows a schedule (a resumed run must be given it again).
    """
    return checkpoint.save(
        directory,
        state.params,
        state.opt_state,
        step=epochs_done,
        key=key,
        history=history,
        config={**settings(config), "steps": int(state.step), "learning_rate_schedule": schedule},
    )


def resume(path, state: TrainState, config: TrainConfig, *, epochs, key, learning_rate, validation):
    """``(state, key, history, epochs_done)`` to continue the run saved at ``path``.

    ``state`` (freshly initialised for this call) is the template the arrays must fit.
    Refused (``ValueError`` naming the setting): another network, optimizer, batch size or
    shuffling, validation data given or not unlike the saved history, ``epochs`` below the
    epochs done, a ``key`` other than the saved one, ``learning_rate=None`` for a run
    whose rate followed a schedule (a function cannot be saved: pass it again). Honoured:
    ``learning_rate`` (None keeps the saved rate; a number or a schedule replaces it from
    the resumed step on: a schedule is evaluated at the global step count, so the same
    schedule continues where it stopped), ``backprop`` (how the gradients are computed,
    not what), verbosity, callbacks, checkpointing and the mesh. The learning rate itself
    is :func:`jaxnet.training.fit`'s to set (the returned state keeps the saved one).
    """
    meta = checkpoint.read_metadata(path)
    saved, done = meta["config"], meta["step"]
    where = f"resume_from {path}"
    _same_settings(where, saved, config)
    _same_history(where, meta["history"], config, done, validation)
    if saved.get("learning_rate_schedule") and learning_rate is None:
        raise ValueError(
            f"{where} was trained with a learning-rate schedule: pass the same schedule again "
            "as learning_rate= (a function is not saved in a checkpoint); it continues from "
            f"step {saved['steps']}"
        )
    if epochs < done:
        raise ValueError(
            f"epochs={epochs} is below the {done} epochs {path} has done; with resume_from, "
            "epochs is the total (like Keras's epochs with initial_epoch)"
        )
    try:
        ckpt = checkpoint.restore(path, state.params, like_opt_state=state.opt_state)
    except ValueError as e:
        raise ValueError(f"{where} does not fit this run: {e}") from e
    check_state(config.net, ckpt.params, f"{where}: params")
    restored = TrainState(ckpt.params, ckpt.opt_state, jnp.int32(saved["steps"]), jnp.int32(-1))
    return restored, _run_key(where, ckpt.key, key), ckpt.history, done


def _same_settings(where: str, saved: dict, config: TrainConfig) -> None:
    required = ("network", "batch_size", "shuffle", "steps")
    missing = [k for k in required if k not in saved]
    if missing:
        raise ValueError(f"{where} was not written by jn.fit: its config lacks {missing}")
    steps = saved["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= STEP_LIMIT:
        raise ValueError(
            f"{where} is corrupt: config field 'steps' must be an int in 0..{STEP_LIMIT} "
            f"(optimiser steps taken), got {steps!r:.40}"
        )
    if saved["network"] != json.loads(json.dumps(config.net.to_dict())):  # tuples as lists
        raise ValueError(
            f"{where} was written for a different network ({saved['network']}), not {config.net}"
        )
    name = optimizers.name_of(config.optimizer) or "optax"
    if saved.get("optimizer", name) != name:
        raise ValueError(
            f"{where} was trained with a different optimizer: {saved['optimizer']!r}, "
            f"not optimizer={name!r}"
        )
    for setting in ("batch_size", "shuffle"):
        if saved[setting] != getattr(config, setting):
            raise ValueError(
                f"{where} was trained with {setting}={saved[setting]!r}, not "
                f"{setting}={getattr(config, setting)!r}: a resumed run keeps its {setting}"
            )


def _same_history(where: str, saved: dict, config: TrainConfig, done: int, validation: bool):
    named = optimizers.name_of(config.optimizer) is not None
    expected = history_.new(config.net, validation, learning_rate=named)
    saved = dict(saved)
    stopped = saved.pop(history_.STOPPED, 0)
    if isinstance(stopped, bool) or not isinstance(stopped, int) or not 0 <= stopped <= done:
        raise ValueError(
            f"{where} has a corrupt history: stopped_epoch {stopped!r} is not an epoch of its "
            f"{done} epochs"
        )
    if "val_loss" in saved and not validation:
        raise ValueError(f"{where} was validated every epoch: pass its validation_data again")
    if "val_loss" not in saved and validation:
        raise ValueError(
            f"{where} was trained without validation_data: its history has no val_loss to "
            "extend (pass validation_data=None, or start a new run from its params)"
        )
    if set(saved) != set(expected) or any(
        not isinstance(v, list) or len(v) != done for v in saved.values()
    ):
        raise ValueError(
            f"{where} has no jn.fit history of its {done} epochs: expected the lists "
            f"{sorted(expected)}, got {sorted(saved)}"
        )
    if saved["epoch"] != list(range(1, done + 1)):
        raise ValueError(f"{where} has a corrupt history: 'epoch' is not 1..{done}")
    for key, values in saved.items():
        bad = next(
            (v for v in values if isinstance(v, bool) or not isinstance(v, int | float)), None
        )
        if bad is not None:
            raise ValueError(
                f"{where} has a corrupt history: {key!r} holds {bad!r:.40}, not a number"
            )


def _run_key(where: str, saved, given):
    """The run's key: the saved one (``key`` may repeat it), else ``key``."""
    if saved is None:
        if given is None:
            raise ValueError(f"{where} holds no key (it was not saved by jn.fit): pass key=")
        return given
    if given is not None and not np.array_equal(_key_data(saved), _key_data(given)):
        raise ValueError(
            f"{where} was trained with another key: pass key=None (or its own key) to continue it"
        )
    return saved


def _key_data(key):
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    return np.asarray(jax.random.key_data(key) if typed else key)
