"""Issue 23, rows 1, 7, 9 and 11: nothing of the user's is written over, output paths that
cannot be created are refused naming the argument, and a setting that would be ignored is
an error. Each row is a class: every writer (the atomic writer, checkpoints, plots, the
callbacks, ``jaxnet predict --output``, ``jaxnet train --out``) is tried with every kind of
file that is not jaxnet's (a user's file, a jaxnet file edited since, a symbolic link) and
with the command's own inputs, which no flag lets it replace.
"""

import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import jaxnet, refused

import jaxnet as jn
from jaxnet import cli, plotting
from jaxnet.io import atomic, checkpoint, written

NET = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
PARAMS = jn.init(jax.random.key(0), NET)
X = np.random.default_rng(0).normal(size=(24, 2)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int32)
USER = "the user's own words\n"


def fit(**kw):
    kw = {"epochs": 1, "learning_rate": 0.5, "verbose": 0, **kw}
    return jn.fit(NET, PARAMS, X, Y, **kw)


# Every writer of a file, as (name, write(path, overwrite) -> None). ------------------------

WRITERS = {
    "write_text": lambda p, o: atomic.write_text(p, "jaxnet\n", overwrite=o),
    "write_bytes": lambda p, o: atomic.write_bytes(p, b"jaxnet", overwrite=o),
    "write_json": lambda p, o: atomic.write_json(p, {"jaxnet": 1}, overwrite=o),
    "checkpoint.save": lambda p, o: checkpoint.save(p, PARAMS, step=1, overwrite=o),
    "plot_history": lambda p, o: plotting.plot_history({"loss": [1.0, 0.5]}, p, overwrite=o),
    "CSVLogger": lambda p, o: fit(callbacks=[jn.callbacks.CSVLogger(p, overwrite=o)]),
    "ModelCheckpoint": lambda p, o: fit(
        callbacks=[jn.callbacks.ModelCheckpoint(p, monitor="loss", overwrite=o)]
    ),
}
SUFFIX = {"checkpoint.save": ".safetensors", "plot_history": ".png",
          "ModelCheckpoint": ".safetensors", "CSVLogger": ".csv"}  # fmt: skip


def _user_file(path):
    path.write_text(USER)


def _edited_jaxnet_file(path):
    atomic.write_text(path, "jaxnet wrote this\n")
    with open(path, "a") as f:  # edited in place since: now the user's
        f.write("and the user added this\n")


def _symlink_to_a_user_file(path):
    (path.parent / "target.txt").write_text(USER)
    path.symlink_to(path.parent / "target.txt")


def _unrecorded_copy(path):
    """A user's file beside a record that knows another file of that name (sizes differ)."""
    atomic.write_text(path, "x")
    path.unlink()
    path.write_text(USER)


NOT_JAXNETS = [_user_file, _edited_jaxnet_file, _symlink_to_a_user_file, _unrecorded_copy]


@pytest.mark.parametrize("make", NOT_JAXNETS, ids=lambda f: f.__name__.strip("_"))
@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_no_writer_replaces_a_file_jaxnet_did_not_write(writer, make, tmp_path):
    path = tmp_path / f"out{SUFFIX.get(writer, '.txt')}"
    make(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="not written by jaxnet") as error:
        WRITERS[writer](path, False)
    assert "\n" not in str(error.value) and "overwrite=True" in str(error.value)
    assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_overwrite_true_replaces_and_jaxnets_own_file_is_rewritten_freely(writer, tmp_path):
    path = tmp_path / f"out{SUFFIX.get(writer, '.txt')}"
    _user_file(path)
    WRITERS[writer](path, True)
    assert path.read_bytes() != USER.encode() and written.is_ours(path)
    WRITERS[writer](path, False)  # jaxnet's own file now: written again without asking
    assert written.is_ours(path)


def test_a_copy_of_a_jaxnet_file_is_still_jaxnets(tmp_path):
    """``cp -r`` keeps the content, not the times: the record's SHA-256 recognises it."""
    atomic.write_text(tmp_path / "a" / "log.csv", "epoch\n1\n")
    shutil.copytree(tmp_path / "a", tmp_path / "b", copy_function=shutil.copyfile)
    os.utime(tmp_path / "b" / "log.csv", ns=(0, 0))
    assert written.is_ours(tmp_path / "b" / "log.csv")
    atomic.write_text(tmp_path / "b" / "log.csv", "epoch\n")


