"""Training: ``jn.fit`` and ``jn.fit_ensemble``, one loop over compiled chunks of epochs.

- :mod:`.fit` and :mod:`.ensemble`: the entry points (one model; K stacked models);
- :mod:`.arguments`: the arguments they share, checked once;
- :mod:`.loop`: THE loop both run (dispatch chunks, record history, report, checkpoint);
- :mod:`.engine`: the compiled program (step, epoch, chunk, the guarded replay);
- :mod:`.history`, :mod:`.progress`, :mod:`.checkpoints` (save and resume),
  :mod:`.sharding` (device meshes), :mod:`.optimizers`, :mod:`.compiler_options`,
  :mod:`.errors`, :mod:`.schedules` (learning-rate decays), :mod:`.callbacks` (hooks in fit).
"""

from jaxnet.training import callbacks, optimizers, schedules
from jaxnet.training.ensemble import fit_ensemble, init_ensemble
from jaxnet.training.errors import CheckpointWriteError, TrainingDiverged
from jaxnet.training.fit import fit

__all__ = [
    "CheckpointWriteError",
    "TrainingDiverged",
    "callbacks",
    "fit",
    "fit_ensemble",
    "init_ensemble",
    "optimizers",
    "schedules",
]
