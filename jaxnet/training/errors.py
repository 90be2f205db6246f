"""How a run that cannot finish ends: an exception carrying everything trained so far."""

from __future__ import annotations

__all__ = ["CheckpointWriteError", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError):
    """The loss became non-finite. Carries what was reached before, so nothing is lost.

    Attributes:
      params: the last finite params (the step whose loss was non-finite was not applied).
      opt_state: the optimiser state that goes with them.
      history: the history of the epochs completed before the failure.
      epoch: the 1-based epoch where the loss (or the updated params) became non-finite.
      step: the 1-based step within that epoch.

    Example:
      A learning rate far too large makes the loss overflow in the first epochs:

      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> net = jn.Network((1, 1), output_activation="linear")
      >>> X = np.array([[1e3], [-1e3]], np.float32)
      >>> y = np.array([1e3, -1e3], np.float32)
      >>> try:
      ...     jn.fit(net, jn.init(jax.random.key(0), net), X, y, learning_rate=10.0,
      ...            epochs=50, verbose=0)
      ... except jn.TrainingDiverged as err:
      ...     print(err.epoch > 1, len(err.history["loss"]) == err.epoch - 1)
      ...     print(bool(np.isfinite(err.params[0]["W"]).all()))
      True True
      True
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

    Example:
      >>> import jaxnet as jn
      >>> err = jn.CheckpointWriteError("disk full", params=(), opt_state=None,
      ...                               history={"loss": [0.5]}, epoch=1, path="run")
      >>> isinstance(err, OSError), err.epoch, err.history
      (True, 1, {'loss': [0.5]})
    """

    def __init__(self, message, *, params, opt_state, history, epoch, path):
        super().__init__(message)
        self.params, self.opt_state, self.history = params, opt_state, history
        self.epoch, self.path = epoch, path
