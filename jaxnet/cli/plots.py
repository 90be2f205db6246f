"""The figures of a run: learning curves, for classifiers the decision boundary (2-D data)
or a grid of predicted images, and for convolutional networks the first conv layer's
filters and one image's feature maps."""

from __future__ import annotations

import math
import sys
import threading
from pathlib import Path

import numpy as np

import jaxnet as jn
from jaxnet.io import atomic

# Grid points x the widest layer: bounds the decision boundary's forward pass (128 MiB of
# float32 per layer's activations), so a very wide network gets a coarser grid, never an OOM.
GRID_BUDGET = 2**25
MAX_RESOLUTION = 200


_preloading: threading.Thread | None = None


def preload() -> None:
    """Import matplotlib (its Agg backend, its font list) in a background thread while the
    run trains: XLA compiles and runs programs without the GIL, so on a second core most of
    the import's 0.3-0.4 s overlaps the training instead of following it. No-op when
    :mod:`jaxnet.plotting` is imported already."""
    global _preloading
    if "jaxnet.plotting" in sys.modules or _preloading is not None:
        return
    _preloading = threading.Thread(target=_import_plotting, name="jaxnet-preload", daemon=True)
    _preloading.start()


def _import_plotting() -> None:
    try:
        import matplotlib.backends.backend_agg  # noqa: F401  (savefig's PNG writer)

        import jaxnet.plotting  # noqa: F401
    except Exception:  # noqa: BLE001  write_plots imports it again and reports the error
        pass


def grid_resolution(net: jn.Network) -> int:
    """Points per side of the decision boundary's grid for ``net`` (2..200)."""
    widest = max(math.prod(shape) for shape in (net.input_shape, *net.output_shapes))
    return max(2, min(MAX_RESOLUTION, math.isqrt(GRID_BUDGET // widest)))


def write_plots(run_dir, config, net, params, data, history, metrics) -> list[Path]:
    """Write the run's figures as PNGs; return their paths."""
    if _preloading is not None:
        _preloading.join()
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
    split = data.held_out or "train"
    if classifier and data.image_shape is not None:
        X, y = (a[:32] for a in data.splits[split])
        predicted = np.asarray(jn.predict(net, params, X))
        shape = data.image_shape[:2] if data.image_shape[2] == 1 else data.image_shape
        fig = plotting.plot_images(X, y, predicted, class_names=data.class_names, image_shape=shape)
        fig.suptitle(f"{split} images: predicted / true (mistakes in red)")
        figures["predictions"] = fig
    conv = [l for l, layer in enumerate(net.layers) if isinstance(layer, jn.layers.Conv2D)]
    if conv:
        W = np.asarray(params[conv[0]]["W"])
        figures["filters"] = plotting.plot_filters(W)
        figures["filters"].suptitle(
            f"layer {conv[0] + 1} ({W.shape[-1]} filters {W.shape[0]}x{W.shape[1]})"
        )
        image = data.splits[split][0][0]
        figures["feature_maps"] = plotting.plot_feature_maps(net, params, image)
        figures["feature_maps"].suptitle(f"the first {split} image through the conv layers")
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
