"""Course 2 ("Improving deep neural networks") results: initialisation, regularisation, optimisers.

Slow (seconds each on two cores). The data are scikit-learn's generators: the course's own
draws where it names them (``np.random.seed(s)`` before a generator equals
``random_state=s``), and the course's NumPy initialisations, so the course's numbers come
out. Accuracies are printed (``pytest -s``) and recorded as junit properties.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import datasets as ds

sklearn_datasets = pytest.importorskip("sklearn.datasets")

pytestmark = pytest.mark.slow


def report(record_property, name, value):
    print(f"\n{name}: {value}")
    record_property(name, value)


def course_init(layers_dims, scale, seed=3):
    """The course's ``initialize_parameters_*``: ``np.random.seed(3)``, ``randn(n[l], n[l-1]) * scale(l)``, b = 0."""
    np.random.seed(seed)
    return tuple(
        {
            "W": (np.random.randn(n, n_prev) * scale(n_prev)).astype(np.float32),
            "b": np.zeros(n, np.float32),
        }
        for n_prev, n in zip(layers_dims[:-1], layers_dims[1:])
    )


def accuracy(net, params, X, y):
    return jn.evaluate(net, params, X, y)["accuracy"]


def test_initialization_on_circles(record_property):
    """Week 1, initialisation: 2-10-5-1 relu/relu/sigmoid, GD 0.01, 15000 iterations on make_circles.

    The course: zeros 50 % / 50 %; large random (randn * 10) 83 % / 86 % with an infinite
    first cost; He 99.33 % / 96 %, cost 0.883054 at iteration 0 and 0.073579 at 14000.
    The three start from the course's NumPy arrays and train as one fit_ensemble run.
    """
    X_train, y_train = sklearn_datasets.make_circles(n_samples=300, noise=0.05, random_state=1)
    X_test, y_test = sklearn_datasets.make_circles(n_samples=100, noise=0.05, random_state=2)
    X_train, X_test = X_train.astype(np.float32), X_test.astype(np.float32)
    dims = (2, 10, 5, 1)
    net = jn.Network(dims, hidden_activation="relu", output_activation="sigmoid")
    starts = {
        "zeros": course_init(dims, lambda n_prev: 0.0),
        "random": course_init(dims, lambda n_prev: 10.0),
        "he": course_init(dims, lambda n_prev: np.sqrt(2 / n_prev)),
    }
    stacked0 = jax.tree.map(lambda *a: jnp.stack(a), *starts.values())
    stacked, histories = jn.fit_ensemble(
        net,
        stacked0,
        X_train,
        y_train,
        optimizer="sgd",
        learning_rate=0.01,
        epochs=15000,
        verbose=0,
    )
    result = {}
    for i, (name, history) in enumerate(zip(starts, histories)):
        params = jax.tree.map(lambda a, i=i: a[i], stacked)
        result[name] = (
            accuracy(net, params, X_train, y_train),
            accuracy(net, params, X_test, y_test),
        )
        report(record_property, f"circles_{name}_train_test_accuracy", result[name])
        report(
            record_property,
            f"circles_{name}_cost_0_14000",
            (history["loss"][0], history["loss"][14000]),
        )
    assert result["zeros"] == (0.5, 0.5)
    assert np.allclose(histories[0]["loss"], np.log(2))  # nothing ever moves
    assert histories[1]["loss"][0] > 100  # the course's inf, computed stably from the logits
    np.testing.assert_allclose(histories[1]["loss"][14000], 0.382784, atol=1e-3)  # notebook 05's
    assert result["random"][0] < 0.90 and result["random"][0] < result["he"][0] - 0.1
    assert result["he"][0] >= 0.99 and result["he"][1] >= 0.95
    np.testing.assert_allclose(histories[2]["loss"][0], 0.883054, atol=1e-5)
    np.testing.assert_allclose(histories[2]["loss"][14000], 0.073579, atol=1e-4)


def _gaps(net, params, X_train, y_train, X_val, y_val):
    """(train accuracy - validation accuracy, validation cross-entropy - train cross-entropy)."""
    acc, ce = [], []
    for X, y in ((X_train, y_train), (X_val, y_val)):
        A = jn.forward(net, params, X)
        Y = jnp.asarray(y, A.dtype)[:, None]
        acc.append(float(jn.metrics.accuracy(A, Y, "binary")))
        ce.append(float(jn.losses.binary_cross_entropy(A, Y)))
    return acc[0] - acc[1], ce[1] - ce[0]


def test_l2_and_dropout_shrink_the_train_validation_gap(record_property):
    """A 2-100-100-1 net memorises 80 noisy moons (noise 0.35); L2 (λ = 1) and dropout (rate 0.5)
    each shrink the accuracy gap and the cross-entropy gap to 1000 validation points.

    Adam 0.01, 3000 full-batch iterations, the same start (He, key 3) for all three.
    """
    X, y = ds.make_moons(jax.random.key(0), 1080, noise=0.35)
    X_train, y_train, X_val, y_val = X[:80], y[:80], X[80:], y[80:]
    gaps = {}
    for name, kwargs in {"none": {}, "l2": {"l2": 1.0}, "dropout": {"dropout": 0.5}}.items():
        net = jn.Network(
            (2, 100, 100, 1), hidden_activation="relu", output_activation="sigmoid", **kwargs
        )
        params, _ = jn.fit(
            net,
            jn.init(jax.random.key(3), net, scheme="he"),
            X_train,
            y_train,
            optimizer="adam",
            learning_rate=0.01,
            epochs=3000,
            key=jax.random.key(4),
            verbose=0,
        )
        gaps[name] = _gaps(net, params, X_train, y_train, X_val, y_val)
        report(record_property, f"moons_gap_{name}_accuracy_crossentropy", gaps[name])
    assert gaps["none"][0] > 0.1  # it does overfit
    for name in ("l2", "dropout"):
        assert gaps[name][0] < gaps["none"][0], (name, gaps)
        assert gaps[name][1] < 0.6 * gaps["none"][1], (name, gaps)


def test_adam_beats_minibatch_gradient_descent_on_moons(record_property):
    """Week 2: make_moons (300, noise 0.2), 2-5-2-1, minibatches of 64, α = 0.0007, 10000 epochs.

    The course: gradient descent 79.7 %, momentum (β = 0.9) 79.7 %, Adam 94 %.
    """
    X, y = sklearn_datasets.make_moons(n_samples=300, noise=0.2, random_state=3)
    X = X.astype(np.float32)
    dims = (2, 5, 2, 1)
    net = jn.Network(dims, hidden_activation="relu", output_activation="sigmoid")
    params0 = course_init(dims, lambda n_prev: np.sqrt(2 / n_prev))
    result = {}
    for optimizer in ("sgd", "momentum", "adam"):
        params, history = jn.fit(
            net,
            params0,
            X,
            y,
            optimizer=optimizer,
            learning_rate=0.0007,
            epochs=10000,
            batch_size=64,
            key=jax.random.key(0),
            verbose=0,
        )
        result[optimizer] = accuracy(net, params, X, y)
        report(record_property, f"moons_{optimizer}_train_accuracy", result[optimizer])
    assert result["adam"] >= 0.90
    assert result["sgd"] <= 0.85 and result["momentum"] <= 0.85
    assert result["adam"] - result["sgd"] >= 0.1
