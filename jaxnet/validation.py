"""Checks at the public boundary: each error names the argument, what it got and what was expected.

The one validation module: scalar arguments (:func:`check_int`, :func:`check_real`,
:func:`check_choice`, :func:`check_bool`, :func:`check_key`), arrays (:func:`as_array`),
and a network's params, inputs and labels (:func:`check_params`, :func:`as_inputs`,
:func:`as_labels`).

One rule for every checker, and for every public entry point that uses them (layer
constructors, ``Network``, ``Sequential``, ``jn.init``, ``jn.fit``, callbacks, ...): a
wrong TYPE is a ``TypeError``, a wrong VALUE a ``ValueError``, both naming the argument,
what it got and what is allowed. NumPy integers are accepted wherever Python ints are,
NumPy floats wherever floats are; a ``bool`` is neither (``True`` is not a learning rate).

Shape checks always run (they are static, so they also work on tracers inside ``jit``);
value checks (finiteness, label range) run only on concrete arrays, once, outside traced code.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import activations

if TYPE_CHECKING:  # jaxnet.network imports this module (its layers check their fields here)
    from jaxnet.network import Network

__all__ = [
    "as_array",
    "as_inputs",
    "as_labels",
    "check_activation",
    "check_bool",
    "check_caches",
    "check_choice",
    "check_dtype",
    "check_int",
    "check_ints",
    "check_key",
    "check_l2",
    "check_mode",
    "check_network",
    "check_params",
    "check_rate",
    "check_real",
    "is_traced",
]

# --- scalars -------------------------------------------------------------------------------


def is_traced(x) -> bool:
    """True when ``x`` is a JAX tracer (inside ``jit``/``vmap``/``grad``): its value cannot be read."""
    return isinstance(x, jax.core.Tracer)


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int: an integer (a NumPy one too, not a bool) in ``[minimum, maximum]``.

    Args:
      value: the argument.
      name: its name, for the message.
      minimum, maximum: the bounds, inclusive (None: unbounded).

    Returns:
      ``int(value)``.

    Raises:
      TypeError: ``value`` is not an integer (a float, a str, a bool).
      ValueError: it is out of bounds.

    Example:
      >>> import numpy as np
      >>> check_int(np.int64(3), "units", 1)
      3
      >>> check_int(0, "units", 1)
      Traceback (most recent call last):
      ...
      ValueError: units must be an int >= 1, got units=0
      >>> check_int(2.0, "units", 1)
      Traceback (most recent call last):
      ...
      TypeError: units must be an int (a Python or NumPy integer, not a bool), got units=2.0 of type float
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be an int (a Python or NumPy integer, not a bool), got "
            f"{_got(name, value)}"
        )
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(
            f"{name} must be an int {_bounds(minimum, maximum)}, got {name}={int(value)}"
        )
    return int(value)


def check_ints(values, name: str, minimum: int | None = None, *, min_length: int = 0) -> tuple:
    """``values`` as a tuple of Python ints, each checked by :func:`check_int` (named ``name[i]``).

    Raises:
      TypeError: ``values`` is not a sequence (a str is not), or an entry is not an integer.
      ValueError: fewer than ``min_length`` entries, or an entry below ``minimum``.

    Example:
      >>> import numpy as np
      >>> check_ints(np.array([784, 10]), "sizes", 1, min_length=2)
      (784, 10)
      >>> check_ints((784, 0), "sizes", 1)
      Traceback (most recent call last):
      ...
      ValueError: sizes[1] must be an int >= 1, got sizes[1]=0
    """
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"{name} must be a sequence of ints, got {_got(name, values)}")
    values = tuple(values)
    if len(values) < min_length:
        raise ValueError(
            f"{name} must be a sequence of at least {min_length} ints, got {name}={values!r:.80}"
        )
    return tuple(check_int(v, f"{name}[{i}]", minimum) for i, v in enumerate(values))


def check_real(
    value,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    strict: bool = False,
    strict_maximum: bool = False,
) -> float:
    """``value`` as a Python float: a finite real number (a NumPy one too, not a bool) within bounds.

    Args:
      value: the argument.
      name: its name, for the message.
      minimum, maximum: the bounds (None: unbounded); inclusive unless ``strict`` (for
        ``minimum``) or ``strict_maximum``.

    Returns:
      ``float(value)``.

    Raises:
      TypeError: ``value`` is not a real number (a str, a bool, a complex).
      ValueError: it is not finite, or out of bounds.

    Example:
      >>> import numpy as np
      >>> check_real(np.float32(0.5), "rate", 0.0, 1.0, strict_maximum=True)
      0.5
      >>> check_real(1, "rate", 0.0, 1.0, strict_maximum=True)
      Traceback (most recent call last):
      ...
      ValueError: rate must be a number in [0, 1), got rate=1.0
      >>> check_real("0.1", "learning_rate", 0.0, strict=True)
      Traceback (most recent call last):
      ...
      TypeError: learning_rate must be a real number (a Python or NumPy int or float, not a bool), got learning_rate='0.1' of type str
    """
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{name} must be a real number (a Python or NumPy int or float, not a bool), got "
            f"{_got(name, value)}"
        )
    value = float(value)
    too_small = minimum is not None and (value < minimum or (strict and value == minimum))
    too_big = maximum is not None and (value > maximum or (strict_maximum and value == maximum))
    if not math.isfinite(value) or too_small or too_big:
        bounds = _bounds(minimum, maximum, strict, strict_maximum)
        allowed = f"a number {bounds}" if bounds.startswith("in") else f"a finite number {bounds}"
        raise ValueError(f"{name} must be {allowed.rstrip()}, got {name}={value!r}")
    return value


def check_l2(value, name: str = "l2") -> float:
    """``value`` as the float λ >= 0 of an L2 penalty (0 turns it off): :func:`check_real`.

    >>> check_l2(0.7)
    0.7
    """
    return check_real(value, name, 0.0)


def check_rate(value, name: str = "rate") -> float:
    """``value`` as a dropout rate, a float in [0, 1) (the fraction dropped; ``keep_prob = 1 - rate``).

    >>> check_rate(0.25)
    0.25
    """
    return check_real(value, name, 0.0, 1.0, strict_maximum=True)


def _got(name: str, value) -> str:
    """``name=value of type T``: what a ``TypeError`` got."""
    return f"{name}={value!r:.80} of type {type(value).__name__}"


def _bounds(minimum, maximum, strict: bool = False, strict_maximum: bool = False) -> str:
    """``">= 1"``, ``"in [0, 1)"``, ``"<= 5"`` or ``""``."""
    if minimum is not None and maximum is not None:
        low, high = "(" if strict else "[", ")" if strict_maximum else "]"
        return f"in {low}{minimum:g}, {maximum:g}{high}"
    if minimum is not None:
        return f"{'>' if strict else '>='} {minimum:g}"
    if maximum is not None:
        return f"{'<' if strict_maximum else '<='} {maximum:g}"
    return ""


def check_choice(value, name: str, choices):
    """``value`` if it is one of ``choices`` (the matching choice itself: ``np.int64(1)`` -> ``1``).

    Raises:
      TypeError: ``value`` is of no choice's type (a number among names).
      ValueError: it is of the right type but not one of them (the message lists them).

    Example:
      >>> check_choice("adam", "optimizer", ("sgd", "adam"))
      'adam'
      >>> check_choice("ada", "optimizer", ("sgd", "adam"))
      Traceback (most recent call last):
      ...
      ValueError: optimizer must be one of ('sgd', 'adam'), got optimizer='ada'
      >>> check_choice(1, "optimizer", ("sgd", "adam"))
      Traceback (most recent call last):
      ...
      TypeError: optimizer must be one of ('sgd', 'adam'), got optimizer=1 of type int
    """
    choices = tuple(choices)
    if not any(_same_type(value, choice) for choice in choices):
        raise TypeError(f"{name} must be one of {choices}, got {_got(name, value)}")
    for choice in choices:
        if _same_type(value, choice) and value == choice:
            return choice
    raise ValueError(f"{name} must be one of {choices}, got {name}={value!r:.80}")


def _same_type(value, choice) -> bool:
    """Whether ``value`` is of ``choice``'s type (NumPy integers count as ints, bools do not)."""
    if isinstance(choice, bool):
        return isinstance(value, bool | np.bool_)
    if isinstance(choice, numbers.Integral):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool | np.bool_)
    return isinstance(value, type(choice))


