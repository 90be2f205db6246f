"""The compiled training program: a train step, an epoch as one ``lax.scan``, chunks of epochs.

One call of :func:`run_chunk` trains ``C`` epochs (``C = 1`` for minibatches, up to
``FULL_BATCH_CHUNK`` full-batch iterations) without returning to Python. Inside, every
epoch draws its shuffle from ``fold_in(key, epoch)``, gathers each batch with ``X[idx]``
(no shuffled copy of the data), and pads the last partial batch with masked examples
(weight 0), so every batch has the same shape and nothing recompiles from one epoch to
the next. A failing step (non-finite loss or params) is recorded in ``failed_step``; the
chunk is then replayed guarded (:func:`replaying`), keeping the last finite params.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxnet import metrics, parallel
from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.training import _cpu, optimizers

FULL_BATCH_CHUNK = 1000  # full-batch iterations per compiled call (the length of its log buffers)
_STEP_KEYS = 0x64726F70  # "drop": fold_in(key, _STEP_KEYS) roots the per-step keys, apart from the
# shuffle keys fold_in(key, epoch)


class TrainState(NamedTuple):
    """What a training run carries: params, optimiser state, steps taken, first failed step (-1)."""

    params: Any
    opt_state: Any
    step: jax.Array
    failed_step: jax.Array


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The static part of a run (hashable: a static argument of ``jax.jit``)."""

    net: Network | Model  # anything with the training contract of jaxnet.model
    optimizer: optax.GradientTransformation
    backprop: str = "manual"
    batch_size: int | None = None  # None: full batch
    shuffle: bool = True
    mesh: jax.sharding.Mesh | None = None  # data-parallel: batches split along "data"
    num_examples: int | None = None  # real rows of X when it is padded for the mesh
    batch_slots: int | None = None  # batch_size rounded up to a multiple of the devices
    cpu: bool = False  # the CPU machinery applies (jaxnet.training._cpu.applies): the step runs
    # examples-last


class Dataset(NamedTuple):
    """Inputs ``(m, ...)``, labels ``(m, n[L])`` and optional row weights ``(m,)`` (0 = padding)."""

    X: jax.Array
    Y: jax.Array
    weights: jax.Array | None = None


@functools.partial(jax.jit, static_argnames="config")
def start_state(config: TrainConfig, params, learning_rate=None) -> TrainState:
    """A fresh state (one compiled call); ``learning_rate`` set in an ``inject_hyperparams`` state."""
    opt_state = config.optimizer.init(params)
    if learning_rate is not None:
        opt_state = optimizers.set_learning_rate(opt_state, learning_rate)
    return TrainState(params, opt_state, jnp.int32(0), jnp.int32(-1))


def on_mesh(mesh, config: TrainConfig, state: TrainState, train: Dataset, val: Dataset | None):
    """``(config, state, train, val)`` for data-parallel training on ``mesh`` (unchanged without
    one): the rows split along ``"data"`` and padded with masked rows, the state replicated
    (:mod:`jaxnet.parallel`), and the mesh, the real row count and the batch's slots (the batch
    size rounded up to a multiple of the devices) recorded in the config."""
    if mesh is None:
        return config, state, train, val
    train_rows = Dataset(*parallel.shard_rows(mesh, train.X, train.Y))
    val = None if val is None else Dataset(*parallel.shard_rows(mesh, val.X, val.Y))
    B = config.batch_size
    slots = None if B is None else parallel.padded_size(B, mesh.size)
    config = dataclasses.replace(
        config, mesh=mesh, num_examples=train.X.shape[0], batch_slots=slots
    )
    return config, parallel.replicate(mesh, state), train_rows, val


