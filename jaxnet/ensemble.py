"""Many models at once: ``init_ensemble`` stacks params, ``fit_ensemble`` trains them in one vmapped run.

The K models share the network and the data and differ in their params, their
shuffling keys and (optionally) their learning rates, which live in the optimiser
state as traced values: a sweep over seeds or learning rates is ONE compiled program.
A sweep over hidden-layer sizes is one too: ``init_ensemble(..., hidden_sizes=...)``
embeds each narrower model in the widest one with its extra units at zero; with a
hidden activation where ``g(0) = 0`` (tanh, ReLU, leaky ReLU, linear) those units
output 0, receive zero gradients and stay zero, so each model trains exactly as the
narrower network would.
"""

from __future__ import annotations

import functools
import time
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from jaxnet import compiled, engine, network, parallel
from jaxnet.network import Network
from jaxnet.progress import Progress
from jaxnet.training import (
    FULL_BATCH_CHUNK,
    append_epochs,
    check_schedule,
    distribute,
    new_history,
    prepare_data,
    resolve_optimizer,
)
from jaxnet.validation import check_network

_ZERO_PRESERVING = ("tanh", "relu", "linear")


def _embed(params, net: Network):
    """Zero-pad a narrower network's params to the shapes of ``net``."""

    def pad(a, shape):
        return jnp.pad(a, [(0, n - k) for k, n in zip(a.shape, shape)])

    return tuple(
        {"W": pad(p["W"], (n, n_prev)), "b": pad(p["b"], (n,))}
        for p, n_prev, n in zip(params, net.sizes, net.sizes[1:])
    )


def init_ensemble(
    keys, net: Network, scheme="he", *, scale=0.01, dtype=jnp.float32, hidden_sizes=None
):
    """Params of K models stacked along a new leading axis (one model per key).

    Args:
      keys: K ``jax.random`` keys, e.g. ``jax.random.split(key, K)``.
      net: the network; with ``hidden_sizes``, the widest one.
      scheme, scale, dtype: as for ``jn.init``.
      hidden_sizes: optional, one entry per model: the hidden width (an int, for every
        hidden layer) or a tuple of widths; model k is ``jn.init`` of the narrower network,
        zero-padded to ``net``'s shapes.

    Returns:
      A params tree whose leaves have a leading axis K.
    """
    check_network(net)
    if hidden_sizes is None:
        return _init_each(stack_keys(keys), net, scheme, scale, dtype)
    keys = list(keys)
    if len(hidden_sizes) != len(keys):
        raise ValueError(
            f"hidden_sizes must give one width per key ({len(keys)}), got {len(hidden_sizes)}"
        )
    if any(a.split("(")[0] not in (*_ZERO_PRESERVING, "leaky_relu") for a in net.activations[:-1]):
        raise ValueError(
            f"hidden_sizes needs hidden activations with g(0) = 0 {_ZERO_PRESERVING + ('leaky_relu',)}, got {net.activations[:-1]}"
        )
    models = []
    for k, widths in zip(keys, hidden_sizes):
        widths = (widths,) * (net.L - 1) if isinstance(widths, int) else tuple(widths)
        if len(widths) != net.L - 1 or any(
            not 1 <= w <= n for w, n in zip(widths, net.sizes[1:-1])
        ):
            raise ValueError(
                f"hidden_sizes entry {widths} does not fit the hidden layers {net.sizes[1:-1]}"
            )
        small = Network(
            (net.sizes[0], *widths, net.sizes[-1]), activations=net.activations, loss=net.loss
        )
        models.append(_embed(network.init(k, small, scheme, scale=scale, dtype=dtype), net))
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *models)


@functools.partial(jax.jit, static_argnames=("net", "scheme", "scale", "dtype"))
def _init_each(keys, net: Network, scheme, scale, dtype):
    """``jn.init`` for each key, stacked: a ``lax.map`` loop compiles the one-model ``init``
    once, where a ``vmap`` of it took twice as long to compile (0.57 against 0.28 s)."""
    return jax.lax.map(lambda k: network.init(k, net, scheme, scale=scale, dtype=dtype), keys)


def stack_keys(keys):
    """K keys as one key array ``(K,)``: an array of keys as it is, a sequence stacked.

    (``list()`` of a key array would compile an unstack, and stacking it again a stack.)
    """
    if isinstance(keys, jax.Array) and keys.ndim == 1:
        return keys
    return jnp.stack(list(keys))


@functools.partial(compiled.jit, static_argnames=("config", "chunk", "guarded"))
def _run_ensemble_chunk(config, states, train, val, keys, first_epoch, n_epochs, *, chunk, guarded):
    def one(state, key):
        return engine.run_chunk(
            config, state, train, val, key, first_epoch, n_epochs, chunk=chunk, guarded=guarded
        )

    return jax.vmap(one)(states, keys)


