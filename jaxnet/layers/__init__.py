"""The course's building blocks: one file per layer, each ``forward`` with its hand-derived ``backward``.

Every layer follows the protocol of :mod:`jaxnet.layers.base`; ``from_dict`` rebuilds
one from its ``to_dict()`` through the registry of kinds.
"""

from jaxnet.layers.base import Layer, from_dict, register
from jaxnet.layers.dense import (
    Dense,
    dense_backward,
    dense_forward,
    linear_backward,
    linear_forward,
)

__all__ = [
    "Dense",
    "Layer",
    "dense_backward",
    "dense_forward",
    "from_dict",
    "linear_backward",
    "linear_forward",
    "register",
]
