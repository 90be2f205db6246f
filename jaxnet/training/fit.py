"""``jn.fit``: jit-compiled gradient descent with optax, a Keras-like history, checkpoints and resume."""

from __future__ import annotations

import contextlib
import functools
import warnings

import jax
import numpy as np

from jaxnet.io import lock
from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.training import checkpoints, engine, loop, optimizers
from jaxnet.training import history as history_
from jaxnet.training.arguments import (
    check_arguments,
    learning_rates,
    refuse_tracers,
    warn_if_padded_state,
)
from jaxnet.training.callbacks import CallbackList, attach_state, check_callbacks
from jaxnet.training.errors import CheckpointWriteError, TrainingDiverged
from jaxnet.training.progress import Progress
from jaxnet.validation import check_choice, check_int


def fit(
    net: Network | Model,
    params,
    X,
    Y,
    *,
    optimizer="sgd",
    learning_rate=None,
    clip_value=None,
    clip_norm=None,
    epochs: int = 1,
    batch_size: int | None = None,
    key=None,
    validation_data=None,
    backprop: str | None = None,
    shuffle: bool = True,
    verbose: int = 1,
    on_nonfinite: str = "raise",
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume_from=None,
    mesh=None,
    callbacks=None,
    early_stopping=None,
):
    """Train ``net`` from ``params``; returns ``(params, history)``.

    ``fit`` is a Python loop over compiled chunks of epochs: call it as it is, not under
    ``jax.jit``, ``jax.vmap`` or ``jax.grad`` (that is a ``TypeError``); to train many
    models at once, use ``jn.fit_ensemble``.

    Args:
      net: the :class:`Network`, or your own :class:`jaxnet.Model` (its ``init`` and
        ``apply``).
      params: initial params (from ``jn.init`` or made by hand, e.g. from NumPy; a
        model's: ``model.init(key)``, a pytree of arrays).
      X, Y: training inputs ``(m, n[0])`` (``(m, n_H, n_W, n_C)`` for images) and labels:
        ``(m,)`` class indices or ``(m, 1)`` for binary, ``(m,)`` or one-hot ``(m, K)``
        for multiclass, ``(m, n[L])`` targets for regression (see ``jn.cost``); for a
        network whose output is a sequence ``(m, T, n[L])`` (a softmax at every step), one
        label per step: ids ``(m, T)`` or one-hot ``(m, T, n[L])`` (the loss averaged over
        each example's real steps, :mod:`jaxnet.losses`).
      optimizer: ``"sgd"``, ``"momentum"`` (the course's), ``"rmsprop"`` (Keras's
        defaults), ``"adam"`` (see :mod:`jaxnet.optimizers`) or an optax ``GradientTransformation``.
      learning_rate: for a named optimiser (default: Keras's default for it): a positive
        number that stays positive and finite in the params' dtype, or a schedule, a
        function of the optimiser step count (0-based) as optax's (e.g.
        :func:`jaxnet.schedules.inverse_time_decay`, the course's decay per epoch, or
        ``optax.exponential_decay``). A schedule is evaluated on the host for every step
        the run will train and checked then, before training (``ValueError`` naming
        ``learning_rate`` and the step of a rate that is not positive and finite); the
        rates reach the compiled step as a traced array, so nothing recompiles.
      clip_value, clip_norm: gradient clipping for a named optimiser, course 5's ``clip``
        (:func:`jaxnet.optimizers.clipping`): each gradient entry clipped to
        ``[-clip_value, clip_value]``, and/or all the gradients rescaled to global L2
        norm at most ``clip_norm``, before the optimiser's update. None: no clipping. With
        an optax transformation, chain ``optax.clip`` into it instead (a bound here is
        then a ``ValueError``).
      epochs: the number of passes over the data (with ``resume_from``: the total, as Keras's
        ``epochs`` with ``initial_epoch``). Full batch: one epoch is one iteration.
      batch_size: ``None`` for full-batch gradient descent (the course's loop), else the
        minibatch size; the last partial batch is used (Keras semantics).
      key: a ``jax.random`` key (required with shuffled minibatches); epoch e shuffles with
        ``fold_in(key, e)``, and a network with dropout draws step s's masks from a key
        derived from ``key`` and s (never a shuffle key).
      validation_data: ``(X_val, Y_val)``, evaluated (in inference mode) after every epoch.
      backprop: ``"manual"`` (hand-derived backprop, the course's) or ``"autodiff"``
        (``jax.grad``); None, the default, is the model's own: ``"manual"`` for a network,
        ``"autodiff"`` for a :class:`jaxnet.Model` (which has no hand-derived backward).
      shuffle: reshuffle the minibatches every epoch.
      verbose: 0 silent, 1 progress bar, 2 one line per epoch (per 100 full-batch iterations).
      on_nonfinite: ``"raise"`` :class:`TrainingDiverged`, or ``"stop"``: warn and return
        the last finite params and the history so far.
      checkpoint_dir, checkpoint_every: save a checkpoint in the directory ``checkpoint_dir``
        every ``checkpoint_every`` epochs and at the end (``checkpoint_every`` without
        ``checkpoint_dir`` is a ``ValueError``). The directory is created and checked for
        writing before training (a ``checkpoint.safetensors`` there that jaxnet did not
        write is refused), and locked for the run: another process training into it gets
        :class:`jaxnet.io.lock.FolderLocked` naming this one's pid. A save that fails later
        raises :class:`CheckpointWriteError`, which carries the trained params.
      resume_from: a checkpoint (file or directory) of this same run to continue: its
        params, optimiser state, epoch count, key and history replace the arguments'. The
        network, optimizer, batch size, shuffling and validation must be the run's
        (``ValueError`` naming the setting otherwise); a ``learning_rate`` given replaces
        the saved one from the resumed epoch on. Continuing is bitwise the run that was
        not interrupted; a schedule continues at the saved step count (pass it again: a
        run saved with one refuses ``learning_rate=None``).
      mesh: a ``jax.sharding.Mesh`` with axis ``"data"`` (:func:`jaxnet.parallel.data_mesh`):
        data-parallel training, params replicated and batches split over the devices.
      callbacks: a list of callbacks (:mod:`jaxnet.callbacks`: ``on_train_begin``,
        ``on_epoch_end(epoch, logs, params)``, ``on_train_end``, ``stop_training``), called
        on the host between compiled chunks, which end at the multiples of each
        callback's ``every`` (the params it sees are exactly that epoch's). A callback
        that raises, at any hook (``on_train_end`` too), ends training: the exception
        propagates with ``.params``, ``.opt_state``, ``.history`` and ``.epoch`` of the
        last completed chunk. So does a ``KeyboardInterrupt`` (Ctrl-C), which with
        ``checkpoint_dir`` also saves that state there first (resume it with
        ``resume_from``): with minibatches the last completed epoch, with full batch the
        last chunk handed over (up to 1000 iterations; a compiled chunk is not stopped
        midway, and one that ends as Ctrl-C lands may be lost). A callback that breaks
        the params it is given in place (a leaf set to None, another shape) is a
        ``TypeError`` naming it.
      early_stopping: a :class:`jaxnet.callbacks.EarlyStopping` or a dict of its
        arguments (``{"monitor": "val_loss", "patience": 5, "restore_best_params": True}``):
        appended to ``callbacks``. Resuming rebuilds its counters from the history (a run
        it stopped trains no further unless its patience grows).

    Returns:
      ``(params, history)``: ``history`` is a JSON-serialisable dict of lists with
      ``loss``, ``accuracy`` (``mse`` for regression), ``val_loss``/``val_accuracy`` when
      validating, ``learning_rate`` (named optimisers: the rate of each epoch's first
      step), ``epoch`` (1-based) and ``time`` (seconds per epoch); and
      ``stopped_epoch`` (an int, the last epoch trained) when a callback stopped training.
      ``params`` are a callback's replacement if one returned some from ``on_train_end``
      (``restore_best_params``); they have the input params' structure and shapes
      (dense layer l: ``W (n[l], n[l-1])``, ``b (n[l],)``).

    Raises:
      TrainingDiverged: the loss became non-finite (with ``on_nonfinite="raise"``).
      CheckpointWriteError: a checkpoint could not be written during training.
      ValueError, TypeError: an argument that is not what is expected (named in the message).

    Example:
      Minibatch gradient descent with the course's learning-rate decay per epoch:

      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
      >>> y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)
      >>> decay = jn.schedules.inverse_time_decay(0.5, decay_rate=0.1, steps_per_epoch=4)
      >>> params, history = jn.fit(net, jn.init(jax.random.key(0), net), X, y,
      ...     learning_rate=decay, epochs=3, batch_size=16, key=jax.random.key(1), verbose=0)
      >>> [round(r, 4) for r in history["learning_rate"]]
      [0.5, 0.4545, 0.4167]
      >>> history["epoch"], [p["W"].shape for p in params]
      ([1, 2, 3], [(4, 2), (1, 4)])
    """
    refuse_tracers("jn.fit", params=params, X=X, Y=Y, validation_data=validation_data,
                   learning_rate=learning_rate, key=key)  # fmt: skip
    setup = check_arguments(
        net, params, X, Y, optimizer=optimizer, learning_rate=learning_rate, epochs=epochs,
        batch_size=batch_size, validation_data=validation_data, backprop=backprop,
        shuffle=shuffle, verbose=verbose, clip_value=clip_value, clip_norm=clip_norm,
    )  # fmt: skip
    check_choice(on_nonfinite, "on_nonfinite", ("raise", "stop"))
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
        if checkpoint_dir is None:
            raise ValueError(
                f"checkpoint_every={checkpoint_every} saves into checkpoint_dir, which is None: "
                "pass checkpoint_dir= (a folder), or drop checkpoint_every"
            )
    cbs = check_callbacks(callbacks, early_stopping)
    if key is None and resume_from is None and _needs_key(setup.config):
        raise ValueError(
            "key is required to shuffle minibatches or draw dropout masks: pass key=jax.random.key(seed)"
        )
    if checkpoint_dir is not None:
        checkpoint_dir = checkpoints.writable_directory(checkpoint_dir)
    owner = (
        contextlib.nullcontext()
        if checkpoint_dir is None
        else lock.hold(checkpoint_dir, "checkpoint_dir")
    )
    with owner:
        return _fit(
            net, setup, params, learning_rate=learning_rate, epochs=epochs, key=key,
            verbose=verbose, on_nonfinite=on_nonfinite, checkpoint_dir=checkpoint_dir,
            checkpoint_every=checkpoint_every, resume_from=resume_from, mesh=mesh, cbs=cbs,
        )  # fmt: skip


