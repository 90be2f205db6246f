"""Text files as lists of lines: a general loader and the course's dinosaur names (course 5, week 1)."""

import os
from pathlib import Path

from jaxnet.datasets._paths import missing_files_error, resolve_dir
from jaxnet.validation import check_bool, check_int

__all__ = ["DEFAULT_MAX_BYTES", "load_dinos", "load_text_lines"]

DEFAULT_MAX_BYTES = 64 * 2**20  # 64 MiB: a text corpus read whole into memory
DINOS = "dinos.txt"
_HOW_TO_GET = (
    "It is the course's dinos.txt (Sequence Models, week 1, 'Dinosaur Island'): one dinosaur "
    "name per line; there is no canonical download URL."
)


def load_text_lines(
    path: str | os.PathLike,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    encoding: str = "utf-8",
) -> list[str]:
    """The lines of a text file, one item per line: stripped, empty lines dropped.

    Args:
      path: the text file.
      max_bytes: the largest file read (a bound on memory); a larger file is an error.
      encoding: the file's text encoding.

    Returns:
      The non-empty lines, stripped of surrounding whitespace, in file order.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike.
      FileNotFoundError: no file at ``path``.
      ValueError: the file is larger than ``max_bytes``, is not valid ``encoding`` text, or
        holds no non-empty line.

    Example:
      >>> import pathlib, tempfile
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     p = pathlib.Path(d) / "names.txt"
      ...     _ = p.write_text("Aachenosaurus\\n\\n  Aardonyx \\nAbdallahsaurus")
      ...     jn.datasets.load_text_lines(p)
      ['Aachenosaurus', 'Aardonyx', 'Abdallahsaurus']
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    max_bytes = check_int(max_bytes, "max_bytes", 1)
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"path {str(path)!r} is not a file")
    with open(path, "rb") as f:
        data = f.read(max_bytes + 1)  # bounded even if the file grows or lies about its size
    if len(data) > max_bytes:
        raise ValueError(
            f"{path} is larger than max_bytes={max_bytes:,} bytes; pass a larger max_bytes "
            "to read it whole"
        )
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise ValueError(f"{path} is not {encoding} text: {e}") from None
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if not lines:
        raise ValueError(f"{path} holds no text: it is empty or has only blank lines")
    return lines


def load_dinos(path: str | os.PathLike | None = None, *, lower: bool = True) -> list[str]:
    """The course's dinosaur names (``dinos.txt``), one name per item, lower-cased as the course does.

    Args:
      path: the file ``dinos.txt``, a folder holding it, or a folder with a ``dinos/``
        subfolder holding it. Default: ``$JAXNET_DATA/dinos``, else ``~/.cache/jaxnet/dinos``.
      lower: lower-case the names (the course's ``data.lower()``); False keeps ``Aachenosaurus``.

    Returns:
      The names in file order (1,543 in the shared copy; 27 distinct characters with the
      newline, as the course counts them).

    Raises:
      FileNotFoundError: no ``dinos.txt`` where ``path`` points (the message says where to
        put it).
      ValueError: an empty file.

    Example:
      >>> import pathlib, tempfile
      >>> import jaxnet as jn
      >>> with tempfile.TemporaryDirectory() as d:
      ...     _ = (pathlib.Path(d) / "dinos.txt").write_text("Aachenosaurus\\nAardonyx\\n")
      ...     jn.datasets.load_dinos(d)
      ['aachenosaurus', 'aardonyx']
    """
    lower = check_bool(lower, "lower")
    if path is not None and isinstance(path, str | os.PathLike) and Path(path).is_file():
        file = Path(path)
    else:
        directory = resolve_dir("dinos", path, (DINOS,))
        file = directory / DINOS
        if not file.is_file():
            raise missing_files_error("dinosaur names", directory, (DINOS,), _HOW_TO_GET)
    names = load_text_lines(file)
    return [name.lower() for name in names] if lower else names
