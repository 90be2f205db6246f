"""The one bounded reader: a file is read only if it is a regular file no larger than a limit.

Every reader of a user's file goes through :func:`open_regular` (or :func:`read_bytes`):
it opens without blocking (a FIFO with no writer would otherwise hang), refuses what is not
a regular file (a FIFO, ``/dev/zero``, a socket, a folder) and a file larger than the
caller's documented limit (a 10 GB sparse file is refused from its size, before one byte is
read), each with one line naming the file. A file that grows while it is read is cut at the
limit and refused too, so memory never exceeds the limit.

>>> import pathlib, tempfile
>>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
>>> _ = p.write_text("1,2\\n")
>>> read_bytes(p, max_bytes=100, what="a CSV file")
b'1,2\\n'
>>> try:
...     read_bytes("/dev/zero", max_bytes=100, what="a CSV file")
... except ValueError as e:
...     print(e)
/dev/zero is a character device, not a CSV file
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

__all__ = ["kind", "open_regular", "read_bytes"]

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def kind(mode: int) -> str:
    """What a file of ``st_mode`` ``mode`` is, in words (``"a regular file"``, ``"a FIFO ..."``)."""
    return next((words for test, words in _KINDS if test(mode)), "a regular file")


def _size_text(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def open_regular(path: str | os.PathLike, *, max_bytes: int, what: str = "a file") -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file of at most ``max_bytes``.

    Args:
      path: the file (a symbolic link is followed).
      max_bytes: the largest size accepted, in bytes.
      what: what the file should be, with its article, for messages (``"a CSV file"``).

    Returns:
      A binary file object positioned at the start (blocking reads).

    Raises:
      FileNotFoundError: no such file.
      ValueError: not a regular file (a directory, FIFO, device, socket) or larger than
        ``max_bytes``; one line naming the file.
      OSError: it cannot be opened (permission denied, ...).
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not {what}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ValueError(f"{path} is {kind(st.st_mode)}, not {what}")
        if st.st_size > max_bytes:
            raise ValueError(
                f"{path} holds {_size_text(st.st_size)}, more than the {_size_text(max_bytes)} "
                f"{what} may hold; refusing to read it"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_bytes(path: str | os.PathLike, *, max_bytes: int, what: str = "a file") -> bytes:
    """The whole content of the regular file ``path``, refused past ``max_bytes``.

    Args:
      path: the file.
      max_bytes: the largest size accepted (checked before reading, and while reading:
        a file that grows past it is refused having read ``max_bytes + 1`` bytes at most).
      what: what the file should be, for messages.

    Returns:
      The bytes.

    Raises:
      FileNotFoundError, ValueError, OSError: as :func:`open_regular`.
    """
    with open_regular(path, max_bytes=max_bytes, what=what) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ValueError(
            f"{path} grew past the {_size_text(max_bytes)} {what} may hold while it was "
            "read; refusing it"
        )
    return data
