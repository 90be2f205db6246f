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

import contextlib
import functools
import gc
import math
import numbers
from collections.abc import Iterable
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import activations

if TYPE_CHECKING:  # jaxnet.network imports this module (its layers check their fields here)
    from jaxnet.model import Model
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
    """``">= 1"``, ``"in [0, 1)"``, ``"<= 5"`` or ``""`` (an int bound written whole)."""
    low_, high_ = (
        b if b is None or isinstance(b, numbers.Integral) else f"{b:g}" for b in (minimum, maximum)
    )
    if minimum is not None and maximum is not None:
        low, high = "(" if strict else "[", ")" if strict_maximum else "]"
        return f"in {low}{low_}, {high_}{high}"
    if minimum is not None:
        return f"{'>' if strict else '>='} {low_}"
    if maximum is not None:
        return f"{'<' if strict_maximum else '<='} {high_}"
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
    """``net`` if it is a :class:`jaxnet.Network` (what needs its layers: caches, backward,
    summary); else a ``TypeError``."""
    from jaxnet.model import Model
    from jaxnet.network import Network

    if not isinstance(net, Network):
        hint = ""
        if isinstance(net, Model):
            hint = (
                f" ({net!r} is not made of jaxnet's layers: this needs them; a jn.Model "
                f"initialises itself with model.init(key) and trains by jax.grad)"
            )
        raise TypeError(f"net must be a jaxnet.Network, got {type(net).__name__}{hint}")
    return net


def check_model(net) -> Network | Model:
    """``net`` if it is a :class:`jaxnet.Network` or a :class:`jaxnet.Model` (what trains)."""
    from jaxnet.model import Model
    from jaxnet.network import Network

    if not isinstance(net, Network | Model):
        raise TypeError(
            f"net must be a jaxnet.Network or a jaxnet.Model (your own init and apply), got "
            f"{type(net).__name__}"
        )
    return net


def check_backprop(net: Network | Model, backprop) -> str:
    """``backprop`` (None: the model's default, ``"manual"`` for a network, ``"autodiff"`` for a
    :class:`jaxnet.Model`) if the model offers it."""
    from jaxnet.network import BACKPROP

    if backprop is None:
        return net.backprops[0]
    check_choice(backprop, "backprop", BACKPROP)
    if backprop not in net.backprops:
        raise ValueError(
            f"backprop={backprop!r} needs a hand-derived backward, and the model {net.name!r} "
            f"(a jn.Model) has none: use backprop='autodiff' (or leave it out)"
        )
    return backprop


def _for(net: Network) -> str:
    """The network, in an error message."""
    if net.is_dense:
        return f"sizes {net.sizes}"
    return f"{net.L} layers on input shape {net.input_shape}"


def _what(net) -> str:
    """The model, in an error message: "network" or "model 'name'"."""
    from jaxnet.model import Model

    return f"model {net.name!r}" if isinstance(net, Model) else "network"


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


def check_params(net: Network | Model, params, name: str = "params") -> jnp.dtype:
    """Params must be a tuple of one dict per layer with the shapes of ``net.param_shapes()``,
    all in one float dtype that JAX holds now; returns that dtype. A :class:`jaxnet.Model`'s
    params must have the tree and shapes its ``init`` gives (:func:`check_model_params`)."""
    from jaxnet.model import Model

    if isinstance(net, Model):
        return check_model_params(net, params, name)
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
    if shape is None:  # a jn.Model that fixes no input shape: any examples (m, ...)
        if X.ndim < 2:
            raise ValueError(
                f"{name} must have an examples axis and at least one feature axis, (m, n_x) or "
                f"(m, n_H, n_W, n_C), got shape {X.shape}; for one feature use X[:, None]"
            )
        shape = tuple(X.shape[1:])
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
            f"{_what(net)} expects input_shape {shape}"
        )
    if X.shape[0] < 1:
        raise ValueError(f"{name} has no examples (shape {X.shape})")
    _check_finite(X, name)
    _check_token_ids(net, X, name)
    return _on_device(X, dtype)


