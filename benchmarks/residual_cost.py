"""What a residual block's skip connection costs per training step: blocks against the same layers chained without the skip.

Two networks, each in two forms with the same layers and params:

- ``cnn``: MNIST-sized images (28x28x1), a conv stem (16 channels) and ``--blocks``
  identity blocks ``relu(x + BN(conv(relu(BN(conv(x))))))`` (3x3, 16 channels), average
  pooling and a dense softmax; the chain runs each block's main path and its ReLU without
  adding ``x``.
- ``dense``: 784 inputs, ``--blocks`` blocks ``relu(x + W2 relu(W1 x))`` of 256 units and
  a softmax; the chain drops the ``x +``.

Each form trains ``--epochs`` epochs of ``--m`` random examples (batch 128) with Adam, by
hand-derived and by autodiff backprop; the steady epoch is the median of the epochs after
the first (the first pays compilation), and a step is the steady epoch over its batches.
Prints a Markdown table: ms per step of the chain and of the blocks, and their ratio.

    python benchmarks/residual_cost.py [--blocks 3] [--m 4096] [--epochs 4] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet.layers import (  # noqa: E402
    Activation,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    Residual,
)

BACKPROPS = ("manual", "autodiff")
BATCH = 128


def _cnn_main(channels: int) -> tuple:
    return (
        Conv2D(channels, 3, padding="same"), BatchNorm(), Activation("relu"),
        Conv2D(channels, 3, padding="same"), BatchNorm(),
    )  # fmt: skip


def network(kind: str, blocks: int, residual: bool) -> jn.Network:
    """The ``kind`` network (``"cnn"`` or ``"dense"``) with ``blocks`` blocks, as residual
    blocks or as the same layers chained (each block's main path, then its ReLU)."""
    if kind == "cnn":
        main, head, tail = _cnn_main(16), [Conv2D(16, 3, padding="same"), BatchNorm(), Activation("relu")], [
            AvgPool2D(28), Flatten(), Dense(10, "softmax")]  # fmt: skip
        input_shape = (28, 28, 1)
    else:
        main, head, tail = (Dense(256, "relu"), Dense(256, "linear")), [Dense(256, "relu")], [
            Dense(10, "softmax")]  # fmt: skip
        input_shape = (784,)
    body = []
    for _ in range(blocks):
        body += [Residual(main)] if residual else [*main, Activation("relu")]
    return jn.Sequential([*head, *body, *tail], input_shape=input_shape)


def data(kind: str, m: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    shape = (m, 28, 28, 1) if kind == "cnn" else (m, 784)
    return rng.random(shape, dtype=np.float32), rng.integers(0, 10, m).astype(np.int32)


def step_ms(net: jn.Network, X, y, backprop: str, epochs: int, seed: int) -> float:
    """Milliseconds of one steady training step (Adam 1e-3, batch 128)."""
    params = jn.init(jax.random.key(seed), net)
    _, history = jn.fit(
        net, params, X, y, optimizer="adam", learning_rate=1e-3, epochs=epochs,
        batch_size=BATCH, key=jax.random.key(seed), backprop=backprop, verbose=0,
    )  # fmt: skip
    steps = -(-len(X) // BATCH)
    return 1e3 * statistics.median(history["time"][1:]) / steps


def table(times: dict, kinds) -> str:
    lines = [
        "| network | backprop | chain ms/step | residual ms/step | residual / chain |",
        "|---|---|---|---|---|",
    ]
    for kind in kinds:
        for b in BACKPROPS:
            chain, res = (statistics.median(times[kind, b, r]) for r in (False, True))
            lines.append(f"| {kind} | {b} | {chain:.2f} | {res:.2f} | {res / chain:.2f}x |")
    return "\n".join(lines)


def main(argv=None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--blocks", type=int, default=3)
    p.add_argument("--m", type=int, default=4096, help="training examples per epoch")
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2, help="rounds, the forms alternating")
    p.add_argument("--kinds", default="cnn,dense", help="which networks, comma-separated")
    p.add_argument("--quick", action="store_true", help="1 block, 256 examples, 2 epochs, 1 round")
    args = p.parse_args(argv)
    if args.quick:
        args.blocks, args.m, args.epochs, args.repeats = 1, 256, 2, 1
    kinds = args.kinds.split(",")
    times = {(k, b, r): [] for k in kinds for b in BACKPROPS for r in (False, True)}
    for kind in kinds:
        X, y = data(kind, args.m)
        for rnd in range(args.repeats):
            for b in BACKPROPS:
                for residual in (False, True):
                    net = network(kind, args.blocks, residual)
                    times[kind, b, residual].append(step_ms(net, X, y, b, args.epochs, rnd))
    result = table(times, kinds)
    print(result)
    return result


if __name__ == "__main__":
    main()
