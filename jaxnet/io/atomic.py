"""The one atomic writer: a file is replaced whole or not at all, and survives a power cut.

Every write goes to a temporary file beside the target, is flushed to disk (fsync), renamed
over the target with `os.replace` (atomic on POSIX and Windows) and the folder is fsynced so
the rename itself is durable. A failed write removes its temporary file and leaves the old
target untouched. Temporary names are recognisable, ``.<stem>.<pid>-<random>.tmp<suffix>``
(e.g. ``.checkpoint.4711-9f1c2ab0.tmp.safetensors``; the suffix is kept so that writers which
infer a format from it, such as matplotlib's ``savefig``, still work). One left behind by a
process killed mid-write (kill -9, power cut) is removed by the next write to the same
target, once its process is gone and it predates this one.

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

__all__ = ["atomic_path", "temp_pattern", "write_bytes", "write_json", "write_text"]

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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path`, durably.

    The body writes the whole file at the yielded path (by name: ``fig.savefig(tmp)``,
    ``safetensors.numpy.save_file(t, tmp)``). When the body returns, the file is fsynced,
    renamed over `path` and the folder is fsynced. When it raises (KeyboardInterrupt too),
    the temporary file is removed, `path` is left as it was and the exception propagates.
    The folder of `path` is created if missing; the new file gets the usual permission
    bits (``0o666`` less the umask), like a file opened with ``open(path, "w")``.

    Args:
      path: the file to create or replace.

    Yields:
      The temporary Path beside `path` that the body writes (it exists, empty).

    Raises:
      IsADirectoryError: `path` is an existing directory.
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
      b'12345' ['weights.bin']
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a directory; cannot write a file in its place")
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
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # folders cannot be opened or fsynced everywhere
        _fsync(path.parent)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write `data` to `path` (see `atomic_path`); return `path` as a Path.

    Args:
      path: the file to create or replace (its folder is created if missing).
      data: the whole content.

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
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> Path:
    """Atomically write `text` to `path`, encoded as `encoding`; return `path` as a Path.

    Args:
      path: the file to create or replace (its folder is created if missing).
      text: the whole content.
      encoding: the text encoding.

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
    return write_bytes(path, text.encode(encoding))


def write_json(path: str | os.PathLike, obj: Any, *, indent: int | None = 2) -> Path:
    """Atomically write `obj` as strict JSON (and a final newline) to `path`; return `path`.

    Strict: NaN and infinities are refused (``json.dumps`` would write ``NaN``, which is not
    JSON and which other languages' parsers reject); store them as null or strings.

    Args:
      path: the file to create or replace (its folder is created if missing).
      obj: JSON-able data (dicts with str keys, lists, str, finite numbers, bool, None).
      indent: as ``json.dumps``'s (None: one line).

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
    return write_text(path, text + "\n")
