"""jaxnet as a user installs it: the sdist and wheel build, the wheel runs outside the checkout.

The wheel is built from a copy of the sources (the checkout is left untouched) without build
isolation, so the test needs no network: the test extra brings build and setuptools. It is
installed with ``pip --no-deps --no-index`` into a fresh virtual environment that sees the
running environment's dependencies through a ``.pth`` file (a path line in a ``.pth`` adds
that folder only: the editable install's own ``.pth`` and finder there are never run), and
it runs from a folder outside the checkout so nothing can import the sources instead.
"""

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from helpers import REPO

import jaxnet

SOURCES = ("pyproject.toml", "README.md", "jaxnet")  # what the build reads


def run(args, cwd, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run a command; fail with its output when it exits non-zero."""
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, (
        f"{' '.join(map(str, args))} exited {result.returncode}\n"
        f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
    )
    return result


def build_dists(tmp_path: Path) -> tuple[Path, Path]:
    """``(wheel, sdist)`` built by ``python -m build`` from a copy of the sources."""
    src = tmp_path / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
            shutil.copytree(REPO / name, src / name, ignore=ignore)
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    out = tmp_path / "dist"
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", out, src], cwd=tmp_path)
    (wheel,), (sdist,) = out.glob("*.whl"), out.glob("*.tar.gz")
    return wheel, sdist


def fresh_venv(path: Path) -> Path:
    """A virtual environment without jaxnet that sees this environment's dependencies."""
    run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    python = path / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    purelib = run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=path
    ).stdout.strip()
    here = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    (Path(purelib) / "_jaxnet_test_dependencies.pth").write_text("\n".join(here) + "\n")
    return python


def user_env() -> dict[str, str]:
    """The environment without anything that would point Python at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["JAX_PLATFORMS"] = env.get("JAX_PLATFORMS", "cpu")
    return env


def test_version_has_one_source():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" not in project["project"], "the version lives in jaxnet/__init__.py only"
    assert project["project"]["dynamic"] == ["version"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "jaxnet.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]\d+|rc\d+|\.dev\d+)?", jaxnet.__version__)
    assert importlib.metadata.version("jaxnet") == jaxnet.__version__
    assert isinstance(project["project"]["license"], str), "license is an SPDX expression"


@pytest.mark.integration
def test_the_wheel_installs_into_a_fresh_venv_and_trains(tmp_path):
    wheel, sdist = build_dists(tmp_path)
    assert wheel.name == f"jaxnet-{jaxnet.__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        entry_points = zf.read(f"jaxnet-{jaxnet.__version__}.dist-info/entry_points.txt").decode()
    assert "jaxnet/py.typed" in names and "jaxnet/__init__.py" in names
    assert not {n for n in names if n.startswith(("tests/", "docs/", "benchmarks/"))}
    assert re.search(r"^jaxnet\s*=\s*jaxnet\.", entry_points, re.M), entry_points
    assert sdist.name == f"jaxnet-{jaxnet.__version__}.tar.gz"

    python = fresh_venv(tmp_path / "venv")
    run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "--disable-pip-version-check",
            "--no-warn-script-location",
            wheel,
        ],
        cwd=tmp_path,
    )
    outside, env = tmp_path / "elsewhere", user_env()
    outside.mkdir()
    probe = (
        "import importlib.metadata as m, pathlib, jaxnet; "
        "print(jaxnet.__file__); print(m.version('jaxnet'), jaxnet.__version__); "
        "print((pathlib.Path(jaxnet.__file__).parent / 'py.typed').is_file())"
    )
    where, versions, typed = run([python, "-c", probe], cwd=outside, env=env).stdout.split("\n")[:3]
    assert Path(where).is_relative_to(tmp_path / "venv"), f"imported {where}, not the wheel"
    assert versions == f"{jaxnet.__version__} {jaxnet.__version__}" and typed == "True"

    command = python.parent / ("jaxnet.exe" if os.name == "nt" else "jaxnet")
    assert (
        run([command, "--version"], cwd=outside, env=env)
        .stdout.strip()
        .endswith(jaxnet.__version__)
    )
    run([command, "train", "--epochs", "10", "--out", outside / "run"], cwd=outside, env=env)
    files = {p.name for p in (outside / "run").iterdir()}
    assert {"config.json", "history.json", "metrics.json"} <= files, sorted(files)
    assert any(name.endswith(".safetensors") for name in files), sorted(files)
    history = json.loads((outside / "run" / "history.json").read_text())
    assert len(history["loss"]) == 10


GOOD_PROGRAM_SOURCE = REPO / "docs" / "getting_started.md"
WRONG_PROGRAM = """\
import jaxnet as jn

net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
jn.forward(net, None)  # X is missing
"""


def python_blocks(markdown: str) -> str:
    """The ```python blocks of a Markdown page, joined into one program."""
    return "\n".join(re.findall(r"^```python\n(.*?)^```", markdown, re.S | re.M))


@pytest.mark.integration
def test_the_public_api_type_checks(tmp_path):
    """mypy over jaxnet/__init__.py and a user's program (the docs' example), as pyproject scopes it.

    A second program with a wrong call proves the check can fail.
    """
    good, wrong = tmp_path / "user_program.py", tmp_path / "wrong_program.py"
    good.write_text(python_blocks(GOOD_PROGRAM_SOURCE.read_text()))
    assert "jn.fit(" in good.read_text()
    wrong.write_text(WRONG_PROGRAM)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--no-pretty",
            "--show-error-codes",
            "jaxnet/__init__.py",
            str(good),
            str(wrong),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    unexpected = [line for line in errors if not line.startswith(str(wrong))]
    assert not unexpected, "\n".join(unexpected)
    assert any("Missing positional argument" in line for line in errors), result.stdout
    assert result.returncode == 1, result.stdout + result.stderr


def test_extras_stay_minimal():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    # tensorboard: the TensorBoard callback's writer (issue 15); interop: Flax and Equinox for
    # jn.interop (issue 20); both included in the test extra
    assert set(project["optional-dependencies"]) == {
        "datasets",
        "docs",
        "test",
        "bench",
        "tensorboard",
        "interop",
    }
    test_extra = " ".join(project["optional-dependencies"]["test"])
    for need in (
        "jaxnet[docs]",
        "build",
        "setuptools",
        "mypy",
        "jaxnet[interop]",
    ):  # what the docs, wheel and interop tests run
        assert need in test_extra, f"the test extra lacks {need}"
