"""The ``jaxnet`` command: argument parsing and dispatch only (the work is in :mod:`jaxnet.runs`).

    jaxnet train [--dataset planar] [--layers 4] ...   train and write a run directory
    jaxnet evaluate RUN_DIR                            loss and accuracy per split
    jaxnet predict RUN_DIR INPUT.csv [--output OUT]    one prediction per feature row
    jaxnet summary RUN_DIR                             the network's parameter table
    jaxnet gradcheck --layers 5,3                      hand backprop vs autodiff vs numeric

Bad arguments give one line ``jaxnet: error: ...`` on stderr and exit status 2; a failed
gradient check or a diverged run exits 1. ``JAXNET_DEBUG=1`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

import jax

import jaxnet as jn
from jaxnet import (
    activations,
    initializers,
    optimizers,
    parallel,
    run_config,
    run_data,
    run_files,
    runs,
)

RESUME_OPTIONS = ("epochs", "quiet", "checkpoint_every", "data_dir", "download", "devices")
TRAIN_EXAMPLES = """
examples:
  jaxnet train                                   the course's planar flower, 2-4-1 tanh (seconds)
  jaxnet train --layers none                     logistic regression on it (~47%)
  jaxnet train --dataset cat --data-dir DIR      logistic regression on the cat images
  jaxnet train --dataset mnist --download        784-512-10 relu/softmax, rmsprop
  jaxnet train --resume runs/planar-... --epochs 20000
"""


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see: {self.prog} --help)")


def layer_sizes(text: str) -> tuple[int, ...]:
    """``"512,256"`` -> ``(512, 256)``; ``""`` or ``"none"`` -> ``()`` (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated positive sizes like 512,256 (or '' for none), got {text!r}"
        )
    return sizes


def _number(kind, low, strict=False):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind.__name__}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {low}, got {text}")
        return value

    return parse


def batch_size(text: str):
    """``"full"`` (full-batch gradient descent) or a positive int."""
    return "full" if text.strip().lower() == "full" else _number(int, 1)(text)


