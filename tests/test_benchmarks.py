"""The benchmark harness runs end to end (``benchmarks/run.py --quick``) and reports missing peers.

Timings are not asserted. torch, keras and flax are hidden from the contender processes
(a package on PYTHONPATH that raises ImportError), as in a plain test install, so they
must come back as "missing" while jaxnet, NumPy and raw JAX run.
"""

import json
import os
import subprocess
import sys

import pytest
from helpers import REPO, SHARED_DATA, once_per_run

HIDDEN = ("torch", "keras", "flax")
DATA = SHARED_DATA / "mnist"

pytestmark = pytest.mark.integration  # the harness runs its contenders as subprocesses
QUICK_RUN = pytest.mark.xdist_group("benchmarks_quick_run")  # one worker, one run


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """The harness's quick run, once per test run (its result, and the folder it wrote)."""
    result, folder = once_per_run(tmp_path_factory, "benchmarks_quick_run", _quick_run)
    return result, folder / "results"


def _quick_run(tmp):
    for name in HIDDEN:
        (tmp / "hidden" / name).mkdir(parents=True, exist_ok=True)
        (tmp / "hidden" / name / "__init__.py").write_text(
            f'raise ImportError("No module named {name!r} (hidden by test_benchmarks)")\n'
        )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp / "hidden"), str(REPO)])}
    cmd = [
        sys.executable,
        "benchmarks/run.py",
        "--quick",
        "--out",
        str(tmp / "results"),
        "--data-dir",
        str(DATA),
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=360)
    return {"returncode": proc.returncode, "stderr": proc.stderr[-3000:]}


@QUICK_RUN
def test_quick_run_exits_cleanly(quick_run):
    proc, out = quick_run
    assert proc["returncode"] == 0, proc["stderr"]
    assert (out / "results.md").read_text().startswith("# jaxnet benchmark results")


