"""The one CSV reader: numeric tables, every problem reported as one line naming file and line.

`read_table` reads a file of numbers (one example per line) into a float array, with an
optional header row of column names and an optional label column. A file that is not such a
table raises a ValueError whose message is one line naming the file, the line and, where it
helps, the column: an empty or binary file, bytes that are not UTF-8, a cell that is not a
decimal number (hexadecimal, empty, another separator such as ``;``), NaN or infinity, a
number too large for the dtype (``1e400``), rows of different lengths.

A first row is a header when ``header=True``, or (``header=None``) when every cell reads as a
name: it has a letter and is no number, malformed or not (``x1``, ``label`` and ``1x1`` are
names; ``0x1F``, ``1e5e``, ``2..3`` and ``1;2`` are not). Otherwise it is data, so a data row is never dropped as a header.

The file must be a regular file of at most `MAX_BYTES` (``max_bytes=``): a FIFO, a device
such as ``/dev/zero`` or a larger file is refused before it is read (`jaxnet.io.bounded`).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
>>> _ = p.write_text("x1,label,x2\\n0.5,1,2\\n\\n-1,0,3e2\\n")
>>> table = read_table(p, label_column="label")
>>> table.features.tolist(), table.labels.tolist(), table.columns, table.lines.tolist()
([[0.5, 2.0], [-1.0, 300.0]], [1.0, 0.0], ('x1', 'x2'), [2, 4])
"""

import csv
import os
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from jaxnet.io import bounded

__all__ = ["MAX_BYTES", "Table", "read_table"]

MAX_BYTES = 1 << 29  # 512 MiB read at most (MNIST's training set as CSV: 110 MB)

_NOT_IN_NUMBERS = re.compile(r"[^0-9.eE+\-_\s]")  # a character no (malformed) number has
_INT_LITERAL = re.compile(r"[+-]?0[xXbBoO][0-9a-fA-F_]+")
_OTHER_SEPARATORS = (";", "\t", "|", ",")


class Table(NamedTuple):
    """A numeric CSV file as `read_table` returns it.

    Attributes:
      features: (m, n) array of the requested dtype: every column but the label column.
      labels: (m,) float64 label column, or None when no `label_column` was asked for.
      columns: names of the feature columns from the header, or None without a header.
      lines: (m,) int, the line of the file each row came from (1-based), for messages.

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import csv
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = pathlib.Path(d) / "t.csv"
      ...     _ = path.write_text("1,2,0\\n3,4,1\\n")
      ...     table = csv.read_table(path, label_column=2)
      >>> isinstance(table, csv.Table), table.features.shape, table.labels.tolist(), table.columns
      (True, (2, 2), [0.0, 1.0], None)
    """

    features: np.ndarray
    labels: np.ndarray | None
    columns: tuple[str, ...] | None
    lines: np.ndarray


def _text(path: Path, max_bytes: int) -> str:
    """The file's text; ValueError for a binary file or bytes that are not UTF-8."""
    try:
        raw = bounded.read_bytes(path, max_bytes=max_bytes, what="a CSV file")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such CSV file") from None
    if b"\0" in raw:
        line = raw[: raw.index(b"\0")].count(b"\n") + 1
        raise ValueError(f"{path}, line {line}: a NUL byte; this is a binary file, not CSV text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ValueError(
            f"{path}, line {line}: byte 0x{raw[e.start]:02x} is not UTF-8 text; is this a CSV file?"
        ) from None


def _cells(line: str, delimiter: str) -> list[str]:
    return [c.strip() for c in next(csv.reader([line], delimiter=delimiter, skipinitialspace=True))]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return "_" not in cell  # Python reads 1_000; NumPy and other tools do not


def _is_name(cell: str) -> bool:
    """A cell that reads as a column name: a letter, and not a (malformed or hex) number."""
    return (
        any(c.isalpha() for c in cell)
        and _NOT_IN_NUMBERS.search(cell) is not None
        and not _is_number(cell)
        and not _INT_LITERAL.fullmatch(cell)
    )


