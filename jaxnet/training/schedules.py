"""Learning-rate schedules: the course's decays as optax schedules (functions of the step count).

A schedule is what optax calls one: a function of the number of optimiser steps taken
(0 for the first step) that returns the learning rate of that step. ``jn.fit`` takes
one as ``learning_rate=``, evaluates it on the host for the steps it will run, checks
the rates, and feeds them to the compiled chunk as a traced array, so a schedule never
recompiles anything. Any optax schedule works the same way (``optax.exponential_decay``,
``optax.cosine_decay_schedule``, ...).

The course (course 2, week 2) decays the rate per **epoch**. With minibatches an epoch
is ``steps_per_epoch = ceil(m / batch_size)`` steps, with full batch one step; the
schedules below take ``steps_per_epoch`` and count ``epoch = step // steps_per_epoch``,
the number of epochs completed before the step, so the first epoch trains at
``learning_rate`` (as Keras's ``InverseTimeDecay(..., staircase=True)`` with
``decay_steps=steps_per_epoch``). The lecture's table numbers epochs from 1, so its
epoch 1 is this module's epoch 0 decayed once: ``schedule(steps_per_epoch)``.

The functions use Python operators only, so they run on ints, NumPy arrays (how
``jn.fit`` evaluates them, without compiling anything) and traced JAX arrays alike.

>>> import numpy as np
>>> decay = inverse_time_decay(0.2, decay_rate=1.0, steps_per_epoch=3)
>>> [round(float(decay(s)), 4) for s in (0, 2, 3, 6, 9)]
[0.2, 0.2, 0.1, 0.0667, 0.05]
"""

from __future__ import annotations

from collections.abc import Callable

from jaxnet.validation import check_int, check_real

__all__ = ["fixed_interval_decay", "inverse_time_decay", "steps_per_epoch"]

Schedule = Callable  # count -> learning rate, as optax.Schedule


def inverse_time_decay(
    learning_rate: float, decay_rate: float, *, steps_per_epoch: int = 1
) -> Schedule:
    """The course's ``update_lr``: ``alpha = alpha0 / (1 + decay_rate * epoch)``.

    Args:
      learning_rate: ``alpha0``, a positive number.
      decay_rate: a number ``>= 0`` (0: a constant rate).
      steps_per_epoch: optimiser steps per epoch (1 for full batch, else
        ``ceil(m / batch_size)``, see :func:`steps_per_epoch`); the epoch of step ``s``
        is ``s // steps_per_epoch``.

    Returns:
      A schedule ``count -> learning rate`` for ``jn.fit(..., learning_rate=...)``.

    Example:
      >>> decay = inverse_time_decay(0.5, decay_rate=1.0)  # full batch: one step per epoch
      >>> [float(decay(e)) for e in range(3)]
      [0.5, 0.25, 0.16666666666666666]
    """
    alpha0 = check_real(learning_rate, "learning_rate", 0.0, strict=True)
    rate = check_real(decay_rate, "decay_rate", 0.0)
    per_epoch = check_int(steps_per_epoch, "steps_per_epoch", 1)

    def schedule(count):
        return alpha0 / (1 + rate * (count // per_epoch))

    return schedule


def fixed_interval_decay(
    learning_rate: float, decay_rate: float, *, time_interval: int, steps_per_epoch: int = 1
) -> Schedule:
    """The course's ``schedule_lr_decay``: ``alpha0 / (1 + decay_rate * floor(epoch / time_interval))``.

    The rate drops every ``time_interval`` epochs and stays constant in between (the
    course trains 5000 minibatch epochs with ``time_interval=1000``).

    Args:
      learning_rate: ``alpha0``, a positive number.
      decay_rate: a number ``>= 0``.
      time_interval: epochs between two drops, an int ``>= 1``.
      steps_per_epoch: optimiser steps per epoch, as for :func:`inverse_time_decay`.

    Returns:
      A schedule ``count -> learning rate``.

    Example:
      >>> decay = fixed_interval_decay(0.1, decay_rate=1.0, time_interval=1000)
      >>> [float(decay(e)) for e in (0, 999, 1000, 2500)]
      [0.1, 0.1, 0.05, 0.03333333333333333]
    """
    alpha0 = check_real(learning_rate, "learning_rate", 0.0, strict=True)
    rate = check_real(decay_rate, "decay_rate", 0.0)
    interval = check_int(time_interval, "time_interval", 1)
    per_epoch = check_int(steps_per_epoch, "steps_per_epoch", 1)

    def schedule(count):
        return alpha0 / (1 + rate * (count // per_epoch // interval))

    return schedule


def steps_per_epoch(num_examples: int, batch_size: int | None = None) -> int:
    """Optimiser steps in one epoch of ``jn.fit``: 1 for full batch, else ``ceil(m / batch_size)``.

    Args:
      num_examples: ``m``, the number of training examples.
      batch_size: as ``jn.fit``'s (None: full batch; the last partial batch counts).

    Returns:
      The number of steps per epoch.

    Example:
      >>> steps_per_epoch(300, 64), steps_per_epoch(300)
      (5, 1)
    """
    m = check_int(num_examples, "num_examples", 1)
    if batch_size is None:
        return 1
    return -(-m // check_int(batch_size, "batch_size", 1))
