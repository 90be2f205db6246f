"""Sphinx configuration of the jaxnet documentation site.

Build (README): ``pip install -e ".[docs]" && sphinx-build -W -b html docs docs/_build/html``.
The notebooks are executed at build time through jupyter-cache (``nb_execution_mode =
"cache"``): a notebook runs again only when its code changed. The CI test builds with
``-D nb_execution_mode=off`` (the notebooks are stored without outputs and are executed by
``tests/test_notebooks.py``).
"""

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
REPO = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))

import jaxnet  # noqa: E402

# The notebooks find the real data through $JAXNET_SHARED_DATA (the kernel inherits it);
# they run in docs/notebooks/, where their "../shared/data beside the repository" fallback
# would point elsewhere.
if (REPO.parent / "shared" / "data").is_dir():
    os.environ.setdefault("JAXNET_SHARED_DATA", str(REPO.parent / "shared" / "data"))

project = "jaxnet"
author = "the jaxnet authors"
copyright = "the jaxnet authors"  # noqa: A001
release = jaxnet.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_nb",
    "generated_pages",
    "cli_reference",
    "undocumented",
    "prose_properties",
    "module_aliases",
]

exclude_patterns = ["_build", "_ext", "**/.ipynb_checkpoints", "jupyter_execute"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
templates_path = ["_templates"]
default_role = "code"  # the docstrings' `x` is code, as in Markdown

# Broken cross-references are warnings (errors under -W). Types from other packages have no
# inventory here (the build is offline), so only their references are let through.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(?!jaxnet\.)[a-z_]\w*\..+"),  # other packages: jax.Array, collections.abc.Callable
    (r"py:class", r"jaxnet\..*\._\w+"),  # private bases (a NamedTuple's fields) have no page
]

autosummary_generate = True
autosummary_ignore_module_all = False  # a module's members are its __all__ when it has one
autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_use_ivar = True  # a class's Attributes section must not describe its fields twice

myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = "cache"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_merge_streams = True

html_theme = "furo"
html_title = f"jaxnet {release}"
html_static_path = ["_static"]
html_css_files = ["jaxnet.css"]
