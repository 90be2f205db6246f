"""The ``jaxnet`` command: the parser and dispatch (the work is in :mod:`jaxnet.cli.commands`).

    jaxnet train [--dataset planar] [--hidden-sizes 4] ...  train and write a run directory
    jaxnet train --dataset mnist --arch lenet           a network of any layers (jaxnet.cli.arch)
    jaxnet train --resume RUN_DIR [--epochs N]          continue (or complete) a run
    jaxnet evaluate RUN_DIR                             loss and accuracy per split
    jaxnet predict RUN_DIR INPUT.csv [--output OUT]     one prediction per feature row
    jaxnet summary RUN_DIR                              the network's parameter table
    jaxnet gradcheck --hidden-sizes 5,3                 hand backprop vs autodiff vs numeric

Bad input (arguments, files, the library's own argument errors) gives one line
``jaxnet: error: ...`` on stderr and exit status 2; a failed gradient check or a diverged
run exits 1. ``JAXNET_DEBUG=1`` shows the traceback instead. Options: :mod:`jaxnet.cli.config`.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import NoReturn

import jaxnet as jn
from jaxnet.cli import commands, config
from jaxnet.cli.config import CommonOptions, GradcheckConfig, RunConfig, TrainOptions

__all__ = ["build_parser", "main", "run"]

TRAIN_EXAMPLES = """

examples:
  jaxnet train                                   the course's planar flower, 2-4-1 tanh (seconds)
  jaxnet train --hidden-sizes none               logistic regression on it (~47%)
  jaxnet train --output-activation linear        regression on the same points (mse)
  jaxnet train --dataset cat --data-dir DIR      logistic regression on the cat images
  jaxnet train --dataset mnist --download        784-512-10 relu/softmax, rmsprop
  jaxnet train --hidden-sizes 20,3 --l2 0.7 --dropout 0.14 --batch-norm
                                                 the flower, regularised
  jaxnet train --dataset mnist --arch conv8k3-pool2-conv16k3-pool2-flatten-dense128-dense10
                                                 a CNN on images (m, 28, 28, 1)
  jaxnet train --dataset mnist --arch lenet      LeNet-5, its output layer dense10
  jaxnet train --dataset moons --arch dense64-bn-dropout0.5-dense1
  jaxnet train --resume runs/planar-... --epochs 20000
