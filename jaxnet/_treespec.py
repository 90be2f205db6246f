"""Tree specs: a pytree as JSON structure plus a flat dict of its arrays, for checkpoints.

`encode` walks a pytree and returns a JSON-serialisable *spec* of its structure, while it
puts every array leaf into a ``{name: numpy array}`` dict under its slash-joined path
("params/0/W", "opt_state/0/nu/1/b"). `decode` rebuilds the pytree from both. Only plain
containers are encoded, so that restoring never runs code a file names:

    {"t": "none"}                                     None
    {"t": "scalar", "v": 0.5}                         Python bool, int, float (nan/inf tagged)
    {"t": "array", "dtype": "bfloat16", "shape": [4, 2]}   numpy or jax array, any rank
    {"t": "key", "impl": "threefry2x32", "shape": []}       typed PRNG key (its key_data)
    {"t": "dict", "keys": ["W", "b"], "children": [...]}    str or int keys, order kept
    {"t": "list" | "tuple", "children": [...]}
    {"t": "namedtuple", "module": "optax._src.transform", "name": "ScaleByAdamState",
     "fields": ["count", "mu", "nu"], "children": [...]}   imported only from ALLOWED_MODULES

`to_json`/`from_json` encode plain values (config, history) as strict JSON: tuples become
``{"$tuple": [...]}`` and non-finite floats ``{"$float": "nan"}``, so both round-trip;
numeric numpy/jax scalars and arrays are stored as Python numbers and (nested) lists.
"""

import functools
import importlib
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

ALLOWED_MODULES = ("optax", "jaxnet", "chex")
# dtypes safetensors stores natively; any other dtype is stored as raw bytes (uint8, ..., itemsize).
_NATIVE = frozenset(
    np.dtype(t)
    for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8)
    + (np.uint64, np.uint32, np.uint16, np.uint8, np.bool_, np.complex64)
)


