"""Published results reproduced on real data: the course's flower, cat images and the seed's examples.

Slow (seconds each; about a minute in all on two cores). Real data comes from the
``shared_data`` fixture (``../shared/data``). Wall times and accuracies are printed
(visible with ``pytest -s``) and recorded as junit properties.
"""

import time

import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import datasets as ds

pytestmark = pytest.mark.slow

# The course's week 2 assignment prints these costs (every 100 iterations) for logistic
# regression on the cat images: zeros init, learning rate 0.005, 2000 iterations.
COURSE_CAT_COSTS = [
    0.693147, 0.584508, 0.466949, 0.376007, 0.331463, 0.303273, 0.279880, 0.260042, 0.242941,
    0.228004, 0.214820, 0.203078, 0.192544, 0.183033, 0.174399, 0.166521, 0.159305, 0.152667,
    0.146542, 0.140872,
]  # fmt: skip


def report(record_property, name, value):
    print(f"\n{name}: {value}")
    record_property(name, value)


def accuracy(net, params, X, y):
    return jn.evaluate(net, params, X, y)["accuracy"]


def test_planar_flower_shallow_network(record_property):
    """Week 3: 2-4-1 tanh/sigmoid, randn * 0.01, sgd 1.2, 10000 iterations: 90% on the flower.

    Logistic regression, trained the same way, stays near chance (the course's 47%).
    """
    X, y = ds.planar_flower(jax.random.key(1), m=400)
    results = {}
    for sizes in ((2, 4, 1), (2, 1)):
        net = jn.Network(sizes, hidden_activation="tanh", output_activation="sigmoid")
        params = jn.init(jax.random.key(0), net, scheme="normal")
        params, history = jn.fit(
            net, params, X, y, optimizer="sgd", learning_rate=1.2, epochs=10000, verbose=0
        )
        assert len(history["loss"]) == 10000
        results[sizes] = accuracy(net, params, X, y)
    report(record_property, "flower_train_accuracy", results[(2, 4, 1)])
    report(record_property, "flower_logistic_train_accuracy", results[(2, 1)])
    assert results[(2, 4, 1)] >= 0.90
    assert results[(2, 1)] < 0.70


def test_shallow_network_on_make_classification(record_property):
    """The seed's 20-10-1 tanh/sigmoid network on 5000 x 20 (4000 train / 1000 test): >= 93%.

    How well any model can do depends on the random problem (scikit-learn's
    make_classification: 2 informative features, 1% flipped labels); over data keys 0-5
    this network reaches 0.83-0.98. Key 5 gives a problem like the seed's (93.8%), on
    which logistic regression gets 94% and the hidden layer adds about a point.
    """
    X, y = ds.make_classification(jax.random.key(5), m=5000, n_features=20)
    (X_train, y_train), (X_test, y_test) = ds.train_test_split(
        jax.random.key(6), X, y, test_fraction=0.2
    )
    assert X_train.shape == (4000, 20) and X_test.shape == (1000, 20)
    results = {}
    for sizes in ((20, 10, 1), (20, 1)):
        net = jn.Network(sizes, hidden_activation="tanh", output_activation="sigmoid")
        init_key, shuffle_key = jax.random.split(jax.random.key(0))
        params = jn.init(init_key, net, scheme="xavier")
        params, _ = jn.fit(
            net,
            params,
            X_train,
            y_train,
            optimizer="adam",
            learning_rate=0.01,
            epochs=20,
            batch_size=64,
            key=shuffle_key,
            verbose=0,
        )
        results[sizes] = accuracy(net, params, X_test, y_test)
    report(record_property, "classification_test_accuracy", results[(20, 10, 1)])
    report(record_property, "classification_logistic_test_accuracy", results[(20, 1)])
    assert results[(20, 10, 1)] >= 0.93
    assert results[(20, 10, 1)] >= results[(20, 1)]


# 5 epochs of the 784-512-10 network on all of MNIST: the fast-compile flags' code runs them slower
# than the flags save (13.2 s of CPU in the test process, 7.9 s in a child with XLA's defaults)
@pytest.mark.xla_defaults
def test_keras_mnist_example(shared_data, record_property):
    """The seed's Keras example: 784-512-10 relu/softmax, rmsprop 1e-3, batch 128, 5 epochs: 97.8%."""
    (X_train, y_train), (X_test, y_test) = ds.load_mnist(shared_data / "mnist")
    X_train, X_test = ds.scale(ds.flatten_images(X_train)), ds.scale(ds.flatten_images(X_test))
    assert X_train.shape == (60000, 784) and float(X_train.max()) == 1.0
    net = jn.Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    init_key, shuffle_key = jax.random.split(jax.random.key(0))
    params = jn.init(init_key, net, scheme="he")
    tic = time.perf_counter()
    params, history = jn.fit(
        net,
        params,
        X_train,
        y_train,
        optimizer="rmsprop",
        learning_rate=1e-3,
        epochs=5,
        batch_size=128,
        key=shuffle_key,
        validation_data=(X_test, y_test),
        verbose=0,
    )
    seconds = time.perf_counter() - tic
    test_accuracy = accuracy(net, params, X_test, y_test)
    report(record_property, "mnist_fit_seconds", round(seconds, 2))
    report(record_property, "mnist_test_accuracy", test_accuracy)
    report(record_property, "mnist_train_accuracy_per_epoch", history["accuracy"])
    assert test_accuracy >= 0.978
    assert history["val_accuracy"][-1] == pytest.approx(test_accuracy, abs=1e-6)
    assert history["accuracy"] == sorted(history["accuracy"])  # it kept learning


@pytest.fixture(scope="module")
def cat_data(shared_data):
    (X_train, y_train), (X_test, y_test), classes = ds.load_cat_vs_noncat(
        shared_data / "catvnoncat"
    )
    assert classes == ("non-cat", "cat")
    X_train, X_test = (ds.flatten_images(X) / 255.0 for X in (X_train, X_test))
    assert X_train.shape == (209, 12288) and X_test.shape == (50, 12288)
    return X_train, y_train, X_test, y_test


@pytest.mark.parametrize("backprop", ["manual", "autodiff"])
def test_cat_logistic_regression(cat_data, backprop, record_property):
    """Week 2: logistic regression, zeros init, sgd 0.005, 2000 iterations: 99% train, 70% test."""
    X_train, y_train, X_test, y_test = cat_data
    net = jn.Network((12288, 1), output_activation="sigmoid")
    params = jn.init(jax.random.key(0), net, scheme="zeros")
    params, history = jn.fit(
        net,
        params,
        X_train,
        y_train,
        optimizer="sgd",
        learning_rate=0.005,
        epochs=2000,
        backprop=backprop,
        verbose=0,
    )
    train, test = accuracy(net, params, X_train, y_train), accuracy(net, params, X_test, y_test)
    report(record_property, f"cat_{backprop}_train_accuracy", train)
    report(record_property, f"cat_{backprop}_test_accuracy", test)
    assert test == pytest.approx(35 / 50, abs=1e-6)
    assert train == pytest.approx(207 / 209, abs=1e-6)  # the course's 99.04%
    # the course's loop, cost for cost (zero logits at the start: autodiff must get sigmoid(0))
    np.testing.assert_allclose(history["loss"][::100], COURSE_CAT_COSTS, atol=2e-6)
