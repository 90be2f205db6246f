"""The run directory ``jaxnet train`` writes, and reading it back.

    config.json              the run's options (enough to rerun it), network, preprocessing
    checkpoint.safetensors   params, optimiser state, key, history (``jaxnet.io.checkpoint``)
    history.json, .csv       per-epoch loss / accuracy or mse (val_* on the held-out split) / time
    metrics.json             final loss and accuracy (or mse) per split, wall time, examples/s
    learning_curves.png      cost per iteration (full batch) or per-epoch curves
    decision_boundary.png    2-D data, classifiers only
    predictions.png          image data, classifiers only: held-out images, mistakes in red
    filters.png              networks with a conv layer: the first conv layer's filters
    feature_maps.png         networks with a conv layer: one held-out image through each conv

Every file is written whole or not at all (``jaxnet.io.atomic``), in this order: config.json
before training, the checkpoint during it, then the results and the plots. A run killed
after its checkpoint is completed by ``jaxnet train --resume DIR``. Reading checks every key
it uses and names the file and the key it finds wrong; every number read is checked for
plausibility, and a JSON file larger than ``MAX_JSON_BYTES`` (or one that is not a regular
file) is refused before it is read.

The checkpoint is ``jn.fit``'s (:mod:`jaxnet.training.checkpoints` decides what it holds),
in the file format of :mod:`jaxnet.io.checkpoint`; this module only names it in the run
directory and reads it back for the commands, with errors that name the run.

One process writes a run folder at a time (``jaxnet.io.lock``: a second one is refused,
naming the holder's pid). A run file that jaxnet did not write (``jaxnet.io.written``) is
deleted only by ``--force`` (a new run over an old one) and never replaced by ``--resume``.
The folder also holds jaxnet's bookkeeping: ``.jaxnet-files.json`` (the files it wrote)
and, while a run writes it, ``.jaxnet.lock``.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import math
import os
from pathlib import Path
from typing import Any, NamedTuple

import jax

import jaxnet as jn
from jaxnet import validation
from jaxnet.cli import arch, data
from jaxnet.cli.config import INT_LIMIT, RunConfig
from jaxnet.io import atomic, bounded, checkpoint, written

CONFIG, HISTORY, HISTORY_CSV, METRICS = "config.json", "history.json", "history.csv", "metrics.json"
PLOTS = ("learning_curves.png", "decision_boundary.png", "predictions.png", "filters.png",
         "feature_maps.png")  # fmt: skip
FILES = (CONFIG, checkpoint.FILENAME, HISTORY, HISTORY_CSV, METRICS, *PLOTS)
MAX_JSON_BYTES = 1 << 26  # config.json and metrics.json are read only up to 64 MiB


class Saved(NamedTuple):
    """A run's ``config.json``, checked."""

    config: RunConfig
    net: jn.Network
    preprocessing: dict[str, Any]
    command: str | None


def new_run_dir(name: str, root="runs") -> Path:
    """A fresh ``root/<name>-<YYYYmmdd-HHMMSS>`` (suffixed ``-2``, ``-3``, ... if taken)."""
    base = Path(root) / f"{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def is_run(path) -> bool:
    """Whether ``path`` is a folder holding a jaxnet run (a config.json that ``jaxnet train`` wrote)."""
    try:
        saved = _read_json(Path(path) / CONFIG)
    except (OSError, ValueError):
        return False
    return {"network", "jaxnet_version"} <= set(saved)


def user_files(path) -> list[Path]:
    """The entries of the folder ``path`` other than jaxnet's bookkeeping files."""
    return [p for p in Path(path).iterdir() if p.name not in atomic.BOOKKEEPING]


def check_out(path, *, force: bool = False, inputs=()) -> Path:
    """Refuse an ``--out`` that ``jaxnet train`` must not write into, before anything runs:
    a file, a path under a file, a folder with other files, a run (unless ``force``), or a
    run whose files include one of ``inputs`` (the dataset: never replaced, whatever
    ``force`` says)."""
    path = Path(path)
    existing = next(p for p in (path, *path.parents) if p.exists() or p == p.parent)
    if existing == path and not path.is_dir():
        raise ValueError(f"--out {path} is a file; give a new or empty folder for the run")
    if not existing.is_dir():
        raise ValueError(f"--out {path} lies under {existing}, which is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path}: cannot write into {existing} (permission denied)")
    if existing == path and user_files(path):
        if not is_run(path):
            raise ValueError(
                f"--out {path} is a folder holding files that are not a jaxnet run; "
                "give a new or empty folder"
            )
        if not force:
            raise ValueError(
                f"--out {path} already holds a jaxnet run; continue it with --resume {path}, "
                "replace it with --force, or pick another --out"
            )
        for name in FILES:
            for source in inputs:
                if source is not None and _same_file(path / name, source):
                    raise ValueError(
                        f"--out {path}: its {name} is {source}, which this command reads; it is "
                        "never replaced (choose another --out)"
                    )
    return path


