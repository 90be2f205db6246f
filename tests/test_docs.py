"""The documentation site builds with warnings as errors, and has the pages it promises.

The build runs in a subprocess on a copy of the sources in a temporary folder (the checkout
is never written), without executing the notebooks (``-D nb_execution_mode=off``: they are
executed by tests/test_notebooks.py), so it takes seconds; one test makes that one build.
A second, tiny build with the site's checks proves that -W rejects what the site must never
contain: an undocumented public function, a broken cross-reference, a docstring that does
not parse.
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO

import jaxnet

DOCS = REPO / "docs"
PAGES = (
    "index",
    "getting_started",
    "course",
    "models",
    "notebooks",
    "cli",
    "api",
    "benchmarks",
    "scaling",
    "writing_a_layer",
    "residual",
    "changelog",
)
SUBCOMMANDS = ("train", "evaluate", "predict", "summary", "gradcheck")


def sphinx_build(source: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    """``sphinx-build -W -b html`` of ``source`` into ``out`` (doctrees beside it)."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "-q",
            "-b",
            "html",
            *options,
            "-d",
            str(out / "doctrees"),
            str(source),
            str(out / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )


def source_tree(tmp_path: Path) -> Path:
    """A copy of what the site reads (docs/, the notebooks, the READMEs it includes), so the
    build writes its generated pages there and never into the checkout."""
    generated = shutil.ignore_patterns(
        "_build", "_autosummary", "api.rst", "notebooks", "jupyter_execute"
    )
    shutil.copytree(DOCS, tmp_path / "docs", ignore=generated)
    shutil.copytree(REPO / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*"))
    (tmp_path / "benchmarks").mkdir()
    shutil.copy2(REPO / "README.md", tmp_path / "README.md")
    shutil.copy2(REPO / "benchmarks" / "README.md", tmp_path / "benchmarks" / "README.md")
    return tmp_path / "docs"


def text_of(page: Path) -> str:
    """The visible text of an HTML page, roughly."""
    return re.sub(r"<[^>]+>", " ", page.read_text())


@pytest.mark.integration
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    """One build (the checks share it): every page, the API of __all__, the CLI's commands."""
    result = sphinx_build(
        source_tree(tmp_path / "src"), tmp_path / "out", "-D", "nb_execution_mode=off"
    )
    assert result.returncode == 0, f"the docs build failed:\n{result.stdout}\n{result.stderr}"
    site = tmp_path / "out" / "html"
    check_pages(site)
    check_api(site)
    check_cli(site)
    check_included_sources(site)


def check_pages(site: Path) -> None:
    missing = [name for name in PAGES if not (site / f"{name}.html").is_file()]
    assert not missing, missing
    for notebook in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert (site / "notebooks" / f"{notebook.stem}.html").is_file(), notebook.name


def check_api(site: Path) -> None:
    """Every name in ``jaxnet.__all__`` has its page (a module alias: under its real name)."""
    api = (site / "api.html").read_text()
    for name in jaxnet.__all__:
        value = getattr(jaxnet, name)
        full = value.__name__ if isinstance(value, type(jaxnet)) else f"jaxnet.{name}"
        assert (site / "_autosummary" / f"{full}.html").is_file(), f"no page for jaxnet.{name}"
        assert f'href="_autosummary/{full}.html' in api, f"api.html does not link {full}"
    fit = text_of(site / "_autosummary" / "jaxnet.fit.html")
    assert "jaxnet.fit" in fit and "learning_rate" in fit


def check_cli(site: Path) -> None:
    cli = text_of(site / "cli.html")
    for command in SUBCOMMANDS:
        assert f"usage: jaxnet {command}" in cli, f"the CLI page lacks jaxnet {command}"
    assert "--version" in cli and "--epochs" in cli


def check_included_sources(site: Path) -> None:
    assert "How it measures" in text_of(site / "benchmarks.html")
    scaling = text_of(site / "scaling.html")
    assert "data_mesh" in scaling and "JAXNET_COORDINATOR" in scaling


def test_every_test_the_course_page_names_exists():
    """``tests/test_x.py::[Class::]test_y`` on the course page (and on "Writing a layer"): the
    file has that test."""
    named = [
        found
        for page in ("course.md", "writing_a_layer.md", "residual.md")
        for found in re.findall(
            r"`(tests/test_\w+\.py)::(?:(\w+)::)?(test_\w+)`", (DOCS / page).read_text()
        )
    ]
    assert len(named) >= 20
    for path, cls, test in named:
        source = (REPO / path).read_text()
        assert re.search(rf"^\s*def {test}\(", source, re.M), f"{path} has no {test}"
        assert not cls or re.search(rf"^class {cls}\b", source, re.M), f"{path} has no {cls}"


SAMPLE_MODULE = '''
def documented():
    """Has a docstring."""


def undocumented():
    pass


def broken():
    """An ``unclosed literal."""
'''


@pytest.mark.integration
def test_warnings_fail_the_build(tmp_path):
    """An undocumented public function, a broken reference, a bad docstring: each fails -W."""
    conf = (DOCS / "conf.py").read_text()
    assert re.search(r"^nitpicky = True$", conf, re.M) and '"undocumented",' in conf
    source = tmp_path / "src"
    source.mkdir()
    (source / "sample_module.py").write_text(SAMPLE_MODULE)
    (source / "conf.py").write_text(
        "import sys\n"
        f"sys.path[:0] = [{str(source)!r}, {str(DOCS / '_ext')!r}]\n"
        "extensions = ['sphinx.ext.autodoc', 'undocumented']\n"
        "nitpicky = True\n"
    )
    (source / "index.rst").write_text(
        "Sample\n======\n\n.. automodule:: sample_module\n   :members:\n   :undoc-members:\n\n"
        "See :func:`sample_module.missing`.\n"
    )
    result = sphinx_build(source, tmp_path / "out", "--keep-going")
    assert result.returncode != 0
    assert "undocumented public name sample_module.undocumented" in result.stderr
    assert "sample_module.missing" in result.stderr
    assert "Inline literal start-string without end-string" in result.stderr
    assert "sample_module.documented" not in result.stderr
