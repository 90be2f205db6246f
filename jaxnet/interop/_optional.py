"""The optional libraries of :mod:`jaxnet.interop`, imported on first use with an actionable error."""

import importlib
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