def _fit(net, setup, params, *, learning_rate, epochs, key, verbose, on_nonfinite,
         checkpoint_dir, checkpoint_every, resume_from, mesh, cbs):  # fmt: skip
    """``fit`` once its arguments are checked (and its ``checkpoint_dir`` locked)."""
    config, validation = setup.config, setup.val is not None
    rate = setup.learning_rate  # a number, a schedule, or None (an optax transformation)
    named = rate is not None
    m = setup.train.X.shape[0]  # the real rows (train may be padded for the mesh)
    nb = engine.num_batches(m, config.batch_size)
    first_rate = None if rate is None else learning_rates(rate, setup.train.X.dtype, 0, 1)[0]
    state = engine.start_state(config, params, first_rate)
    history, start = history_.new(config.net, validation, learning_rate=named), 0
    if resume_from is not None:
        state, key, history, start = checkpoints.resume(
            resume_from, state, config, epochs=epochs, key=key, learning_rate=learning_rate,
            validation=validation,
        )  # fmt: skip
        if named and learning_rate is None:  # the saved run's (constant) rate goes on
            rate = np.asarray(optimizers.learning_rate_of(state.opt_state))
        history.pop(history_.STOPPED, None)
        cbs.load_state(checkpoints.directory_of(resume_from), state.params)
    rates = None
    if rate is not None:  # checked before anything trains
        rates = learning_rates(rate, setup.train.X.dtype, start * nb, epochs * nb)
    key = jax.random.key(0) if key is None else key
    # the state after the last completed chunk (its params' containers copied: a callback
    # that breaks them in place cannot reach these), for an exception to carry
    reached: dict = {"state": _snapshot(state), "done": start, "saved": start}
    save = None
    try:
        stop = cbs.train_begin(history, state.params)
        config, state, train, val = engine.on_mesh(mesh, config, state, setup.train, setup.val)
        warn_if_padded_state(config, train)
        align = (checkpoint_every, *cbs.periods)
        plan = loop.schedule(epochs if not stop else start, m, config.batch_size, start, align)
        if checkpoint_dir is not None:
            save = functools.partial(
                _save, checkpoint_dir, config, key, history, checkpoint_every or epochs, epochs,
                callable(rate), cbs,
            )  # fmt: skip
        after_chunk = functools.partial(_after_chunk, cbs, history, save, reached)
        every = 100 if config.batch_size is None else 1
        progress = Progress(verbose, epochs, start, print_every=every)
        runner = functools.partial(engine.run_chunk, config)
        state, failed = loop.run(
            runner, state, (train, val), key, plan, [history], progress, after_chunk, rates
        )  # fmt: skip
        if stop:  # a resumed run that its callbacks stop at once (early stopping did already)
            history[history_.STOPPED] = start
        reached["ended"] = True  # on_train_end runs below, once
        if failed[0] >= 0:
            _diverged(plan, int(failed[0]), state, history, on_nonfinite, cbs)
        reached.update(state=_snapshot(state), done=len(history["epoch"]))
        return cbs.train_end(history, state.params), history
    except BaseException as e:  # a callback's, a checkpoint's, Ctrl-C: nothing trained is lost
        _keep_what_was_reached(e, reached, history, save, checkpoint_dir, cbs)
        raise


