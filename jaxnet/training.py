"""``jn.fit``: jit-compiled gradient descent with optax, a Keras-like history, checkpoints and resume.

The Python loop only dispatches compiled chunks of epochs (:mod:`jaxnet.engine`),
records the history, reports progress and saves checkpoints between them.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import warnings

import jax
import numpy as np
import optax

from jaxnet import engine, metrics, optimizers, parallel, resume
from jaxnet.network import Network
from jaxnet.progress import Progress
from jaxnet.validation import as_inputs, as_labels, check_network, check_params

FULL_BATCH_CHUNK = 1000  # full-batch iterations per compiled call


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite. Carries what was reached before, so nothing is lost.

    Attributes:
      params: the last finite params (the step whose loss was non-finite was not applied).
      opt_state: the optimiser state that goes with them.
      history: the history of the epochs completed before the failure.
      epoch, step: 1-based epoch and step within it where the loss (or the updated params) became non-finite.
    """

    def __init__(self, message, *, params, opt_state, history, epoch, step):
        super().__init__(message)
        self.params, self.opt_state, self.history = params, opt_state, history
        self.epoch, self.step = epoch, step


def resolve_optimizer(optimizer, learning_rate):
    """``(GradientTransformation, learning rate or None)`` from a name or an optax transformation."""
    if isinstance(optimizer, optax.GradientTransformation):
        if learning_rate is not None:
            raise ValueError(
                "learning_rate must be None when optimizer is an optax GradientTransformation "
                "(its learning rate is part of it)"
            )
        return optimizer, None
    if not isinstance(optimizer, str):
        raise TypeError(
            f"optimizer must be a name or an optax GradientTransformation, got {optimizer!r}"
        )
    tx = optimizers.get(optimizer)
    rate = optimizers.DEFAULT_LEARNING_RATES[optimizer] if learning_rate is None else learning_rate
    rates = np.asarray(rate, dtype=np.float64)
    if not (np.isfinite(rates).all() and (rates > 0).all()):
        raise ValueError(f"learning_rate must be positive and finite, got {learning_rate!r}")
    return tx, rate


def check_schedule(epochs, batch_size, m: int, grads: str, on_nonfinite: str = "raise") -> None:
    """Validate the integer and choice arguments of ``fit`` before anything is compiled."""
    if not isinstance(epochs, int | np.integer) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"epochs must be an int >= 1, got {epochs!r}")
    if batch_size is not None and (
        not isinstance(batch_size, int | np.integer)
        or isinstance(batch_size, bool)
        or not 1 <= batch_size <= m
    ):
        raise ValueError(
            f"batch_size must be None (full batch) or an int in 1..{m} (the number of examples), got {batch_size!r}"
        )
    if grads not in ("manual", "autodiff"):
        raise ValueError(f"grads must be 'manual' or 'autodiff', got {grads!r}")
    if on_nonfinite not in ("raise", "stop"):
        raise ValueError(f"on_nonfinite must be 'raise' or 'stop', got {on_nonfinite!r}")


def prepare_data(net: Network, params, X, Y, validation_data):
    r"""Validated ``(train, val)`` :class:`~jaxnet.engine.Dataset`\ s in the params' dtype (``val`` None without validation)."""
    check_network(net)
    dtype = check_params(net, params)
    X = as_inputs(net, X, dtype)
    train = engine.Dataset(X, as_labels(net, Y, X.shape[0], dtype))
    if validation_data is None:
        return train, None
    if not isinstance(validation_data, tuple | list) or len(validation_data) != 2:
        raise ValueError("validation_data must be a pair (X_val, Y_val)")
    X_val = as_inputs(net, validation_data[0], dtype, name="validation_data[0] (X_val)")
    Y_val = as_labels(
        net, validation_data[1], X_val.shape[0], dtype, name="validation_data[1] (Y_val)"
    )
    return train, engine.Dataset(X_val, Y_val)


