"""Argument checks shared by the dataset functions: clear errors at the public boundary."""

import math
import numbers

import jax
import numpy as np


def is_traced(x) -> bool:
    """True when `x` is a JAX tracer (inside `jit`/`vmap`), so its value cannot be inspected."""
    return isinstance(x, jax.core.Tracer)


def check_key(key, name: str = "key"):
    """Return `key` if it is one `jax.random` key (typed, or a legacy uint32 `(2,)` array)."""
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


def check_int(value, name: str, minimum: int) -> int:
    """Return `value` as an int, checking it is an integer (not a bool) and `>= minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_real(value, name: str, minimum: float, *, strict: bool = False) -> float:
    """Return `value` as a float, checking it is finite and `>= minimum` (`>` if `strict`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not math.isfinite(value) or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be a finite number {relation} {minimum}, got {value!r}")
    return value


def as_array(x, name: str):
    """`x` unchanged if it is already an array (NumPy or JAX), else `np.asarray(x)`."""
    if hasattr(x, "shape") and hasattr(x, "dtype"):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}: {err}") from err