def _snapshot(state):
    """``state`` with new containers around the same arrays (a callback's edits stay its own)."""
    return state._replace(params=jax.tree.map(lambda x: x, state.params))


def _until(history: dict, epoch: int) -> dict:
    """The history of the epochs up to ``epoch`` (a chunk logged but not handed over is cut)."""
    n = sum(1 for e in history["epoch"] if e <= epoch)
    return {k: v[:n] if isinstance(v, list) else v for k, v in history.items()}


def _keep_what_was_reached(error, reached, history, save, checkpoint_dir, cbs) -> None:
    """Attach the state of the last completed chunk to ``error``; on Ctrl-C (``KeyboardInterrupt``)
    also save it into ``checkpoint_dir`` (if epochs were trained since the last save); then
    the callbacks' ``on_train_end`` unless it ran already."""
    at, done = reached["state"], reached["done"]
    kept = _until(history, done)
    attach_state(error, params=at.params, opt_state=at.opt_state, history=kept, epoch=done)
    if isinstance(error, KeyboardInterrupt) and save is not None and done > reached["saved"]:
        try:
            save(at, done, True, history_until=kept)
        except BaseException as e:  # the interrupt is the error to see (a second one too)
            error.add_note(f"its checkpoint of epoch {done} could not be saved: {e!r}")
        else:
            error.add_note(
                f"the checkpoint of epoch {done} is saved in {checkpoint_dir}: continue with "
                f"jn.fit(..., resume_from={str(checkpoint_dir)!r})"
            )
    if not reached.get("ended"):
        cbs.train_end_after_error(error, kept, at.params)


