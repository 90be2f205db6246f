"""The course's published results next to what jaxnet measures with the same setups.

    python scripts/reproduce_course.py --data-dir ../shared/data          # everything (~1 min)
    python scripts/reproduce_course.py --data-dir ../shared/data --quick  # without MNIST

``--data-dir`` is a folder holding ``mnist/`` and ``catvnoncat/`` (default: ``$JAXNET_DATA``,
else ``~/.cache/jaxnet``); experiments whose files are missing are reported as skipped.
The generated data (flower, make_classification) is drawn with jax.random, not NumPy's
seed 1, so the points differ from the course's and the numbers agree only roughly. The
make_classification draw matters most: on jaxnet's draw scikit-learn's own
MLPClassifier((10,), "tanh") also reaches only 88.9% test accuracy, and over
random_state 0..4 the same model ranges from 86% to 97%.
"""

import argparse
import sys
import time

import jax

import jaxnet as jn
from jaxnet import datasets as ds

DATA_SEED = (
    1  # the course seeds its data with np.random.seed(1); `jaxnet train` draws with this too
)


def _fit(net, X, y, *, scheme, optimizer, learning_rate, epochs, batch_size=None, seed=0):
    init_key, shuffle_key = jax.random.split(jax.random.key(seed))
    params = jn.init(init_key, net, scheme)
    params, _ = jn.fit(
        net, params, X, y,
        optimizer=optimizer, learning_rate=learning_rate, epochs=epochs,
        batch_size=batch_size, key=shuffle_key, verbose=0,
    )  # fmt: skip
    return net, params


def _accuracy(net, params, X, y):
    return jn.evaluate(net, params, X, y)["accuracy"]


def planar(hidden):
    """Week 3: the flower (all 400 points), 4 tanh units or logistic regression, sgd 1.2, 10000 it."""
    X, y = ds.planar_flower(jax.random.key(DATA_SEED), m=400)
    sizes = (2, 4, 1) if hidden else (2, 1)
    net = jn.Network(sizes, hidden_activation="tanh", output_activation="sigmoid")
    net, params = _fit(net, X, y, scheme="normal", optimizer="sgd", learning_rate=1.2, epochs=10000)
    return {"train": _accuracy(net, params, X, y)}


def _images(split):
    """Flattened images scaled to [0, 1] as the course does, and the labels."""
    X, y = split
    return ds.scale(ds.flatten_images(X)), y


def cat(data_dir):
    """Week 2: logistic regression on the 12288 pixels, zeros init, sgd 0.005, 2000 iterations."""
    train, test, _ = ds.load_cat_vs_noncat(data_dir)
    (X, y), test = _images(train), _images(test)
    net = jn.Network((X.shape[1], 1), output_activation="sigmoid")
    net, params = _fit(net, X, y, scheme="zeros", optimizer="sgd", learning_rate=0.005, epochs=2000)
    return {"train": _accuracy(net, params, X, y), "test": _accuracy(net, params, *test)}


def mnist(data_dir):
    """The seed's Keras example: 784-512-10 relu/softmax, rmsprop 1e-3, batch 128, 5 epochs."""
    train, test = ds.load_mnist(data_dir)
    (X, y), test = _images(train), _images(test)
    net = jn.Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    net, params = _fit(
        net, X, y, scheme="he", optimizer="rmsprop", learning_rate=1e-3, epochs=5, batch_size=128
    )
    return {"test": _accuracy(net, params, *test)}


def classification():
    """scikit-learn make_classification 5000 x 20, 4000/1000 split, 20-10-1 tanh, adam 0.01."""
    X, y = ds.make_classification(jax.random.key(DATA_SEED), m=5000)
    train, test = ds.train_test_split(jax.random.key(DATA_SEED + 1), X, y, 0.2)
    net = jn.Network((20, 10, 1), hidden_activation="tanh", output_activation="sigmoid")
    net, params = _fit(
        net, *train, scheme="xavier", optimizer="adam", learning_rate=0.01, epochs=20, batch_size=64
    )
    return {"test": _accuracy(net, params, *test)}


# (name, published accuracy per split, experiment taking the data folder, needs MNIST)
EXPERIMENTS = [
    ("planar flower, 4 tanh units", {"train": 0.90}, lambda d: planar(True), False),
    ("logistic regression on planar", {"train": 0.47}, lambda d: planar(False), False),
    ("cat vs non-cat, logistic regression", {"train": 0.99, "test": 0.70}, cat, False),
    ("MNIST 784-512-10 relu (seed Keras)", {"test": 0.978}, mnist, True),
    ("classification 5000x20, 10 tanh", {"test": 0.938}, lambda d: classification(), False),
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding mnist/ and catvnoncat/")
    parser.add_argument("--quick", action="store_true", help="skip MNIST")
    args = parser.parse_args(argv)

    print(f"{'experiment':<38}{'split':<7}{'course':>8}{'jaxnet':>9}{'time':>8}")
    print("-" * 70)
    for name, published, run, needs_mnist in EXPERIMENTS:
        if needs_mnist and args.quick:
            print(f"{name:<38}{'':<7}{'':>8}  skipped (--quick)")
            continue
        tic = time.perf_counter()
        try:
            measured = run(args.data_dir)
        except FileNotFoundError as e:
            print(f"{name:<38}{'':<7}{'':>8}  skipped: {' '.join(str(e).split())[:60]}...")
            continue
        seconds = f"{time.perf_counter() - tic:.1f}s"
        for i, (split, course) in enumerate(published.items()):
            label = name if i == 0 else ""
            print(
                f"{label:<38}{split:<7}{100 * course:>7.1f}%{100 * measured[split]:>8.1f}%"
                f"{seconds if i == 0 else '':>8}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
