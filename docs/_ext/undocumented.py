"""A public name that autodoc documents without a docstring is a warning (an error under -W)."""

from sphinx.util import logging

logger = logging.getLogger(__name__)
CHECKED = {"module", "class", "exception", "function", "method", "property"}


def check_docstring(app, what, name, obj, options, lines):
    """Warn when a public module, class, function or method has no docstring."""
    if what not in CHECKED or any(part.startswith("_") for part in name.split(".")):
        return
    if not any(line.strip() for line in lines):
        logger.warning(
            "undocumented public name %s (%s): give it a docstring",
            name,
            what,
            type="jaxnet",
            subtype="undocumented",
        )


def setup(app):
    app.connect("autodoc-process-docstring", check_docstring)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
