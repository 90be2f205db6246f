"""Weight initialisers: the course's schemes, and Keras's and PyTorch's defaults exactly.

``fan_in`` and ``fan_out`` are :func:`fans` of the weight's shape: ``(n[l-1], n[l])`` for a
dense ``W (n[l], n[l-1])``, ``(f f n_C_prev, f f n_C)`` for a conv kernel
``(f, f, n_C_prev, n_C)`` (the receptive field times the channels, as Keras computes them).
``randn`` is a standard normal, ``U(-a, a)`` a uniform, ``TN(s)`` a normal of standard
deviation ``s`` truncated at 2 ``s`` (redrawn beyond, as Keras's ``TruncatedNormal``)::

    | scheme         | W                                              | b                      | where from                                   |
    |----------------|------------------------------------------------|------------------------|----------------------------------------------|
    | zeros          | 0                                              | 0                      | logistic regression (no symmetry breaking)   |
    | normal         | randn * scale (default 0.01)                   | 0                      | the course's shallow planar network          |
    | he             | randn * sqrt(2 / fan_in)                       | 0                      | ReLU networks (He et al., 2015)              |
    | xavier         | randn * sqrt(2 / (fan_in + fan_out))           | 0                      | Glorot & Bengio (2010), tanh networks        |
    | lecun          | randn / sqrt(fan_in)                           | 0                      | the course's deep-network application (cats) |
    | glorot_uniform | U(-a, a), a = sqrt(6 / (fan_in + fan_out))     | 0                      | Keras's Dense and Conv2D default             |
    | glorot_normal  | TN(sqrt(2 / (fan_in + fan_out)) / .8796...)    | 0                      | keras.initializers.GlorotNormal              |
    | he_uniform     | U(-a, a), a = sqrt(6 / fan_in)                 | 0                      | keras.initializers.HeUniform                 |
    | he_normal      | TN(sqrt(2 / fan_in) / .8796...)                | 0                      | keras.initializers.HeNormal                  |
    | lecun_uniform  | U(-a, a), a = sqrt(3 / fan_in)                 | 0                      | keras.initializers.LecunUniform              |
    | lecun_normal   | TN(sqrt(1 / fan_in) / .8796...)                | 0                      | keras.initializers.LecunNormal               |
    | pytorch        | U(-a, a), a = 1 / sqrt(fan_in)                 | U(-a, a), same a       | torch nn.Linear / nn.Conv2d default          |

``.87962566103423978`` is the standard deviation of a standard normal truncated to
``[-2, 2]``: Keras divides by it so the truncated draw keeps the intended variance.
PyTorch's weights are ``kaiming_uniform_(a=sqrt(5))``: gain ``sqrt(2 / (1 + 5))``, bound
``sqrt(3) gain / sqrt(fan_in) = 1 / sqrt(fan_in)``; ``pytorch`` is the only scheme whose
bias is not zero (:func:`kernel_and_bias`).

Exactness: the Keras schemes draw as Keras 3 does on the JAX backend. Keras's integer
``seed=s`` is the raw key ``k = jnp.array([s, 0], jnp.uint32)``; with it and a dense
``W (n[l], n[l-1])``, ``get("glorot_uniform")(k, W.shape)`` equals
``keras.initializers.GlorotUniform(seed=s)((n[l-1], n[l])).T`` bit for bit: the values are
drawn in Keras's kernel layout ``(n[l-1], n[l])`` and transposed (conv kernels share
Keras's layout). PyTorch's generator cannot be reproduced; its bounds and fans are.

``jn.init`` draws every layer's values from ONE vector of standard normals and one of
standard uniforms (:class:`Draws`), so a network compiles two random-number kernels at most,
whatever its depth; the schemes turn uniforms into ``U(-a, a)`` and ``TN(s)`` exactly as
``jax.random.uniform`` and ``jax.random.truncated_normal`` do.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax import lax

__all__ = [
    "NAMES",
    "TRUNCATED_STD",
    "Draws",
    "bias_limit",
    "fans",
    "get",
    "glorot_normal",
    "glorot_uniform",
    "he",
    "he_normal",
    "he_uniform",
    "kernel_and_bias",
    "lecun",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "pytorch",
    "standard_normal",
    "standard_uniform",
    "truncated_normal",
    "uniform",
    "xavier",
    "zeros",
]

Initializer = Callable[..., jax.Array]  # (key, shape, dtype) -> array of that shape

#: The standard deviation of a standard normal truncated to [-2, 2] (Keras's constant).
TRUNCATED_STD = 0.87962566103423978


class Draws:
    """Pre-drawn standard normals and standard uniforms ``[0, 1)`` that stand in for a key.


    ``jn.init`` draws ONE vector of each kind for the whole network and hands each
    layer's ``init`` its slices, so a network compiles at most two random-number kernels
    whatever its depth (a kernel per layer compiles several times slower). Each
    :func:`standard_normal` / :func:`standard_uniform` call takes the next values of its kind.

    Without values it only counts what the draws would take (and gives zeros):
    ``jn.init`` runs each layer's ``init`` that way, under ``jax.eval_shape``, to size
    the draws.

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.initializers import Draws, standard_normal
      >>> draws = Draws(normals=jnp.arange(6.0))
      >>> standard_normal(draws, (2, 2)).tolist(), standard_normal(draws, (2,)).tolist()
      ([[0.0, 1.0], [2.0, 3.0]], [4.0, 5.0])
      >>> counter = Draws()  # counting only
      >>> _ = standard_normal(counter, (3, 4)); counter.used["normal"]
      12
    """

    def __init__(self, normals: jax.Array | None = None, uniforms: jax.Array | None = None):
        self.values = {"normal": normals, "uniform": uniforms}
        self.counting = normals is None and uniforms is None
        self.used = {"normal": 0, "uniform": 0}

    def take(self, kind: str, shape, dtype) -> jax.Array:
        """The next ``prod(shape)`` values of ``kind`` (``"normal"`` or ``"uniform"``) as a
        ``shape`` array of ``dtype`` (zeros when counting)."""
        n, start = math.prod(shape), self.used[kind]
        self.used[kind] += n
        if self.counting:
            return jnp.zeros(shape, dtype)
        values = self.values[kind]
        available = 0 if values is None else values.shape[0]
        if self.used[kind] > available:
            raise ValueError(f"drew {self.used[kind]} {kind} values from a slice of {available}")
        return values[start : self.used[kind]].reshape(shape).astype(dtype)


def standard_normal(key, shape, dtype=jnp.float32) -> jax.Array:
    """``randn(*shape)`` from a ``jax.random`` key, or the next values of a :class:`Draws`.

    Args:
      key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
      shape: the output shape, e.g. ``(n[l], n[l-1])``.
      dtype: a float dtype (default float32).

    Returns:
      Standard normals of ``shape`` and ``dtype``.

    Example:
      >>> import jax
      >>> from jaxnet.initializers import standard_normal
      >>> standard_normal(jax.random.key(0), (3, 2)).shape
      (3, 2)
    """
    if isinstance(key, Draws):
        return key.take("normal", tuple(shape), dtype)
    return jax.random.normal(key, shape, dtype)


def standard_uniform(key, shape, dtype=jnp.float32) -> jax.Array:
    """Uniforms in ``[0, 1)`` of ``shape`` from a ``jax.random`` key, or the next values of a :class:`Draws`.

    Args:
      key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
      shape: the output shape.
      dtype: a float dtype (default float32).

    Returns:
      Values in ``[0, 1)`` of ``shape`` and ``dtype``.

    Example:
      >>> import jax
      >>> from jaxnet.initializers import standard_uniform
      >>> u = standard_uniform(jax.random.key(0), (100,))
      >>> u.shape, bool(((u >= 0) & (u < 1)).all())
      ((100,), True)
    """
    if isinstance(key, Draws):
        return key.take("uniform", tuple(shape), dtype)
    return jax.random.uniform(key, shape, dtype)


def _affine(u, low: float, high: float, dtype):
    """``max(low, u (high - low) + low)``: ``jax.random.uniform``'s own map of ``[0, 1)`` to ``[low, high)``."""
    low, high = jnp.asarray(low, dtype), jnp.asarray(high, dtype)
    return lax.max(low, u * (high - low) + low)


