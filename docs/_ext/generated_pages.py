"""Pages generated from the code before Sphinx reads the sources (git-ignored outputs).

- ``docs/api.rst``: autosummary of every name in ``jaxnet.__all__`` (functions and classes
  first), then of every public module: those in ``__all__``, the public subpackages that
  ``__all__`` does not name (``jaxnet.io``), and all their submodules whose names do not
  start with ``_``. A module alias (``jn.checkpoint`` for ``jaxnet.io.checkpoint``) is
  documented once, under its real name.
- ``docs/notebooks/*.ipynb``: copies of ``notebooks/*.ipynb`` (Sphinx reads only files under
  its source folder); a notebook added to ``notebooks/`` appears on the next build.
"""

import importlib
import importlib.util
import inspect
import pkgutil
import shutil
from pathlib import Path

PACKAGE = "jaxnet"
EXTRA_MODULES = ("jaxnet.io",)  # public subpackages not named in __all__
HEADER = """\
API reference
=============

Generated from the docstrings of everything in ``jaxnet.__all__`` and of the public
submodules. ``import jaxnet as jn``: the functions below are ``jn.fit``, ``jn.forward``, ...

.. currentmodule:: jaxnet
"""


def write_if_changed(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` already holds it (Sphinx re-reads changed files only)."""
    if not path.exists() or path.read_bytes() != data:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def public_submodules(name: str):
    """``name`` and, for a package, its public submodules (no ``_`` in the name), recursively."""
    yield name
    module = importlib.import_module(name)
    for info in pkgutil.iter_modules(getattr(module, "__path__", []), name + "."):
        if not info.name.rpartition(".")[2].startswith("_"):
            yield from public_submodules(info.name)


def public_names() -> tuple[list[str], list[str]]:
    """``(objects, modules)``: the names in ``__all__`` that are not modules, and every public
    module (each module in ``__all__`` under its real name, its submodules, the extras)."""
    package = importlib.import_module(PACKAGE)
    objects, roots = [], [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is not None]
    for name in sorted(package.__all__, key=str.lower):
        value = getattr(package, name)
        if inspect.ismodule(value):
            roots.append(value.__name__)
        else:
            objects.append(name)
    modules = {sub for root in roots for sub in public_submodules(root)}
    return objects, sorted(modules)


def autosummary(names, *options: str) -> list[str]:
    """An ``autosummary`` directive over ``names`` with stubs in ``_autosummary/``."""
    head = [".. autosummary::", "   :toctree: _autosummary", *(f"   {o}" for o in options), ""]
    return [*head, *(f"   {name}" for name in names), ""]


def api_page() -> str:
    """The reST of the API page."""
    objects, modules = public_names()
    short = [m.removeprefix(PACKAGE + ".") for m in modules]
    return "\n".join(
        [HEADER, "Functions and classes", "---------------------", ""]
        + autosummary(objects, ":nosignatures:")
        + ["Modules", "-------", ""]
        + autosummary(short)
    )


def copy_notebooks(source: Path, target: Path) -> None:
    """Mirror ``source/*.ipynb`` into ``target`` (stale copies removed)."""
    target.mkdir(exist_ok=True)
    wanted = {p.name for p in source.glob("*.ipynb")}
    for stale in target.glob("*.ipynb"):
        if stale.name not in wanted:
            stale.unlink()
    for name in sorted(wanted):
        write_if_changed(target / name, (source / name).read_bytes())


def generate(app, config):
    """Write the generated pages into the source folder."""
    docs = Path(app.srcdir)
    write_if_changed(docs / "api.rst", api_page().encode())
    copy_notebooks(docs.parent / "notebooks", docs / "notebooks")
    stale = docs / "_autosummary"
    if stale.is_dir():  # stubs of names that left the API would otherwise linger
        shutil.rmtree(stale)


def setup(app):
    app.connect("config-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