"""


class UsageError(Exception):
    """A bad command line: reported in one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # "argument --arch: --arch token ..." -> "--arch token ...": the message names it
        message = re.sub(r"^argument (--[\w-]+): (?=\1 )", "", message)
        raise UsageError(f"{message} (see: {self.prog} --help)")


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

    train = sub.add_parser(
        "train",
        help="train a network and write a run directory",
        description="Train a network with the course's settings for the dataset; write config,\n"
        "checkpoint, history, metrics and plots to a run directory.",
        epilog=config.defaults_table() + TRAIN_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config.add_options(train, RunConfig)
    config.add_options(train, TrainOptions)
    train.set_defaults(handler=_train)

    evaluate = sub.add_parser("evaluate", help="loss and accuracy of a run on each split")
    evaluate.add_argument("run_dir", metavar="RUN_DIR")
    config.add_options(
        evaluate,
        RunConfig,
        ("dataset", "data_dir"),
        dataset="evaluate on this dataset instead of the run's",
    )
    config.add_options(evaluate, TrainOptions, ("download",))
    evaluate.set_defaults(handler=_evaluate)

    predict = sub.add_parser("predict", help="predict the class (or value) of each row of a CSV")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument(
        "input",
        metavar="INPUT.csv",
        help="feature rows in raw units; a first row of names is a header. For a run on "
        "images: one image per row, its n_H*n_W*n_C pixels (0..255 as in the dataset's "
        "files) in row-major (H, W, C) order, reshaped to the image the network takes",
    )
    predict.add_argument(
        "--output", metavar="OUT.csv", help="write prediction(,probability) rows here"
    )
    predict.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --output file that jaxnet did not write (never the input "
        "CSV or a file of a run)",
    )
    predict.add_argument(
        "--header",
        action="store_true",
        default=None,
        help="the first row names the columns, whatever it holds",
    )
    predict.set_defaults(handler=_predict)

    summary = sub.add_parser("summary", help="a run's layers, parameter counts and results")
    summary.add_argument("run_dir", metavar="RUN_DIR")
    summary.set_defaults(handler=lambda args: commands.summary(args.run_dir))

    check = sub.add_parser("gradcheck", help="hand backprop vs jax.grad vs finite differences")
    config.add_options(check, GradcheckConfig)
    check.set_defaults(handler=_gradcheck)
    for command in sub.choices.values():
        config.add_options(command, CommonOptions)
    return parser


def _refuse_ignored(chosen: dict) -> None:
    """An option that the other options make pointless is an error, not silently ignored."""
    if chosen.get("hidden_sizes") == ():
        for name in ("hidden_activation", "dropout", "batch_norm"):
            if name in chosen:
                raise UsageError(
                    f"--{name.replace('_', '-')} applies to hidden layers, and --hidden-sizes "
                    "none has none; drop it (or give hidden sizes)"
                )


def _gradcheck(args) -> int:
    chosen = config.given(args, GradcheckConfig)
    _refuse_ignored(chosen)
    return commands.gradcheck(GradcheckConfig(**chosen))


def _train(args) -> int:
    options = TrainOptions(**config.given(args, TrainOptions))
    chosen = config.given(args, RunConfig)
    _refuse_ignored(chosen)
    if options.resume is None:
        return commands.train(config.resolve(**chosen), options)
    allowed = config.resume_options()
    extra = [
        k for k in (*chosen, *config.given(args, TrainOptions)) if k not in allowed | {"resume"}
    ]
    if extra:
        flags = " ".join(f"--{k.replace('_', '-')}" for k in extra)
        raise UsageError(f"--resume continues a run with its saved options; drop {flags}")
    return commands.resume(options, chosen.get("epochs"), chosen.get("data_dir"))


def _evaluate(args) -> int:
    return commands.evaluate(
        args.run_dir, dataset=args.dataset, data_dir=args.data_dir, download=args.download
    )


def _predict(args) -> int:
    if args.force and args.output is None:
        raise UsageError("--force applies to --output (it replaces an existing file); add --output")
    return commands.predict(
        args.run_dir, args.input, output=args.output, header=args.header, force=args.force
    )


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror and e.filename is not None:
        return f"{e.filename}: {e.strerror}"
    return " ".join(str(e).split()) or type(e).__name__


def main(argv=None) -> int:
    """Run the ``jaxnet`` command; return the exit status (0 ok, 1 failed run or check, 2 bad input).

    As the command (``argv=None``: the process's own arguments) it first turns on JAX's
    persistent compilation cache, unless ``--no-compilation-cache``; called from Python with
    ``argv`` it leaves the process's JAX configuration alone.
    """
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError(
                "choose a command: train, evaluate, predict, summary or gradcheck (see: jaxnet --help)"
            )
        if argv is None and not args.no_compilation_cache:
            jn.enable_compilation_cache()
        return args.handler(args)
    except (UsageError, ValueError, TypeError, OSError, OverflowError, commands.RunFailed) as e:
        if os.environ.get("JAXNET_DEBUG"):
            raise
        print(f"jaxnet: error: {_one_line(e)}", file=sys.stderr)
        return 1 if isinstance(e, commands.RunFailed) else 2
    except commands.Interrupted as e:
        print(f"jaxnet: interrupted: {e}", file=sys.stderr)
        return e.status
    except KeyboardInterrupt as e:
        print("jaxnet: interrupted", file=sys.stderr)
        return 143 if isinstance(e, commands._Terminated) else 130


def run() -> NoReturn:
    """The ``jaxnet`` command (the console script and ``python -m jaxnet``): :func:`main` on
    the process's arguments, then the process ends with its exit status.

    It ends without the interpreter's teardown (``os._exit`` once stdout and stderr are
    flushed): freeing JAX's and matplotlib's modules object by object took a tenth of the
    command's seconds, and every file the command writes is complete before (written
    atomically). ``--help`` and ``--version`` exit the ordinary way.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
