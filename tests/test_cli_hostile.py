"""Issue 16's rows for the ``jaxnet`` command, each tested as a class of inputs: output paths,
regression runs, huge seeds, offline downloads, tampered run files, wide networks, device
counts, diverging runs, recorded datasets, interrupted runs and predict's CSV input.

Every refusal is one line ``jaxnet: error: ...`` on stderr, no traceback, before any training.
"""

import json
import re
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers import jaxnet, refused

import jaxnet as jn
from jaxnet import cli
from jaxnet.cli import plots


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A short planar run to copy and tamper with."""
    run_dir = tmp_path_factory.mktemp("planar") / "run"
    assert cli.main(["train", "--epochs", "20", "--quiet", "--out", str(run_dir)]) == 0
    return run_dir


@pytest.fixture
def copy(run, tmp_path):
    target = tmp_path / "copy"
    shutil.copytree(run, target)
    return target


def edit(path: Path, **changes):
    saved = json.loads(path.read_text())
    for key, value in changes.items():
        if value is _DELETE:
            del saved[key]
        else:
            saved[key] = value
    path.write_text(json.dumps(saved))


_DELETE = object()


# Row 3 and 13: where a run may be written ----------------------------------------------------


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda d: (d / "notes.txt").write_text("mine"), "not a jaxnet run"),
        (lambda d: (d / ".hidden").write_text("mine"), "not a jaxnet run"),
        (lambda d: (d / "sub").mkdir(), "not a jaxnet run"),
        (lambda d: (d / "config.json").write_text('{"mine": 1}'), "not a jaxnet run"),
        (lambda d: (d / "history.csv").write_text("epoch\n"), "not a jaxnet run"),
    ],
)
def test_out_with_the_users_files_is_refused_and_untouched(make, needle, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    make(out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    for extra in ([], ["--force"]):
        assert needle in refused(capsys, "train", "--epochs", 2, "--quiet", "--out", out, *extra)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_out_holding_a_run_needs_resume_or_force(copy, capsys):
    err = refused(capsys, "train", "--epochs", 5, "--quiet", "--out", copy)
    assert "--resume" in err and "--force" in err
    (copy / "notes.txt").write_text("kept")
    code, _, err = jaxnet(
        capsys, "train", "--epochs", 5, "--quiet", "--hidden-sizes", 3, "--out", copy, "--force"
    )
    assert code == 0, err
    assert json.loads((copy / "config.json").read_text())["hidden_sizes"] == [3]
    assert json.loads((copy / "metrics.json").read_text())["epochs"] == 5
    assert (copy / "notes.txt").read_text() == "kept"


def test_an_empty_out_folder_is_used(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert jaxnet(capsys, "train", "--epochs", 2, "--quiet", "--out", tmp_path / "empty")[0] == 0


@pytest.mark.parametrize(
    ("out", "needle"),
    [
        ("file.txt", "is a file"),
        ("file.txt/run", "lies under"),
        ("file.txt/a/b/run", "lies under"),
    ],
)
def test_out_that_is_or_lies_under_a_file(out, needle, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("mine")
    assert needle in refused(capsys, "train", "--epochs", 2, "--quiet", "--out", tmp_path / out)
    assert (tmp_path / "file.txt").read_text() == "mine"


@pytest.mark.parametrize(
    ("output", "needle"),
    [
        ("file.txt/out.csv", "lies under"),
        ("file.txt/deeper/out.csv", "lies under"),
        (".", "is a folder"),
        ("folder", "is a folder"),
    ],
)
def test_predict_output_under_a_file_or_a_folder(run, output, needle, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("mine")
    (tmp_path / "folder").mkdir()
    (tmp_path / "in.csv").write_text("1,2\n")
    err = refused(capsys, "predict", run, tmp_path / "in.csv", "--output", tmp_path / output)
    assert needle in err and f"--output {tmp_path / output} " in err  # the user's path


# Row 11: regression runs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["--output-activation", "linear"],
        ["--output-activation", "relu", "--hidden-sizes", "6"],
        ["--output-activation", "linear", "--dataset", "moons", "--batch-size", "64"],
        ["--output-activation", "linear", "--dataset", "spiral"],
    ],
)
def test_regression_runs_end_to_end(argv, tmp_path, capsys):
    out = tmp_path / "run"
    code, stdout, err = jaxnet(capsys, "train", *argv, "--epochs", 3, "--quiet", "--out", out)
    assert code == 0, err
    assert "mse" in stdout and "accuracy" not in stdout
    history = json.loads((out / "history.json").read_text())
    assert "mse" in history and "val_mse" in history and "accuracy" not in history
    assert (out / "learning_curves.png").is_file()
    assert not (
        out / "decision_boundary.png"
    ).exists()  # a class boundary of a regression is meaningless
    assert json.loads((out / "config.json").read_text())["network"]["sizes"][-1] == 1
    (tmp_path / "in.csv").write_text("0.5,1\n-2,3\n")
    for command in (["evaluate", out], ["summary", out], ["predict", out, tmp_path / "in.csv"]):
        code, stdout, err = jaxnet(capsys, *command)
        assert code == 0, err
    assert len(stdout.split()) == 2 and all(float(v) == float(v) for v in stdout.split())


# Row 12: huge seeds ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [2**32, 2**64, 1180591620717411303424, -1, "1e9"])
def test_seeds_outside_32_bits_are_refused(seed, tmp_path, capsys):
    for command in (["train", "--out", tmp_path / "r"], ["gradcheck"]):
        assert "--seed" in refused(capsys, *command, "--seed", seed)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("seed", [2**64, -5, 2**32])
def test_a_huge_seed_in_config_json(seed, copy, capsys):
    edit(copy / "config.json", seed=seed)
    err = refused(capsys, "train", "--resume", copy, "--epochs", 25)
    assert "config.json" in err and "'seed'" in err


# Row 14: --download offline ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [urllib.error.URLError("[Errno -3] Temporary failure in name resolution"),
     ConnectionResetError(104, "Connection reset by peer"), TimeoutError("timed out")],
)  # fmt: skip
@pytest.mark.parametrize("dataset", ["mnist", "fashion-mnist"])
def test_download_offline_is_one_line(dataset, failure, tmp_path, capsys, monkeypatch):
    def offline(*args, **kwargs):
        raise failure

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    err = refused(capsys, "train", "--dataset", dataset, "--download", "--data-dir", tmp_path / "d",
                  "--out", tmp_path / "r")  # fmt: skip
    assert "could not download" in err
    assert not (tmp_path / "r").exists()


# Rows 16 and 25: tampered run files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "needle"),
    [
        ({"network": _DELETE}, "'network'"),
        ({"network": None}, "'network'"),
        ({"network": {"sizes": [2, 4, 1]}}, "'network'"),
        (
            {
                "network": {
                    "sizes": [2, 4, 1],
                    "activations": ["tanh"],
                    "loss": "binary_cross_entropy",
                }
            },
            "'network'",
        ),
        (
            {"network": {"sizes": "2-4-1", "activations": ["tanh", "sigmoid"], "loss": "mse"}},
            "'network'",
        ),
        ({"preprocessing": _DELETE}, "'preprocessing'"),
        ({"preprocessing": None}, "'preprocessing'"),
        ({"preprocessing": {"scale": 0}}, "'preprocessing'"),
        ({"preprocessing": {"scale": -255}}, "'preprocessing'"),
        ({"preprocessing": {"scale": "255"}}, "'preprocessing'"),
        ({"preprocessing": {"mean": [0.0], "std": [1.0]}}, "'preprocessing'"),
        ({"preprocessing": {"mean": [0.0, 1.0], "std": [1.0, 0.0]}}, "'preprocessing'"),
        ({"preprocessing": {"mean": [0.0, 1.0]}}, "'preprocessing'"),
        ({"hidden_sizes": None}, "'hidden_sizes'"),
        ({"hidden_sizes": "4"}, "'hidden_sizes'"),
        ({"epochs": _DELETE}, "'epochs'"),
        ({"scheme": 3}, "'scheme'"),
        ({"dataset": None}, "'dataset'"),
    ],
)
@pytest.mark.parametrize("command", ["evaluate", "summary", "predict", "resume"])
def test_tampered_config_json_names_the_file_and_key(
    command, changes, needle, copy, tmp_path, capsys
):
    edit(copy / "config.json", **changes)
    (tmp_path / "in.csv").write_text("1,2\n")
    argv = {"evaluate": ["evaluate", copy], "summary": ["summary", copy],
            "predict": ["predict", copy, tmp_path / "in.csv"],
            "resume": ["train", "--resume", copy, "--epochs", 25]}[command]  # fmt: skip
    err = refused(capsys, *argv)
    assert "config.json" in err and needle in err


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", "null", '"run"', "\xff\xfe", "[" * 100_000])
def test_config_json_that_is_not_an_object(text, copy, capsys):
    (copy / "config.json").write_bytes(text.encode("latin-1"))
    assert "config.json" in refused(capsys, "summary", copy)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"train": {"loss": 1, "accuracy": 1, "examples": 3}}', "'epochs'"),
        ('{"epochs": "2", "train": {}}', "'epochs'"),
        ('{"epochs": 2}', "'train'"),
        ('{"epochs": 2, "train": {"loss": null, "accuracy": 1, "examples": 3}}', "'loss'"),
        ('{"epochs": 2, "train": {"loss": 1, "accuracy": 1}}', "'examples'"),
        ('{"epochs": 2, "train": [1, 2]}', "'train'"),
    ],
)
def test_corrupt_metrics_json(text, needle, copy, capsys):
    (copy / "metrics.json").write_text(text)
    err = refused(capsys, "summary", copy)
    assert "metrics.json" in err and needle in err


# Row 9: config.json's network against the checkpoint -----------------------------------------


@pytest.mark.parametrize(
    "network",
    [
        {"sizes": [2, 5, 1], "activations": ["tanh", "sigmoid"], "loss": "binary_cross_entropy"},
        {
            "sizes": [2, 4, 4, 1],
            "activations": ["tanh", "tanh", "sigmoid"],
            "loss": "binary_cross_entropy",
        },
        {"sizes": [2, 1], "activations": ["sigmoid"], "loss": "binary_cross_entropy"},
    ],
)
@pytest.mark.parametrize("command", ["summary", "evaluate", "predict"])
def test_network_that_no_longer_matches_the_checkpoint(command, network, copy, tmp_path, capsys):
    edit(copy / "config.json", network=network)
    (tmp_path / "in.csv").write_text("1,2\n")
    extra = [tmp_path / "in.csv"] if command == "predict" else []
    err = refused(capsys, command, copy, *extra)
    assert "checkpoint" in err and "config.json" in err


# Row 20: a very wide network's decision boundary ---------------------------------------------


@pytest.mark.parametrize("width", [4, 512, 100_000, 10**7, jn.limits.MAXIMA["units"]])
def test_decision_grid_work_is_bounded(width):
    net = jn.Network((2, width, 1), hidden_activation="relu")
    r = plots.grid_resolution(net)
    assert 2 <= r <= plots.MAX_RESOLUTION
    assert r * r * width <= plots.GRID_BUDGET or r == 2
    assert r == plots.MAX_RESOLUTION or width > plots.GRID_BUDGET // plots.MAX_RESOLUTION**2


def test_a_very_wide_network_trains_and_plots(tmp_path, capsys):
    out = tmp_path / "wide"
    code, _, err = jaxnet(
        capsys, "train", "--hidden-sizes", 100_000, "--epochs", 1, "--quiet", "--out", out
    )
    assert code == 0, err
    assert (out / "decision_boundary.png").is_file()


# Row 21: more devices than exist ---------------------------------------------------------------


@pytest.mark.parametrize(("devices", "needle"), [
    ("100000", "only"), ("4096", "only"), ("0", ">= 1"), ("-2", ">= 1"), ("many", "expected"), ("2.5", "expected"),
])  # fmt: skip
def test_device_counts_that_do_not_exist(devices, needle, tmp_path, capsys):
    err = refused(
        capsys, "train", "--devices", devices, "--epochs", 2, "--quiet", "--out", tmp_path / "r"
    )
    assert "--devices" in err and needle in err
    assert not (tmp_path / "r").exists()


# Row 23: runs that diverge ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "where"),
    [
        (
            ["--dataset", "moons", "--learning-rate", "1e30"],
            r"epoch 1/200, step \d/4",
        ),  # first epoch
        (["--output-activation", "linear", "--learning-rate", "1e30"], r"epoch \d+/10000"),
        (["--learning-rate", "3e38", "--epochs", "50"], r"epoch \d+/50, step 1/1"),
    ],
)
def test_a_diverging_run_says_where_and_exits_1(argv, where, tmp_path, capsys):
    out = tmp_path / "run"
    err = refused(capsys, "train", *argv, "--quiet", "--out", out, code=1)
    assert "diverged" in err and re.search(where, err) and "--learning-rate" in err
    assert str(out) in err
    metrics = json.loads((out / "metrics.json").read_text())
    assert "non-finite" in metrics["diverged"]
    history = json.loads((out / "history.json").read_text())
    assert (out / "learning_curves.png").is_file() == bool(history["epoch"])


# Row 26: only datasets a run recorded as such, never echoed -------------------------------------


@pytest.mark.parametrize("name", ["secret.txt", "secret", "secret.csv.bak"])
def test_config_json_dataset_that_is_not_a_csv_is_never_read(name, copy, tmp_path, capsys):
    secret = tmp_path / name
    secret.write_text("TOPSECRET,label\n1,0\n")
    edit(copy / "config.json", dataset=str(secret))
    for argv in (["evaluate", copy], ["train", "--resume", copy, "--epochs", 25]):
        err = refused(capsys, *argv)
        assert "unknown dataset" in err and "TOPSECRET" not in err


@pytest.mark.parametrize(
    "contents",
    [
        "TOPSECRET,password\n1,2\n",
        "label,x\nTOPSECRET,1\n",
        "x,y,label\n1,TOPSECRET,0\n",
        "TOPSECRET",
    ],
)
def test_recorded_csv_contents_are_not_echoed(contents, copy, tmp_path, capsys):
    secret = tmp_path / "secret.csv"
    secret.write_text(contents)
    edit(copy / "config.json", dataset=str(secret))
    err = refused(capsys, "evaluate", copy)
    assert "secret.csv" in err and "TOPSECRET" not in err


# Row 30: a run killed after metrics.json, before its plots ------------------------------------


@pytest.mark.parametrize(
    "lost", [("learning_curves.png", "decision_boundary.png"), ("metrics.json", "history.json",
             "history.csv", "learning_curves.png", "decision_boundary.png")],
)  # fmt: skip
@pytest.mark.parametrize("epochs", [[], ["--epochs", "20"]])
def test_an_interrupted_run_is_completed_by_resume(lost, epochs, copy, capsys):
    before = json.loads((copy / "history.json").read_text())
    for name in lost:
        (copy / name).unlink()
    code, out, err = jaxnet(capsys, "train", "--resume", copy, *epochs, "--quiet")
    assert code == 0, err
    assert "has done its 20 epochs" in out
    for name in ("learning_curves.png", "decision_boundary.png", "metrics.json", "history.csv"):
        assert (copy / name).is_file()
    assert json.loads((copy / "history.json").read_text()) == before


@pytest.mark.parametrize(("argv", "changes"), [(["--epochs", "5"], {}), ([], {"epochs": 5})])
def test_resume_below_the_epochs_done(argv, changes, copy, capsys):
    edit(copy / "config.json", **changes)
    assert "below the 20 epochs" in refused(capsys, "train", "--resume", copy, *argv)


# Rows 6 and 24: predict's CSV -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("1,2\n3,4\n", 2),  # no header: no row dropped
        ("x1,x2\n1,2\n3,4\n", 2),  # a header of names is detected
        ("label,x1,x2\n0,1,2\n", 1),  # a training CSV's label column is dropped
        ("1,2\n\n3,4\n", 2),  # blank lines are skipped
        (" 1 , 2 \n-3e2,+4.5\n", 2),
    ],
)
def test_predict_reads_every_data_row(run, text, rows, tmp_path, capsys):
    (tmp_path / "in.csv").write_text(text)
    code, out, err = jaxnet(capsys, "predict", run, tmp_path / "in.csv")
    assert code == 0 and len(out.split()) == rows, err


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"1,abc\n3,4\n", "line 1, column 2"),  # a first row that is neither data nor names
        (b"0x1F,2\n", "line 1, column 1"),
        (b"1,2\n3;4\n", "line 2"),
        (b"1;2\n3;4\n", "separated by ';'"),
        (b"1,2\nnan,4\n", "line 2, column 1"),
        (b"1,2\n1e400,4\n", "line 2, column 1"),
        (b"1,2\n1e39,4\n", "line 2, column 1"),  # not a float32
        (b"1,2\ninf,4\n", "line 2"),
        (b"1,2,3\n", "3 values"),
        (b"1\n", "1 values"),
        (b"", "empty file"),
        (b"x1,x2\n", "no data rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "not"),
        (b"1,2\n\xff\xfe\n", "UTF-8"),
    ],
)
def test_predict_csv_errors_name_the_file_and_line(run, content, needle, tmp_path, capsys):
    (tmp_path / "in.csv").write_bytes(content)
    err = refused(capsys, "predict", run, tmp_path / "in.csv")
    assert "in.csv" in err and needle in err


def test_predict_header_declared(run, tmp_path, capsys):
    (tmp_path / "in.csv").write_text("1,2\n3,4\n")
    code, out, _ = jaxnet(capsys, "predict", run, tmp_path / "in.csv", "--header")
    assert code == 0 and len(out.split()) == 1


# Row 17 (the CLI's side): a CSV's class count ------------------------------------------------


@pytest.mark.parametrize("labels", [(0, 999_999_999), (0, 10_000), (-1, 0), (0, 2.5)])
def test_csv_labels_must_be_class_numbers(labels, tmp_path, capsys):
    data = tmp_path / "tiny.csv"
    data.write_text("x,label\n" + "".join(f"{i},{labels[i % 2]}\n" for i in range(6)))
    err = refused(capsys, "train", "--dataset", data, "--out", tmp_path / "r")
    assert "0..K-1" in err
