"""Plots of the course: learning curves, cost curves, decision boundaries, activations, images,
and a CNN's filters and feature maps.

Every function builds a :class:`matplotlib.figure.Figure` directly (no pyplot, no
global backend change: safe in scripts, threads and notebooks, where Jupyter displays
the returned figure) and returns it. ``path=`` also saves it (PNG unless the suffix
says otherwise; parent folders are created; written whole or not at all, and never over a
file that jaxnet did not write unless ``overwrite=True``). Functions that draw a single panel take
``ax=`` to draw into an existing Axes instead, and then return ``ax.figure``.

>>> import jaxnet as jn
>>> from jaxnet import plotting
>>> fig = plotting.plot_costs([0.69, 0.5, 0.4, 0.35], every=1, learning_rate=0.0075)
>>> fig.axes[0].get_title(), fig.axes[0].get_xlabel()
('Learning rate = 0.0075', 'iterations')
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from jaxnet import activations as _activations
from jaxnet import api
from jaxnet.datasets.splitting import class_labels as _class_labels
from jaxnet.io import atomic
from jaxnet.validation import check_int

__all__ = [
    "decision_grid",
    "plot_activations",
    "plot_attention",
    "plot_costs",
    "plot_decision_boundary",
    "plot_feature_maps",
    "plot_filters",
    "plot_hidden_size_sweep",
    "plot_history",
    "plot_images",
]

MISTAKE_COLOR = "red"


def _new_axes(ax, figsize):
    """``(fig, ax)``: the given Axes and its figure, or a new one-panel Figure."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots()


def _finish(fig: Figure, path, dpi: int, overwrite: bool = False) -> Figure:
    """Save ``fig`` to ``path`` (if given) atomically and return it: parent folders are
    created, the format follows the suffix (none: ``.png`` is appended, as matplotlib does),
    and an existing file that jaxnet did not write is refused unless ``overwrite``."""
    if path is not None:
        if isinstance(path, str | os.PathLike) and not os.path.splitext(path)[1]:
            path = f"{os.fspath(path)}.png"
        hint = "pass overwrite=True to replace it, or choose another path"
        path = atomic.check_target(path, "path", overwrite=overwrite, hint=hint)
        with atomic.atomic_path(path, overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=dpi, format=path.suffix[1:].lower())
    return fig


