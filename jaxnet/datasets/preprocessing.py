"""Pure array preprocessing: unroll images, scale pixels, standardize, one-hot labels.

Host (NumPy) inputs are computed with NumPy and the result put on the device, so preparing
data compiles nothing; jax.Array inputs (and traced values, inside `jit`) use `jax.numpy`.
Either way the results are jax.Arrays.
"""

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.datasets._random import placed
from jaxnet.validation import as_array, check_int, check_real, is_traced

__all__ = ["Standardization", "flatten_images", "from_one_hot", "one_hot", "scale", "standardize"]


def flatten_images(X):
    """The course's unroll: (m, h, w, c) -> (m, h*w*c), C order (height, width, channel).

    Any (m, ...) array works; NumPy stays NumPy, a jax.Array stays a jax.Array (jit-safe).
    The course's `x.reshape(m, -1).T` is this, transposed to examples-first.

    Args:
      X: images (m, h, w, c), or any array (m, ...) with ndim >= 2.

    Returns:
      (m, h*w*c): row i is image i unrolled, of X's dtype and array type.

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> X = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)  # 2 images 2x2, RGB
      >>> flat = jn.datasets.flatten_images(X)
      >>> flat.shape, flat[0, :4].tolist()
      ((2, 12), [0, 1, 2, 3])
    """
    X = as_array(X, "X")
    if X.ndim < 2:
        raise ValueError(f"X must have shape (m, ...) with ndim >= 2, got shape {X.shape}")
    return X.reshape(X.shape[0], math.prod(X.shape[1:]))


def scale(X, max_value: float = 255.0) -> jax.Array:
    """`X / max_value` as float32 (pixels 0..255 -> 0..1). Same shape as X; jit-safe.

    Args:
      X: an array of any shape, e.g. images (m, h, w, c) of uint8 pixels.
      max_value: the divisor, > 0 (255 for 8-bit pixels).

    Returns:
      A float32 jax.Array of X's shape.

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> pixels = jn.datasets.scale(np.array([[0, 51, 255]], np.uint8))
      >>> pixels.shape, pixels.dtype, [round(float(v), 4) for v in pixels[0]]
      ((1, 3), dtype('float32'), [0.0, 0.2, 1.0])
    """
    X = as_array(X, "X")
    if not is_traced(max_value):
        check_real(max_value, "max_value", 0.0, strict=True)
        if isinstance(X, np.ndarray):
            # one float32 array, divided as it is cast (no float32 copy of X first: for
            # MNIST's 60,000 images, 188 MB less to allocate and fill)
            return placed(np.divide(X, np.float32(max_value), dtype=np.float32))
    return jnp.asarray(X, jnp.float32) / jnp.float32(max_value)


class Standardization(NamedTuple):
    """Per-feature statistics fitted on training data; `apply` maps any split with them.

    mean, std: shape X.shape[1:] (e.g. (n_x,)). Constant features have std set to 1,
    so they map to 0 instead of NaN.

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> X_train = np.array([[1.0, 10.0], [3.0, 10.0]], np.float32)  # feature 1 is constant
      >>> stats = jn.datasets.Standardization.fit(X_train)
      >>> np.asarray(stats.mean).tolist(), np.asarray(stats.std).tolist()
      ([2.0, 10.0], [1.0, 1.0])
      >>> Z = stats.apply(np.array([[5.0, 12.0]], np.float32))
      >>> np.asarray(Z).tolist(), np.asarray(stats.invert(Z)).tolist()
      ([[3.0, 2.0]], [[5.0, 12.0]])
    """

    mean: jax.Array
    std: jax.Array

    @classmethod
    def fit(cls, X) -> "Standardization":
        """Mean and guarded std over axis 0 of X (m, ...), m >= 1."""
        X, xp = _float(X)
        if X.ndim < 1 or X.shape[0] == 0:
            raise ValueError(f"X must have shape (m, ...) with m >= 1, got shape {X.shape}")
        mean, std = xp.mean(X, axis=0), xp.std(X, axis=0)
        # Below float rounding level the spread is noise: treat the feature as constant.
        constant = std <= 100 * xp.finfo(X.dtype).eps * xp.abs(mean)
        return cls(*placed(mean, xp.where(constant, xp.ones_like(std), std)))

    def apply(self, X) -> jax.Array:
        """``(X - mean) / std``, X of shape ``(m, *mean.shape)``."""
        X, xp = _float(X, self)
        if X.shape[1:] != self.mean.shape:
            raise ValueError(f"X must have shape (m, {self.mean.shape}), got {X.shape}")
        mean, std = self._like(xp)
        return placed((X - mean[None]) / std[None])

    def invert(self, Z) -> jax.Array:
        """Undo `apply`: Z * std + mean."""
        Z, xp = _float(Z, self)
        mean, std = self._like(xp)
        return placed(Z * std[None] + mean[None])

    def _like(self, xp):
        return (np.asarray(self.mean), np.asarray(self.std)) if xp is np else (self.mean, self.std)


