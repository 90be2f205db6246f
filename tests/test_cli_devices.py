"""`jaxnet train --devices N`: data-parallel over N (virtual CPU) devices, mesh printed."""

import json
import subprocess
import sys


def _jaxnet(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "jaxnet", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=180,
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


def test_bad_device_count_is_a_usage_error(tmp_path):
    result = _jaxnet("train", "--devices", "many", "--quiet", cwd=tmp_path)
    assert result.returncode == 2
    assert "--devices" in result.stderr and "Traceback" not in result.stderr
