"""The options of the ``jaxnet`` commands, each declared once, and the course's defaults.

An option is a field of a frozen dataclass: its type annotation and default, and in its
metadata the help text and ``parse`` (command-line text -> value). From the fields come the
argparse options (:func:`add_options`), the command that reruns a run (:func:`command_line`),
the ``--help`` table of per-dataset defaults and the checks of a saved ``config.json``
(:meth:`RunConfig.from_json`: the JSON type the annotation allows, then the same ``parse`` as
the command line). The CLI converts and checks only what is its own (paths, dataset names,
layer strings, seeds); ranges and names that ``jn.fit``, ``jn.init`` and ``jn.Network`` check
(learning rate, epochs, batch size, optimizer, activations, scheme, backprop) are left to them.

>>> cfg = resolve("planar")
>>> cfg.hidden_sizes, cfg.hidden_activation, cfg.scheme, cfg.optimizer, cfg.learning_rate
((4,), 'tanh', 'normal', 'sgd', 1.2)
>>> resolve("cat").hidden_sizes, resolve("cat", hidden_sizes=(20, 7, 5)).learning_rate
((), 0.0075)
>>> command_line(resolve("moons", epochs=3))[:66]
'jaxnet train --dataset moons --hidden-sizes 8 --hidden-activation '
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import shlex
import types
import typing
from pathlib import Path

import jaxnet as jn
from jaxnet import limits
from jaxnet.cli import arch, data

SEED_LIMIT = 2**32  # jax.random.key(seed) keeps 32 bits of a seed without x64: refuse the rest
INT_LIMIT = 2**31 - 1  # epochs, batch sizes, counts: JAX counts steps in int32


# ---- parsers: command-line text -> value (ValueError with what was expected) --------------
# Numbers are ASCII only: Python's int() and float() also read other scripts' digits
# ("٨" is 8), which a command line or a config.json has no business holding.


def _ascii(text: str, what: str) -> str:
    if not text.isascii():
        odd = next(c for c in text if not c.isascii())
        raise ValueError(
            f"expected {what} written with the ASCII digits 0-9, got {text!r} (it holds "
            f"{odd!r}, U+{ord(odd):04X})"
        )
    return text


def _int(text: str) -> int:
    try:
        return int(_ascii(text, "an int").replace("_", "!"))  # int() would read 1_000
    except ValueError as e:
        if "ASCII" in str(e):
            raise
        raise ValueError(f"expected an int, got {text!r}") from None


def integer(text: str) -> int:
    """An int within +-``INT_LIMIT`` (ASCII digits)."""
    value = _int(text)
    if abs(value) > INT_LIMIT:
        raise ValueError(f"expected an int of at most {INT_LIMIT}, got {text}")
    return value


def count(text: str) -> int:
    value = integer(text)
    if value < 1:
        raise ValueError(f"expected an int >= 1, got {text}")
    return value


def real(text: str) -> float:
    try:
        return float(_ascii(text, "a number").replace("_", "!"))
    except ValueError as e:
        if "ASCII" in str(e):
            raise
        raise ValueError(f"expected a number, got {text!r}") from None


def name(text: str) -> str:
    return text.strip()


def folder(text: str) -> str:
    """An absolute path: a saved run finds its files from any working directory."""
    return str(Path(text).expanduser().resolve())


def nonnegative(text: str) -> float:
    """A finite number >= 0 (``--l2``)."""
    value = real(text)
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"expected a finite number >= 0, got {text}")
    return value


def positive(text: str) -> float:
    """A finite number > 0 (``--clip-value``, ``--clip-norm``: a bound)."""
    value = real(text)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"expected a finite number > 0, got {text}")
    return value


def rate(text: str) -> float:
    """A fraction in [0, 1) (``--dropout``: the fraction of units dropped)."""
    value = real(text)
    if not 0 <= value < 1:  # also refuses nan
        raise ValueError(f"expected a rate in [0, 1) (the fraction dropped), got {text}")
    return value


def size_list(text: str) -> tuple[int, ...]:
    """``"512,256"`` -> ``(512, 256)``; ``""`` or ``"none"`` -> ``()`` (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        sizes = tuple(_int(part.strip()) for part in text.split(","))
    except ValueError as e:
        if "ASCII" in str(e):
            raise
        raise ValueError(
            f"expected comma-separated sizes like 512,256 (or none), got {text!r}"
        ) from None
    if any(n < 1 for n in sizes):
        raise ValueError(f"expected sizes >= 1, got {text!r}")
    try:
        limits.at_most(layers=len(sizes) + 1, units=max(sizes))
    except ValueError as e:
        raise ValueError(f"{text!r}: {e}") from None
    return sizes


def batch_size(text: str) -> int | None:
    """``"full"`` -> None (full-batch gradient descent), else an int."""
    return None if text.strip().lower() == "full" else integer(text)


def seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value < SEED_LIMIT:
        raise ValueError(
            f"expected an int in 0..{SEED_LIMIT - 1} (jax.random.key keeps 32 bits), got {text}"
        )
    return value


def devices(text: str) -> int | str:
    """``"all"`` or a device count >= 1."""
    return "all" if text.strip().lower() == "all" else count(text)


def show(value) -> str:
    """The command-line text of a value (the inverse of the parsers)."""
    if isinstance(value, tuple | list):
        return ",".join(map(str, value)) or "none"
    return "full" if value is None else str(value)


def option(parse, help: str, default=None, *, metavar=None, course=False, resume=False, off=False):
    """A dataclass field declaring one option (``course``: set per dataset; ``resume``: may
    be given with ``--resume``; ``off``: its default turns a feature off, so the rerun
    command leaves it out and a config.json written before the option existed may lack it)."""
    meta = {"parse": parse, "help": help, "metavar": metavar, "course": course, "resume": resume,
            "off": off}  # fmt: skip
    return dataclasses.field(default=default, metadata=meta)


def flag(help: str, *, resume=False):
    meta = {"help": help, "flag": True, "resume": resume, "off": True}
    return dataclasses.field(default=False, metadata=meta)


# ---- the options ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a ``jaxnet train`` run; saved as ``config.json``.

    ``hidden_sizes`` are the dense network's hidden layers (input and output sizes follow the
    data), or ``arch`` gives every layer (:mod:`jaxnet.cli.arch`); exactly one of them is set. The fields
    marked ``course`` default to None, "the dataset's course setting" (:data:`COURSE`).
    """

    dataset: str = option(
        data.parse_dataset,
        f"{', '.join(data.NAMES)}, or a .csv path",
        "planar",
        metavar="NAME|CSV",
    )
    hidden_sizes: tuple[int, ...] | None = option(
        size_list,
        "hidden sizes of a dense network, e.g. 512,256 (none: no hidden layer)",
        metavar="SIZES",
        course=True,
    )
    arch: str | None = option(
        arch.normalize,
        "the layers as tokens joined by '-', e.g. dense64-bn-dropout0.5-dense10, "
        "conv8k3-pool2-conv16k3-pool2-flatten-dense128-dense10, or a name: "
        f"{', '.join(arch.NAMED)} (instead of --hidden-sizes; grammar below)",
        metavar="ARCH",
        off=True,
    )
    l2: float = option(
        nonnegative,
        "L2 regularisation lambda: cost + lambda/(2m) sum ||W||^2 over dense and conv weights",
        0.0,
        metavar="LAMBDA",
        off=True,
    )
    dropout: float = option(
        rate,
        "--hidden-sizes: dropout of this fraction after every hidden layer (keep_prob = 1 - rate)",
        0.0,
        metavar="RATE",
        off=True,
    )
    batch_norm: bool = flag("--hidden-sizes: batch normalisation after every hidden dense layer")
    hidden_activation: str = option(
        name, ", ".join(jn.activations.NAMES), metavar="NAME", course=True
    )
    output_activation: str = option(
        name,
        "sigmoid, softmax (classes) or linear, relu (regression)",
        metavar="NAME",
        course=True,
    )
    scheme: str = option(
        name,
        f"weight initialisation: {', '.join(jn.initializers.NAMES)}",
        metavar="NAME",
        course=True,
    )
    optimizer: str = option(name, ", ".join(jn.optimizers.NAMES), metavar="NAME", course=True)
    learning_rate: float = option(real, "the optimizer's step size", metavar="LR", course=True)
    clip_value: float | None = option(
        positive,
        "clip every gradient entry to [-BOUND, BOUND] before the update (course 5's clip; "
        "jn.fit's clip_value)",
        metavar="BOUND",
        off=True,
    )
    clip_norm: float | None = option(
        positive,
        "rescale the gradients to global L2 norm at most BOUND before the update (after "
        "--clip-value; jn.fit's clip_norm)",
        metavar="BOUND",
        off=True,
    )
    epochs: int = option(
        integer, "total epochs (iterations if full batch)", metavar="N", course=True, resume=True
    )
    batch_size: int | None = option(
        batch_size,
        "minibatch size, or full: full-batch gradient descent",
        metavar="N|full",
        course=True,
    )
    seed: int = option(seed, "initial weights and shuffling", 0, metavar="N")
    backprop: str = option(
        name, "manual (hand-derived) or autodiff (jax.grad)", "manual", metavar="HOW"
    )
    data_dir: str | None = option(
        folder, "folder of mnist/fashion-mnist/cat files", metavar="DIR", resume=True
    )
    limit: int | None = option(count, "train on the first N examples only", metavar="N")

    def __post_init__(self):
        if self.arch is None:
            return
        if self.hidden_sizes is not None:
            raise ValueError(
                "--arch and --hidden-sizes are mutually exclusive: --arch gives every layer"
            )
        for name, token in (("dropout", "dropout0.5"), ("batch_norm", "bn")):
            if getattr(self, name):
                raise ValueError(
                    f"--{name.replace('_', '-')} applies to --hidden-sizes networks; with --arch, "
                    f"put {token} tokens where you want them (e.g. dense64-{token}-dense10)"
                )

    def to_json(self) -> dict:
        sizes = None if self.hidden_sizes is None else list(self.hidden_sizes)
        return {**dataclasses.asdict(self), "hidden_sizes": sizes}

    @classmethod
    def from_json(cls, saved: dict, file) -> RunConfig:
        """The config saved in ``file``: every key present (an ``off`` option's may be
        missing: its default), of its JSON type, and accepted by the option's parser
        (``ValueError`` naming the file and the key)."""
        hints, values = typing.get_type_hints(cls), {}
        for f in dataclasses.fields(cls):
            if f.name not in saved and not f.metadata.get("off"):
                raise ValueError(f"{file}: missing key {f.name!r}")
            value, hint = saved.get(f.name, f.default), hints[f.name]
            if not _fits(value, hint):
                raise ValueError(
                    f"{file}: key {f.name!r} must be {_describe(hint)}, got {_describe(type(value))}"
                )
            if value is not None and not f.metadata.get("flag"):
                try:
                    value = f.metadata["parse"](show(value))
                except ValueError as e:
                    raise ValueError(f"{file}: key {f.name!r}: {e}") from None
            values[f.name] = value
        if values["hidden_sizes"] is None and values["arch"] is None:
            raise ValueError(f"{file}: key 'hidden_sizes' is null and there is no 'arch'")
        try:
            return cls(**values)
        except ValueError as e:
            raise ValueError(f"{file}: {e}") from None


@dataclasses.dataclass(frozen=True)
class TrainOptions:
    """How one ``jaxnet train`` invocation runs (not part of the run's config)."""

    out: str | None = option(str, "run directory (default runs/<dataset>-<time>)", metavar="DIR")
    resume: str | None = option(
        str, "continue the run in DIR (to --epochs in total; default: its own)", metavar="DIR"
    )
    force: bool = flag("replace the jaxnet run already in --out")
    checkpoint_every: int | None = option(
        integer, "also save every N epochs", metavar="N", resume=True
    )
    quiet: bool = flag("no progress bar", resume=True)
    download: bool = flag("fetch missing (Fashion-)MNIST files", resume=True)
    devices: int | str | None = option(
        devices,
        "data-parallel over N devices (on a CPU: N virtual devices, one per core)",
        metavar="N|all",
        resume=True,
    )


@dataclasses.dataclass(frozen=True)
class CommonOptions:
    """Options of every command."""

    no_compilation_cache: bool = flag(
        "do not use JAX's persistent compilation cache (jn.enable_compilation_cache: "
        "~/.cache/jaxnet/xla or $JAXNET_COMPILATION_CACHE)"
    )


@dataclasses.dataclass(frozen=True)
class GradcheckConfig:
    """``jaxnet gradcheck``: a random network on random data, float64."""

    hidden_sizes: tuple[int, ...] = option(size_list, "hidden sizes", (5, 3), metavar="SIZES")
    inputs: int = option(integer, "input features", 4, metavar="N")
    outputs: int | None = option(integer, "output units (default 1; 3 for softmax)", metavar="N")
    hidden_activation: str = option(name, "hidden activation", "tanh", metavar="NAME")
    output_activation: str = option(name, "output activation", "sigmoid", metavar="NAME")
    scheme: str = option(name, "weight initialisation", "xavier", metavar="NAME")
    examples: int = option(count, "random examples", 8, metavar="M")
    seed: int = option(seed, "random network and data", 0, metavar="N")


def add_options(parser, cls, names=None, **helps) -> None:
    """Add ``cls``'s fields (or those in ``names``) as ``--options`` of ``parser``; an option
    not given parses to None (False for flags). ``helps`` replaces a field's help text."""
    for f in dataclasses.fields(cls):
        if names is not None and f.name not in names:
            continue
        meta, dest = f.metadata, "--" + f.name.replace("_", "-")
        help = helps.get(f.name, meta["help"])
        if meta.get("flag"):
            parser.add_argument(dest, action="store_true", help=help)
            continue
        if f.default is not None:
            help += f" (default {show(f.default)})"
        parser.add_argument(
            dest, type=_for_argparse(meta["parse"]), metavar=meta["metavar"], help=help
        )


def given(args, cls) -> dict:
    """The options of ``cls`` given on the command line (not None, not False)."""
    names = (f.name for f in dataclasses.fields(cls))
    return {k: v for k in names if (v := getattr(args, k, None)) is not None and v is not False}


def resume_options() -> frozenset[str]:
    """The options that may be given with ``--resume`` (all others come from the run)."""
    fields = (*dataclasses.fields(RunConfig), *dataclasses.fields(TrainOptions))
    return frozenset(f.name for f in fields if f.metadata.get("resume"))


def _for_argparse(parse):
    def convert(text):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    convert.__name__ = parse.__name__
    return convert


def _fits(value, hint) -> bool:
    """Whether a JSON value has the type ``hint`` (bools are not numbers; lists are tuples)."""
    if isinstance(hint, types.UnionType):
        return any(_fits(value, h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return isinstance(value, list) and all(_fits(v, typing.get_args(hint)[0]) for v in value)
    if hint is bool:
        return isinstance(value, bool)
    if isinstance(value, bool) or hint is type(None):
        return value is None and hint is type(None)
    return isinstance(value, int | float) if hint is float else isinstance(value, hint)


def _describe(hint) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_describe(h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is tuple or hint is list:
        return "a list of ints" if typing.get_args(hint) else "a list"
    words = {
        int: "an int",
        float: "a number",
        str: "a string",
        bool: "true or false",
        dict: "an object",
        type(None): "null",
    }
    return words.get(hint, hint.__name__)


# ---- the course's settings per dataset ------------------------------------------------------

COURSE_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.metadata.get("course"))


def _course(*values) -> dict:
    """A dataset's course settings, in the order of :data:`COURSE_FIELDS`."""
    return dict(zip(COURSE_FIELDS, values, strict=True))


_MNIST = _course((512,), "relu", "softmax", "he", "rmsprop", 1e-3, 5, 128)
COURSE = {
    "planar": _course((4,), "tanh", "sigmoid", "normal", "sgd", 1.2, 10000, None),
    "spiral": _course((32,), "relu", "softmax", "he", "adam", 0.01, 2000, None),
    "xor": _course((4,), "tanh", "sigmoid", "xavier", "sgd", 1.0, 2000, None),
    "moons": _course((8,), "relu", "sigmoid", "he", "adam", 0.01, 200, 64),
    "classification": _course((10,), "tanh", "sigmoid", "xavier", "adam", 0.01, 20, 64),
    "mnist": _MNIST,
    "fashion-mnist": _MNIST,
    "cat": _course((), "relu", "sigmoid", "zeros", "sgd", 0.005, 2000, None),
    "csv": _course((16,), "relu", None, "he", "adam", 1e-3, 20, 32),  # None: from the classes
}
# With --hidden-sizes, the cat images get the course's deep network instead of logistic regression.
COURSE_WITH_HIDDEN_SIZES = {"cat": _course((20, 7, 5), "relu", "sigmoid", "lecun", "sgd", 0.0075, 2500, None)}  # fmt: skip
# With --arch, the image datasets get Adam and minibatches (the CNN settings of the
# benchmarks' workload E); the other datasets keep their course settings.
_CNN = _course(None, "relu", "softmax", "he", "adam", 1e-3, 3, 128)
COURSE_WITH_ARCH = {
    "mnist": _CNN,
    "fashion-mnist": _CNN,
    "cat": _course(None, "relu", "sigmoid", "he", "adam", 1e-3, 30, 32),
}


def resolve(dataset: str = "planar", **options) -> RunConfig:
    """The run config: the ``options`` given (already parsed) over the dataset's course
    settings (with ``arch``: its ``hidden_sizes`` is None)."""
    kind = data.kind(dataset)
    if options.get("arch") is not None:
        course = {**COURSE_WITH_ARCH.get(kind, COURSE[kind]), "hidden_sizes": None}
    elif options.get("hidden_sizes"):
        course = COURSE_WITH_HIDDEN_SIZES.get(kind, COURSE[kind])
    else:
        course = COURSE[kind]
    return RunConfig(dataset=dataset, **{**course, **options})


def command_line(config: RunConfig) -> str:
    """The ``jaxnet train`` command that reruns ``config`` (every option spelled out, but
    those that are off: no --arch, --l2 0, ...)."""
    parts = ["jaxnet train"]
    for f in dataclasses.fields(RunConfig):
        value, dest = getattr(config, f.name), f"--{f.name.replace('_', '-')}"
        if f.metadata.get("off") and value == f.default:
            continue
        if f.metadata.get("flag"):
            parts.append(dest)
        elif value is not None or f.name == "batch_size":
            parts.append(f"{dest} {shlex.quote(show(value))}")
    return " ".join(parts)


def defaults_table() -> str:
    """The table of per-dataset course settings that ``jaxnet train --help`` ends with."""
    rows = [("dataset", *(n.replace("_", "-") for n in COURSE_FIELDS))]  # the options' names
    for label, course in COURSE.items():
        rows.append(
            (
                label,
                *(
                    "auto" if v is None and k == "output_activation" else show(v)
                    for k, v in course.items()
                ),
            )
        )
        tables = (("--hidden-sizes", COURSE_WITH_HIDDEN_SIZES), ("--arch", COURSE_WITH_ARCH))
        for option, table in tables:
            if label in table:
                shown = ("-" if v is None and k == "hidden_sizes" else show(v) for k, v in table[label].items())  # fmt: skip
                rows.append((f"  {label} {option}", *shown))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    about = [f"  {k:<15} {v}" for k, v in data.DESCRIPTIONS.items()]
    return "\n".join(
        [
            "course settings per dataset (an option given on the command line overrides them):",
            *table,
            "",
            "datasets:",
            *about,
            "",
            "full = full-batch gradient descent: an epoch is one iteration; auto = sigmoid for two",
            "classes, else softmax. The run directory's files: see jaxnet.cli.rundir.",
            "",
            arch.help_text(),
        ]
    )
