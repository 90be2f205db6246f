"""XLA:CPU's slow path for autodiff's convolution ``dW`` inside a loop (workload E's finding).

Times one step ``W <- W - 1e-3 * d/dW sum(tanh(conv(A, W)))`` for a 3x3 "same" convolution
of ``A (128, 28, 28, 32)`` to 64 channels, three steps as a ``lax.scan`` and the same three
steps unrolled in one jitted function, and the same with the hand-derived backward of
``jaxnet.layers.conv_backward``. Prints ms per step; on jax/jaxlib 0.10.2 the autodiff step is
tens of times slower inside the scan, where XLA does not turn the transposed convolution
(``dim_labels=f01b_i01o->01bf``) into its canonical form.

    python benchmarks/conv_grad_in_loop.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import jaxnet as jn  # noqa: E402

STEPS = 3


def dW_autodiff(W, A):
    return jax.grad(lambda W: jnp.tanh(jn.layers.conv_forward(A, W, jnp.zeros(64), 1, 1)[0]).sum())(
        W
    )


def dW_manual(W, A):
    Z, cache = jn.layers.conv_forward(A, W, jnp.zeros(64), 1, 1)
    dZ = 1 - jnp.tanh(Z) ** 2
    return jn.layers.conv_backward(dZ, cache)[1]


def ms_per_step(fn, W, A) -> float:
    jax.block_until_ready(fn(W, A))
    t0 = time.perf_counter()
    jax.block_until_ready(fn(W, A))
    return (time.perf_counter() - t0) / STEPS * 1e3


def main() -> None:
    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.random((STEPS, 128, 28, 28, 32), np.float32))
    W = jnp.asarray(rng.standard_normal((3, 3, 32, 64), np.float32) * 0.05)
    for name, dW in (("autodiff", dW_autodiff), ("hand-derived", dW_manual)):

        def step(W, a, dW=dW):
            return W - 1e-3 * dW(W, a), None

        scanned = jax.jit(lambda W, A, step=step: lax.scan(step, W, A)[0])

        def unrolled(W, A, step=step):
            for i in range(STEPS):
                W = step(W, A[i])[0]
            return W

        loop, flat = ms_per_step(scanned, W, A), ms_per_step(jax.jit(unrolled), W, A)
        print(f"{name:>12}: {flat:8.1f} ms/step unrolled, {loop:8.1f} ms/step in lax.scan")


if __name__ == "__main__":
    main()
