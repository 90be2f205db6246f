"""Checkpoints: params, optimizer state, step, PRNG key, history and config in one file.

A checkpoint is ONE ``.safetensors`` file, so any safetensors reader opens its arrays and
nothing is ever unpickled. Every array leaf is a tensor named by its pytree path
(`jaxnet.io.named_tensors`): ``params[0]['W']``, ``opt_state[0].mu[1]['b']``, ``key``. The
header's ``"jaxnet"`` entry is a strict-JSON string: the format version, the step, history
and config (`jaxnet.io.strict_json`), each tensor's dtype name and a SHA-256 of the tensors.

The file holds arrays, never structure: `restore` rebuilds params and optimizer state in
the structure of a template the caller supplies (arrays or ``jax.ShapeDtypeStruct``, e.g.
from ``jax.eval_shape``), so restoring imports or calls nothing a file names, and a file
that does not fit its template is refused naming the first mismatching path. Saving is
atomic (`jaxnet.io.atomic`): an interrupted save leaves the previous checkpoint intact.

Checkpoints in jaxnet, four modules with one job each: this one is the FILE FORMAT (what
a file holds, how it is written and verified, which path names which file: `file_of`),
and the only code that reads or writes checkpoint files. The others decide WHEN and WHAT:
`jaxnet.training.checkpoints` is ``jn.fit``'s run checkpoint (the run's settings beside
its arrays, saved every ``checkpoint_every`` epochs, and what resuming requires);
``jn.callbacks.ModelCheckpoint`` saves the params when a monitored log improves (and
``EarlyStopping`` its best params, for resuming); `jaxnet.cli.rundir` is the run directory
of ``jaxnet train``, which holds one checkpoint beside config.json and the results. They
all call `save`, `restore` and `read_metadata`.

>>> import jax, jax.numpy as jnp, optax, tempfile
>>> params = ({"W": jnp.ones((4, 3)), "b": jnp.zeros(4)},)
>>> opt = optax.adam(1e-3)
>>> d = tempfile.mkdtemp()
>>> file = save(d, params, opt.init(params), step=10, key=jax.random.key(0), history={"loss": [0.5]})
>>> file.name
'checkpoint.safetensors'
>>> like = jax.eval_shape(lambda: params)
>>> ckpt = restore(d, like, like_opt_state=jax.eval_shape(opt.init, like))
>>> ckpt.step, ckpt.history, ckpt.params[0]["W"].shape
(10, {'loss': [0.5]}, (4, 3))
>>> read_metadata(d)["step"]
10
"""

import hashlib
import json
import os
import stat
import sys
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import safetensors
import safetensors.numpy

from jaxnet.io import atomic, bounded, strict_json
from jaxnet.io.named_tensors import KEY_IMPLS, from_tensors, to_tensors, under, wrap_key
from jaxnet.validation import check_int

__all__ = [
    "FILENAME",
    "FORMAT",
    "KEY_IMPLS",
    "Checkpoint",
    "check_target",
    "file_of",
    "is_checkpoint",
    "latest",
    "read_metadata",
    "restore",
    "save",
]

FORMAT = 2  # version of the metadata layout; restore refuses other versions
MAX_STEP = 2**53 - 1  # a step beyond this (285 years at a million steps a second) is corrupt
OPT_STATE_FACTOR = 8  # restore without like_opt_state: the state may hold 8x the params' bytes
_MAX_HEADER = 100_000_000  # safetensors' own limit on its JSON header, in bytes
FILENAME = "checkpoint.safetensors"  # the file written when `path` is a directory
_META = "jaxnet"  # the safetensors metadata entry holding our JSON
_PARTS = ("params", "opt_state")  # the trees stored under these names, beside "key"


