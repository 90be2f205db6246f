"""The run directory ``jaxnet train`` writes, and reading it back.

    config.json              the run's options (enough to rerun it), network, preprocessing
    history.json, .csv       per-epoch loss / accuracy (val_* on the held-out split) / time
    metrics.json             final loss and accuracy per split, wall time, examples per second
    checkpoint.safetensors   params, optimiser state, key, history (``jaxnet.checkpoint``)
    learning_curves.png      cost per iteration (full batch) or per-epoch curves
    decision_boundary.png    2-D data only
    predictions.png          image data only: held-out images, predicted / true, mistakes in red

Text files and plots are written to a temporary file and renamed over the old one, so a
crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import io
import json
import os
import tempfile
from pathlib import Path

import jax
import numpy as np

import jaxnet as jn
from jaxnet.io import checkpoint

CONFIG, HISTORY, METRICS = "config.json", "history.json", "metrics.json"


def new_run_dir(name: str, root="runs") -> Path:
    """A fresh ``root/<name>-<YYYYmmdd-HHMMSS>`` (suffixed ``-2``, ``-3``, ... if taken)."""
    base = Path(root) / f"{name}-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


@contextlib.contextmanager
def atomic_path(path: Path):
    """Yield a temporary path beside ``path`` (same suffix); rename it over ``path`` on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: Path, obj, indent: int | None = 2) -> None:
    write_text(path, json.dumps(obj, indent=indent) + "\n")


def write_config(run_dir: Path, config, net, data, command: str | None) -> None:
    """``config.json``: the run's options at the top level, then what was derived from the data."""
    write_json(
        Path(run_dir) / CONFIG,
        {
            **config.to_dict(),
            "network": net.to_dict(),
            "splits": {k: int(X.shape[0]) for k, (X, _) in data.splits.items()},
            "preprocessing": data.preprocessing,
            "command": command,
            "jaxnet_version": jn.__version__,
            "created": datetime.datetime.now().isoformat(timespec="seconds"),
        },
    )


def history_csv(history: dict) -> str:
    """The history as CSV: one row per epoch, one column per key (``epoch`` first)."""
    keys = ["epoch", *(k for k in history if k != "epoch")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(keys)
    writer.writerows(zip(*(history[k] for k in keys)))
    return out.getvalue()


def write_results(run_dir, config, net, params, data, history, metrics) -> None:
    """history.json, history.csv, metrics.json and the plots."""
    run_dir = Path(run_dir)
    write_json(run_dir / HISTORY, history, indent=None)
    write_text(run_dir / "history.csv", history_csv(history))
    write_json(run_dir / METRICS, metrics)
    write_plots(run_dir, config, net, params, data, history, metrics)


def write_plots(run_dir: Path, config, net, params, data, history, metrics) -> list[Path]:
    """The learning curves, and the decision boundary (2-D data) or a predictions grid (images)."""
    from jaxnet import plotting

    if config.batch_size is None:  # full batch: the course's cost per iteration
        costs = {"train": history["loss"]}
        if "val_loss" in history:
            costs[data.held_out] = history["val_loss"]
        every = 100 if len(history["loss"]) >= 1000 else 1
        figures = {
            "learning_curves": plotting.plot_costs(
                costs, learning_rate=config.learning_rate, every=every
            )
        }
    else:
        figures = {"learning_curves": plotting.plot_history(history)}
    if data.num_features == 2:
        X, y = data.splits["train"]
        title = f"{data.name}: training set, {100 * metrics['train']['accuracy']:.1f}% accuracy"
        figures["decision_boundary"] = plotting.plot_decision_boundary(
            net, params, X, y, title=title
        )
    if data.image_shape is not None:
        split = data.held_out or "train"
        X, y = (a[:32] for a in data.splits[split])
        predicted = np.asarray(jn.predict(net, params, X))
        fig = plotting.plot_images(
            X, y, predicted, class_names=data.class_names, image_shape=data.image_shape
        )
        fig.suptitle(f"{split} images: predicted / true (mistakes in red)")
        figures["predictions"] = fig
    paths = []
    for name, fig in figures.items():
        paths.append(run_dir / f"{name}.png")
        with atomic_path(paths[-1]) as tmp:
            fig.savefig(tmp, dpi=100)
    return paths


def read_config(run_dir) -> dict:
    """The saved ``config.json`` of a run directory (``ValueError`` if ``run_dir`` is not one)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ValueError(f"{run_dir} is not a run directory: no such directory")
    file = run_dir / CONFIG
    if not file.is_file():
        raise ValueError(
            f"{run_dir} is not a jaxnet run directory: it has no {CONFIG} (jaxnet train --out DIR makes one)"
        )
    try:
        saved = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{file} is not valid JSON ({e})") from e
    if not isinstance(saved, dict) or "network" not in saved:
        raise ValueError(f"{file} is not a jaxnet run config (no 'network' entry)")
    saved.setdefault("preprocessing", {})
    return saved


def _no_checkpoint(run_dir, e: FileNotFoundError) -> ValueError:
    return ValueError(f"{run_dir} has no checkpoint ({e}); was its training interrupted?")


def read_params(run_dir):
    """The params of the run's checkpoint, restored into the shape of its saved network."""
    net = jn.Network.from_dict(read_config(run_dir)["network"])
    like = jax.eval_shape(lambda: jn.init(jax.random.key(0), net))
    try:
        return checkpoint.restore(run_dir, like).params
    except FileNotFoundError as e:
        raise _no_checkpoint(run_dir, e) from e


def epochs_done(run_dir) -> int:
    """The number of epochs the run's checkpoint has trained (its header only is read)."""
    try:
        return checkpoint.read_metadata(run_dir)["step"]
    except FileNotFoundError as e:
        raise _no_checkpoint(run_dir, e) from e


def read_metrics(run_dir) -> dict | None:
    """The run's ``metrics.json``, or None if training has not finished."""
    file = Path(run_dir) / METRICS
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def write_predictions(path, labels, probability) -> None:
    """``prediction,probability`` rows (the probability of the predicted class)."""
    rows = "".join(f"{int(k)},{float(p):.6g}\n" for k, p in zip(labels, probability))
    write_text(Path(path), "prediction,probability\n" + rows)


def read_features(path, n_features: int) -> np.ndarray:
    """Feature rows ``(m, n_features)`` from a CSV with or without a header row.

    A column named ``label`` (as in a training CSV) is dropped.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, encoding="utf-8-sig", newline="") as f:
        first = next(csv.reader(f), [])
    header = not all(_is_number(c) for c in first)
    try:
        X = np.loadtxt(path, delimiter=",", skiprows=int(header), ndmin=2, encoding="utf-8-sig")
    except ValueError as e:
        raise ValueError(f"{path}: not a CSV of numbers ({e})") from e
    names = [c.strip() for c in first]
    if header and "label" in names and X.shape[1] == len(names):
        X = np.delete(X, names.index("label"), axis=1)
    if X.shape[0] == 0:
        raise ValueError(f"{path}: no rows of features")
    if X.shape[1] != n_features:
        raise ValueError(
            f"{path}: rows have {X.shape[1]} values, but the network takes {n_features} features"
        )
    return X.astype(np.float32)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
