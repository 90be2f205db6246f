"""Checkpointing inside jn.fit and resuming: 2 epochs + resume to 5 == 5 epochs straight, bitwise.

A resumed run must be the same run: every setting it depends on is either honoured
(learning rate, backprop) or refused with a message naming it; a checkpoint folder that
cannot hold a checkpoint is refused before training, and a save that fails late keeps
the trained params on its error.
"""

import errno
import importlib

import chex
import jax
import numpy as np
import optax
import pytest

import jaxnet as jn
from jaxnet.datasets import make_moons, planar_flower
from jaxnet.io import checkpoint

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy", "epoch")
checkpoints = importlib.import_module("jaxnet.training.checkpoints")


def _same_run(a, b):
    (params_a, history_a), (params_b, history_b) = a, b
    for x, y in zip(jax.tree.leaves(params_a), jax.tree.leaves(params_b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert set(history_a) == set(history_b)
    for k in set(METRICS) & set(history_a):
        assert history_a[k] == history_b[k], k
    assert len(history_a["time"]) == len(history_b["time"])


def planar():
    X, y = planar_flower(jax.random.key(0), m=100)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    return net, jn.init(jax.random.key(1), net), X, y


@pytest.mark.parametrize(
    ("optimizer", "batch_size", "epochs"),
    [("rmsprop", 32, 5), ("momentum", None, 50), ("adam", 50, 4)],
)
def test_resume_is_bitwise_a_straight_run(tmp_path, optimizer, batch_size, epochs):
    X, y = make_moons(jax.random.key(0), m=200)
    net = jn.Network((2, 8, 1), hidden_activation="relu", output_activation="sigmoid")
    params = jn.init(jax.random.key(1), net)
    kw = dict(
        optimizer=optimizer,
        batch_size=batch_size,
        key=jax.random.key(2),
        verbose=0,
        validation_data=(X[:40], y[:40]),
    )
    straight = jn.fit(net, params, X, y, epochs=epochs, **kw)
    first = jn.fit(net, params, X, y, epochs=2, checkpoint_dir=tmp_path, **kw)
    assert checkpoint.read_metadata(tmp_path)["step"] == 2
    resumed = jn.fit(net, params, X, y, epochs=epochs, resume_from=tmp_path, **kw)
    assert resumed[1]["epoch"] == list(range(1, epochs + 1))
    assert first[1]["loss"] == resumed[1]["loss"][:2]
    _same_run(straight, resumed)


def test_checkpoint_every_keeps_the_latest(tmp_path):
    net, _, X, y = planar()
    params = jn.init(jax.random.key(1), net, scheme="normal")
    final, history = jn.fit(
        net,
        params,
        X,
        y,
        learning_rate=1.2,
        epochs=250,
        verbose=0,
        checkpoint_dir=tmp_path,
        checkpoint_every=100,
    )
    saved = checkpoint.restore(tmp_path, params)
    assert saved.step == 250 and saved.history["loss"] == history["loss"]
    for x, y_ in zip(jax.tree.leaves(saved.params), jax.tree.leaves(final)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y_))


def test_checkpoints_fall_on_multiples_of_checkpoint_every_after_a_resume(tmp_path, monkeypatch):
    """Resumed at epoch 3 with checkpoint_every=4: saves at 4, 8 and the end (10), not at 7."""
    net, params, X, y = planar()
    jn.fit(net, params, X, y, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    saved_at = []
    save = checkpoints.save
    monkeypatch.setattr(
        checkpoints, "save", lambda *a, **k: saved_at.append(a[-1]) or save(*a, **k)
    )
    jn.fit(net, params, X, y, epochs=10, verbose=0, checkpoint_dir=tmp_path,
           checkpoint_every=4, resume_from=tmp_path)  # fmt: skip
    assert saved_at == [4, 8, 10]


# --- a resumed run is the same run ---------------------------------------------------------

BASE = dict(optimizer="adam", batch_size=25, key=jax.random.key(2), epochs=3, verbose=0)
DIFFERENT = {
    "network": (dict(net="wider"), "different network"),
    "optimizer-name": (dict(optimizer="rmsprop"), "different optimizer.*'adam'"),
    "optimizer-transformation": (dict(optimizer=optax.adam(1e-3)), "different optimizer"),
    "batch_size": (dict(batch_size=20), "batch_size=25"),
    "full-batch": (dict(batch_size=None), "batch_size"),
    "shuffle": (dict(shuffle=False), "shuffle"),
    "validation-dropped": (dict(validation_data=None), "validation_data"),
    "validation-added": (dict(validation_data="add"), "validation_data"),
    "epochs-below-done": (dict(epochs=2), "epochs=2 is below the 3 epochs"),
    "key": (dict(key=jax.random.key(3)), "another key"),
    "params-dtype": (dict(dtype="float64"), "float"),
}


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A 3-epoch run validated on held-out rows, checkpointed."""
    net, params, X, y = planar()
    folder = tmp_path_factory.mktemp("run")
    kw = {**BASE, "validation_data": (X[:20], y[:20])}
    result = jn.fit(net, params, X, y, checkpoint_dir=folder, **kw)
    return folder, kw, result


@pytest.mark.parametrize("case", list(DIFFERENT))
def test_resume_refuses_a_different_setting_naming_it(saved_run, case):
    folder, kw, _ = saved_run
    net, params, X, y = planar()
    change, message = DIFFERENT[case]
    kw = {**kw, "epochs": 5, **change}
    if kw.get("net") == "wider":
        net = jn.Network((2, 5, 1), hidden_activation="tanh", output_activation="sigmoid")
        params = jn.init(jax.random.key(1), net)
    if kw.get("validation_data") == "add":
        kw["validation_data"] = (X[:20], y[:20])
        folder = folder.parent / "unvalidated"
        jn.fit(net, params, X, y, checkpoint_dir=folder, **BASE)
    if kw.pop("dtype", None) == "float64":
        params = jax.tree.map(lambda a: np.asarray(a, np.float64), params)
        with jax.enable_x64(True), pytest.raises(ValueError, match=message):
            jn.fit(net, params, X, y, resume_from=folder, **kw)
        return
    kw.pop("net", None)
    with pytest.raises(ValueError, match=message):
        jn.fit(net, params, X, y, resume_from=folder, **kw)


def test_resume_at_the_epochs_done_returns_the_saved_run(saved_run):
    folder, kw, (params_done, history_done) = saved_run
    net, params, X, y = planar()
    got = jn.fit(net, params, X, y, resume_from=folder, **kw)
    _same_run(got, (params_done, history_done))


def test_resume_honours_a_new_learning_rate(tmp_path):
    """sgd keeps no state: 2 epochs at 0.5 then 3 at 0.1 == 3 epochs at 0.1 from the 2-epoch params."""
    net, params, X, y = planar()
    first, _ = jn.fit(
        net, params, X, y, learning_rate=0.5, epochs=2, verbose=0, checkpoint_dir=tmp_path
    )
    resumed, history = jn.fit(
        net, params, X, y, learning_rate=0.1, epochs=5, verbose=0, resume_from=tmp_path
    )
    expected, expected_history = jn.fit(net, first, X, y, learning_rate=0.1, epochs=3, verbose=0)
    chex.assert_trees_all_close(resumed, expected, rtol=1e-6)
    np.testing.assert_allclose(history["loss"][2:], expected_history["loss"], rtol=1e-6)
    # and learning_rate=None keeps the saved rate (0.5)
    kept, _ = jn.fit(net, params, X, y, epochs=5, verbose=0, resume_from=tmp_path)
    at_half, _ = jn.fit(net, params, X, y, learning_rate=0.5, epochs=5, verbose=0)
    chex.assert_trees_all_equal(kept, at_half)


def test_resume_honours_another_backprop(tmp_path):
    net, params, X, y = planar()
    jn.fit(net, params, X, y, epochs=2, verbose=0, checkpoint_dir=tmp_path, backprop="manual")
    resumed, _ = jn.fit(
        net, params, X, y, epochs=4, verbose=0, resume_from=tmp_path, backprop="autodiff"
    )
    straight, _ = jn.fit(net, params, X, y, epochs=4, verbose=0)
    chex.assert_trees_all_close(resumed, straight, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("with_key", [False, True])
def test_resume_of_a_checkpoint_without_key(tmp_path, with_key):
    """A checkpoint saved by hand with the run's config but no key: key= supplies it, or an error says so."""
    net, params, X, y = planar()
    kw = dict(batch_size=25, epochs=4, verbose=0)
    jn.fit(net, params, X, y, key=jax.random.key(2), checkpoint_dir=tmp_path, **{**kw, "epochs": 2})
    meta = checkpoint.read_metadata(tmp_path)
    saved = checkpoint.restore(
        tmp_path, params, like_opt_state=jn.optimizers.get("sgd").init(params)
    )
    bare = tmp_path / "bare"
    checkpoint.save(
        bare, saved.params, saved.opt_state, step=2, history=meta["history"], config=meta["config"]
    )
    if not with_key:
        with pytest.raises(ValueError, match="holds no key.*key="):
            jn.fit(net, params, X, y, resume_from=bare, **kw)
        return
    resumed = jn.fit(net, params, X, y, resume_from=bare, key=jax.random.key(2), **kw)
    straight = jn.fit(net, params, X, y, key=jax.random.key(2), **kw)
    _same_run(resumed, straight)


@pytest.mark.parametrize(
    "config",
    [{}, {"network": None}, {"batch_size": None, "shuffle": True, "steps": 2}],
    ids=["empty", "network-only", "no-network"],
)
def test_resume_refuses_a_checkpoint_not_written_by_fit(tmp_path, config):
    net, params, X, y = planar()
    checkpoint.save(tmp_path, params, step=2, history={"loss": [1.0, 0.9]}, config=config)
    with pytest.raises(ValueError, match="not written by jn.fit|different network"):
        jn.fit(net, params, X, y, epochs=4, verbose=0, resume_from=tmp_path)


def test_resume_refuses_a_checkpoint_with_a_foreign_history(tmp_path):
    net, params, X, y = planar()
    jn.fit(net, params, X, y, epochs=2, verbose=0, checkpoint_dir=tmp_path)
    ckpt = checkpoint.restore(
        tmp_path, params, like_opt_state=jn.optimizers.get("sgd").init(params)
    )
    meta = checkpoint.read_metadata(tmp_path)
    history = {**meta["history"], "loss": meta["history"]["loss"][:1]}  # one epoch short
    checkpoint.save(
        tmp_path,
        ckpt.params,
        ckpt.opt_state,
        step=2,
        key=ckpt.key,
        history=history,
        config=meta["config"],
    )
    with pytest.raises(ValueError, match="history"):
        jn.fit(net, params, X, y, epochs=4, verbose=0, resume_from=tmp_path)


def test_resume_rejects_a_truncated_checkpoint(tmp_path):
    net, params, X, y = planar()
    jn.fit(net, params, X, y, epochs=3, verbose=0, checkpoint_dir=tmp_path)
    path = tmp_path / checkpoint.FILENAME
    path.write_bytes(path.read_bytes()[:-50])
    with pytest.raises(ValueError, match="corrupt|truncated"):
        jn.fit(net, params, X, y, epochs=5, verbose=0, resume_from=tmp_path)


# --- the checkpoint folder is checked before training ----------------------------------------


def _must_not_train(monkeypatch):
    engine = importlib.import_module("jaxnet.training.engine")

    def must_not_run(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(engine, "run_chunk", must_not_run)


@pytest.mark.parametrize("name", ["run", "run.v2", "checkpoint.safetensors", "notes.txt"])
def test_checkpoint_dir_that_is_a_file_is_refused_and_left_alone(tmp_path, monkeypatch, name):
    net, params, X, y = planar()
    existing = tmp_path / name
    existing.write_text("the user's file")
    _must_not_train(monkeypatch)
    with pytest.raises(ValueError, match="checkpoint_dir .* exists and is not a directory"):
        jn.fit(net, params, X, y, epochs=2, verbose=0, checkpoint_dir=existing)
    assert existing.read_text() == "the user's file"


@pytest.mark.parametrize("depth", [1, 2])
def test_checkpoint_dir_under_a_file_is_refused(tmp_path, monkeypatch, depth):
    net, params, X, y = planar()
    (tmp_path / "file").write_text("x")
    path = tmp_path.joinpath("file", *["sub"] * depth)
    _must_not_train(monkeypatch)
    with pytest.raises(ValueError, match="checkpoint_dir .* cannot be written"):
        jn.fit(net, params, X, y, epochs=2, verbose=0, checkpoint_dir=path)


@pytest.mark.parametrize(
    "error",
    [PermissionError(errno.EACCES, "Permission denied"), OSError(errno.EROFS, "Read-only file system"),
     OSError(errno.ENOSPC, "No space left on device")],
    ids=["permission", "read-only", "full"],
)  # fmt: skip
def test_unwritable_checkpoint_dir_is_refused_before_training(tmp_path, monkeypatch, error):
    """A folder where no file can be created (simulated: the probe's create fails as the OS would)."""
    net, params, X, y = planar()

    def cannot_create(*args, **kwargs):
        raise error

    monkeypatch.setattr(checkpoints.tempfile, "TemporaryFile", cannot_create)
    _must_not_train(monkeypatch)
    with pytest.raises(
        ValueError, match=f"checkpoint_dir {tmp_path} cannot be written: {error.strerror}"
    ):
        jn.fit(net, params, X, y, epochs=2, verbose=0, checkpoint_dir=tmp_path)


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"), PermissionError(errno.EACCES, "Permission denied"),
     NotADirectoryError(errno.ENOTDIR, "Not a directory")],
    ids=["full", "permission", "not-a-directory"],
)  # fmt: skip
def test_a_late_save_failure_keeps_the_trained_params(tmp_path, monkeypatch, error):
    """The disk fills up at the second checkpoint (epoch 4): the error carries epochs 1-4."""
    net, params, X, y = planar()
    save = checkpoints.save
    calls = []

    def failing_save(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == 2:
            raise error
        return save(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "save", failing_save)
    with pytest.raises(jn.CheckpointWriteError, match="epoch 4") as info:
        jn.fit(net, params, X, y, epochs=6, checkpoint_every=2, checkpoint_dir=tmp_path, verbose=0)
    err = info.value
    assert isinstance(err, OSError) and err.__cause__ is error and err.epoch == 4
    straight, history = jn.fit(net, params, X, y, epochs=4, verbose=0)
    chex.assert_trees_all_equal(err.params, straight)
    assert err.history["loss"] == history["loss"] and err.opt_state is not None
