"""``jn.fit``: jit-compiled gradient descent with optax, a Keras-like history, checkpoints and resume."""

from __future__ import annotations

import functools
import warnings

import jax

from jaxnet.network import Network
from jaxnet.training import checkpoints, engine, loop, sharding
from jaxnet.training import history as history_
from jaxnet.training.arguments import check_arguments, refuse_tracers
from jaxnet.training.errors import CheckpointWriteError, TrainingDiverged
from jaxnet.training.progress import Progress
from jaxnet.validation import check_choice, check_int


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
    backprop: str = "manual",
    shuffle: bool = True,
    verbose: int = 1,
    on_nonfinite: str = "raise",
    checkpoint_dir=None,
    checkpoint_every: int | None = None,
    resume_from=None,
    mesh=None,
):
    """Train ``net`` from ``params``; returns ``(params, history)``.

    ``fit`` is a Python loop over compiled chunks of epochs: call it as it is, not under
    ``jax.jit``, ``jax.vmap`` or ``jax.grad`` (that is a ``TypeError``); to train many
    models at once, use ``jn.fit_ensemble``.

    Args:
      net: the :class:`Network`.
      params: initial params (from ``jn.init`` or made by hand, e.g. from NumPy).
      X, Y: training inputs ``(m, n[0])`` and labels (see ``jn.cost``).
      optimizer: ``"sgd"``, ``"momentum"`` (the course's), ``"rmsprop"`` (Keras's
        defaults), ``"adam"`` (see :mod:`jaxnet.optimizers`) or an optax ``GradientTransformation``.
      learning_rate: for a named optimiser (default: Keras's default for it); a positive
        number that stays positive and finite in the params' dtype.
      epochs: the number of passes over the data (with ``resume_from``: the total, as Keras's
        ``epochs`` with ``initial_epoch``). Full batch: one epoch is one iteration.
      batch_size: ``None`` for full-batch gradient descent (the course's loop), else the
        minibatch size; the last partial batch is used (Keras semantics).
      key: a ``jax.random`` key (required with shuffled minibatches); epoch e shuffles with
        ``fold_in(key, e)``, and a network with dropout draws step s's masks from a key
        derived from ``key`` and s (never a shuffle key).
      validation_data: ``(X_val, Y_val)``, evaluated (in inference mode) after every epoch.
      backprop: ``"manual"`` (hand-derived backprop, the course's) or ``"autodiff"`` (``jax.grad``).
      shuffle: reshuffle the minibatches every epoch.
      verbose: 0 silent, 1 progress bar, 2 one line per epoch (per 100 full-batch iterations).
      on_nonfinite: ``"raise"`` :class:`TrainingDiverged`, or ``"stop"``: warn and return
        the last finite params and the history so far.
      checkpoint_dir, checkpoint_every: save a checkpoint in the directory ``checkpoint_dir``
        every ``checkpoint_every`` epochs and at the end. The directory is created and
        checked for writing before training; a save that fails later raises
        :class:`CheckpointWriteError`, which carries the trained params.
      resume_from: a checkpoint (file or directory) of this same run to continue: its
        params, optimiser state, epoch count, key and history replace the arguments'. The
        network, optimizer, batch size, shuffling and validation must be the run's
        (``ValueError`` naming the setting otherwise); a ``learning_rate`` given replaces
        the saved one from the resumed epoch on. Continuing is bitwise the run that was
        not interrupted.
      mesh: a ``jax.sharding.Mesh`` with axis ``"data"`` (:func:`jaxnet.parallel.data_mesh`):
        data-parallel training, params replicated and batches split over the devices.

    Returns:
      ``(params, history)``: ``history`` is a JSON-serialisable dict of lists with
      ``loss``, ``accuracy`` (``mse`` for regression), ``val_loss``/``val_accuracy`` when
      validating, ``epoch`` (1-based) and ``time`` (seconds per epoch).
    """
    refuse_tracers("jn.fit", params=params, X=X, Y=Y, validation_data=validation_data,
                   learning_rate=learning_rate, key=key)  # fmt: skip
    setup = check_arguments(
        net, params, X, Y, optimizer=optimizer, learning_rate=learning_rate, epochs=epochs,
        batch_size=batch_size, validation_data=validation_data, backprop=backprop,
        shuffle=shuffle, verbose=verbose,
    )  # fmt: skip
    check_choice(on_nonfinite, "on_nonfinite", ("raise", "stop"))
    if checkpoint_every is not None:
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", 1)
    if key is None and resume_from is None and _needs_key(setup.config):
        raise ValueError(
            "key is required to shuffle minibatches or draw dropout masks: pass key=jax.random.key(seed)"
        )
    if checkpoint_dir is not None:
        checkpoint_dir = checkpoints.writable_directory(checkpoint_dir)

    config, validation = setup.config, setup.val is not None
    state = engine.start_state(config, params, setup.learning_rate)
    history, start = history_.new(net, validation), 0
    if resume_from is not None:
        rate = None if learning_rate is None else setup.learning_rate
        state, key, history, start = checkpoints.resume(
            resume_from, state, config, epochs=epochs, key=key, learning_rate=rate,
            validation=validation,
        )  # fmt: skip
    key = jax.random.key(0) if key is None else key
    config, state, train, val = sharding.distribute(mesh, config, state, setup.train, setup.val)
    m = setup.train.X.shape[0]  # the real rows (train may be padded for the mesh)
    plan = loop.schedule(epochs, m, config.batch_size, start, align=checkpoint_every)
    save = None
    if checkpoint_dir is not None:
        every = checkpoint_every or epochs
        save = functools.partial(_save, checkpoint_dir, config, key, history, every, epochs)
    progress = Progress(verbose, epochs, start, print_every=100 if config.batch_size is None else 1)
    runner = functools.partial(engine.run_chunk, config)
    state, failed = loop.run(runner, state, (train, val), key, plan, [history], progress, save)
    if failed[0] >= 0:
        _diverged(plan, int(failed[0]), state, history, on_nonfinite)
    return state.params, history


def _needs_key(config: engine.TrainConfig) -> bool:
    return (config.batch_size is not None and config.shuffle) or config.net.needs_key


def _save(directory, config, key, history, every: int, epochs: int, state, done: int) -> None:
    """After a chunk: save every ``every`` epochs and at the end; a failure keeps the params."""
    if done % every and done != epochs:
        return
    try:
        checkpoints.save(directory, state, config, key, history, done)
    except OSError as e:
        raise CheckpointWriteError(
            f"the checkpoint of epoch {done} could not be written in {directory} ({e}); "
            "the trained params, opt_state and history are on this error",
            params=state.params, opt_state=state.opt_state, history=history, epoch=done,
            path=directory,
        ) from e  # fmt: skip


def _diverged(plan: loop.Schedule, failed_step: int, state, history, on_nonfinite: str) -> None:
    """Warn or raise; the state is the guarded replay's, so its params are the last finite."""
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
    raise TrainingDiverged(
        message,
        params=state.params,
        opt_state=state.opt_state,
        history=history,
        epoch=epoch,
        step=step,
    )
