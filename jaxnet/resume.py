"""Checkpointing a training run and resuming it bitwise: glue between ``fit`` and :mod:`jaxnet.checkpoint`."""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp

from jaxnet.engine import TrainConfig, TrainState
from jaxnet.io import checkpoint
from jaxnet.network import Network


def run_config(config: TrainConfig) -> dict:
    """The JSON description of a run stored beside the arrays."""
    return {
        "network": config.net.to_dict(),
        "method": config.method,
        "batch_size": config.batch_size,
        "shuffle": config.shuffle,
    }


def save_run(
    directory, state: TrainState, config: TrainConfig, key, history: dict, epochs_done: int
) -> Path:
    """Write ``directory/checkpoint.safetensors`` atomically (the previous one survives a crash)."""
    return checkpoint.save(
        Path(directory),
        state.params,
        state.opt_state,
        step=epochs_done,
        key=key,
        history=history,
        config={**run_config(config), "steps": int(state.step)},
    )


def restore_run(path, state: TrainState, config: TrainConfig):
    """``(state, key, history, epochs_done)`` from a checkpoint written by :func:`save_run`.

    ``state`` (freshly initialised for this run) is the template: a checkpoint of another
    network or optimiser raises ``ValueError`` instead of loading partially.
    """
    ckpt = checkpoint.restore(path, like=state.params, like_opt_state=state.opt_state)
    saved_net = Network.from_dict(ckpt.config["network"])
    if saved_net != config.net:
        raise ValueError(f"checkpoint {path} was written for {saved_net}, not {config.net}")
    steps = ckpt.config.get("steps")
    restored = TrainState(ckpt.params, ckpt.opt_state, jnp.int32(steps or 0), jnp.int32(-1))
    return restored, ckpt.key, ckpt.history, ckpt.step
