"""Which files jaxnet wrote: a record per folder, so that nothing of the user's is written over.

Every file the atomic writer (:mod:`jaxnet.io.atomic`) puts in a folder is recorded in that
folder's ``.jaxnet-files.json``: its name, size, modification time and SHA-256. A file is
jaxnet's (:func:`is_ours`) when it is a regular file whose size and modification time are
those recorded (a file edited since has another time), or whose size and SHA-256 are (a
copy made by ``cp -r``, which does not keep times). Anything else at a target path (a user's
file, a file jaxnet wrote and the user changed, a symbolic link, a device) is the user's and
is written over only when the caller says so (``overwrite=True``, ``--force``).

The record keeps, per name, the file now there and the one before (a process killed between
recording and renaming leaves either), and drops names whose file is gone. Updates lock the
folder (``flock``, where the platform has it); a record that cannot be read counts as empty
(jaxnet then refuses to overwrite rather than guess).

>>> import pathlib, tempfile
>>> from jaxnet.io import atomic
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = atomic.write_text(d / "log.csv", "epoch\\n")
>>> _ = (d / "notes.txt").write_text("mine")
>>> is_ours(d / "log.csv"), is_ours(d / "notes.txt")
(True, False)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

__all__ = ["RECORD", "fingerprint", "forget", "is_ours", "record"]

RECORD = ".jaxnet-files.json"  # in every folder jaxnet writes a file into
_MAX_RECORD_BYTES = 1 << 24  # a larger record is not jaxnet's: read as empty
_KEPT = 2  # fingerprints kept per name: the file now there and the one before


def _sha256(path: Path, size: int) -> str | None:
    """The SHA-256 of the first ``size`` bytes of a regular file (None if it cannot be read)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while size > 0 and (chunk := f.read(min(size, 1 << 20))):
                digest.update(chunk)
                size -= len(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def fingerprint(path: str | os.PathLike) -> list:
    """``[size, mtime_ns, sha256]`` of the regular file at ``path`` (what the record keeps).

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import written
      >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
      >>> _ = p.write_bytes(b"abc")
      >>> size, _, sha = written.fingerprint(p)
      >>> size, sha[:12]
      (3, 'ba7816bf8f01')
    """
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, _sha256(Path(path), st.st_size)]


def _read(folder: Path) -> dict[str, list]:
    """The folder's record, ``{name: [fingerprint, ...]}`` (empty if absent or unreadable)."""
    try:
        fd = os.open(folder / RECORD, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_RECORD_BYTES:
            return {}
        with os.fdopen(os.dup(fd), "rb") as f:
            saved = json.loads(f.read(_MAX_RECORD_BYTES + 1))
    except (OSError, ValueError, RecursionError):
        return {}
    finally:
        os.close(fd)
    files = saved.get("files") if isinstance(saved, dict) else None
    if not isinstance(files, dict):
        return {}
    return {k: v for k, v in files.items() if isinstance(k, str) and isinstance(v, list)}


def _matches(entry, st: os.stat_result, path: Path) -> bool:
    if not (isinstance(entry, list) and len(entry) == 3 and entry[0] == st.st_size):
        return False
    return entry[1] == st.st_mtime_ns or entry[2] == _sha256(path, st.st_size)


def is_ours(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file that jaxnet wrote and nobody changed since.

    Args:
      path: a file path (a symbolic link is never jaxnet's: it would be replaced itself).

    Returns:
      True when the folder's record holds its size and modification time or SHA-256.
    """
    path = Path(path)
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    entries = _read(path.parent).get(path.name, [])
    # the cheap test first: a SHA-256 only when the times differ (a copy)
    return any(e[:2] == [st.st_size, st.st_mtime_ns] for e in entries if isinstance(e, list)) or (
        any(_matches(e, st, path) for e in entries)
    )


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (best effort: none where there is no flock)."""
    try:
        import fcntl
    except ImportError:  # Windows: updates are not serialised
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _update(folder: Path, name: str, entry: list | None, write) -> None:
    """Set (``entry``) or drop (None) ``name``'s fingerprints; ``write(path, bytes)`` replaces
    the record file atomically. Names whose file is gone are dropped too."""
    with _locked(folder):
        files = _read(folder)
        old = [e for e in files.pop(name, []) if isinstance(e, list)]
        files = {k: v for k, v in files.items() if (folder / k).exists()}
        if entry is not None:
            files[name] = [entry, *old][:_KEPT]
        if files:
            data = json.dumps({"format": 1, "files": files}, indent=None, sort_keys=True)
            write(folder / RECORD, (data + "\n").encode())
        else:
            with contextlib.suppress(OSError):
                os.unlink(folder / RECORD)


def record(target: str | os.PathLike, written: str | os.PathLike, write) -> None:
    """Record the file ``written`` (a finished temporary) as what ``target`` will hold.

    Called before the rename, so that a process killed in between leaves the old or the new
    file recorded (both are kept). Failing to record is not an error (the file is then not
    known as jaxnet's, and a later overwrite asks for permission).
    """
    target = Path(target)
    with contextlib.suppress(OSError):
        _update(target.parent, target.name, fingerprint(written), write)


def forget(path: str | os.PathLike, write) -> None:
    """Drop ``path`` from its folder's record (after deleting it); the record goes when empty."""
    path = Path(path)
    with contextlib.suppress(OSError):
        _update(path.parent, path.name, None, write)