def _as_series(values, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D float array (``(k, 1)`` is squeezed, as the course's np.squeeze)."""
    a = np.asarray(values, dtype=float)
    if a.ndim == 2 and 1 in a.shape:
        a = a.reshape(-1)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers, got shape {a.shape}")
    return a


def _format_rate(rate) -> str:
    return f"{rate:g}" if isinstance(rate, numbers.Real) else str(rate)


def plot_history(history, path=None, *, dpi: int = 100, overwrite: bool = False) -> Figure:
    """Learning curves from :func:`jaxnet.fit`: loss and accuracy (or mse), train vs validation.

    Args:
      history: the dict of lists returned by ``jn.fit`` (``loss``, ``accuracy`` or ``mse``,
        optionally ``val_loss``/``val_accuracy``/``val_mse`` and ``epoch``), or a Keras
        ``History`` (its ``.history`` is used).
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure: one panel for the loss, one for the metric (when the history has one);
      each with the training line first and the validation line second.

    Example:
      >>> import jaxnet as jn
      >>> history = {"loss": [0.7, 0.5, 0.4], "accuracy": [0.5, 0.7, 0.8],
      ...            "val_loss": [0.72, 0.6, 0.55], "val_accuracy": [0.5, 0.6, 0.7]}
      >>> fig = jn.plotting.plot_history(history)
      >>> [ax.get_title() for ax in fig.axes], [len(ax.lines) for ax in fig.axes]
      (['Model loss', 'Model accuracy'], [2, 2])
    """
    history = getattr(history, "history", history)
    if not isinstance(history, Mapping) or "loss" not in history:
        keys = sorted(history) if isinstance(history, Mapping) else type(history).__name__
        raise ValueError(f"history must be the dict returned by jn.fit, with 'loss'; got {keys}")
    metric = next((k for k in ("accuracy", "mse") if k in history), None)
    panels = ["loss"] if metric is None else ["loss", metric]
    fig = Figure(figsize=(5.5 * len(panels), 4), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, key in zip(axes, panels):
        train = _as_series(history[key], f"history[{key!r}]")
        epochs = np.asarray(history.get("epoch", ()), dtype=float)
        if epochs.shape != train.shape:
            epochs = np.arange(1, train.size + 1, dtype=float)
        marker = "o" if epochs.size <= 20 else None  # a single epoch still shows
        ax.plot(epochs, train, label="train", marker=marker)
        if f"val_{key}" in history:
            val = _as_series(history[f"val_{key}"], f"history['val_{key}']")
            ax.plot(epochs[: val.size], val[: epochs.size], label="validation", marker=marker)
        ax.set_title(f"Model {key}")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(key)
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, path, dpi, overwrite)


def plot_costs(
    costs,
    *,
    learning_rate=None,
    every: int = 100,
    path=None,
    ax=None,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """The course's cost plot: the cost every ``every`` iterations, for one run or several.

    Args:
      costs: per-iteration costs ``(T,)`` (e.g. ``history["loss"]`` of a full-batch fit), or a
        dict ``{label: costs}`` of several runs (the course's learning-rate comparison: one
        line per run, labelled, with a legend).
      learning_rate: shown in the title, ``"Learning rate = ..."`` (optional).
      every: plot ``costs[::every]`` (iterations 0, every, 2 every, ...), as the course
        records its costs every 100 iterations.
      path: save the figure there (optional).
      ax: draw into this Axes instead of a new figure.
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure; x is the sample index, labelled ``"iterations (per hundreds)"`` for ``every=100``.

    Example:
      The course's learning-rate comparison, saved as a PNG:

      >>> import pathlib, tempfile
      >>> import jaxnet as jn
      >>> runs = {0.01: [0.7, 0.6, 0.5], 0.1: [0.7, 0.4, 0.3]}
      >>> with tempfile.TemporaryDirectory() as d:
      ...     fig = jn.plotting.plot_costs(runs, every=1, path=pathlib.Path(d) / "costs.png")
      ...     print((pathlib.Path(d) / "costs.png").stat().st_size > 0)
      True
      >>> [line.get_label() for line in fig.axes[0].lines], fig.axes[0].get_xlabel()
      (['0.01', '0.1'], 'iterations')
    """
    every = check_int(every, "every", 1)
    runs = dict(costs) if isinstance(costs, Mapping) else {None: costs}
    if not runs:
        raise ValueError("costs is an empty dict; expected {label: costs}")
    fig, ax = _new_axes(ax, (6, 4))
    for label, run in runs.items():
        name = "costs" if label is None else f"costs[{label!r}]"
        sampled = _as_series(run, name)[::every]
        label = None if label is None else _format_rate(label)
        ax.plot(np.arange(sampled.size), sampled, label=label)
    ax.set_ylabel("cost")
    per = {1: "", 100: " (per hundreds)"}.get(int(every), f" (per {int(every)})")
    ax.set_xlabel(f"iterations{per}")
    if learning_rate is not None:
        ax.set_title(f"Learning rate = {_format_rate(learning_rate)}")
    if isinstance(costs, Mapping):
        ax.legend(loc="upper right", shadow=True)
    return _finish(fig, path, dpi, overwrite)


def _check_planar(X) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] < 1:
        raise ValueError(
            f"decision boundaries need 2-D inputs: X must have shape (m, 2), got {X.shape}"
        )
    return X.astype(float)


def decision_grid(net, params, X, *, resolution: int = 200, margin=None):
    """The mesh covering ``X`` and the network's predicted class at every node.

    Args:
      net: a classifier :class:`~jaxnet.Network` with 2 inputs (binary or multiclass).
      params: its params.
      X: inputs ``(m, 2)``; the mesh spans them plus ``margin`` on every side.
      resolution: nodes per axis.
      margin: padding around X (default: 10% of each axis's span).

    Returns:
      ``(xx, yy, Z)``, each ``(resolution, resolution)``: ``Z[i, j]`` is
      ``jn.predict(net, params, [[xx[i, j], yy[i, j]]])``.

    Example:
      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float32)
      >>> xx, yy, Z = jn.plotting.decision_grid(net, params, X, resolution=5)
      >>> xx.shape, Z.shape, round(float(xx.min()), 4), round(float(xx.max()), 4)
      ((5, 5), (5, 5), -0.1, 1.1)
      >>> set(np.unique(Z).tolist()) <= {0, 1}
      True
    """
    X = _check_planar(X)
    if net.input_shape != (2,):
        raise ValueError(
            f"the network must take 2 inputs to draw a plane, got input_shape {net.input_shape}"
        )
    if net.task not in ("binary", "multiclass"):
        raise ValueError(f"decision boundaries need a classifier, got a {net.task} network")
    resolution = check_int(resolution, "resolution", 2)
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = np.where(hi > lo, 0.1 * (hi - lo), 0.5) if margin is None else np.full(2, float(margin))
    xx, yy = np.meshgrid(
        np.linspace(lo[0] - pad[0], hi[0] + pad[0], resolution),
        np.linspace(lo[1] - pad[1], hi[1] + pad[1], resolution),
    )
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
    Z = np.asarray(api.predict(net, params, grid)).reshape(xx.shape)
    return xx, yy, Z


def plot_decision_boundary(
    net,
    params,
    X,
    Y,
    *,
    resolution: int = 200,
    margin=None,
    path=None,
    ax=None,
    title=None,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """The course's planar plot: predicted class regions over the plane, and the labelled points.

    Args:
      net: a classifier :class:`~jaxnet.Network` with 2 inputs (binary or multiclass).
      params: its params.
      X: inputs ``(m, 2)``.
      Y: labels ``(m,)``, ``(m, 1)`` or one-hot ``(m, K)``.
      resolution: mesh nodes per axis (see :func:`decision_grid`).
      margin: padding around X (default: 10% of each axis's span).
      path: save the figure there (optional).
      ax: draw into this Axes instead of a new figure.
      title: the Axes title (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure. Its Axes holds the filled contour set of the predicted class (levels
      at the half-integers) and a scatter of X colored by Y, both in the Spectral colormap.

    Example:
      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], np.float32)
      >>> fig = jn.plotting.plot_decision_boundary(net, params, X, np.array([0, 1, 1]),
      ...                                          resolution=5, title="tanh, 3 units")
      >>> fig.axes[0].get_title(), len(fig.axes[0].collections)  # the regions, the points
      ('tanh, 3 units', 2)
    """
    X = _check_planar(X)
    Y = _class_labels(Y, X.shape[0])
    xx, yy, Z = decision_grid(net, params, X, resolution=resolution, margin=margin)
    k = max(2, net.output_shape[0], int(Y.max()) + 1)
    levels = np.arange(k + 1) - 0.5
    style = {"cmap": matplotlib.colormaps["Spectral"], "vmin": -0.5, "vmax": k - 0.5}
    fig, ax = _new_axes(ax, (6, 5))
    ax.contourf(xx, yy, Z, levels=levels, alpha=0.75, **style)
    ax.scatter(X[:, 0], X[:, 1], c=Y, s=20, edgecolors="k", linewidths=0.4, **style)
    ax.set_xlim(xx[0, 0], xx[0, -1])
    ax.set_ylim(yy[0, 0], yy[-1, 0])
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title is not None:
        ax.set_title(title)
    return _finish(fig, path, dpi, overwrite)


def plot_activations(
    names=("sigmoid", "tanh", "relu", "leaky_relu"),
    *,
    z_range=(-5.0, 5.0),
    num: int = 401,
    path=None,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """Each activation g(z) and its hand-derived derivative g'(z), one panel per activation.

    Args:
      names: activation names (or ``jn.activations.Activation`` values); elementwise only,
        so not softmax.
      z_range: ``(low, high)`` of z.
      num: number of z values.
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure; panel i has two lines, ``g(z)`` then ``g'(z)``, titled with the activation's name.

    Example:
      >>> import jaxnet as jn
      >>> fig = jn.plotting.plot_activations(("sigmoid", "relu"), num=11)
      >>> [ax.get_title() for ax in fig.axes], [len(ax.lines) for ax in fig.axes]
      (['sigmoid', 'relu'], [2, 2])
    """
    if isinstance(names, str | _activations.Activation):
        names = (names,)
    acts = [_activations.get(n) for n in names]
    if not acts:
        raise ValueError("names is empty; expected at least one activation name")
    for act in acts:
        if act.name == "softmax":
            raise ValueError(
                "softmax is not elementwise (its derivative is a Jacobian); "
                f"plot_activations takes elementwise activations, got {list(names)!r}"
            )
    lo, hi = (float(v) for v in z_range)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"z_range must be (low, high) with finite low < high, got {z_range!r}")
    z = np.linspace(lo, hi, num, dtype=np.float32)
    fig = Figure(figsize=(3.6 * len(acts), 3.4), layout="constrained")
    for ax, act in zip(fig.subplots(1, len(acts), squeeze=False)[0], acts):
        ax.plot(z, np.asarray(act.fn(z)), label="g(z)")
        ax.plot(z, np.asarray(act.derivative(z)), "--", label="g'(z)")
        ax.set_title(act.name)
        ax.set_xlabel("z")
        ax.grid(True, alpha=0.3)
        ax.legend()
    return _finish(fig, path, dpi, overwrite)


def _as_images(images, image_shape=None) -> np.ndarray:
    """``(m, h, w)`` grayscale or ``(m, h, w, c)`` color images from the accepted layouts."""
    a = np.asarray(images)
    shape = a.shape
    if image_shape is not None:
        try:
            return a.reshape(shape[0], *image_shape)
        except (ValueError, IndexError):
            raise ValueError(
                f"images of shape {shape} cannot be reshaped to (m, *{tuple(image_shape)})"
            ) from None
    if a.ndim == 2:
        n = shape[1]
        side, rgb_side = math.isqrt(n), math.isqrt(n // 3)
        if side * side == n:
            return a.reshape(shape[0], side, side)
        if n % 3 == 0 and 3 * rgb_side * rgb_side == n:
            return a.reshape(shape[0], rgb_side, rgb_side, 3)
        raise ValueError(
            f"cannot infer the image size of flattened images of shape {shape}: {n} is neither "
            "h*w (square grayscale) nor h*w*3 (square RGB); pass image_shape=(h, w) or (h, w, c)"
        )
    if a.ndim == 3:
        return a
    if a.ndim == 4:
        if shape[-1] not in (1, 3, 4) and shape[1] in (1, 3, 4):
            a = a.transpose(0, 2, 3, 1)  # channels first
        if a.shape[-1] == 1:
            return a[..., 0]
        if a.shape[-1] in (3, 4):
            return a
    raise ValueError(
        f"images must be (m, h, w), (m, h, w, c) with c in (1, 3, 4), or flattened (m, h*w) / "
        f"(m, h*w*3); got shape {shape}"
    )


def _displayable(images: np.ndarray) -> np.ndarray:
    """Color images as floats in [0, 1] (uint8-style 0..255 is divided, other ranges rescaled)."""
    a = images.astype(float)
    if images.ndim == 3:
        return a  # grayscale: imshow's vmin/vmax handle any range
    lo, hi = a.min(), a.max()
    if lo >= 0 and hi <= 1:
        return a
    if lo >= 0 and hi <= 255:
        return a / 255.0
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _name(k, class_names) -> str:
    if class_names is None:
        return str(k)
    name = class_names[k]
    return name.decode() if isinstance(name, bytes) else str(name)


def plot_images(
    images,
    labels=None,
    predictions=None,
    *,
    class_names=None,
    ncols: int = 8,
    max_images: int = 32,
    image_shape=None,
    path=None,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """A grid of images titled with their label, or ``"pred / true"`` with mistakes in red.

    Args:
      images: ``(m, h, w)``, ``(m, h, w, c)`` (also channels-first ``(m, c, h, w)``), or
        flattened ``(m, h*w)`` square grayscale / ``(m, h*w*3)`` square RGB (the course's
        flattened cat images).
      labels: true classes ``(m,)``, ``(m, 1)`` or one-hot ``(m, K)`` (optional).
      predictions: predicted classes, same forms (optional), e.g. ``jn.predict(...)``.
      class_names: a sequence or dict mapping a class to its name (bytes are decoded).
      ncols: images per row.
      max_images: draw at most the first this many images.
      image_shape: ``(h, w)`` or ``(h, w, c)`` to reshape flattened images that are not square.
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure, one Axes per drawn image (``min(m, max_images)``); a mistake
      (prediction != label) has a red title and a red frame.

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> images = np.zeros((3, 4, 4), np.uint8)
      >>> fig = jn.plotting.plot_images(images, labels=[0, 1, 1], predictions=[0, 0, 1],
      ...                               class_names=["non-cat", "cat"])
      >>> [(ax.get_title(), ax.title.get_color()) for ax in fig.axes]
      [('non-cat / non-cat', 'black'), ('non-cat / cat', 'red'), ('cat / cat', 'black')]
    """
    ncols, max_images = check_int(ncols, "ncols", 1), check_int(max_images, "max_images", 1)
    images = _as_images(images, image_shape)
    m = images.shape[0]
    if m == 0:
        raise ValueError(f"images is empty (shape {images.shape})")
    labels = None if labels is None else _class_labels(labels, m, "labels")
    predictions = None if predictions is None else _class_labels(predictions, m, "predictions")
    n = min(m, int(max_images))
    cols = min(int(ncols), n)
    rows = math.ceil(n / cols)
    shown = _displayable(images[:n])
    gray = {"cmap": "gray", "vmin": shown.min(), "vmax": shown.max()} if shown.ndim == 3 else {}
    fig = Figure(figsize=(1.6 * cols, 1.75 * rows), layout="constrained")
    for i, ax in enumerate(_panels(fig, n, cols)):
        ax.imshow(shown[i], interpolation="nearest", **gray)
        ax.set_xticks([])
        ax.set_yticks([])
        mistake = predictions is not None and labels is not None and predictions[i] != labels[i]
        if predictions is not None and labels is not None:
            title = f"{_name(predictions[i], class_names)} / {_name(labels[i], class_names)}"
        elif predictions is not None or labels is not None:
            title = _name((predictions if labels is None else labels)[i], class_names)
        else:
            title = None
        if title is not None:
            ax.set_title(title, fontsize=9, color=MISTAKE_COLOR if mistake else "black")
        for spine in ax.spines.values():
            spine.set_visible(mistake)
            if mistake:
                spine.set_color(MISTAKE_COLOR)
                spine.set_linewidth(2.5)
    return _finish(fig, path, dpi, overwrite)


def plot_hidden_size_sweep(
    hidden_sizes: Sequence[int],
    accuracies,
    *,
    val_accuracies=None,
    path=None,
    ax=None,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """Accuracy against the number of hidden units: the course's hidden-layer-size experiment.

    Args:
      hidden_sizes: the hidden layer sizes ``(k,)`` (e.g. one per model of a ``fit_ensemble`` run).
      accuracies: the accuracy of each model ``(k,)``.
      val_accuracies: validation accuracies ``(k,)`` (optional; a second line and a legend).
      path: save the figure there (optional).
      ax: draw into this Axes instead of a new figure.
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure; lines are drawn in increasing hidden size, with a log x-axis when the
      sizes span a factor of 10 or more.

    Example:
      >>> import jaxnet as jn
      >>> fig = jn.plotting.plot_hidden_size_sweep([1, 2, 4], [0.6, 0.8, 0.9],
      ...                                          val_accuracies=[0.6, 0.7, 0.85])
      >>> [line.get_label() for line in fig.axes[0].lines], fig.axes[0].get_xscale()
      (['train', 'validation'], 'linear')
    """
    sizes = _as_series(hidden_sizes, "hidden_sizes")
    if not np.all(sizes > 0):
        raise ValueError(f"hidden_sizes must be positive, got {sizes.tolist()}")
    order = np.argsort(sizes, kind="stable")
    series = {"train" if val_accuracies is not None else "accuracy": accuracies}
    if val_accuracies is not None:
        series["validation"] = val_accuracies
    fig, ax = _new_axes(ax, (6, 4))
    for label, values in series.items():
        values = _as_series(values, "accuracies" if label != "validation" else "val_accuracies")
        if values.shape != sizes.shape:
            raise ValueError(
                f"need one accuracy per hidden size ({sizes.size}), got {values.size} for {label}"
            )
        ax.plot(sizes[order], values[order], "o-", label=label)
    if sizes.max() / sizes.min() >= 10:
        ax.set_xscale("log")
    unique = np.unique(sizes)
    if unique.size <= 12:
        ax.set_xticks(unique, [f"{s:g}" for s in unique])
        ax.minorticks_off()
    ax.set_xlabel("number of hidden units")
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy vs hidden layer size")
    ax.grid(True, alpha=0.3)
    if val_accuracies is not None:
        ax.legend()
    return _finish(fig, path, dpi, overwrite)


def _panels(fig: Figure, n: int, cols: int) -> list:
    """``n`` Axes filling a grid of ``cols`` columns row by row: only the panels drawn are
    made (each Axes costs milliseconds)."""
    grid = fig.add_gridspec(math.ceil(n / cols), cols)
    return [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]


def _blank(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def plot_filters(
    W,
    path=None,
    *,
    channel=None,
    ncols: int = 8,
    max_filters: int = 64,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """A conv layer's filters, one panel each: what the first layer of a CNN looks for.

    Args:
      W: the kernels ``(f, f, n_C_prev, n_C)`` (a :class:`~jaxnet.layers.Conv2D`'s ``W``).
      channel: the input channel to draw in grey; None draws RGB filters (``n_C_prev == 3``)
        in color and otherwise channel 0.
      ncols: panels per row.
      max_filters: draw at most the first this many filters.
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure, one Axes per drawn filter (``min(n_C, max_filters)``), titled with its index;
      each filter is min-max scaled on its own (color filters to [0, 1]).

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> W = np.random.default_rng(0).normal(size=(3, 3, 1, 4))  # 4 filters 3x3, 1 channel
      >>> fig = jn.plotting.plot_filters(W, ncols=2)
      >>> [ax.get_title() for ax in fig.axes]
      ['0', '1', '2', '3']
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 4 or W.shape[0] < 1 or W.shape[-1] < 1:
        raise ValueError(f"W must be conv kernels of shape (f, f, n_C_prev, n_C), got {W.shape}")
    ncols, max_filters = check_int(ncols, "ncols", 1), check_int(max_filters, "max_filters", 1)
    n_C_prev = W.shape[2]
    color = channel is None and n_C_prev == 3
    if not color:
        channel = 0 if channel is None else channel
        channel = check_int(channel, "channel", 0, n_C_prev - 1)
    n = min(W.shape[-1], max_filters)
    cols = min(ncols, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(1.2 * cols, 1.35 * rows), layout="constrained")
    for k, ax in enumerate(_panels(fig, n, cols)):
        w = W[..., k] if color else W[:, :, channel, k]
        if color:
            lo, hi = w.min(), w.max()
            ax.imshow(
                (w - lo) / (hi - lo) if hi > lo else np.zeros_like(w), interpolation="nearest"
            )
        else:
            ax.imshow(w, cmap="gray", interpolation="nearest")
        ax.set_title(str(k), fontsize=8)
        _blank(ax)
    return _finish(fig, path, dpi, overwrite)


def plot_feature_maps(
    net,
    params,
    image,
    path=None,
    *,
    layers=None,
    max_maps: int = 8,
    dpi: int = 100,
    overwrite: bool = False,
) -> Figure:
    """One image and what layers of a CNN make of it: the first channels of their outputs.

    Args:
      net: a :class:`~jaxnet.Network` on images (``input_shape`` ``(n_H, n_W, n_C)``).
      params: its params.
      image: one example ``(n_H, n_W, n_C)`` (or ``(1, n_H, n_W, n_C)``) as the network takes it.
      layers: indices into ``net.layers`` whose outputs are images ``(n_H, n_W, n_C)``
        (default: every :class:`~jaxnet.layers.Conv2D` and every
        :class:`~jaxnet.layers.Residual` block on images).
      max_maps: draw at most this many channels per layer.
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure: the image in the first row, then one row per layer (inference mode:
      no dropout, batch norm's moving statistics), each map titled with its channel.

    Example:
      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> layers = [jn.layers.Conv2D(2, 3, activation="relu"), jn.layers.Flatten(),
      ...           jn.layers.Dense(1, "sigmoid")]
      >>> cnn = jn.Sequential(layers, (6, 6, 1))
      >>> params = jn.init(jax.random.key(0), cnn)
      >>> fig = jn.plotting.plot_feature_maps(cnn, params, np.ones((6, 6, 1), np.float32))
      >>> [ax.get_title() for ax in fig.axes]
      ['input', 'ch 0', 'ch 1']
    """
    from jaxnet.validation import as_inputs, check_network, check_params

    check_network(net)
    max_maps = check_int(max_maps, "max_maps", 1)
    if len(net.input_shape) != 3:
        raise ValueError(
            f"the network must take images (n_H, n_W, n_C), got input_shape {net.input_shape}"
        )
    image = np.asarray(image)
    if image.shape == (1, *net.input_shape):
        image = image[0]
    if image.shape != net.input_shape:
        raise ValueError(
            f"image must have the network's input shape {net.input_shape}, got {image.shape}"
        )
    if layers is None:
        layers = [
            l
            for l, layer in enumerate(net.layers)
            if getattr(layer, "kind", "") in ("conv2d", "residual")
            and len(net.output_shapes[l]) == 3
        ]
    layers = sorted({int(l) for l in layers})
    if not layers or not all(0 <= l < net.L and len(net.output_shapes[l]) == 3 for l in layers):
        raise ValueError(
            f"layers must name layers of net (0..{net.L - 1}) whose outputs are images; got {layers}"
        )
    A = as_inputs(net, image[None], check_params(net, params))
    maps = {}
    for l, (layer, p) in enumerate(zip(net.layers[: layers[-1] + 1], params)):
        A, _ = layer.forward(p, A, train=False)
        if l in layers:
            maps[l] = np.asarray(A[0], dtype=float)
    cols = min(max_maps, max(m.shape[-1] for m in maps.values()))
    fig = Figure(figsize=(1.3 * cols + 0.6, 1.45 * (len(layers) + 1)), layout="constrained")
    grid = fig.add_gridspec(len(layers) + 1, cols)
    ax = fig.add_subplot(grid[0, 0])
    shown = _displayable(_as_images(image[None]))[0]
    ax.imshow(shown, cmap="gray" if shown.ndim == 2 else None, interpolation="nearest")
    ax.set_title("input", fontsize=8)
    _blank(ax)
    for row, (l, fmap) in enumerate(maps.items(), start=1):
        n_H, n_W, n_C = fmap.shape
        for c in range(min(n_C, cols)):
            ax = fig.add_subplot(grid[row, c])
            ax.imshow(fmap[:, :, c], cmap="viridis", interpolation="nearest")
            ax.set_title(f"ch {c}", fontsize=8)
            _blank(ax)
            if c == 0:
                ax.set_ylabel(f"layer {l + 1} {net.layers[l].kind}\n{n_H}x{n_W}x{n_C}", fontsize=8)
    return _finish(fig, path, dpi, overwrite)


def plot_attention(
    alphas, sources, targets, path=None, *, dpi: int = 100, overwrite: bool = False
) -> Figure:
    """Attention maps (course 5, week 3): for each example, the weight of every input character
    (columns) in every output character (rows).

    Args:
      alphas: ``(k, T_y, T_x)`` attention weights, e.g.
        :func:`jaxnet.layers.attention_weights`'s, or ``(T_y, T_x)`` for one example.
      sources: ``k`` input strings; character ``j`` labels column ``j`` (columns past the
        string's end are its padding).
      targets: ``k`` output strings of ``T_y`` characters, labelling the rows.
      path: save the figure there (optional).
      dpi: resolution of the saved image.
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    Returns:
      The Figure: one heat map per example (0 white, 1 dark), titled ``source -> target``.

    Example:
      >>> import numpy as np
      >>> from jaxnet import plotting
      >>> alphas = np.full((1, 3, 4), 0.25)
      >>> fig = plotting.plot_attention(alphas, ["ab c"], ["xyz"])
      >>> fig.axes[0].get_title(), len(fig.axes[0].get_yticklabels())
      ('ab c -> xyz', 3)
    """
    alphas = np.asarray(alphas, dtype=float)
    if alphas.ndim == 2:
        alphas = alphas[None]
    if alphas.ndim != 3:
        raise ValueError(
            f"alphas must be (k, T_y, T_x) attention weights, got shape {alphas.shape}"
        )
    k, T_y, T_x = alphas.shape
    for name, texts in (("sources", sources), ("targets", targets)):
        if isinstance(texts, str) or len(texts) != k or not all(isinstance(s, str) for s in texts):
            raise ValueError(
                f"{name} must be {k} strings, one per map of alphas, got {texts!r:.80}"
            )
    fig = Figure(figsize=(0.28 * T_x + 1.5, (0.3 * T_y + 0.8) * k), layout="constrained")
    axes = np.atleast_1d(fig.subplots(k, 1))
    for ax, weights, source, target in zip(axes, alphas, sources, targets):
        ax.imshow(weights, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(T_x), [*source[:T_x], *[""] * (T_x - len(source[:T_x]))])
        ax.set_yticks(range(T_y), [*target[:T_y], *[""] * (T_y - len(target[:T_y]))])
        ax.tick_params(length=0)
        ax.set_title(f"{source} -> {target}")
    return _finish(fig, path, dpi, overwrite)