def check_activation(value, name: str = "activation", *, optional: bool = False) -> str | None:
    """The canonical name of the activation ``value`` names (None too, if ``optional``).

    Raises:
      TypeError: ``value`` is not a str or a :class:`jaxnet.activations.Activation`.
      ValueError: an unknown name (the message lists the known ones).

    Example:
      >>> check_activation("ReLU"), check_activation(None, optional=True)
      ('relu', None)
      >>> check_activation(1)
      Traceback (most recent call last):
      ...
      TypeError: activation must be an activation's name (a str) or a jaxnet.activations.Activation, got activation=1 of type int
    """
    if value is None and optional:
        return None
    if not isinstance(value, str | activations.Activation):
        also = " or None" if optional else ""
        raise TypeError(
            f"{name} must be an activation's name (a str) or a jaxnet.activations.Activation"
            f"{also}, got {_got(name, value)}"
        )
    try:
        return activations.get(value).name
    except ValueError as e:
        raise ValueError(f"{name}: {e}") from None


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool (``True``/``False``, or a NumPy bool)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {_got(name, value)}")
    return bool(value)


def check_key(key, name: str = "key"):
    """``key`` if it is one ``jax.random`` key (typed, or a legacy uint32 ``(2,)`` array)."""
    dtype = getattr(key, "dtype", None)
    shape = getattr(key, "shape", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key) and shape == ():
        return key
    if dtype == np.uint32 and shape == (2,):
        return key
    got = f"{type(key).__name__} with shape {shape} and dtype {dtype}" if dtype else repr(key)
    raise TypeError(
        f"{name} must be a single jax.random key (e.g. jax.random.key(0)), got {got}; "
        "for several keys use jax.vmap"
    )


