"""Placing a run on a device mesh: batches split over the devices, or an ensemble's models.

``shard="data"`` (``fit``, ``fit_ensemble``): params replicated, each batch split along
``"data"``; rows are padded to a multiple of the device count with masked examples.
``shard="models"`` (``fit_ensemble``): the K models split along ``"data"``, the data
replicated; K is padded with copies of model 0 that are dropped afterwards.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from jaxnet import parallel
from jaxnet.training import engine


def distribute(mesh, config: engine.TrainConfig, state, train, val):
    """``(config, state, train, val)`` for data-parallel training on ``mesh`` (unchanged without one)."""
    if mesh is None:
        return config, state, train, val
    train_rows = engine.Dataset(*parallel.shard_rows(mesh, train.X, train.Y))
    val = None if val is None else engine.Dataset(*parallel.shard_rows(mesh, val.X, val.Y))
    B = config.batch_size
    slots = None if B is None else parallel.padded_size(B, mesh.size)
    config = dataclasses.replace(
        config, mesh=mesh, num_examples=train.X.shape[0], batch_slots=slots
    )
    return config, parallel.replicate(mesh, state), train_rows, val


def shard_models(mesh, states, keys, train, val):
    """Pad the model axis to a multiple of the devices (copies of model 0) and split it."""
    K = keys.shape[0]
    extra = parallel.padded_size(K, mesh.size) - K

    def pad_and_place(a):
        a = jnp.concatenate([a, jnp.repeat(a[:1], extra, axis=0)]) if extra else a
        return parallel.place(mesh, a, P(parallel.DATA_AXIS))

    states = jax.tree.map(pad_and_place, states)
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        keys = jax.random.wrap_key_data(
            pad_and_place(jax.random.key_data(keys)), impl=jax.random.key_impl(keys)
        )
    else:
        keys = pad_and_place(keys)
    return states, keys, parallel.replicate(mesh, train), parallel.replicate(mesh, val)
