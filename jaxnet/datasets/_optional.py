"""Lazy imports of the optional `datasets` extra (scikit-learn, h5py) with an actionable error."""

import importlib
from types import ModuleType

_DISTRIBUTIONS = {"sklearn": "scikit-learn", "h5py": "h5py"}


def require(module: str, feature: str) -> ModuleType:
    """Import `module` (e.g. "sklearn"), or raise ImportError saying how to install it.

    Args:
      module: top-level module name; its submodules are imported by the caller afterwards.
      feature: the public function that needs it, named in the error.
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        dist = _DISTRIBUTIONS.get(module, module)
        raise ImportError(
            f"{feature} needs the optional dependency {dist!r}, which is not installed; "
            'install it with: pip install "jaxnet[datasets]"'
        ) from err
