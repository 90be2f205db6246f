"""``.. argparse-help:: module.function``: a command's reference, from its argparse parser.

The function builds and returns an ``argparse.ArgumentParser``. The directive renders the
parser's own ``format_help()`` (the text ``--help`` prints), then one section per subcommand
(recursively), so the page is the parser and cannot drift from it.
"""

import argparse
import importlib
import os
import re

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import make_id

ANSI = re.compile(r"\x1b\[[0-9;]*m")
WIDTH = "100"  # argparse wraps at $COLUMNS


def load_parser(dotted: str) -> argparse.ArgumentParser:
    """Call the function named ``package.module.function`` and return its parser."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"argparse-help needs module.function, got {dotted!r}")
    parser = getattr(importlib.import_module(module_name), attr)()
    if not isinstance(parser, argparse.ArgumentParser):
        raise TypeError(f"{dotted}() returned {type(parser).__name__}, not an ArgumentParser")
    return parser


def help_text(parser: argparse.ArgumentParser) -> str:
    """``parser.format_help()`` at a fixed width, without colour codes."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = WIDTH
    try:
        return ANSI.sub("", parser.format_help()).rstrip()
    finally:
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old


def subcommands(parser: argparse.ArgumentParser):
    """``(name, one-line help, subparser)`` for each subcommand, in the parser's order."""
    for action in parser._actions:  # argparse exposes subcommands only through its actions
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


class ArgparseHelp(SphinxDirective):
    """Render a parser's help and one section per subcommand."""

    required_arguments = 1
    option_spec = {"prog": directives.unchanged}

    def run(self):
        parser = load_parser(self.arguments[0])
        if "prog" in self.options:
            parser.prog = self.options["prog"]
        return [self._block(parser), *self._sections(parser, parser.prog)]

    def _block(self, parser):
        text = help_text(parser)
        block = nodes.literal_block(text, text)
        block["language"] = "text"
        return block

    def _sections(self, parser, prog):
        out = []
        for name, summary, sub in subcommands(parser):
            title = f"{prog} {name}"
            section = nodes.section(ids=[make_id(self.env, self.state.document, "cli", title)])
            section += nodes.title(title, "", nodes.literal(title, title))
            if summary:
                section += nodes.paragraph(summary, summary[:1].upper() + summary[1:] + ".")
            section += self._block(sub)
            section.extend(self._sections(sub, title))
            self.state.document.note_implicit_target(section)
            out.append(section)
        return out


def setup(app):
    app.add_directive("argparse-help", ArgparseHelp)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
