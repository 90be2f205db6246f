"""Thin wrappers over scikit-learn's generators and bundled sets, seeded from a jax key."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.datasets._optional import require
from jaxnet.validation import check_int, check_key

__all__ = [
    "load_breast_cancer",
    "load_digits",
    "make_blobs",
    "make_circles",
    "make_classification",
    "make_gaussian_quantiles",
    "make_moons",
    "random_state",
]

_RESERVED = {"n_samples": "m", "random_state": "key", "return_X_y": None, "return_centers": None}


def random_state(key) -> int:
    """A scikit-learn `random_state` in [0, 2**31 - 1) derived from a `jax.random` key.

    Args:
      key: a `jax.random` key.

    Returns:
      A Python int, the same for the same key (one draw of `jax.random.randint`).

    Example:
      >>> import jax
      >>> from jaxnet.datasets import scikit
      >>> seed = scikit.random_state(jax.random.key(0))
      >>> 0 <= seed < 2**31 - 1, seed == scikit.random_state(jax.random.key(0))
      (True, True)
    """
    check_key(key)
    return int(jax.random.randint(key, (), 0, 2**31 - 1, dtype=jnp.int32))


def make_classification(key, m: int = 5000, n_features: int = 20, **kwargs):
    """`sklearn.datasets.make_classification`: X (m, n_features) float32, y (m,) int32.

    Args:
      key: a `jax.random` key; the same key gives the same data (see `random_state`).
      m: number of examples, >= 2.
      n_features: number of features (columns of X).
      kwargs: further keyword arguments of the scikit-learn function (e.g.
        `n_informative`, `n_classes`); not `n_samples`/`random_state` (use `m`/`key`).

    Returns:
      X: (m, n_features) float32 NumPy array; y: (m,) int32 labels (0..n_classes-1).

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.make_classification(jax.random.key(0), m=10, n_features=5)
      >>> X.shape, X.dtype, y.shape, y.dtype, sorted(set(y.tolist()))
      ((10, 5), dtype('float32'), (10,), dtype('int32'), [0, 1])
    """
    return _generate("make_classification", key, m, n_features=n_features, **kwargs)


def make_moons(key, m: int = 200, *, noise: float = 0.2, **kwargs):
    """`sklearn.datasets.make_moons` (course defaults): X (m, 2) float32, y (m,) int32.

    Args:
      key: a `jax.random` key; the same key gives the same data (see `random_state`).
      m: number of examples, >= 2.
      noise: standard deviation of the Gaussian noise added to the points.
      kwargs: further keyword arguments of the scikit-learn function (e.g. `shuffle`); not
        `n_samples`/`random_state` (use `m`/`key`).

    Returns:
      X: (m, 2) float32 NumPy array; y: (m,) int32 labels in {0, 1}.

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.make_moons(jax.random.key(0), m=10)
      >>> X.shape, X.dtype, y.shape, y.dtype, sorted(set(y.tolist()))
      ((10, 2), dtype('float32'), (10,), dtype('int32'), [0, 1])
    """
    return _generate("make_moons", key, m, noise=noise, **kwargs)


def make_circles(key, m: int = 200, *, noise: float = 0.3, factor: float = 0.5, **kwargs):
    """`sklearn.datasets.make_circles` (course defaults): X (m, 2) float32, y (m,) int32.

    Args:
      key: a `jax.random` key; the same key gives the same data (see `random_state`).
      m: number of examples, >= 2.
      noise: standard deviation of the Gaussian noise added to the points.
      factor: the inner circle's radius relative to the outer one, in (0, 1).
      kwargs: further keyword arguments of the scikit-learn function (e.g. `shuffle`); not
        `n_samples`/`random_state` (use `m`/`key`).

    Returns:
      X: (m, 2) float32 NumPy array; y: (m,) int32 labels, 1 for the inner circle.

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.make_circles(jax.random.key(0), m=10)
      >>> X.shape, X.dtype, y.shape, y.dtype, sorted(set(y.tolist()))
      ((10, 2), dtype('float32'), (10,), dtype('int32'), [0, 1])
    """
    return _generate("make_circles", key, m, noise=noise, factor=factor, **kwargs)


def make_blobs(key, m: int = 200, *, n_features: int = 2, centers=6, **kwargs):
    """`sklearn.datasets.make_blobs` (course defaults): X (m, n_features) float32, y (m,) int32.

    With the default 6 centers y is in 0..5 (the course then takes `y % 2`).

    Args:
      key: a `jax.random` key; the same key gives the same data (see `random_state`).
      m: number of examples, >= 2.
      n_features: number of features (columns of X).
      centers: the number of blobs, or their centers (n_centers, n_features).
      kwargs: further keyword arguments of the scikit-learn function (e.g. `cluster_std`); not
        `n_samples`/`random_state` (use `m`/`key`).

    Returns:
      X: (m, n_features) float32 NumPy array; y: (m,) int32 index of each point's blob.

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.make_blobs(jax.random.key(0), m=12)
      >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
      ((12, 2), dtype('float32'), dtype('int32'), [0, 1, 2, 3, 4, 5])
    """
    return _generate("make_blobs", key, m, n_features=n_features, centers=centers, **kwargs)


def make_gaussian_quantiles(
    key, m: int = 200, *, n_features: int = 2, n_classes: int = 2, cov: float = 0.5, **kwargs
):
    """`sklearn.datasets.make_gaussian_quantiles` (course defaults): X (m, n_features), y (m,).

    Class k holds the points between two quantiles of a Gaussian's distance to its mean
    (nested shells).

    Args:
      key: a `jax.random` key; the same key gives the same data (see `random_state`).
      m: number of examples, >= 2.
      n_features: number of features (columns of X).
      n_classes: number of classes (shells).
      cov: the Gaussian's variance (a multiple of the identity).
      kwargs: further keyword arguments of the scikit-learn function (e.g. `mean`); not
        `n_samples`/`random_state` (use `m`/`key`).

    Returns:
      X: (m, n_features) float32 NumPy array; y: (m,) int32 labels 0..n_classes-1.

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.make_gaussian_quantiles(jax.random.key(0), m=10)
      >>> X.shape, X.dtype, y.dtype, sorted(set(y.tolist()))
      ((10, 2), dtype('float32'), dtype('int32'), [0, 1])
    """
    return _generate(
        "make_gaussian_quantiles",
        key,
        m,
        n_features=n_features,
        n_classes=n_classes,
        cov=cov,
        **kwargs,
    )


def load_breast_cancer():
    """Wisconsin breast cancer (bundled with scikit-learn): X (569, 30) float32, y (569,) int32.

    y: 0 = malignant, 1 = benign. Features are raw (standardize them before training).

    Returns:
      X: (569, 30) float32 NumPy array; y: (569,) int32 labels (357 benign).

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.load_breast_cancer()
      >>> X.shape, X.dtype, y.shape, y.dtype, int(y.sum())
      ((569, 30), dtype('float32'), (569,), dtype('int32'), 357)
    """
    X, y = _datasets("load_breast_cancer").load_breast_cancer(return_X_y=True)
    return _cast(X, y)


def load_digits(n_class: int = 10):
    """8x8 digits (bundled with scikit-learn): X (m, 64) float32 in 0..16, y (m,) int32.

    m = 1797 for all 10 classes; `n_class` keeps digits 0..n_class-1 only.

    Args:
      n_class: keep the digits 0..n_class-1, 1 <= n_class <= 10.

    Returns:
      X: (m, 64) float32 NumPy array, the 8x8 images unrolled row by row, pixels 0..16;
      y: (m,) int32 labels 0..n_class-1.

    Raises:
      ImportError: scikit-learn is not installed.

    Example:
      >>> import jaxnet as jn
      >>> X, y = jn.datasets.load_digits(n_class=3)
      >>> X.shape, X.dtype, sorted(set(y.tolist()))
      ((537, 64), dtype('float32'), [0, 1, 2])
    """
    n_class = check_int(n_class, "n_class", 1)
    if n_class > 10:
        raise ValueError(f"n_class must be between 1 and 10, got {n_class}")
    X, y = _datasets("load_digits").load_digits(n_class=n_class, return_X_y=True)
    return _cast(X, y)


def _generate(name: str, key, m: int, **kwargs):
    check_key(key)
    m = check_int(m, "m", 2)
    for arg, use in _RESERVED.items():
        if arg in kwargs:
            hint = f"; use {use}= instead" if use else ""
            raise TypeError(f"{name}() does not take {arg}={kwargs[arg]!r}{hint}")
    generate = getattr(_datasets(name), name)
    X, y = generate(n_samples=m, random_state=random_state(key), **kwargs)
    return _cast(X, y)


def _datasets(feature: str):
    require("sklearn", feature)
    return importlib.import_module("sklearn.datasets")


def _cast(X, y):
    return np.asarray(X, dtype=np.float32), np.asarray(y, dtype=np.int32)
