"""Read IDX files (the MNIST format), gzip-compressed or not, validating everything.

The header is read first and checked (magic number, dimensions, the caller's expected shape,
a size limit) before any data: the data is then decompressed as a stream into an array of
exactly the size the header declares, so a gzip bomb or a header declaring terabytes fails
with a ValueError having allocated no more than the header promised.
"""

import gzip
import os
import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from jaxnet.io import bounded

__all__ = ["MAX_BYTES", "read_idx"]

# IDX type byte -> big-endian dtype (LeCun's format description).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_BYTES = 1 << 31  # default limit on the data a header may declare (MNIST train: 47 MB)


def _read_exactly(f, n: int, path: Path, what: str) -> bytes:
    data = f.read(n)
    if len(data) < n:
        raise ValueError(f"{path}: truncated {what} ({len(data)} bytes, need {n})")
    return data


def _header(f, path: Path, expected_magic: int | None) -> tuple[tuple[int, ...], np.dtype]:
    magic = int.from_bytes(_read_exactly(f, 4, path, "IDX header"), "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: wrong IDX magic number {magic}, expected {expected_magic}")
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 != 0 or type_code not in _DTYPES or ndim == 0:
        raise ValueError(f"{path}: {magic} is not an IDX magic number")
    sizes = _read_exactly(f, 4 * ndim, path, "header")
    shape = tuple(int.from_bytes(sizes[4 * i : 4 * i + 4], "big") for i in range(ndim))
    return shape, np.dtype(_DTYPES[type_code])


def _check_shape(path: Path, shape, dtype, expected_shape, max_bytes: int) -> int:
    """The declared data size in bytes, once the header's shape is what the caller expects."""
    if expected_shape is not None and (
        len(shape) != len(expected_shape)
        or any(e is not None and e != s for s, e in zip(shape, expected_shape, strict=False))
    ):
        wanted = ", ".join("m" if e is None else str(e) for e in expected_shape)
        raise ValueError(f"{path}: header declares shape {shape}, expected ({wanted})")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if nbytes > max_bytes:
        raise ValueError(
            f"{path}: header declares shape {shape} ({nbytes} bytes of data), more than the "
            f"{max_bytes} bytes allowed (max_bytes=); refusing to read it"
        )
    return nbytes


def read_idx(
    path: str | os.PathLike,
    expected_magic: int | None = None,
    *,
    expected_shape: Sequence[int | None] | None = None,
    max_bytes: int = MAX_BYTES,
) -> np.ndarray:
    """Decode one IDX file (gzip-compressed if its name ends in `.gz`).

    The header is a big-endian magic number `0x0000TTNN` (type byte TT, NN dimensions),
    then NN big-endian uint32 sizes, then the values in C order.

    Args:
      path: the file.
      expected_magic: e.g. 2051 (images, uint8, 3 dims) or 2049 (labels, uint8, 1 dim).
      expected_shape: the shape the header must declare, None for a free size, e.g.
        ``(None, 28, 28)``; checked before any data is read.
      max_bytes: the most data the header may declare (checked before reading).

    Returns:
      A writable array of shape given by the header (native byte order).

    Raises:
      FileNotFoundError: no such file.
      ValueError: not a regular file (a FIFO, a device), corrupt or truncated gzip, wrong magic number, an unexpected or too
        large declared shape, or data shorter or longer than the header declares (a gzip
        bomb stops one byte past the declared size); the message names the file.

    Example:
      Two 2x3 uint8 images (magic 2051 = 0x0803: type uint8, 3 dimensions):

      >>> import gzip, pathlib, tempfile
      >>> import numpy as np
      >>> import jaxnet as jn
      >>> header = (2051).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in (2, 2, 3))
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = pathlib.Path(d) / "images-idx3-ubyte.gz"
      ...     _ = path.write_bytes(gzip.compress(header + bytes(range(12))))
      ...     images = jn.datasets.read_idx(path, 2051, expected_shape=(None, 2, 3))
      >>> images.shape, images.dtype, images[1].tolist()
      ((2, 2, 3), dtype('uint8'), [[6, 7, 8], [9, 10, 11]])
    """
    path = Path(path)
    raw = bounded.open_regular(path, max_bytes=sys.maxsize, what="an IDX file")  # no FIFO, device
    try:
        with raw, gzip.open(raw, "rb") if path.suffix == ".gz" else raw as f:
            shape, dtype = _header(f, path, expected_magic)
            nbytes = _check_shape(path, shape, dtype, expected_shape, max_bytes)
            data = np.empty(nbytes, np.uint8)
            got = 0
            while got < nbytes and (n := f.readinto(memoryview(data)[got:])):
                got += n
            extra = len(f.read(1))
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from err
    if got != nbytes or extra:
        problem = "truncated" if got < nbytes else "trailing bytes"
        held = got if got < nbytes else "more"
        raise ValueError(
            f"{path}: header says shape {shape} ({nbytes} bytes of data) but the file holds "
            f"{held} bytes ({problem})"
        )
    return data.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)