def _same_file(a, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_run_files(run_dir) -> None:
    """Before a resumed run trains: refuse a run file in ``run_dir`` that jaxnet did not
    write or that was changed since (config.json aside: it is read and written back); a
    jaxnet checkpoint counts as jaxnet's."""
    for name in FILES[1:]:
        file = Path(run_dir) / name
        if not os.path.lexists(file) or written.is_ours(file):
            continue
        if name == checkpoint.FILENAME and checkpoint.is_checkpoint(file):
            continue
        raise FileExistsError(
            f"{file} was not written by jaxnet (or was changed since); resuming would replace "
            "it: move it away (jaxnet train --resume writes it anew)"
        )


def clear(path) -> None:
    """Delete the files of the run in ``path`` (``--force``); other files stay."""
    for name in FILES:
        atomic.remove(Path(path) / name)


def write_config(run_dir, config: RunConfig, net, dataset: data.Data, command: str) -> None:
    """``config.json``: the run's options at the top level, then what was derived from the data
    (replacing a config.json there: a resumed run writes back the one it read)."""
    atomic.write_json(
        Path(run_dir) / CONFIG,
        {
            **config.to_json(),
            "network": net.to_dict(),
            "splits": {k: int(X.shape[0]) for k, (X, _) in dataset.splits.items()},
            "preprocessing": dataset.preprocessing,
            "command": command,
            "jaxnet_version": jn.__version__,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
        },
        overwrite=True,
    )


def write_results(run_dir, history: dict, metrics: dict) -> None:
    """history.json, history.csv and metrics.json (a non-finite number is written as null)."""
    run_dir = Path(run_dir)
    atomic.write_json(run_dir / HISTORY, _finite(history), indent=None)
    atomic.write_text(run_dir / HISTORY_CSV, history_csv(history))
    atomic.write_json(run_dir / METRICS, _finite(metrics))


def history_csv(history: dict) -> str:
    """The history as CSV: one row per epoch, one column per key (``epoch`` first)."""
    keys = ["epoch", *(k for k in history if k != "epoch")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    writer.writerows(zip(*(history[k] for k in keys)))
    return out.getvalue()


def _finite(tree):
    if isinstance(tree, dict):
        return {k: _finite(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return [_finite(v) for v in tree]
    return None if isinstance(tree, float) and not math.isfinite(tree) else tree


def read_config(run_dir) -> Saved:
    """The checked ``config.json`` of a run directory (``ValueError`` naming the file and key)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a run directory: no such directory")
    file = run_dir / CONFIG
    if not os.path.lexists(file):
        raise ValueError(
            f"{run_dir} is not a jaxnet run directory: it has no {CONFIG} (jaxnet train --out DIR makes one)"
        )
    saved = _read_json(file)
    config = RunConfig.from_json(saved, file)
    try:
        net = jn.Network.from_dict(saved.get("network"))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise ValueError(f"{file}: key 'network' is not a network description ({e})") from None
    try:
        preprocessing = data.check_preprocessing(saved.get("preprocessing"), net.input_shape)
    except ValueError as e:
        raise ValueError(f"{file}: key 'preprocessing': {e}") from None
    command = saved.get("command")
    return Saved(config, net, preprocessing, command if isinstance(command, str) else None)


def _read_json(file: Path) -> dict:
    raw = bounded.read_bytes(file, max_bytes=MAX_JSON_BYTES, what=f"a jaxnet {file.name}")
    try:
        saved = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"{file} is not valid JSON ({type(e).__name__})") from None
    if not isinstance(saved, dict):
        raise ValueError(f"{file} must hold a JSON object, got {type(saved).__name__}")
    return saved


def read_checkpoint(run_dir, net: jn.Network) -> checkpoint.Checkpoint:
    """The run's checkpoint, restored into the shape of ``net`` (the network config.json records)."""
    like = jax.eval_shape(lambda: jn.init(jax.random.key(0), net))
    try:
        ckpt = checkpoint.restore(run_dir, like)
    except FileNotFoundError:
        raise ValueError(_no_checkpoint(run_dir)) from None
    except ValueError as e:
        raise ValueError(
            f"cannot load the checkpoint of {run_dir} into the network {_sizes(net)} that its "
            f"{CONFIG} records: {e}"
        ) from None
    where = f"the checkpoint of {run_dir}: params"
    validation.check_state(net, ckpt.params, where)
    return ckpt


def epochs_done(run_dir) -> int:
    """The epochs the run's checkpoint has trained (its header only is read)."""
    try:
        step = checkpoint.read_metadata(run_dir)["step"]
    except FileNotFoundError:
        raise ValueError(_no_checkpoint(run_dir)) from None
    if step > INT_LIMIT:
        raise ValueError(
            f"the checkpoint of {run_dir} says it has done {step} epochs, more than the "
            f"{INT_LIMIT} a run may train; the file was changed"
        )
    return step


def _no_checkpoint(run_dir) -> str:
    return (
        f"{run_dir} has no {checkpoint.FILENAME}: its training stopped before the first save; "
        "start it again (jaxnet train --out DIR --force)"
    )


def _sizes(net) -> str:
    return describe_network(net)


def describe_network(net: jn.Network) -> str:
    """``2-4-1 tanh/sigmoid`` for the course's dense stack, else its ``--arch`` string on
    its input shape, e.g. ``(28, 28, 1) conv8k3relu-pool2-flatten-dense10softmax``."""
    if net.is_dense:
        return f"{'-'.join(map(str, net.sizes))} {'/'.join(dict.fromkeys(net.activations))}"
    return f"{net.input_shape} {arch.canonical(net.layers)}"


def read_metrics(run_dir) -> dict | None:
    """The run's checked ``metrics.json``, or None if training has not finished."""
    file = Path(run_dir) / METRICS
    if not os.path.lexists(file):
        return None
    metrics = _read_json(file)
    epochs = metrics.get("epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or not 0 <= epochs <= INT_LIMIT:
        raise ValueError(
            f"{file}: key 'epochs' must be an int in 0..{INT_LIMIT}, got {epochs!r:.40}"
        )
    for split in ("train", "validation", "test"):
        entry = metrics.get(split)
        if split == "train" and entry is None:
            raise ValueError(f"{file}: missing key 'train'")
        if entry is None:
            continue
        if not isinstance(entry, dict):
            raise ValueError(f"{file}: key {split!r} must be an object")
        for key in ("loss", "accuracy" if "accuracy" in entry else "mse", "examples"):
            value = entry.get(key)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(f"{file}: key {split!r}: {key!r} must be a number")
            low, high = _RANGES[key]
            if not (low <= value <= high) or (key == "examples" and not isinstance(value, int)):
                raise ValueError(
                    f"{file}: key {split!r}: {key!r} must be "
                    f"{'an int' if key == 'examples' else 'a number'} in [{low}, {high}], "
                    f"got {value!r:.40}"
                )
    return metrics


# the plausible range of each number metrics.json holds per split
_RANGES = {
    "loss": (0.0, 1e300),
    "mse": (0.0, 1e300),
    "accuracy": (0.0, 1.0),
    "examples": (0, 2**53),
}


def check_output(path, *, inputs=(), force: bool = False) -> Path:
    """``predict --output``, before predicting: refuse a folder, a path under a file, a file
    of a run, one of ``inputs`` (whatever ``force`` says), and an existing file that jaxnet
    did not write (unless ``force``)."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"--output {path} is a folder; give the path of a CSV file to write")
    existing = next(p for p in path.parents if p.exists() or p == p.parent)
    if not existing.is_dir():
        raise ValueError(f"--output {path} lies under {existing}, which is a file, not a folder")
    if path.name in FILES and is_run(path.parent):
        raise ValueError(
            f"--output {path} is a file of the jaxnet run in {path.parent}; it is never "
            "replaced by predictions (choose another path)"
        )
    return atomic.check_target(
        path,
        "--output",
        overwrite=force,
        hint="pass --force to replace it, or choose another --output",
        inputs=inputs,
    )


def write_predictions(path, columns: dict[str, list], *, overwrite: bool = False) -> None:
    """A CSV with one column per entry of ``columns`` (``prediction``, ``probability``)."""
    rows = zip(*columns.values())
    text = ",".join(columns) + "\n" + "".join(",".join(f"{v:.6g}" for v in r) + "\n" for r in rows)
    try:
        atomic.write_text(path, text, overwrite=overwrite)
    except OSError as e:
        raise ValueError(f"--output {path}: cannot write it ({e.strerror or e})") from None