def _after_chunk(cbs: CallbackList, history, save, reached: dict, state, done: int) -> bool:
    """Between chunks: the callbacks due after epoch ``done``, then a checkpoint; True to stop."""
    reached.update(state=_snapshot(state), done=done)
    stop = cbs.epoch_end(done, history, state.params)
    if stop:
        history[history_.STOPPED] = done
    if save is not None and save(state, done, stop):
        reached["saved"] = done
    return stop


def _needs_key(config: engine.TrainConfig) -> bool:
    return (config.batch_size is not None and config.shuffle) or config.net.needs_key


def _save(
    directory, config, key, history, every: int, epochs: int, schedule: bool, cbs: CallbackList,
    state, done: int, stopped: bool, *, history_until=None,
) -> bool:  # fmt: skip
    """After a chunk: save every ``every`` epochs, at the end and where a callback stopped
    training (the callbacks' own state first); a failure keeps the params. True if saved."""
    if done % every and done != epochs and not stopped:
        return False
    history = history if history_until is None else history_until
    try:
        cbs.save_state(directory)
        checkpoints.save(directory, state, config, key, history, done, schedule=schedule)
    except OSError as e:
        raise CheckpointWriteError(
            f"the checkpoint of epoch {done} could not be written in {directory} ({e}); "
            "the trained params, opt_state and history are on this error",
            params=state.params, opt_state=state.opt_state, history=history, epoch=done,
            path=directory,
        ) from e  # fmt: skip
    return True


def _diverged(plan: loop.Schedule, failed_step: int, state, history, on_nonfinite: str, cbs):
    """Warn or raise; the state is the guarded replay's, so its params are the last finite.

    Raising, the callbacks' ``on_train_end`` runs first (loggers flush; no replacement).
    """
    nb = plan.steps_per_epoch
    epoch, step = failed_step // nb + 1, failed_step % nb + 1
    message = (
        f"the loss (or the params after the update) became non-finite at epoch {epoch}/{plan.epochs}, "
        f"step {step}/{nb}; training stopped and the last finite params were kept "
        f"(history has {len(history['epoch'])} epochs)"
    )
    if on_nonfinite == "stop":
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return
    error = TrainingDiverged(
        message,
        params=state.params,
        opt_state=state.opt_state,
        history=history,
        epoch=epoch,
        step=step,
    )
    cbs.train_end_after_error(error, history, state.params)
    raise error
