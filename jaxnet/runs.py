"""Training runs as the ``jaxnet`` command makes them: a config, a network built from the data,
``jn.fit`` into a run directory, and evaluation / prediction from that directory later.

The options are a :class:`jaxnet.run_config.RunConfig`; the data comes from
:mod:`jaxnet.run_data`; the directory's files are written by :mod:`jaxnet.run_files`.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

import jaxnet as jn
from jaxnet import activations, run_data, run_files
from jaxnet.io import checkpoint
from jaxnet.run_config import RunConfig, check_config, command_line, resolve_config

__all__ = [
    "RunConfig",
    "RunResult",
    "build_network",
    "describe_run",
    "evaluate_run",
    "format_metrics",
    "gradcheck",
    "predict_run",
    "resolve_config",
    "resume",
    "train",
]


def build_network(config: RunConfig, data: run_data.Data) -> jn.Network:
    """``Network((n_x, *layers, n_out))``: n_out is 1 for a sigmoid on two classes, else the classes."""
    K = data.num_classes
    output = config.output_activation or ("sigmoid" if K == 2 else "softmax")
    if output != "softmax" and K > 2:
        raise ValueError(f"--output-activation {output} cannot classify {K} classes; use softmax")
    n_out = K if output == "softmax" else 1
    sizes = (data.num_features, *config.layers, n_out)
    return jn.Network(sizes, hidden=config.hidden_activation, output=output)


class RunResult(NamedTuple):
    """What :func:`train` returns: the run directory, its metrics, network and params."""

    run_dir: Path
    metrics: dict[str, Any]
    net: jn.Network
    params: Any


def load_data(config: RunConfig, *, download: bool = False, preprocessing=None) -> run_data.Data:
    return run_data.load(
        config.dataset,
        data_dir=config.data_dir,
        download=download,
        limit=config.limit,
        preprocessing=preprocessing,
    )


def train(
    config: RunConfig,
    run_dir=None,
    *,
    resume: bool = False,
    verbose: int = 1,
    checkpoint_every: int | None = None,
    download: bool = False,
    announce=None,
    mesh=None,
) -> RunResult:
    """Train ``config`` into ``run_dir`` (default ``runs/<dataset>-<time>``); see ``jaxnet train --help``.

    With ``resume=True`` the run continues from ``run_dir``'s checkpoint to ``config.epochs``
    epochs in total, writing into the same directory. ``announce`` (e.g. ``print``) receives a
    one-line description of the run before training starts.
    """
    saved = done = None
    if resume:
        saved, done = run_files.read_config(run_dir), run_files.epochs_done(run_dir)
        if config.epochs <= done:
            raise ValueError(
                f"--epochs must exceed the {done} epochs {run_dir} has done, got {config.epochs}"
            )
    elif run_dir is not None and (Path(run_dir) / checkpoint.FILENAME).exists():
        raise ValueError(
            f"{run_dir} already holds a run; continue it with --resume {run_dir} or pick another --out"
        )
    preprocessing = saved["preprocessing"] or None if saved else None
    data = load_data(config, download=download, preprocessing=preprocessing)
    net = build_network(config, data)
    config = dataclasses.replace(config, output_activation=net.activations[-1])
    run_dir = Path(run_dir) if run_dir is not None else run_files.new_run_dir(data.name)
    init_key, shuffle_key = jax.random.split(jax.random.key(config.seed))
    params = jn.init(init_key, net, config.init)
    run_files.write_config(run_dir, config, net, data, command_line(config))
    if announce is not None:
        announce(describe(config, net, data, run_dir))
    X, y = data.splits["train"]
    held_out = data.splits.get(data.held_out) if data.held_out else None
    batch = None if config.batch_size is None else min(config.batch_size, X.shape[0])
    tic, diverged = time.perf_counter(), None
    try:
        params, history = jn.fit(
            net, params, X, y,
            optimizer=config.optimizer, learning_rate=config.learning_rate,
            epochs=config.epochs, batch_size=batch, key=shuffle_key,
            validation_data=held_out, backprop=config.grads, verbose=verbose,
            checkpoint_dir=run_dir, checkpoint_every=checkpoint_every,
            resume_from=run_dir if resume else None, mesh=mesh,
        )  # fmt: skip
    except jn.TrainingDiverged as e:
        params, history, diverged = e.params, e.history, e
    seconds = time.perf_counter() - tic
    trained = len(history["epoch"]) - (done or 0)
    metrics = evaluate_splits(net, params, data)
    metrics |= {
        "epochs": len(history["epoch"]),
        "wall_time_s": seconds,
        "examples_per_second": X.shape[0] * trained / seconds if seconds > 0 else None,
    }
    if diverged is not None:
        metrics["diverged"] = str(diverged)
    run_files.write_results(run_dir, config, net, params, data, history, metrics)
    if diverged is not None:
        raise FloatingPointError(f"{diverged}; try a smaller --learning-rate (run in {run_dir})")
    return RunResult(run_dir, metrics, net, params)


def resume(run_dir, epochs: int, *, data_dir=None, **kwargs) -> RunResult:
    """Continue the run in ``run_dir`` to ``epochs`` epochs in total (see :func:`train`)."""
    config = dataclasses.replace(load_config(run_dir), epochs=epochs)
    if data_dir is not None:
        config = dataclasses.replace(config, data_dir=str(Path(data_dir).resolve()))
    check_config(config)
    return train(config, run_dir, resume=True, **kwargs)


def evaluate_splits(net, params, data: run_data.Data) -> dict[str, dict]:
    """``{split: {"loss", "accuracy", "examples"}}`` for every split of ``data``."""
    return {
        split: {**jn.evaluate(net, params, X, y), "examples": int(X.shape[0])}
        for split, (X, y) in data.splits.items()
    }


def load_config(run_dir) -> RunConfig:
    """The :class:`RunConfig` saved in ``run_dir`` (``ValueError`` if it is not a run directory)."""
    return RunConfig.from_dict(run_files.read_config(run_dir))


def load_run(run_dir):
    """``(config, net, params, saved config dict)`` of a run directory."""
    saved = run_files.read_config(run_dir)
    net = jn.Network.from_dict(saved["network"])
    return RunConfig.from_dict(saved), net, run_files.read_params(run_dir), saved


def evaluate_run(run_dir, *, dataset=None, data_dir=None, download=False) -> dict[str, dict]:
    """Loss and accuracy of the run's final params on every split of its dataset (or ``dataset``)."""
    config, net, params, saved = load_run(run_dir)
    if dataset is not None or data_dir is not None:
        changes = {"dataset": dataset or config.dataset, "data_dir": data_dir}
        if dataset is not None and dataset != config.dataset:
            changes["limit"] = None
        config = dataclasses.replace(config, **changes)
    data = load_data(config, download=download, preprocessing=saved["preprocessing"] or None)
    if data.num_features != net.sizes[0]:
        raise ValueError(
            f"{config.dataset} has {data.num_features} features; the network in {run_dir} takes {net.sizes[0]}"
        )
    return evaluate_splits(net, params, data)


