"""``python -m jaxnet``: the ``jaxnet`` command."""

from jaxnet.cli import run

run()
