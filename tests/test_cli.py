"""The ``jaxnet`` command and the scripts: run directories, resume, evaluate/predict/summary,
gradcheck, error paths (exit 2, one line, no traceback), real MNIST and cat data.

Runs are in-process (``jaxnet.cli.main``) and short; one test runs ``python -m jaxnet`` and
the installed ``jaxnet`` script as subprocesses. Issue 16's rows: test_cli_hostile.py.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import jaxnet, script

import jaxnet as jn
from jaxnet import cli
from jaxnet.io import atomic, checkpoint

PNG = b"\x89PNG\r\n\x1a\n"
RUN_FILES = ("config.json", "history.json", "history.csv", "metrics.json",
             "checkpoint.safetensors", "learning_curves.png")  # fmt: skip
CONFIG_KEYS = {"dataset", "hidden_sizes", "hidden_activation", "output_activation", "scheme", "optimizer",
               "learning_rate", "epochs", "batch_size", "seed", "backprop", "network"}  # fmt: skip


def assert_png(path: Path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG


def restore_run(run_dir):
    """The run's checkpoint, restored into a template of the network its config.json names."""
    net = jn.Network.from_dict(json.loads((Path(run_dir) / "config.json").read_text())["network"])
    return checkpoint.restore(run_dir, jax.eval_shape(lambda: jn.init(jax.random.key(0), net)))


@pytest.fixture(scope="module")
def planar_run(tmp_path_factory):
    """``jaxnet train`` with the defaults, shortened to 200 iterations."""
    run_dir = tmp_path_factory.mktemp("planar") / "run"
    assert cli.main(["train", "--epochs", "200", "--quiet", "--out", str(run_dir)]) == 0
    return run_dir


def test_train_writes_the_run_directory(planar_run):
    for name in (*RUN_FILES, "decision_boundary.png"):
        assert (planar_run / name).is_file(), name
    assert_png(planar_run / "learning_curves.png")
    assert_png(planar_run / "decision_boundary.png")
    assert not (planar_run / "predictions.png").exists()
    left = [p for p in planar_run.glob(".*") if p.name not in atomic.BOOKKEEPING]
    assert not left  # no temporary files left behind
    config = json.loads((planar_run / "config.json").read_text())
    assert set(config) >= CONFIG_KEYS
    assert (
        config["hidden_sizes"] == [4] and config["learning_rate"] == 1.2 and config["epochs"] == 200
    )
    assert config["batch_size"] is None and config["scheme"] == "normal"
    assert config["backprop"] == "manual" and "grads" not in config and "init" not in config
    assert config["network"]["sizes"] == [2, 4, 1]
    assert config["command"].startswith("jaxnet train --dataset planar --hidden-sizes 4 ")
    assert "--scheme normal" in config["command"] and "--backprop manual" in config["command"]
    metrics = json.loads((planar_run / "metrics.json").read_text())
    assert {"train", "validation", "epochs", "wall_time_s", "examples_per_second"} <= set(metrics)
    assert metrics["train"]["examples"] == 320 and metrics["validation"]["examples"] == 80
    assert 0.8 < metrics["train"]["accuracy"] <= 1 and metrics["epochs"] == 200
    history = json.loads((planar_run / "history.json").read_text())
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(history)
    assert len(history["loss"]) == 200
    rows = list(csv.reader((planar_run / "history.csv").read_text().splitlines()))
    assert rows[0][:3] == ["epoch", "loss", "accuracy"] and len(rows) == 201
    ckpt = restore_run(planar_run)
    assert ckpt.step == 200 and ckpt.params[0]["W"].shape == (4, 2)


