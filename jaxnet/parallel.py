"""Data-parallel training with ``jax.sharding``: one code path from one CPU to many hosts.

This module is jaxnet's one home for device meshes: building one, placing arrays on it
(rows split, models split, replicated), constraining a batch inside ``jit`` and reading
results back. Training only records the mesh in its static config
(``jaxnet.training.engine.on_mesh``) and calls these functions.

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

__all__ = [
    "DATA_AXIS",
    "data_mesh",
    "initialize",
    "padded_size",
    "place",
    "replicate",
    "shard_models",
    "shard_rows",
    "to_host",
]

DATA_AXIS = "data"


def data_mesh(devices=None) -> Mesh:
    """A 1-D ``("data",)`` mesh over ``devices`` (default: all devices of all processes).

    Args:
      devices: a non-empty sequence of ``jax.Device``, or None for ``jax.devices()``.

    Returns:
      A ``jax.sharding.Mesh`` of shape ``(len(devices),)`` with axis name ``"data"``.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> mesh.axis_names, mesh.size == jax.device_count()
      (('data',), True)
      >>> jn.parallel.data_mesh(jax.devices()[:1]).size
      1
    """
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

    Args:
      coordinator_address: ``host:port`` of process 0, or None.
      num_processes: the number of processes, or None.
      process_id: this process's index in ``0..num_processes-1``, or None.
      kwargs: passed on to ``jax.distributed.initialize``.

    Returns:
      None; afterwards ``jax.devices()`` lists the devices of every process.

    Example:
      What reaches ``jax.distributed.initialize`` from the environment (mocked here: a
      real call waits for the other processes):

      >>> import os
      >>> from unittest import mock
      >>> import jaxnet as jn
      >>> env = {"JAXNET_COORDINATOR": "10.0.0.1:1234", "JAXNET_NUM_PROCESSES": "2",
      ...        "JAXNET_PROCESS_ID": "1"}
      >>> with mock.patch.dict(os.environ, env), mock.patch("jax.distributed.initialize") as init:
      ...     jn.parallel.initialize()
      >>> init.call_args.args
      ('10.0.0.1:1234', 2, 1)
    """
    env = os.environ.get
    coordinator_address = coordinator_address or env("JAXNET_COORDINATOR")
    if num_processes is None and env("JAXNET_NUM_PROCESSES"):
        num_processes = int(env("JAXNET_NUM_PROCESSES"))
    if process_id is None and env("JAXNET_PROCESS_ID"):
        process_id = int(env("JAXNET_PROCESS_ID"))
    jax.distributed.initialize(coordinator_address, num_processes, process_id, **kwargs)


def place(mesh: Mesh, array, spec: P):
    """A global array with ``NamedSharding(mesh, spec)``; each process fills its own shards.

    Args:
      mesh: the device mesh.
      array: the whole (global) array, e.g. ``(m, n)``, the same in every process; its
        sharded axes must divide by the mesh size along them.
      spec: a ``PartitionSpec``, e.g. ``P("data")`` (rows split) or ``P()`` (replicated).

    Returns:
      A ``jax.Array`` of ``array``'s shape and dtype, laid out as ``spec`` says.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> from jax.sharding import PartitionSpec as P
      >>> rows = 2 * mesh.size
      >>> X = jn.parallel.place(mesh, np.ones((rows, 3), np.float32), P("data"))
      >>> X.shape == (rows, 3), X.sharding.spec == P("data"), len(X.addressable_shards) == mesh.size
      (True, True, True)
    """
    host = np.asarray(array)
    return jax.make_array_from_callback(
        host.shape, NamedSharding(mesh, spec), lambda index: host[index]
    )


def replicate(mesh: Mesh, tree):
    """Every leaf of ``tree`` replicated on all devices of ``mesh`` (``P()``).

    Args:
      mesh: the device mesh.
      tree: a pytree of arrays (e.g. params, optimiser state).

    Returns:
      The same tree of ``jax.Array`` with leaves of the same shapes, fully replicated.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> params = jn.parallel.replicate(mesh, {"W": jnp.ones((2, 3)), "b": jnp.zeros(2)})
      >>> params["W"].shape, params["W"].sharding.is_fully_replicated
      ((2, 3), True)
    """
    return jax.tree.map(lambda a: place(mesh, to_host(a), P()), tree)


