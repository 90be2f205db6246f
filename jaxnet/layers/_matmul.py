"""A private speed helper: the products of tiny layers as broadcast multiply-adds.

``sum_i X[:, i] Y[i, :]`` is one fused elementwise loop where a matrix product is a
library call; for layers as small as the course's planar network (2 -> 4 -> 1) the loop
runs faster on XLA:CPU, alone and vmapped over many models (measurements in
benchmarks/README.md).
"""

from __future__ import annotations

import functools
import operator

SMALL_LAYER = 32  # n[l] * n[l-1] up to which a layer's products are multiply-adds


def matmul(X, Y, small: bool):
    """``X @ Y`` for ``X (m, k)`` (or one example ``(k,)``), ``Y (k, n)``; with ``small``, as ``k``
    broadcast multiply-adds."""
    if not small:
        return X @ Y
    lead = (1,) * (X.ndim - 1)  # explicit broadcasting: no rank promotion

    def term(i):
        return X[..., i : i + 1] * Y[i].reshape(*lead, -1)

    return functools.reduce(operator.add, (term(i) for i in range(Y.shape[0])))


def is_small(W) -> bool:
    """Whether the layer of ``W (n[l], n[l-1])`` is tiny enough for :func:`matmul`'s loop."""
    return W.shape[0] * W.shape[1] <= SMALL_LAYER
