"""The one atomic writer: a file is replaced whole or not at all, and survives a power cut.

Every write goes to a temporary file beside the target, is flushed to disk (fsync), renamed
over the target with `os.replace` (atomic on POSIX and Windows) and the folder is fsynced so
the rename itself is durable. A failed write removes its temporary file and leaves the old
target untouched. Temporary names are recognisable, ``.<stem>.<pid>-<random>.tmp<suffix>``
(e.g. ``.checkpoint.4711-9f1c2ab0.tmp.safetensors``; the suffix is kept so that writers which
infer a format from it, such as matplotlib's ``savefig``, still work). One left behind by a
process killed mid-write (kill -9, power cut) is removed by the next write to the same
target, once its process is gone and it predates this one.

Nothing of the user's is written over: a target that exists and that jaxnet did not write
(:mod:`jaxnet.io.written` keeps a record of what it wrote in each folder) is refused with a
``FileExistsError``, unless the caller says ``overwrite=True``. :func:`check_target` makes
the same checks up front (before training, say) with messages that name the argument.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "run" / "config.json"
>>> write_json(p, {"epochs": 3}).name
'config.json'
>>> p.read_text()
'{\\n  "epochs": 3\\n}\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from jaxnet.io import written

# The files jaxnet keeps for itself in a folder it writes: the record of the files it wrote
# and a run folder's lock (jaxnet.io.lock). A folder holding only these is empty to the user.
BOOKKEEPING = (written.RECORD, ".jaxnet.lock")

__all__ = [
    "BOOKKEEPING",
    "atomic_path",
    "check_folder",
    "check_target",
    "remove",
    "temp_pattern",
    "write_bytes",
    "write_json",
    "write_text",
]

# Temporaries older than this module's import cannot belong to a write of this process.
_STARTED = time.time()


def temp_pattern(path: str | os.PathLike) -> re.Pattern:
    """The regular expression matching the names of `path`'s temporary files (group 1: pid).

    Args:
      path: the target file (only its name matters).

    Returns:
      A compiled pattern for ``re.fullmatch`` on names in the target's folder.

    Example:
      >>> from jaxnet.io import atomic
      >>> pattern = atomic.temp_pattern("run/checkpoint.safetensors")
      >>> pattern.fullmatch(".checkpoint.4711-9f1c2ab0.tmp.safetensors").group(1)
      '4711'
      >>> pattern.fullmatch("checkpoint.safetensors") is None
      True
    """
    path = Path(path)
    stem, suffix = re.escape(path.stem), re.escape(path.suffix)
    return re.compile(rf"\.{stem}\.(\d+)-[0-9a-f]{{8}}\.tmp{suffix}")


def _alive(pid: int) -> bool:
    """Whether process `pid` runs on this machine (assumed so where that cannot be asked)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # e.g. PermissionError: it exists, owned by another user
    return True


def _remove_stale(path: Path) -> None:
    """Delete temporaries of `path` left by dead processes (kill -9 during a save)."""
    pattern = temp_pattern(path)
    with contextlib.suppress(OSError):
        for entry in os.scandir(path.parent):
            match = pattern.fullmatch(entry.name)
            if match is None or int(match.group(1)) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if entry.stat(follow_symlinks=False).st_mtime < _STARTED and not _alive(
                    int(match.group(1))
                ):
                    os.unlink(entry.path)


