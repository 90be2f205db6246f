"""Labelled CSV files (header row, a label column, feature columns), like `mnist_train.csv`."""

import csv
import os
import warnings
from pathlib import Path

import numpy as np


def load_csv(
    path: str | os.PathLike, label_column: str = "label", *, delimiter: str = ","
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV with a header row into features and integer labels.

    Args:
      path: the file. Its first line names the columns; one of them is `label_column`.
      label_column: the column holding integer class labels (any position).
      delimiter: the field separator.

    Returns:
      X: (m, n) float32, every column except the label, in file order.
      y: (m,) int32 labels.

    Raises:
      FileNotFoundError: no such file.
      ValueError: empty file, no data rows, no `label_column` in the header, a cell that is
        not a number or a row with the wrong number of cells (naming the line), or a
        label that is not an integer.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "tiny.csv"
    >>> _ = p.write_text("label,1x1,1x2\\n7,0,255\\n2,128,3\\n")
    >>> X, y = load_csv(p)
    >>> X.shape, X.dtype, y.tolist()
    ((2, 2), dtype('float32'), [7, 2])
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such CSV file")
    with open(path, encoding="utf-8-sig", newline="") as f:
        first = f.readline()
        if not first.strip():
            raise ValueError(
                f"{path}: empty file; expected a header row naming the columns, one of them "
                f"{label_column!r}"
            )
        header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
        if header.count(label_column) != 1:
            shown = ", ".join(repr(h) for h in header[:8]) + (", ..." if len(header) > 8 else "")
            times = "no" if label_column not in header else "more than one"
            raise ValueError(
                f"{path}: {times} column named {label_column!r} in the header (columns: "
                f"{shown}); pass label_column= to name the label column"
            )
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "loadtxt: input contained no data")
                data = np.loadtxt(f, delimiter=delimiter, dtype=np.float64, ndmin=2, comments=None)
        except ValueError:
            data = None
    if data is None or (data.size and data.shape[1] != len(header)):
        raise ValueError(_first_bad_line(path, delimiter, header))
    if data.shape[0] == 0:
        raise ValueError(f"{path}: a header but no data rows")
    col = header.index(label_column)
    labels = data[:, col]
    bad = ~np.isfinite(labels) | (labels != np.round(labels))
    if bad.any():
        line = _line_of_row(path, int(np.argmax(bad)))
        raise ValueError(
            f"{path}, line {line}: label column {label_column!r} holds {float(labels[bad][0])!r}; "
            "labels must be integers"
        )
    X = np.delete(data, col, axis=1).astype(np.float32)
    return X, labels.astype(np.int32)


def _first_bad_line(path: Path, delimiter: str, header: list[str]) -> str:
    """Describe the first line whose cells are not numbers or are the wrong count."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        for number, line in enumerate(f, start=1):
            if number == 1 or not line.strip():
                continue
            cells = line.rstrip("\r\n").split(delimiter)
            if len(cells) != len(header):
                return (
                    f"{path}, line {number}: {len(cells)} cells, but the header names "
                    f"{len(header)} columns"
                )
            for name, cell in zip(header, cells, strict=True):
                try:
                    float(cell)
                except ValueError:
                    return f"{path}, line {number}, column {name!r}: {cell!r} is not a number"
    return f"{path}: could not parse the file as numbers"


def _line_of_row(path: Path, row: int) -> int:
    """The 1-based line number of data row `row` (0-based; blank lines are skipped)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        seen = -1
        for number, line in enumerate(f, start=1):
            if number > 1 and line.strip():
                seen += 1
                if seen == row:
                    return number
    return -1