@pytest.mark.parametrize("kind", ["fifo", "folder", "dangling link"])
def test_what_is_not_a_regular_file_is_not_jaxnets(kind, tmp_path):
    path = tmp_path / "log.csv"
    {"fifo": os.mkfifo, "folder": os.mkdir,
     "dangling link": lambda p: p.symlink_to(tmp_path / "missing")}[kind](path)  # fmt: skip
    assert not written.is_ours(path)
    error = IsADirectoryError if kind == "folder" else FileExistsError
    with pytest.raises(error):
        atomic.write_text(path, "x")


# Row 9: a path that cannot be created names its argument ------------------------------------


def _afile(tmp_path):
    (tmp_path / "afile").write_text(USER)
    return tmp_path / "afile"


PATHS_UNDER_A_FILE = {
    "CSVLogger path": lambda p: jn.callbacks.CSVLogger(p / "log.csv"),
    "CSVLogger path ": lambda p: jn.callbacks.CSVLogger(p / "sub" / "deeper" / "log.csv"),
    "TensorBoard log_dir": lambda p: jn.callbacks.TensorBoard(p),
    "TensorBoard log_dir ": lambda p: jn.callbacks.TensorBoard(p / "logs"),
    "ModelCheckpoint path": lambda p: jn.callbacks.ModelCheckpoint(p / "m.safetensors"),
    "ModelCheckpoint path ": lambda p: jn.callbacks.ModelCheckpoint(
        str(p / "e{epoch}.safetensors")
    ),
    "checkpoint_dir": lambda p: fit(checkpoint_dir=p / "ckpt"),
    "path": lambda p: plotting.plot_history({"loss": [1.0]}, p / "curves.png"),
}


@pytest.mark.parametrize("name", sorted(PATHS_UNDER_A_FILE))
def test_a_path_under_a_file_is_refused_naming_the_argument(name, tmp_path):
    afile = _afile(tmp_path)
    with pytest.raises(ValueError) as error:
        PATHS_UNDER_A_FILE[name](afile)
    message = str(error.value)
    assert message.startswith(name.strip() + " ") and "\n" not in message, message
    assert "is a file" in message and afile.read_text() == USER


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("log.csv", jn.callbacks.CSVLogger),
        ("curves.png", lambda p: plotting.plot_history({"loss": [1.0]}, p)),
        ("preds.csv", lambda p: atomic.check_target(p, "--output")),
    ],
)
def test_a_folder_in_place_of_a_file_is_refused(name, make, tmp_path):
    (tmp_path / name).mkdir()
    with pytest.raises(ValueError, match="is a folder"):
        make(tmp_path / name)


@pytest.mark.parametrize("bad", [3, None, b"bytes", ["log.csv"]])
def test_a_path_of_the_wrong_type(bad):
    for make in (jn.callbacks.CSVLogger, jn.callbacks.ModelCheckpoint, jn.callbacks.TensorBoard):
        with pytest.raises(TypeError, match="must be a path"):
            make(bad)


def test_a_users_file_appearing_before_training_is_refused_then(tmp_path):
    logger = jn.callbacks.CSVLogger(tmp_path / "log.csv")
    (tmp_path / "log.csv").write_text(USER)
    with pytest.raises(FileExistsError, match="CSVLogger path"):
        fit(callbacks=[logger])
    assert (tmp_path / "log.csv").read_text() == USER


def test_checkpoint_dir_holding_a_users_checkpoint_file_is_refused(tmp_path):
    (tmp_path / "checkpoint.safetensors").write_text(USER)
    with pytest.raises(FileExistsError, match="checkpoint_dir"):
        fit(checkpoint_dir=tmp_path)
    assert (tmp_path / "checkpoint.safetensors").read_text() == USER


# Row 1: jaxnet predict --output and jaxnet train --out -------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("outputs") / "run"
    assert cli.main(["train", "--epochs", "3", "--quiet", "--out", str(run_dir)]) == 0
    return run_dir


