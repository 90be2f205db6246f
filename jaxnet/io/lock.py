"""A run folder is written by one process at a time: an OS lock on ``.jaxnet.lock`` inside it.

:func:`hold` takes an exclusive ``flock`` (``msvcrt.locking`` on Windows) on the folder's
``.jaxnet.lock`` without waiting, and writes the holder's pid into it. A second process that
asks gets :class:`FolderLocked`, naming the folder and the holder's pid, before it writes
anything. The kernel releases the lock when its process dies (``kill -9``, a power cut), so
the lock of a killed run is taken over by the next one; the file left behind says nothing
by itself. The holder deletes the file when it is done. Within one process the lock is
re-entrant (``jaxnet train`` holds it and ``jn.fit`` asks again for its ``checkpoint_dir``).

>>> import pathlib, tempfile
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> with hold(d, "checkpoint_dir"):
...     print(sorted(p.name for p in d.iterdir()), holder(d) == os.getpid())
['.jaxnet.lock'] True
>>> list(d.iterdir())
[]
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["NAME", "FolderLocked", "hold", "holder"]

NAME = ".jaxnet.lock"
_held: dict[str, list] = {}  # real path of a folder -> [fd, depth], this process's locks
_guard = threading.Lock()


class FolderLocked(BlockingIOError):
    """Another process is writing this folder (``folder``, ``pid``: the holder, None if unknown).

    Example:
      >>> err = FolderLocked("runs/a is being written by process 4711", folder="runs/a", pid=4711)
      >>> isinstance(err, OSError), err.pid
      (True, 4711)
    """

    def __init__(self, message: str, *, folder, pid: int | None):
        super().__init__(message)
        self.folder, self.pid = folder, pid

    def __str__(self) -> str:
        return self.args[0]


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False if another holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def holder(folder: str | os.PathLike) -> int | None:
    """The pid written in ``folder``'s lock file (None if there is none or it is unreadable)."""
    try:
        with open(Path(folder) / NAME, "rb") as f:
            text = f.read(32).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isascii() and text.isdigit() else None


def _acquire(folder: Path, name: str) -> int:
    """Open and lock ``folder/.jaxnet.lock``; the fd (``FolderLocked`` if another holds it)."""
    path = folder / NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
        if not _try_lock(fd):
            os.close(fd)
            pid = holder(folder)
            who = f"process {pid}" if pid is not None else "another process"
            raise FolderLocked(
                f"{name} {folder} is being written by {who} (a jaxnet run holds its lock "
                f"{path}); wait for it to finish, or stop it, or choose another folder",
                folder=folder,
                pid=pid,
            )
        try:  # the holder before us may have deleted the file we opened: start again
            if os.fstat(fd).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


@contextlib.contextmanager
def hold(folder: str | os.PathLike, name: str = "folder") -> Iterator[Path]:
    """Hold ``folder``'s lock for the body (the folder is created if missing).

    Args:
      folder: the run folder.
      name: the argument that gave it, for the message (``"--out"``, ``"checkpoint_dir"``).

    Yields:
      ``folder`` as a Path.

    Raises:
      FolderLocked: another process holds it (the message names the folder and the pid).
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    with _guard:
        if key in _held:
            _held[key][1] += 1
        else:
            _held[key] = [_acquire(folder, name), 1]
    try:
        yield folder
    finally:
        with _guard:
            entry = _held[key]
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                with contextlib.suppress(OSError):
                    os.unlink(folder / NAME)  # while locked: a waiting process starts again
                os.close(entry[0])
