"""Where one training step of workload E goes: each product of its backward in every form jaxnet has.

At the step's own shapes (batch 128; benchmarks/cnn.py), each piece jitted alone and timed
in alternating rounds (min and median over the rounds, ms): the convolutions' forward, the
``dA_prev`` convolution, ``dW`` as matrix products (the CPU form), as one convolution (the
GPU form) and as JAX's own transpose (``jax.vjp`` of the plain convolution); relu + max
pooling forward and backward (hand-derived, and JAX's ``select_and_scatter``); the dense
products; and, when PyTorch is importable, its ``nn.Conv2d`` forward + backward of the
second convolution with the default threads.

    python -m benchmarks.cnn_products            # prints a Markdown table
    python -m benchmarks.cnn_products --quick    # tiny batch, 2 rounds (the test suite)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks import cnn


def pieces(m: int):
    """``(name, fn, args)``: every timed piece, ``fn`` a function of arrays."""
    import jax
    import jax.numpy as jnp

    from jaxnet import layers
    from jaxnet.layers import conv
    from jaxnet.layers._autodiff import plain_autodiff

    rng = np.random.default_rng(0)

    def normal(*shape):
        return jnp.asarray(rng.standard_normal(shape, dtype=np.float32))

    same = ((1, 1), (1, 1))
    out = []
    for l, (side, c_in, c_out, f) in enumerate(cnn.conv_shapes(), start=1):
        A, W, dZ = (
            normal(m, side, side, c_in),
            normal(f, f, c_in, c_out),
            normal(m, side, side, c_out),
        )

        def transpose(A, W, dZ):
            b = jnp.zeros(W.shape[-1])
            with plain_autodiff():
                _, pullback = jax.vjp(lambda w: conv.conv_forward(A, w, b, 1, 1)[0], W)
                return pullback(dZ)[0]

        out += [
            (f"conv{l} Z", lambda A, W: conv._correlate(A, W, 1, same), (A, W)),
            (f"conv{l} dW, matrix products (CPU form)", _form(conv._dW_matmul, f, same), (A, dZ)),
            (
                f"conv{l} dW, one convolution (GPU form)",
                _form(conv._dW_convolution, f, same),
                (A, dZ),
            ),
            (f"conv{l} dW, JAX's transpose", transpose, (A, W, dZ)),
        ]
        if l > 1:
            out.append(
                (
                    f"conv{l} dA_prev",
                    lambda dZ, W, s=A.shape: conv._dA_prev(dZ, W, s, 1, same),
                    (dZ, W),
                )
            )
        P = normal(m, side // 2, side // 2, c_out)

        def pooled(Z):
            return layers.pool_forward(jnp.maximum(Z, 0), 2)[0]

        def hand(Z, dP):
            A, cache = layers.pool_forward(jnp.maximum(Z, 0), 2)
            return layers.pool_backward(dP, cache) * (Z > 0)

        def jaxs(Z, dP):
            with plain_autodiff():
                return jax.vjp(pooled, Z)[1](dP)[0]

        out += [
            (f"relu + pool{l} forward", pooled, (dZ,)),
            (f"relu + pool{l} backward, hand-derived", hand, (dZ, P)),
            (f"relu + pool{l} backward, JAX's select_and_scatter", jaxs, (dZ, P)),
        ]
    n_flat, hidden, _ = cnn.dense_sizes()
    X, W1, G = normal(m, n_flat), normal(hidden, n_flat), normal(m, hidden)
    out += [
        ("dense1 Z", lambda X, W: X @ W.T, (X, W1)),
        ("dense1 dW", lambda G, X: G.T @ X, (G, X)),
        ("dense1 dA_prev", lambda G, W: G @ W, (G, W1)),
    ]
    return out


def _form(form, f, padding):
    return lambda A, dZ: form(A, dZ, f=f, stride=1, padding=padding)


def torch_conv2(m: int):
    """PyTorch's second convolution, forward + backward (both gradients), or None."""
    try:
        import torch
    except ImportError:
        return None
    side, c_in, c_out, f = cnn.conv_shapes()[1]
    layer = torch.nn.Conv2d(c_in, c_out, f, padding="same")
    A = torch.randn(m, c_in, side, side, requires_grad=True)

    def step():
        layer.zero_grad()
        A.grad = None
        Z = layer(A)
        Z.backward(torch.ones_like(Z))

    return f"PyTorch conv2 Z + dW + dA_prev ({torch.get_num_threads()} threads)", step


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rounds", type=int, default=15)
    args = p.parse_args(argv)
    import jax

    m, rounds = (4, 2) if args.quick else (128, args.rounds)
    calls = []
    for name, fn, fn_args in pieces(m):
        jitted = jax.jit(fn)
        jax.block_until_ready(jitted(*fn_args))
        calls.append((name, lambda j=jitted, a=fn_args: jax.block_until_ready(j(*a))))
    torch_row = torch_conv2(m)
    if torch_row is not None:
        torch_row[1]()
        calls.append(torch_row)
    seconds = {name: [] for name, _ in calls}
    for _ in range(rounds):
        for name, call in calls:
            t0 = time.perf_counter()
            call()
            seconds[name].append(time.perf_counter() - t0)
    rows = []
    print(f"| piece (batch {m}) | min ms | median ms |")
    print("|---|---|---|")
    for name, s in seconds.items():
        rows.append({"piece": name, "min_ms": min(s) * 1e3, "median_ms": float(np.median(s)) * 1e3})
        print(f"| {name} | {min(s) * 1e3:.2f} | {np.median(s) * 1e3:.2f} |")
    return rows


if __name__ == "__main__":
    main()