def _check_token_ids(net: Network, X, name: str) -> None:
    """Ids in the vocabulary when the first layer is an Embedding (they travel as floats);
    a :class:`jaxnet.Model`'s layers are its own (nothing to check)."""
    from jaxnet.layers.embedding import Embedding, check_ids
    from jaxnet.model import Model

    if isinstance(net, Model):
        return
    first = net.layers[0]
    if isinstance(first, Embedding):
        check_ids(X, first.vocab_size, name)


def as_labels(net: Network | Model, Y, m: int, dtype, name: str = "Y"):
    """Labels as ``(m, n[L])`` of ``dtype``: one-hot for softmax, 0/1 columns for sigmoid; for
    a network that outputs a sequence ``(T, n[L])``, ``(m, T, n[L])``: integer ids ``(m, T)``
    or one-hot ``(m, T, n[L])`` for a softmax per step, ``(m, T)`` or ``(m, T, 1)`` for one
    sigmoid or linear unit."""
    Y = as_array(Y, name)
    _check_real_numbers(Y, name)
    *steps, n_out = net.output_shape
    task, lead = net.task, (m, *steps)  # the labels' shape without the units axis
    got = Y.shape  # the caller's shape, for the message
    if not steps and (Y.ndim not in (1, 2) or Y.shape[0] != m):
        raise ValueError(
            f"{name} must have one row per example of X: shape ({m},) or ({m}, {n_out}), got {got}"
        )
    if task == "multiclass" and got in (lead, (*lead, 1)):  # integer class ids
        _check_values(Y, name, integers_below=n_out)
        if isinstance(Y, np.ndarray):
            return _on_device(Y.reshape(*lead, 1) == np.arange(n_out), dtype)
        return jax.nn.one_hot(jnp.asarray(Y).reshape(lead), n_out, dtype=dtype)
    if got == lead:
        Y = Y.reshape(*lead, 1)
    if Y.shape != (*lead, n_out):
        raise ValueError(f"{name} has shape {got}, expected {_labels_expected(net, lead, n_out)}")
    if task == "multiclass":
        _check_one_hot(Y, name)
    elif task in ("binary", "multilabel"):
        _check_values(Y, name, integers_below=2)
    else:
        _check_finite(Y, name)
    return _on_device(Y, dtype)


def _labels_expected(net, lead: tuple, n_out: int) -> str:
    """What :func:`as_labels` takes, in words, for its message (both shapes named)."""
    from jaxnet.model import Model

    full = (*lead, n_out)
    if len(lead) == 1:  # one vector per example
        what = f"integer labels {lead} or one-hot {full}" if net.task == "multiclass" else str(full)
        if isinstance(net, Model):
            return f"{what} for model {net.name!r}'s apply returns outputs {full}"
        return f"{what} for {n_out} output units"
    if net.task == "multiclass":
        what = f"integer ids {lead} or one-hot {full}"
    else:
        what = f"{lead} or {full}" if n_out == 1 else str(full)
    return (
        f"{what}: the network outputs a sequence, {lead[1]} steps of {n_out} units per "
        f"example (output shape {net.output_shape}), one label per step"
    )


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
    ``Z[L] (m, n[L])`` (a sequence output's ``(m, T, n[L])``, or its ``m T`` rows); returns ``m``."""
    if not isinstance(caches, tuple | list):
        raise TypeError(
            f"{name} must be the caches of jn.forward_with_caches (a tuple of {net.L}), got "
            f"{type(caches).__name__}"
        )
    if len(caches) != net.L:
        raise ValueError(f"{name} must hold one cache per layer ({net.L}), got {len(caches)}")
    last = caches[-1]
    Z_L = last[1] if isinstance(last, tuple | list) and len(last) == 2 else None
    shape, per_example = getattr(Z_L, "shape", None), math.prod(net.output_shape)
    ok = shape is not None and len(shape) >= 2 and shape[-1] == net.output_shape[-1]
    if ok and len(net.output_shape) == 1:
        ok = len(shape) == 2
    if not ok or math.prod(shape) % per_example:
        raise TypeError(
            f"{name}[-1] must be the output layer's cache (inner_cache, Z[L] (m, "
            f"{', '.join(map(str, net.output_shape))})) from jn.forward_with_caches, got {last!r:.80}"
        )
    return math.prod(shape) // per_example


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
        and np.allclose(values.sum(axis=-1), 1, atol=1e-4)
    ):
        raise ValueError(
            f"{name} must be one-hot rows (non-negative, summing to 1) for a softmax output"
        )