def _keras_layout(shape) -> tuple[int, ...]:
    """The layout Keras draws a weight in: a dense ``W (n[l], n[l-1])`` as its kernel ``(n[l-1], n[l])``."""
    return tuple(shape[::-1]) if len(shape) == 2 else tuple(shape)


def _from_keras_layout(values, shape):
    return values.T if len(shape) == 2 else values


def uniform(key, shape, limit: float, dtype=jnp.float32) -> jax.Array:
    """``U(-limit, limit)`` of ``shape``: ``jax.random.uniform(key, shape, dtype, -limit, limit)``.

    From a :class:`Draws`, the same map of its next uniforms (bit for bit under ``jit``).

    Args:
      key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
      shape: the output shape.
      limit: the bound ``a > 0``.
      dtype: a float dtype (default float32).

    Returns:
      Values in ``[-limit, limit)`` of ``shape`` and ``dtype``.

    Example:
      >>> import jax
      >>> from jaxnet.initializers import uniform
      >>> W = uniform(jax.random.key(0), (100, 50), 0.1)
      >>> W.shape, bool((abs(W) <= 0.1).all())
      ((100, 50), True)
    """
    if not isinstance(key, Draws):
        return jax.random.uniform(key, shape, dtype, -limit, limit)
    return _affine(standard_uniform(key, shape, dtype), -limit, limit, dtype)


