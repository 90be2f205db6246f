"""The datasets the ``jaxnet`` command knows by name, and CSV files of examples.

A dataset is loaded as a :class:`Data`: NumPy splits (``"train"`` and ``"validation"`` or
``"test"``), the number of classes, and the preprocessing that maps raw feature rows (as
stored in the files, e.g. pixels 0..255) to network inputs, so ``jaxnet predict`` applies
the same mapping to new rows. Image datasets are flattened to rows ``(m, n_H n_W n_C)``
for dense networks, or kept as NHWC images ``(m, n_H, n_W, n_C)`` (``images=True``, for
convolutional networks); either way scaled to [0, 1], and the preprocessing records the
image shape that a row of pixels is reshaped to. Generated data does not depend on ``--seed`` (it is drawn
from the fixed ``DATA_SEED``): runs with different seeds see the same examples.

Only two kinds of dataset are ever read: a name below, or a path ending in ``.csv``; a
CSV that a saved run records is read without echoing its contents in an error.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxnet import datasets
from jaxnet.datasets import _random
from jaxnet.io.csv import read_table

DATA_SEED = 1  # the course seeds its data with np.random.seed(1)

DESCRIPTIONS = {
    "planar": "the course's planar flower, 400 points; 320 train / 80 validation",
    "spiral": "3-arm spiral, 300 points (CS231n); 240 / 60",
    "xor": "the 2-bit XOR truth table (4 points; no held-out split)",
    "moons": "scikit-learn make_moons, 300 points, noise 0.2; 240 / 60",
    "classification": "scikit-learn make_classification, 5000 x 20; 4000 train / 1000 test",
    "mnist": "MNIST digits, 60000 train / 10000 test",
    "fashion-mnist": "Fashion-MNIST, 60000 train / 10000 test",
    "cat": "the course's cat vs non-cat 64x64 images, 209 train / 50 test",
    "csv": "a .csv path: header row with a 'label' column (classes 0..K-1); standardized; 80 / 20",
}
NAMES = tuple(k for k in DESCRIPTIONS if k != "csv")
FROM_FILES = ("mnist", "fashion-mnist", "cat")  # these take --data-dir


def kind(dataset: str) -> str:
    """The dataset's name, or ``"csv"`` for the path of a ``.csv`` file (``ValueError`` else)."""
    if dataset in NAMES:
        return dataset
    if dataset.lower().endswith(".csv"):
        return "csv"
    raise ValueError(
        f"unknown dataset {dataset!r}; expected one of {', '.join(NAMES)} or the path of a .csv file"
    )


def parse_dataset(text: str) -> str:
    """A dataset name, or a CSV path made absolute (a saved run finds it from anywhere)."""
    text = text.strip()
    return str(Path(text).expanduser().resolve()) if kind(text) == "csv" else text


class Data(NamedTuple):
    """A loaded dataset. ``splits`` maps ``"train"``/``"validation"``/``"test"`` to ``(X, y)``:
    X ``(m, n_x)`` or images ``(m, n_H, n_W, n_C)`` float32 network inputs, y ``(m,)`` int32
    class labels. ``image_shape`` ``(n_H, n_W, n_C)`` for image datasets."""

    name: str
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    num_classes: int
    preprocessing: dict[str, Any]
    image_shape: tuple[int, int, int] | None = None
    class_names: tuple[str, ...] | None = None

    @property
    def held_out(self) -> str | None:
        """The split used as ``validation_data``: ``"validation"``, else ``"test"``."""
        return next((s for s in ("validation", "test") if s in self.splits), None)

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One example's shape: ``(n_x,)``, or ``(n_H, n_W, n_C)`` for images."""
        return tuple(int(n) for n in self.splits["train"][0].shape[1:])

    @property
    def num_features(self) -> int:
        """The values in one example (the columns of a row of raw features)."""
        return math.prod(self.input_shape)


def load(
    dataset: str,
    *,
    data_dir=None,
    download=False,
    limit=None,
    preprocessing=None,
    recorded=False,
    images=False,
) -> Data:
    """Load ``dataset`` (a name of ``NAMES`` or a CSV path) as :class:`Data`.

    Args:
      data_dir: the folder of a file dataset (default: ``$JAXNET_DATA/<name>`` or the cache).
      download: fetch missing MNIST / Fashion-MNIST files.
      limit: keep only the first ``limit`` training examples.
      preprocessing: reuse these statistics (a CSV's standardization) instead of fitting them.
      recorded: the dataset comes from a run's ``config.json``: a CSV's contents are never
        shown in an error.
      images: keep an image dataset's examples as images ``(m, n_H, n_W, n_C)`` (other
        datasets are vectors whatever it says).
    """
    name = kind(dataset)
    if data_dir is not None and name not in FROM_FILES:
        raise ValueError(f"--data-dir applies to {', '.join(FROM_FILES)}, not {dataset!r}")
    if download and name not in ("mnist", "fashion-mnist"):
        raise ValueError(f"--download applies to mnist and fashion-mnist, not {dataset!r}")
    if name in _GENERATED:
        data = _generated(name)
    elif name == "cat":
        data = _cat(data_dir, images)
    elif name == "csv":
        data = _csv(dataset, preprocessing, recorded)
    else:
        data = _mnist(name, data_dir, download, images)
    if limit is not None:
        X, y = data.splits["train"]
        data.splits["train"] = (X[:limit], y[:limit])
    return data