def check_state(net: Network, params, name: str = "params") -> None:
    """The non-trainable state of ``params`` (batch norm's running statistics) in its range:
    every value finite, and a variance (a ``*_var`` leaf, e.g. ``moving_var``) ``>= 0``.

    For params read from a file (a checkpoint), where a negative variance would only show
    as NaN outputs later. Runs on concrete arrays only (outside traced code).

    Raises:
      ValueError: naming ``name[l]['key']``, the layer and the value out of range.

    Example:
      >>> import jax, numpy as np, jaxnet as jn
      >>> net = jn.Sequential([jn.layers.BatchNorm(), jn.layers.Dense(1, "sigmoid")], input_shape=(2,))
      >>> params = jn.init(jax.random.key(0), net)
      >>> check_state(net, params)
      >>> params[0]["moving_var"] = np.array([1.0, -1.0], np.float32)
      >>> check_state(net, params)
      Traceback (most recent call last):
      ...
      ValueError: params[0]['moving_var'] (layer 1, batch_norm) must be >= 0 (a variance), got -1.0

    A ``jaxnet.Model`` has no layers whose state jaxnet knows: its params pass as they are.
    """
    layers = getattr(net, "layers", ())
    shapes = getattr(net, "input_shapes", ())
    for l, (layer, shape, p) in enumerate(zip(layers, shapes, params, strict=False)):
        kind = getattr(layer, "kind", type(layer).__name__)
        for path, key, leaf in _state_leaves(layer.trainable(shape), p):
            if is_traced(leaf):
                continue
            value = np.asarray(leaf)
            where = f"{name}[{l}]{path} (layer {l + 1}, {kind})"
            if not np.isfinite(value).all():
                bad = float(value[~np.isfinite(value)].ravel()[0])
                raise ValueError(f"{where} must be finite, got {bad!r}")
            if key.endswith("_var") and (value < 0).any():
                raise ValueError(f"{where} must be >= 0 (a variance), got {float(value.min())!r}")


def _state_leaves(trainable, p, path: str = ""):
    """``(path, key, leaf)`` of every non-trainable leaf of one layer's params ``p``, walked
    along its :meth:`trainable` tree (a block's nest its layers'); a part that does not match
    the tree is skipped (:func:`check_params` names it)."""
    if isinstance(trainable, dict):
        if not isinstance(p, dict):
            return
        for key, t in trainable.items():
            if key not in p:
                continue
            if t is False:
                yield f"{path}[{key!r}]", key, p[key]
            elif t is not True:
                yield from _state_leaves(t, p[key], f"{path}[{key!r}]")
    elif isinstance(trainable, tuple) and isinstance(p, tuple | list):
        for i, (t, q) in enumerate(zip(trainable, p)):
            yield from _state_leaves(t, q, f"{path}[{i}]")


# --- a jn.Model's arguments --------------------------------------------------------------


