"""Thin wrappers over scikit-learn's generators and bundled sets, seeded from a jax key."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.datasets._optional import require
from jaxnet.validation import check_int, check_key

_RESERVED = {"n_samples": "m", "random_state": "key", "return_X_y": None, "return_centers": None}


def random_state(key) -> int:
    """A scikit-learn `random_state` in [0, 2**31 - 1) derived from a `jax.random` key."""
    check_key(key)
    return int(jax.random.randint(key, (), 0, 2**31 - 1, dtype=jnp.int32))


def make_classification(key, m: int = 5000, n_features: int = 20, **kwargs):
    """`sklearn.datasets.make_classification`: X (m, n_features) float32, y (m,) int32."""
    return _generate("make_classification", key, m, n_features=n_features, **kwargs)


def make_moons(key, m: int = 200, *, noise: float = 0.2, **kwargs):
    """`sklearn.datasets.make_moons` (course defaults): X (m, 2) float32, y (m,) int32."""
    return _generate("make_moons", key, m, noise=noise, **kwargs)


def make_circles(key, m: int = 200, *, noise: float = 0.3, factor: float = 0.5, **kwargs):
    """`sklearn.datasets.make_circles` (course defaults): X (m, 2) float32, y (m,) int32."""
    return _generate("make_circles", key, m, noise=noise, factor=factor, **kwargs)


def make_blobs(key, m: int = 200, *, n_features: int = 2, centers=6, **kwargs):
    """`sklearn.datasets.make_blobs` (course defaults): X (m, n_features) float32, y (m,) int32.

    With the default 6 centers y is in 0..5 (the course then takes `y % 2`).
    """
    return _generate("make_blobs", key, m, n_features=n_features, centers=centers, **kwargs)


def make_gaussian_quantiles(
    key, m: int = 200, *, n_features: int = 2, n_classes: int = 2, cov: float = 0.5, **kwargs
):
    """`sklearn.datasets.make_gaussian_quantiles` (course defaults): X (m, n_features), y (m,)."""
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
    """
    X, y = _datasets("load_breast_cancer").load_breast_cancer(return_X_y=True)
    return _cast(X, y)


def load_digits(n_class: int = 10):
    """8x8 digits (bundled with scikit-learn): X (m, 64) float32 in 0..16, y (m,) int32.

    m = 1797 for all 10 classes; `n_class` keeps digits 0..n_class-1 only.
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