def to_json(value: Any, where: str) -> Any:
    """Encode a config/history value as strict JSON; `where` names it in errors."""
    if value is None or type(value) in (bool, int, str):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, np.generic | np.ndarray | jax.Array):
        dtype = value.dtype
        if jnp.issubdtype(dtype, jnp.number) or jnp.issubdtype(dtype, jnp.bool_):
            return to_json(np.asarray(value).tolist(), where)  # numeric arrays -> Python lists
    if type(value) in (list, tuple):
        items = [to_json(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return {"$tuple": items} if type(value) is tuple else items
    if type(value) is dict:
        for k in value:
            if type(k) is not str:
                raise TypeError(f"{where} has key {k!r}: keys must be str to be stored as JSON")
        out = {k: to_json(v, f"{where}[{k!r}]") for k, v in value.items()}
        return {"$dict": out} if len(out) == 1 and next(iter(out)).startswith("$") else out
    raise TypeError(
        f"{where} is a {type(value).__qualname__}; checkpoints store only None, bool, int, "
        "float, str, list, tuple, dict and numeric scalars here"
    )


def from_json(value: Any) -> Any:
    """Inverse of `to_json`."""
    if type(value) is list:
        return [from_json(v) for v in value]
    if type(value) is not dict:
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$float":
            return float(inner)
        if tag == "$tuple":
            return tuple(from_json(v) for v in inner)
        if tag == "$dict":
            return {k: from_json(v) for k, v in inner.items()}
    return {k: from_json(v) for k, v in value.items()}


def _type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _import(module: str, name: str, context: str) -> type:
    """The NamedTuple class `module`.`name`, if it lives in an allowed module."""
    what = f"{context} {module}.{name}"
    if not any(module == m or module.startswith(m + ".") for m in ALLOWED_MODULES):
        raise ValueError(
            f"{what}: only NamedTuples from the modules {', '.join(ALLOWED_MODULES)} can be "
            "checkpointed (they are restored by import)"
        )
    try:
        cls = functools.reduce(getattr, name.split("."), importlib.import_module(module))
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{what}, which cannot be imported ({e})") from e
    ok = isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")
    if not ok or (cls.__module__, cls.__qualname__) != (module, name):
        raise ValueError(f"{what}, which is not an importable NamedTuple class")
    return cls


def _put(tensors: dict, name: str, where: str, arr: np.ndarray) -> None:
    """Store `arr` under `name`: natively if safetensors can, else as raw bytes."""
    if not (arr.dtype.kind in "biufc" or arr.dtype.type.__module__.startswith("ml_dtypes")):
        raise ValueError(f"cannot checkpoint leaf of dtype {arr.dtype} at {where}")
    if name in tensors:
        raise ValueError(f"cannot checkpoint {where}: its name {name!r} is taken by another leaf")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    arr = np.require(arr, requirements="C")  # (np.ascontiguousarray would make 0-d 1-d)
    if arr.dtype not in _NATIVE:
        arr = arr.reshape(-1).view(np.uint8).reshape(arr.shape + (arr.dtype.itemsize,))
    tensors[name] = arr


def _take(tensors: dict, used: set, name: str, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """The array stored under `name` by `_put`, checked against its spec."""
    t = tensors[name]
    used.add(name)
    if dtype not in _NATIVE and t.dtype == np.uint8 and t.shape == shape + (dtype.itemsize,):
        return t.reshape(-1).view(dtype).reshape(shape)
    if (t.dtype, t.shape) != (dtype, shape):
        raise KeyError(f"tensor {name!r} is {t.dtype}{list(t.shape)}, spec says {dtype}{shape}")
    return t


def encode(tree: Any, name: str, where: str, tensors: dict) -> dict:
    """Spec of `tree`; its arrays go into `tensors` under `name`/path. `where` is for errors."""
    cls = type(tree)
    if tree is None:
        return {"t": "none"}
    if cls in (bool, int, float):
        return {"t": "scalar", "v": to_json(tree, where)}
    if isinstance(tree, jax.Array) and jnp.issubdtype(tree.dtype, jax.dtypes.prng_key):
        _put(tensors, name, where, np.asarray(jax.random.key_data(tree)))
        return {"t": "key", "impl": str(jax.random.key_impl(tree)), "shape": list(tree.shape)}
    if isinstance(tree, np.ndarray | np.generic | jax.Array):
        arr = np.asarray(tree)
        _put(tensors, name, where, arr)
        return {"t": "array", "dtype": arr.dtype.name, "shape": list(arr.shape)}
    if cls is dict:
        keys = list(tree)
        for k in keys:
            if type(k) not in (str, int):
                raise ValueError(f"cannot checkpoint dict key {k!r} at {where}: use str or int")
        children = [encode(tree[k], f"{name}/{k}", f"{where}[{k!r}]", tensors) for k in keys]
        return {"t": "dict", "keys": keys, "children": children}
    if cls in (list, tuple):
        children = [encode(c, f"{name}/{i}", f"{where}[{i}]", tensors) for i, c in enumerate(tree)]
        return {"t": cls.__name__, "children": children}
    if isinstance(tree, tuple) and hasattr(cls, "_fields"):
        _import(cls.__module__, cls.__qualname__, f"cannot checkpoint node at {where} of type")
        fields = list(cls._fields)
        children = [
            encode(getattr(tree, f), f"{name}/{f}", f"{where}.{f}", tensors) for f in fields
        ]
        return {
            "t": "namedtuple",
            "module": cls.__module__,
            "name": cls.__qualname__,
            "fields": fields,
            "children": children,
        }
    kind = "leaf" if jax.tree_util.treedef_is_leaf(jax.tree.structure(tree)) else "node"
    raise ValueError(
        f"cannot checkpoint {kind} of type {_type_name(cls)} at {where}: checkpoints hold dict, "
        f"list, tuple, None, NamedTuples from {', '.join(ALLOWED_MODULES)}, Python scalars "
        "and arrays"
    )


def decode(spec: dict, name: str, where: str, tensors: dict, used: set) -> Any:
    """The pytree `encode` described by `spec`, with jax arrays; adds tensor names to `used`."""
    t = spec["t"]
    if t == "none":
        return None
    if t == "scalar":
        value = from_json(spec["v"])
        if type(value) not in (bool, int, float):
            raise TypeError(f"{where} is a {type(value).__name__}, not a scalar")
        return value
    if t == "array":
        dtype, shape = jnp.dtype(spec["dtype"]), tuple(spec["shape"])
        if jax.dtypes.canonicalize_dtype(dtype) != dtype:
            raise ValueError(
                f"{where} was saved as {dtype} but jax_enable_x64 is off; restore it inside "
                "`with jax.enable_x64(True):`"
            )
        return jnp.asarray(_take(tensors, used, name, dtype, shape))
    if t == "key":
        data = tensors[name]
        used.add(name)
        if data.dtype != np.uint32 or list(data.shape[: len(spec["shape"])]) != spec["shape"]:
            raise TypeError(f"tensor {name!r} is not the key data of shape {spec['shape']}")
        return jax.random.wrap_key_data(jnp.asarray(data), impl=spec["impl"])
    children = spec["children"]
    if t == "dict":
        labels, paths = spec["keys"], [f"[{k!r}]" for k in spec["keys"]]
    elif t == "namedtuple":
        labels, paths = spec["fields"], [f".{f}" for f in spec["fields"]]
    elif t in ("list", "tuple"):
        labels = list(range(len(children)))
        paths = [f"[{i}]" for i in labels]
    else:
        raise KeyError(f"unknown node type {t!r} at {where}")
    values = [
        decode(c, f"{name}/{k}", where + p, tensors, used)
        for c, k, p in zip(children, labels, paths, strict=True)
    ]
    if t == "dict":
        return dict(zip(labels, values, strict=True))
    if t == "list":
        return values
    if t == "tuple":
        return tuple(values)
    cls = _import(spec["module"], spec["name"], f"{where} names the class")
    if list(cls._fields) != labels:
        raise ValueError(
            f"{where} was saved as {_type_name(cls)} with fields {labels}, but the installed "
            f"class has fields {list(cls._fields)}"
        )
    return cls(*values)


def check_like(part: str, arg: str, tree: Any, like: Any) -> None:
    """Raise ValueError naming the first leaf of `tree` whose path, shape or dtype is not `like`'s."""
    got, got_def = jax.tree_util.tree_flatten_with_path(tree)
    exp, exp_def = jax.tree_util.tree_flatten_with_path(like)
    got = {jax.tree_util.keystr(p): x for p, x in got}
    exp = {jax.tree_util.keystr(p): x for p, x in exp}
    hint = "the checkpoint was written for a different network"
    for path in exp:
        if path not in got:
            raise ValueError(f"checkpoint has no {part}{path}, which `{arg}` has: {hint}")
    for path, x in got.items():
        if path not in exp:
            raise ValueError(f"checkpoint {part}{path} is not in `{arg}`: {hint}")
        e = exp[path]
        shape, expected = tuple(np.shape(x)), tuple(e.shape if hasattr(e, "shape") else np.shape(e))
        if shape != expected:
            raise ValueError(
                f"checkpoint {part}{path} has shape {shape}, expected {expected}: {hint}"
            )
        if hasattr(x, "dtype") and hasattr(e, "dtype") and x.dtype != e.dtype:
            raise ValueError(f"checkpoint {part}{path} has dtype {x.dtype}, expected {e.dtype}")
    if got_def != exp_def:
        raise ValueError(f"checkpoint {part} has tree structure {got_def}, expected {exp_def}")
