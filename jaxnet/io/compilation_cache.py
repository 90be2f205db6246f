"""JAX's persistent compilation cache in a per-user folder: a second process skips XLA compiles.

A first `jn.fit` in a new process spends most of its time compiling (XLA:CPU takes tenths of a
second for even a 2-4-1 network); with the cache on, a later process with the same programs
loads the compiled executables from disk instead. Results are bit-identical: the cached
executable is the one the compiler produced.
"""

import os
import tempfile
import warnings
from pathlib import Path

import jax

from jaxnet.validation import check_real

__all__ = ["ENV_VAR", "cache_folder", "enable_compilation_cache"]

ENV_VAR = "JAXNET_COMPILATION_CACHE"
_OFF = frozenset({"0", "off", "false", "no", "none", ""})
# An entry is a zstandard frame or a zlib stream (JAX compresses with zstandard when installed).
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ENTRY_SUFFIX = "-cache"
_warned = False


def enable_compilation_cache(path=None, *, min_compile_time_secs: float = 0.0) -> Path | None:
    """Turn on JAX's persistent compilation cache; return its folder (None when disabled).

    The folder is, first found: `path`; the environment variable `JAXNET_COMPILATION_CACHE`
    (a folder, or `0` / `off` / `false` / `no` to disable the cache); else
    `$XDG_CACHE_HOME/jaxnet/xla` (`~/.cache/jaxnet/xla`). Every program that takes at least
    `min_compile_time_secs` to compile is written there, whatever its size (JAX's default
    keeps only programs of 1 s or more: jaxnet's are mostly smaller).

    Call it once, before the first compile, at the top of a notebook or script::

        import jaxnet as jn
        jn.enable_compilation_cache()        # ~/.cache/jaxnet/xla
        params, history = jn.fit(...)        # compiled once, loaded from disk in later sessions

    The `jaxnet` command does this itself (`--no-compilation-cache` turns it off). The folder
    may be deleted at any time. A folder that cannot be created, read or written never fails
    a run: a `RuntimeWarning` says why (once per process) and the run goes on without the
    cache. Entries that are not compressed executables (a corrupt file) are removed with the
    same warning; an entry cut short after its header is found by JAX itself, which warns
    and recompiles that program.

    Args:
      path: the cache folder (str or Path; `~` is expanded), or None for the default above.
      min_compile_time_secs: only programs compiling at least this long are cached, >= 0.

    Returns:
      The absolute folder in use, or None when the cache is disabled or unusable.

    Example:
      With the environment variable set to ``off`` the cache stays off (the example
      leaves this process's JAX configuration as it was):

      >>> import os
      >>> from unittest import mock
      >>> import jaxnet as jn
      >>> with mock.patch.dict(os.environ, {"JAXNET_COMPILATION_CACHE": "off"}):
      ...     print(jn.enable_compilation_cache())
      None
    """
    min_secs = _check_seconds(min_compile_time_secs)
    folder = cache_folder(path)
    if folder is None:
        return None
    problem, removed = _prepare(folder)
    if problem is not None:
        _warn_once(f"the compilation cache folder {folder} {problem}; going on without the cache")
        return None
    if removed:
        _warn_once(f"removed {removed} corrupt entries from the compilation cache {folder}")
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_secs)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)  # -1: no minimum size
    jax.config.update("jax_enable_compilation_cache", True)
    return folder


def cache_folder(path=None) -> Path | None:
    """The folder `enable_compilation_cache(path)` would use (None: disabled); creates nothing.

    Args:
      path: a folder (str or Path; `~` is expanded), or None for `JAXNET_COMPILATION_CACHE`,
        else `$XDG_CACHE_HOME/jaxnet/xla`.

    Returns:
      The absolute folder, or None when the environment variable disables the cache.

    Example:
      >>> import os, pathlib
      >>> from unittest import mock
      >>> from jaxnet.io import compilation_cache
      >>> with mock.patch.dict(os.environ, {"JAXNET_COMPILATION_CACHE": "0"}):
      ...     print(compilation_cache.cache_folder())
      None
      >>> folder = compilation_cache.cache_folder(pathlib.Path("xla-cache"))
      >>> folder.is_absolute(), folder.name
      (True, 'xla-cache')
    """
    if path is None:
        setting = os.environ.get(ENV_VAR)
        if setting is not None and setting.strip().lower() in _OFF:
            return None
        path = setting if setting is not None else _default_folder()
    if not isinstance(path, str | os.PathLike):
        raise TypeError(f"path must be a folder (str or Path) or None, got {type(path).__name__}")
    return Path(path).expanduser().absolute()


def _default_folder() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".cache"  # XDG: relative is invalid
    return base / "jaxnet" / "xla"


def _prepare(folder: Path) -> tuple[str | None, int]:
    """Make `folder` usable as a cache: (what is wrong with it or None, corrupt entries removed)."""
    corrupt = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-") as probe:
            probe.write(b"jaxnet")
            probe.flush()
            probe.seek(0)
            if probe.read() != b"jaxnet":
                return "does not read back what was written", 0
        corrupt = [p for p in folder.glob(f"*{_ENTRY_SUFFIX}") if not _looks_compressed(p)]
        for entry in corrupt:
            entry.unlink()
    except OSError as e:
        return f"is not usable ({type(e).__name__}: {e})", 0
    return None, len(corrupt)


def _looks_compressed(entry: Path) -> bool:
    """True when the file starts like a zstandard frame or a zlib stream."""
    with entry.open("rb") as f:
        head = f.read(4)
    if head == _ZSTD_MAGIC:
        return True
    return len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0


def _check_seconds(value) -> float:
    return check_real(value, "min_compile_time_secs", 0.0)


def _warn_once(message: str) -> None:
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, RuntimeWarning, stacklevel=3)
