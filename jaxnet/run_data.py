"""The datasets the ``jaxnet`` command knows, each with the course's defaults for it.

A dataset is loaded as a :class:`Data`: NumPy splits (``"train"`` and ``"validation"``
or ``"test"``), the number of classes, and the preprocessing that maps raw feature rows
(as stored in the files, e.g. pixels 0..255) to network inputs, so ``jaxnet predict``
can apply the same mapping to new rows. Generated data does not depend on ``--seed``
(it is drawn from the fixed ``DATA_SEED``), so runs with different seeds see the same
examples; ``--seed`` only changes the initial weights and the minibatch order.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnet import datasets

DATA_SEED = 1  # the course seeds its data with np.random.seed(1)


@dataclasses.dataclass(frozen=True)
class Defaults:
    """The hyperparameters ``jaxnet train`` uses for a dataset unless told otherwise.

    ``output_activation=None`` follows the data: sigmoid for two classes, else softmax.
    ``batch_size=None`` is full-batch gradient descent (an epoch is one iteration).
    """

    layers: tuple[int, ...]
    hidden_activation: str
    output_activation: str | None
    init: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int | None


@dataclasses.dataclass(frozen=True)
class Spec:
    """A named dataset: what it is and its defaults.

    ``with_layers``: the defaults when ``--layers`` adds hidden layers to a default of none
    (the cat images: logistic regression, or the course's deep network). ``files``: read
    from files (takes ``--data-dir``) rather than generated.
    """

    description: str
    defaults: Defaults
    with_layers: Defaults | None = None
    files: bool = False


class Data(NamedTuple):
    """A loaded dataset. ``splits`` maps ``"train"``/``"validation"``/``"test"`` to ``(X, y)``:
    X ``(m, n_x)`` float32 network inputs, y ``(m,)`` int32 class labels."""

    name: str
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    num_classes: int
    preprocessing: dict[str, Any]
    image_shape: tuple[int, ...] | None = None  # for plotting flattened images
    class_names: tuple[str, ...] | None = None

    @property
    def held_out(self) -> str | None:
        """The split used as ``validation_data``: ``"validation"``, else ``"test"``."""
        return next((s for s in ("validation", "test") if s in self.splits), None)

    @property
    def num_features(self) -> int:
        return int(self.splits["train"][0].shape[1])


_MNIST = Defaults((512,), "relu", "softmax", "he", "rmsprop", 1e-3, 5, 128)
SPECS = {
    "planar": Spec(
        "the course's planar flower, 400 points; 320 train / 80 validation",
        Defaults((4,), "tanh", "sigmoid", "normal", "sgd", 1.2, 10000, None),
    ),
    "spiral": Spec(
        "3-arm spiral, 300 points (CS231n); 240 / 60",
        Defaults((32,), "relu", "softmax", "he", "adam", 0.01, 2000, None),
    ),
    "xor": Spec(
        "the 2-bit XOR truth table (4 points; no held-out split)",
        Defaults((4,), "tanh", "sigmoid", "xavier", "sgd", 1.0, 2000, None),
    ),
    "moons": Spec(
        "scikit-learn make_moons, 300 points, noise 0.2; 240 / 60",
        Defaults((8,), "relu", "sigmoid", "he", "adam", 0.01, 200, 64),
    ),
    "classification": Spec(
        "scikit-learn make_classification, 5000 x 20; 4000 train / 1000 test",
        Defaults((10,), "tanh", "sigmoid", "xavier", "adam", 0.01, 20, 64),
    ),
    "mnist": Spec("MNIST digits, 60000 train / 10000 test", _MNIST, files=True),
    "fashion-mnist": Spec("Fashion-MNIST, 60000 train / 10000 test", _MNIST, files=True),
    "cat": Spec(
        "the course's cat vs non-cat 64x64 images, 209 train / 50 test",
        Defaults((), "relu", "sigmoid", "zeros", "sgd", 0.005, 2000, None),
        with_layers=Defaults((20, 7, 5), "relu", "sigmoid", "lecun", "sgd", 0.0075, 2500, None),
        files=True,
    ),
    "csv": Spec(
        "a CSV path: header row with a 'label' column; standardized; 80 / 20 split",
        Defaults((16,), "relu", None, "he", "adam", 1e-3, 20, 32),
    ),
}
NAMES = tuple(s for s in SPECS if s != "csv")


def spec(dataset: str) -> Spec:
    """The :class:`Spec` of a dataset name or CSV path (``ValueError`` for anything else)."""
    if dataset in NAMES:
        return SPECS[dataset]
    if dataset.lower().endswith(".csv") or Path(dataset).is_file():
        return SPECS["csv"]
    raise ValueError(
        f"unknown dataset {dataset!r}; expected one of {', '.join(NAMES)} or the path of a CSV file"
    )


def load(
    dataset: str,
    *,
    data_dir: str | None = None,
    download: bool = False,
    limit: int | None = None,
    preprocessing: dict | None = None,
) -> Data:
    """Load ``dataset`` (a name of ``NAMES`` or a CSV path) as :class:`Data`.

    Args:
      data_dir: the folder of a file dataset (default: ``$JAXNET_DATA/<name>`` or the cache).
      download: fetch missing MNIST / Fashion-MNIST files.
      limit: keep only the first ``limit`` training examples.
      preprocessing: reuse these statistics (a CSV's standardization) instead of fitting them.
    """
    sp = spec(dataset)
    if data_dir is not None and not sp.files:
        raise ValueError(
            f"--data-dir applies to datasets read from files (mnist, fashion-mnist, cat), not {dataset!r}"
        )
    if download and dataset not in ("mnist", "fashion-mnist"):
        raise ValueError(f"--download applies to mnist and fashion-mnist, not {dataset!r}")
    if dataset in _GENERATED:
        data = _generated(dataset)
    elif dataset in ("mnist", "fashion-mnist"):
        data = _mnist(dataset, data_dir, download)
    elif dataset == "cat":
        data = _cat(data_dir)
    else:
        data = _csv(dataset, preprocessing)
    if limit is not None:
        X, y = data.splits["train"]
        data.splits["train"] = (X[:limit], y[:limit])
    return data


def apply_preprocessing(preprocessing: dict, X) -> np.ndarray:
    """Map raw feature rows ``(m, n_x)`` to network inputs as the dataset's loader did."""
    X = np.asarray(X, np.float32)
    if "scale" in preprocessing:
        X = X / np.float32(preprocessing["scale"])
    if "mean" in preprocessing:
        X = (X - np.asarray(preprocessing["mean"], np.float32)) / np.asarray(
            preprocessing["std"], np.float32
        )
    return X


# name -> (make X, y from a key), classes, held-out split (None: train on everything)
_GENERATED = {
    "planar": (lambda key: datasets.planar_flower(key, m=400), 2, "validation"),
    "spiral": (lambda key: datasets.spiral(key, m=300, classes=3), 3, "validation"),
    "xor": (lambda key: datasets.xor_parity(2), 2, None),
    "moons": (lambda key: datasets.make_moons(key, m=300, noise=0.2), 2, "validation"),
    "classification": (lambda key: datasets.make_classification(key, m=5000), 2, "test"),
}


def _generated(name: str) -> Data:
    make, classes, held_out = _GENERATED[name]
    X, y = make(jax.random.key(DATA_SEED))
    return _split(name, X, y, classes, held_out)


def _split(name, X, y, num_classes, held_out="validation") -> Data:
    """Data with ``held_out`` (20%) split off ``(X, y)`` at random (``None``: no split)."""
    if held_out is None:
        return Data(name, {"train": _np(X, y)}, num_classes, {})
    train, rest = datasets.train_test_split(jax.random.key(DATA_SEED + 1), X, y, 0.2)
    return Data(name, {"train": _np(*train), held_out: _np(*rest)}, num_classes, {})


def _np(X, y):
    return np.asarray(X, np.float32), np.asarray(y, np.int32)


def _missing(title: str, dataset: str, data_dir, files, how: str) -> FileNotFoundError:
    where = (
        Path(data_dir).expanduser() if data_dir else datasets.data_dir(dataset.replace("-", "_"))
    )
    state = "does not exist" if not where.is_dir() else "lacks some of them"
    return FileNotFoundError(
        f"{title} needs the files {', '.join(files)} but the folder {where} {state}; "
        f"put them there or pass --data-dir DIR (a folder holding them){how}"
    )


def _mnist(dataset, data_dir, download):
    from jaxnet.datasets import mnist

    loader = datasets.load_mnist if dataset == "mnist" else datasets.load_fashion_mnist
    try:
        (X, y), (X_test, y_test) = loader(data_dir, download=download)
    except FileNotFoundError as e:
        how = ", or pass --download to fetch them"
        title = "MNIST" if dataset == "mnist" else "Fashion-MNIST"
        raise _missing(title, dataset, data_dir, mnist.FILES, how) from e
    splits = {"train": _images(X, y), "test": _images(X_test, y_test)}
    return Data(dataset, splits, 10, {"scale": 255.0}, image_shape=(28, 28))


def _cat(data_dir):
    from jaxnet.datasets import cat

    try:
        (X, y), (X_test, y_test), classes = datasets.load_cat_vs_noncat(data_dir)
    except FileNotFoundError as e:
        how = " (they are the course's datasets/*_catvnoncat.h5; there is no download)"
        raise _missing("cat", "catvnoncat", data_dir, cat.FILES, how) from e
    splits = {"train": _images(X, y), "test": _images(X_test, y_test)}
    return Data("cat", splits, 2, {"scale": 255.0}, (64, 64, 3), tuple(classes))


def _images(X, y):
    return (X.reshape(X.shape[0], -1).astype(np.float32) / np.float32(255.0)), y.astype(np.int32)


def _csv(path, preprocessing):
    X, y = datasets.load_csv(path)
    if y.min() < 0:
        raise ValueError(f"{path}: labels must be class numbers 0, 1, ..., got {int(y.min())}")
    data = _split(Path(path).stem, X, y, max(2, int(y.max()) + 1))
    if preprocessing is None:
        stats = datasets.Standardization.fit(data.splits["train"][0])
        preprocessing = {
            "mean": np.asarray(stats.mean).tolist(),
            "std": np.asarray(stats.std).tolist(),
        }
    splits = {k: (apply_preprocessing(preprocessing, X), y) for k, (X, y) in data.splits.items()}
    return data._replace(splits=splits, preprocessing=preprocessing)