def check_model_params(model: Model, params, name: str = "params") -> jnp.dtype:
    """A :class:`jaxnet.Model`'s params: a pytree of finite float arrays in one dtype, with
    the tree and shapes ``model.init(key)`` gives (traced, never run); returns the dtype.

    A stateful model's params are the pair ``(params, state)`` its ``init`` returns.
    """
    template = _init_template(model.init, model.stateful, model.name)
    if model.stateful and not (isinstance(params, tuple) and len(params) == 2):
        raise TypeError(
            f"{name} must be the pair (params, state) that model {model.name!r}'s init returns "
            f"(a stateful model), got {type(params).__name__}"
        )
    leaves, tree = jax.tree_util.tree_flatten_with_path(params)
    expected, expected_tree = jax.tree_util.tree_flatten_with_path(template)
    for path, leaf in leaves:
        where = f"{name}{jax.tree_util.keystr(path)}"
        if not isinstance(leaf, jax.Array | np.ndarray | np.generic):
            raise TypeError(
                f"{where} must be an array (NumPy or JAX): params are a pytree of arrays, got "
                f"{type(leaf).__name__}"
            )
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"{where} must be floating point, got {leaf.dtype}")
        _check_finite(leaf, where)
    if tree != expected_tree:
        got, want = ([jax.tree_util.keystr(p) for p, _ in t] for t in (leaves, expected))
        diff = sorted(set(got) ^ set(want))[:3] or [f"{tree} vs {expected_tree}"[:200]]
        raise ValueError(
            f"{name} must have the tree of model {model.name!r}'s init(key) ({len(want)} "
            f"arrays), got {len(got)} arrays; they differ at {', '.join(diff)}"
        )
    for (path, leaf), (_, like) in zip(leaves, expected):
        if tuple(leaf.shape) != tuple(like.shape):
            raise ValueError(
                f"{name}{jax.tree_util.keystr(path)} has shape {tuple(leaf.shape)}, expected "
                f"{tuple(like.shape)} (as model {model.name!r}'s init gives it)"
            )
    dtypes = {jnp.dtype(leaf.dtype) for _, leaf in leaves}
    if len(dtypes) > 1:
        raise TypeError(f"{name} must share one dtype, got {sorted(map(str, dtypes))}")
    if not dtypes:
        raise ValueError(f"{name} holds no arrays: model {model.name!r} has nothing to train")
    return check_dtype(dtypes.pop(), f"{name} of dtype")


@functools.lru_cache(maxsize=64)
def _init_template(init, stateful: bool, model: str):
    """``jax.eval_shape(init, key)``, checked: a pytree of float arrays (a pair if ``stateful``)."""
    what = "the pair (params, state) of pytrees of arrays" if stateful else "a pytree of arrays"
    try:
        with _checking_leaks():
            out = jax.eval_shape(init, jax.eval_shape(lambda: jax.random.key(0)))
    except _LeakedTracer:
        raise ValueError(
            f"model {model!r} is not pure: init leaks a tracer (it keeps a traced value outside "
            f"the call: in a global, a closure or an attribute); return everything it computes "
            f"instead"
        ) from None
    except Exception as e:
        error = TypeError if isinstance(e, TypeError) else ValueError
        raise error(
            f"model {model!r}: init(key) must return {what}, but it failed when traced: "
            f"{type(e).__name__}: {_first_lines(e)}"
        ) from None
    if stateful and not (isinstance(out, tuple | list) and len(out) == 2):
        raise TypeError(
            f"model {model!r}: init(key) of a stateful model must return (params, state), got "
            f"{type(out).__name__}"
        )
    for path, leaf in jax.tree_util.tree_leaves_with_path(out):
        where = f"model {model!r}: init(key){jax.tree_util.keystr(path)}"
        if getattr(leaf, "weak_type", False):
            raise TypeError(
                f"{where} is a Python number, not an array: init must return a pytree of "
                f"arrays (e.g. jnp.asarray(value, jnp.float32))"
            )
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"{where} must be a float array, got dtype {leaf.dtype}")
    return out


def bind(net: Network | Model, params, X, dtype, name: str = "X"):
    """``(net, X)``: ``X`` checked and put in ``dtype`` (:func:`as_inputs`); a
    :class:`jaxnet.Model` traced on it (pure, outputs that fit its loss) and bound to its
    example shape and output width. A network is returned as it is."""
    from jaxnet.network import Network

    X = as_inputs(net, X, dtype, name)
    if isinstance(net, Network):
        return net, X
    leaves, tree = jax.tree.flatten(params)
    avals = tuple((tuple(leaf.shape), jnp.dtype(dtype)) for leaf in leaves)
    n_out = _outputs_width(net, tree, avals, tuple(X.shape), jnp.dtype(dtype))
    return net.bound(tuple(X.shape[1:]), (n_out,)), X


_CHECKED_WIDTHS: dict = {}  # (model, tree, avals, example shape, dtype) -> n_out, the 64 latest


