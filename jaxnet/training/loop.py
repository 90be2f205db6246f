"""THE training loop, shared by ``jn.fit`` (one model) and ``jn.fit_ensemble`` (K vmapped models).

Python only dispatches compiled chunks of epochs to a runner, appends their logs to
the histories, reports progress and lets the caller act between chunks (checkpoints).
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
      align: no compiled call crosses a multiple of ``align`` epochs (``checkpoint_every``).
    """

    epochs: int
    start: int
    steps_per_epoch: int
    chunk: int
    align: int | None = None

    def next_length(self, done: int) -> int:
        """Epochs in the compiled call that starts after ``done`` epochs."""
        n = min(self.chunk, self.epochs - done)
        return n if self.align is None else min(n, self.align - done % self.align)

    def epochs_before(self, failed_step: int) -> int:
        """Completed epochs before the global step ``failed_step`` (0-based)."""
        return failed_step // self.steps_per_epoch


def schedule(epochs: int, m: int, batch_size: int | None, start: int = 0, align=None) -> Schedule:
    """The :class:`Schedule` of ``epochs`` over ``m`` examples in batches of ``batch_size``."""
    chunk = engine.FULL_BATCH_CHUNK if batch_size is None else 1
    return Schedule(epochs, start, engine.num_batches(m, batch_size), chunk, align)


def run(
    runner: Callable,
    state: engine.TrainState,
    data: tuple[engine.Dataset, engine.Dataset | None],
    keys,
    plan: Schedule,
    histories: list[dict],
    progress: Progress,
    after_chunk: Callable[[engine.TrainState, int], None] | None = None,
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
      after_chunk: ``after_chunk(state, epochs_done)`` after every chunk in which no model
        failed (fit's checkpoints).

    Returns:
      The final state and ``failed`` ``(K,)``: each model's first failed global step, -1 if none.
    """
    K, done = len(histories), plan.start
    failed = np.full(K, -1)
    try:
        while done < plan.epochs and not (failed >= 0).all():
            n, tic = plan.next_length(done), time.perf_counter()
            state, logs, failed = engine.replaying(
                runner,
                state,
                *data,
                keys,
                np.int32(done),
                np.int32(n),
                chunk=plan.chunk,
                guarded=bool((failed >= 0).any()),  # keeps the models that failed frozen
            )
            failed = np.reshape(failed, -1)[:K]
            _record(histories, progress, plan, logs, failed, done, n, time.perf_counter() - tic)
            done += n
            if after_chunk is not None and not (failed >= 0).any():
                after_chunk(state, done)
    finally:
        progress.close()
    return state, failed


def _record(histories, progress, plan: Schedule, logs, failed, done: int, n: int, seconds: float):
    """Append each model's completed epochs of the chunk's ``logs`` to its history; report them."""
    K = len(histories)
    logs = [np.reshape(v, (-1, plan.chunk)) for v in logs]  # (K', chunk) with K' >= K
    added = [
        history.append(h, [v[k] for v in logs], done, _alive(plan, failed[k], done, n), seconds)
        for k, h in enumerate(histories)
    ]
    if K == 1:
        progress.epochs_done(done, added[0], seconds)
    else:
        names = history.logged(histories[0])
        mean = {f"mean_{k}": np.mean(v[:K, :n], axis=0).tolist() for k, v in zip(names, logs)}
        progress.epochs_done(done, mean, seconds)


def _alive(plan: Schedule, failed_step: int, done: int, n: int) -> int:
    """How many of the chunk's ``n`` epochs a model completed (all of them unless it failed)."""
    if failed_step < 0:
        return n
    return max(0, min(n, plan.epochs_before(failed_step) - done))