class Checkpoint(NamedTuple):
    """Everything needed to resume a run, as `restore` returns it.

    Attributes:
      params: pytree in the template's structure, of jax arrays, e.g. a tuple of
        ``{"W": (n_l, n_{l-1}), "b": (n_l,)}``.
      opt_state: the optax state in ``like_opt_state``'s structure, or None if not asked.
      step: the training step the checkpoint was written at.
      key: PRNG key of the kind saved (typed ``jax.random.key`` or raw uint32), or None.
      history: dict of lists, e.g. ``{"loss": [...], "val_accuracy": [...]}`` (nan kept).
      config: dict describing the network and run settings.

    Example:
      >>> import tempfile
      >>> import jax, jax.numpy as jnp
      >>> import jaxnet as jn
      >>> params = ({"W": jnp.ones((1, 2)), "b": jnp.zeros(1)},)
      >>> with tempfile.TemporaryDirectory() as d:
      ...     _ = jn.checkpoint.save(d, params, step=3, config={"sizes": [2, 1]})
      ...     ckpt = jn.checkpoint.restore(d, params)
      >>> isinstance(ckpt, jn.checkpoint.Checkpoint), ckpt.step, ckpt.config, ckpt.opt_state
      (True, 3, {'sizes': [2, 1]}, None)
      >>> ckpt.params[0]["W"].shape, ckpt.key is None
      ((1, 2), True)
    """

    params: Any
    opt_state: Any
    step: int
    key: jax.Array | None
    history: dict
    config: dict


def file_of(path: str | os.PathLike) -> Path:
    """The checkpoint file that `path` names in `save`, `restore` and `read_metadata`.

    Args:
      path: a ``.safetensors`` file, or a directory (or a path without suffix that is not a
        file) holding ``checkpoint.safetensors``.

    Returns:
      ``path/checkpoint.safetensors`` for a directory or a path without suffix, else `path`.

    Example:
      >>> import tempfile
      >>> import jaxnet as jn
      >>> d = tempfile.mkdtemp()
      >>> jn.checkpoint.file_of(d).name, jn.checkpoint.file_of(d + "/best.safetensors").name
      ('checkpoint.safetensors', 'best.safetensors')
      >>> jn.checkpoint.file_of(d + "/run").relative_to(d).as_posix()
      'run/checkpoint.safetensors'
    """
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


def _check_save_args(step: Any, key: Any, history: Any, config: Any) -> int:
    step = check_int(step, "step", 0, MAX_STEP)  # 2**53 - 1 at most
    if key is not None and not (
        isinstance(key, jax.Array)
        and (jnp.issubdtype(key.dtype, jax.dtypes.prng_key) or key.dtype == jnp.uint32)
    ):
        raise TypeError(
            "key must be a jax.random.key(...) or a raw uint32 jax.random.PRNGKey(...), got "
            f"{type(key).__name__} of dtype {getattr(key, 'dtype', None)}"
        )
    for name, value in (("history", history), ("config", config)):
        if type(value) is not dict:
            raise TypeError(f"{name} must be a dict, got {type(value).__name__}")
    return int(step)


def save(
    path: str | os.PathLike,
    params: Any,
    opt_state: Any = None,
    *,
    step: int,
    key: jax.Array | None = None,
    history: dict | None = None,
    config: dict | None = None,
    overwrite: bool = False,
) -> Path:
    """Atomically write a checkpoint; return the `pathlib.Path` of the file written.

    Args:
      path: a ``.safetensors`` file, or a directory (or suffix-less path, created if
        missing) in which ``checkpoint.safetensors`` is written. An existing file is
        replaced only once the new one is fully on disk.
      params: pytree of arrays, e.g. a tuple of ``{"W": (n_l, n_{l-1}), "b": (n_l,)}``; any
        pytree jax flattens (`restore` takes its structure from a template).
      opt_state: optax state (a pytree of arrays and Python scalars) or None.
      step: the training step, an int >= 0 (``int(x)`` a jax scalar).
      key: a typed ``jax.random.key`` or a raw uint32 ``jax.random.PRNGKey``, or None.
      history: dict of JSON-able values: lists of floats (nan/inf kept; arrays -> lists).
      config: dict of JSON-able values (the network description, run settings).
      overwrite: replace a file at that path that jaxnet did not write (else refused:
        a checkpoint jaxnet wrote is replaced, a user's file is not).

    Returns:
      The Path of the file written: `path`, or ``path/checkpoint.safetensors``.

    Raises:
      ValueError: `step` < 0, a leaf that cannot be stored (its path and type named), or
        history/config nested more than `strict_json.MAX_DEPTH` levels.
      TypeError: `step`, `key`, `history` or `config` of the wrong type.
      FileExistsError: a file jaxnet did not write is at the path (and not `overwrite`).

    Example:
      >>> import pathlib, tempfile
      >>> import jax, jax.numpy as jnp, optax
      >>> import jaxnet as jn
      >>> params = ({"W": jnp.ones((4, 3)), "b": jnp.zeros(4)},)
      >>> with tempfile.TemporaryDirectory() as d:
      ...     opt_state = optax.sgd(0.1).init(params)
      ...     file = jn.checkpoint.save(pathlib.Path(d) / "run", params, opt_state, step=10,
      ...                               key=jax.random.key(0), history={"loss": [0.5]})
      ...     print(file.relative_to(d).as_posix())
      run/checkpoint.safetensors
    """
    history = {} if history is None else history
    config = {} if config is None else config
    meta = {"format": FORMAT, "step": _check_save_args(step, key, history, config)}
    meta["history"] = strict_json.encode(history, "history")
    meta["config"] = strict_json.encode(config, "config")
    tensors, meta["dtypes"] = {}, {}
    for part, tree in (("params", params), ("opt_state", opt_state), ("key", key)):
        arrays, dtypes = to_tensors(tree, part)  # a key is a single leaf, named "key"
        tensors |= arrays
        meta["dtypes"] |= dtypes
    meta["sha256"] = _digest(tensors)
    text = json.dumps(meta, allow_nan=False)
    if strict_json.depth(text) > strict_json.MAX_DEPTH:  # restore would refuse it
        raise ValueError(
            f"history or config is nested too deeply (over {strict_json.MAX_DEPTH} JSON levels)"
        )
    file = file_of(path)
    with atomic.atomic_path(file, overwrite=overwrite or is_checkpoint(file)) as tmp:
        safetensors.numpy.save_file(tensors, tmp, metadata={_META: text})
    return file


