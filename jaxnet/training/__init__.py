"""Training: ``jn.fit`` and ``jn.fit_ensemble``, one loop over compiled chunks of epochs.

- :mod:`.fit` and :mod:`.ensemble`: the entry points (one model; K stacked models);
- :mod:`.arguments`: the arguments they share, checked once;
- :mod:`.loop`: THE loop both run (dispatch chunks, record history, report, checkpoint);
- :mod:`.engine`: the compiled program (step, epoch, chunk, the guarded replay);
- :mod:`.optimizers`, :mod:`.schedules` (learning-rate decays), :mod:`.callbacks` (hooks in
  fit), :mod:`.checkpoints` (when a run saves, and resuming it);
- beside them: :mod:`.history`, :mod:`.progress`, :mod:`.errors`;
- :mod:`._cpu` (private): the CPU-only speed machinery of ``fit_ensemble`` behind its one
  switch, with the JAX internals it relies on.

Device meshes live in :mod:`jaxnet.parallel`; the checkpoint file format in
:mod:`jaxnet.io.checkpoint`.
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
