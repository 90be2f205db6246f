"""Labelled CSV files (header row, a label column, feature columns), like `mnist_train.csv`."""

import os

import numpy as np

from jaxnet.io.csv import read_table

__all__ = ["MAX_CLASSES", "load_csv"]

MAX_CLASSES = 10_000  # labels 0..K-1 with K at most this; a larger K is almost surely a mistake


def load_csv(
    path: str | os.PathLike,
    label_column: str = "label",
    *,
    delimiter: str = ",",
    max_classes: int = MAX_CLASSES,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a CSV with a header row into features and integer class labels 0..K-1.

    Args:
      path: the file. Its first line names the columns; one of them is `label_column`.
      label_column: the column holding integer class labels (any position).
      delimiter: the field separator.
      max_classes: the largest class count K accepted; a label of 999999999 would
        otherwise make a softmax of 10**9 outputs.

    Returns:
      X: (m, n) float32, every column except the label, in file order.
      y: (m,) int32 labels in 0..K-1.

    Raises:
      FileNotFoundError: no such file.
      ValueError: the file is not a table of numbers (see `jaxnet.io.csv.read_table`), no
        `label_column` in the header, or a label that is not an integer in
        0..max_classes-1 (each message names the file and line).

    Example:
      >>> import pathlib, tempfile
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     path = pathlib.Path(d) / "tiny.csv"
      ...     _ = path.write_text("label,1x1,1x2\\n7,0,255\\n2,128,3\\n")
      ...     X, y = jn.datasets.load_csv(path)
      >>> X.shape, X.dtype, X.tolist(), y.tolist()
      ((2, 2), dtype('float32'), [[0.0, 255.0], [128.0, 3.0]], [7, 2])
    """
    table = read_table(path, header=True, label_column=label_column, delimiter=delimiter)
    labels = table.labels
    bad = (labels != np.round(labels)) | (labels < 0) | (labels >= max_classes)
    if bad.any():
        i = int(np.argmax(bad))
        value = labels[i]
        shown = int(value) if value == np.round(value) and abs(value) < 2**53 else float(value)
        raise ValueError(
            f"{path}, line {table.lines[i]}: label column {label_column!r} holds {shown!r}; "
            f"class labels must be integers 0..K-1 with K <= {max_classes} (map other labels "
            "first, e.g. `classes, y = numpy.unique(y, return_inverse=True)`)"
        )
    return table.features, labels.astype(np.int32)
