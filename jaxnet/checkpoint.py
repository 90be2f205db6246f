"""Checkpoints: save and restore params, optimizer state, step, PRNG key, history and config.

A checkpoint is ONE ``.safetensors`` file. Every array leaf is a tensor named by its
path ("params/0/W", "opt_state/0/nu/1/b", "key"); the header's ``"jaxnet"`` metadata
entry is a strict-JSON string holding the format version, the step, history, config,
a tree spec of params, opt_state and key (see `jaxnet._treespec`) and a SHA-256 of the
tensors, so any ``safetensors`` reader can open the arrays and nothing is unpickled.
Saving is atomic: an interrupted save leaves the previous checkpoint intact.

>>> import jax, jax.numpy as jnp, optax, tempfile
>>> params = ({"W": jnp.ones((4, 3)), "b": jnp.zeros(4)},)
>>> opt = optax.adam(1e-3)
>>> d = tempfile.mkdtemp()
>>> file = save(d, params, opt.init(params), step=10, key=jax.random.key(0), history={"loss": [0.5]})
>>> file.name
'checkpoint.safetensors'
>>> ckpt = restore(d, like=params)
>>> ckpt.step, ckpt.history, ckpt.params[0]["W"].shape
(10, {'loss': [0.5]}, (4, 3))
"""

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

from jaxnet._treespec import check_like, decode, encode, from_json, to_json

__all__ = ["FILENAME", "FORMAT", "Checkpoint", "latest", "restore", "save"]

FORMAT = 1  # version of the metadata layout; restore refuses other versions
FILENAME = "checkpoint.safetensors"  # the file written when `path` is a directory
_META = "jaxnet"  # the safetensors metadata entry holding our JSON


class Checkpoint(NamedTuple):
    """Everything needed to resume a run, as `restore` returns it.

    Attributes:
      params: pytree of jax arrays, e.g. a tuple of ``{"W": (n_l, n_{l-1}), "b": (n_l,)}``.
      opt_state: the optax state pytree, or None.
      step: the training step the checkpoint was written at.
      key: PRNG key of the kind saved (typed ``jax.random.key`` or raw uint32), or None.
      history: dict of lists, e.g. ``{"loss": [...], "val_accuracy": [...]}`` (nan kept).
      config: dict describing the network and run settings.
    """

    params: Any
    opt_state: Any
    step: int
    key: jax.Array | None
    history: dict
    config: dict


def _resolve(path: str | os.PathLike) -> Path:
    """The checkpoint file for `path`: ``path/checkpoint.safetensors`` for a directory or a
    path without suffix, else `path` itself."""
    p = Path(path)
    if p.is_dir() or (p.suffix == "" and not p.is_file()):
        return p / FILENAME
    return p


