"""What the adapters of :mod:`jaxnet.interop` share: their optional libraries, imported on first use
with an actionable error, and a module given as itself or as a function of a key."""

import importlib
from collections.abc import Callable
from types import ModuleType

_DISTRIBUTIONS = {"flax": "flax", "equinox": "equinox"}


def require(module: str, adapter: str) -> ModuleType:
    """Import ``module`` (e.g. ``"flax.nnx"``), or raise ImportError saying how to install it.

    Args:
      module: the module to import.
      adapter: the adapter that needs it, named in the error.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        dist = _DISTRIBUTIONS.get(module.split(".")[0], module)
        raise ImportError(
            f"jaxnet.interop.{adapter} needs {dist!r}, which is not installed; install it with: "
            'pip install "jaxnet[interop]"'
        ) from err


def module_or_factory(module, kind: type, kind_name: str) -> tuple[object, Callable | None]:
    """``(module, make)``: ``module`` itself if it is a ``kind`` (``make`` None), or
    ``make(jax.random.key(0))`` if it is a function ``make(key) -> kind``; else a TypeError."""
    import jax

    if isinstance(module, kind):
        return module, None
    if not callable(module):
        raise TypeError(
            f"module must be an {kind_name} or a function key -> module, got "
            f"{type(module).__name__}"
        )
    made = module(jax.random.key(0))
    if not isinstance(made, kind):
        raise TypeError(f"module(key) must return an {kind_name}, got {type(made).__name__}")
    return made, module