def distribute(mesh, config: engine.TrainConfig, train, val):
    """Shard the data over ``mesh`` (padded with masked rows) and complete ``config`` for it."""
    if mesh is None:
        return config, train, val
    train_rows = parallel.shard_rows(mesh, train.X, train.Y)
    val = None if val is None else engine.Dataset(*parallel.shard_rows(mesh, val.X, val.Y))
    B = config.batch_size
    slots = None if B is None else parallel.padded_size(B, mesh.size)
    config = dataclasses.replace(
        config, mesh=mesh, num_examples=train.X.shape[0], batch_slots=slots
    )
    return config, engine.Dataset(*train_rows), val


def history_keys(net: Network, validation: bool) -> tuple[str, ...]:
    """``("loss", "accuracy", "val_loss", "val_accuracy")``, with ``mse`` for regression."""
    keys = ("loss", metrics.metric_name(net.task))
    return keys + tuple(f"val_{k}" for k in keys) if validation else keys


def new_history(net: Network, validation: bool) -> dict[str, list]:
    return {"epoch": [], **{k: [] for k in history_keys(net, validation)}, "time": []}


def append_epochs(history, keys, logs, first_epoch: int, n: int, seconds: float) -> dict:
    """Add ``n`` epochs of compiled-run logs (arrays ``(chunk,)``) to ``history``; return them
    as columns ``{key: [n floats]}``."""
    added = {k: np.asarray(v[:n], np.float64).tolist() for k, v in zip(keys, logs)}
    if n == 0:
        return added
    for k, values in added.items():
        history[k].extend(values)
    history["epoch"].extend(range(first_epoch + 1, first_epoch + n + 1))
    history["time"].extend([seconds / n] * n)
    return added


def fit(
    net: Network,
    params,
    X,
    Y,
    *,
    optimizer="sgd",
    learning_rate=None,
    epochs: int = 1,
    batch_size: int | None = None,
    key=None,
    validation_data=None,
    grads: str = "autodiff",
    shuffle: bool = True,
    verbose: int = 1,
    on_nonfinite: str = "raise",
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume_from=None,
    mesh=None,
):
    """Train ``net`` from ``params``; returns ``(params, history)``.

    Args:
      net: the :class:`Network`.
      params: initial params (from ``jn.init`` or made by hand, e.g. from NumPy).
      X, Y: training inputs ``(m, n[0])`` and labels (see ``jn.cost``).
      optimizer: ``"sgd"``, ``"momentum"`` (the course's), ``"rmsprop"`` (Keras's
        defaults), ``"adam"`` (see :mod:`jaxnet.optimizers`) or an optax ``GradientTransformation``.
      learning_rate: for a named optimiser (default: Keras's default for it).
      epochs: the number of passes over the data (with ``resume_from``: the total, as Keras's
        ``epochs`` with ``initial_epoch``). Full batch: one epoch is one iteration.
      batch_size: ``None`` for full-batch gradient descent (the course's loop), else the
        minibatch size; the last partial batch is used (Keras semantics).
      key: a ``jax.random`` key for shuffling (required with minibatches and ``shuffle``);
        epoch e shuffles with ``fold_in(key, e)``.
      validation_data: ``(X_val, Y_val)``, evaluated after every epoch.
      grads: ``"autodiff"`` (``jax.grad``) or ``"manual"`` (hand-derived backprop).
      shuffle: reshuffle the minibatches every epoch.
      verbose: 0 silent, 1 progress bar, 2 one line per epoch (per 100 full-batch iterations).
      on_nonfinite: ``"raise"`` :class:`TrainingDiverged`, or ``"stop"``: warn and return
        the last finite params and the history so far.
      checkpoint_dir, checkpoint_every: save a checkpoint there every this many epochs
        (and at the end).
      resume_from: a checkpoint (file or directory) to continue from: its params,
        optimiser state, epoch, key and history replace the arguments'.
      mesh: a ``jax.sharding.Mesh`` with axis ``"data"`` (:func:`jaxnet.parallel.data_mesh`):
        data-parallel training, params replicated and batches split over the devices.

    Returns:
      ``(params, history)``: ``history`` is a JSON-serialisable dict of lists with
      ``loss``, ``accuracy`` (``mse`` for regression), ``val_loss``/``val_accuracy`` when
      validating, ``epoch`` (1-based) and ``time`` (seconds per epoch).
    """
    train, val = prepare_data(net, params, X, Y, validation_data)
    m = train.X.shape[0]
    check_schedule(epochs, batch_size, m, grads, on_nonfinite)
    tx, rate = resolve_optimizer(optimizer, learning_rate)
    if key is None and batch_size is not None and shuffle:
        raise ValueError("key is required to shuffle minibatches: pass key=jax.random.key(seed)")
    if checkpoint_every is not None and (
        not isinstance(checkpoint_every, int) or checkpoint_every < 1
    ):
        raise ValueError(f"checkpoint_every must be an int >= 1, got {checkpoint_every!r}")
    key = jax.random.key(0) if key is None else key

    config = engine.TrainConfig(net, tx, grads, batch_size, shuffle)
    state = engine.start_state(config, params, rate)
    history, start = new_history(net, val is not None), 0
    if resume_from is not None:
        state, key, history, start = resume.restore_run(resume_from, state, config)
    config, train, val = distribute(mesh, config, train, val)
    if mesh is not None:
        state = parallel.replicate(mesh, state)
    run = _Run(config, state, key, history, epochs, start, verbose, on_nonfinite)
    run.train(train, val, m, checkpoint_dir, checkpoint_every)
    return run.state.params, run.history


