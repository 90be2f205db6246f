"""Pages generated from the code before Sphinx reads the sources (git-ignored outputs).

- ``docs/api.rst``: autosummary of every name in ``jaxnet.__all__`` (functions and classes
  first, then each public module with its submodules, recursively), plus the public
  subpackages that ``__all__`` reaches only through aliases (``jaxnet.io``). A module alias
  (``jn.checkpoint`` for ``jaxnet.io.checkpoint``) is documented once, under its real name.
- ``docs/notebooks/*.ipynb``: copies of ``notebooks/*.ipynb`` (Sphinx reads only files under
  its source folder); a notebook added to ``notebooks/`` appears on the next build.
"""

import importlib
import importlib.util
import inspect
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


def public_names():
    """``(objects, modules)``: dotted names of the package's public objects and modules."""
    package = importlib.import_module(PACKAGE)
    objects, modules = [], []
    for name in sorted(package.__all__, key=str.lower):
        value = getattr(package, name)
        if inspect.ismodule(value):
            modules.append(value.__name__)
        else:
            objects.append(name)
    modules += [m for m in EXTRA_MODULES if importlib.util.find_spec(m) is not None]
    # an alias of a submodule of a listed module is documented by that module's page
    unique = sorted(set(modules))
    modules = [m for m in unique if not any(m.startswith(p + ".") for p in unique)]
    return objects, modules


def api_page() -> str:
    """The reST of the API page."""
    objects, modules = public_names()
    lines = [
        HEADER,
        "Functions and classes",
        "---------------------",
        "",
        ".. autosummary::",
        "   :toctree: _autosummary",
        "   :nosignatures:",
        "",
    ]
    lines += [f"   {name}" for name in objects]
    lines += [
        "",
        "Modules",
        "-------",
        "",
        ".. autosummary::",
        "   :toctree: _autosummary",
        "   :recursive:",
        "",
    ]
    lines += [f"   {name.removeprefix(PACKAGE + '.')}" for name in modules]
    return "\n".join(lines) + "\n"


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
