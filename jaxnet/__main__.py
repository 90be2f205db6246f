"""``python -m jaxnet``: the ``jaxnet`` command."""

from jaxnet.cli import main

raise SystemExit(main())