def predict_run(run_dir, csv_path) -> tuple[np.ndarray, np.ndarray]:
    """``(predictions (m,), probability of each prediction (m,))`` for the feature rows of a CSV."""
    _, net, params, saved = load_run(run_dir)
    if net.task not in ("binary", "multiclass"):
        raise ValueError(
            f"jaxnet predict needs a classifier; the network in {run_dir} is {net.task}"
        )
    X = run_files.read_features(csv_path, net.sizes[0])
    X = run_data.apply_preprocessing(saved["preprocessing"], X)
    A = np.asarray(jn.forward(net, params, X))
    labels = np.asarray(jn.predict(net, params, X))
    if net.sizes[-1] == 1:
        return labels, np.where(labels == 1, A[:, 0], 1 - A[:, 0])
    return labels, A[np.arange(len(labels)), labels]


def format_metrics(metrics: dict) -> str:
    """One line per split: ``train       loss 0.1889  accuracy 92.50%  (320 examples)``."""
    lines = []
    for split in ("train", "validation", "test"):
        if split in metrics:
            m = metrics[split]
            score = (
                f"accuracy {100 * m['accuracy']:6.2f}%"
                if "accuracy" in m
                else f"mse {m['mse']:.4g}"
            )
            lines.append(f"{split:<10}  loss {m['loss']:.4f}  {score}  ({m['examples']} examples)")
    return "\n".join(lines)


def describe(config: RunConfig, net, data: run_data.Data, run_dir) -> str:
    """``planar: 2-4-1 tanh/sigmoid (normal init), sgd lr 1.2, 10000 full-batch iterations ...``."""
    acts = "/".join(dict.fromkeys(net.activations))
    steps = (
        f"{config.epochs} full-batch iterations"
        if config.batch_size is None
        else f"{config.epochs} epochs of batch {config.batch_size}"
    )
    m = ", ".join(f"{k} {X.shape[0]}" for k, (X, _) in data.splits.items())
    return (
        f"{data.name} ({m}): {'-'.join(map(str, net.sizes))} {acts} ({config.init} init), "
        f"{config.optimizer} lr {config.learning_rate:g}, {steps}, seed {config.seed} -> {run_dir}"
    )


def describe_run(run_dir) -> str:
    """``jaxnet summary``: the parameter table, how the run was trained and its final metrics."""
    config, net, _, saved = load_run(run_dir)
    lines = [
        jn.format_summary(net),
        "",
        f"trained with: {saved.get('command') or command_line(config)}",
    ]
    metrics = run_files.read_metrics(run_dir)
    if metrics:
        lines += [f"after {metrics.get('epochs', '?')} epochs:", format_metrics(metrics)]
    return "\n".join(lines)


def gradcheck(*, layers=(5, 3), inputs=4, outputs=None, hidden="tanh", output="sigmoid",
              init="xavier", examples=8, seed=0):  # fmt: skip
    """``(net, jn.gradcheck report)`` for a random network on random data (``jaxnet gradcheck``)."""
    name = activations.get(output).name
    outputs = outputs or (3 if name == "softmax" else 1)
    net = jn.Network((inputs, *layers, outputs), hidden=hidden, output=output)
    k_init, k_x, k_y = jax.random.split(jax.random.key(seed), 3)
    params = jn.init(k_init, net, init)
    X = jax.random.normal(k_x, (examples, inputs))
    if net.task == "multiclass":
        Y = jax.random.randint(k_y, (examples,), 0, outputs)
    elif net.task in ("binary", "multilabel"):
        Y = jax.random.bernoulli(k_y, 0.5, (examples, outputs)).astype(X.dtype)
    else:
        Y = jax.random.normal(k_y, (examples, outputs))
    return net, jn.gradcheck(net, params, X, Y)