def _outputs_width(model: Model, tree, avals, x_shape, dtype) -> int:
    """``n_out`` of ``apply`` on ``X (x_shape)``, checked once per example shape ``x_shape[1:]``:
    on the first number of examples met, as the checks do not depend on it (a model's ``predict``
    on the test set then does not trace ``apply`` four times again)."""
    key = (model, tree, avals, tuple(x_shape[1:]), dtype)
    if key not in _CHECKED_WIDTHS:
        n_out = _checked_outputs_width(model, tree, avals, x_shape, dtype)
        if len(_CHECKED_WIDTHS) >= 64:
            del _CHECKED_WIDTHS[next(iter(_CHECKED_WIDTHS))]
        _CHECKED_WIDTHS[key] = n_out
    return _CHECKED_WIDTHS[key]


def _checked_outputs_width(model: Model, tree, avals, x_shape, dtype) -> int:
    """``n_out`` of ``apply`` on ``X (x_shape)``: traced twice in each mode, refused if impure."""
    from jaxnet.model import check_units

    params = jax.tree.unflatten(tree, [jax.ShapeDtypeStruct(s, d) for s, d in avals])
    X = jax.ShapeDtypeStruct(x_shape, dtype)
    key = jax.eval_shape(lambda: jax.random.key(0)) if model.needs_key else None
    widths = set()
    for train in (True, False):
        fn = functools.partial(_outputs, model, train=train)
        first, out = _trace(model, fn, params, X, key if train else None, train)
        again, _ = _trace(model, fn, params, X, key if train else None, train)
        if not _same_jaxpr(first, again):
            raise ValueError(
                f"model {model.name!r} is not pure: two traces of apply on the same shapes "
                f"(train={train}) differ, so it reads or changes Python state between calls (a "
                f"counter, a global, an attribute); make it a function of its arguments only"
            )
        widths.add(_check_outputs(model, out, params, x_shape, train))
    if len(widths) > 1:
        raise ValueError(
            f"model {model.name!r}: apply returns {sorted(widths)} outputs per example in "
            f"training and in inference; they must agree"
        )
    (n_out,) = widths
    check_units(model, n_out)
    _check_loss_function(model, x_shape[0], n_out, dtype)
    return n_out


def _outputs(model: Model, params, X, key, *, train: bool):
    return model.outputs(params, X, key=key, train=train)


def _trace(model: Model, fn, params, X, key, train: bool):
    """``(closed jaxpr, output shapes)`` of ``fn(params, X, key)``, checked for leaked tracers."""
    try:
        with _checking_leaks():
            fresh = lambda *args: fn(*args)  # noqa: E731 - a new function: no cached trace
            closed, out = jax.make_jaxpr(fresh, return_shape=True)(params, X, key)
    except Exception as e:
        message = _first_lines(e)
        if isinstance(e, _LeakedTracer | jax.errors.UnexpectedTracerError):
            raise ValueError(
                f"model {model.name!r} is not pure: apply leaks a tracer (it keeps a traced "
                f"value, an input or a result, outside the call: in a global, a closure or an "
                f"attribute); return everything it computes instead"
            ) from None
        error = TypeError if isinstance(e, TypeError) else ValueError
        raise error(
            f"model {model.name!r}: apply(params, X (shape {X.shape}), key=..., train={train}) "
            f"failed when traced: {type(e).__name__}: {message}"
        ) from None
    if any(isinstance(c, jax.core.Tracer) for c in closed.consts):
        raise ValueError(
            f"model {model.name!r} is not pure: apply uses a tracer leaked from an earlier call "
            f"(a value it stored while being traced); make it a function of its arguments only"
        )
    return closed, out


class _LeakedTracer(Exception):
    """A tracer made while a model's function was traced is still alive after the trace."""


