"""jaxnet: the course "Neural Networks and Deep Learning" as pure, jit-compiled JAX.

>>> import jax, jaxnet as jn
>>> net = jn.Network((2, 4, 1), hidden="tanh", output="sigmoid")
>>> params = jn.init(jax.random.key(0), net, scheme="normal")
>>> [p["W"].shape for p in params]
[(4, 2), (1, 4)]
"""

from jaxnet import activations, initializers, layers, losses, metrics, optimizers
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
from jaxnet.network import Network
from jaxnet.training import TrainingDiverged, fit

__version__ = "0.1.0"

__all__ = [
    "GradcheckReport",
    "Network",
    "TrainingDiverged",
    "activations",
    "backward",
    "cost",
    "evaluate",
    "fit",
    "format_summary",
    "forward",
    "forward_with_caches",
    "gradcheck",
    "grads",
    "init",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "predict",
    "relative_difference",
    "summary",
]
