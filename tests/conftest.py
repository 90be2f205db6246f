"""Shared test configuration: strict JAX numerics and the location of the real data files."""

import os
from pathlib import Path

import jax
import pytest

jax.config.update("jax_numpy_rank_promotion", "raise")

# Scripts the tests run in subprocesses (they set XLA_FLAGS at import): never imported by
# --doctest-modules into the test process.
collect_ignore = [
    "sharded_worker.py",
    "sharded_layers_worker.py",
    "sharded_model_worker.py",
    "parallel_worker.py",
]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("JAXNET_SHARED_DATA", REPO.parent / "shared" / "data"))


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
