"""Workload E, shared by its contenders and its floor: the MNIST CNN, one start, its FLOPs.

The network (Keras's MNIST convnet without dropout)::

    conv 32 3x3 same relu -> maxpool 2 -> conv 64 3x3 same relu -> maxpool 2
    -> flatten -> dense 128 relu -> dense 10 softmax

Adam 1e-3 (b1 0.9, b2 0.999, eps 1e-8: optax's, PyTorch's and jaxnet's defaults; Keras is
given eps 1e-8), batch 128 (last batch 96, used), 2 epochs, reshuffled every epoch.
Every contender starts from the same params: Keras's default glorot-uniform drawn once
with NumPy (:func:`start`), in Keras's layout (NHWC images, HWIO kernels, dense ``(in,
out)``, flatten in (h, w, c) order); each contender converts them to its own layout.
"""

from __future__ import annotations

import numpy as np

from benchmarks import common

SIDE, CLASSES = 28, 10
CONVS = ((32, 3), (64, 3))  # (filters, kernel size), each "same" + relu + 2x2 max pool
HIDDEN = 128
M = {"full": None, "quick": 256}  # None: all 60,000
TEST_M = {"full": None, "quick": 256}
EPOCHS = {"full": 2, "quick": 1}
STEP_CALLS = {"full": 40, "quick": 2}  # one jitted step timed (hand-derived vs autodiff)
ADAM = {"learning_rate": 1e-3, "b1": 0.9, "b2": 0.999, "eps": 1e-8}
EPOCH_M = 60_000  # the floor is per epoch of the full training set


def images(args):
    """``(X (m, 28, 28, 1) float32 in [0, 1], y, X_test, y_test)``, NHWC, via jaxnet's loader."""
    X, y, X_test, y_test = common.mnist(args.data_dir, M[args.size], TEST_M[args.size])
    nhwc = (-1, SIDE, SIDE, 1)
    return X.reshape(nhwc), y, X_test.reshape(nhwc), y_test


def conv_shapes():
    """``(n_H, n_C_prev, n_C, f)`` of each conv: input side, channels in and out, kernel size."""
    out, side, channels = [], SIDE, 1
    for filters, f in CONVS:
        out.append((side, channels, filters, f))
        side, channels = side // 2, filters
    return out


def dense_sizes() -> tuple[int, int, int]:
    """``(n_flat, 128, 10)``: the dense layers' sizes after the last pool."""
    side, channels = SIDE // 2 ** len(CONVS), CONVS[-1][0]
    return side * side * channels, HIDDEN, CLASSES


def start(seed: int) -> dict[str, np.ndarray]:
    """Keras's glorot-uniform kernels (conv fans ``f f n_C_prev`` and ``f f n_C``), zero biases.

    Keys ``conv1_W (3, 3, 1, 32)``, ``conv1_b``, ``conv2_W (3, 3, 32, 64)``, ``conv2_b``,
    ``dense1_W (3136, 128)``, ``dense1_b``, ``dense2_W (128, 10)``, ``dense2_b``; float32.
    """
    rng = np.random.default_rng(seed)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, shape).astype(np.float32)

    params = {}
    for l, (_, c_in, c_out, f) in enumerate(conv_shapes(), start=1):
        params[f"conv{l}_W"] = glorot((f, f, c_in, c_out), f * f * c_in, f * f * c_out)
        params[f"conv{l}_b"] = np.zeros(c_out, np.float32)
    sizes = dense_sizes()
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), start=1):
        params[f"dense{l}_W"] = glorot((n_in, n_out), n_in, n_out)
        params[f"dense{l}_b"] = np.zeros(n_out, np.float32)
    return params


def products(batch: int = common.BATCH):
    """Every convolution and matrix product of one training step: ``(name, kind, shapes, flops)``.

    Conv ``l`` (same padding, so the output is ``n_H x n_H``): forward, ``dW`` and (except
    for the first, whose input needs no gradient) ``dA_prev``, each ``2 m n_H^2 f^2 n_C_prev
    n_C`` FLOPs. Dense layers: ``Z``, ``dW`` and ``dA_prev``, ``2 m n_in n_out`` each (the
    first dense layer's input is the last pool's output, which needs its gradient).
    ``shapes`` for a conv is ``(m, n_H, n_C_prev, n_C, f)``, for a product ``(lhs, rhs)``.
    """
    out = []
    for l, (side, c_in, c_out, f) in enumerate(conv_shapes(), start=1):
        flops = 2 * batch * side * side * f * f * c_in * c_out
        shape = (batch, side, c_in, c_out, f)
        out.append((f"conv{l} Z", "conv_forward", shape, flops))
        out.append((f"conv{l} dW", "conv_dW", shape, flops))
        if l > 1:
            out.append((f"conv{l} dA_prev", "conv_dA", shape, flops))
    sizes = dense_sizes()
    for l, (n_in, n_out) in enumerate(zip(sizes, sizes[1:], strict=False), start=1):
        flops = 2 * batch * n_in * n_out
        out.append((f"dense{l} Z", "matmul", ((batch, n_in), (n_in, n_out)), flops))
        out.append((f"dense{l} dW", "matmul", ((n_out, batch), (batch, n_in)), flops))
        out.append((f"dense{l} dA_prev", "matmul", ((batch, n_out), (n_out, n_in)), flops))
    return out


def flops_per_example() -> int:
    """Forward + backward FLOPs of the convolutions and dense products for one example."""
    return sum(p[-1] for p in products(1))
