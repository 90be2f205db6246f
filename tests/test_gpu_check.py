"""scripts/gpu_check.py runs on a CPU (``--platform cpu --smoke``) and prints its JSON summary;
the peak table, the pytest summary parser and bad options are checked without a GPU."""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO

SCRIPT = REPO / "scripts" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))

import gpu_check  # noqa: E402


def run(*args, timeout=600):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# the smoke run is a subprocess; its two tests share one worker (one run)
SMOKE = pytest.mark.xdist_group("gpu_check_smoke")


@pytest.fixture(scope="module")
def smoke():
    proc = run("--platform", "cpu", "--smoke", "--precision", "tensorfloat32")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stdout


@pytest.mark.integration
@SMOKE
def test_smoke_run_reports_every_workload_and_contender(smoke):
    summary, _ = smoke
    assert summary["status"] == "ok" and summary["platform"] == "cpu"
    assert summary["precision"] == "tensorfloat32"
    assert summary["jax_default_matmul_precision"] == "tensorfloat32"
    assert summary["tests"] == {"status": "skipped", "reason": "--smoke"}
    assert summary["peak_tflops"] is None and summary["peaks_tflops"] == "unknown"
    assert set(summary["workloads"]) == {"A", "wide", "E", "C"}
    for name in ("A", "wide", "E"):
        w = summary["workloads"][name]
        m = gpu_check.SMOKE_CNN["m"] if name == "E" else gpu_check.SMOKE_M
        assert w["data"] == "synthetic" and w["m"] == m, name
        ours = ("jaxnet", "jaxnet_autodiff") if name == "E" else ("jaxnet", "jax_scan")
        assert set(w["contenders"]) == {*ours, "torch"}
        for who in ours:
            r = w["contenders"][who]
            assert r["status"] == "ok", (name, who, r)
            assert r["steps_per_s"] > 0 and r["tflops"] > 0 and r["fraction_of_peak"] is None
            assert len(r["epoch_s"]) == w["epochs"] and 0 <= r["test_acc"] <= 1
        assert w["contenders"]["torch"]["status"] in ("ok", "missing")


@pytest.mark.integration
@SMOKE
def test_smoke_run_reports_the_conv_form_and_the_ensembles(smoke):
    """On a CPU jaxnet's convolution takes dW as matrix products (both forms timed); C runs
    ``fit_ensemble`` and the raw-JAX vmap, each timed twice."""
    summary, stdout = smoke
    forms = summary["workloads"]["E"]["conv_dW"]
    assert forms["chosen"] == "matmul"
    assert forms["matmul_ms"] > 0 and forms["convolution_ms"] > 0
    assert "E's conv dW here: matmul" in stdout
    c = summary["workloads"]["C"]
    assert (c["models"], c["iterations"]) == tuple(gpu_check.SMOKE_ENSEMBLE.values())
    ours, raw = c["contenders"]["jaxnet"], c["contenders"]["raw_vmap"]
    for r in (ours, raw):
        assert r["status"] == "ok" and r["total_s"] >= r["rerun_s"] > 0
        assert 0 < r["mean_train_acc"] <= 1
    assert ours["rerun_vs_raw_vmap"] > 0


@pytest.mark.integration
@SMOKE
def test_smoke_run_prints_a_table_then_one_json_line(smoke):
    _, stdout = smoke
    lines = stdout.strip().splitlines()
    assert lines[0].startswith("cpu (cpu), precision tensorfloat32")
    assert sum(line.startswith("{") for line in lines) == 1 and lines[-1].startswith("{")


def test_known_peaks_by_device_kind():
    assert gpu_check.peak_for("NVIDIA H100 80GB HBM3", "highest") == (gpu_check.PEAKS["H100"], 67.0)
    assert gpu_check.peak_for("NVIDIA H100 80GB HBM3", "tensorfloat32")[1] == 495.0
    assert gpu_check.peak_for("NVIDIA H100 PCIe", "highest")[1] == 51.0
    assert gpu_check.peak_for("NVIDIA H200", "tensorfloat32")[1] == 495.0
    assert gpu_check.peak_for("NVIDIA H200", "default")[1] is None  # default: no one peak
    assert gpu_check.peak_for("Tesla T4", "highest") == (None, None)


def test_pytest_summary_counts():
    line = "3 failed, 250 passed, 2 skipped, 1 error in 81.20s (0:01:21)"
    counts = {k: gpu_check._count(line, k) for k in ("passed", "failed", "error", "skipped")}
    assert counts == {"passed": 250, "failed": 3, "error": 1, "skipped": 2}
    assert gpu_check._count("no tests ran in 0.01s", "passed") == 0


def test_bad_precision_is_a_usage_error():
    proc = run("--platform", "cpu", "--smoke", "--precision", "tf32", timeout=60)
    assert proc.returncode == 2 and "--precision" in proc.stderr


def test_a_missing_platform_is_reported_not_crashed():
    proc = run("--platform", "no_such_platform", "--smoke", timeout=120)
    assert proc.returncode == 1, proc.stderr[-2000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["status"] == "error" and "no no_such_platform device" in summary["error"]
