"""Plain values as strict JSON that round-trips, and JSON parsing with a bound on nesting.

`encode` turns a config or history value into strict JSON (no NaN, no Infinity): tuples
become ``{"$tuple": [...]}``, non-finite floats ``{"$float": "nan"}`` and a dict whose only
key starts with ``$`` is wrapped as ``{"$dict": {...}}``; numeric numpy/jax scalars and
arrays become Python numbers and (nested) lists. `decode` inverts it. `loads` refuses text
nested deeper than `MAX_DEPTH` before parsing it, so a hostile file gets a ValueError rather
than a RecursionError (``json.loads`` and every recursive walk recurse once per level).

>>> text = json.dumps(encode({"sizes": (2, 4, 1), "loss": [0.5, float("nan")]}, "config"))
>>> decode(loads(text))
{'sizes': (2, 4, 1), 'loss': [0.5, nan]}
"""

import json
import math
import re
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["MAX_DEPTH", "decode", "depth", "encode", "loads"]

MAX_DEPTH = 64  # nesting levels of arrays and objects `loads` accepts
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def encode(value: Any, where: str) -> Any:
    """`value` as strict-JSON-able Python data; `where` names it in errors.

    Args:
      value: None, bool, int, float, str, list, tuple, dict with str keys, or a numeric
        numpy/jax scalar or array (of any shape; it becomes nested lists), nested freely.
      where: the name of `value` in error messages ("config").

    Returns:
      Data ``json.dumps(..., allow_nan=False)`` accepts and `decode` turns back into `value`
      (tuples and non-finite floats tagged as the module says; arrays as lists).

    Raises:
      TypeError: a value that is not None, bool, int, float, str, list, tuple, dict with
        str keys, or a numeric numpy/jax scalar or array (its position named).
      ValueError: nesting too deep to encode.

    Example:
      >>> import numpy as np
      >>> from jaxnet.io import strict_json
      >>> strict_json.encode({"sizes": (2, 1), "loss": [np.float32(0.5), float("inf")]}, "config")
      {'sizes': {'$tuple': [2, 1]}, 'loss': [0.5, {'$float': 'inf'}]}
    """
    try:
        return _encode(value, where)
    except RecursionError:
        raise ValueError(f"{where} is nested too deeply to store as JSON") from None


def _encode(value: Any, where: str) -> Any:
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.generic | np.ndarray | jax.Array) and (
        jnp.issubdtype(value.dtype, jnp.number) or jnp.issubdtype(value.dtype, jnp.bool_)
    ):
        return _encode(np.asarray(value).tolist(), where)
    if type(value) in (list, tuple):
        items = [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"$tuple": items} if type(value) is tuple else items
    if type(value) is dict:
        for k in value:
            if type(k) is not str:
                raise TypeError(f"{where} has key {k!r}: keys must be str to be stored as JSON")
        out = {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {"$dict": out} if len(out) == 1 and next(iter(out)).startswith("$") else out
    raise TypeError(
        f"{where} is a {type(value).__qualname__}; only None, bool, int, float, str, list, "
        "tuple, dict and numeric scalars are stored here"
    )


def decode(value: Any) -> Any:
    """Inverse of `encode` (for data from `loads`, whose depth is bounded).

    Args:
      value: parsed JSON data, as `encode` produced it.

    Returns:
      The data with tuples, non-finite floats and ``$``-keyed dicts restored.

    Example:
      >>> from jaxnet.io import strict_json
      >>> strict_json.decode({"sizes": {"$tuple": [2, 1]}, "loss": [{"$float": "nan"}]})
      {'sizes': (2, 1), 'loss': [nan]}
    """
    if type(value) is list:
        return [decode(v) for v in value]
    if type(value) is not dict:
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$float" and inner in ("nan", "inf", "-inf"):
            return float(inner)
        if tag == "$tuple" and type(inner) is list:
            return tuple(decode(v) for v in inner)
        if tag == "$dict" and type(inner) is dict:
            return {k: decode(v) for k, v in inner.items()}
    return {k: decode(v) for k, v in value.items()}


def depth(text: str) -> int:
    """How deeply the JSON `text` nests arrays and objects, counted without recursion.

    Brackets inside strings do not count.

    Args:
      text: JSON text.

    Returns:
      The largest number of open arrays and objects at any point (0 for a scalar).

    Example:
      >>> from jaxnet.io import strict_json
      >>> strict_json.depth('{"a": [1, [2]], "b": "[[["}'), strict_json.depth("3")
      (3, 0)
    """
    chars = np.frombuffer(_STRINGS.sub("", text).encode(errors="replace"), np.uint8)
    steps = np.isin(chars, (ord("["), ord("{"))).astype(np.int64)
    steps -= np.isin(chars, (ord("]"), ord("}")))
    return int(np.cumsum(steps).max()) if steps.size else 0


def loads(text: str, max_depth: int = MAX_DEPTH) -> Any:
    """Strict ``json.loads`` (NaN/Infinity refused) of text nested at most `max_depth` deep.

    Args:
      text: JSON text.
      max_depth: the deepest nesting of arrays and objects accepted.

    Returns:
      The parsed value (dicts, lists, str, int, float, bool, None).

    Raises:
      ValueError: deeper nesting, a non-standard constant, or text that is not JSON
        (``json.JSONDecodeError`` is a ValueError).

    Example:
      >>> from jaxnet.io import strict_json
      >>> strict_json.loads('{"loss": [0.5, 0.25]}')
      {'loss': [0.5, 0.25]}
      >>> for text in ("[NaN]", "[[[1]]]"):
      ...     try:
      ...         strict_json.loads(text, max_depth=2)
      ...     except ValueError as err:
      ...         print(err)
      NaN is not strict JSON
      JSON nested more than 2 levels deep
    """
    if depth(text) > max_depth:
        raise ValueError(f"JSON nested more than {max_depth} levels deep")
    return json.loads(text, parse_constant=_no_constant)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not strict JSON")
