"""The course notebooks run top to bottom, and are committed without outputs.

Each notebook is executed in a fresh ``python3`` kernel (ipykernel's kernelspec, installed
into the environment with ipykernel itself) with ``notebooks/`` as its working directory
and ``JAXNET_SHARED_DATA`` pointing at the real data. The notebooks assert their own key
results (accuracies, gradient checks), so a changed result fails here with the cell.

``JAXNET_QUICK=1`` is set too: the long trainings whose results a slow test reproduces the
same way (named beside each such check in the notebook) take a few steps instead, and the
notebook skips those checks; every other check runs as a person's run does.
"""

import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
COURSE_NOTEBOOKS = (
    "01_logistic_regression.ipynb",
    "02_shallow_network.ipynb",
    "03_deep_network.ipynb",
    "04_mnist.ipynb",
)
NOTEBOOKS = sorted(p.name for p in NOTEBOOK_DIR.glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_quick_checks_name_the_test_that_asserts_them():
    """Every check a quick run skips names a test of this suite that asserts the result."""
    checked = 0
    for name in NOTEBOOKS:
        nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
        for cell in nb.cells:
            for line in cell.source.splitlines():
                if line.startswith("if not QUICK:"):
                    path, test = re.fullmatch(
                        r"if not QUICK:  # (tests/test_\w+\.py)::(test_\w+).*", line
                    ).groups()
                    source = (NOTEBOOK_DIR.parent / path).read_text()
                    assert re.search(rf"^def {test}\(", source, re.M), (name, line)
                    checked += 1
    assert checked >= 7, checked


def test_course_notebooks_exist():
    assert set(COURSE_NOTEBOOKS) <= set(NOTEBOOKS), sorted(set(COURSE_NOTEBOOKS) - set(NOTEBOOKS))


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_is_stripped(name):
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [], (
            f"{name}: code cell {i} has outputs; strip them before committing"
        )
        assert cell.execution_count is None, f"{name}: code cell {i} has an execution count"


# Kernels that compile as a user's does (XLA's defaults), not with the tests' fast-compile flags:
# 03's deep network reaches exactly 70.0% of the 50 test cats (its threshold) under XLA's default
# code generation, and gave 68% (one image fewer) under an earlier set of the tests' flags, a
# rounding edge; 04 trains the 784-512-10 network on all of MNIST, which the flags' code runs
# slower than their compile time saves (16.7 s of CPU with them, 10.0 s without).
RUN_AS_USERS_COMPILE = {"03_deep_network.ipynb", "04_mnist.ipynb"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs(name, shared_data, monkeypatch, request):
    monkeypatch.setenv("JAXNET_SHARED_DATA", str(shared_data))  # the kernel inherits os.environ
    monkeypatch.setenv("JAXNET_QUICK", "1")
    if name in RUN_AS_USERS_COMPILE:
        request.getfixturevalue("subprocesses_compile_as_users_do")
    nb = nbformat.read(NOTEBOOK_DIR / name, as_version=4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    try:
        client.execute()
    except CellExecutionError as err:
        pytest.fail(f"{name} failed:\n{ANSI.sub('', str(err))}", pytrace=False)
