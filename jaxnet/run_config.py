"""The options of a ``jaxnet train`` run: a frozen :class:`RunConfig`, the dataset's defaults
under the options given, range checks in command-line terms, and the command that reruns it.

>>> cfg = resolve_config("planar")
>>> cfg.layers, cfg.hidden_activation, cfg.init, cfg.optimizer, cfg.learning_rate, cfg.batch_size
((4,), 'tanh', 'normal', 'sgd', 1.2, None)
>>> resolve_config("cat").layers, resolve_config("cat", layers=(20, 7, 5)).learning_rate
((), 0.0075)
>>> command_line(resolve_config("moons", epochs=3))[:60]
'jaxnet train --dataset moons --layers 8 --hidden-activation '
"""

from __future__ import annotations

import dataclasses
import math
import shlex
from pathlib import Path

from jaxnet import activations, initializers, optimizers, run_data

GRADS = ("autodiff", "manual")


@dataclasses.dataclass(frozen=True)
class RunConfig(run_data.Defaults):
    """Everything that determines a run (saved as ``config.json``): the hyperparameters of
    :class:`~jaxnet.run_data.Defaults` (``layers`` are the hidden sizes; input and output
    sizes follow the data), the dataset, and how the run draws, differentiates and loads.
    """

    dataset: str
    seed: int = 0
    grads: str = "autodiff"
    data_dir: str | None = None
    limit: int | None = None

    def to_dict(self) -> dict:
        return {**dataclasses.asdict(self), "layers": list(self.layers)}

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        fields = {f.name for f in dataclasses.fields(cls)}
        missing = fields - set(d) - {"data_dir", "limit", "seed", "grads"}
        if missing:
            raise ValueError(f"config is missing {', '.join(sorted(missing))}")
        return cls(**{k: v for k, v in d.items() if k in fields})

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(int(n) for n in self.layers))


OPTIONS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "dataset")


def resolve_config(dataset: str = "planar", **given) -> RunConfig:
    """The run config: ``given`` options (``None`` = not given) over the dataset's defaults.

    ``batch_size="full"`` asks for full-batch gradient descent. Every value is checked here,
    before any data is loaded (``ValueError`` naming the option).
    """
    unknown = set(given) - set(OPTIONS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}; expected some of {OPTIONS}")
    sp = run_data.spec(dataset)
    defaults = sp.defaults
    if sp.with_layers is not None and given.get("layers"):
        defaults = sp.with_layers
    values = dataclasses.asdict(defaults)
    values |= {k: v for k, v in given.items() if v is not None}
    if sp is run_data.SPECS["csv"]:  # saved runs must find their files from any directory
        dataset = str(Path(dataset).expanduser().resolve())
    if values.get("data_dir") is not None:
        values["data_dir"] = str(Path(values["data_dir"]).expanduser().resolve())
    if values["batch_size"] == "full":
        values["batch_size"] = None
    config = RunConfig(dataset=dataset, **values)
    check_config(config)
    return config


def check_config(c: RunConfig) -> None:
    """``ValueError`` for the first option out of range, in command-line terms."""
    if any(n < 1 for n in c.layers):
        raise ValueError(f"--layers must be positive sizes, got {','.join(map(str, c.layers))}")
    for option, name in (("hidden", c.hidden_activation), ("output", c.output_activation)):
        try:
            if name is not None:
                activations.get(name)
        except ValueError as e:
            raise ValueError(f"--{option}-activation: {e}") from None
    initializers.get(c.init)
    if c.optimizer not in optimizers.NAMES:
        raise ValueError(
            f"unknown optimizer {c.optimizer!r}; expected one of {', '.join(optimizers.NAMES)}"
        )
    if not (math.isfinite(c.learning_rate) and c.learning_rate > 0):
        raise ValueError(f"--learning-rate must be positive, got {c.learning_rate}")
    for name, value, low in (("epochs", c.epochs, 1), ("batch-size", c.batch_size, 1),
                             ("seed", c.seed, 0), ("limit", c.limit, 2)):  # fmt: skip
        if value is not None and value < low:
            raise ValueError(f"--{name} must be >= {low}, got {value}")
    if c.grads not in GRADS:
        raise ValueError(f"--grads must be one of {', '.join(GRADS)}, got {c.grads!r}")


def command_line(config: RunConfig) -> str:
    """The ``jaxnet train`` command that reruns ``config`` (every option spelled out)."""
    parts = ["jaxnet train", f"--dataset {shlex.quote(config.dataset)}"]
    for name in OPTIONS:
        value = getattr(config, name)
        if name == "layers":
            value = ",".join(map(str, value)) or "none"
        elif name == "batch_size" and value is None:
            value = "full"
        if value is not None:
            parts.append(f"--{name.replace('_', '-')} {shlex.quote(str(value))}")
    return " ".join(parts)


def defaults_table() -> str:
    """The table of per-dataset defaults that ``jaxnet train --help`` ends with."""
    rows = [("dataset", "layers", "hidden/output", "init", "optimizer", "lr", "epochs", "batch")]
    for name, spec in run_data.SPECS.items():
        for d, label in ((spec.defaults, name), (spec.with_layers, f"  {name} --layers")):
            if d is not None:
                rows.append((label, ",".join(map(str, d.layers)) or "none",
                             f"{d.hidden_activation}/{d.output_activation or 'auto'}", d.init,
                             d.optimizer, f"{d.learning_rate:g}", str(d.epochs),
                             "full" if d.batch_size is None else str(d.batch_size)))  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    about = [f"  {name:<15} {spec.description}" for name, spec in run_data.SPECS.items()]
    return "\n".join(
        ["course defaults per dataset (any option given on the command line overrides them):",
         *table, "", "datasets:", *about, "",
         "full = full-batch gradient descent: an epoch is one iteration; auto = sigmoid for two",
         "classes, else softmax. Run directory files: see jaxnet.run_files."]
    )  # fmt: skip
