"""jaxnet.io: the atomic writer (whole or nothing, stale temps cleaned), the CSV reader, strict JSON."""

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from jaxnet.io import atomic, strict_json
from jaxnet.io.csv import read_table


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
    with pytest.raises(FileExistsError, match="not written by jaxnet"):
        atomic.write_text(target, "new")  # the user's file: only when told so
    assert target.read_text() == "old"
    atomic.write_text(target, "new", overwrite=True)
    assert target.read_text() == "new"
    atomic.write_text(target, "newer")  # now jaxnet's own
    assert target.read_text() == "newer"


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, OSError])
def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path, error):
    target = tmp_path / "checkpoint.safetensors"
    target.write_bytes(b"previous")
    with pytest.raises(error), atomic.atomic_path(target, overwrite=True) as tmp:
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


# --- jaxnet.io.csv ------------------------------------------------------------------------


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_read_table_with_header_label_blank_lines_quotes_and_bom(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes('\ufeffx1, "label" ,x2\r\n0.5,1, "2" \r\n\r\n  \n-1,0,3e2\n'.encode())
    table = read_table(path, label_column="label")
    np.testing.assert_array_equal(table.features, [[0.5, 2.0], [-1.0, 300.0]])
    assert table.features.dtype == np.float32 and table.labels.dtype == np.float64
    assert table.labels.tolist() == [1.0, 0.0] and table.columns == ("x1", "x2")
    assert table.lines.tolist() == [2, 5]


def test_read_table_without_header_and_label_by_index(tmp_path):
    table = read_table(_csv(tmp_path, "1,2,3\n4,5,6\n"), label_column=-1, dtype=np.float64)
    assert table.columns is None and table.features.dtype == np.float64
    np.testing.assert_array_equal(table.features, [[1, 2], [4, 5]])
    assert table.labels.tolist() == [3, 6] and table.lines.tolist() == [1, 2]


@pytest.mark.parametrize("first", ["x1,x2", "label,1x1", "a b,c_d", "Höhe,ширина"])
def test_a_first_row_of_names_is_a_header(tmp_path, first):
    table = read_table(_csv(tmp_path, f"{first}\n1,2\n"))
    assert table.columns == tuple(first.split(",")) and table.features.tolist() == [[1, 2]]


@pytest.mark.parametrize(
    "first, match",
    [
        ("1.5,abc", r"line 1, column 2: 'abc' is not a number \(a first row is read as column"),
        ("abc,1.5", r"line 1, column 1: 'abc' is not a number \(a first row"),
        ("0x1F,0x20", r"line 1, column 1: '0x1F' is not a decimal number"),
        ("2..3,1", r"line 1, column 1: '2\.\.3' is not a number$"),
        ("1e5e,2", r"line 1, column 1: '1e5e' is not a number$"),
    ],
)
def test_a_first_row_that_is_neither_names_nor_numbers_is_an_error_not_dropped(
    tmp_path, first, match
):
    with pytest.raises(ValueError, match=match):
        read_table(_csv(tmp_path, f"{first}\n1,2\n3,4\n"))


def test_a_declared_header_is_taken_and_a_declared_headerless_file_keeps_row_one(tmp_path):
    path = _csv(tmp_path, "0,1\n2,3\n")
    assert read_table(path, header=True).columns == ("0", "1")
    assert read_table(path, header=True).features.tolist() == [[2, 3]]
    assert read_table(path, header=False).features.tolist() == [[0, 1], [2, 3]]
    with pytest.raises(ValueError, match=r"line 1, column 1: 'x' is not a number"):
        read_table(_csv(tmp_path, "x,y\n2,3\n", "named.csv"), header=False)


@pytest.mark.parametrize(
    "label_column, error, match",
    [
        ("y", ValueError, r"no column named 'y' in the header \(columns: 'a', 'b'\)"),
        (5, ValueError, "label_column=5 but rows have 2 cells"),
        (1.0, TypeError, "label_column must be a column name or index, got float"),
        (True, TypeError, "got bool"),
    ],
)
def test_read_table_bad_label_column(tmp_path, label_column, error, match):
    with pytest.raises(error, match=match):
        read_table(_csv(tmp_path, "a,b\n1,2\n"), label_column=label_column)


def test_a_named_label_column_needs_a_header(tmp_path):
    with pytest.raises(ValueError, match="names a column, but the file has no header row"):
        read_table(_csv(tmp_path, "1,2\n"), label_column="label")


def test_labels_stay_exact_and_are_not_bound_by_the_feature_dtype(tmp_path):
    table = read_table(_csv(tmp_path, "y,x\n1e39,1\n9007199254740993,2\n"), label_column="y")
    assert table.labels.tolist() == [1e39, 9007199254740992.0]  # float64, not float32's inf


# --- jaxnet.io.strict_json ----------------------------------------------------------------


def test_strict_json_depth_ignores_brackets_inside_strings():
    assert strict_json.depth('{"a": "[[[{{{\\"]]]", "b": [[1]]}') == 3
    assert strict_json.depth("") == 0 and strict_json.depth("1") == 0
    assert strict_json.loads('{"name": "' + "[" * 1000 + '"}') == {"name": "[" * 1000}


@pytest.mark.parametrize(
    "text",
    ["[" * 100_000 + "]" * 100_000, '{"a":' * 5_000 + "1" + "}" * 5_000, "[" * 65 + "]" * 65],
)
def test_strict_json_refuses_deep_nesting_without_recursion(text):
    with pytest.raises(ValueError, match="nested more than 64 levels"):
        strict_json.loads(text)


def test_strict_json_refuses_non_standard_constants():
    assert strict_json.loads("[" * 64 + "]" * 64) is not None
    for constant in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(ValueError, match="not strict JSON"):
            strict_json.loads(f"[{constant}]")


def test_strict_json_encode_round_trips_and_names_bad_values():
    value = {"t": (1, (2.5, float("nan"))), "$x": {"$dict": 1}, "a": np.arange(3)}
    decoded = strict_json.decode(json.loads(json.dumps(strict_json.encode(value, "v"))))
    assert repr(decoded) == repr(
        {"t": (1, (2.5, float("nan"))), "$x": {"$dict": 1}, "a": [0, 1, 2]}
    )
    with pytest.raises(TypeError, match=r"v\['s'\] is a set"):
        strict_json.encode({"s": {1}}, "v")
    deep = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested too deeply"):
        strict_json.encode(deep, "config")