def _where(path: Path, line: int, column: int, columns) -> str:
    name = repr(columns[column]) if columns else str(column + 1)
    return f"{path}, line {line}, column {name}"


def _not_a_number(cell: str, delimiter: str) -> str:
    """Why `cell` is not a number, with the fix where one is likely."""
    if not cell:
        return "an empty cell; every cell must be a number (remove or impute missing values)"
    shown = repr(cell if len(cell) <= 40 else cell[:37] + "...")
    if _INT_LITERAL.fullmatch(cell):
        return f"{shown} is not a decimal number (write numbers like 26 or 2.6e1)"
    for sep in _OTHER_SEPARATORS:
        if sep != delimiter and sep in cell:
            return (
                f"{shown} is not a number; the fields look separated by {sep!r}, "
                f"pass delimiter={sep!r}"
            )
    return f"{shown} is not a number"


def _diagnose(path: Path, rows: list, width: int, columns, delimiter: str) -> str | None:
    """What is wrong with the first line of `rows` ((line, text) pairs) that has the wrong
    cell count or a cell that is not a number; None if no line has."""
    for line, text in rows:
        cells = _cells(text, delimiter)
        if len(cells) != width:
            expected = (
                f"the header names {width} columns" if columns else f"line {rows[0][0]} has {width}"
            )
            count = f"{len(cells)} cell" + "s" * (len(cells) != 1)
            return f"{path}, line {line}: {count}, but {expected}"
        for j, cell in enumerate(cells):
            if not _is_number(cell):
                return f"{_where(path, line, j, columns)}: {_not_a_number(cell, delimiter)}"
    return None


def _header(path: Path, rows: list, header: bool | None, delimiter: str):
    """The column names of the first row if it is a header (else None)."""
    line, text = rows[0]
    cells = _cells(text, delimiter)
    if header or (header is None and all(map(_is_name, cells))):
        return tuple(cells)
    if header is None and not all(map(_is_number, cells)):
        j = next(j for j, c in enumerate(cells) if not _is_number(c))
        hint = (
            " (a first row is read as column names only when every cell is a name, or with "
            "header=True)"
        )
        problem = _not_a_number(cells[j], delimiter) + (hint if any(map(_is_name, cells)) else "")
        raise ValueError(f"{_where(path, line, j, None)}: {problem}")
    return None


def _check_finite(path: Path, data: np.ndarray, rows: list, columns, what: str, delimiter: str):
    bad = ~np.isfinite(data)
    if not bad.any():
        return
    r, j = np.argwhere(bad)[0]
    line, text = rows[r]
    cell = _cells(text, delimiter)[j]
    if cell.lstrip("+-").lower() in ("nan", "inf", "infinity"):
        problem = f"{cell!r} is not a finite number (remove or impute missing values)"
    else:
        problem = f"{cell} is too large for {what} (it overflows to infinity)"
    raise ValueError(f"{_where(path, line, j, columns)}: {problem}")


def _label_index(path: Path, label_column: str | int, columns, width: int) -> int:
    if isinstance(label_column, str):
        if columns is None:
            raise ValueError(
                f"{path}: label_column={label_column!r} names a column, but the file has no "
                "header row (pass header=True if its first row names the columns, or a 0-based "
                "column index)"
            )
        if columns.count(label_column) != 1:
            shown = ", ".join(map(repr, columns[:8])) + (", ..." if len(columns) > 8 else "")
            times = "no" if label_column not in columns else "more than one"
            raise ValueError(
                f"{path}: {times} column named {label_column!r} in the header (columns: "
                f"{shown}); pass label_column= to name the label column"
            )
        return columns.index(label_column)
    if isinstance(label_column, bool) or not isinstance(label_column, int | np.integer):
        raise TypeError(
            f"label_column must be a column name or index, got {type(label_column).__name__}"
        )
    if not -width <= label_column < width:
        raise ValueError(f"{path}: label_column={label_column} but rows have {width} cells")
    return int(label_column) % width


