"""Many models at once: ``init_ensemble`` stacks params, ``fit_ensemble`` trains them in one vmapped run.

The K models share the network and the data and differ in their params, their keys
and (optionally) their learning rates, which live in the optimiser state as traced
values: a sweep over seeds or learning rates is ONE compiled program, run by the same
loop as ``jn.fit`` (:mod:`jaxnet.training.loop`) over the ``vmap`` of its chunk.
A sweep over hidden-layer sizes is one too: ``init_ensemble(..., hidden_sizes=...)``
embeds each narrower model in the widest one with its extra units at zero; with a
hidden activation where ``g(0) = 0`` (tanh, ReLU, leaky ReLU, linear) those units
output 0, receive zero gradients and stay zero, so each model trains exactly as the
narrower network would.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import api, network, parallel
from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.training import _cpu, engine, loop
from jaxnet.training import history as history_
from jaxnet.training.arguments import check_arguments, refuse_tracers, warn_if_padded_state
from jaxnet.training.progress import Progress
from jaxnet.validation import check_choice, check_model, check_network, check_params

__all__ = ["fit_ensemble", "init_ensemble"]

_ZERO_PRESERVING = ("tanh", "relu", "leaky_relu", "linear")
_STATIC = ("config", "chunk", "guarded")


def init_ensemble(
    keys, net: Network, scheme="he", *, scale=0.01, dtype=jnp.float32, hidden_sizes=None
):
    """Params of K models stacked along a new leading axis (one model per key).

    Args:
      keys: K ``jax.random`` keys, e.g. ``jax.random.split(key, K)`` (a key array ``(K,)``
        or a sequence of keys).
      net: the network; with ``hidden_sizes``, the widest one.
      scheme, scale, dtype: as for ``jn.init`` (and checked as it checks them).
      hidden_sizes: optional, one entry per model: the hidden width (an int, for every
        hidden layer) or a tuple of widths; model k is ``jn.init`` of the narrower network,
        zero-padded to ``net``'s shapes.

    Returns:
      A params tree whose leaves have a leading axis K: ``W (K, n[l], n[l-1])``,
      ``b (K, n[l])`` for a dense layer (model k's params are ``leaf[k]``).

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> net = jn.Network((2, 8, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> stacked = jn.init_ensemble(jax.random.split(jax.random.key(0), 3), net)
      >>> stacked[0]["W"].shape, stacked[0]["b"].shape, stacked[1]["W"].shape
      ((3, 8, 2), (3, 8), (3, 1, 8))
      >>> sweep = jn.init_ensemble(jax.random.split(jax.random.key(0), 2), net, hidden_sizes=[2, 8])
      >>> [int((W != 0).any(axis=1).sum()) for W in sweep[0]["W"]]  # hidden units in use
      [2, 8]
    """
    check_network(net)
    keys = _as_keys(keys)
    # jn.init's checks, on shapes only (nothing is drawn or compiled)
    jax.eval_shape(lambda k: api.init(k[0], net, scheme, scale=scale, dtype=dtype), keys)
    if hidden_sizes is None:
        return _init_each(keys, net, scheme, scale, dtype)
    refuse_tracers("jn.init_ensemble with hidden_sizes", keys=keys)
    models = [
        _embed(network.init(k, small, scheme, scale=scale, dtype=dtype), net)
        for k, small in zip(keys, _narrow_networks(net, hidden_sizes, len(keys)))
    ]
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *models)


def _as_keys(keys):
    """K keys as one array: typed keys ``(K,)`` or raw ``uint32`` keys ``(K, 2)``; a sequence
    of keys is stacked, an array of them kept as it is (``list()`` of it would compile an
    unstack, and stacking it again a stack)."""
    if isinstance(keys, list | tuple) and keys and all(_key_shape(k) == () for k in keys):
        keys = jnp.stack(list(keys))
    if _key_shape(keys) is not None and len(_key_shape(keys)) == 1 and keys.shape[0] >= 1:
        return keys
    raise TypeError(
        f"keys must be K >= 1 jax.random keys, e.g. jax.random.split(key, K), got {_describe(keys)}"
    )


def _key_shape(k) -> tuple | None:
    """The shape of the keys in ``k`` (``()`` for one key), or None if ``k`` holds no keys."""
    if not isinstance(k, jax.Array | np.ndarray):
        return None
    if jnp.issubdtype(k.dtype, jax.dtypes.prng_key):
        return k.shape
    return k.shape[:-1] if k.dtype == np.uint32 and k.shape[-1:] == (2,) else None


def _describe(keys) -> str:
    if isinstance(keys, jax.Array):
        return f"an array of shape {keys.shape} and dtype {keys.dtype}"
    return f"{type(keys).__name__} {keys!r:.60}"


def _narrow_networks(net: Network, hidden_sizes, K: int) -> list[Network]:
    """One network per entry of ``hidden_sizes``: ``net`` with narrower hidden layers."""
    if not net.is_dense:
        raise ValueError(f"hidden_sizes needs a dense network (jn.Network(sizes, ...)), got {net}")
    if isinstance(hidden_sizes, np.ndarray):
        hidden_sizes = hidden_sizes.tolist()
    if not isinstance(hidden_sizes, list | tuple):
        raise TypeError(
            f"hidden_sizes must be a list giving one width (or tuple of widths) per key ({K}), "
            f"got {hidden_sizes!r:.80} of type {type(hidden_sizes).__name__}"
        )
    if len(hidden_sizes) != K:
        raise ValueError(
            f"hidden_sizes must give one width (or tuple of widths) per key ({K}), got {hidden_sizes!r:.80}"
        )
    if any(a.split("(")[0] not in _ZERO_PRESERVING for a in net.activations[:-1]):
        raise ValueError(
            f"hidden_sizes needs hidden activations with g(0) = 0 {_ZERO_PRESERVING}, got {net.activations[:-1]}"
        )
    smalls = []
    for entry in hidden_sizes:
        widths = (entry,) * (net.L - 1) if isinstance(entry, numbers.Integral) else entry
        if not isinstance(widths, list | tuple) or not all(
            isinstance(w, numbers.Integral) and not isinstance(w, bool) for w in widths
        ):
            raise TypeError(f"hidden_sizes entries must be ints or tuples of ints, got {entry!r}")
        if len(widths) != net.L - 1 or any(
            not 1 <= w <= n for w, n in zip(widths, net.sizes[1:-1])
        ):
            raise ValueError(
                f"hidden_sizes entry {entry!r} does not fit the hidden layers {net.sizes[1:-1]}"
            )
        sizes = (net.sizes[0], *map(int, widths), net.sizes[-1])
        smalls.append(Network(sizes, activations=net.activations, loss=net.loss))
    return smalls


def _embed(params, net: Network):
    """Zero-pad a narrower network's params to the shapes of ``net``."""

    def pad(a, shape):
        return jnp.pad(a, [(0, n - k) for k, n in zip(a.shape, shape)])

    return tuple(
        {"W": pad(p["W"], (n, n_prev)), "b": pad(p["b"], (n,))}
        for p, n_prev, n in zip(params, net.sizes, net.sizes[1:])
    )


@functools.partial(jax.jit, static_argnames=("net", "scheme", "scale", "dtype"))
def _init_each(keys, net: Network, scheme, scale, dtype):
    """``jn.init`` for each key, stacked: a ``lax.map`` loop compiles the one-model ``init``
    once (a ``vmap`` of it compiles a larger program)."""
    return jax.lax.map(lambda k: network.init(k, net, scheme, scale=scale, dtype=dtype), keys)


def _ensemble_chunk(config, states, train, val, keys, first_epoch, n_epochs, *, chunk, guarded):
    """The chunk of every model: the ``vmap`` of :func:`engine.run_chunk` over the models (with
    the CPU machinery, ``config.cpu``: a block of models at a time, :mod:`jaxnet.training._cpu`)."""

    def one(state, key):
        return engine.run_chunk(
            config, state, train, val, key, first_epoch, n_epochs, chunk=chunk, guarded=guarded
        )

    many = jax.vmap(one)
    if not config.cpu:
        return many(states, keys)
    rows = (
        train.X.shape[0] if config.batch_size is None else config.batch_slots or config.batch_size
    )
    return _cpu.vmap_in_blocks(many, (states, keys), config.net, rows, train.X.dtype)


_runner = jax.jit(_ensemble_chunk, static_argnames=_STATIC)


def ensemble_runner(config: engine.TrainConfig):
    """The jitted, vmapped chunk for ``config`` (``config`` is static: a run with the CPU
    machinery, ``config.cpu``, compiles its own program)."""
    del config
    return _runner


def fit_ensemble(
    net: Network | Model,
    stacked_params,
    X,
    Y,
    *,
    optimizer="sgd",
    learning_rate=None,
    clip_value=None,
    clip_norm=None,
    epochs: int = 1,
    batch_size: int | None = None,
    keys=None,
    validation_data=None,
    backprop: str | None = None,
    shuffle: bool = True,
    verbose: int = 1,
    mesh=None,
    shard: str = "data",
):
    """Train K stacked models in one compiled, vmapped run; returns ``(stacked_params, histories)``.

    Like ``jn.fit``, a Python loop over compiled chunks: not for ``jax.jit``/``vmap``/``grad``.

    Args:
      net, X, Y, optimizer, epochs, batch_size, validation_data, backprop, shuffle, verbose:
        as for ``jn.fit`` (checked by the same code).
      clip_value, clip_norm: gradient clipping, as for ``jn.fit``.
      stacked_params: params with a leading axis K (see :func:`init_ensemble`; for a
        :class:`jaxnet.Model`, ``jax.vmap(model.init)(keys)``); every model's values must
        be finite.
      learning_rate: a scalar, or one rate per model ``(K,)``.
      keys: K keys (required for shuffled minibatches or dropout), one per model.
      mesh: a ``jax.sharding.Mesh`` with axis ``"data"`` to run on several devices.
      shard: with a mesh, ``"data"`` splits every batch over the devices (models
        replicated), ``"models"`` splits the K models over the devices (data replicated;
        K is padded to a multiple of the device count with copies that are dropped after);
        ``"models"`` without a mesh is a ``ValueError`` (it would be ignored).

    Returns:
      The trained stacked params and a list of K histories (as ``jn.fit``'s). A model
      whose loss becomes non-finite stops updating (its history ends there, with a
      warning); the others carry on. Stacked params have the shapes of
      :func:`init_ensemble`'s, ``(K, ...)`` per leaf. A ``KeyboardInterrupt`` (Ctrl-C)
      carries the stacked params and histories of the last completed chunk (before a
      model stopped, if one did): ``.params``, ``.histories``, ``.epoch``.

    Example:
      Three learning rates in one compiled run:

      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> X = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
      >>> y = (X[:, 0] > 0).astype(np.int32)
      >>> stacked = jn.init_ensemble(jax.random.split(jax.random.key(0), 3), net)
      >>> rates = np.array([0.1, 0.5, 1.0], np.float32)
      >>> params, histories = jn.fit_ensemble(net, stacked, X, y, learning_rate=rates,
      ...                                     epochs=5, verbose=0)
      >>> params[0]["W"].shape, len(histories), [len(h["loss"]) for h in histories]
      ((3, 3, 2), 3, [5, 5, 5])
      >>> [round(h["learning_rate"][0], 4) for h in histories]
      [0.1, 0.5, 1.0]
    """
    refuse_tracers("jn.fit_ensemble", stacked_params=stacked_params, X=X, Y=Y,
                   validation_data=validation_data, learning_rate=learning_rate, keys=keys)  # fmt: skip
    K, first_model = _check_stacked(net, stacked_params)
    setup = check_arguments(
        net, first_model, X, Y, optimizer=optimizer, learning_rate=learning_rate, epochs=epochs,
        batch_size=batch_size, validation_data=validation_data, backprop=backprop,
        shuffle=shuffle, verbose=verbose, clip_value=clip_value, clip_norm=clip_norm, models=K,
    )  # fmt: skip
    check_choice(shard, "shard", ("data", "models"))
    if shard == "models" and mesh is None:
        raise ValueError(
            "shard='models' splits the models over a mesh's devices, but mesh is None: pass "
            "mesh=jn.parallel.data_mesh() (or drop shard)"
        )
    config, rate = setup.config, setup.learning_rate
    if keys is None:
        if (batch_size is not None and shuffle) or net.needs_key:
            raise ValueError(
                "keys (one per model) are required to shuffle minibatches or draw dropout masks"
            )
        keys = jax.random.split(jax.random.key(0), K)
    keys = _as_keys(keys)
    if keys.shape[0] != K:
        raise ValueError(f"keys must have one key per model ({K}), got {keys.shape[0]}")

    rates = None if rate is None else np.broadcast_to(rate, (K,))
    states = jax.vmap(lambda p, r: engine.start_state(config, p, r))(stacked_params, rates)
    train, val = setup.train, setup.val
    if mesh is not None and shard == "models":
        states, keys = parallel.shard_models(mesh, (states, keys))
        train, val = parallel.replicate(mesh, (train, val))
    else:
        config, states, train, val = engine.on_mesh(mesh, config, states, train, val)
    warn_if_padded_state(config, train)
    if _cpu.applies(config.net, mesh):  # the one switch of the CPU machinery
        config = dataclasses.replace(config, cpu=True)
    histories = [history_.new(config.net, val is not None, rates is not None) for _ in range(K)]
    plan = loop.schedule(epochs, setup.train.X.shape[0], config.batch_size)
    progress = Progress(verbose, epochs, print_every=1 if config.batch_size else 100)
    runner = functools.partial(ensemble_runner(config), config)
    reached = {"params": states.params, "done": 0}

    def after_chunk(state, done):  # what a Ctrl-C carries
        reached.update(params=state.params, done=done)
        return False

    try:
        states, failed = loop.run(
            runner, states, (train, val), keys, plan, histories, progress, after_chunk
        )
    except KeyboardInterrupt as e:
        e.params = jax.tree.map(lambda a: a[:K], reached["params"])
        e.histories = [
            {k: v[: reached["done"]] if isinstance(v, list) else v for k, v in h.items()}
            for h in histories
        ]
        e.epoch = reached["done"]
        e.add_note(
            f"jn.fit_ensemble stopped after epoch {reached['done']}: the stacked params and "
            "the histories so far are on this exception (.params, .histories, .epoch)"
        )
        raise
    for h, r in zip(histories, () if rates is None else rates):  # each model's constant rate
        h[history_.LEARNING_RATE] = [float(r)] * len(h["epoch"])
    diverged = [k for k in range(K) if failed[k] >= 0]
    if diverged:
        warnings.warn(
            f"models {diverged} stopped early: their loss became non-finite",
            RuntimeWarning,
            stacklevel=2,
        )
    return jax.tree.map(lambda a: a[:K], states.params), histories


def _check_stacked(net: Network | Model, stacked_params):
    """``(K, model 0's params as NumPy)``: one leading axis K on every leaf, every model finite."""
    check_model(net)
    leaves = jax.tree.leaves(stacked_params)
    K = leaves[0].shape[0] if leaves and getattr(leaves[0], "ndim", 0) else 0
    if K < 1 or any(np.shape(leaf)[:1] != (K,) for leaf in leaves):
        raise ValueError(
            "stacked_params must have one leading axis K >= 1 on every leaf (see jn.init_ensemble)"
        )
    host = jax.tree.map(np.asarray, stacked_params)  # (no compiled slices)
    first = jax.tree.map(lambda a: a[0], host)
    check_params(net, first, name="stacked_params (model 0)")
    for path, leaf in jax.tree_util.tree_leaves_with_path(host):
        bad = ~np.isfinite(leaf.reshape(K, -1)).all(axis=1)
        if bad.any():
            raise ValueError(
                f"stacked_params{jax.tree_util.keystr(path)} must be finite: models "
                f"{np.flatnonzero(bad).tolist()} hold NaN or infinite values"
            )
    return K, first
