"""MNIST and Fashion-MNIST from their four gzip IDX files, with an optional verified download."""

import os
from collections.abc import Mapping, Sequence

import numpy as np

from jaxnet.datasets._paths import missing_files_error, resolve_dir
from jaxnet.datasets.download import download_file
from jaxnet.datasets.idx import read_idx
from jaxnet.validation import check_bool

__all__ = [
    "FASHION_MNIST_CHECKSUMS",
    "FASHION_MNIST_MIRRORS",
    "MNIST_CHECKSUMS",
    "MNIST_MIRRORS",
    "load_fashion_mnist",
    "load_mnist",
]

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049

MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# Published reference sums (torchvision checks the same md5s); see ../shared/data/README.md.
MNIST_CHECKSUMS = {
    FILES[0]: {
        "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "sha256": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    },
    FILES[1]: {
        "md5": "d53e105ee54ea40749a09fcbcd1e9432",
        "sha256": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    },
    FILES[2]: {
        "md5": "9fb629c4189551a2d022fa330f9573f3",
        "sha256": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    },
    FILES[3]: {
        "md5": "ec29112dd5afa0611ce80d1b7f02629c",
        "sha256": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
}
FASHION_MNIST_MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
)
# The md5s published in zalandoresearch/fashion-mnist's README (no sha256 is published).
FASHION_MNIST_CHECKSUMS = {
    FILES[0]: {"md5": "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
    FILES[1]: {"md5": "25c81989df183df01b3e8a0aad5dffbe"},
    FILES[2]: {"md5": "bef4ecab320f06d8554ea6380940ec79"},
    FILES[3]: {"md5": "bb300cfdad3c16e7a12a480ee83cd310"},
}

Split = tuple[np.ndarray, np.ndarray]


def load_mnist(
    path: str | os.PathLike | None = None,
    download: bool = False,
    *,
    mirrors: Sequence[str] = MNIST_MIRRORS,
    checksums: Mapping[str, Mapping[str, str]] = MNIST_CHECKSUMS,
    timeout: float = 60.0,
) -> tuple[Split, Split]:
    """MNIST handwritten digits: `(X_train, y_train), (X_test, y_test)`.

    Args:
      path: folder holding the four `*-ubyte.gz` files (or a folder with an `mnist/`
        subfolder holding them). Default: `$JAXNET_DATA/mnist`, else `~/.cache/jaxnet/mnist`.
      download: fetch missing files from `mirrors` into that folder, each verified against
        `checksums` (md5 and sha256) and written atomically.
      mirrors: base URLs tried in order (the file name is appended).
      checksums: file name -> {hash name: hex digest}.
      timeout: network timeout in seconds per request.

    Returns:
      NumPy uint8 arrays: X_train (60000, 28, 28), y_train (60000,), X_test (10000, 28, 28),
      y_test (10000,); pixels 0..255 (0 = background), labels 0..9.

    Raises:
      FileNotFoundError: a file is missing and `download` is False (the message says how
        to get it).
      ValueError: a file that is not MNIST's IDX format, or a download whose checksum fails.
      OSError: no mirror could deliver a missing file.

    Example:
      Four tiny files in MNIST's format (the real ones hold 60000 and 10000 digits):

      >>> import gzip, math, pathlib, tempfile
      >>> import jaxnet as jn
      >>> def idx(magic, *shape):  # header, then the bytes 0, 1, ..., 9, 0, 1, ...
      ...     header = magic.to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in shape)
      ...     return gzip.compress(header + bytes(n % 10 for n in range(math.prod(shape))))
      >>> with tempfile.TemporaryDirectory() as d:
      ...     for name, m in (("train", 3), ("t10k", 2)):
      ...         p = pathlib.Path(d)
      ...         _ = (p / f"{name}-images-idx3-ubyte.gz").write_bytes(idx(2051, m, 28, 28))
      ...         _ = (p / f"{name}-labels-idx1-ubyte.gz").write_bytes(idx(2049, m))
      ...     (X_train, y_train), (X_test, y_test) = jn.datasets.load_mnist(d)
      >>> X_train.shape, X_train.dtype, y_train.tolist(), X_test.shape, y_test.tolist()
      ((3, 28, 28), dtype('uint8'), [0, 1, 2], (2, 28, 28), [0, 1])
    """
    return _load("mnist", "MNIST", path, download, mirrors, checksums, timeout)


def load_fashion_mnist(
    path: str | os.PathLike | None = None,
    download: bool = False,
    *,
    mirrors: Sequence[str] = FASHION_MNIST_MIRRORS,
    checksums: Mapping[str, Mapping[str, str]] = FASHION_MNIST_CHECKSUMS,
    timeout: float = 60.0,
) -> tuple[Split, Split]:
    """Fashion-MNIST (Zalando): same files, shapes and dtypes as `load_mnist`.

    Downloads are verified against the published md5 sums. Labels 0..9 are T-shirt/top,
    Trouser, Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot.

    Args:
      path: folder holding the four `*-ubyte.gz` files (or a folder with a
        `fashion_mnist/` subfolder holding them). Default: `$JAXNET_DATA/fashion_mnist`,
        else `~/.cache/jaxnet/fashion_mnist`.
      download: fetch missing files from `mirrors` into that folder, each verified against
        `checksums` (md5) and written atomically.
      mirrors: base URLs tried in order (the file name is appended).
      checksums: file name -> {hash name: hex digest}.
      timeout: network timeout in seconds per request.

    Returns:
      NumPy uint8 arrays: X_train (60000, 28, 28), y_train (60000,), X_test (10000, 28, 28),
      y_test (10000,); pixels 0..255, labels 0..9.

    Raises:
      FileNotFoundError: a file is missing and `download` is False.
      ValueError: a file that is not in the IDX format, or a download whose checksum fails.
      OSError: no mirror could deliver a missing file.

    Example:
      Without the files (and without `download=True`) the error says how to get them:

      >>> import tempfile
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     try:
      ...         jn.datasets.load_fashion_mnist(d)
      ...     except FileNotFoundError as err:
      ...         print("download=True" in str(err))
      True
    """
    return _load("fashion_mnist", "Fashion-MNIST", path, download, mirrors, checksums, timeout)


def _load(name, title, path, download, mirrors, checksums, timeout):
    download = check_bool(download, "download")
    directory = resolve_dir(name, path, FILES)
    missing = [f for f in FILES if not (directory / f).is_file()]
    if missing and not download:
        loader = "load_mnist" if name == "mnist" else "load_fashion_mnist"
        how = f"Pass download=True ({loader}(download=True)) to fetch them."
        raise missing_files_error(title, directory, FILES, how)
    if missing:
        mirrors = [mirrors] if isinstance(mirrors, str) else list(mirrors)
        if not mirrors:
            raise ValueError("mirrors must name at least one base URL, got an empty list")
        for f in missing:
            if f not in checksums:
                raise ValueError(f"checksums has no entry for {f}; cannot verify a download")
        for f in missing:
            urls = [m.rstrip("/") + "/" + f for m in mirrors]
            download_file(urls, directory / f, checksums[f], timeout=timeout)
    train = _split(directory / FILES[0], directory / FILES[1])
    test = _split(directory / FILES[2], directory / FILES[3])
    return train, test


def _split(images_path, labels_path) -> Split:
    images = read_idx(images_path, IMAGES_MAGIC, expected_shape=(None, 28, 28))
    labels = read_idx(labels_path, LABELS_MAGIC, expected_shape=(None,))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{images_path} holds {images.shape[0]} images but {labels_path} holds "
            f"{labels.shape[0]} labels; the counts must match"
        )
    if labels.size and labels.max() > 9:
        raise ValueError(f"{labels_path}: labels must be 0..9, found {int(labels.max())}")
    return images, labels