def _fsync(path: str | os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_above(path: Path) -> Path | None:
    """The nearest ancestor of ``path`` that exists and is not a folder (None if there is none)."""
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else parent
    return None


def _refusal(path: Path, name: str | None, hint: str) -> str:
    what = f"{name} {path}" if name else str(path)
    return (
        f"{what} exists and was not written by jaxnet (or was changed since); it is left as "
        f"it is: {hint}"
    )


def check_target(
    path: str | os.PathLike,
    name: str,
    *,
    overwrite: bool = False,
    hint: str = "pass overwrite=True to replace it, or choose another path",
    inputs=(),
) -> Path:
    """Check, before any work, that a file may be written at ``path``; return it as a Path.

    Refused, each with a message naming the argument ``name``: a path under an existing
    file (``afile/log.csv``), an existing folder in place of the file, an existing file
    that jaxnet did not write (unless ``overwrite``), and any of ``inputs`` (the files the
    command reads, compared as files: links and other spellings included), whatever
    ``overwrite`` says.

    Args:
      path: the file to write.
      name: the argument that gave it (``"--output"``, ``"CSVLogger path"``).
      overwrite: the user allows replacing a file jaxnet did not write.
      hint: what the message suggests when the file is not jaxnet's.
      inputs: paths the command reads (None entries are skipped).

    Returns:
      ``path`` as a Path.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike.
      ValueError: a path under a file, a folder, or one of ``inputs``.
      FileExistsError: a file jaxnet did not write, without ``overwrite``.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (d / "notes.txt").write_text("mine")
      >>> try:
      ...     atomic.check_target(d / "notes.txt", "--output", hint="pass --force")
      ... except FileExistsError as e:
      ...     print(str(e).split(" exists")[0].endswith("notes.txt"), str(e).endswith("--force"))
      True True
      >>> atomic.check_target(d / "notes.txt", "--output", overwrite=True).name
      'notes.txt'
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a path (str or pathlib.Path), got {path!r:.80}")
    path = Path(path)
    above = _file_above(path)
    if above is not None:
        raise ValueError(f"{name} {path}: {above} is a file, not a folder; cannot write under it")
    if path.is_dir():
        raise ValueError(f"{name} {path} is a folder; give the path of a file")
    for source in inputs:
        if source is not None and _same_file(path, source):
            raise ValueError(
                f"{name} {path} is {source}, a file this command reads; it is never written "
                "over (choose another path)"
            )
    if os.path.lexists(path) and not overwrite and not written.is_ours(path):
        raise FileExistsError(_refusal(path, name, hint))
    return path


def check_folder(path: str | os.PathLike, name: str) -> Path:
    """Check, before any work, that ``path`` is or can become a folder; return it as a Path.

    Refused with a ``ValueError`` naming ``name``: an existing file at ``path`` or above it.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> _ = (d / "afile").write_text("mine")
      >>> try:
      ...     atomic.check_folder(d / "afile" / "logs", "log_dir")
      ... except ValueError as e:
      ...     print(str(e).startswith("log_dir "), "is a file" in str(e))
      True True
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"{name} must be a path (str or pathlib.Path), got {path!r:.80}")
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{name} {path} is a file, not a folder")
    above = _file_above(path)
    if above is not None:
        raise ValueError(f"{name} {path}: {above} is a file, not a folder")
    return path


def _same_file(a: Path, b) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return os.path.abspath(a) == os.path.abspath(b)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, durably.

    The body writes the whole file at the yielded path (by name: ``fig.savefig(tmp)``,
    ``safetensors.numpy.save_file(t, tmp)``). When the body returns, the file is fsynced,
    renamed over `path` and the folder is fsynced. When it raises (KeyboardInterrupt too),
    the temporary file is removed, `path` is left as it was and the exception propagates.
    The folder of `path` is created if missing; the new file gets the usual permission
    bits (``0o666`` less the umask), like a file opened with ``open(path, "w")``.

    Args:
      path: the file to create or replace.
      overwrite: replace `path` even if jaxnet did not write it (else refused, untouched).

    Yields:
      The temporary Path beside `path` that the body writes (it exists, empty).

    Raises:
      IsADirectoryError: `path` is an existing directory.
      NotADirectoryError: a folder above `path` is a file.
      FileExistsError: `path` exists, jaxnet did not write it, and `overwrite` is False.
      OSError: the folder cannot be created or written.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> with tempfile.TemporaryDirectory() as d:
      ...     target = pathlib.Path(d) / "weights.bin"
      ...     with atomic.atomic_path(target) as tmp:
      ...         _ = tmp.write_bytes(b"12345")
      ...         print(target.exists())  # nothing at the target until the body returns
      ...     print(target.read_bytes(), sorted(p.name for p in target.parent.iterdir()))
      False
      b'12345' ['.jaxnet-files.json', 'weights.bin']
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; cannot write a file in its place")
    above = _file_above(path)
    if above is not None:
        raise NotADirectoryError(f"cannot write {path}: {above} is a file, not a folder")
    if os.path.lexists(path) and not overwrite and not written.is_ours(path):
        raise FileExistsError(_refusal(path, None, "pass overwrite=True to replace it"))
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(path)
    while True:
        tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    mode = stat.S_IMODE(os.fstat(fd).st_mode)  # 0o666 less the umask, without reading it
    os.close(fd)
    try:
        yield tmp
        if stat.S_IMODE(os.stat(tmp).st_mode) != mode:  # a writer that made its own file
            os.chmod(tmp, mode)
        _fsync(tmp)
        written.record(path, tmp, _write_unrecorded)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # folders cannot be opened or fsynced everywhere
        _fsync(path.parent)


