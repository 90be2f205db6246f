"""Shared test configuration: strict JAX numerics, the real data files, one compilation cache
per test run, and the order the tests start in (the longest first)."""

import os
import shutil
import tempfile
from pathlib import Path

import jax
import pytest
from helpers import SHARED_DATA

jax.config.update("jax_numpy_rank_promotion", "raise")

# Scripts the tests run in subprocesses (they set XLA_FLAGS at import): never imported by
# --doctest-modules into the test process.
collect_ignore = [
    "sharded_worker.py",
    "sharded_layers_worker.py",
    "sharded_model_worker.py",
    "parallel_worker.py",
]

# The `jaxnet` command turns on JAX's persistent compilation cache (jn.enable_compilation_cache)
# in ~/.cache/jaxnet/xla unless JAXNET_COMPILATION_CACHE names another folder. The commands the
# tests run share one empty folder per test run instead: the run starts cold, as CI does, and
# never reads or writes the user's cache. The first process of the run (pytest itself, or
# xdist's controller) makes it; the xdist workers and every subprocess inherit the variable.
_RUN_CACHE = "JAXNET_TEST_RUN_CACHE"
_MADE_HERE = _RUN_CACHE not in os.environ
if _MADE_HERE:
    os.environ[_RUN_CACHE] = tempfile.mkdtemp(prefix="jaxnet-test-xla-")
    os.environ["JAXNET_COMPILATION_CACHE"] = os.environ[_RUN_CACHE]


def pytest_unconfigure(config):
    if _MADE_HERE:
        shutil.rmtree(os.environ.pop(_RUN_CACHE), ignore_errors=True)


# Tiers (pyproject.toml names the markers): the fast tier is -m "not slow and not integration".
# The tests of those two markers take seconds to a minute each; they start first, so that
# neither xdist worker is left with one of them at the end while the other has finished. A
# module is moved as a whole (its module-scoped fixtures are set up once).
LONG_MARKERS = ("slow", "integration")


def pytest_collection_modifyitems(config, items):
    modules = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)

    def long_first(tests):
        return not any(t.get_closest_marker(m) for t in tests for m in LONG_MARKERS)

    items[:] = [item for tests in sorted(modules.values(), key=long_first) for item in tests]


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data`: MNIST's IDX files and the course's cat HDF5 files (see its README)."""
    if not SHARED_DATA.is_dir():
        raise FileNotFoundError(
            f"real data directory {SHARED_DATA} is missing; set JAXNET_SHARED_DATA to the folder "
            "holding mnist/ and catvnoncat/"
        )
    return SHARED_DATA


@pytest.fixture
def x64():
    """Run the test body with float64 enabled (gradient tests)."""
    with jax.enable_x64(True):
        yield
