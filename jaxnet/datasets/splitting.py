"""Divide a data set: a random (optionally stratified) train/test split and minibatches.

The random order is drawn on the host (`jaxnet.datasets._random.permutation`, Threefry bits
of the key) and a split is indexed in NumPy: splitting small data compiles nothing.
"""

import math
from collections.abc import Iterator

import jax
import numpy as np

from jaxnet.datasets import _random
from jaxnet.validation import as_array, check_int, check_key, check_real

__all__ = ["minibatches", "train_test_split"]


def train_test_split(key, X, y, test_fraction: float = 0.2, stratify: bool = False):
    """Randomly split examples (axis 0) into training and test sets.

    The test set gets `round(m * test_fraction)` examples (at least 1, at most m - 1).
    With `stratify=True` each class contributes `round(n_c * test_fraction)` examples, so
    class proportions are kept (the total may then differ by a few from the plain count).
    Order within each split is random. NumPy inputs give NumPy outputs, jax gives jax
    (indexed on the host and put back on the default device, so nothing is compiled).

    Args:
      key: a `jax.random` key.
      X: (m, ...) features.
      y: (m,) labels, (m, 1) binary labels, (m, K) one-hot, or (m, ...) regression targets.
      test_fraction: in (0, 1).
      stratify: keep class proportions (labels from y; argmax for one-hot rows).

    Returns:
      `(X_train, y_train), (X_test, y_test)`: X_train (m - m_test, ...), y_train
      (m - m_test, ...), X_test (m_test, ...), y_test (m_test, ...).

    Example:
      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> X, y = np.arange(20).reshape(10, 2), np.arange(10) % 2
      >>> (X_train, y_train), (X_test, y_test) = jn.datasets.train_test_split(
      ...     jax.random.key(0), X, y, test_fraction=0.2, stratify=True
      ... )
      >>> X_train.shape, y_train.shape, X_test.shape, sorted(y_test.tolist())
      ((8, 2), (8,), (2, 2), [0, 1])
    """
    check_key(key)
    X, y, m = _pair(X, y, "y")
    if m < 2:
        raise ValueError(f"need at least 2 examples to split, got m={m}")
    f = check_real(test_fraction, "test_fraction", 0.0, strict=True)
    if f >= 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    perm = _random.permutation(_random.key_words(key, np), 0, m)
    is_test = np.zeros(m, dtype=bool)
    if stratify:
        labels = class_labels(y, m, "y (stratify=True)")[perm]
        for c in np.unique(labels):
            where = np.flatnonzero(labels == c)
            is_test[where[: math.floor(len(where) * f + 0.5)]] = True
        if is_test.all() or not is_test.any():
            raise ValueError(f"test_fraction={f} leaves one split empty with these classes")
    else:
        is_test[: min(max(math.floor(m * f + 0.5), 1), m - 1)] = True
    train, test = perm[~is_test], perm[is_test]
    return (_take(X, train), _take(y, train)), (_take(X, test), _take(y, test))


def _take(a, index: np.ndarray):
    """`a[index]` along axis 0; a jax.Array is gathered on the host (no one-off gather program)."""
    if isinstance(a, jax.Array):
        return jax.device_put(np.asarray(a)[index])
    return a[index]


def minibatches(
    key, X, Y, batch_size: int, shuffle: bool = True, drop_last: bool = False
) -> Iterator[tuple]:
    """Iterate over one epoch of `(X_batch, Y_batch)` pairs, batches along axis 0.

    Args:
      key: a `jax.random` key for the shuffle (may be None when `shuffle=False`).
      X: (m, ...) features; Y: (m, ...) labels or targets.
      batch_size: examples per batch, >= 1.
      shuffle: visit examples in a random order (a new key gives a new order).
      drop_last: skip the final batch when it is smaller than `batch_size`.

    Returns:
      An iterator of `ceil(m / batch_size)` (or `m // batch_size` with `drop_last`)
      pairs of shapes (b, ...), b = batch_size except possibly the last.

    Example:
      >>> import jax, numpy as np
      >>> import jaxnet as jn
      >>> X, Y = np.zeros((10, 3)), np.zeros((10, 1))
      >>> [xb.shape for xb, yb in jn.datasets.minibatches(jax.random.key(0), X, Y, 4)]
      [(4, 3), (4, 3), (2, 3)]
      >>> batches = jn.datasets.minibatches(None, np.arange(5), np.arange(5), 2, shuffle=False)
      >>> [xb.tolist() for xb, yb in batches]
      [[0, 1], [2, 3], [4]]
    """
    X, Y, m = _pair(X, Y, "Y")
    batch_size = check_int(batch_size, "batch_size", 1)
    if drop_last and batch_size > m:
        raise ValueError(f"batch_size={batch_size} > m={m} with drop_last=True gives no batch")
    if shuffle:
        if key is None:
            raise ValueError("key is required when shuffle=True (or pass shuffle=False)")
        order = _random.permutation(_random.key_words(check_key(key), np), 0, m)
    else:
        order = None
    n_batches = m // batch_size if drop_last else -(-m // batch_size)
    return _batches(X, Y, order, batch_size, n_batches)


def _batches(X, Y, order, batch_size, n_batches):
    for i in range(n_batches):
        part = slice(i * batch_size, (i + 1) * batch_size)
        index = part if order is None else order[part]
        yield X[index], Y[index]


def _pair(X, Y, name):
    X, Y = as_array(X, "X"), as_array(Y, name)
    if X.ndim < 1 or Y.ndim < 1 or X.shape[0] != Y.shape[0]:
        raise ValueError(
            f"X and {name} must have the same number of examples along axis 0, got shapes "
            f"{X.shape} and {Y.shape}"
        )
    return X, Y, X.shape[0]


def class_labels(Y, m: int | None = None, name: str = "Y") -> np.ndarray:
    """Integer labels ``(m,)`` from ``(m,)``, ``(m, 1)`` or one-hot ``(m, K)`` (the one copy:
    `jaxnet.plotting` uses it too); ValueError for other shapes or another ``m``."""
    Y = np.asarray(Y)
    if Y.ndim == 2 and Y.shape[1] > 1:
        Y = Y.argmax(axis=1)
    elif Y.ndim == 2:
        Y = Y[:, 0]
    if Y.ndim != 1 or (m is not None and Y.shape[0] != m):
        expected = "" if m is None else f" with m = {m}"
        raise ValueError(
            f"{name} must be labels (m,), (m, 1) or one-hot (m, K){expected}, got shape {np.shape(Y)}"
        )
    return Y.astype(int)
