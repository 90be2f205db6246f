"""jaxnet: the course "Neural Networks and Deep Learning" as pure, jit-compiled JAX.

>>> import jax, jaxnet as jn
>>> net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
>>> params = jn.init(jax.random.key(0), net, scheme="normal")
>>> [p["W"].shape for p in params]
[(4, 2), (1, 4)]
"""

from jaxnet import (
    activations,
    initializers,
    layers,
    limits,
    losses,
    metrics,
    parallel,
)
from jaxnet.api import (
    backward,
    cost,
    evaluate,
    format_summary,
    forward,
    forward_with_caches,
    grads,
    init,
    predict,
    summary,
)
from jaxnet.gradcheck import GradcheckReport, gradcheck, relative_difference
from jaxnet.io import checkpoint
from jaxnet.io.compilation_cache import enable_compilation_cache
from jaxnet.model import Model
from jaxnet.network import Network, Sequential
from jaxnet.per_example import per_example_grads
from jaxnet.training import (
    CheckpointWriteError,
    TrainingDiverged,
    callbacks,
    fit,
    fit_ensemble,
    init_ensemble,
    optimizers,
    schedules,
)

__version__ = "0.1.0"

_LAZY = ("datasets", "interop", "plotting")  # heavier imports (matplotlib), loaded on first use


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f"jaxnet.{name}")
    raise AttributeError(f"module 'jaxnet' has no attribute {name!r}")


__all__ = [
    "CheckpointWriteError",
    "GradcheckReport",
    "Model",
    "Network",
    "Sequential",
    "TrainingDiverged",
    "activations",
    "backward",
    "callbacks",
    "checkpoint",
    "cost",
    "datasets",
    "enable_compilation_cache",
    "evaluate",
    "fit",
    "fit_ensemble",
    "format_summary",
    "forward",
    "forward_with_caches",
    "gradcheck",
    "grads",
    "init",
    "init_ensemble",
    "initializers",
    "interop",
    "layers",
    "limits",
    "losses",
    "metrics",
    "optimizers",
    "parallel",
    "per_example_grads",
    "plotting",
    "predict",
    "relative_difference",
    "schedules",
    "summary",
]
