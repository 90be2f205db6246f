"""Autodiff through jaxnet's convolution inside a compiled loop: JAX's own transpose vs the custom VJP.

XLA:CPU runs the ``dW`` convolution that JAX's transpose rule emits
(``dim_labels=f01b_i01o->01bf``) as a naive loop inside a ``while`` body (``lax.scan``,
``fit``'s loop), tens of times slower than at the top level. ``conv_forward`` carries a
``jax.custom_vjp`` whose backward is the hand-derived one, so ``jax.grad`` runs that
instead. This script times, per step, unrolled in one jitted function and as a
``lax.scan`` of ``STEPS`` steps (min over a few calls after a warm-up):

- one layer: ``W <- W - 1e-3 d/dW sum(tanh(conv(A, W)))``, a 3x3 "same" convolution of
  ``A (128, 28, 28, 32)`` to 64 channels;
- workload E's network (benchmarks/cnn.py), one gradient step on a batch of 128;

each with ``jax.grad`` through the custom VJP ("autodiff"), ``jax.grad`` of the plain
``lax`` convolution and pooling ("autodiff, JAX's transpose": jaxnet before the custom
VJPs, traced under ``plain_autodiff``) and the hand-derived backward ("hand-derived").

    python benchmarks/conv_grad_in_loop.py            # prints a Markdown table
    python benchmarks/conv_grad_in_loop.py --quick    # the layer alone, tiny (the test suite)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from jax import lax  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet.layers._autodiff import plain_autodiff  # noqa: E402

STEPS = 3
KINDS = ("autodiff", "autodiff, JAX's transpose", "hand-derived")
LAYER = {"full": (128, 28, 32, 64), "quick": (4, 6, 2, 3)}  # m, side, n_C_prev, n_C
BATCH = 128


def layer_step(kind: str, n_C: int):
    """``(W, A) -> W - 1e-3 dW`` for one conv layer, ``dW`` of ``sum(tanh(Z))`` by ``kind``."""
    b = jnp.zeros(n_C)

    def dW(W, A):
        if kind == "hand-derived":
            Z, cache = jn.layers.conv_forward(A, W, b, 1, 1)
            return jn.layers.conv_backward(1 - jnp.tanh(Z) ** 2, cache)[1] * A.shape[0]
        return jax.grad(lambda W: jnp.tanh(jn.layers.conv_forward(A, W, b, 1, 1)[0]).sum())(W)

    return lambda W, A: W - 1e-3 * dW(W, A)


def network_step(kind: str):
    """``(params, (X, Y)) -> params - 1e-3 grads`` for workload E's network."""
    from benchmarks.contenders.cnn_jaxnet import network
    from jaxnet import network as core

    net = network(jn)
    backprop = "manual" if kind == "hand-derived" else "autodiff"

    def step(params, batch):  # core.grads, not jn.grads: no inner jit whose cache ignores the kind
        grads = core.grads(net, params, *batch, backprop=backprop)
        return jax.tree.map(lambda p, g: p - 1e-3 * g, params, grads)

    return step


def compiled(step, kind: str):
    """``(scanned, unrolled)``: ``STEPS`` steps as a ``lax.scan`` and written out, each jitted,
    traced under ``plain_autodiff`` for JAX's own transpose."""

    def scanned(carry, xs):
        return lax.scan(lambda c, x: (step(c, x), None), carry, xs)[0]

    def unrolled(carry, xs):
        for i in range(STEPS):
            carry = step(carry, jax.tree.map(lambda x, i=i: x[i], xs))
        return carry

    def traced(fn):
        def run(carry, xs):
            if kind == "autodiff, JAX's transpose":
                with plain_autodiff():
                    return fn(carry, xs)
            return fn(carry, xs)

        return jax.jit(run)

    return traced(scanned), traced(unrolled)


def ms_per_step(fn, carry, xs, budget_s: float = 20.0, calls: int = 3) -> float:
    """Min over up to ``calls`` timed calls (fewer once ``budget_s`` is spent), after a warm-up."""
    jax.block_until_ready(fn(carry, xs))
    best, start = float("inf"), time.perf_counter()
    for _ in range(calls):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(carry, xs))
        best = min(best, time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return best / STEPS * 1e3


def cases(size: str):
    """``(name, step_of_kind, carry, xs)`` for the layer and the network."""
    rng = np.random.default_rng(0)
    m, side, n_C_prev, n_C = LAYER[size]
    A = jnp.asarray(rng.random((STEPS, m, side, side, n_C_prev), np.float32))
    W = jnp.asarray(rng.standard_normal((3, 3, n_C_prev, n_C), np.float32) * 0.05)
    yield (
        f"one conv layer, {m}x{side}x{side}x{n_C_prev} -> {n_C}",
        (lambda kind: layer_step(kind, n_C)),
        W,
        A,
    )
    if size == "quick":  # the layer alone: the network compiles six times
        return
    from benchmarks import cnn
    from benchmarks.contenders.cnn_jaxnet import params_from

    X = jnp.asarray(rng.random((STEPS, BATCH, cnn.SIDE, cnn.SIDE, 1), np.float32))
    labels = rng.integers(0, cnn.CLASSES, (STEPS, BATCH))
    Y = jnp.asarray(np.eye(cnn.CLASSES, dtype=np.float32)[labels])
    params = params_from(cnn.start(0), jnp)
    yield f"workload E's network, batch {BATCH}", network_step, params, (X, Y)


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny shapes, one timed call")
    args = p.parse_args(argv)
    size = "quick" if args.quick else "full"
    rows = []
    print("| what | backward | ms/step unrolled | ms/step in lax.scan | scan / hand-derived scan |")
    print("|---|---|---|---|---|")
    for name, step_of, carry, xs in cases(size):
        times = {}
        for kind in KINDS:
            scanned, unrolled = compiled(step_of(kind), kind)
            calls = 1 if args.quick else 3
            times[kind] = (
                ms_per_step(unrolled, carry, xs, calls=calls),
                ms_per_step(scanned, carry, xs, calls=calls),
            )
        for kind in KINDS:
            flat, loop = times[kind]
            ratio = loop / times["hand-derived"][1]
            rows.append({"what": name, "backward": kind, "unrolled_ms": flat, "scan_ms": loop})
            print(f"| {name} | {kind} | {flat:.1f} | {loop:.1f} | {ratio:.2f}x |", flush=True)
    return rows


if __name__ == "__main__":
    main()