def is_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file holding a jaxnet checkpoint's header (jaxnet wrote it).

    A checkpoint carries its writer's mark, so one may be replaced by the next save even
    where the record of written files (:mod:`jaxnet.io.written`) does not know it (a run
    folder from an older jaxnet). Only the header is read.

    Example:
      >>> import pathlib, tempfile
      >>> import jax.numpy as jnp
      >>> from jaxnet.io import checkpoint
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> file = checkpoint.save(d, [jnp.ones(2)], step=1)
      >>> _ = (d / "notes.safetensors").write_text("mine")
      >>> checkpoint.is_checkpoint(file), checkpoint.is_checkpoint(d / "notes.safetensors")
      (True, False)
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        return _header(path) is not None
    except (OSError, ValueError):
        return False


def check_target(path: str | os.PathLike, name: str, *, overwrite: bool = False, hint: str) -> Path:
    """The checkpoint file `save` would write for `path`, checked before any work.

    As :func:`jaxnet.io.atomic.check_target` (a path under a file, a folder in place of the
    file, a file jaxnet did not write unless `overwrite`), a jaxnet checkpoint counting as
    jaxnet's (see :func:`is_checkpoint`).

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import checkpoint
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> checkpoint.check_target(d, "checkpoint_dir", hint="").name
      'checkpoint.safetensors'
    """
    file = file_of(path)
    return atomic.check_target(file, name, overwrite=overwrite or is_checkpoint(file), hint=hint)


def _safetensors_header(file: Path) -> tuple[dict, set]:
    """``(metadata, tensor names)`` from the file's safetensors header, read as bytes: only
    the header is read (a FIFO, a device or a header larger than safetensors allows is
    refused; nothing is mapped, so a huge file costs nothing here)."""
    with bounded.open_regular(file, max_bytes=sys.maxsize, what="a checkpoint file") as f:
        try:
            size = os.fstat(f.fileno()).st_size
            n = int.from_bytes(f.read(8), "little")
            if size < 8 or n > min(_MAX_HEADER, size - 8):
                raise ValueError(f"a header of {n} bytes in a file of {size}")
            header = strict_json.loads(f.read(n).decode("utf-8"))
        except (ValueError, OSError) as e:  # UnicodeDecodeError and JSONDecodeError too
            raise ValueError(f"checkpoint {file} is corrupt or truncated ({e})") from None
    if type(header) is not dict or type(header.get("__metadata__", {})) is not dict:
        raise ValueError(f"checkpoint {file} is corrupt or truncated (its header is no table)")
    metadata = header.pop("__metadata__", {})
    if not all(type(v) is str for v in metadata.values()):
        raise ValueError(f"checkpoint {file} is corrupt or truncated (metadata not strings)")
    return metadata, set(header)


