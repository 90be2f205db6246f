"""Pure array preprocessing: unroll images, scale pixels, standardize, one-hot labels."""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.datasets._validate import as_array, check_int, check_real, is_traced


def flatten_images(X):
    """The course's unroll: (m, h, w, c) -> (m, h*w*c), C order (height, width, channel).

    Any (m, ...) array works; NumPy stays NumPy, a jax.Array stays a jax.Array (jit-safe).
    The course's `x.reshape(m, -1).T` is this, transposed to examples-first.
    """
    X = as_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must have shape (m, ...) with ndim >= 2, got shape {X.shape}")
    return X.reshape(X.shape[0], math.prod(X.shape[1:]))


def scale(X, max_value: float = 255.0) -> jax.Array:
    """`X / max_value` as float32 (pixels 0..255 -> 0..1). Same shape as X; jit-safe."""
    if not is_traced(max_value):
        check_real(max_value, "max_value", 0.0, strict=True)
    return jnp.asarray(as_array(X, "X"), jnp.float32) / jnp.float32(max_value)


class Standardization(NamedTuple):
    """Per-feature statistics fitted on training data; `apply` maps any split with them.

    mean, std: shape X.shape[1:] (e.g. (n_x,)). Constant features have std set to 1,
    so they map to 0 instead of NaN.
    """

    mean: jax.Array
    std: jax.Array

    @classmethod
    def fit(cls, X) -> "Standardization":
        """Mean and guarded std over axis 0 of X (m, ...), m >= 1."""
        X = _float(X)
        if X.ndim < 1 or X.shape[0] == 0:
            raise ValueError(f"X must have shape (m, ...) with m >= 1, got shape {X.shape}")
        mean, std = jnp.mean(X, axis=0), jnp.std(X, axis=0)
        # Below float rounding level the spread is noise: treat the feature as constant.
        constant = std <= 100 * jnp.finfo(X.dtype).eps * jnp.abs(mean)
        return cls(mean, jnp.where(constant, jnp.ones_like(std), std))

    def apply(self, X) -> jax.Array:
        """(X - mean) / std, X of shape (m, *mean.shape)."""
        X = _float(X)
        if X.shape[1:] != self.mean.shape:
            raise ValueError(f"X must have shape (m, {self.mean.shape}), got {X.shape}")
        return (X - self.mean[None]) / self.std[None]

    def invert(self, Z) -> jax.Array:
        """Undo `apply`: Z * std + mean."""
        return _float(Z) * self.std[None] + self.mean[None]


def standardize(X_train, X_test=None):
    """Fit mean/std on X_train (per feature, axis 0) and standardize both splits.

    Returns:
      `(stats, X_train_std, X_test_std)`: a `Standardization`, X_train standardized, and
      X_test standardized with the training statistics (None when X_test is None).
    """
    stats = Standardization.fit(X_train)
    return stats, stats.apply(X_train), None if X_test is None else stats.apply(X_test)


def one_hot(y, num_classes: int) -> jax.Array:
    """Integer labels (m,) -> float32 one-hot (m, num_classes). jit-safe (num_classes static)."""
    num_classes = check_int(num_classes, "num_classes", 1)
    y = as_array(y, "y")
    if y.ndim != 1:
        raise ValueError(f"y must have shape (m,), got shape {y.shape}")
    if not jnp.issubdtype(y.dtype, jnp.integer):
        raise TypeError(f"y must hold integer labels, got dtype {y.dtype}")
    if not is_traced(y) and y.size:
        lo, hi = int(np.min(y)), int(np.max(y))
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"y holds label {bad}, outside 0..{num_classes - 1} (num_classes)")
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32)


def from_one_hot(Y) -> jax.Array:
    """One-hot or probability rows (m, K) -> int32 labels (m,) by argmax. jit-safe."""
    Y = as_array(Y, "Y")
    if Y.ndim != 2:
        raise ValueError(f"Y must have shape (m, K), got shape {Y.shape}")
    return jnp.argmax(Y, axis=1).astype(jnp.int32)


def _float(X) -> jax.Array:
    X = jnp.asarray(as_array(X, "X"))
    return X if jnp.issubdtype(X.dtype, jnp.floating) else X.astype(jnp.float32)
