"""The benchmark harness runs end to end (``benchmarks/run.py --quick``) and reports missing peers.

Timings are not asserted. torch, keras and flax are hidden from the contender processes
(a package on PYTHONPATH that raises ImportError), as in a plain test install, so they
must come back as "missing" while jaxnet, NumPy and raw JAX run.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HIDDEN = ("torch", "keras", "flax")
DATA = Path(os.environ.get("JAXNET_SHARED_DATA", REPO.parent / "shared" / "data")) / "mnist"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    for name in HIDDEN:
        (tmp / "hidden" / name).mkdir(parents=True)
        (tmp / "hidden" / name / "__init__.py").write_text(
            f'raise ImportError("No module named {name!r} (hidden by test_benchmarks)")\n'
        )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp / "hidden"), str(REPO)])}
    out = tmp / "results"
    cmd = [
        sys.executable,
        "benchmarks/run.py",
        "--quick",
        "--out",
        str(out),
        "--data-dir",
        str(DATA),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)  # a hang guard, not a speed check
    return proc, out


def test_quick_run_exits_cleanly(quick_run):
    proc, out = quick_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (out / "results.md").read_text().startswith("# jaxnet benchmark results")


def test_results_json_structure(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    assert {"machine", "config", "workloads", "targets", "fits"} <= set(results)
    assert results["machine"]["cpu"] and "jax" in results["machine"]["versions"]
    assert set(results["workloads"]) == {"A", "B", "C", "D", "scaling", "train"}
    for entries in results["workloads"].values():
        for e in entries:
            assert e["status"] in ("ok", "missing"), (e["label"], e["errors"])
            assert len(e["runs"]) == 1 and "process_s" in e["runs"][0]
    a = {e["label"]: e for e in results["workloads"]["A"]}
    for label in ("jaxnet (autodiff)", "jaxnet (manual)", "numpy", "jax_scan"):
        assert a[label]["status"] == "ok"
        assert {"total_s", "steady_epoch_s", "test_acc", "maxrss_mb"} <= set(a[label]["stats"])
    floor = a["floor (matmul rate)"]["runs"][0]
    assert floor["flops_per_step"] == 209_453_056  # 128 * 1,636,352: PERFORMANCE.md's 209.5 MFLOP
    assert all(t["met"] in (True, False, None) for t in results["targets"])


def test_missing_peers_are_reported(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    labels = {w: {e["label"].split()[0]: e for e in es} for w, es in results["workloads"].items()}
    for workload, names in {"A": HIDDEN, "B": ("torch",), "C": ("torch",)}.items():
        for name in names:
            assert labels[workload][name]["status"] == "missing"
    assert "| keras | missing |" in (out / "results.md").read_text()