def fit_ensemble(
    net: Network,
    stacked_params,
    X,
    Y,
    *,
    optimizer="sgd",
    learning_rate=None,
    epochs: int = 1,
    batch_size: int | None = None,
    keys=None,
    validation_data=None,
    grads: str = "autodiff",
    shuffle: bool = True,
    verbose: int = 1,
    mesh=None,
    shard: str = "data",
):
    """Train K stacked models in one compiled, vmapped run; returns ``(stacked_params, histories)``.

    Args:
      net, X, Y, optimizer, epochs, batch_size, validation_data, grads, shuffle, verbose:
        as for ``jn.fit``.
      stacked_params: params with a leading axis K (see :func:`init_ensemble`).
      learning_rate: a scalar, or one rate per model ``(K,)``.
      keys: K shuffling keys (required for shuffled minibatches).
      mesh: a ``jax.sharding.Mesh`` with axis ``"data"`` to run on several devices.
      shard: with a mesh, ``"data"`` splits every batch over the devices (models
        replicated), ``"models"`` splits the K models over the devices (data replicated;
        K is padded to a multiple of the device count with copies that are dropped after).

    Returns:
      The trained stacked params and a list of K histories (as ``jn.fit``'s). A model
      whose loss becomes non-finite stops updating (its history ends there, with a
      warning); the others carry on.
    """
    leaves = jax.tree.leaves(stacked_params)
    K = leaves[0].shape[0] if leaves and leaves[0].ndim else 0
    if K < 1 or any(leaf.shape[:1] != (K,) for leaf in leaves):
        raise ValueError(
            "stacked_params must have one leading axis K >= 1 on every leaf (see jn.init_ensemble)"
        )
    first_model = jax.tree.map(lambda a: np.asarray(a)[0], stacked_params)  # (no compiled slice)
    train, val = prepare_data(net, first_model, X, Y, validation_data)
    m = train.X.shape[0]
    check_schedule(epochs, batch_size, m, grads)
    if shard not in ("data", "models"):
        raise ValueError(f"shard must be 'data' or 'models', got {shard!r}")
    tx, rate = resolve_optimizer(optimizer, learning_rate)
    if np.ndim(rate) > 1 or (np.ndim(rate) == 1 and len(rate) != K):
        raise ValueError(
            f"learning_rate must be a scalar or have one entry per model ({K}), got shape {np.shape(rate)}"
        )
    if keys is None:
        if batch_size is not None and shuffle:
            raise ValueError("keys (one per model) are required to shuffle minibatches")
        keys = jax.random.split(jax.random.key(0), K)
    keys = stack_keys(keys)
    if keys.shape[0] != K:
        raise ValueError(f"keys must have one key per model ({K}), got {keys.shape[0]}")

    config = engine.TrainConfig(net, tx, grads, batch_size, shuffle)
    rates = None if rate is None else np.broadcast_to(np.asarray(rate, np.float32), (K,))
    states = jax.vmap(lambda p, r: engine.start_state(config, p, r))(stacked_params, rates)
    histories = [new_history(net, val is not None) for _ in range(K)]
    if mesh is not None and shard == "models":
        states, keys, train, val = _shard_models(mesh, states, keys, train, val)
    else:
        config, train, val = distribute(mesh, config, train, val)
        states = states if mesh is None else parallel.replicate(mesh, states)
    states = _train(config, states, train, val, m, keys, epochs, histories, verbose)
    return jax.tree.map(lambda a: a[:K], states.params), histories


def _shard_models(mesh, states, keys, train, val):
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


def _train(config, states, train, val, m, keys, epochs, histories, verbose):
    metric_keys = [k for k in histories[0] if k not in ("epoch", "time")]
    n_batches = engine.num_batches(m, config.batch_size)
    chunk = 1 if config.batch_size is not None else FULL_BATCH_CHUNK
    progress, done = Progress(verbose, epochs, print_every=1 if config.batch_size else 100), 0
    failed = np.full(len(histories), -1)
    try:
        while done < epochs:
            n, tic = min(chunk, epochs - done), time.perf_counter()
            states, logs, failed = engine.replaying(
                functools.partial(_run_ensemble_chunk, config),
                states,
                train,
                val,
                keys,
                np.int32(done),
                np.int32(n),
                chunk=chunk,
                guarded=bool(np.any(failed >= 0)),  # keep failed models frozen
            )
            seconds = time.perf_counter() - tic
            for k, history in enumerate(histories):  # padded models (k >= K) are not reported
                alive = n if failed[k] < 0 else max(0, min(n, failed[k] // n_batches - done))
                if len(history["loss"]) == done:
                    append_epochs(history, metric_keys, [v[k] for v in logs], done, alive, seconds)
            mean_logs = {
                f"mean_{key}": np.mean(v[: len(histories), :n], axis=0).tolist()
                for key, v in zip(metric_keys, logs)
            }
            progress.epochs_done(done, mean_logs, seconds)
            done += n
    finally:
        progress.close()
    diverged = [k for k in range(len(histories)) if failed[k] >= 0]
    if diverged:
        warnings.warn(
            f"models {diverged} stopped early: their loss became non-finite",
            RuntimeWarning,
            stacklevel=3,
        )
    return states
