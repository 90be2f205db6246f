"""The course's residual-network lesson (course 4, week 2), measured with jaxnet.

    python scripts/residual_experiments.py plain-vs-residual --data-dir ../shared/data
    python scripts/residual_experiments.py resnet-mnist --data-dir ../shared/data
    python scripts/residual_experiments.py resnet-cat --data-dir ../shared/data
    python scripts/residual_experiments.py all --data-dir ../shared/data --quick   # seconds

- ``plain-vs-residual``: a deep plain dense network (``--depth`` relu layers of
  ``--width`` units) against the same layers with a skip connection around every two
  (``Residual((Dense, Dense linear))``, relu after the sum), from the same kind of He
  start, trained with the same optimizer, batches and epochs on MNIST. Prints the training
  cost per epoch and the first layer's gradient norm at the start, and draws
  ``--figure`` (docs/figures/plain_vs_residual.png).
- ``resnet-mnist``: a small ResNet (conv stem, three stages of a convolutional and an
  identity block, average pooling, dense softmax) on MNIST; test accuracy per epoch.
  Adam, batches of 128, the rate warmed up from ``lr / 25`` to ``--learning-rate`` (0.01)
  over the first ``--warmup`` (20 %) of the steps and then decayed along a half cosine to
  ~0 at the last step (an optax schedule given to ``jn.fit``), batch-norm momentum
  ``--bn-momentum`` (0.9). ``--no-cosine`` trains at a constant rate.
- ``resnet-cat``: a small ResNet on the course's cat images against its 80% dense
  network (the L-layer 12288-20-7-5-1); median test accuracy over ``--seeds`` seeds.

``--quick`` shortens every run (a few hundred examples, one or two epochs) to check that
the script works; ``--limit`` and ``--epochs`` shorten the real runs. Full runs take long
on a small CPU: the closing note of the issue gives the commands and the figures measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

import jax
import numpy as np
import optax

import jaxnet as jn
from jaxnet import datasets as ds
from jaxnet.io import atomic
from jaxnet.layers import (
    Activation,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Flatten,
    Residual,
    convolutional_block,
    identity_block,
)
from jaxnet.layers.base import map_sublayers

REPO = Path(__file__).resolve().parents[1]
FIGURE = REPO / "docs" / "figures" / "plain_vs_residual.png"


# --- the networks -----------------------------------------------------------------------------


def deep_dense(depth: int, width: int, residual: bool, batch_norm: bool = True) -> jn.Network:
    """``depth`` hidden layers of ``width`` relu units on MNIST's 784 pixels, then softmax.

    A hidden unit is ``Dense -> BatchNorm -> ReLU`` (``batch_norm``; He et al.'s plain and
    residual nets both normalise) or ``Dense(relu)``. Plain: the units in a chain.
    Residual: the first unit, then the others two by two in blocks
    ``relu(x + BN(W2 relu(BN(W1 x))))`` (an odd one left plain at the end): the same layers
    and params, only the skips differ.
    """

    def unit(last_in_block=False):
        if not batch_norm:
            return [Dense(width, "linear" if last_in_block else "relu")]
        return [
            Dense(width, "linear"),
            BatchNorm(),
            *([] if last_in_block else [Activation("relu")]),
        ]

    if residual:
        block = Residual((*unit(), *unit(last_in_block=True)))
        hidden = [*unit(), *[block] * ((depth - 1) // 2), *unit() * ((depth - 1) % 2)]
    else:
        hidden = [layer for _ in range(depth) for layer in unit()]
    return jn.Sequential([*hidden, Dense(10, "softmax")], input_shape=(784,))


def small_resnet(
    input_shape, outputs: int, width: int = 16, stem: int = 1, momentum: float = 0.9
) -> jn.Network:
    """Conv stem (``Conv2D(width, 3)``, stride ``stem``) + BN + ReLU, then three stages of a
    convolutional block and an identity block (``width``, ``2 width``, ``4 width`` channels;
    strides 1, 2, 2), global average pooling and a dense output (softmax, or one sigmoid).
    Every batch norm's moving averages use ``momentum`` (0.9, PyTorch's 0.1 in its
    convention; with Keras's 0.99 an old value fades to 1 % only after 460 steps, about an
    MNIST epoch, and the inference statistics lag behind the weights of a run this short)."""
    w = width
    layers = [Conv2D(w, 3, strides=stem, padding="same"), BatchNorm(), Activation("relu")]
    for channels, stride in ((w, 1), (2 * w, 2), (4 * w, 2)):
        layers += [
            convolutional_block(3, (channels, channels, channels), s=stride),
            identity_block(3, (channels, channels, channels)),
        ]
    layers = [_with_momentum(layer, momentum) for layer in layers]
    shape = input_shape
    for layer in layers:
        shape = layer.output_shape(shape)
    output = Dense(outputs, "softmax") if outputs > 1 else Dense(1, "sigmoid")
    return jn.Sequential([*layers, AvgPool2D(shape[0]), Flatten(), output], input_shape=input_shape)


def _with_momentum(layer, momentum: float):
    """``layer`` with every BatchNorm in it (inside blocks too) at ``momentum``."""
    if isinstance(layer, BatchNorm):
        return dataclasses.replace(layer, momentum=momentum)
    return map_sublayers(layer, lambda s: _with_momentum(s, momentum))


def course_dense_cat() -> jn.Network:
    """The course's L-layer cat classifier: 12288-20-7-5-1, relu and a sigmoid output."""
    return jn.Network((12288, 20, 7, 5, 1), hidden_activation="relu", output_activation="sigmoid")