def _header(file: Path) -> dict | None:
    """The decoded, type-checked jaxnet metadata of `file` (None if it has none)."""
    header, names = _safetensors_header(file)
    if _META not in header:
        return None
    try:
        meta = strict_json.loads(header[_META])
    except ValueError as e:
        raise ValueError(f"checkpoint {file} is corrupt: its metadata is not JSON ({e})") from e
    if type(meta) is not dict or meta.get("format") != FORMAT:
        version = meta.get("format") if type(meta) is dict else None
        raise ValueError(f"checkpoint {file} has format {version!r}; jaxnet reads format {FORMAT}")
    for field, kind in {"step": int, "history": dict, "config": dict, "dtypes": dict}.items():
        if type(meta.get(field)) is not kind:
            raise ValueError(
                f"checkpoint {file} is corrupt: metadata field {field!r} is not a {kind.__name__}"
            )
    if not 0 <= meta["step"] <= MAX_STEP:
        raise ValueError(
            f"checkpoint {file} is corrupt: metadata field 'step' must be in 0..{MAX_STEP}, "
            f"got {meta['step']!r:.40}"
        )
    if set(meta["dtypes"]) != names or type(meta.get("sha256")) is not str:
        raise ValueError(f"checkpoint {file} is corrupt: its tensors do not match its metadata")
    if not all(type(v) is str for v in meta["dtypes"].values()):
        raise ValueError(f"checkpoint {file} is corrupt: its dtypes are not names")
    stray = [n for n in names if n != "key" and not any(under(n, p) for p in _PARTS)]
    if stray:
        raise ValueError(f"checkpoint {file} is corrupt: tensor {stray[0]!r} belongs to no part")
    meta["history"] = strict_json.decode(meta["history"])
    meta["config"] = strict_json.decode(meta["config"])
    return meta


def _checked_header(file: Path) -> dict:
    if not os.path.exists(file):
        raise FileNotFoundError(f"no checkpoint file at {file}")
    meta = _header(file)
    if meta is None:
        raise ValueError(f"{file} is not a jaxnet checkpoint: it has no {_META!r} metadata")
    return meta


def read_metadata(path: str | os.PathLike) -> dict:
    """``{"step", "history", "config"}`` of a checkpoint, from its header alone.

    No tensor is read or hashed, so this is cheap at any checkpoint size (e.g. to read the
    epochs a run has done); `restore` verifies the arrays.

    Args:
      path: the file, or the directory holding ``checkpoint.safetensors`` (as in `save`).

    Returns:
      ``{"step": int, "history": dict, "config": dict}``.

    Raises:
      FileNotFoundError: no checkpoint file at `path`.
      ValueError: the header is corrupt, truncated or not a jaxnet checkpoint's.

    Example:
      >>> import tempfile
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     _ = jn.checkpoint.save(d, {"W": jnp.ones((2, 2))}, step=7, history={"loss": [0.1]})
      ...     print(jn.checkpoint.read_metadata(d))
      {'step': 7, 'history': {'loss': [0.1]}, 'config': {}}
    """
    meta = _checked_header(file_of(path))
    return {k: meta[k] for k in ("step", "history", "config")}


