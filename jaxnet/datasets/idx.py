"""Read gzip-compressed IDX files (the MNIST format) into NumPy arrays, validating everything."""

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

# IDX type byte -> big-endian dtype (LeCun's format description).
_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Decode one IDX file (gzip-compressed if its name ends in `.gz`).

    The header is a big-endian magic number `0x0000TTNN` (type byte TT, NN dimensions),
    then NN big-endian uint32 sizes, then the values in C order.

    Args:
      path: the file.
      expected_magic: e.g. 2051 (images, uint8, 3 dims) or 2049 (labels, uint8, 1 dim).

    Returns:
      A writable array of shape given by the header (native byte order).

    Raises:
      FileNotFoundError: no such file.
      ValueError: corrupt or truncated gzip, wrong magic number, or a data length that
        does not match the header; the message names the file.
    """
    path = Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                raw = f.read()
        else:
            raw = path.read_bytes()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from err
    if len(raw) < 4:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an IDX header")
    magic = int.from_bytes(raw[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"{path}: wrong IDX magic number {magic}, expected {expected_magic}")
    type_code, ndim = (magic >> 8) & 0xFF, magic & 0xFF
    if magic >> 16 != 0 or type_code not in _DTYPES or ndim == 0:
        raise ValueError(f"{path}: {magic} is not an IDX magic number")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated header ({len(raw)} bytes, need {header})")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[type_code])
    expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if len(raw) - header != expected:
        problem = "truncated" if len(raw) - header < expected else "trailing bytes"
        raise ValueError(
            f"{path}: header says shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes ({problem})"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)