def _write_unrecorded(path: Path, data: bytes) -> None:
    """Replace ``path`` by ``data`` atomically, without recording it (the record itself)."""
    _remove_stale(path)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def remove(path: str | os.PathLike) -> None:
    """Delete ``path`` if it exists and drop it from the record of the files jaxnet wrote.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> d = pathlib.Path(tempfile.mkdtemp())
      >>> _ = atomic.write_text(d / "config.json", "{}")
      >>> atomic.remove(d / "config.json")
      >>> list(d.iterdir())
      []
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    written.forget(path, _write_unrecorded)


def write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False) -> Path:
    """Atomically write `data` to `path` (see `atomic_path`); return `path` as a Path.

    Args:
      path: the file to create or replace (its folder is created if missing).
      data: the whole content.
      overwrite: replace a file jaxnet did not write (see `atomic_path`).

    Returns:
      `path` as a Path.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = atomic.write_bytes(pathlib.Path(d) / "sub" / "a.bin", b"\\x00\\x01")
      ...     print(path.name, path.read_bytes())
      a.bin b'\\x00\\x01'
    """
    with atomic_path(path, overwrite=overwrite) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(
    path: str | os.PathLike, text: str, *, encoding: str = "utf-8", overwrite: bool = False
) -> Path:
    """Atomically write `text` to `path`, encoded as `encoding`; return `path` as a Path.

    Args:
      path: the file to create or replace (its folder is created if missing).
      text: the whole content.
      encoding: the text encoding.
      overwrite: replace a file jaxnet did not write (see `atomic_path`).

    Returns:
      `path` as a Path.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = atomic.write_text(pathlib.Path(d) / "notes.txt", "épocas: 3\\n")
      ...     print(path.read_bytes())
      b'\\xc3\\xa9pocas: 3\\n'
    """
    return write_bytes(path, text.encode(encoding), overwrite=overwrite)


def write_json(
    path: str | os.PathLike, obj: Any, *, indent: int | None = 2, overwrite: bool = False
) -> Path:
    """Atomically write `obj` as strict JSON (and a final newline) to `path`; return `path`.

    Strict: NaN and infinities are refused (``json.dumps`` would write ``NaN``, which is not
    JSON and which other languages' parsers reject); store them as null or strings.

    Args:
      path: the file to create or replace (its folder is created if missing).
      obj: JSON-able data (dicts with str keys, lists, str, finite numbers, bool, None).
      indent: as ``json.dumps``'s (None: one line).
      overwrite: replace a file jaxnet did not write (see `atomic_path`).

    Returns:
      `path` as a Path.

    Raises:
      ValueError: `obj` holds a non-finite float (nothing is written).
      TypeError: `obj` holds a value JSON cannot represent (nothing is written).

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import atomic
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = atomic.write_json(pathlib.Path(d) / "config.json", {"epochs": 3}, indent=None)
      ...     print(path.read_text(), end="")
      ...     try:
      ...         atomic.write_json(path, {"loss": float("nan")})
      ...     except ValueError:
      ...         print(path.read_text(), end="")  # unchanged
      {"epochs": 3}
      {"epochs": 3}
    """
    try:
        text = json.dumps(obj, indent=indent, allow_nan=False)
    except ValueError as e:
        raise ValueError(
            f"cannot write {path}: it would hold a NaN or infinite float, which strict JSON "
            "cannot represent; store it as null or a string"
        ) from e
    except TypeError as e:
        raise TypeError(f"cannot write {path} as JSON: {e}") from e
    return write_text(path, text + "\n", overwrite=overwrite)