# --- the experiments --------------------------------------------------------------------------


def _mnist(data_dir, limit, images: bool):
    (X, y), (X_test, y_test) = ds.load_mnist(Path(data_dir) / "mnist")
    if limit:
        X, y, X_test, y_test = X[:limit], y[:limit], X_test[: limit // 4], y_test[: limit // 4]
    if images:
        return (X[..., None] / np.float32(255), y), (X_test[..., None] / np.float32(255), y_test)
    return (ds.scale(ds.flatten_images(X)), y), (ds.scale(ds.flatten_images(X_test)), y_test)


def _first_layer_gradient(net, params, X, y) -> float:
    """``||dW[1]||`` of the training cost on the first 512 examples (batch statistics)."""
    g = jn.grads(net, params, X[:512], y[:512], train=True, key=jax.random.key(0))
    return float(np.linalg.norm(np.asarray(g[0]["W"])))


def plain_vs_residual(args) -> dict:
    """Training cost per epoch of the plain and the residual deep dense network."""
    (X, y), _ = _mnist(args.data_dir, args.limit, images=False)
    results = {}
    for name in ("plain", "residual"):
        net = deep_dense(args.depth, args.width, name == "residual", args.batch_norm)
        params = jn.init(jax.random.key(args.seed), net, "he")
        start = time.perf_counter()
        _, history = jn.fit(
            net, params, X, y, optimizer=args.optimizer, learning_rate=args.learning_rate,
            epochs=args.epochs, batch_size=128, key=jax.random.key(args.seed + 1), verbose=0,
        )  # fmt: skip
        results[name] = {
            "loss": history["loss"],
            "accuracy": history["accuracy"],
            "first_layer_gradient": _first_layer_gradient(net, params, X, y),
            "seconds": time.perf_counter() - start,
        }
        print(
            f"{name:>8} ({args.depth} hidden layers): cost per epoch "
            + " ".join(f"{v:.4f}" for v in history["loss"])
            + f"; accuracy {history['accuracy'][-1]:.4f}; ||dW[1]|| at the start "
            f"{results[name]['first_layer_gradient']:.3g}; {results[name]['seconds']:.0f} s"
        )
    if args.figure:
        _figure(results, args)
    return results


def _figure(results, args) -> None:
    """The training cost per epoch of both networks, on a log scale."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.subplots()
    for name, r in results.items():
        epochs = np.arange(1, len(r["loss"]) + 1)
        ax.plot(
            epochs,
            r["loss"],
            marker="o",
            label=f"{name} (||dW[1]|| at the start {r['first_layer_gradient']:.3g})",
        )
    ax.set_yscale("log")
    ax.set_xticks(np.arange(1, len(r["loss"]) + 1))
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cost (mean over the epoch's batches)")
    ax.set_title(
        f"MNIST: {args.depth} hidden relu layers of {args.width}"
        f"{' with batch norm' if args.batch_norm else ''}, plain vs residual\n"
        f"({args.optimizer} {args.learning_rate:g}, batch 128, He init)",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    with atomic.atomic_path(args.figure) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    print(f"figure: {args.figure}")


def resnet_mnist(args) -> dict:
    """A small ResNet on MNIST images: test accuracy after each epoch."""
    (X, y), (X_test, y_test) = _mnist(args.data_dir, args.limit, images=True)
    net = small_resnet((28, 28, 1), 10, args.resnet_width, momentum=args.bn_momentum)
    params = jn.init(jax.random.key(args.seed), net, "he")
    steps = args.epochs * jn.schedules.steps_per_epoch(len(X), 128)
    rate = (
        warmup_cosine(args.learning_rate, steps, args.warmup) if args.cosine else args.learning_rate
    )
    start = time.perf_counter()
    _, history = jn.fit(
        net, params, X, y, optimizer="adam", learning_rate=rate, epochs=args.epochs,
        batch_size=128, key=jax.random.key(args.seed + 1), validation_data=(X_test, y_test),
        verbose=0,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    print(
        f"ResNet (width {args.resnet_width}, {net.num_params:,} params) on MNIST ({len(X)} "
        f"training images; Adam {args.learning_rate:g}"
        + (f", warmup {args.warmup:g} + cosine decay" if args.cosine else ", constant")
        + f", batch-norm momentum {args.bn_momentum:g}; seed {args.seed}): test accuracy per epoch "
        + " ".join(f"{a:.4f}" for a in history["val_accuracy"])
        + f"; {seconds:.0f} s"
    )
    return {"val_accuracy": history["val_accuracy"], "seconds": seconds}


def warmup_cosine(peak: float, steps: int, warmup: float):
    """The rate rises linearly from ``peak / 25`` to ``peak`` over the first ``warmup``
    fraction of the ``steps``, then follows a half cosine down to ``peak / 1e4`` at the last
    step (optax's ``warmup_cosine_decay_schedule``; one-cycle's shape). ``jn.fit`` takes it
    as ``learning_rate=`` and evaluates it for every step before training."""
    if not 0 <= warmup < 1:
        raise ValueError(f"warmup must be a fraction of the steps in [0, 1), got {warmup!r}")
    return optax.warmup_cosine_decay_schedule(
        init_value=peak / 25, peak_value=peak, warmup_steps=round(warmup * steps),
        decay_steps=steps, end_value=peak / 1e4,
    )  # fmt: skip


def resnet_cat(args) -> dict:
    """The ResNet and the course's dense network on the cat images: median test accuracy."""
    (X, y), (X_test, y_test), _ = ds.load_cat_vs_noncat(Path(args.data_dir) / "catvnoncat")
    if args.limit:
        X, y = X[: args.limit], y[: args.limit]
    images, test_images = X / np.float32(255), X_test / np.float32(255)
    flat, test_flat = ds.flatten_images(images), ds.flatten_images(test_images)
    runs = {"course dense 12288-20-7-5-1": [], "resnet": []}
    for seed in range(args.seeds):
        dense = course_dense_cat()
        params = jn.init(jax.random.key(seed), dense, "he")
        params, _ = jn.fit(dense, params, flat, y, optimizer="sgd", learning_rate=0.0075,
                           epochs=args.dense_iterations, verbose=0)  # fmt: skip
        runs["course dense 12288-20-7-5-1"].append(
            jn.evaluate(dense, params, test_flat, y_test)["accuracy"]
        )
        net = small_resnet((64, 64, 3), 1, args.resnet_width, stem=2, momentum=0.9)
        params = jn.init(jax.random.key(seed), net, "he")
        params, _ = jn.fit(net, params, images, y, optimizer="adam", learning_rate=args.learning_rate,
                           epochs=args.epochs, batch_size=32, key=jax.random.key(seed + 100),
                           verbose=0)  # fmt: skip
        runs["resnet"].append(jn.evaluate(net, params, test_images, y_test)["accuracy"])
    for name, accuracies in runs.items():
        print(
            f"cats, {name}: median test accuracy {statistics.median(accuracies):.3f} over "
            f"{len(accuracies)} seeds ({', '.join(f'{a:.2f}' for a in accuracies)})"
        )
    return {name: statistics.median(a) for name, a in runs.items()}


EXPERIMENTS = {
    "plain-vs-residual": plain_vs_residual,
    "resnet-mnist": resnet_mnist,
    "resnet-cat": resnet_cat,
}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("experiment", choices=[*EXPERIMENTS, "all"])
    p.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data",
                   help="the folder holding mnist/ and catvnoncat/")  # fmt: skip
    p.add_argument("--quick", action="store_true", help="tiny runs: the script works")
    p.add_argument("--limit", type=int, default=None, help="train on the first N examples")
    p.add_argument("--epochs", type=int, default=None, help="default: 5 (MNIST), 30 (cats)")
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--optimizer", default="sgd", help="plain-vs-residual's optimizer")
    p.add_argument("--depth", type=int, default=30, help="plain-vs-residual: hidden layers")
    p.add_argument("--width", type=int, default=64, help="plain-vs-residual: units per layer")
    p.add_argument("--batch-norm", action=argparse.BooleanOptionalAction, default=True,
                   help="plain-vs-residual: Dense -> BatchNorm -> ReLU units (else Dense(relu))")  # fmt: skip
    p.add_argument("--resnet-width", type=int, default=16, help="the ResNet's first channels")
    p.add_argument("--cosine", action=argparse.BooleanOptionalAction, default=True,
                   help="resnet-mnist: warmup then cosine decay of the rate (else constant)")  # fmt: skip
    p.add_argument("--warmup", type=float, default=0.2,
                   help="resnet-mnist: the fraction of the steps that warms the rate up")  # fmt: skip
    p.add_argument("--bn-momentum", type=float, default=0.9,
                   help="resnet-mnist: the batch norms' moving-average momentum")  # fmt: skip
    p.add_argument("--seeds", type=int, default=5, help="resnet-cat: seeds (the median)")
    p.add_argument("--dense-iterations", type=int, default=2500,
                   help="resnet-cat: the course dense net's gradient-descent iterations")  # fmt: skip
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", type=Path, default=None,
                   help=f"plain-vs-residual's figure (default {FIGURE.relative_to(REPO)}; none with --quick)")  # fmt: skip
    args = p.parse_args(argv)
    if args.figure is None and not args.quick:
        args.figure = FIGURE
    if args.quick:
        args.limit = args.limit or 256
        args.epochs = args.epochs or 1
        args.depth, args.width, args.resnet_width = min(args.depth, 6), 16, 4
        args.seeds, args.dense_iterations = 1, 5
    return args


def main(argv=None) -> dict:
    args = parse_args(argv)
    chosen = (
        EXPERIMENTS if args.experiment == "all" else {args.experiment: EXPERIMENTS[args.experiment]}
    )
    results = {}
    for name, run in chosen.items():
        defaults = {
            "plain-vs-residual": (5, 0.05),
            "resnet-mnist": (5, 1e-2),
            "resnet-cat": (30, 1e-3),
        }
        run_args = argparse.Namespace(**vars(args))
        run_args.epochs = args.epochs or defaults[name][0]
        run_args.learning_rate = args.learning_rate or defaults[name][1]
        results[name] = run(run_args)
    return results


if __name__ == "__main__":
    sys.exit(main() and 0)