def standardize(X_train, X_test=None):
    """Fit mean/std on X_train (per feature, axis 0) and standardize both splits.

    ``X_std = (X - mean) / std`` with the training split's mean and std (std 1 for a
    constant feature).

    Args:
      X_train: (m, ...) training features; the statistics are computed on it alone.
      X_test: (m_test, ...) features of another split, or None.

    Returns:
      `(stats, X_train_std, X_test_std)`: a `Standardization`, X_train standardized, and
      X_test standardized with the training statistics (None when X_test is None).
      The arrays have the shapes of the inputs, mean and std the shape X_train.shape[1:].

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> X_train = np.array([[1.0, 10.0], [3.0, 10.0]], np.float32)
      >>> stats, Z_train, Z_test = jn.datasets.standardize(X_train, X_train[:1] + 2)
      >>> np.asarray(Z_train).tolist(), np.asarray(Z_test).tolist()
      ([[-1.0, 0.0], [1.0, 0.0]], [[1.0, 2.0]])
    """
    stats = Standardization.fit(X_train)
    return stats, stats.apply(X_train), None if X_test is None else stats.apply(X_test)


def one_hot(y, num_classes: int) -> jax.Array:
    """Integer labels (m,) -> float32 one-hot (m, num_classes). jit-safe (num_classes static).

    ``Y[i, k] = 1`` when ``y[i] == k``, else 0: the course's ``convert_to_one_hot``,
    examples-first.

    Args:
      y: (m,) integer labels in 0..num_classes-1.
      num_classes: K, the number of columns, >= 1.

    Returns:
      (m, num_classes) float32 jax.Array.

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> Y = jn.datasets.one_hot(np.array([0, 2, 1]), 3)
      >>> Y.shape, Y.dtype, np.asarray(Y).tolist()
      ((3, 3), dtype('float32'), [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    """
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
    if _namespace(y) is np:
        return placed((y[:, None] == np.arange(num_classes)).astype(np.float32))
    return jax.nn.one_hot(y, num_classes, dtype=jnp.float32)


def from_one_hot(Y) -> jax.Array:
    """One-hot or probability rows (m, K) -> int32 labels (m,) by argmax. jit-safe.

    Args:
      Y: (m, K) one-hot labels or predicted probabilities (e.g. softmax outputs).

    Returns:
      (m,) int32 jax.Array: the column of each row's largest value (the first on ties).

    Example:
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> y = jn.datasets.from_one_hot(np.array([[0.1, 0.9], [0.8, 0.2]]))
      >>> y.shape, y.dtype, y.tolist()
      ((2,), dtype('int32'), [1, 0])
    """
    Y = as_array(Y, "Y")
    if Y.ndim != 2:
        raise ValueError(f"Y must have shape (m, K), got shape {Y.shape}")
    xp = _namespace(Y)
    return placed(xp.argmax(Y, axis=1).astype(xp.int32))


def _namespace(X, stats=None):
    """NumPy for host arrays (with concrete statistics), else `jax.numpy`."""
    on_host = isinstance(X, np.ndarray) and not (stats is not None and is_traced(stats.mean))
    return np if on_host else jnp


def _float(X, stats=None):
    """X as a floating array of jax's dtype for it (float32 unless x64), and its namespace."""
    X = as_array(X, "X")
    xp = _namespace(X, stats)
    dtype = X.dtype if xp.issubdtype(X.dtype, xp.floating) else np.float32
    return xp.asarray(X, jax.dtypes.canonicalize_dtype(dtype)), xp