class _Run:
    """The loop over compiled chunks of one ``fit`` call (mutable bookkeeping, pure steps)."""

    def __init__(self, config, state, key, history, epochs, start, verbose, on_nonfinite):
        self.config, self.state, self.key, self.history = config, state, key, history
        self.epochs, self.done, self.on_nonfinite = epochs, start, on_nonfinite
        self.full_batch = config.batch_size is None
        self.progress = Progress(verbose, epochs, start, print_every=100 if self.full_batch else 1)

    def chunk_length(self, checkpoint_every):
        """Epochs per compiled call: 1 with minibatches; up to ``FULL_BATCH_CHUNK`` iterations."""
        if not self.full_batch:
            return 1
        return min(FULL_BATCH_CHUNK, checkpoint_every or FULL_BATCH_CHUNK)

    def train(self, train, val, m, checkpoint_dir, checkpoint_every):
        keys = [k for k in self.history if k not in ("epoch", "time")]
        self.n_batches = engine.num_batches(m, self.config.batch_size)
        chunk = self.chunk_length(checkpoint_every)
        try:
            while self.done < self.epochs:
                n = min(chunk, self.epochs - self.done)
                tic = time.perf_counter()
                self.state, logs, failed = engine.replaying(
                    functools.partial(engine.run_chunk, self.config),
                    self.state,
                    train,
                    val,
                    self.key,
                    np.int32(self.done),
                    np.int32(n),
                    chunk=FULL_BATCH_CHUNK if self.full_batch else 1,
                )
                failed = int(failed)
                completed = n if failed < 0 else self._epochs_before(failed) - self.done
                added = append_epochs(
                    self.history, keys, logs, self.done, completed, time.perf_counter() - tic
                )
                self.progress.epochs_done(self.done, added, time.perf_counter() - tic)
                self.done += completed
                if failed >= 0:
                    self._diverged(failed)
                    return
                if checkpoint_dir is not None and (
                    self.done % (checkpoint_every or self.epochs) == 0 or self.done == self.epochs
                ):
                    self._save(checkpoint_dir)
        finally:
            self.progress.close()

    def _epochs_before(self, failed_step: int) -> int:
        return failed_step // self.n_batches

    def _diverged(self, failed_step):
        """Warn or raise; the state is the guarded replay's, so its params are the last finite."""
        nb = self.n_batches
        epoch, step = failed_step // nb + 1, failed_step % nb + 1
        message = (
            f"the loss (or the params after the update) became non-finite at epoch {epoch}/{self.epochs}, step {step}/{nb}; "
            f"training stopped and the last finite params were kept (history has {self.done} epochs)"
        )
        if self.on_nonfinite == "stop":
            warnings.warn(message, RuntimeWarning, stacklevel=4)
            return
        raise TrainingDiverged(
            message,
            params=self.state.params,
            opt_state=self.state.opt_state,
            history=self.history,
            epoch=epoch,
            step=step,
        )

    def _save(self, checkpoint_dir):
        resume.save_run(checkpoint_dir, self.state, self.config, self.key, self.history, self.done)