def check_dtype(dtype, name: str = "dtype") -> jnp.dtype:
    """A floating dtype that JAX can hold now: float64 needs ``jax_enable_x64``."""
    try:
        dtype = jnp.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be a floating dtype, got {dtype!r}") from None
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"{name} must be a floating dtype, got {dtype}")
    if dtype.itemsize == 8 and not jax.config.jax_enable_x64:
        raise ValueError(
            f"{name} float64 needs 64-bit JAX: jax.config.update('jax_enable_x64', True) "
            "or `with jax.enable_x64(True):` (or use float32)"
        )
    return dtype


# --- arrays --------------------------------------------------------------------------------


def as_array(x, name: str):
    """``x`` unchanged if it is already an array (NumPy or JAX), else ``np.asarray(x)``."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}: {e}") from None


def _on_device(x, dtype):
    """``x`` as a JAX array of ``dtype``; a NumPy array is cast on the host and put on the
    device with ``device_put`` (``jnp.asarray`` would compile a cast or a copy per shape)."""
    if isinstance(x, np.ndarray):
        return jax.device_put(x.astype(dtype, copy=False))
    return jnp.asarray(x, dtype)


def _check_real_numbers(x, name: str) -> None:
    """Numbers or bools, not complex (its imaginary part would be dropped), not strings."""
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        raise TypeError(f"{name} must be real, got complex dtype {x.dtype}")
    if not (jnp.issubdtype(x.dtype, jnp.number) or x.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")


def _check_finite(x, name: str) -> None:
    if not is_traced(x) and jnp.issubdtype(x.dtype, jnp.inexact):
        values = np.asarray(x)
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")


# --- a network's arguments ---------------------------------------------------------------


def check_network(net) -> Network:
    """``net`` if it is a :class:`jaxnet.Network`; else a ``TypeError``."""
    from jaxnet.network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a jaxnet.Network, got {type(net).__name__}")
    return net


def _for(net: Network) -> str:
    """The network, in an error message."""
    if net.is_dense:
        return f"sizes {net.sizes}"
    return f"{net.L} layers on input shape {net.input_shape}"


def _keys(names) -> str:
    quoted = [repr(k) for k in names]
    if not quoted:
        return "no keys ({})"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def _param_leaves(p, shapes, where: str):
    """``(where, leaf, expected shape)`` for every leaf of one layer's params ``p``, walked
    along its :meth:`param_shapes` tree ``shapes`` (a dict of shapes; a block nests dicts in
    tuples); a dict with other keys or a sequence of another length is refused, named."""
    if isinstance(shapes, dict):
        if not isinstance(p, dict):
            raise TypeError(
                f"{where} must be a dict with keys {_keys(shapes)}, got {type(p).__name__}"
            )
        if set(p) != set(shapes):
            raise ValueError(
                f"{where} must be a dict with keys {_keys(shapes)}, got keys {_keys(p)}"
            )
        for key, expected in shapes.items():
            yield from _param_leaves(p[key], expected, f"{where}['{key}']")
    elif isinstance(shapes, tuple) and not all(isinstance(n, int) for n in shapes):
        if not isinstance(p, tuple | list) or len(p) != len(shapes):
            got = type(p).__name__ + (f" of length {len(p)}" if isinstance(p, tuple | list) else "")
            raise ValueError(
                f"{where} must be a tuple of {len(shapes)} layer dicts (one per layer of the "
                f"block), got {got}"
            )
        for i, (q, expected) in enumerate(zip(p, shapes)):
            yield from _param_leaves(q, expected, f"{where}[{i}]")
    else:
        yield where, p, shapes


def check_params(net: Network, params, name: str = "params") -> jnp.dtype:
    """Params must be a tuple of one dict per layer with the shapes of ``net.param_shapes()``,
    all in one float dtype that JAX holds now; returns that dtype."""
    if not isinstance(params, tuple | list):
        raise TypeError(
            f"{name} must be a tuple of {net.L} layer dicts for {_for(net)}, got "
            f"{type(params).__name__}"
        )
    if len(params) != net.L:
        raise ValueError(
            f"{name} must be a tuple of {net.L} layer dicts for {_for(net)}, got "
            f"{type(params).__name__} of length {len(params)}"
        )
    dtypes = set()
    for l, (p, shapes) in enumerate(zip(params, net.param_shapes())):
        for where, leaf, expected in _param_leaves(p, shapes, f"{name}[{l}]"):
            if not isinstance(
                leaf, jax.Array | np.ndarray | np.generic
            ):  # a list: a tree of scalars
                raise TypeError(
                    f"{where} must be an array (NumPy or JAX), got {type(leaf).__name__}"
                )
            if not jnp.issubdtype(leaf.dtype, jnp.floating):
                raise TypeError(f"{where} must be floating point, got {leaf.dtype}")
            if tuple(leaf.shape) != tuple(expected):
                raise ValueError(
                    f"{where} (layer {l + 1}) has shape {tuple(leaf.shape)}, expected "
                    f"{tuple(expected)} for {_for(net)}"
                )
            _check_finite(leaf, where)
            dtypes.add(jnp.dtype(leaf.dtype))
    if len(dtypes) > 1:
        raise TypeError(f"{name} must share one dtype, got {sorted(map(str, dtypes))}")
    if not dtypes:  # no layer has params
        return jnp.dtype(jnp.float32)
    return check_dtype(dtypes.pop(), f"{name} of dtype")


def as_inputs(net: Network, X, dtype, name: str = "X"):
    """``X`` as a ``(m, *net.input_shape)`` array of ``dtype`` (``(m, n[0])`` for a dense network)."""
    X = as_array(X, name)
    _check_real_numbers(X, name)
    shape = net.input_shape
    if X.ndim != 1 + len(shape):
        if net.is_dense:
            hint = {
                1: "; for one example use X[None, :]",
                4: "; flatten images first with jaxnet.datasets.flatten_images",
            }.get(X.ndim, "")
            raise ValueError(
                f"{name} must be 2-D (m examples, {shape[0]} features), got shape {X.shape}{hint}"
            )
        raise ValueError(
            f"{name} must be {1 + len(shape)}-D (m examples of shape {shape}), got shape {X.shape}"
        )
    if tuple(X.shape[1:]) != shape:
        if net.is_dense:
            raise ValueError(
                f"{name} has {X.shape[1]} features per example (shape {X.shape}), but the "
                f"network expects sizes[0] = {shape[0]}"
            )
        raise ValueError(
            f"{name} has examples of shape {tuple(X.shape[1:])} (shape {X.shape}), but the "
            f"network expects input_shape {shape}"
        )
    if X.shape[0] < 1:
        raise ValueError(f"{name} has no examples (shape {X.shape})")
    _check_finite(X, name)
    return _on_device(X, dtype)


def as_labels(net: Network, Y, m: int, dtype, name: str = "Y"):
    """Labels as ``(m, n[L])`` of ``dtype``: one-hot for softmax, 0/1 columns for sigmoid."""
    Y = as_array(Y, name)
    _check_real_numbers(Y, name)
    n_out, task = net.output_shape[0], net.task
    if Y.ndim not in (1, 2) or Y.shape[0] != m:
        raise ValueError(
            f"{name} must have one row per example of X: shape ({m},) or ({m}, {n_out}), got {Y.shape}"
        )
    if task == "multiclass" and (Y.ndim == 1 or Y.shape[1] == 1):
        _check_values(Y, name, integers_below=n_out)
        if isinstance(Y, np.ndarray):
            return _on_device(Y.reshape(m, 1) == np.arange(n_out), dtype)
        return jax.nn.one_hot(jnp.asarray(Y).reshape(m), n_out, dtype=dtype)
    got = Y.shape  # the caller's shape, for the message
    if Y.ndim == 1:
        Y = Y.reshape(m, 1)
    if Y.shape[1] != n_out:
        what = {"multiclass": f"integer labels ({m},) or one-hot ({m}, {n_out})"}.get(
            task, f"({m}, {n_out})"
        )
        raise ValueError(f"{name} has shape {got}, expected {what} for {n_out} output units")
    if task == "multiclass":
        _check_one_hot(Y, name)
    elif task in ("binary", "multilabel"):
        _check_values(Y, name, integers_below=2)
    else:
        _check_finite(Y, name)
    return _on_device(Y, dtype)


def check_mode(net: Network, key, train) -> None:
    """``train`` a bool, ``key`` None or a key, and a key when training needs one."""
    check_bool(train, "train")
    if key is not None:
        check_key(key)
    elif train and net.needs_key:
        raise ValueError(
            "key is needed: train=True runs the network's dropout, which draws its mask "
            "from key=jax.random.key(...)"
        )


def check_caches(net: Network, caches, name: str = "caches") -> int:
    """``caches`` from ``jn.forward_with_caches(net, ...)``: one per layer, the last ending in
    ``Z[L] (m, n[L])``; returns ``m``."""
    if not isinstance(caches, tuple | list):
        raise TypeError(
            f"{name} must be the caches of jn.forward_with_caches (a tuple of {net.L}), got "
            f"{type(caches).__name__}"
        )
    if len(caches) != net.L:
        raise ValueError(f"{name} must hold one cache per layer ({net.L}), got {len(caches)}")
    last = caches[-1]
    Z_L = last[1] if isinstance(last, tuple | list) and len(last) == 2 else None
    if getattr(Z_L, "ndim", None) != 2 or Z_L.shape[1:] != net.output_shape:
        raise TypeError(
            f"{name}[-1] must be the output layer's cache (inner_cache, Z[L] (m, "
            f"{net.output_shape[0]})) from jn.forward_with_caches, got {last!r:.80}"
        )
    return Z_L.shape[0]


def _check_values(Y, name: str, integers_below: int) -> None:
    if is_traced(Y):
        return
    values = np.asarray(Y)
    ok = (
        np.isfinite(values)
        & (values == np.round(values))
        & (values >= 0)
        & (values < integers_below)
    )
    if not ok.all():
        bad = values[~ok].ravel()[:5]
        expected = (
            "{0, 1} for a sigmoid output"
            if integers_below == 2
            else f"0..{integers_below - 1} (integer class labels)"
        )
        raise ValueError(f"{name} must hold labels in {expected}, got {bad.tolist()}")


def _check_one_hot(Y, name: str) -> None:
    if is_traced(Y):
        return
    values = np.asarray(Y, dtype=np.float64)
    if not (
        np.isfinite(values).all()
        and (values >= 0).all()
        and np.allclose(values.sum(axis=1), 1, atol=1e-4)
    ):
        raise ValueError(
            f"{name} must be one-hot rows (non-negative, summing to 1) for a softmax output"
        )
