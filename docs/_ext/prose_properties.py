"""A property's docstring is prose: napoleon must not read ``Whether ...:`` as its type.

Napoleon parses the first line of an attribute or property docstring as ``type: text`` and
turns the words before the first colon into a type reference (a broken one, under -W). The
code annotates its properties' return types instead, which autodoc shows; so for properties
the whole docstring stays text. Attributes and module data keep napoleon's behaviour.
"""

from sphinx.ext.napoleon.docstring import GoogleDocstring

_parse_attribute_docstring = GoogleDocstring._parse_attribute_docstring


def _parse_property_as_prose(self) -> list[str]:
    if self._what != "property":
        return _parse_attribute_docstring(self)
    lines = list(self._lines)
    self._lines.clear()
    return lines


def setup(app):
    app.setup_extension("sphinx.ext.napoleon")
    GoogleDocstring._parse_attribute_docstring = _parse_property_as_prose
    return {"parallel_read_safe": True, "parallel_write_safe": True}
