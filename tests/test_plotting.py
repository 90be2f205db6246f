"""Plots: each renders a valid PNG, is labelled like the course's, and draws exactly the given data."""

import jax
import jax.numpy as jnp
import matplotlib.colors
import matplotlib.image
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import plotting

try:
    from jaxnet.datasets import planar_flower
except ImportError:  # datasets not available: two Gaussian blobs instead
    planar_flower = None


def assert_png(path):
    """``path`` is a PNG that decodes to a non-empty image."""
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 0 and image.shape[1] > 0
    return image


@pytest.fixture(scope="module")
def planar_model():
    """A 2-4-1 tanh/sigmoid network trained full-batch on the course's flower (or two blobs)."""
    key_data, key_init = jax.random.split(jax.random.key(0))
    if planar_flower is not None:
        X, y = planar_flower(key_data, m=200)
    else:
        centers = jnp.repeat(jnp.array([[-1.5, 0.0], [1.5, 0.0]]), 100, axis=0)
        X = centers + jax.random.normal(key_data, (200, 2))
        y = jnp.repeat(jnp.arange(2), 100)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = jn.init(key_init, net, scheme="normal")
    params, history = jn.fit(
        net,
        params,
        X[::2],
        y[::2],
        learning_rate=1.2,
        epochs=300,
        verbose=0,
        validation_data=(X[1::2], y[1::2]),
    )
    assert history["val_accuracy"][-1] > 0.6
    return net, params, np.asarray(X), np.asarray(y), history


# -- plot_history ------------------------------------------------------------------------


def test_plot_history_draws_train_and_validation(tmp_path, planar_model):
    history = planar_model[-1]
    fig = plotting.plot_history(history, tmp_path / "sub" / "history.png")
    assert_png(tmp_path / "sub" / "history.png")
    loss_ax, acc_ax = fig.axes
    assert (loss_ax.get_ylabel(), acc_ax.get_ylabel()) == ("loss", "accuracy")
    assert loss_ax.get_xlabel() == acc_ax.get_xlabel() == "epoch"
    for ax, key in ((loss_ax, "loss"), (acc_ax, "accuracy")):
        train, val = ax.lines
        np.testing.assert_array_equal(train.get_xdata(), history["epoch"])
        np.testing.assert_array_equal(train.get_ydata(), history[key])
        np.testing.assert_array_equal(val.get_ydata(), history[f"val_{key}"])
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "validation"]


def test_plot_history_regression_uses_mse():
    history = {"epoch": [1, 2, 3], "loss": [3.0, 2.0, 1.5], "mse": [3.0, 2.0, 1.5]}
    fig = plotting.plot_history(history)
    assert fig.axes[1].get_ylabel() == "mse"
    assert len(fig.axes[1].lines) == 1


def test_plot_history_rejects_a_non_history():
    with pytest.raises(ValueError, match="loss"):
        plotting.plot_history({"accuracy": [0.5]})


# -- plot_costs ----------------------------------------------------------------------------


def test_plot_costs_samples_every_hundred_iterations(tmp_path):
    costs = list(np.linspace(0.7, 0.1, 1000))
    fig = plotting.plot_costs(costs, learning_rate=0.0075, path=tmp_path / "costs.png")
    assert_png(tmp_path / "costs.png")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "iterations (per hundreds)"
    assert ax.get_ylabel() == "cost"
    assert ax.get_title() == "Learning rate = 0.0075"
    (line,) = ax.lines
    np.testing.assert_array_equal(line.get_xdata(), np.arange(10))
    np.testing.assert_allclose(line.get_ydata(), costs[::100])


def test_plot_costs_compares_learning_rates():
    runs = {0.01: np.linspace(1, 0.5, 300), 0.001: np.linspace(1, 0.8, 300), 0.0001: [1.0] * 300}
    fig = plotting.plot_costs(runs, every=50)
    (ax,) = fig.axes
    assert len(ax.lines) == len(runs)
    assert ax.get_xlabel() == "iterations (per 50)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0.01", "0.001", "0.0001"]
    for line, costs in zip(ax.lines, runs.values(), strict=True):
        np.testing.assert_allclose(line.get_ydata(), np.asarray(costs)[::50])


def test_plot_costs_draws_into_a_given_axes():
    from matplotlib.figure import Figure

    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    assert plotting.plot_costs([1.0, 0.5], every=1, ax=ax2) is fig
    assert len(ax2.lines) == 1 and not ax1.lines