def num_batches(m: int, batch_size: int | None) -> int:
    return 1 if batch_size is None else -(-m // batch_size)


def epoch_plan(
    key, m: int, batch_size: int, shuffle: bool, dtype=jnp.float32, slots: int | None = None
):
    """Batch indices ``(n_batches, slots)`` and weights: 0 for the padding of the last batch
    and for the ``slots - batch_size`` extra slots per batch (``slots`` defaults to ``batch_size``)."""
    order = jax.random.permutation(key, m) if shuffle else jnp.arange(m)
    n_batches, slots = num_batches(m, batch_size), slots or batch_size
    pad = n_batches * batch_size - m
    idx = jnp.concatenate([order, order[:pad]]).reshape(n_batches, batch_size)
    weights = jnp.concatenate([jnp.ones(m, dtype), jnp.zeros(pad, dtype)]).reshape(
        n_batches, batch_size
    )
    extra = slots - batch_size
    idx = jnp.concatenate([idx, jnp.zeros((n_batches, extra), idx.dtype)], axis=1)
    return idx, jnp.concatenate([weights, jnp.zeros((n_batches, extra), dtype)], axis=1)


def train_step(config: TrainConfig, params, opt_state, X, Y, weights=None, key=None):
    """One optimiser step on a batch: ``(params, opt_state, loss before the step, metric)``.

    ``updates, opt_state = tx.update(grads, opt_state, params)``; the non-trainable leaves
    (batch norm's moving statistics) take the forward pass's ``stats``, not the update.
    """
    net = config.net
    loss, A_L, grads, stats = net.loss_and_grads(
        params, X, Y, weights, config.backprop, key=key, train=True
    )
    updates, opt_state = config.optimizer.update(grads, opt_state, params)
    params = net.with_stats(optax.apply_updates(params, updates), stats)
    metric = metrics.metric(A_L, Y, net.task, weights, net.step_mask(X))
    return params, opt_state, loss, metric


def _step(config: TrainConfig, state: TrainState, X, Y, weights, step_keys, guarded: bool,
          rates=None):  # fmt: skip
    """One step on the state; its loss and metric. ``failed_step`` records the first failure.

    ``rates``: ``(table, first_step)``, the chunk's learning rate per step (a schedule
    evaluated on the host), set in the ``inject_hyperparams`` state before the update.

    Unguarded (the fast path) the step is always applied and ``failed_step`` marks the
    first non-finite loss; the caller then replays the chunk guarded. Guarded, a step
    is applied only while nothing has failed and its loss AND new params are finite
    (a finite loss can still give an overflowing update), so the state keeps the last
    finite params. The guard's selects are not free on every step, hence the replay.
    """
    key = None if step_keys is None else jax.random.fold_in(step_keys, state.step)
    opt_state = state.opt_state
    if rates is not None:
        table, first_step = rates
        rate = jax.lax.dynamic_index_in_dim(table, state.step - first_step, keepdims=False)
        opt_state = optimizers.set_learning_rate(opt_state, rate)
    step = functools.partial(train_step, config)
    if config.cpu:  # X, Y and weights come stored examples-last (see stored)
        step = _cpu.examples_last(step, (False, False, True, True, True, False))
    params, opt_state, loss, metric = step(state.params, opt_state, X, Y, weights, key)
    running = state.failed_step < 0
    if guarded:
        ok = running & jnp.isfinite(loss) & all_finite(params)
        select = functools.partial(jax.tree.map, lambda new, old: jnp.where(ok, new, old))
        params, opt_state = select(params, state.params), select(opt_state, state.opt_state)
    else:
        ok = running & jnp.isfinite(loss)
    failed = jnp.where(running & ~ok, state.step, state.failed_step)
    return TrainState(params, opt_state, state.step + ok, failed), loss, metric


def all_finite(tree) -> jax.Array:
    """A boolean scalar: every element of every leaf is finite."""
    return jnp.all(jnp.stack([jnp.isfinite(leaf).all() for leaf in jax.tree.leaves(tree)]))


def _minibatch_epoch(config: TrainConfig, state, data: Dataset, key, step_keys, guarded, rates):
    X, Y = data.X, data.Y
    m, B = config.num_examples or X.shape[0], config.batch_size
    slots = config.batch_slots or B
    idx, weights = epoch_plan(key, m, B, config.shuffle, X.dtype, slots)
    masked = m % B != 0 or slots != B

    def body(state, batch):
        i, w = batch
        Xb, Yb, w = (parallel.constrain_batch(config.mesh, a) for a in (X[i], Y[i], w))
        Xs, Ys, ws = (stored(config, a) for a in (Xb, Yb, w if masked else None))
        state, loss, metric = _step(config, state, Xs, Ys, ws, step_keys, guarded, rates)
        n = w.sum()
        return state, (loss * n, metric * n)

    state, (loss_sums, metric_sums) = jax.lax.scan(body, state, (idx, weights))
    return state, loss_sums.sum() / m, metric_sums.sum() / m


def _full_batch_epoch(config: TrainConfig, state, data: Dataset, key, step_keys, guarded, rates):
    del key  # data: stored already (run_chunk)
    return _step(config, state, data.X, data.Y, data.weights, step_keys, guarded, rates)


def stored(config: TrainConfig, a):
    """``a`` as the step takes it: batch-first, or with its examples axis moved last (``config.cpu``)."""
    if a is None or not config.cpu:
        return a
    return jnp.moveaxis(a, 0, -1)


@functools.partial(jax.jit, static_argnames=("config", "chunk", "guarded"))
def run_chunk(
    config: TrainConfig,
    state: TrainState,
    train: Dataset,
    val: Dataset | None,
    key,
    first_epoch,
    n_epochs,
    rates=None,
    *,
    chunk: int,
    guarded: bool = False,
):
    """Train epochs ``first_epoch .. first_epoch + n_epochs - 1`` in one compiled call.

    ``rates`` (named optimisers): the learning rate of each step of the chunk,
    ``(chunk * steps_per_epoch,)``, a traced array, so a schedule never recompiles.

    A ``fori_loop`` runs the ``n_epochs <= chunk`` epochs (a traced bound) and writes
    each epoch's logs into buffers of length ``chunk``, so a shorter last chunk (or a run
    with another number of epochs) does not recompile. Returns the new state and, per
    epoch, ``(loss, metric)`` plus ``(val_loss, val_metric)`` when validation data is
    given (arrays ``(chunk,)``, NaN past ``n_epochs``). Validation runs in inference mode
    through the model's ``evaluate``.

    Keys: epoch ``e`` shuffles with ``fold_in(key, e)``; a network that draws randomness
    (dropout) gets ``fold_in(fold_in(key, _STEP_KEYS), step)`` at global step ``step``.

    Unguarded (the fast path) a failure only sets ``failed_step`` (also when the final
    params are not finite); :func:`replaying` then replays the chunk guarded
    from its start, which stops at the last finite params. So the normal case pays
    nothing for the guarantee, and a diverging run pays one more compile.
    """
    epoch_fn = _full_batch_epoch if config.batch_size is None else _minibatch_epoch
    data = train if config.batch_size is not None else Dataset(*(stored(config, a) for a in train))
    step_keys = jax.random.fold_in(key, _STEP_KEYS) if config.net.needs_key else None
    rates = None if rates is None else (rates, state.step)

    def train_epoch(e, carry):
        state, logs = carry
        # the key is derived only with minibatches: an unused fold_in would still run
        epoch_key = None if config.batch_size is None else jax.random.fold_in(key, first_epoch + e)
        state, loss, metric = epoch_fn(config, state, data, epoch_key, step_keys, guarded, rates)
        epoch_logs = (loss, metric)
        if val is not None:
            result = config.net.evaluate(state.params, *val)
            epoch_logs += (result["loss"], result[metrics.metric_name(config.net.task)])
        return state, tuple(buf.at[e].set(v) for buf, v in zip(logs, epoch_logs))

    n_logs = 2 if val is None else 4
    logs = tuple(jnp.full((chunk,), jnp.nan, train.X.dtype) for _ in range(n_logs))
    state, logs = jax.lax.fori_loop(0, n_epochs, train_epoch, (state, logs))
    if not guarded:  # an update that overflowed in the last step
        bad = (state.failed_step < 0) & ~all_finite(state.params)
        state = state._replace(failed_step=jnp.where(bad, state.step, state.failed_step))
    return state, logs


def replaying(run, state: TrainState, *args, guarded: bool = False, **kwargs):
    """``run(state, *args, guarded=...)`` (a chunk runner) with the failure replay.

    Runs the fast, unguarded path; if any step failed (any model's, for a vmapped
    runner), runs the chunk again guarded from the same ``state``. Pass ``guarded=True``
    once a model has failed earlier, so that it stays frozen. Returns the new state, the
    logs on the host and ``failed_step`` on the host (``-1``: no failure).
    """
    new, logs = run(state, *args, guarded=guarded, **kwargs)
    logs, failed = parallel.to_host((logs, new.failed_step))
    if not guarded and np.any(failed >= 0):
        new, logs = run(state, *args, guarded=True, **kwargs)
        logs, failed = parallel.to_host((logs, new.failed_step))
    return new, logs, failed
