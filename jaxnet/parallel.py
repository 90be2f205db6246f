"""Data-parallel training with ``jax.sharding``: one code path from one CPU to many hosts.

A 1-D mesh with axis ``"data"`` spans every device of every process. Params and
optimiser state are replicated (``P()``); each batch is split along axis 0
(``P("data")``) and XLA inserts the gradient all-reduce. Row counts that do not divide
by the number of devices are padded with masked examples (weight 0), so the loss and
gradients are exactly those of the real examples.

Multi-host: call :func:`initialize` in every process first (it wraps
``jax.distributed.initialize``), then build the mesh with :func:`data_mesh` and pass
the same data to ``jn.fit(..., mesh=mesh)`` in every process; each process places
only the rows its own devices hold (``jax.make_array_from_callback``).
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def data_mesh(devices=None) -> Mesh:
    """A 1-D ``("data",)`` mesh over ``devices`` (default: all devices of all processes)."""
    devices = jax.devices() if devices is None else list(devices)
    if not devices:
        raise ValueError("devices must not be empty")
    return Mesh(np.array(devices), (DATA_AXIS,))


def initialize(coordinator_address=None, num_processes=None, process_id=None, **kwargs) -> None:
    """Join a multi-process run (``jax.distributed.initialize``).

    Arguments default to ``JAXNET_COORDINATOR`` (``host:port`` of process 0),
    ``JAXNET_NUM_PROCESSES`` and ``JAXNET_PROCESS_ID``; when those are unset too, JAX
    detects SLURM, Open MPI and TPU pods itself. Extra keyword arguments (e.g.
    ``heartbeat_timeout_seconds``) go to ``jax.distributed.initialize``.
    """
    env = os.environ.get
    coordinator_address = coordinator_address or env("JAXNET_COORDINATOR")
    if num_processes is None and env("JAXNET_NUM_PROCESSES"):
        num_processes = int(env("JAXNET_NUM_PROCESSES"))
    if process_id is None and env("JAXNET_PROCESS_ID"):
        process_id = int(env("JAXNET_PROCESS_ID"))
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)


def place(mesh: Mesh, array, spec: P):
    """A global array with ``NamedSharding(mesh, spec)``; each process fills its own shards."""
    host = np.asarray(array)
    return jax.make_array_from_callback(
        host.shape, NamedSharding(mesh, spec), lambda index: host[index]
    )


def replicate(mesh: Mesh, tree):
    """Every leaf of ``tree`` replicated on all devices of ``mesh`` (``P()``)."""
    return jax.tree.map(lambda a: place(mesh, to_host(a), P()), tree)


def to_host(tree):
    """NumPy copies of (replicated or local) arrays, readable in every process."""

    def get(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(a.addressable_data(0))
        return np.asarray(a)

    return jax.tree.map(get, tree)


def padded_size(n: int, devices: int) -> int:
    """``n`` rounded up to a multiple of ``devices`` (the rows a sharded array holds)."""
    return -(-n // devices) * devices


def shard_rows(mesh: Mesh, X, Y):
    """``(X, Y, weights)``: ``X (m, ...)`` and ``Y (m, k)`` padded with masked rows to a multiple
    of ``mesh.size`` and split along ``"data"``; ``weights (m_padded,)`` is 1 for real rows and
    0 for padding, or None when nothing was padded (the fields of ``jaxnet.training.engine.Dataset``)."""
    m, m_pad = X.shape[0], padded_size(X.shape[0], mesh.size)
    weights = None
    if m_pad != m:
        X = jnp.concatenate([X, jnp.zeros((m_pad - m, *X.shape[1:]), X.dtype)])
        Y = jnp.concatenate([Y, jnp.broadcast_to(Y[:1], (m_pad - m, Y.shape[1]))])
        weights = place(mesh, (jnp.arange(m_pad) < m).astype(X.dtype), P(DATA_AXIS))
    return place(mesh, X, P(DATA_AXIS)), place(mesh, Y, P(DATA_AXIS)), weights


def constrain_batch(mesh: Mesh | None, x):
    """Inside ``jit``: split a batch's leading axis over the mesh (a no-op without a mesh)."""
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(DATA_AXIS)))