@contextlib.contextmanager
def _checking_leaks():
    """Raises :class:`_LeakedTracer` if a tracer made in the block outlives it: the function
    traced kept a traced value (in a global, a closure, an attribute), whichever trace made it
    (the model's, or a ``vmap``, ``jit``, Flax or Equinox transform inside it).

    The objects that existed before are frozen for the check (``gc.freeze()``), so its
    collection and its search for live tracers look at what the trace made, not at the whole
    heap. (``jax.checking_leaks()`` collects the whole heap each time a trace inside ends
    still referenced: 0.1 s apiece for a Flax model in a process of 330,000 objects, more
    in a larger one; and it can fail while describing a leak that an older object holds.)
    A process that froze objects itself keeps its freeze; the tracers alive before the
    block are then told apart by identity.
    """
    freeze = gc.get_freeze_count() == 0
    if freeze:
        gc.freeze()
    try:
        before = _live_tracers()  # none when frozen
        yield
        gc.collect()  # a tracer left only in unreachable cycles is no leak
        known = {id(tracer) for tracer in before}
        leaked = any(id(tracer) not in known for tracer in _live_tracers())
    finally:
        if freeze:
            gc.unfreeze()
    if leaked:
        raise _LeakedTracer


def _live_tracers() -> list:
    """The tracers among the objects the garbage collector tracks and has not frozen."""
    return [obj for obj in gc.get_objects() if isinstance(obj, jax.core.Tracer)]


def _same_jaxpr(a, b) -> bool:
    if str(a.jaxpr) != str(b.jaxpr) or len(a.consts) != len(b.consts):
        return False
    return all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a.consts, b.consts))


def _check_outputs(model: Model, out, params, x_shape, train: bool) -> int:
    """``n_out`` if ``apply``'s output shapes fit the loss (and the state its input)."""
    where = f"model {model.name!r}: apply (train={train})"
    if model.stateful and not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(
            f"{where} of a stateful model must return the pair (Z, new_state), got "
            f"{jax.tree.map(lambda a: a.shape, out)!r:.120}"
        )
    Z, new_state = out
    if model.stateful:
        state = params[1]
        if jax.tree.structure(new_state) != jax.tree.structure(state) or any(
            (a.shape, a.dtype) != (b.shape, b.dtype)
            for a, b in zip(jax.tree.leaves(new_state), jax.tree.leaves(state))
        ):
            raise ValueError(
                f"{where} must return (Z, new_state) with new_state of the state's tree, shapes "
                f"and dtypes, got new_state {jax.tree.map(lambda a: a.shape, new_state)!r:.120}"
            )
    if not isinstance(Z, jax.ShapeDtypeStruct):
        raise TypeError(
            f"{where} must return one array Z (m, n_out) (one output), got "
            f"{jax.tree.map(lambda a: a.shape, Z)!r:.120}"
        )
    if not jnp.issubdtype(Z.dtype, jnp.floating):
        raise TypeError(f"{where} must return float outputs, got dtype {Z.dtype}")
    m = x_shape[0]
    if Z.ndim != 2 or Z.shape[0] != m:
        loss = model.loss if isinstance(model.loss, str) else "its loss function"
        hint = "; for one output unit return Z[:, None] (or Z.reshape(m, 1))" if Z.ndim == 1 else ""
        raise ValueError(
            f"{where} must return outputs of shape (m, n_out) = ({m}, n_out) for {loss}, got "
            f"shape {tuple(Z.shape)} from X of shape {x_shape}{hint}"
        )
    return int(Z.shape[1])


def _check_loss_function(model: Model, m: int, n_out: int, dtype) -> None:
    """A loss function must give one loss per example, ``(m,)``, from ``Z`` and ``Y`` ``(m, n_out)``."""
    if not callable(model.loss):
        return
    Z = jax.ShapeDtypeStruct((m, n_out), dtype)
    name = getattr(model.loss, "__qualname__", type(model.loss).__name__)
    try:
        per_example = jax.eval_shape(model.loss, Z, Z)
    except Exception as e:
        raise ValueError(
            f"model {model.name!r}: loss {name}(Z, Y) failed on Z and Y of shape ({m}, "
            f"{n_out}): {type(e).__name__}: {_first_lines(e)}"
        ) from None
    if getattr(per_example, "shape", None) != (m,):
        raise ValueError(
            f"model {model.name!r}: loss {name}(Z, Y) must return one loss per example, shape "
            f"({m},), got {jax.tree.map(lambda a: a.shape, per_example)!r:.80} for Z and Y of "
            f"shape ({m}, {n_out})"
        )


def _first_lines(e: Exception, n: int = 3) -> str:
    return " ".join(str(e).strip().splitlines()[:n])
