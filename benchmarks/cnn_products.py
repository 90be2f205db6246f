"""Where one training step of workload E goes: each product of its backward in every form jaxnet has.

At the step's own shapes (batch 128; benchmarks/cnn.py), each piece jitted alone and timed
in alternating rounds, the second of two calls in a row (min and median over the rounds, ms): the convolutions' forward, the
``dA_prev`` convolution, ``dW`` as matrix products (the CPU form), as one convolution (the
GPU form) and as JAX's own transpose (``jax.vjp`` of the plain convolution); relu + max
pooling forward and backward (hand-derived, and JAX's ``select_and_scatter``); the dense
products; one whole Adam step (jaxnet's ``network.grads``, hand-derived and autodiff, plus
``optax.adam``, jitted); and, when PyTorch is importable, its ``nn.Conv2d`` forward + backward
of the second convolution and its whole step (forward, backward, ``torch.optim.Adam``).
Last, the step as training runs it: one epoch of ``jn.fit`` (hand-derived and autodiff; its
compiled loop allocates XLA's temporary buffers once per chunk, where a jitted call per step
maps and faults them in on every call) and of PyTorch's loop (benchmarks/contenders/torch.py),
per step, on 40 batches (``--quick``: 2).

On a machine others share, wall time measures the neighbours: ``--clock cpu`` times this
process's CPU seconds instead, and pinned to one core with one PyTorch thread it compares the
work each library does (the 2026-12-06 table in benchmarks/README.md):

    python -m benchmarks.cnn_products                          # wall ms, a Markdown table
    taskset -c 0 python -m benchmarks.cnn_products --clock cpu --torch-threads 1
    python -m benchmarks.cnn_products --quick                  # tiny batch, 2 rounds (tests)
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


def jaxnet_steps(m: int):
    """``(name, call)``: one jitted Adam step of workload E's network per backprop."""
    import jax
    import jax.numpy as jnp
    import optax

    import jaxnet as jn
    from benchmarks.contenders.cnn_jaxnet import network, params_from
    from jaxnet import network as core

    net = network(jn)
    params = params_from(cnn.start(0), jnp)
    rng = np.random.default_rng(1)
    X = jnp.asarray(rng.random((m, cnn.SIDE, cnn.SIDE, 1), np.float32))
    Y = jnp.asarray(np.eye(cnn.CLASSES, dtype=np.float32)[rng.integers(0, cnn.CLASSES, m)])
    tx = optax.adam(cnn.ADAM["learning_rate"])
    out = []
    for backprop in ("manual", "autodiff"):

        @jax.jit
        def step(params, state, backprop=backprop):
            grads = core.grads(net, params, X, Y, backprop=backprop)
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state

        carry = [params, tx.init(params)]

        def call(step=step, carry=carry):
            carry[:] = jax.block_until_ready(step(*carry))

        call()
        name = "hand-derived" if backprop == "manual" else "autodiff"
        out.append((f"jaxnet whole step, {name} (grads + Adam)", call))
    return out


