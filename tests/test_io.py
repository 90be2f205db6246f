"""jaxnet.io.atomic: a write replaces the file whole or not at all, and cleans up after kills."""

import json
import os
import stat
import subprocess
import sys

import pytest

from jaxnet.io import atomic


def _temps(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp" in p.name)


def test_write_text_bytes_json_round_trip(tmp_path):
    assert atomic.write_text(tmp_path / "a.txt", "héllo\n").read_text(encoding="utf-8") == "héllo\n"
    assert atomic.write_bytes(tmp_path / "b.bin", b"\x00\xff").read_bytes() == b"\x00\xff"
    path = atomic.write_json(tmp_path / "deep" / "er" / "c.json", {"a": [1, 2.5, None]})
    assert json.loads(path.read_text()) == {"a": [1, 2.5, None]}
    assert path.read_text().endswith("\n")
    assert _temps(tmp_path) == []


def test_replaces_an_existing_file(tmp_path):
    target = tmp_path / "config.json"
    target.write_text("old")
    atomic.write_text(target, "new")
    assert target.read_text() == "new"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, OSError])
def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path, error):
    target = tmp_path / "checkpoint.safetensors"
    target.write_bytes(b"previous")
    with pytest.raises(error), atomic.atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".checkpoint.")
        assert tmp.name.endswith(".tmp.safetensors")
        tmp.write_bytes(b"half a fi")
        raise error("killed mid-write")
    assert target.read_bytes() == b"previous"
    assert _temps(tmp_path) == []


def test_a_failing_writer_creates_no_file_where_there_was_none(tmp_path):
    with pytest.raises(ValueError), atomic.atomic_path(tmp_path / "new.txt") as tmp:
        tmp.write_text("x")
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_write_json_is_strict_and_writes_nothing_on_refusal(tmp_path, bad):
    target = tmp_path / "metrics.json"
    target.write_text("{}\n")
    with pytest.raises(ValueError, match=r"metrics\.json.*NaN or infinite"):
        atomic.write_json(target, {"loss": [0.5, bad]})
    with pytest.raises(TypeError, match=r"metrics\.json"):
        atomic.write_json(target, {"loss": object()})
    assert target.read_text() == "{}\n"
    assert _temps(tmp_path) == []


def test_permission_bits_are_those_of_a_normal_file(tmp_path):
    atomic.write_text(tmp_path / "ours.txt", "x")
    (tmp_path / "normal.txt").write_text("x")
    mode = stat.S_IMODE((tmp_path / "ours.txt").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "normal.txt").stat().st_mode)


def test_refuses_a_directory_in_place_of_the_file(tmp_path):
    (tmp_path / "out.csv").mkdir()
    with pytest.raises(IsADirectoryError, match=r"out\.csv is a directory"):
        atomic.write_text(tmp_path / "out.csv", "x")
    assert (tmp_path / "out.csv").is_dir()


def test_temp_names_keep_the_suffix_for_format_sniffing_writers(tmp_path):
    with atomic.atomic_path(tmp_path / "curves.png") as tmp:
        assert tmp.suffix == ".png"
        assert atomic.temp_pattern(tmp_path / "curves.png").fullmatch(tmp.name)
        assert not atomic.temp_pattern(tmp_path / "curves.jpg").fullmatch(tmp.name)
        tmp.write_bytes(b"png")


def _killed_writer_temp(folder, name):
    """A temp of `folder/name` left by a process that died mid-write (a real, finished pid)."""
    code = (
        "import os, sys\n"
        "from jaxnet.io import atomic\n"
        "cm = atomic.atomic_path(sys.argv[1])\n"
        "tmp = cm.__enter__()\n"
        "tmp.write_bytes(b'x' * 1000)\n"
        "print(tmp)\n"
        "os._exit(9)\n"  # no cleanup runs, like kill -9
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(folder / name)], capture_output=True, text=True
    )
    assert out.returncode == 9, out.stderr
    return folder / out.stdout.strip().rsplit("/", 1)[-1]


def test_stale_temps_of_the_same_target_are_removed_on_the_next_write(tmp_path, monkeypatch):
    stale = _killed_writer_temp(tmp_path, "checkpoint.safetensors")
    other = _killed_writer_temp(tmp_path, "history.json")
    assert stale.is_file() and other.is_file()
    unrelated = tmp_path / ".checkpoint.notours.tmp.safetensors"
    unrelated.write_text("user file")
    monkeypatch.setattr(atomic, "_STARTED", stale.stat().st_mtime + 1)  # this process came later
    atomic.write_bytes(tmp_path / "checkpoint.safetensors", b"new")
    assert not stale.exists()
    assert other.exists() and unrelated.exists()  # another target's temp, a name not ours


def test_a_temp_of_a_live_process_or_a_newer_one_is_kept(tmp_path, monkeypatch):
    target = tmp_path / "checkpoint.safetensors"
    live = tmp_path / f".checkpoint.{os.getppid()}-0123abcd.tmp.safetensors"  # a running process
    live.write_bytes(b"in flight")
    dead_new = _killed_writer_temp(tmp_path, target.name)
    monkeypatch.setattr(atomic, "_STARTED", dead_new.stat().st_mtime - 1)  # written after we began
    atomic.write_bytes(target, b"new")
    assert live.exists() and dead_new.exists()
    monkeypatch.setattr(atomic, "_STARTED", dead_new.stat().st_mtime + 1)
    atomic.write_bytes(target, b"newer")
    assert live.exists() and not dead_new.exists()