@QUICK_RUN
def test_results_json_structure(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    assert {"machine", "config", "workloads", "targets", "fits"} <= set(results)
    assert results["machine"]["cpu"] and "jax" in results["machine"]["versions"]
    assert set(results["workloads"]) == {"A", "B", "C", "D", "E", "F", "scaling", "train"}
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


@QUICK_RUN
def test_cnn_workload(quick_run):
    """E: both jaxnet backprops train the CNN and time one step; the floor counts its FLOPs."""
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    e = {x["label"]: x for x in results["workloads"]["E"]}
    for label in ("jaxnet (manual)", "jaxnet (autodiff)"):
        run = e[label]["runs"][0]
        assert e[label]["status"] == "ok", e[label]["errors"]
        assert {"total_s", "steady_epoch_s", "compile_s", "test_acc", "maxrss_mb"} <= set(run)
        assert run["step"]["median_s"] > 0 and run["backprop"] == label[8:-1]
        assert 0.2 < run["test_acc"] <= 1  # 2 Adam steps from the glorot start: above chance (0.1)
    floor = e["floor (conv rate)"]["runs"][0]
    # per example: conv1 Z + dW 2 * 451,584; conv2 Z, dW, dA 3 * 7,225,344; dense 3 * 2 * (3136 + 10) * 128
    assert floor["flops_per_example"] == 24_995_328
    assert floor["floor_epoch_s"] > 0 and len(floor["products"]) == 11
    targets = [t for t in results["targets"] if t["workload"] == "E"]
    assert len(targets) == 5 and targets[-1]["target"].startswith("hand-derived step")
    assert "## E · MNIST CNN" in (out / "results.md").read_text()


@QUICK_RUN
def test_lstm_workload(quick_run):
    """F: both jaxnet backprops train the LSTM language model from the same start on the same
    batches (so to the same losses) and time one step."""
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    f = {x["label"]: x for x in results["workloads"]["F"]}
    runs = {}
    for label in ("jaxnet (manual)", "jaxnet (autodiff)"):
        run = runs[label] = f[label]["runs"][0]
        assert f[label]["status"] == "ok", f[label]["errors"]
        assert {"total_s", "steady_epoch_s", "compile_s", "test_acc", "test_loss"} <= set(run)
        assert run["step"]["median_s"] > 0 and run["backprop"] == label[8:-1]
        assert 3.0 < run["test_loss"] < 3.3  # 2 Adam steps from the start: just below log 27
    manual, autodiff = runs.values()
    assert abs(manual["train_loss"] - autodiff["train_loss"]) < 1e-4
    assert abs(manual["test_loss"] - autodiff["test_loss"]) < 1e-4
    targets = [t for t in results["targets"] if t["workload"] == "F"]
    assert len(targets) == 3 and targets[-1]["target"].startswith("hand-derived step")
    assert "## F · character-level LSTM" in (out / "results.md").read_text()


@QUICK_RUN
def test_missing_peers_are_reported(quick_run):
    _, out = quick_run
    results = json.loads((out / "results.json").read_text())
    labels = {w: {e["label"].split()[0]: e for e in es} for w, es in results["workloads"].items()}
    peers = {"A": HIDDEN, "B": ("torch",), "C": ("torch",), "E": HIDDEN, "F": HIDDEN}
    for workload, names in peers.items():
        for name in names:
            assert labels[workload][name]["status"] == "missing"
    assert "| keras | missing |" in (out / "results.md").read_text()


def test_layer_cost_reports_every_variant_against_plain():
    """benchmarks/layer_cost.py: a row per variant, both backprops, plain's ratio exactly 1."""
    cmd = [sys.executable, "benchmarks/layer_cost.py", "--quick", "--data-dir", str(DATA)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    names = [r[0].strip() for r in rows[1:]]
    assert names == ["plain", "l2 1e-4", "dropout 0.2", "batch norm", "all three"]
    for row in rows[1:]:
        seconds = [float(c) for c in row[1::2]]
        assert len(seconds) == 2 and all(s > 0 for s in seconds)
    assert [c.strip() for c in rows[1][2::2]] == ["1.00x", "1.00x"]


def test_residual_cost_reports_blocks_against_the_chain():
    """benchmarks/residual_cost.py: ms per step of the chain and of the blocks, per backprop."""
    cmd = [sys.executable, "benchmarks/residual_cost.py", "--quick", "--kinds", "dense"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert [(r[0].strip(), r[1].strip()) for r in rows[1:]] == [
        ("dense", "manual"),
        ("dense", "autodiff"),
    ]
    for row in rows[1:]:
        chain, residual = float(row[2]), float(row[3])
        ratio = float(row[4].strip().removesuffix("x"))  # of the unrounded times
        assert chain > 0 and residual > 0 and abs(ratio - residual / chain) <= 0.01 * (1 + ratio)


def test_conv_grad_in_loop_times_each_backward():
    """benchmarks/conv_grad_in_loop.py --quick: the layer's three backwards, each timed unrolled
    and in lax.scan, the hand-derived row the 1.00x reference."""
    cmd = [sys.executable, "benchmarks/conv_grad_in_loop.py", "--quick"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert [r[1].strip() for r in rows[1:]] == [
        "autodiff",
        "autodiff, JAX's transpose",
        "hand-derived",
    ]
    assert all(float(r[2]) >= 0 and float(r[3]) >= 0 for r in rows[1:])
    assert rows[-1][4].strip() == "1.00x"


def test_cnn_products_times_every_form():
    """benchmarks/cnn_products.py --quick: every piece of E's step timed, each dW form present."""
    cmd = [sys.executable, "-m", "benchmarks.cnn_products", "--quick"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("|")[1:-1] for line in proc.stdout.splitlines() if line.startswith("| ")]
    names = [r[0].strip() for r in rows[1:]]
    for form in ("matrix products (CPU form)", "one convolution (GPU form)", "JAX's transpose"):
        assert f"conv2 dW, {form}" in names
    assert "relu + pool1 backward, hand-derived" in names and "conv2 dA_prev" in names
    assert all(float(r[1]) > 0 for r in rows[1:] if not r[0].startswith(" PyTorch"))


def test_startup_times_the_first_and_second_run(tmp_path):
    """benchmarks/startup.py --rounds 1: ``jaxnet train`` twice in one fresh home, both timed
    (wall and CPU), the run folder checked; the JSON holds one (wall, CPU) pair per run."""
    out = tmp_path / "startup.json"
    cmd = [sys.executable, "benchmarks/startup.py", "--rounds", "1", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    measured = json.loads(out.read_text())["measure"]
    for which in ("first", "second"):
        ((wall, cpu),) = measured[which]
        assert wall > 0 and cpu > 0, (which, wall, cpu)
    assert "| second run |" in proc.stdout