@pytest.fixture
def rows(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("x1,x2\n0.5,1\n-1,2\n")
    return path


def test_predict_output_over_a_users_file_needs_force(run, rows, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text(USER)
    err = refused(capsys, "predict", run, rows, "--output", notes)
    assert "--output" in err and "--force" in err and notes.read_text() == USER
    assert jaxnet(capsys, "predict", run, rows, "--output", notes, "--force")[0] == 0
    assert notes.read_text().startswith("prediction,probability\n")
    assert jaxnet(capsys, "predict", run, rows, "--output", notes)[0] == 0  # jaxnet's now


@pytest.mark.parametrize(
    "spell",
    [
        lambda rows: rows,
        lambda rows: rows.parent / "." / rows.name,
        lambda rows: rows.parent / "sub" / ".." / rows.name,
        lambda rows: _link(rows, "symlink"),
        lambda rows: _link(rows, "hardlink"),
    ],
    ids=["same", "dot", "dotdot", "symlink", "hardlink"],
)
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_predict_never_writes_over_its_input(spell, force, run, rows, capsys):
    (rows.parent / "sub").mkdir(exist_ok=True)
    before = rows.read_text()
    err = refused(capsys, "predict", run, rows, "--output", spell(rows), *force)
    assert "reads" in err and rows.read_text() == before


def _link(rows, how):
    link = rows.parent / f"{how}.csv"
    (os.symlink if how == "symlink" else os.link)(rows, link)
    return link


@pytest.mark.parametrize("name", ["config.json", "checkpoint.safetensors", "metrics.json",
                                  "history.csv", "learning_curves.png"])  # fmt: skip
def test_predict_never_writes_over_a_file_of_a_run(name, run, rows, capsys):
    before = (run / name).read_bytes()
    err = refused(capsys, "predict", run, rows, "--output", run / name, "--force")
    assert "run" in err and (run / name).read_bytes() == before


def test_train_force_never_replaces_its_own_dataset(run, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    dataset = out / "history.csv"  # the user's CSV of examples, in the run folder
    dataset.write_text("label,a,b\n" + "".join(f"{i % 2},{i},{-i}\n" for i in range(20)))
    before = dataset.read_text()
    err = refused(capsys, "train", "--dataset", dataset, "--out", out, "--force", "--quiet")
    assert "reads" in err and dataset.read_text() == before


def test_resume_never_replaces_a_run_file_the_user_changed(run, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(run, out)
    (out / "history.csv").write_text(USER)
    err = refused(capsys, "train", "--resume", out, "--epochs", 4, "--quiet")
    assert "history.csv" in err and (out / "history.csv").read_text() == USER
    assert not (out / ".jaxnet.lock").exists()


# Row 11: a setting that would be ignored is an error ---------------------------------------


@pytest.mark.parametrize("every", [1, 5, np.int64(2)])
def test_checkpoint_every_without_checkpoint_dir(every):
    with pytest.raises(ValueError, match="checkpoint_every.*checkpoint_dir"):
        fit(checkpoint_every=every)


def test_shard_models_without_a_mesh():
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(0), 2), NET)
    with pytest.raises(ValueError, match="shard='models'.*mesh"):
        jn.fit_ensemble(NET, stacked, X, Y, learning_rate=0.5, verbose=0, shard="models")


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--hidden-sizes", "none", "--hidden-activation", "relu"],
        ["train", "--hidden-sizes", "none", "--dropout", "0.5"],
        ["train", "--hidden-sizes", "none", "--batch-norm"],
        ["gradcheck", "--hidden-sizes", "none", "--hidden-activation", "relu"],
        ["predict", "run", "in.csv", "--force"],
    ],
)
def test_cli_options_that_would_be_ignored(argv, tmp_path, capsys):
    err = refused(capsys, *argv)
    assert "--force" in err or "none" in err
    assert not (tmp_path / "runs").exists()


def test_an_interrupted_write_leaves_no_record_of_it(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic.atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    assert jnp.asarray(1) == 1  # (JAX untouched)