def apply_preprocessing(preprocessing: dict, X) -> np.ndarray:
    """Map raw feature rows ``(m, n_x)`` to network inputs as the dataset's loader did
    (rows of pixels become images ``(m, *image_shape)`` when the run took images)."""
    X = np.asarray(X, np.float32)
    if "scale" in preprocessing:
        X = X / np.float32(preprocessing["scale"])
    if "mean" in preprocessing:
        mean, std = (np.asarray(preprocessing[k], np.float32) for k in ("mean", "std"))
        X = (X - mean) / std
    if "image_shape" in preprocessing:
        X = X.reshape(X.shape[0], *preprocessing["image_shape"])
    return X


def check_raw_range(preprocessing: dict, X: np.ndarray, path) -> None:
    """Refuse raw rows outside the range the run's data had: pixels of an image run lie in
    ``0..scale`` (0..255 for the datasets' files); ``ValueError`` naming the row and column."""
    if "scale" not in preprocessing:
        return
    scale = float(preprocessing["scale"])
    bad = (X < 0) | (scale < X)
    if bad.any():
        r, j = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{path}: row {r + 1}, column {j + 1} holds {float(X[r, j]):g}; this run takes "
            f"pixels in 0..{scale:g}, as in its dataset's files"
        )


def check_preprocessing(preprocessing, input_shape: tuple[int, ...]) -> dict:
    """``preprocessing`` as a saved run records it for a network on ``input_shape``: ``{}``,
    ``{"scale": s}`` with s > 0, or ``{"mean": [n], "std": [n]}`` with std > 0, and
    ``"image_shape": [n_H, n_W, n_C]`` exactly when the network takes images of that shape
    (``ValueError`` saying what is wrong)."""
    keys = {"scale", "mean", "std", "image_shape"}
    if not isinstance(preprocessing, dict) or not set(preprocessing) <= keys:
        raise ValueError("must be an object with 'scale', or 'mean' and 'std' (and 'image_shape')")
    n_features = math.prod(input_shape)
    if len(input_shape) > 1 and preprocessing.get("image_shape") != list(input_shape):
        raise ValueError(f"'image_shape' must be {list(input_shape)}, the images the network takes")
    if len(input_shape) == 1 and "image_shape" in preprocessing:
        raise ValueError("'image_shape' is for networks on images; this one takes vectors")
    if "scale" in preprocessing and not _positive(preprocessing["scale"]):
        raise ValueError("'scale' must be a positive number")
    if ("mean" in preprocessing) != ("std" in preprocessing):
        raise ValueError("needs both 'mean' and 'std', or neither")
    for key in ("mean", "std") if "mean" in preprocessing else ():
        values = preprocessing[key]
        if not isinstance(values, list) or len(values) != n_features:
            raise ValueError(f"{key!r} must be a list of {n_features} numbers (one per feature)")
        ok = _positive if key == "std" else _finite
        if not all(ok(v) for v in values):
            raise ValueError(
                f"{key!r} must hold {'positive' if key == 'std' else 'finite'} numbers"
            )
    return preprocessing


def _finite(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v) -> bool:
    return _finite(v) and v > 0


# name -> (make X, y from a key), classes, held-out split (None: train on everything)
_GENERATED = {
    "planar": (lambda key: datasets.planar_flower(key, m=400), 2, "validation"),
    "spiral": (lambda key: datasets.spiral(key, m=300, classes=3), 3, "validation"),
    "xor": (lambda key: datasets.xor_parity(2), 2, None),
    "moons": (lambda key: datasets.make_moons(key, m=300, noise=0.2), 2, "validation"),
    "classification": (lambda key: datasets.make_classification(key, m=5000), 2, "test"),
}


def run_keys(seed: int):
    """``jax.random.split(jax.random.key(seed))``: the keys of a run's init and shuffling,
    the same keys, split on the host (:func:`jaxnet.datasets._random.split_seed`: three
    fewer XLA programs for the command, a tenth of a second on a first run)."""
    data = _random.split_seed(seed, 2)
    if data is None:
        return tuple(jax.random.split(jax.random.key(seed)))
    return tuple(jax.random.wrap_key_data(d) for d in data)


