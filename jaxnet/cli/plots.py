"""The figures of a run: learning curves, and for classifiers the decision boundary (2-D data)
or a grid of predicted images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

import jaxnet as jn
from jaxnet.io import atomic

# Grid points x the widest layer: bounds the decision boundary's forward pass (128 MiB of
# float32 per layer's activations), so a very wide network gets a coarser grid, never an OOM.
GRID_BUDGET = 2**25
MAX_RESOLUTION = 200


def grid_resolution(net: jn.Network) -> int:
    """Points per side of the decision boundary's grid for ``net`` (2..200)."""
    return max(2, min(MAX_RESOLUTION, math.isqrt(GRID_BUDGET // max(net.sizes))))


def write_plots(run_dir, config, net, params, data, history, metrics) -> list[Path]:
    """Write the run's figures as PNGs; return their paths."""
    from jaxnet import plotting

    figures = {}
    if history["epoch"]:  # a run that diverged at its first step has no curve to draw
        figures["learning_curves"] = _curves(plotting, config, data, history)
    classifier = net.task in ("binary", "multiclass")
    if classifier and data.num_features == 2:
        X, y = data.splits["train"]
        title = f"{data.name}: training set, {100 * metrics['train']['accuracy']:.1f}% accuracy"
        figures["decision_boundary"] = plotting.plot_decision_boundary(
            net, params, X, y, title=title, resolution=grid_resolution(net)
        )
    if classifier and data.image_shape is not None:
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
        paths.append(Path(run_dir) / f"{name}.png")
        with atomic.atomic_path(paths[-1]) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    return paths


def _curves(plotting, config, data, history):
    if config.batch_size is not None:
        return plotting.plot_history(history)
    costs = {"train": history["loss"]}  # full batch: the course's cost per iteration
    if "val_loss" in history:
        costs[data.held_out] = history["val_loss"]
    every = 100 if len(history["loss"]) >= 1000 else 1
    return plotting.plot_costs(costs, learning_rate=config.learning_rate, every=every)