def truncated_normal(key, shape, std: float, dtype=jnp.float32) -> jax.Array:
    """``std`` times a standard normal truncated to ``[-2, 2]``:
    ``jax.random.truncated_normal(key, -2, 2, shape, dtype) * std``, as Keras draws it.

    From a :class:`Draws`, the same inverse-CDF map of its next uniforms (bit for bit under ``jit``).

    Args:
      key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
      shape: the output shape.
      std: the standard deviation before truncation.
      dtype: a float dtype (default float32).

    Returns:
      Values in ``(-2 std, 2 std)`` of ``shape`` and ``dtype``.

    Example:
      >>> import jax
      >>> from jaxnet.initializers import truncated_normal
      >>> W = truncated_normal(jax.random.key(0), (100, 50), 0.1)
      >>> W.shape, bool((abs(W) < 0.2).all())
      ((100, 50), True)
    """
    if not isinstance(key, Draws):
        return jax.random.truncated_normal(key, -2.0, 2.0, shape, dtype) * jnp.asarray(std, dtype)
    sqrt2 = jnp.asarray(math.sqrt(2), dtype)
    lower, upper = jnp.asarray(-2.0, dtype), jnp.asarray(2.0, dtype)
    a, b = lax.erf(lower / sqrt2), lax.erf(upper / sqrt2)
    u = lax.max(a, standard_uniform(key, shape, dtype) * (b - a) + a)
    x = sqrt2 * lax.erf_inv(u)
    inf = jnp.asarray(jnp.inf, dtype)
    x = jnp.clip(x, lax.nextafter(lower, inf), lax.nextafter(upper, -inf))
    return x * jnp.asarray(std, dtype)


