"""The test tiers stay honest: every test that conftest.py marks slow by name still exists."""

import re

from conftest import SLOW_HERE
from helpers import REPO


def test_every_test_marked_slow_by_name_exists():
    for entry in SLOW_HERE:
        path, _, rest = entry.partition("::")
        files = sorted((REPO / path).glob("*.py")) if path.endswith("/") else [REPO / path]
        source = "".join(f.read_text() for f in files)
        name = re.match(r"\w*", rest).group()
        if path.startswith("tests/"):
            assert name.startswith("test_"), entry
            assert re.search(rf"^def {name}\(", source, re.M), f"{path} has no {name}"
        else:  # a module whose docstring examples are slow
            assert not name and ">>>" in source, entry


def test_slow_and_integration_are_declared():
    pyproject = (REPO / "pyproject.toml").read_text()
    for marker in ("slow", "integration"):
        assert re.search(rf'^    "{marker}: ', pyproject, re.M), marker