def to_host(tree):
    """NumPy copies of (replicated or local) arrays, readable in every process.

    Args:
      tree: a pytree of arrays; a leaf not fully addressable by this process must be
        replicated (its first local shard is taken).

    Returns:
      The same tree of NumPy arrays with the leaves' shapes.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> host = jn.parallel.to_host(jn.parallel.replicate(mesh, {"b": jnp.arange(3.0)}))
      >>> type(host["b"]).__name__, host["b"].tolist()
      ('ndarray', [0.0, 1.0, 2.0])
    """

    def get(a):
        if isinstance(a, jax.Array) and not a.is_fully_addressable:
            return np.asarray(a.addressable_data(0))
        return np.asarray(a)

    return jax.tree.map(get, tree)


def padded_size(n: int, devices: int) -> int:
    """``n`` rounded up to a multiple of ``devices`` (the rows a sharded array holds).

    Args:
      n: the number of rows, >= 0.
      devices: the number of devices, >= 1.

    Returns:
      ``ceil(n / devices) * devices``.

    Example:
      >>> import jaxnet as jn
      >>> jn.parallel.padded_size(10, 4), jn.parallel.padded_size(8, 4)
      (12, 8)
    """
    return -(-n // devices) * devices


def shard_rows(mesh: Mesh, X, Y):
    """``(X, Y, weights)``: ``X (m, ...)`` and ``Y (m, k)`` padded with masked rows to a multiple
    of ``mesh.size`` and split along ``"data"``; ``weights (m_padded,)`` is 1 for real rows and
    0 for padding, or None when nothing was padded (the fields of ``jaxnet.training.engine.Dataset``).

    Args:
      mesh: the device mesh (axis ``"data"``).
      X: inputs ``(m, ...)``.
      Y: labels ``(m, k)`` (padding rows repeat the first row, then get weight 0).

    Returns:
      ``(X, Y, weights)``: ``X (m_padded, ...)`` and ``Y (m_padded, k)`` split along
      ``"data"``, ``m_padded = padded_size(m, mesh.size)``; ``weights (m_padded,)`` or None.

    Example:
      >>> import jax, jax.numpy as jnp, numpy as np
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> X, Y, weights = jn.parallel.shard_rows(mesh, jnp.ones((5, 3)), jnp.zeros((5, 1)))
      >>> X.shape[0] == Y.shape[0] == jn.parallel.padded_size(5, mesh.size)
      True
      >>> padded = 5 % mesh.size != 0
      >>> weights is None or (padded and float(weights.sum()) == 5.0)
      True
    """
    m, m_pad = X.shape[0], padded_size(X.shape[0], mesh.size)
    weights = None
    if m_pad != m:
        X = jnp.concatenate([X, jnp.zeros((m_pad - m, *X.shape[1:]), X.dtype)])
        Y = jnp.concatenate([Y, jnp.broadcast_to(Y[:1], (m_pad - m, *Y.shape[1:]))])
        weights = place(mesh, (jnp.arange(m_pad) < m).astype(X.dtype), P(DATA_AXIS))
    return place(mesh, X, P(DATA_AXIS)), place(mesh, Y, P(DATA_AXIS)), weights


def shard_models(mesh: Mesh, tree):
    """K models split over the mesh: the leading axis K of every leaf is padded to a multiple
    of ``mesh.size`` with copies of model 0 and split along ``"data"`` (``fit_ensemble``'s
    ``shard="models"``; the caller drops the copies after).

    Args:
      mesh: the device mesh (axis ``"data"``).
      tree: a pytree whose leaves have the leading axis K (params, optimiser state, keys:
        typed ``jax.random`` key arrays are placed through their key data).

    Returns:
      The tree with leaves ``(padded_size(K, mesh.size), ...)`` split along ``"data"``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> mesh = jn.parallel.data_mesh()  # every device this process sees (1 on a plain CPU)
      >>> keys = jax.random.split(jax.random.key(0), 3)
      >>> states, keys = jn.parallel.shard_models(mesh, ({"W": jnp.ones((3, 2, 2))}, keys))
      >>> states["W"].shape[0] == keys.shape[0] == jn.parallel.padded_size(3, mesh.size)
      True
    """

    def pad_and_place(a):
        extra = padded_size(a.shape[0], mesh.size) - a.shape[0]
        a = jnp.concatenate([a, jnp.repeat(a[:1], extra, axis=0)]) if extra else a
        return place(mesh, a, P(DATA_AXIS))

    def leaf(a):
        if not jnp.issubdtype(a.dtype, jax.dtypes.prng_key):
            return pad_and_place(a)
        data = pad_and_place(jax.random.key_data(a))
        return jax.random.wrap_key_data(data, impl=jax.random.key_impl(a))

    return jax.tree.map(leaf, tree)


def constrain_batch(mesh: Mesh | None, x):
    """Inside ``jit``: split a batch's leading axis over the mesh (a no-op without a mesh)."""
    if mesh is None:
        return x
    return jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(DATA_AXIS)))