def fans(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)``: ``(n[l-1], n[l])`` for a dense ``W (n[l], n[l-1])``; for a conv
    kernel ``(f, f, n_C_prev, n_C)`` the receptive field counts: ``(f f n_C_prev, f f n_C)``.

    Args:
      shape: the weight's shape, ``(n[l], n[l-1])`` or ``(f, f, n_C_prev, n_C)``.

    Returns:
      ``(fan_in, fan_out)``, two ints.

    Example:
      >>> from jaxnet.initializers import fans
      >>> fans((10, 4)), fans((3, 3, 2, 8))
      ((4, 10), (18, 72))
    """
    if len(shape) == 2:
        n_out, n_in = shape
        return n_in, n_out
    receptive = math.prod(shape[:-2])
    return receptive * shape[-2], receptive * shape[-1]


def zeros(key, shape, dtype=jnp.float32):
    """All-zero weights of ``shape``; the key is unused.

    Args:
      key: ignored (a key or a :class:`Draws`; nothing is drawn).
      shape: the weight's shape.
      dtype: a float dtype (default float32).

    Returns:
      Zeros of ``shape`` and ``dtype``.

    Example:
      >>> from jaxnet.initializers import zeros
      >>> zeros(None, (2, 3)).tolist()
      [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    del key
    return jnp.zeros(shape, dtype)


def _scaled(std_of: Callable[[int, int], float]) -> Initializer:
    """``randn(shape) * std_of(fan_in, fan_out)`` (see :func:`fans`)."""

    def init(key, shape, dtype=jnp.float32):
        std = std_of(*fans(shape))
        return standard_normal(key, shape, dtype) * jnp.asarray(std, dtype)

    return init


def _uniform_scheme(limit_of: Callable[[int, int], float], keras: bool = True) -> Initializer:
    """``U(-a, a)`` with ``a = limit_of(fan_in, fan_out)``, drawn in Keras's layout when ``keras``."""

    def init(key, shape, dtype=jnp.float32):
        limit = limit_of(*fans(shape))
        if not keras:
            return uniform(key, shape, limit, dtype)
        return _from_keras_layout(uniform(key, _keras_layout(shape), limit, dtype), shape)

    return init


def _truncated_scheme(variance_of: Callable[[int, int], float]) -> Initializer:
    """Keras's ``VarianceScaling(distribution="truncated_normal")``: ``TN(sqrt(variance) / .8796...)``."""

    def init(key, shape, dtype=jnp.float32):
        std = math.sqrt(variance_of(*fans(shape))) / TRUNCATED_STD
        return _from_keras_layout(truncated_normal(key, _keras_layout(shape), std, dtype), shape)

    return init


def normal(scale: float = 0.01) -> Initializer:
    """``randn * scale``: the course's small random initialisation.

    Args:
      scale: the standard deviation (the course's 0.01).

    Returns:
      An initialiser ``(key, shape, dtype=float32) -> W`` (see :func:`get`).

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> W = jn.initializers.normal(0.01)(jax.random.key(0), (3, 2))
      >>> W.shape, bool((abs(W) < 0.1).all())
      ((3, 2), True)
    """
    return _scaled(lambda n_in, n_out: scale)


_SCHEME_DOC = """{summary}

Args:
  key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
  shape: the weight's shape: dense ``W (n[l], n[l-1])``, conv ``(f, f, n_C_prev, n_C)``.
  dtype: a float dtype (default float32).

Returns:
  ``W`` of ``shape`` and ``dtype``.

Example:
  >>> import jax
  >>> import jaxnet as jn
  >>> W = jn.initializers.{name}(jax.random.key(0), (3, 2))
  >>> W.shape, W.dtype
  ((3, 2), dtype('float32'))
"""


def _scheme(name: str, init: Initializer, summary: str) -> Initializer:
    """``init`` named ``name`` (for docs and tracebacks) with its docstring."""
    init.__name__ = init.__qualname__ = name
    init.__doc__ = _SCHEME_DOC.format(summary=summary, name=name)
    return init


he = _scheme(
    "he",
    _scaled(lambda n_in, n_out: math.sqrt(2.0 / n_in)),
    "``randn * sqrt(2 / n[l-1])`` (He et al., 2015), for ReLU networks.",
)
xavier = _scheme(
    "xavier",
    _scaled(lambda n_in, n_out: math.sqrt(2.0 / (n_in + n_out))),
    "``randn * sqrt(2 / (n[l-1] + n[l]))`` (Glorot & Bengio, 2010), for tanh networks.",
)
lecun = _scheme(
    "lecun",
    _scaled(lambda n_in, n_out: math.sqrt(1.0 / n_in)),
    "``randn / sqrt(n[l-1])``, the deep-network application (cats).",
)

# Keras's fans are max(1, fan); jaxnet's are >= 1 already.
glorot_uniform = _scheme(
    "glorot_uniform",
    _uniform_scheme(lambda n_in, n_out: math.sqrt(6.0 / (n_in + n_out))),
    "Keras's ``GlorotUniform`` (its Dense and Conv2D default): ``U(-a, a)``, "
    "``a = sqrt(6 / (fan_in + fan_out))``.",
)
glorot_normal = _scheme(
    "glorot_normal",
    _truncated_scheme(lambda n_in, n_out: 2.0 / (n_in + n_out)),
    "Keras's ``GlorotNormal``: ``TN(sqrt(2 / (fan_in + fan_out)) / .8796...)``.",
)
he_uniform = _scheme(
    "he_uniform",
    _uniform_scheme(lambda n_in, n_out: math.sqrt(6.0 / n_in)),
    "Keras's ``HeUniform``: ``U(-a, a)``, ``a = sqrt(6 / fan_in)``.",
)
he_normal = _scheme(
    "he_normal",
    _truncated_scheme(lambda n_in, n_out: 2.0 / n_in),
    "Keras's ``HeNormal``: ``TN(sqrt(2 / fan_in) / .8796...)``.",
)
lecun_uniform = _scheme(
    "lecun_uniform",
    _uniform_scheme(lambda n_in, n_out: math.sqrt(3.0 / n_in)),
    "Keras's ``LecunUniform``: ``U(-a, a)``, ``a = sqrt(3 / fan_in)``.",
)
lecun_normal = _scheme(
    "lecun_normal",
    _truncated_scheme(lambda n_in, n_out: 1.0 / n_in),
    "Keras's ``LecunNormal``: ``TN(sqrt(1 / fan_in) / .8796...)``.",
)
pytorch = _scheme(
    "pytorch",
    _uniform_scheme(lambda n_in, n_out: 1.0 / math.sqrt(n_in), keras=False),
    "PyTorch's ``nn.Linear``/``nn.Conv2d`` weights, ``kaiming_uniform_(a=sqrt(5))``: "
    "``U(-a, a)``, ``a = 1 / sqrt(fan_in)`` (drawn in jaxnet's layout, which is PyTorch's "
    "for a dense ``W``).",
)

NAMES = (
    "zeros",
    "normal",
    "he",
    "xavier",
    "lecun",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "pytorch",
)

_SCHEMES = {
    "zeros": zeros,
    "he": he,
    "xavier": xavier,
    "glorot": xavier,
    "lecun": lecun,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "lecun_uniform": lecun_uniform,
    "lecun_normal": lecun_normal,
    "pytorch": pytorch,
}


def get(scheme: str, *, scale: float = 0.01) -> Initializer:
    """The weight initialiser of a scheme named in ``NAMES`` (``glorot`` is an alias of ``xavier``).

    Every initializer is ``(key, shape, dtype) -> W``, where ``key`` is a ``jax.random``
    key or a :class:`Draws`.

    Args:
      scheme: a name of ``NAMES`` (case-insensitive) or ``"glorot"``.
      scale: the standard deviation of ``"normal"`` (ignored by the others).

    Returns:
      The initialiser, a function ``(key, shape, dtype=float32) -> W``.

    Raises:
      TypeError: ``scheme`` is not a str.
      ValueError: for an unknown scheme (the message lists the valid ones).

    Example:
      >>> import jax
      >>> from jaxnet.initializers import get
      >>> get("glorot_uniform")(jax.random.key(0), (3, 2)).shape
      (3, 2)
      >>> get("glorot") is get("xavier")
      True
    """
    if not isinstance(scheme, str):
        raise TypeError(
            f"scheme must be an init scheme's name ({', '.join(NAMES)}), got "
            f"scheme={scheme!r:.80} of type {type(scheme).__name__}"
        )
    name = scheme.lower()
    if name == "normal":
        return normal(scale)
    if name not in _SCHEMES:
        raise ValueError(f"unknown init scheme {scheme!r}; expected one of: {', '.join(NAMES)}")
    return _SCHEMES[name]


def bias_limit(scheme: str, W_shape) -> float | None:
    """The bound ``a`` of the ``U(-a, a)`` bias a scheme draws, or None for zero biases.

    Only ``"pytorch"`` draws biases: ``a = 1 / sqrt(fan_in)`` of the layer's ``W``.

    Args:
      scheme: a name of ``NAMES``.
      W_shape: the shape of the layer's ``W`` (its :func:`fans` give ``fan_in``).

    Returns:
      A float ``a``, or None.

    Example:
      >>> from jaxnet.initializers import bias_limit
      >>> bias_limit("pytorch", (10, 4)), bias_limit("he", (10, 4))
      (0.5, None)
    """
    if str(scheme).lower() != "pytorch":
        return None
    return 1.0 / math.sqrt(fans(W_shape)[0])


def kernel_and_bias(key, scheme: str, W_shape, b_shape, dtype=jnp.float32, *, scale=0.01) -> dict:
    """``{"W": ..., "b": ...}`` for a weighted layer (Dense, Conv2D): ``W`` by ``scheme``, then
    ``b`` (zeros, or ``U(-a, a)`` for ``"pytorch"``: :func:`bias_limit`), drawn in that order.

    Args:
      key: a ``jax.random`` key, or a :class:`Draws` (the pre-drawn values ``jn.init`` passes).
      scheme: a name of ``NAMES``.
      W_shape: dense ``(n[l], n[l-1])`` or conv ``(f, f, n_C_prev, n_C)``.
      b_shape: ``(n[l],)`` or ``(n_C,)``.
      dtype: a float dtype (default float32).
      scale: the standard deviation of ``"normal"``.

    Returns:
      ``{"W": W_shape array, "b": b_shape array}`` of ``dtype``.

    Example:
      >>> import jax
      >>> from jaxnet.initializers import kernel_and_bias
      >>> p = kernel_and_bias(jax.random.key(0), "pytorch", (3, 4), (3,))
      >>> p["W"].shape, p["b"].shape, bool((abs(p["b"]) <= 0.5).all() and (p["b"] != 0).all())
      ((3, 4), (3,), True)
    """
    W = get(scheme, scale=scale)(key, W_shape, dtype)
    limit = bias_limit(scheme, W_shape)
    if limit is None:
        return {"W": W, "b": jnp.zeros(b_shape, dtype)}
    if not isinstance(key, Draws):  # a separate key for the bias, as a separate draw
        key = jax.random.fold_in(key, 1)
    return {"W": W, "b": uniform(key, b_shape, limit, dtype)}