@pytest.mark.parametrize("every, error", [(0, ValueError), (1.5, TypeError), (True, TypeError)])
def test_plot_costs_rejects_bad_every(every, error):
    with pytest.raises(error, match="every"):
        plotting.plot_costs([1.0, 0.5], every=every)


# -- plot_decision_boundary ----------------------------------------------------------------


def test_decision_boundary_plots_the_network_predictions(tmp_path, planar_model):
    net, params, X, y, _ = planar_model
    path = tmp_path / "boundary.png"
    fig = plotting.plot_decision_boundary(
        net, params, X, y[:, None], resolution=60, path=path, title="Hidden layer of size 4"
    )
    assert_png(path)
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == (
        "x1",
        "x2",
        "Hidden layer of size 4",
    )
    contour, points = ax.collections
    np.testing.assert_allclose(contour.levels, [-0.5, 0.5, 1.5])
    assert contour.get_cmap().name == "Spectral"
    np.testing.assert_allclose(points.get_offsets(), X)
    np.testing.assert_array_equal(points.get_array(), y)

    # the grid holds jn.predict at its nodes, and the filled regions are those predictions
    xx, yy, Z = plotting.decision_grid(net, params, X, resolution=60)
    assert xx.shape == yy.shape == Z.shape == (60, 60)
    assert xx.min() < X[:, 0].min() and xx.max() > X[:, 0].max()
    assert yy.min() < X[:, 1].min() and yy.max() > X[:, 1].max()
    assert set(np.unique(Z)) == {0, 1}
    rows, cols = np.array([0, 13, 30, 45, 59]), np.array([59, 7, 30, 22, 0])
    nodes = np.stack([xx[rows, cols], yy[rows, cols]], axis=1)
    np.testing.assert_array_equal(Z[rows, cols], np.asarray(jn.predict(net, params, nodes)))
    # interior nodes (all 8 neighbours agree) lie inside the filled region of their class
    same = np.ones((58, 58), bool)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            same &= Z[1 + di : 59 + di, 1 + dj : 59 + dj] == Z[1:-1, 1:-1]
    interior = np.argwhere(same)[::97] + 1
    assert len(interior) > 10
    regions = contour.get_paths()
    for i, j in interior:
        assert regions[Z[i, j]].contains_point((xx[i, j], yy[i, j]))
        assert not regions[1 - Z[i, j]].contains_point((xx[i, j], yy[i, j]))


