"""Pytrees as flat, named tensors, and back into the structure of a template.

`to_tensors` names every leaf by its path, ``prefix + jax.tree_util.keystr(path)``
(``params[0]['W']``, ``opt_state[0].mu[1]['b']``), and returns NumPy arrays a safetensors
file can hold, with each leaf's dtype name (``"float32"``, ``"bfloat16"``; a typed PRNG key
as ``"key:threefry2x32"``, stored as its key data). `from_tensors` rebuilds a tree in the
structure of a template (arrays, ``jax.ShapeDtypeStruct`` or Python scalars), checking each
leaf's shape and dtype. The tensors carry no structure, so nothing a file names is ever
imported or called: structure comes from the caller, as in equinox, flax.serialization and
orbax.

>>> import jax.numpy as jnp
>>> tree = ({"W": jnp.ones((2, 3)), "b": jnp.zeros(2)},)
>>> tensors, dtypes = to_tensors(tree, "params")
>>> sorted(tensors), dtypes["params[0]['W']"]
(["params[0]['W']", "params[0]['b']"], 'float32')
>>> from_tensors(tree, "params", tensors, dtypes, source="a file", arg="like")[0]["W"].shape
(2, 3)
"""

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["KEY_IMPLS", "from_tensors", "to_tensors"]

KEY_IMPLS = ("threefry2x32", "rbg", "unsafe_rbg")  # the PRNG impls a file may name
# dtypes safetensors stores natively; others (bfloat16, float8...) are stored as raw bytes.
_NATIVE = frozenset(
    np.dtype(t)
    for t in (np.float64, np.float32, np.float16, np.int64, np.int32, np.int16, np.int8)
    + (np.uint64, np.uint32, np.uint16, np.uint8, np.bool_, np.complex64)
)
_HINT = "the checkpoint was written for a different network"


def _array(leaf: Any, where: str) -> tuple[np.ndarray, str]:
    """The array stored for `leaf` and its dtype name."""
    if isinstance(leaf, jax.Array) and jnp.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        impl = str(jax.random.key_impl(leaf))
        if impl not in KEY_IMPLS:
            raise ValueError(f"cannot store {where}: PRNG impl {impl!r} is not one of {KEY_IMPLS}")
        return np.asarray(jax.random.key_data(leaf)), f"key:{impl}"
    if type(leaf) in (bool, int, float) or isinstance(leaf, np.ndarray | np.generic | jax.Array):
        arr = np.asarray(leaf)
        if arr.dtype.kind in "biufc" or arr.dtype.type.__module__.startswith("ml_dtypes"):
            return arr.astype(arr.dtype.newbyteorder("="), copy=False), arr.dtype.name
        raise ValueError(f"cannot store leaf of dtype {arr.dtype} at {where}")
    cls = type(leaf)
    raise ValueError(
        f"cannot store leaf of type {cls.__module__}.{cls.__qualname__} at {where}: "
        "leaves must be arrays, PRNG keys or Python scalars"
    )


