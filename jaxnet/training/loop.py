"""THE training loop, shared by ``jn.fit`` (one model) and ``jn.fit_ensemble`` (K vmapped models).

Python only dispatches compiled chunks of epochs to a runner, appends their logs to
the histories, reports progress and lets the caller act between chunks (callbacks,
checkpoints, a stop). A learning-rate schedule reaches the runner as the chunk's rate
per step (evaluated on the host, a traced array: nothing recompiles).
The runner is :func:`jaxnet.training.engine.run_chunk` for one model or its ``vmap``
for K; the loop tells them apart only by the shape of the logs, ``(chunk,)`` or
``(K, chunk)``. A model whose loss turns non-finite stops where it failed (the guarded
replay keeps its last finite params, and later chunks run guarded so it stays frozen);
the loop ends when every model has stopped or the epochs are done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from jaxnet.training import engine, history
from jaxnet.training.progress import Progress


class Schedule(NamedTuple):
    """Which epochs a run trains and how they are cut into compiled calls.

    Attributes:
      epochs: the total; epochs ``start + 1 .. epochs`` (1-based) are trained.
      start: epochs done before (a resumed run).
      steps_per_epoch: optimiser steps per epoch (1 for full batch).
      chunk: the runner's static log length: ``FULL_BATCH_CHUNK`` full batch, 1 with minibatches.
      align: periods in epochs: no compiled call crosses a multiple of any of them
        (``checkpoint_every``, the callbacks' ``every``), so the caller sees the state there.
    """

    epochs: int
    start: int
    steps_per_epoch: int
    chunk: int
    align: tuple[int, ...] = ()

    def next_length(self, done: int) -> int:
        """Epochs in the compiled call that starts after ``done`` epochs."""
        return min(self.chunk, self.epochs - done, *(p - done % p for p in self.align))

    def epochs_before(self, failed_step: int) -> int:
        """Completed epochs before the global step ``failed_step`` (0-based)."""
        return failed_step // self.steps_per_epoch


def schedule(epochs: int, m: int, batch_size: int | None, start: int = 0, align=()) -> Schedule:
    """The :class:`Schedule` of ``epochs`` over ``m`` examples in batches of ``batch_size``;
    ``align``: a period in epochs, None, or several (see :class:`Schedule`)."""
    chunk = engine.FULL_BATCH_CHUNK if batch_size is None else 1
    periods = (align,) if isinstance(align, int) else tuple(p for p in align or () if p)
    return Schedule(epochs, start, engine.num_batches(m, batch_size), chunk, periods)


def run(
    runner: Callable,
    state: engine.TrainState,
    data: tuple[engine.Dataset, engine.Dataset | None],
    keys,
    plan: Schedule,
    histories: list[dict],
    progress: Progress,
    after_chunk: Callable[[engine.TrainState, int], bool] | None = None,
    rates: np.ndarray | None = None,
):
    """Train ``plan``'s epochs; returns ``(state, failed)``.

    Args:
      runner: ``runner(state, train, val, keys, first_epoch, n_epochs, *, chunk, guarded)
        -> (state, logs)``, a compiled chunk (:func:`engine.run_chunk` with its config bound).
      state: a :class:`engine.TrainState` (leaves with a leading model axis for K models).
      data: ``(train, val)`` datasets (``val`` None without validation).
      keys: the run key (one model) or the models' keys ``(K,)``.
      plan: the :class:`Schedule`.
      histories: one history per model (K >= 1), extended in place; a runner may carry
        more models than histories (padding for a mesh), which are not reported.
      progress: reports each chunk's logs (the mean over the models when K > 1).
      after_chunk: ``after_chunk(state, epochs_done) -> stop`` after every chunk in which no
        model failed (fit's callbacks and checkpoints); a true result ends the run there.
      rates: the learning rate of every step the run trains, ``(steps_per_epoch *
        (epochs - start),)`` from the first step after ``start`` epochs, or None (the
        optimiser's own); the runner gets each chunk's, the histories each epoch's first.

    Returns:
      The final state and ``failed`` ``(K,)``: each model's first failed global step, -1 if none.
    """
    K, done = len(histories), plan.start
    failed = np.full(K, -1)
    try:
        while done < plan.epochs and not (failed >= 0).all():
            n, tic = plan.next_length(done), time.perf_counter()
            chunk_rates = None if rates is None else _chunk_rates(plan, rates, done, n)
            state, logs, failed = engine.replaying(
                runner,
                state,
                *data,
                keys,
                np.int32(done),
                np.int32(n),
                **({} if chunk_rates is None else {"rates": chunk_rates}),
                chunk=plan.chunk,
                guarded=bool((failed >= 0).any()),  # keeps the models that failed frozen
            )
            failed = np.reshape(failed, -1)[:K]
            epoch_rates = None if chunk_rates is None else chunk_rates[:: plan.steps_per_epoch]
            seconds = time.perf_counter() - tic
            _record(histories, progress, plan, logs, failed, done, n, seconds, epoch_rates)
            done += n
            if after_chunk is not None and not (failed >= 0).any() and after_chunk(state, done):
                break
    finally:
        progress.close()
    return state, failed


def _chunk_rates(plan: Schedule, rates: np.ndarray, done: int, n: int) -> np.ndarray:
    """The rates of the chunk's steps, ``(chunk * steps_per_epoch,)``: its ``n`` epochs',
    then the last one repeated over the inactive tail (a fixed shape: no recompilation)."""
    nb = plan.steps_per_epoch
    first = (done - plan.start) * nb
    own = rates[first : first + n * nb]
    if n == plan.chunk:
        return own
    padded = np.full(plan.chunk * nb, own[-1], rates.dtype)
    padded[: n * nb] = own
    return padded


def _record(histories, progress, plan: Schedule, logs, failed, done, n, seconds, rates=None):
    """Append each model's completed epochs of the chunk's ``logs`` to its history; report them."""
    K = len(histories)
    logs = [np.reshape(v, (-1, plan.chunk)) for v in logs]  # (K', chunk) with K' >= K
    completed = [_alive(plan, failed[k], done, n) for k in range(K)]
    first = history.extend(histories, logs, done, completed, seconds, rates)
    if K == 1:
        progress.epochs_done(done, first, seconds)
    elif progress.verbose:
        names = history.logged(histories[0])
        mean = {f"mean_{k}": np.mean(v[:K, :n], axis=0).tolist() for k, v in zip(names, logs)}
        progress.epochs_done(done, mean, seconds)


def _alive(plan: Schedule, failed_step: int, done: int, n: int) -> int:
    """How many of the chunk's ``n`` epochs a model completed (all of them unless it failed)."""
    if failed_step < 0:
        return n
    return max(0, min(n, plan.epochs_before(failed_step) - done))
