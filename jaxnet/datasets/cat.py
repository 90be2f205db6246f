"""The course's "cat vs non-cat" images from its two HDF5 files (needs h5py)."""

import os

import numpy as np

from jaxnet.datasets._optional import require
from jaxnet.datasets._paths import missing_files_error, resolve_dir

__all__ = ["load_cat_vs_noncat"]

FILES = ("train_catvnoncat.h5", "test_catvnoncat.h5")
_HOW_TO_GET = (
    "They are the course's datasets/train_catvnoncat.h5 and datasets/test_catvnoncat.h5 "
    "(Neural Networks and Deep Learning, week 2); there is no canonical download URL."
)


def load_cat_vs_noncat(path: str | os.PathLike | None = None):
    """Cat vs non-cat, 64x64 RGB: `(X_train, y_train), (X_test, y_test), classes`.

    Args:
      path: folder holding `train_catvnoncat.h5` and `test_catvnoncat.h5` (or a folder with
        a `catvnoncat/` subfolder holding them). Default: `$JAXNET_DATA/catvnoncat`, else
        `~/.cache/jaxnet/catvnoncat`.

    Returns:
      X_train (209, 64, 64, 3) uint8 and y_train (209,) int32 (1 = cat, 72 cats);
      X_test (50, 64, 64, 3) uint8 and y_test (50,) int32; classes `("non-cat", "cat")`,
      indexed by label. Flatten with `flatten_images` and divide by 255 as the course does.

    Raises:
      ImportError: h5py is not installed.
      FileNotFoundError: the folder lacks a file (the message says where to get it).
      ValueError: a file that is not the course's (datasets, shapes, dtypes, labels).

    Example:
      Two tiny files in the course's layout (the real ones hold 209 and 50 images):

      >>> import pathlib, tempfile
      >>> import h5py, numpy as np
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     for split, m in (("train", 3), ("test", 2)):
      ...         with h5py.File(pathlib.Path(d) / f"{split}_catvnoncat.h5", "w") as f:
      ...             f[f"{split}_set_x"] = np.zeros((m, 4, 4, 3), np.uint8)
      ...             f[f"{split}_set_y"] = np.arange(m) % 2
      ...             f["list_classes"] = np.array([b"non-cat", b"cat"])
      ...     (X_train, y_train), (X_test, y_test), classes = jn.datasets.load_cat_vs_noncat(d)
      >>> X_train.shape, X_train.dtype, y_train.tolist(), X_test.shape, classes
      ((3, 4, 4, 3), dtype('uint8'), [0, 1, 0], (2, 4, 4, 3), ('non-cat', 'cat'))
    """
    h5py = require("h5py", "load_cat_vs_noncat")
    directory = resolve_dir("catvnoncat", path, FILES)
    if not all((directory / f).is_file() for f in FILES):
        raise missing_files_error("cat vs non-cat", directory, FILES, _HOW_TO_GET)
    X_train, y_train, classes = _read(h5py, directory / FILES[0], "train")
    X_test, y_test, test_classes = _read(h5py, directory / FILES[1], "test")
    if test_classes != classes:
        raise ValueError(
            f"{directory / FILES[1]}: list_classes {test_classes} differs from the training "
            f"file's {classes}"
        )
    if X_test.shape[1:] != X_train.shape[1:]:
        raise ValueError(
            f"{directory / FILES[1]}: images are {X_test.shape[1:]}, training images are "
            f"{X_train.shape[1:]}"
        )
    return (X_train, y_train), (X_test, y_test), classes


MAX_IMAGE_BYTES = 1 << 30  # the most pixel data a file may declare (the course's: 2.6 MB)
MAX_CLASS_NAMES = 64  # bytes per entry of list_classes


def _check_declared(h5py, file, keys, datasets) -> None:
    """Refuse, before reading anything, datasets whose declared shape, dtype or storage is not
    the course's: a tiny file may declare (10**7, 64, 64, 3) and a read would allocate it."""
    X, y, names = datasets
    for key, d in zip(keys, datasets, strict=True):
        if not isinstance(d, h5py.Dataset) or d.is_virtual or d.external:
            raise ValueError(f"{file}: {key} is not a dataset stored in the file itself")
    if len(X.shape) != 4 or X.shape[-1] != 3 or X.dtype != np.uint8:
        raise ValueError(f"{file}: {keys[0]} is {X.dtype} {X.shape}, expected uint8 (m, h, w, 3)")
    nbytes = int(np.prod(X.shape, dtype=object))
    if nbytes > MAX_IMAGE_BYTES:
        raise ValueError(
            f"{file}: {keys[0]} declares shape {X.shape} ({nbytes} bytes), more than the "
            f"{MAX_IMAGE_BYTES} bytes a cat vs non-cat file may hold; refusing to read it"
        )
    if y.shape != (X.shape[0],) or y.dtype.kind not in "iub":
        raise ValueError(
            f"{file}: {keys[1]} is {y.dtype} {y.shape}, expected {X.shape[0]} integer labels"
        )
    if (
        names.shape != (2,)
        or names.dtype.kind not in "SUO"
        or names.dtype.itemsize > MAX_CLASS_NAMES
    ):
        raise ValueError(
            f"{file}: list_classes is {names.dtype} {names.shape}, expected 2 class names"
        )


def _read(h5py, file, split):
    keys = (f"{split}_set_x", f"{split}_set_y", "list_classes")
    try:
        with h5py.File(file, "r") as f:
            absent = [k for k in keys if k not in f]
            if absent:
                raise ValueError(f"{file}: missing HDF5 dataset(s) {absent}; expected {keys}")
            _check_declared(h5py, file, keys, [f[k] for k in keys])
            X, y, names = (np.asarray(f[k][()]) for k in keys)
    except OSError as err:
        raise ValueError(f"{file}: not a readable HDF5 file ({err})") from err
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"{file}: {keys[1]} must be {X.shape[0]} labels in {{0, 1}}, got values "
            f"{np.unique(y)[:10]}"
        )
    classes = tuple(
        n.decode(errors="replace") if isinstance(n, bytes) else str(n) for n in names.reshape(-1)
    )
    return X, y.astype(np.int32), classes