def _train_parser(sub):
    train = sub.add_parser(
        "train",
        help="train a network and write a run directory",
        description="Train a network with the course's defaults for the dataset; write config,\n"
        "history, metrics, checkpoint and plots to a run directory.",
        epilog=run_config.defaults_table() + TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = train.add_argument
    add("--dataset", help=f"{', '.join(run_data.NAMES)}, or a CSV path (default planar)")
    add(
        "--layers",
        type=layer_sizes,
        help="hidden sizes, e.g. 512,256 ('' or none: no hidden layer)",
    )
    add("--hidden-activation", metavar="NAME", help=", ".join(activations.NAMES))
    add("--output-activation", metavar="NAME", help="sigmoid, softmax or linear")
    add("--init", choices=initializers.NAMES, help="weight initialisation")
    add("--optimizer", choices=optimizers.NAMES)
    add("--learning-rate", type=_number(float, 0, strict=True), metavar="LR")
    add(
        "--epochs",
        type=_number(int, 1),
        metavar="N",
        help="total epochs (iterations if full batch)",
    )
    add("--batch-size", type=batch_size, metavar="N|full")
    add("--seed", type=_number(int, 0), metavar="N", help="initial weights, shuffling (default 0)")
    add("--grads", choices=run_config.GRADS, help="jax.grad (default) or hand-derived backprop")
    add("--limit", type=_number(int, 2), metavar="N", help="train on the first N examples only")
    _data_options(train)
    add("--out", metavar="DIR", help="run directory (default runs/<dataset>-<time>)")
    add("--resume", metavar="DIR", help="continue the run in DIR to --epochs epochs in total")
    add("--checkpoint-every", type=_number(int, 1), metavar="N", help="also save every N epochs")
    add("--quiet", action="store_true", help="no progress bar")
    add(
        "--devices",
        metavar="N|all",
        help="data-parallel over N devices (on a CPU: N virtual devices)",
    )
    train.set_defaults(handler=_train)


def _data_options(parser):
    parser.add_argument("--data-dir", metavar="DIR", help="folder of mnist/fashion-mnist/cat files")
    parser.add_argument("--download", action="store_true", help="fetch missing (Fashion-)MNIST")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jaxnet",
        description="Train and inspect the course's neural networks.",
        epilog="Start with `jaxnet train` (the course's planar flower, a few seconds);\n"
        "`jaxnet COMMAND --help` lists a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"jaxnet {jn.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    _train_parser(sub)

    evaluate = sub.add_parser("evaluate", help="loss and accuracy of a run on each split")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    evaluate.add_argument("--dataset", help="evaluate on this dataset instead of the run's")
    _data_options(evaluate)
    evaluate.set_defaults(handler=_evaluate)

    predict = sub.add_parser("predict", help="predict the class of each row of a CSV")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "input", metavar="INPUT.csv", help="feature rows in raw units, header optional"
    )
    predict.add_argument(
        "--output", metavar="OUT.csv", help="write prediction,probability rows here"
    )
    predict.set_defaults(handler=_predict)

    summary = sub.add_parser("summary", help="a run's layers, parameter counts and results")
    summary.add_argument("run_dir", metavar="RUN_DIR")
    summary.set_defaults(handler=_summary)

    check = sub.add_parser("gradcheck", help="hand backprop vs jax.grad vs finite differences")
    add = check.add_argument
    add("--layers", type=layer_sizes, default=(5, 3), help="hidden sizes (default 5,3)")
    add("--inputs", type=_number(int, 1), default=4, metavar="N", help="input features (default 4)")
    add(
        "--outputs",
        type=_number(int, 1),
        metavar="N",
        help="output units (default 1; 3 for softmax)",
    )
    add("--hidden-activation", default="tanh", metavar="NAME", help="default tanh")
    add("--output-activation", default="sigmoid", metavar="NAME", help="default sigmoid")
    add("--init", choices=initializers.NAMES, default="xavier", help="default xavier")
    add("--examples", type=_number(int, 1), default=8, metavar="M", help="default 8")
    add("--seed", type=_number(int, 0), default=0, metavar="N", help="default 0")
    check.set_defaults(handler=_gradcheck)
    return parser


def _mesh(devices: str | None):
    """The ``("data",)`` mesh for ``--devices`` (None: the default single-device path)."""
    if devices is None:
        return None
    if devices != "all":
        try:
            n = int(devices)
        except ValueError:
            n = 0
        if n < 1:
            raise UsageError(f"--devices must be a positive int or 'all', got {devices!r}")
        jax.config.update("jax_num_cpu_devices", n)  # only takes effect before JAX starts
        available = jax.devices()
        if len(available) < n:
            raise UsageError(f"--devices {n}: only {len(available)} device(s) available")
        available = available[:n]
    else:
        available = jax.devices()
    mesh = parallel.data_mesh(available)
    print(
        f"mesh: {mesh.size} x {available[0].platform} device(s), axis 'data' (batches split along it)"
    )
    return mesh


def _train(args) -> int:
    common = {
        "mesh": _mesh(args.devices),
        "verbose": 0 if args.quiet else 1,
        "announce": None if args.quiet else print,
        "checkpoint_every": args.checkpoint_every,
        "download": args.download,
    }
    if args.resume is not None:
        given = [k for k in (*run_config.OPTIONS, "dataset", "out") if getattr(args, k) is not None]
        extra = [f"--{k.replace('_', '-')}" for k in given if k not in RESUME_OPTIONS]
        if extra:
            raise UsageError(
                f"--resume continues a run with its saved options; drop {' '.join(extra)}"
            )
        if args.epochs is None:
            raise UsageError("--resume needs --epochs, the new total number of epochs")
        result = runs.resume(args.resume, args.epochs, data_dir=args.data_dir, **common)
    else:
        options = {k: getattr(args, k) for k in run_config.OPTIONS}
        config = runs.resolve_config(args.dataset or "planar", **options)
        result = runs.train(config, args.out, **common)
    m = result.metrics
    print(runs.format_metrics(m))
    print(
        f"{m['epochs']} epochs, {m['wall_time_s']:.1f} s training "
        f"({m['examples_per_second']:.3g} examples/s); run directory: {result.run_dir}"
    )
    return 0


def _evaluate(args) -> int:
    metrics = runs.evaluate_run(
        args.run_dir, dataset=args.dataset, data_dir=args.data_dir, download=args.download
    )
    print(runs.format_metrics(metrics))
    return 0


def _predict(args) -> int:
    labels, probability = runs.predict_run(args.run_dir, args.input)
    if args.output is None:
        print("\n".join(str(int(k)) for k in labels))
    else:
        run_files.write_predictions(args.output, labels, probability)
        print(f"wrote {len(labels)} predictions to {args.output}")
    return 0


def _summary(args) -> int:
    print(runs.describe_run(args.run_dir))
    return 0


def _gradcheck(args) -> int:
    net, report = runs.gradcheck(
        layers=args.layers,
        inputs=args.inputs,
        outputs=args.outputs,
        hidden=args.hidden_activation,
        output=args.output_activation,
        init=args.init,
        examples=args.examples,
        seed=args.seed,
    )
    sizes = "-".join(map(str, net.sizes))
    print(f"gradcheck {sizes} {'/'.join(net.activations)}, {args.examples} examples, float64")
    print(report)
    return 0 if report.passed else 1


def main(argv=None) -> int:
    """Run the ``jaxnet`` command; returns the exit status (0 ok, 1 failed check or run, 2 usage)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(
                "choose a command: train, evaluate, predict, summary or gradcheck (see: jaxnet --help)"
            )
        return args.handler(args)
    except (UsageError, ValueError, TypeError, FileNotFoundError, FloatingPointError) as e:
        if os.environ.get("JAXNET_DEBUG"):
            raise
        print(f"jaxnet: error: {' '.join(str(e).split()) or type(e).__name__}", file=sys.stderr)
        return 1 if isinstance(e, FloatingPointError) else 2
    except KeyboardInterrupt:
        print("jaxnet: interrupted", file=sys.stderr)
        return 130