def to_tensors(tree: Any, prefix: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """``({name: array}, {name: dtype name})`` for every leaf of `tree` (see the module).

    A dtype safetensors cannot hold natively is stored as raw bytes: uint8 with a last
    axis of the itemsize.

    Args:
      tree: a pytree of arrays (any shape), typed PRNG keys or Python scalars.
      prefix: the name the tree is stored under, the start of every tensor name.

    Returns:
      ``(tensors, dtypes)``: ``{name: C-contiguous NumPy array}`` (a leaf's shape, or
      ``shape + (itemsize,)`` uint8 for raw bytes; a key as its uint32 key data)
      and ``{name: dtype name}``.

    Raises:
      ValueError: a leaf that is not a numeric array, PRNG key or Python scalar (its path
        and type named).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.io import named_tensors
      >>> tree = {"W": jnp.ones((2, 3), jnp.bfloat16), "key": jax.random.key(0), "lr": 0.5}
      >>> tensors, dtypes = named_tensors.to_tensors(tree, "state")
      >>> for name, t in tensors.items():
      ...     print(name, t.dtype, t.shape, dtypes[name])
      state['W'] uint8 (2, 3, 2) bfloat16
      state['key'] uint32 (2,) key:threefry2x32
      state['lr'] float64 () float64
    """
    tensors, dtypes = {}, {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        name = prefix + jax.tree_util.keystr(path)
        if name in tensors:
            raise ValueError(f"cannot store {name}: two leaves have this path name")
        arr, dtypes[name] = _array(leaf, name)
        arr = np.require(arr, requirements="C")  # (np.ascontiguousarray would make 0-d 1-d)
        if arr.dtype not in _NATIVE:
            arr = arr.reshape(-1).view(np.uint8).reshape(arr.shape + (arr.dtype.itemsize,))
        tensors[name] = arr
    return tensors, dtypes


def wrap_key(t: np.ndarray, saved: str, name: str, source: str) -> jax.Array:
    """The typed key whose key data is `t`; the impl `saved` names ("key:<impl>") is looked
    up in KEY_IMPLS, never imported."""
    impl = saved.removeprefix("key:")
    if not saved.startswith("key:") or impl not in KEY_IMPLS or t.dtype != np.uint32 or t.ndim == 0:
        raise ValueError(f"{source} is corrupt: {name} is not key data of {KEY_IMPLS}")
    try:
        return jax.random.wrap_key_data(jnp.asarray(t), impl=impl)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{source} is corrupt: {name} is not {impl} key data") from e


def _x64_hint(dtype: Any) -> str:
    if jax.dtypes.canonicalize_dtype(dtype) == dtype:
        return ""
    return " (jax_enable_x64 is off: restore inside `with jax.enable_x64(True):`)"


def _expected(leaf: Any, arg: str, name: str) -> tuple[tuple, Any]:
    """Shape and dtype a template leaf asks for (a Python scalar asks for a 0-d tensor)."""
    if type(leaf) in (bool, int, float):
        return (), np.asarray(leaf).dtype
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return tuple(leaf.shape), leaf.dtype
    raise TypeError(
        f"`{arg}` has a {type(leaf).__name__} at {name}; a template holds arrays, "
        "jax.ShapeDtypeStruct or Python scalars"
    )


def _leaf(t: np.ndarray, saved: str, leaf: Any, name: str, source: str, arg: str) -> Any:
    """The value of tensor `name` (stored as `t`, of dtype `saved`) for template `leaf`."""
    shape, dtype = _expected(leaf, arg, name)
    key = saved.startswith("key:")
    if key:
        value = wrap_key(t, saved, name, source)
        got_shape = value.shape
    elif t.dtype.name == saved or t.dtype == np.uint8:  # native, or raw bytes (last axis)
        got_shape = t.shape if t.dtype.name == saved else t.shape[:-1]
    else:
        raise ValueError(f"{source} is corrupt: {name} is {t.dtype}, not {saved}")
    if tuple(got_shape) != shape:
        raise ValueError(
            f"{source}: {name} has shape {tuple(got_shape)}, expected {shape}: {_HINT}"
        )
    if key or jnp.issubdtype(dtype, jax.dtypes.prng_key):
        if not key or value.dtype != dtype:
            got = value.dtype if key else saved
            raise ValueError(f"{source}: {name} was saved as {got}, expected {dtype}")
        return value
    dtype = np.dtype(dtype)
    if saved != dtype.name:
        hint = _x64_hint(t.dtype) if t.dtype.name == saved else ""
        raise ValueError(f"{source}: {name} was saved as {saved}, expected {dtype.name}{hint}")
    dtype = dtype.newbyteorder("=")
    if t.dtype != dtype:
        if t.dtype != np.uint8 or t.shape != shape + (dtype.itemsize,):
            raise ValueError(f"{source} is corrupt: {name} is {t.dtype}{list(t.shape)}")
        t = t.reshape(-1).view(dtype).reshape(shape)
    if type(leaf) in (bool, int, float):
        return type(leaf)(t.item())
    if _x64_hint(dtype):
        raise ValueError(f"{source}: {name} is {dtype}{_x64_hint(dtype)}")
    return jax.device_put(t)  # jnp.asarray would compile a copy per shape


def from_tensors(
    like: Any, prefix: str, tensors: dict, dtypes: dict, *, source: str, arg: str
) -> Any:
    """The tree named `prefix` in `tensors`, in the structure of template `like`.

    Every leaf of `like` must be in `tensors` with its shape and dtype; a tensor whose
    name starts with `prefix` (then ``[`` or ``.`` or nothing) that `like` lacks is refused.

    Args:
      like: the template: arrays, ``jax.ShapeDtypeStruct`` (``jax.eval_shape``) or Python
        scalars (restored as Python scalars of their type).
      prefix: the name the tree was stored under in `to_tensors`.
      tensors, dtypes: as `to_tensors` returned them (e.g. read back from a file).
      source: names the data in errors ("checkpoint run/checkpoint.safetensors").
      arg: names the template argument in errors ("like").

    Returns:
      A pytree with `like`'s structure whose leaves are jax arrays of the template's
      shapes and dtypes (typed keys for key leaves, Python scalars for scalar leaves).

    Raises:
      ValueError: a missing or extra tensor, a shape or dtype other than the template's
        (the first such path, its saved and expected shape or dtype named), 64-bit data
        without ``jax_enable_x64``, or tensors inconsistent with their dtype names.
      TypeError: a template leaf that is not an array, ShapeDtypeStruct or Python scalar.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.io import named_tensors
      >>> params = ({"W": jnp.ones((2, 3)), "b": jnp.zeros(2)},)
      >>> tensors, dtypes = named_tensors.to_tensors(params, "params")
      >>> like = jax.eval_shape(lambda: params)
      >>> back = named_tensors.from_tensors(
      ...     like, "params", tensors, dtypes, source="a file", arg="like"
      ... )
      >>> back[0]["W"].shape, back[0]["b"].dtype
      ((2, 3), dtype('float32'))
      >>> try:
      ...     named_tensors.from_tensors(({"W": like[0]["W"]},), "params", tensors, dtypes,
      ...                                source="a file", arg="like")
      ... except ValueError as err:
      ...     print(err)
      a file: params[0]['b'] is not in `like`: the checkpoint was written for a different network
    """
    flat, treedef = jax.tree_util.tree_flatten_with_path(like)
    names = [prefix + jax.tree_util.keystr(path) for path, _ in flat]
    for name in names:
        if name not in tensors:
            raise ValueError(f"{source} has no {name}, which `{arg}` has: {_HINT}")
    wanted = set(names)
    extra = sorted(n for n in tensors if n not in wanted and under(n, prefix))
    if extra:
        raise ValueError(f"{source}: {extra[0]} is not in `{arg}`: {_HINT}")
    leaves = [
        _leaf(tensors[name], dtypes[name], leaf, name, source, arg)
        for name, (_, leaf) in zip(names, flat, strict=True)
    ]
    return jax.tree_util.tree_unflatten(treedef, leaves)


def under(name: str, prefix: str) -> bool:
    """Whether tensor `name` belongs to the tree stored under `prefix`."""
    return name == prefix or (name.startswith(prefix) and name[len(prefix)] in "[.")
