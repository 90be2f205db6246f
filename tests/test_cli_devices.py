"""`jaxnet train --devices N`: data-parallel over N (virtual CPU) devices, mesh printed; more
devices than exist refused. Subprocesses: the CPU device count is set before JAX starts."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # `python -m jaxnet` subprocesses


def _jaxnet(*args, cwd, timeout=180):
    return subprocess.run(
        [sys.executable, "-m", "jaxnet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def test_train_on_two_devices_matches_one(tmp_path):
    common = ("train", "--epochs", "200", "--quiet")
    two = _jaxnet(*common, "--devices", "2", "--out", "two", cwd=tmp_path)
    assert two.returncode == 0, two.stderr
    assert "mesh: 2 x cpu device(s)" in two.stdout
    one = _jaxnet(*common, "--out", "one", cwd=tmp_path)
    assert one.returncode == 0, one.stderr
    loss = [json.loads((tmp_path / d / "history.json").read_text())["loss"] for d in ("one", "two")]
    assert len(loss[0]) == len(loss[1]) == 200
    assert max(abs(a - b) for a, b in zip(*loss)) < 1e-4


@pytest.mark.parametrize("devices", ["100000", str((os.cpu_count() or 1) + 1)])
def test_more_devices_than_exist_are_refused_at_once(devices, tmp_path):
    result = _jaxnet("train", "--devices", devices, "--quiet", cwd=tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"jaxnet: error: --devices {devices}: only ")
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()
