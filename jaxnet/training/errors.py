"""How a run that cannot finish ends: an exception carrying everything trained so far."""

from __future__ import annotations


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite. Carries what was reached before, so nothing is lost.

    Attributes:
      params: the last finite params (the step whose loss was non-finite was not applied).
      opt_state: the optimiser state that goes with them.
      history: the history of the epochs completed before the failure.
      epoch: the 1-based epoch where the loss (or the updated params) became non-finite.
      step: the 1-based step within that epoch.
    """

    def __init__(self, message, *, params, opt_state, history, epoch, step):
        super().__init__(message)
        self.params, self.opt_state, self.history = params, opt_state, history
        self.epoch, self.step = epoch, step


class CheckpointWriteError(OSError):
    """A checkpoint could not be written during training. Carries the trained state.

    Attributes:
      params: the params after ``epoch`` epochs (what the checkpoint would have held).
      opt_state: the optimiser state that goes with them.
      history: the history of those epochs.
      epoch: the epochs done when the save failed.
      path: the checkpoint directory.
    """

    def __init__(self, message, *, params, opt_state, history, epoch, path):
        super().__init__(message)
        self.params, self.opt_state, self.history = params, opt_state, history
        self.epoch, self.path = epoch, path
