"""What the second course's layers cost per epoch: workload A's network with L2, dropout and
batch norm against the plain dense network, hand-derived and autodiff backprop.

The network is A's (MNIST 784-512-10, relu/softmax, RMSprop 1e-3, batch 128, /255);
the variants add ``l2=1e-4``, ``dropout=0.2`` (one Dropout after the hidden layer),
``batch_norm=True`` (one BatchNorm before the hidden activation), or all three. Every
variant trains ``--epochs`` epochs in this one process, the variants alternating over
``--repeats`` rounds; the steady epoch is the median of the epochs after the first (the
first pays compilation). Prints a Markdown table: steady s/epoch (median over rounds) and
the ratio to the plain network with the same backprop.

    python benchmarks/layer_cost.py [--epochs 3] [--repeats 3] [--quick] [--data-dir PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

import jaxnet as jn  # noqa: E402
from benchmarks import common  # noqa: E402

VARIANTS = {
    "plain": {},
    "l2 1e-4": {"l2": 1e-4},
    "dropout 0.2": {"dropout": 0.2},
    "batch norm": {"batch_norm": True},
    "all three": {"l2": 1e-4, "dropout": 0.2, "batch_norm": True},
}
BACKPROPS = ("manual", "autodiff")


def steady_epoch(variant: dict, backprop: str, data, epochs: int, seed: int) -> float:
    """Seconds of one steady epoch of A's network with ``variant``'s layers."""
    X, y = data
    net = jn.Network(
        (784, 512, 10), hidden_activation="relu", output_activation="softmax", **variant
    )
    params = jn.init(jax.random.key(seed), net)
    _, history = jn.fit(
        net,
        params,
        X,
        y,
        optimizer="rmsprop",
        learning_rate=common.RMSPROP["learning_rate"],
        epochs=epochs,
        batch_size=common.BATCH,
        key=jax.random.key(seed),
        backprop=backprop,
        verbose=0,
    )
    return common.steady(history["time"])


def table(times: dict) -> str:
    """Markdown: one row per variant, steady s/epoch and the ratio to plain, per backprop."""
    header = "| variant | " + " | ".join(f"{b} s/epoch | {b} / plain" for b in BACKPROPS) + " |"
    lines = [header, "|---" * (1 + 2 * len(BACKPROPS)) + "|"]
    for name in VARIANTS:
        cells = []
        for b in BACKPROPS:
            t, plain = statistics.median(times[name, b]), statistics.median(times["plain", b])
            cells += [f"{t:.3f}", f"{t / plain:.2f}x"]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--quick", action="store_true", help="256 examples, 2 epochs, 1 round")
    p.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA_DIR)
    args = p.parse_args(argv)
    m = 256 if args.quick else None
    epochs, repeats = (2, 1) if args.quick else (args.epochs, args.repeats)
    X, y, _, _ = common.mnist(args.data_dir, m, m)
    times = {(name, b): [] for name in VARIANTS for b in BACKPROPS}
    for r in range(repeats):
        for name, variant in VARIANTS.items():
            for b in BACKPROPS:
                times[name, b].append(steady_epoch(variant, b, (X, y), epochs, seed=r))
    print(table(times))


if __name__ == "__main__":
    main()