@pytest.mark.integration
def test_python_m_jaxnet_and_the_jaxnetscript(tmp_path):
    """The README's ``jaxnet train``: no arguments, offline, seconds, a progress bar, the
    compilation cache on; then the installed script reads the run (cache off), and reports an
    error in one line without a traceback."""
    env = {**os.environ, "JAXNET_COMPILATION_CACHE": str(tmp_path / "xla")}
    proc = subprocess.run([sys.executable, "-m", "jaxnet", "train"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "10000/10000" in proc.stderr  # the progress bar
    assert "train " in proc.stdout and "validation " in proc.stdout and "accuracy" in proc.stdout
    (run_dir,) = (tmp_path / "runs").glob("planar-*")
    for name in (*RUN_FILES, "decision_boundary.png"):
        assert (run_dir / name).is_file(), name
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["epochs"] == 10000 and metrics["train"]["accuracy"] > 0.88
    assert any((tmp_path / "xla").glob("*-cache")), "the command did not use the compilation cache"

    script = shutil.which("jaxnet", path=str(Path(sys.executable).parent))
    assert script is not None, "the jaxnet script is not installed next to this Python"
    env["JAXNET_COMPILATION_CACHE"] = str(tmp_path / "unused")
    proc = subprocess.run([script, "summary", str(run_dir), "--no-compilation-cache"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0 and "Total params: 17" in proc.stdout, proc.stderr
    assert not (tmp_path / "unused").exists()
    proc = subprocess.run([script, "train", "--dataset", "mnist", "--data-dir",
                           str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.startswith("jaxnet: error: MNIST needs the files")
        and "--download" in proc.stderr
    )
    assert proc.stderr.count("\n") == 1


def test_resume_equals_a_straight_run(tmp_path, capsys):
    """With the non-default --backprop autodiff, which config.json keeps for the resumed part."""
    common = ["--dataset", "moons", "--batch-size", "32", "--quiet", "--backprop", "autodiff"]
    assert jaxnet(capsys, "train", *common, "--epochs", 3, "--out", tmp_path / "a")[0] == 0
    code, out, _ = jaxnet(capsys, "train", "--resume", tmp_path / "a", "--epochs", 6, "--quiet")
    assert code == 0 and "6 epochs" in out
    assert jaxnet(capsys, "train", *common, "--epochs", 6, "--out", tmp_path / "b")[0] == 0
    a, b = (json.loads((tmp_path / d / "history.json").read_text()) for d in "ab")
    assert a["epoch"] == [1, 2, 3, 4, 5, 6]
    assert a["loss"] == b["loss"] and a["val_accuracy"] == b["val_accuracy"]
    pa, pb = (restore_run(tmp_path / d).params for d in "ab")
    for la, lb in zip(pa, pb):
        np.testing.assert_array_equal(la["W"], lb["W"])
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["epochs"] == 6 and config["backprop"] == "autodiff"
    assert len(list(csv.reader((tmp_path / "a" / "history.csv").read_text().splitlines()))) == 7


def test_gradient_clipping_flags_are_kept_by_the_run(tmp_path, capsys):
    """--clip-value and --clip-norm reach jn.fit, config.json and the rerun command keep them,
    a resume trains with them, and a config.json edited to other bounds is refused as
    jn.fit refuses a resume with other clipping."""
    run = tmp_path / "clipped"
    argv = ["--dataset", "moons", "--epochs", 2, "--clip-value", "0.05", "--clip-norm", "0.5"]
    code, out, _ = jaxnet(capsys, "train", *argv, "--out", run)
    assert code == 0 and "adam lr 0.01, clip value 0.05, clip norm 0.5," in out
    config = json.loads((run / "config.json").read_text())
    assert (config["clip_value"], config["clip_norm"]) == (0.05, 0.5)
    assert "--clip-value 0.05 --clip-norm 0.5" in config["command"]
    assert checkpoint.read_metadata(run)["config"]["clip_value"] == 0.05
    assert jaxnet(capsys, "train", "--resume", run, "--epochs", 3, "--quiet")[0] == 0
    config["clip_norm"] = 1.0
    (run / "config.json").write_text(json.dumps(config))
    code, _, err = jaxnet(capsys, "train", "--resume", run, "--epochs", 4, "--quiet")
    assert code == 2 and "clip_norm=0.5, not clip_norm=1.0" in err


def test_evaluate_summary_and_predict(planar_run, tmp_path, capsys):
    metrics = json.loads((planar_run / "metrics.json").read_text())
    code, out, _ = jaxnet(capsys, "evaluate", planar_run)
    assert code == 0
    assert f"{100 * metrics['validation']['accuracy']:6.2f}%" in out.splitlines()[1]

    code, out, _ = jaxnet(capsys, "summary", planar_run)
    assert (
        code == 0 and "Total params: 17" in out and "dense_2" in out and "after 200 epochs" in out
    )

    X = np.array([[0.5, 1.0], [-2.0, 3.0], [3.0, 0.1]], np.float32)
    inputs = tmp_path / "in.csv"
    inputs.write_text("x1,x2\n" + "".join(f"{a},{b}\n" for a, b in X))
    net, params = jn.Network((2, 4, 1), "tanh"), restore_run(planar_run).params
    expected = [str(k) for k in np.asarray(jn.predict(net, params, X))]
    code, out, _ = jaxnet(capsys, "predict", planar_run, inputs)
    assert code == 0 and out.split() == expected
    headless = tmp_path / "headless.csv"
    headless.write_text("".join(f"{a},{b}\n" for a, b in X))
    assert jaxnet(capsys, "predict", planar_run, headless)[1].split() == expected
    code, out, _ = jaxnet(capsys, "predict", planar_run, inputs, "--output", tmp_path / "out.csv")
    rows = list(csv.reader((tmp_path / "out.csv").read_text().splitlines()))
    assert code == 0 and rows[0] == ["prediction", "probability"]
    assert [r[0] for r in rows[1:]] == expected and all(0.5 <= float(r[1]) <= 1 for r in rows[1:])


def test_gradcheck(capsys, monkeypatch):
    code, out, _ = jaxnet(capsys, "gradcheck", "--hidden-sizes", "5,3", "--seed", 2**32 - 1)
    assert code == 0 and "PASSED" in out and "4-5-3-1" in out
    assert out.count("vs") == 3
    failed = jn.GradcheckReport(1e-3, 1e-3, 1e-9, threshold=2e-7, passed=False)
    monkeypatch.setattr(jn, "gradcheck", lambda *a, **k: failed)  # a broken backward pass
    code, out, _ = jaxnet(capsys, "gradcheck", "--hidden-sizes", "6", "--hidden-activation", "relu",
                          "--output-activation", "softmax", "--scheme", "he")  # fmt: skip
    assert code == 1 and "FAILED" in out and "4-6-3 relu/softmax" in out


def test_version_and_help(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.strip() == f"jaxnet {jn.__version__}"
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = capsys.readouterr().out
    assert "course settings per dataset" in out and "mnist" in out and "--resume" in out
    assert (
        "--backprop" in out and "--scheme" in out and "--grads" not in out and "--init" not in out
    )
    assert "--clip-value BOUND" in out and "--clip-norm BOUND" in out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--dataset", "nope"], "unknown dataset"),
        (["train", "--dataset", "{tmp}/data.txt"], "unknown dataset"),
        (["train", "--learning-rate", "-0.1", "--out", "{tmp}/r"], "learning_rate"),
        (["train", "--learning-rate", "fast"], "--learning-rate"),
        (["train", "--hidden-sizes", "5,x"], "--hidden-sizes"),
        (["train", "--clip-value", "0"], "argument --clip-value: expected a finite number > 0"),
        (["train", "--clip-norm", "-1"], "argument --clip-norm: expected a finite number > 0"),
        (["train", "--clip-norm", "inf"], "argument --clip-norm: expected a finite number > 0"),
        (["train", "--resume", "{tmp}", "--clip-value", "5"], "drop --clip-value"),
        (["train", "--hidden-sizes", "0", "--out", "{tmp}/r"], "sizes"),
        (["train", "--epochs", "0", "--out", "{tmp}/r"], "epochs"),
        (["train", "--hidden-activation", "swish", "--out", "{tmp}/r"], "unknown activation"),
        (["train", "--scheme", "glorious", "--out", "{tmp}/r"], "scheme"),
        (["train", "--optimizer", "nesterov", "--out", "{tmp}/r"], "optimizer"),
        (["train", "--backprop", "symbolic", "--out", "{tmp}/r"], "backprop"),
        (["train", "--grads", "manual"], "unrecognized arguments"),
        (["train", "--init", "he"], "unrecognized arguments"),
        (["train", "--dataset", "spiral", "--output-activation", "sigmoid"], "softmax"),
        (["train", "--dataset", "mnist", "--data-dir", "{tmp}/missing"], "--download"),
        (["train", "--dataset", "cat", "--data-dir", "{tmp}/missing"], "put them there"),
        (["train", "--dataset", "planar", "--data-dir", "{tmp}"], "--data-dir"),
        (["train", "--dataset", "planar", "--download"], "--download"),
        (["train", "--dataset", "{tmp}/none.csv"], "no such CSV file"),
        (["train", "--resume", "{tmp}", "--epochs", "5"], "not a jaxnet run directory"),
        (["train", "--resume", "{tmp}/missing", "--epochs", "5"], "not a run directory"),
        (["train", "--resume", "{tmp}", "--hidden-sizes", "3"], "drop --hidden-sizes"),
        (["train", "--resume", "{tmp}", "--out", "{tmp}/x", "--force"], "drop --out --force"),
        (["evaluate", "{tmp}"], "not a jaxnet run directory"),
        (["summary", "{tmp}/missing"], "not a run directory"),
        (["predict", "{tmp}", "{tmp}/x.csv"], "not a jaxnet run directory"),
        (["gradcheck", "--examples", "0"], "--examples"),
        (["gradcheck", "--output-activation", "swish"], "unknown activation"),
        (["train", "--bogus"], "unrecognized arguments"),
        ([], "choose a command"),
    ],
)
def test_errors_exit_2_with_one_line(argv, needle, tmp_path, capsys):
    code, out, err = jaxnet(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 2
    assert err.startswith("jaxnet: error: ") and err.count("\n") == 1, err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "r").exists()  # a refused run leaves no folder behind


@pytest.mark.integration
def test_mnist_run(shared_data, tmp_path, capsys):
    run_dir = tmp_path / "mnist"
    code, out, _ = jaxnet(capsys, "train", "--dataset", "mnist", "--data-dir", shared_data / "mnist",
                          "--epochs", 1, "--limit", 1000, "--quiet", "--out", run_dir)  # fmt: skip
    assert code == 0 and "test " in out
    assert_png(run_dir / "predictions.png")
    assert not (run_dir / "decision_boundary.png").exists()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train"]["examples"] == 1000 and metrics["test"]["examples"] == 10000
    assert metrics["test"]["accuracy"] > 0.7
    config = json.loads((run_dir / "config.json").read_text())
    assert config["network"]["sizes"] == [784, 512, 10] and config["optimizer"] == "rmsprop"
    pixels = tmp_path / "pixels.csv"  # raw pixels 0..255, as in the files
    pixels.write_text("\n".join(",".join(["0"] * 784) for _ in range(2)) + "\n")
    code, out, _ = jaxnet(capsys, "predict", run_dir, pixels)
    assert code == 0 and len(out.split()) == 2


@pytest.mark.integration
def test_cat_run(shared_data, tmp_path, capsys):
    run_dir = tmp_path / "cat"
    code, _, _ = jaxnet(capsys, "train", "--dataset", "cat", "--data-dir", shared_data / "catvnoncat",
                        "--epochs", 100, "--quiet", "--out", run_dir)  # fmt: skip
    assert code == 0
    assert_png(run_dir / "predictions.png")
    config = json.loads((run_dir / "config.json").read_text())
    assert (
        config["hidden_sizes"] == []
        and config["scheme"] == "zeros"
        and config["learning_rate"] == 0.005
    )
    assert config["network"]["sizes"] == [12288, 1]
    code, out, _ = jaxnet(capsys, "evaluate", run_dir)
    assert code == 0 and "(209 examples)" in out and "(50 examples)" in out


def test_csv_run(tmp_path, capsys):
    """A CSV dataset: standardized with the training split's statistics, which predict reuses."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)) * [1, 10, 100] + [0, 5, 50]
    y = (X[:, 0] + X[:, 1] / 10 > 0.5).astype(int)
    data = tmp_path / "table.csv"
    data.write_text("a,label,b,c\n" + "".join(f"{r[0]},{k},{r[1]},{r[2]}\n" for r, k in zip(X, y)))
    run_dir = tmp_path / "run"
    code, out, err = jaxnet(
        capsys, "train", "--dataset", data, "--epochs", 3, "--quiet", "--out", run_dir
    )
    assert code == 0, err
    config = json.loads((run_dir / "config.json").read_text())
    assert config["dataset"] == str(data) and config["network"]["sizes"] == [3, 16, 1]
    assert len(config["preprocessing"]["mean"]) == 3
    code, out, _ = jaxnet(capsys, "predict", run_dir, data)  # the training CSV: label dropped
    assert code == 0 and len(out.split()) == 60


@pytest.mark.integration
def test_train_mnistscript(shared_data, capsys):
    argv = ["--epochs", "1", "--limit", "1000", "--data-dir", str(shared_data / "mnist")]
    assert script("train_mnist").main(argv) == 0
    out = capsys.readouterr().out
    assert "Total params: 407,050" in out and "Epoch 1/1" in out and "Test accuracy:" in out


def test_reproduce_coursescript(capsys, monkeypatch):
    course = script("reproduce_course")
    quick = [e for e in course.EXPERIMENTS if e[0].startswith(("logistic", "MNIST"))]
    monkeypatch.setattr(course, "EXPERIMENTS", quick)
    assert course.main(["--quick"]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if line.startswith("logistic regression")]
    assert "47.0%" in row and float(row.split()[-2].rstrip("%")) < 60
    assert "skipped (--quick)" in out