def restore(path: str | os.PathLike, like: Any, *, like_opt_state: Any = None) -> Checkpoint:
    """Read a checkpoint written by `save` into the structure of `like`; all or nothing.

    Args:
      path: the file, or the directory holding ``checkpoint.safetensors`` (as in `save`).
      like: params template: a pytree of arrays or ``jax.ShapeDtypeStruct`` (e.g.
        ``jax.eval_shape(lambda: jn.init(key, net))``) or Python scalars. The params come
        back in its structure; every leaf must be in the file with its shape and dtype,
        and the file must hold no params the template lacks.
      like_opt_state: the same for the optimizer state (e.g. ``optimizer.init(params)`` or
        its ``jax.eval_shape``); None returns ``opt_state=None`` without checking it.

    Returns:
      A `Checkpoint`; arrays are jax arrays with their saved dtypes (float64 needs
      ``jax.enable_x64(True)``; weak types are not kept).

    Raises:
      FileNotFoundError: no checkpoint file at `path`.
      ValueError: the file is corrupt, truncated, fails its checksum or is not a jaxnet
        checkpoint, or it does not match `like`/`like_opt_state` (the first mismatching
        path, its saved and expected shape or dtype are named); a file holding more array
        bytes than the templates imply (without `like_opt_state`: `OPT_STATE_FACTOR` times
        the params' for the optimiser state) is refused before any array is read.
      TypeError: a template leaf that is not an array, ShapeDtypeStruct or Python scalar.

    Example:
      The template can be shapes only (``jax.eval_shape``): nothing is computed for it.

      >>> import tempfile
      >>> import jax, jax.numpy as jnp, optax
      >>> import jaxnet as jn
      >>> net = jn.Network((3, 2, 1), hidden_activation="relu", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> optimizer = optax.adam(1e-3)
      >>> with tempfile.TemporaryDirectory() as d:
      ...     _ = jn.checkpoint.save(d, params, optimizer.init(params), step=5)
      ...     like = jax.eval_shape(lambda: jn.init(jax.random.key(0), net))
      ...     like_opt = jax.eval_shape(optimizer.init, like)
      ...     ckpt = jn.checkpoint.restore(d, like, like_opt_state=like_opt)
      >>> ckpt.step, [p["W"].shape for p in ckpt.params], int(ckpt.opt_state[0].count)
      (5, [(2, 3), (1, 2)], 0)
      >>> bool(jnp.array_equal(ckpt.params[0]["W"], params[0]["W"]))
      True
    """
    file = file_of(path)
    meta = _checked_header(file)
    _check_size(file, like, like_opt_state)
    try:
        with safetensors.safe_open(file, framework="numpy") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118
    except (safetensors.SafetensorError, OSError) as e:
        raise ValueError(f"checkpoint {file} is corrupt or truncated ({e})") from e
    if _digest(tensors) != meta["sha256"]:
        raise ValueError(f"checkpoint {file} is corrupt: its arrays do not match their checksum")
    source, dtypes = f"checkpoint {file}", meta["dtypes"]
    params = from_tensors(like, "params", tensors, dtypes, source=source, arg="like")
    opt_state = None
    if like_opt_state is not None:
        opt_state = from_tensors(
            like_opt_state, "opt_state", tensors, dtypes, source=source, arg="like_opt_state"
        )
    key = None
    if "key" in tensors:
        t, saved = tensors["key"], dtypes["key"]
        raw = saved == "uint32" and t.dtype == np.uint32
        key = jnp.asarray(t) if raw else wrap_key(t, saved, "key", source)
    return Checkpoint(params, opt_state, meta["step"], key, meta["history"], meta["config"])


def _nbytes(tree) -> int:
    """The bytes the leaves of a template hold (a Python scalar: 8), plus 64 per leaf."""
    total = 0
    for leaf in jax.tree.leaves(tree):
        shape, dtype = getattr(leaf, "shape", ()), getattr(leaf, "dtype", None)
        try:
            itemsize = 8 if dtype is None else np.dtype(dtype).itemsize
        except TypeError:  # a typed PRNG key: its key data, at most 4 uint32
            itemsize = 16
        total += int(np.prod(shape, dtype=np.int64)) * itemsize + 64
    return total


def _check_size(file: Path, like, like_opt_state) -> None:
    """Refuse, before reading any array, a file holding more array bytes than the templates
    imply (a tampered header or a huge sparse file would otherwise be read whole)."""
    params = _nbytes(like)
    opt = _nbytes(like_opt_state) if like_opt_state is not None else OPT_STATE_FACTOR * params
    allowed = params + opt + (1 << 20)  # the key and scalars
    with open(file, "rb") as f:
        header = int.from_bytes(f.read(8), "little")
        size = os.fstat(f.fileno()).st_size
    held = size - 8 - header
    if held > allowed:
        raise ValueError(
            f"checkpoint {file} holds {held} bytes of arrays, more than the {allowed} its "
            "template allows (like, like_opt_state); it was not written for this network"
        )


def latest(directory: str | os.PathLike) -> Path | None:
    """The ``*.safetensors`` checkpoint in `directory` with the highest step, or None.

    Only headers are read. Files without jaxnet metadata are skipped; a corrupt one raises
    ValueError. Ties in step go to the last file name in sorted order.

    Args:
      directory: the folder to search (a missing folder holds no checkpoint).

    Returns:
      The Path of the newest checkpoint, or None when there is none.

    Example:
      >>> import pathlib, tempfile
      >>> import jax.numpy as jnp
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     print(jn.checkpoint.latest(d))
      ...     for step in (20, 5):
      ...         file = pathlib.Path(d) / f"s{step}.safetensors"
      ...         _ = jn.checkpoint.save(file, [jnp.ones(2)], step=step)
      ...     print(jn.checkpoint.latest(d).name)
      None
      s20.safetensors
    """
    d = Path(directory)
    found = []
    for file in sorted(d.glob("*.safetensors")) if d.is_dir() else []:
        meta = _header(file)
        if meta is not None:
            found.append((meta["step"], file))
    return max(found)[1] if found else None
