"""Issue 23, row 3: a run folder is written by one process at a time.

A holder process (the lock module alone, no JAX: it starts in a blink) keeps a folder's
lock; every writer of that folder (``jaxnet train --out``, ``--force``, ``--resume``,
``jn.fit(checkpoint_dir=)``) is refused naming the folder and the holder's pid, before it
writes anything. Killed with SIGKILL, the holder leaves its lock file behind, and the next
writer takes it over. Two ``jaxnet train`` started 0.3 s apart into one folder: one run
wins, the other is refused, and the folder holds one run's files.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from helpers import refused

import jaxnet as jn
from jaxnet import cli
from jaxnet.io import checkpoint, lock

LOCK_PY = Path(lock.__file__)
HOLDER = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("lock", sys.argv[1])
lock = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lock)
with lock.hold(sys.argv[2], "--out"):
    print("holding", flush=True)
    time.sleep(600)
"""


@pytest.fixture
def holder(tmp_path):
    """Start a process holding the lock of ``tmp_path / 'run'``; yield (folder, process)."""
    folder = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(LOCK_PY), str(folder)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout.readline().strip() == "holding"
    yield folder, proc
    proc.kill()
    proc.wait()
    proc.stdout.close()


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lock") / "done"
    assert cli.main(["train", "--epochs", "3", "--quiet", "--out", str(run_dir)]) == 0
    return run_dir


def _as_run(finished, folder):
    for p in finished.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--epochs", "2", "--quiet", "--out", "{run}"],
        ["train", "--epochs", "2", "--quiet", "--out", "{run}", "--force"],
        ["train", "--resume", "{run}", "--epochs", "5", "--quiet"],
    ],
)
def test_a_second_writer_is_refused_naming_the_folder_and_the_holder(
    argv, holder, finished, capsys
):
    folder, proc = holder
    if "--out" not in argv or "--force" in argv:
        _as_run(finished, folder)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir())
    err = refused(capsys, *(a.format(run=folder) for a in argv))
    assert str(folder) in err and f"process {proc.pid}" in err
    assert sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()) == before


def test_fit_into_a_locked_checkpoint_dir(holder):
    folder, proc = holder
    net = jn.Network((2, 1), output_activation="sigmoid")
    X = np.zeros((4, 2), np.float32)
    with pytest.raises(lock.FolderLocked, match=f"checkpoint_dir {folder} .*process {proc.pid}"):
        jn.fit(net, jn.init(jax.random.key(0), net), X, np.array([0, 1, 0, 1]), verbose=0,
               checkpoint_dir=folder)  # fmt: skip


def test_the_lock_of_a_killed_process_is_taken_over(holder, capsys):
    folder, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert lock.holder(folder) == proc.pid  # its lock file is left behind, its lock is not
    code = cli.main(["train", "--epochs", "2", "--quiet", "--out", str(folder)])
    assert code == 0, capsys.readouterr().err
    assert not (folder / lock.NAME).exists()
    assert json.loads((folder / "metrics.json").read_text())["epochs"] == 2


def test_the_lock_is_reentrant_in_one_process_and_released_after(tmp_path):
    with lock.hold(tmp_path, "--out"), lock.hold(tmp_path, "checkpoint_dir"):
        assert lock.holder(tmp_path) == os.getpid()
    assert not (tmp_path / lock.NAME).exists()
    with lock.hold(tmp_path):  # free again
        pass


@pytest.mark.integration  # two `python -m jaxnet train` processes
def test_two_runs_started_together_into_one_folder(tmp_path):
    out = tmp_path / "same"
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    procs = []
    for seed, epochs in ((1, 3000), (2, 2000)):
        argv = ["train", "--epochs", str(epochs), "--seed", str(seed), "--quiet", "--out", str(out)]
        procs.append(subprocess.Popen([sys.executable, "-m", "jaxnet", *argv], env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip
        time.sleep(0.3)
    results = [(p.wait(timeout=300), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    err = next(e for code, e in results if code == 2)
    assert err.startswith("jaxnet: error: ") and err.count("\n") == 1
    assert "being written by process" in err or "already holds a jaxnet run" in err
    config = json.loads((out / "config.json").read_text())
    epochs = {1: 3000, 2: 2000}[config["seed"]]  # one run's files, all of them
    assert json.loads((out / "metrics.json").read_text())["epochs"] == epochs
    assert len(json.loads((out / "history.json").read_text())["loss"]) == epochs
    assert checkpoint.read_metadata(out)["step"] == epochs