def test_decision_boundary_multiclass(planar_model):
    X = planar_model[2]
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    net = jn.Network((2, 8, 3), hidden_activation="tanh", output_activation="softmax")
    params = jn.init(jax.random.key(3), net, scheme="xavier")
    fig = plotting.plot_decision_boundary(net, params, X, jax.nn.one_hot(y, 3), resolution=30)
    contour, points = fig.axes[0].collections
    np.testing.assert_allclose(contour.levels, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(points.get_array(), y)


def test_decision_boundary_rejects_non_planar_inputs(planar_model):
    net, params, X, y, _ = planar_model
    with pytest.raises(ValueError, match=r"\(200, 2, 1\)"):
        plotting.plot_decision_boundary(net, params, X[:, :, None], y)
    with pytest.raises(ValueError, match=r"\(200, 3\)"):
        plotting.plot_decision_boundary(net, params, np.zeros((200, 3)), y)
    with pytest.raises(ValueError, match="Y must be"):
        plotting.plot_decision_boundary(net, params, X, y[:10])


# -- plot_activations ----------------------------------------------------------------------


def test_plot_activations_draws_each_function_and_derivative(tmp_path):
    names = ("sigmoid", "tanh", "relu", "leaky_relu")
    fig = plotting.plot_activations(names, z_range=(-3, 3), path=tmp_path / "activations.png")
    assert_png(tmp_path / "activations.png")
    assert [ax.get_title() for ax in fig.axes] == list(names)
    for ax, name in zip(fig.axes, names, strict=True):
        act = jn.activations.get(name)
        g, dg = ax.lines
        z = g.get_xdata()
        assert z.min() == -3 and z.max() == 3
        np.testing.assert_allclose(g.get_ydata(), act.fn(jnp.asarray(z)), rtol=1e-6)
        np.testing.assert_allclose(dg.get_ydata(), act.derivative(jnp.asarray(z)), rtol=1e-6)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["g(z)", "g'(z)"]


def test_plot_activations_rejects_softmax_and_bad_ranges():
    with pytest.raises(ValueError, match="softmax is not elementwise"):
        plotting.plot_activations(("relu", "softmax"))
    with pytest.raises(ValueError, match="unknown activation"):
        plotting.plot_activations(("swish",))
    with pytest.raises(ValueError, match="z_range"):
        plotting.plot_activations(z_range=(2, -2))


# -- plot_images ---------------------------------------------------------------------------


def test_plot_images_marks_mistakes(tmp_path):
    images = np.random.default_rng(0).uniform(size=(40, 28 * 28))
    labels = np.arange(40) % 10
    predictions = labels.copy()
    predictions[[1, 5]] = 0
    fig = plotting.plot_images(images, labels, predictions, path=tmp_path / "images.png")
    assert_png(tmp_path / "images.png")
    assert len(fig.axes) == 32
    assert all(len(ax.images) == 1 for ax in fig.axes)
    assert fig.axes[0].images[0].get_array().shape == (28, 28)
    np.testing.assert_allclose(fig.axes[3].images[0].get_array(), images[3].reshape(28, 28))
    red = matplotlib.colors.to_rgba("red")
    assert fig.axes[5].get_title() == "0 / 5"
    assert matplotlib.colors.to_rgba(fig.axes[5].title.get_color()) == red
    assert matplotlib.colors.to_rgba(fig.axes[5].spines["top"].get_edgecolor()) == red
    assert fig.axes[4].get_title() == "4 / 4"
    assert matplotlib.colors.to_rgba(fig.axes[4].title.get_color()) != red
    assert not fig.axes[4].spines["top"].get_visible()


def test_plot_images_color_layouts_and_class_names():
    rgb = np.random.default_rng(1).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    names = [b"non-cat", b"cat"]
    fig = plotting.plot_images(rgb.reshape(3, -1), [1, 0, 1], class_names=names, ncols=2)
    assert len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["cat", "non-cat", "cat"]
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), rgb[0] / 255.0)
    channels_first = plotting.plot_images(rgb.transpose(0, 3, 1, 2))
    assert channels_first.axes[0].images[0].get_array().shape == (8, 8, 3)
    gray = plotting.plot_images(np.zeros((2, 5, 7, 1)), predictions=[[0, 1], [1, 0]])
    assert [ax.get_title() for ax in gray.axes] == ["1", "0"]


def test_plot_images_rejects_uninferable_shapes():
    with pytest.raises(ValueError, match=r"\(4, 10\).*image_shape"):
        plotting.plot_images(np.zeros((4, 10)))
    assert len(plotting.plot_images(np.zeros((4, 10)), image_shape=(2, 5)).axes) == 4
    with pytest.raises(ValueError, match=r"\(4, 5, 5, 7\)"):
        plotting.plot_images(np.zeros((4, 5, 5, 7)))
    with pytest.raises(ValueError, match="labels must be"):
        plotting.plot_images(np.zeros((4, 9)), labels=[0, 1])


# -- plot_hidden_size_sweep ---------------------------------------------------------------


def test_plot_hidden_size_sweep(tmp_path):
    sizes = [1, 2, 3, 4, 5, 20, 50]
    accuracies = [0.67, 0.67, 0.91, 0.91, 0.91, 0.92, 0.91]
    val = [0.6, 0.65, 0.88, 0.9, 0.89, 0.9, 0.88]
    fig = plotting.plot_hidden_size_sweep(
        sizes, jnp.asarray(accuracies), val_accuracies=val, path=tmp_path / "sweep.png"
    )
    assert_png(tmp_path / "sweep.png")
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("number of hidden units", "accuracy")
    train, validation = ax.lines
    np.testing.assert_array_equal(train.get_xdata(), sizes)
    np.testing.assert_allclose(train.get_ydata(), accuracies, rtol=1e-6)
    np.testing.assert_allclose(validation.get_ydata(), val)

    narrow = plotting.plot_hidden_size_sweep([4, 2, 3], [0.9, 0.7, 0.8]).axes[0]
    assert narrow.get_xscale() == "linear"
    np.testing.assert_array_equal(narrow.lines[0].get_xdata(), [2, 3, 4])
    np.testing.assert_allclose(narrow.lines[0].get_ydata(), [0.7, 0.8, 0.9])
    with pytest.raises(ValueError, match="one accuracy per hidden size"):
        plotting.plot_hidden_size_sweep([1, 2], [0.5])
