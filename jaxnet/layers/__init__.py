"""The course's building blocks: one file per layer, each ``forward`` with its hand-derived ``backward``."""

from jaxnet.layers.dense import (
    SMALL_LAYER,
    Dense,
    dense_backward,
    dense_forward,
    is_small,
    linear_backward,
    linear_forward,
    matmul,
)

__all__ = [
    "SMALL_LAYER",
    "Dense",
    "dense_backward",
    "dense_forward",
    "is_small",
    "linear_backward",
    "linear_forward",
    "matmul",
]