def training_rows(m: int, batches: int, clock, threads: int | None) -> list[tuple[str, float]]:
    """``(name, seconds per step)`` of one epoch of ``batches`` steps: ``jn.fit`` per backprop
    (after a first epoch that compiles) and PyTorch's epoch loop when importable."""
    import jax
    import jax.numpy as jnp

    import jaxnet as jn
    from benchmarks.contenders.cnn_jaxnet import network, params_from

    rng = np.random.default_rng(2)
    X = rng.random((m * batches, cnn.SIDE, cnn.SIDE, 1), dtype=np.float32)
    y = rng.integers(0, cnn.CLASSES, m * batches)
    net, params = network(jn), params_from(cnn.start(0), jnp)
    rows = []
    for backprop in ("manual", "autodiff"):

        def fit(epochs, backprop=backprop):
            t0 = clock()
            trained, _ = jn.fit(
                net, params, X, y, optimizer="adam", learning_rate=cnn.ADAM["learning_rate"],
                epochs=epochs, batch_size=m, key=jax.random.key(0), backprop=backprop, verbose=0,
            )  # fmt: skip
            jax.block_until_ready(trained)
            return clock() - t0

        fit(1)
        per_step = (fit(3) - fit(1)) / (2 * batches)
        name = "hand-derived" if backprop == "manual" else "autodiff"
        rows.append((f"jn.fit, {name}: one step of an epoch", per_step))
    try:
        import torch
    except ImportError:
        return rows
    from benchmarks.contenders.cnn_torch import model_of
    from benchmarks.contenders.torch import train_epochs

    if threads:
        torch.set_num_threads(threads)
    model = model_of(torch.nn)
    opt = torch.optim.Adam(model.parameters(), lr=cnn.ADAM["learning_rate"])
    tX = torch.from_numpy(np.ascontiguousarray(X.transpose(0, 3, 1, 2)))
    ty = torch.from_numpy(y).long()
    train_epochs(torch, torch.nn, model, opt, tX, ty, 1)
    t0 = clock()
    train_epochs(torch, torch.nn, model, opt, tX, ty, 2)
    name = f"PyTorch's loop ({torch.get_num_threads()} threads): one step of an epoch"
    return [*rows, (name, (clock() - t0) / (2 * batches))]


def torch_rows(m: int, threads: int | None):
    """PyTorch's second convolution (forward + both gradients) and whole step, or []."""
    try:
        import torch
    except ImportError:
        return []
    from benchmarks.contenders.cnn_torch import model_of

    if threads:
        torch.set_num_threads(threads)
    model = model_of(torch.nn)
    opt = torch.optim.Adam(model.parameters(), lr=cnn.ADAM["learning_rate"])
    loss_fn = torch.nn.CrossEntropyLoss()
    X, y = torch.rand(m, 1, cnn.SIDE, cnn.SIDE), torch.randint(0, cnn.CLASSES, (m,))

    def whole_step():
        opt.zero_grad()
        loss_fn(model(X), y).backward()
        opt.step()

    name, conv2 = torch_conv2(torch, m)
    return [(name, conv2), (f"PyTorch whole step ({torch.get_num_threads()} threads)", whole_step)]


def torch_conv2(torch, m: int):
    """PyTorch's second convolution, forward + backward (both gradients)."""
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
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    p.add_argument("--torch-threads", type=int, default=None, help="default: PyTorch's")
    args = p.parse_args(argv)
    import jax

    m, rounds = (4, 2) if args.quick else (128, args.rounds)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    calls = []
    for name, fn, fn_args in pieces(m):
        jitted = jax.jit(fn)
        jax.block_until_ready(jitted(*fn_args))
        calls.append((name, lambda j=jitted, a=fn_args: jax.block_until_ready(j(*a))))
    calls += jaxnet_steps(m)
    for name, call in torch_rows(m, args.torch_threads):
        call()
        calls.append((name, call))
    seconds = {name: [] for name, _ in calls}
    for _ in range(rounds):
        for name, call in calls:
            call()  # after the previous piece: its threads and cache are this one's now
            t0 = clock()
            call()
            seconds[name].append(clock() - t0)
    rows = []
    print(f"| piece (batch {m}; {args.clock} time) | min ms | median ms |")
    print("|---|---|---|")
    for name, s in seconds.items():
        rows.append({"piece": name, "min_ms": min(s) * 1e3, "median_ms": float(np.median(s)) * 1e3})
        print(f"| {name} | {min(s) * 1e3:.2f} | {np.median(s) * 1e3:.2f} |")
    for name, per_step in training_rows(m, 2 if args.quick else 40, clock, args.torch_threads):
        rows.append({"piece": name, "min_ms": per_step * 1e3, "median_ms": per_step * 1e3})
        print(f"| {name} | {per_step * 1e3:.2f} | |")
    return rows


if __name__ == "__main__":
    main()
