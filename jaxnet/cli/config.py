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
>>> cfg.layers, cfg.hidden_activation, cfg.scheme, cfg.optimizer, cfg.learning_rate, cfg.batch_size
((4,), 'tanh', 'normal', 'sgd', 1.2, None)
>>> resolve("cat").layers, resolve("cat", layers=(20, 7, 5)).learning_rate
((), 0.0075)
>>> command_line(resolve("moons", epochs=3))[:60]
'jaxnet train --dataset moons --layers 8 --hidden-activation '
"""

from __future__ import annotations

import argparse
import dataclasses
import shlex
import types
import typing
from pathlib import Path

import jaxnet as jn
from jaxnet.cli import data

SEED_LIMIT = 2**32  # jax.random.key(seed) keeps 32 bits of a seed without x64: refuse the rest


# ---- parsers: command-line text -> value (ValueError with what was expected) --------------


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected an int, got {text!r}") from None


def count(text: str) -> int:
    value = integer(text)
    if value < 1:
        raise ValueError(f"expected an int >= 1, got {text}")
    return value


def real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


def name(text: str) -> str:
    return text.strip()


def folder(text: str) -> str:
    """An absolute path: a saved run finds its files from any working directory."""
    return str(Path(text).expanduser().resolve())


def layer_sizes(text: str) -> tuple[int, ...]:
    """``"512,256"`` -> ``(512, 256)``; ``""`` or ``"none"`` -> ``()`` (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return ()
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ValueError(
            f"expected comma-separated sizes like 512,256 (or none), got {text!r}"
        ) from None


def batch_size(text: str) -> int | None:
    """``"full"`` -> None (full-batch gradient descent), else an int."""
    return None if text.strip().lower() == "full" else integer(text)


def seed(text: str) -> int:
    value = integer(text)
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


def option(parse, help: str, default=None, *, metavar=None, course=False, resume=False):
    """A dataclass field declaring one option (``course``: set per dataset; ``resume``: may
    be given with ``--resume``)."""
    meta = {"parse": parse, "help": help, "metavar": metavar, "course": course, "resume": resume}
    return dataclasses.field(default=default, metadata=meta)


def flag(help: str, *, resume=False):
    return dataclasses.field(default=False, metadata={"help": help, "flag": True, "resume": resume})


# ---- the options ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a ``jaxnet train`` run; saved as ``config.json``.

    ``layers`` are the hidden sizes (input and output sizes follow the data). The fields
    marked ``course`` default to None, "the dataset's course setting" (:data:`COURSE`).
    """

    dataset: str = option(
        data.parse_dataset,
        f"{', '.join(data.NAMES)}, or a .csv path",
        "planar",
        metavar="NAME|CSV",
    )
    layers: tuple[int, ...] = option(
        layer_sizes,
        "hidden sizes, e.g. 512,256 (none: no hidden layer)",
        metavar="SIZES",
        course=True,
    )
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

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_json(cls, saved: dict, file) -> RunConfig:
        """The config saved in ``file``: every key present, of its JSON type, and accepted by
        the option's parser (``ValueError`` naming the file and the key)."""
        hints, values = typing.get_type_hints(cls), {}
        for f in dataclasses.fields(cls):
            if f.name not in saved:
                raise ValueError(f"{file}: missing key {f.name!r}")
            value, hint = saved[f.name], hints[f.name]
            if not _fits(value, hint):
                raise ValueError(
                    f"{file}: key {f.name!r} must be {_describe(hint)}, got {_describe(type(value))}"
                )
            if value is not None:
                try:
                    value = f.metadata["parse"](show(value))
                except ValueError as e:
                    raise ValueError(f"{file}: key {f.name!r}: {e}") from None
            values[f.name] = value
        return cls(**values)


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

    layers: tuple[int, ...] = option(layer_sizes, "hidden sizes", (5, 3), metavar="SIZES")
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

COURSE_FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.metadata["course"])


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
# With --layers, the cat images get the course's deep network instead of logistic regression.
COURSE_WITH_LAYERS = {"cat": _course((20, 7, 5), "relu", "sigmoid", "lecun", "sgd", 0.0075, 2500, None)}  # fmt: skip


def resolve(dataset: str = "planar", **options) -> RunConfig:
    """The run config: the ``options`` given (already parsed) over the dataset's course settings."""
    kind = data.kind(dataset)
    course = COURSE_WITH_LAYERS.get(kind) if options.get("layers") else None
    return RunConfig(dataset=dataset, **{**(course or COURSE[kind]), **options})


def command_line(config: RunConfig) -> str:
    """The ``jaxnet train`` command that reruns ``config`` (every option spelled out)."""
    parts = ["jaxnet train"]
    for f in dataclasses.fields(RunConfig):
        value = getattr(config, f.name)
        if value is not None or f.name == "batch_size":
            parts.append(f"--{f.name.replace('_', '-')} {shlex.quote(show(value))}")
    return " ".join(parts)


def defaults_table() -> str:
    """The table of per-dataset course settings that ``jaxnet train --help`` ends with."""
    rows = [("dataset", *(n.replace("_activation", "") for n in COURSE_FIELDS))]
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
        if label in COURSE_WITH_LAYERS:
            rows.append((f"  {label} --layers", *map(show, COURSE_WITH_LAYERS[label].values())))
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
        ]
    )