def _digest(tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of `tensors`."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        a = tensors[name]
        h.update(f"{name}|{a.dtype.name}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(file: Path, tensors: dict, metadata: dict[str, str]) -> None:
    """Write a safetensors file to a temp file beside `file`, fsync it, then rename it over."""
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    os.close(fd)
    try:
        safetensors.numpy.save_file(tensors, tmp, metadata=metadata)
        umask = os.umask(0o22)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # the temp file is 0600; give it the usual mode
        _fsync(tmp)
        os.replace(tmp, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename durable where directories fsync
        _fsync(file.parent)


def save(
    path: str | os.PathLike,
    params: Any,
    opt_state: Any = None,
    *,
    step: int,
    key: jax.Array | None = None,
    history: dict | None = None,
    config: dict | None = None,
) -> Path:
    """Atomically write a checkpoint; return the `pathlib.Path` of the file written.

    Args:
      path: a ``.safetensors`` file, or a directory (or suffix-less path, created if
        missing) in which ``checkpoint.safetensors`` is written. An existing file is
        replaced only once the new one is fully on disk.
      params: pytree of arrays, e.g. a tuple of ``{"W": (n_l, n_{l-1}), "b": (n_l,)}``.
      opt_state: optax state (NamedTuples from optax/jaxnet/chex, tuples, dicts) or None.
      step: the training step, an int >= 0 (else ValueError; ``int(x)`` a jax scalar).
      key: a typed ``jax.random.key`` or a raw uint32 ``jax.random.PRNGKey``, or None.
      history: dict of JSON-able values: lists of floats (nan/inf kept; arrays -> lists).
      config: dict of JSON-able values (the network description, run settings).

    Raises:
      ValueError: a node or leaf that cannot be checkpointed (its path and type named).
      TypeError: `step`, `key`, `history` or `config` of the wrong type.
    """
    if isinstance(step, bool) or not isinstance(step, int | np.integer):
        raise TypeError(f"step must be an int, got {type(step).__name__} {step!r}")
    step = int(step)
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if key is not None and not (
        isinstance(key, jax.Array)
        and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32)
    ):
        raise TypeError(
            "key must be a jax.random.key(...) or a raw uint32 jax.random.PRNGKey(...), got "
            f"{type(key).__name__} of dtype {getattr(key, 'dtype', None)}"
        )
    history = {} if history is None else history
    config = {} if config is None else config
    for name, value in (("history", history), ("config", config)):
        if type(value) is not dict:
            raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    tensors: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT, "step": step}
    for name, tree in (("params", params), ("opt_state", opt_state), ("key", key)):
        meta[name] = encode(tree, name, name, tensors)
    meta |= {"history": to_json(history, "history"), "config": to_json(config, "config")}
    meta["sha256"] = _digest(tensors)
    file = _resolve(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    _write_atomic(file, tensors, {_META: json.dumps(meta, allow_nan=False)})
    return file


def _read(file: Path, *, arrays: bool = True) -> tuple[dict | None, dict]:
    """The decoded jaxnet metadata of `file` (None if it has none) and, if asked, its tensors."""
    try:
        with safetensors.safe_open(file, framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {name: f.get_tensor(name) for name in f.keys()} if arrays else {}  # noqa: SIM118
    except safetensors.SafetensorError as e:
        raise ValueError(f"checkpoint {file} is corrupt or truncated ({e})") from e
    if _META not in header:
        return None, tensors
    try:
        meta = json.loads(header[_META])
    except json.JSONDecodeError as e:
        raise ValueError(f"checkpoint {file} is corrupt: its metadata is not JSON ({e})") from e
    if type(meta) is not dict or meta.get("format") != FORMAT:
        version = meta.get("format") if type(meta) is dict else None
        raise ValueError(f"checkpoint {file} has format {version!r}; jaxnet reads format {FORMAT}")
    if arrays and _digest(tensors) != meta.get("sha256"):
        raise ValueError(f"checkpoint {file} is corrupt: its arrays do not match their checksum")
    return meta, tensors


def restore(path: str | os.PathLike, *, like: Any = None, like_opt_state: Any = None) -> Checkpoint:
    """Read a checkpoint written by `save`; nothing is returned unless all of it loaded.

    Args:
      path: the file, or the directory holding ``checkpoint.safetensors`` (as in `save`).
      like: optional params pytree (arrays or `jax.ShapeDtypeStruct`s, e.g. from
        ``jax.eval_shape``) the restored params must match in structure, shapes and dtypes.
      like_opt_state: the same check for the optimizer state (e.g. ``optimizer.init(params)``).

    Returns:
      A `Checkpoint`; arrays are jax arrays with their saved dtypes (float64 needs
      ``jax.enable_x64(True)``; weak types are not kept).

    Raises:
      FileNotFoundError: no checkpoint file at `path`.
      ValueError: the file is corrupt, truncated or not a jaxnet checkpoint, names a class
        outside optax/jaxnet/chex, or does not match `like`/`like_opt_state` (the first
        mismatching leaf path, its saved and expected shape are named).
    """
    file = _resolve(path)
    if not file.is_file():
        raise FileNotFoundError(f"no checkpoint file at {file}")
    meta, tensors = _read(file)
    if meta is None:
        raise ValueError(f"{file} is not a jaxnet checkpoint: it has no {_META!r} metadata")
    try:
        used: set[str] = set()
        trees = {p: decode(meta[p], p, p, tensors, used) for p in ("params", "opt_state", "key")}
        step, history, config = meta["step"], from_json(meta["history"]), from_json(meta["config"])
        if type(step) is not int or type(history) is not dict or type(config) is not dict:
            raise TypeError("step, history or config has the wrong type")
        if used != set(tensors):
            raise KeyError(f"tensors {sorted(set(tensors) - used)} are not in the tree spec")
    except (KeyError, TypeError, IndexError, AttributeError) as e:
        raise ValueError(f"checkpoint {file} is corrupt: its metadata is malformed ({e})") from e
    except ValueError as e:
        raise ValueError(f"cannot restore {file}: {e}") from e
    ckpt = Checkpoint(**trees, step=step, history=history, config=config)
    if like is not None:
        check_like("params", "like", ckpt.params, like)
    if like_opt_state is not None:
        check_like("opt_state", "like_opt_state", ckpt.opt_state, like_opt_state)
    return ckpt


def latest(directory: str | os.PathLike) -> Path | None:
    """The ``*.safetensors`` checkpoint in `directory` with the highest step, or None.

    Files without jaxnet metadata are skipped; a corrupt one raises ValueError. Ties in
    step go to the last file name in sorted order.

    >>> latest(tempfile.mkdtemp()) is None
    True
    """
    d = Path(directory)
    found = []
    for file in sorted(d.glob("*.safetensors")) if d.is_dir() else []:
        meta, _ = _read(file, arrays=False)
        if meta is not None:
            found.append((meta.get("step", -1), file))
    return max(found)[1] if found else None
