"""Where dataset files live: `$JAXNET_DATA/<name>`, else a per-user cache directory."""

import os
from collections.abc import Sequence
from pathlib import Path

ENV_VAR = "JAXNET_DATA"


def data_dir(name: str | None = None) -> Path:
    """The default folder for dataset `name` (nothing is created).

    `$JAXNET_DATA/<name>` when the environment variable is set, else
    `$XDG_CACHE_HOME/jaxnet/<name>` (XDG_CACHE_HOME defaults to `~/.cache`).

    Args:
      name: the data set's folder name (e.g. "mnist", "catvnoncat"); None for the root.

    Returns:
      The folder as a Path (it may not exist).

    Example:
      >>> import jaxnet as jn
      >>> jn.datasets.data_dir("mnist").name
      'mnist'
      >>> jn.datasets.data_dir("mnist").parent == jn.datasets.data_dir()
      True
    """
    root = os.environ.get(ENV_VAR)
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        cache = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
        base = cache / "jaxnet"
    return base / name if name else base


def resolve_dir(name: str, path, filenames: Sequence[str]) -> Path:
    """The folder to read `filenames` from.

    `path=None` means `data_dir(name)`. A given `path` is used directly unless it lacks the
    files and `path/<name>` holds them all (so both `.../data/mnist` and `.../data` work).
    """
    if path is None:
        return data_dir(name)
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path).expanduser()
    if not _has_all(path, filenames) and _has_all(path / name, filenames):
        return path / name
    return path


def _has_all(directory: Path, filenames: Sequence[str]) -> bool:
    return all((directory / f).is_file() for f in filenames)


def missing_files_error(
    title: str, directory: Path, filenames: Sequence[str], how_to_get: str
) -> FileNotFoundError:
    """A FileNotFoundError naming every expected file, the missing ones, and how to get them."""
    missing = [f for f in filenames if not (directory / f).is_file()]
    where = "does not exist" if not directory.is_dir() else f"lacks {', '.join(missing)}"
    return FileNotFoundError(
        f"{title}: the folder {directory} {where}. Expected the files "
        f"{', '.join(filenames)}. {how_to_get} Alternatively place the files in {directory}, "
        f"pass path= to a folder holding them, or set {ENV_VAR} to a folder holding "
        f"{directory.name}/."
    )