def _generated(name: str) -> Data:
    make, classes, held_out = _GENERATED[name]
    X, y = make(_random.seed_key(DATA_SEED))  # jax.random.key(DATA_SEED), no program
    return _split(name, X, y, classes, held_out)


def _split(name, X, y, num_classes, held_out="validation") -> Data:
    """Data with ``held_out`` (20%) split off ``(X, y)`` at random (``None``: no split)."""
    if held_out is None:
        return Data(name, {"train": _np(X, y)}, num_classes, {})
    train, rest = datasets.train_test_split(_random.seed_key(DATA_SEED + 1), X, y, 0.2)
    return Data(name, {"train": _np(*train), held_out: _np(*rest)}, num_classes, {})


def _np(X, y):
    return np.asarray(X, np.float32), np.asarray(y, np.int32)


def _missing(title: str, folder_name: str, data_dir, files, how: str) -> FileNotFoundError:
    where = Path(data_dir).expanduser() if data_dir else datasets.data_dir(folder_name)
    state = "does not exist" if not where.is_dir() else "lacks some of them"
    return FileNotFoundError(
        f"{title} needs the files {', '.join(files)} but the folder {where} {state}; "
        f"put them there or pass --data-dir DIR (a folder holding them){how}"
    )


def _mnist(name, data_dir, download, images):
    from jaxnet.datasets import mnist

    loader = datasets.load_mnist if name == "mnist" else datasets.load_fashion_mnist
    try:
        (X, y), (X_test, y_test) = loader(data_dir, download=download)
    except FileNotFoundError as e:
        title = "MNIST" if name == "mnist" else "Fashion-MNIST"
        how = ", or pass --download to fetch them"
        raise _missing(title, name.replace("-", "_"), data_dir, mnist.FILES, how) from e
    return _image_data(name, (X, y), (X_test, y_test), (28, 28, 1), images)


def _cat(data_dir, images):
    from jaxnet.datasets import cat

    try:
        (X, y), (X_test, y_test), classes = datasets.load_cat_vs_noncat(data_dir)
    except FileNotFoundError as e:
        how = " (they are the course's datasets/*_catvnoncat.h5; there is no download)"
        raise _missing("cat", "catvnoncat", data_dir, cat.FILES, how) from e
    data = _image_data("cat", (X, y), (X_test, y_test), (64, 64, 3), images)
    return data._replace(num_classes=2, class_names=tuple(classes))


def _image_data(name, train, test, image_shape, images) -> Data:
    """Pixels 0..255 scaled to [0, 1]: images ``(m, *image_shape)`` or flattened rows."""
    shape = image_shape if images else (math.prod(image_shape),)
    splits = {
        split: (np.divide(X.reshape(X.shape[0], *shape), np.float32(255.0), dtype=np.float32),
                y.astype(np.int32))
        for split, (X, y) in (("train", train), ("test", test))
    }  # fmt: skip
    preprocessing = {"scale": 255.0} | ({"image_shape": list(image_shape)} if images else {})
    return Data(name, splits, 10, preprocessing, image_shape)


def _csv(path, preprocessing, recorded):
    try:
        X, y = datasets.load_csv(path)
    except ValueError:
        if not recorded:
            raise
        raise ValueError(
            f"{path}, the CSV this run was trained on, is no longer a CSV of numbers with a "
            "'label' column (was it changed?)"
        ) from None
    data = _split(Path(path).stem, X, y, max(2, int(y.max()) + 1))  # labels are 0..K-1
    if preprocessing is None:
        stats = datasets.Standardization.fit(data.splits["train"][0])
        preprocessing = {k: np.asarray(getattr(stats, k)).tolist() for k in ("mean", "std")}
    splits = {k: (apply_preprocessing(preprocessing, X), y) for k, (X, y) in data.splits.items()}
    return data._replace(splits=splits, preprocessing=preprocessing)


def read_features(path, input_shape: tuple[int, ...], *, header: bool | None = None) -> np.ndarray:
    """Feature rows ``(m, n_features)`` float32 from a CSV (``jaxnet predict``'s input) for a
    network on ``input_shape`` (images: one image's pixels per row), read by
    ``jaxnet.io.csv.read_table``: a first row is a header when declared or when every cell
    in it is a name, never a dropped data row. A header's ``label`` column is dropped."""
    n_features = math.prod(input_shape)
    table = read_table(path, header=header)
    X = table.features
    if table.columns is not None and "label" in table.columns:
        X = np.delete(X, table.columns.index("label"), axis=1)
    if X.shape[0] == 0:
        raise ValueError(f"{path}: no rows of features")
    if X.shape[1] != n_features:
        what = (
            f"{n_features} features"
            if len(input_shape) == 1
            else f"images {'x'.join(map(str, input_shape))}: {n_features} pixel values per row"
        )
        raise ValueError(f"{path}: rows have {X.shape[1]} values, but the network takes {what}")
    return X