def read_table(
    path: str | os.PathLike,
    *,
    header: bool | None = None,
    label_column: str | int | None = None,
    delimiter: str = ",",
    dtype=np.float32,
    max_bytes: int = MAX_BYTES,
) -> Table:
    """Read a numeric CSV file: features (and a label column) as arrays.

    Args:
      path: the file: UTF-8 text (a byte-order mark is allowed), one row per line, blank
        lines skipped, cells optionally in double quotes.
      header: True: the first row names the columns; False: it is data; None: it names
        the columns when every cell reads as a name (see the module docstring), is data
        when every cell is a number, and is an error otherwise.
      label_column: a column name (needs a header) or a 0-based index, returned apart as
        `Table.labels` (float64, exact for integers up to 2**53); None: all columns are
        features.
      delimiter: the field separator.
      dtype: the floating dtype of `Table.features` (values must fit in it).
      max_bytes: the largest file read (a larger one, or one that is not a regular file,
        is refused before it is read).

    Returns:
      A `Table`: features (m, n), labels (m,) or None, feature column names or None, and
      the line each row came from.

    Raises:
      FileNotFoundError: no such file.
      ValueError: the file is not a table of finite numbers, not a regular file or larger
        than `max_bytes`; the message is one line naming the file (and the line and
        the column).

    Example:
      >>> import pathlib, tempfile
      >>> from jaxnet.io import csv
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = pathlib.Path(d) / "houses.csv"
      ...     _ = path.write_text("size,price\\n1500,300\\n\\n2100,410\\n")
      ...     table = csv.read_table(path, label_column="price")
      ...     _ = path.write_text("size,price\\n1500,300\\n2100,0x1F\\n")
      ...     try:
      ...         csv.read_table(path)
      ...     except ValueError as err:
      ...         print("line 3" in str(err))
      True
      >>> table.features.tolist(), table.labels.tolist(), table.columns, table.lines.tolist()
      ([[1500.0], [2100.0]], [300.0, 410.0], ('size',), [2, 4])
    """
    path = Path(path)
    text = _text(path, max_bytes)
    rows = [(n, t) for n, t in enumerate(text.split("\n"), start=1) if t.strip()]
    if not rows:
        raise ValueError(f"{path}: empty file; expected rows of numbers separated by {delimiter!r}")
    columns = _header(path, rows, header, delimiter)
    if columns is not None:
        rows = rows[1:]
        if not rows:
            raise ValueError(f"{path}: a header but no data rows")
    width = len(columns) if columns else len(_cells(rows[0][1], delimiter))
    try:
        data = np.loadtxt(
            [t for _, t in rows],
            delimiter=delimiter,
            dtype=np.float64,
            ndmin=2,
            comments=None,
            quotechar='"',
        )
    except ValueError:
        data = None
    if data is None or data.shape[1] != width:
        problem = _diagnose(path, rows, width, columns, delimiter)
        if problem:
            raise ValueError(problem)
        # Quoting NumPy does not read (spaces around quotes): the csv module's cells.
        cells = [[float(c) for c in _cells(t, delimiter)] for _, t in rows]
        data = np.array(cells, np.float64).reshape(len(rows), width)
    _check_finite(path, data, rows, columns, "float64", delimiter)
    j = None if label_column is None else _label_index(path, label_column, columns, width)
    with np.errstate(over="ignore"):  # overflow is reported below, naming the cell
        features = data.astype(dtype)
    if j is not None:
        features[:, j] = 0  # labels stay float64, exact; only features must fit `dtype`
    _check_finite(path, features, rows, columns, np.dtype(dtype).name, delimiter)
    if j is None:
        return Table(features, None, columns, np.array([n for n, _ in rows]))
    columns = columns and columns[:j] + columns[j + 1 :]
    features = np.delete(features, j, axis=1)
    return Table(features, data[:, j], columns, np.array([n for n, _ in rows]))
