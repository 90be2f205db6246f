"""Callbacks in ``jn.fit``: per-epoch hooks between compiled chunks, one compilation, stopping,
errors that keep the state, and the built-ins (EarlyStopping as Keras's, CSVLogger,
TensorBoard, ModelCheckpoint), through resume.

Data: a small noisy 2-D problem that a 2-16-1 network overfits quickly, so the validation
loss stops improving within a few minibatch epochs (and within ~20 full-batch iterations).
"""

import csv
import math
import struct
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest
from helpers import count_compiles, without_time

import jaxnet as jn
from jaxnet.io import atomic, checkpoint

CHUNK = "jit(run_chunk)"
NET = jn.Network((2, 16, 1), hidden_activation="relu", output_activation="sigmoid")
LOGGED = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] + 0.8 * rng.normal(size=60)) > 0).astype(np.int32)
    return X[:30], y[:30], (X[30:], y[30:])


PARAMS = jn.init(jax.random.key(0), NET)
X, Y, VAL = data()
MINIBATCH = dict(learning_rate=1.0, batch_size=10, key=jax.random.key(1), validation_data=VAL,
                 verbose=0)  # fmt: skip
FULL = dict(learning_rate=1.0, validation_data=VAL, verbose=0)


def fit(epochs, **kw):
    return jn.fit(NET, PARAMS, X, Y, epochs=epochs, **{**MINIBATCH, **kw})


class Recorder(jn.callbacks.Callback):
    """Keeps every call: ``(epoch, logs, params)``, and the ends."""

    def __init__(self, every=1):
        self.every, self.calls, self.begun, self.ended = every, [], [], []

    def on_train_begin(self, history, params):
        super().on_train_begin(history, params)
        self.begun.append(len(history["epoch"]))

    def on_epoch_end(self, epoch, logs, params):
        self.calls.append((epoch, dict(logs), params))

    def on_train_end(self, history, params):
        self.ended.append((len(history["epoch"]), params))


class StopAt(jn.callbacks.Callback):
    def __init__(self, epoch):
        self.at = epoch

    def on_epoch_end(self, epoch, logs, params):
        self.stop_training = epoch >= self.at


class FailAt(jn.callbacks.Callback):
    def __init__(self, epoch):
        self.at = epoch

    def on_epoch_end(self, epoch, logs, params):
        if epoch == self.at:
            raise KeyError(f"boom at {epoch}")


# --- the hooks and their per-epoch semantics ---------------------------------------------


def test_on_epoch_end_sees_each_epoch_its_logs_and_its_own_params():
    rec = Recorder()
    params, history = fit(5, callbacks=[rec])
    assert [c[0] for c in rec.calls] == [1, 2, 3, 4, 5]
    for i, (_, logs, _) in enumerate(rec.calls):
        assert set(logs) == set(LOGGED)
        assert logs == {k: history[k][i] for k in LOGGED}
    chex.assert_trees_all_equal(rec.calls[-1][2], params)
    shorter, _ = fit(2)  # the params at the end of epoch 2 of the same run
    chex.assert_trees_all_equal(rec.calls[1][2], shorter)
    assert rec.begun == [0] and rec.ended[0][0] == 5
    chex.assert_trees_all_equal(rec.ended[0][1], params)


@pytest.mark.parametrize("every", [1, 3])
def test_full_batch_chunks_end_where_a_callback_is_due(every):
    """Full batch: chunks of up to 1000 iterations are cut at the multiples of ``every``, so
    the params are exactly those of the iteration, and the run is unchanged bit for bit."""
    rec = Recorder(every)
    params, history = jn.fit(NET, PARAMS, X, Y, epochs=10, callbacks=[rec], **FULL)
    plain, plain_history = jn.fit(NET, PARAMS, X, Y, epochs=10, **FULL)
    chex.assert_trees_all_equal(params, plain)
    assert without_time(history) == without_time(plain_history)
    assert [c[0] for c in rec.calls] == list(range(every, 11, every))
    at_6, _ = jn.fit(NET, PARAMS, X, Y, epochs=6, **FULL)
    chex.assert_trees_all_equal(next(p for e, _, p in rec.calls if e == 6), at_6)


def test_callbacks_do_not_recompile():
    net = jn.Network(
        (2, 9, 1), hidden_activation="tanh", output_activation="sigmoid"
    )  # sizes used nowhere else
    params = jn.init(jax.random.key(3), net)
    with count_compiles() as compiles:
        jn.fit(net, params, X, Y, epochs=30, verbose=0)
        jn.fit(net, params, X, Y, epochs=30, verbose=0, callbacks=[Recorder(1)])
        jn.fit(net, params, X, Y, epochs=50, verbose=0, callbacks=[Recorder(7), Recorder(4)],
               early_stopping={"monitor": "loss", "patience": 5, "every": 3})  # fmt: skip
    assert compiles[CHUNK] == 1


def test_stop_training_ends_the_run_after_that_epoch():
    params, history = fit(20, callbacks=[StopAt(4)])
    assert history["epoch"] == [1, 2, 3, 4] and history["stopped_epoch"] == 4
    chex.assert_trees_all_equal(params, fit(4)[0])
    # full batch too
    params, history = jn.fit(NET, PARAMS, X, Y, epochs=50, callbacks=[StopAt(7)], **FULL)
    assert len(history["loss"]) == 7 and history["stopped_epoch"] == 7
    chex.assert_trees_all_equal(params, jn.fit(NET, PARAMS, X, Y, epochs=7, **FULL)[0])


def test_on_train_end_may_replace_the_params():
    class Zero(jn.callbacks.Callback):
        def on_train_end(self, history, params):
            return jax.tree.map(np.zeros_like, params)

    params, _ = fit(2, callbacks=[Zero()])
    assert all(not np.any(leaf) for leaf in jax.tree.leaves(params))


def test_a_callback_that_raises_stops_training_with_the_state_reached(tmp_path):
    log = jn.callbacks.CSVLogger(tmp_path / "log.csv")
    rec = Recorder()
    with pytest.raises(KeyError, match="boom at 3") as info:
        fit(10, callbacks=[rec, FailAt(3), log])
    err = info.value
    assert err.epoch == 3 and err.history["epoch"] == [1, 2, 3]
    params_3, history_3 = fit(3)
    chex.assert_trees_all_equal(err.params, params_3)
    assert without_time(err.history) == without_time(history_3)
    assert err.opt_state is not None
    assert any("params and opt_state reached" in note for note in err.__notes__)
    # every callback was ended: the logger (after the failing one, so it never saw epoch 3)
    # flushed the rows it had, though its min_interval of 1 s had held them back
    assert [row["epoch"] for row in read_csv(tmp_path / "log.csv")] == ["1", "2"]
    assert rec.ended and rec.ended[0][0] == 3


def test_a_diverging_run_ends_its_callbacks():
    rec = Recorder()
    with pytest.raises(jn.TrainingDiverged) as info:
        jn.fit(NET, PARAMS, X, Y, learning_rate=1e30, epochs=30, verbose=0, callbacks=[rec])
    assert rec.ended and rec.ended[0][0] == len(info.value.history["epoch"])


# --- bad arguments -----------------------------------------------------------------------


class NoHooks:
    pass


class BadEvery:
    every = 0

    def on_epoch_end(self, epoch, logs, params):
        pass


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"callbacks": Recorder()}, TypeError, "callbacks must be a list"),
        ({"callbacks": [Recorder(), NoHooks()]}, TypeError, r"callbacks\[1\] must be a callback"),
        ({"callbacks": [lambda *a: None]}, TypeError, r"callbacks\[0\]"),
        ({"callbacks": [BadEvery()]}, ValueError, r"callbacks\[0\].every"),
        ({"early_stopping": 5}, TypeError, "early_stopping must be"),
        ({"early_stopping": {"patiense": 2}}, TypeError, "early_stopping: .*patiense"),
        ({"early_stopping": {"patience": -1}}, ValueError, "patience"),
        ({"early_stopping": {"mode": "up"}}, ValueError, "mode"),
        ({"early_stopping": {"min_delta": -0.1}}, ValueError, "min_delta"),
        ({"early_stopping": {"restore_best_params": 1}}, TypeError, "restore_best_params"),
        ({"early_stopping": {"every": 0}}, ValueError, "every"),
        ({"early_stopping": {"monitor": "val_los"}}, ValueError, "monitor='val_los'"),
        ({"early_stopping": {}, "validation_data": None}, ValueError, "pass validation_data"),
    ],
)
def test_bad_callbacks_are_refused_before_training(kw, error, match):
    with count_compiles() as compiles, pytest.raises(error, match=match):
        fit(3, **kw)
    assert compiles[CHUNK] == 0


def test_built_in_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="path"):
        jn.callbacks.CSVLogger(3)
    with pytest.raises(ValueError, match="min_interval"):
        jn.callbacks.CSVLogger(tmp_path / "a.csv", min_interval=-1)
    with pytest.raises(ValueError, match="every"):
        jn.callbacks.TensorBoard(tmp_path, every=0)
    with pytest.raises(TypeError, match="save_best_only"):
        jn.callbacks.ModelCheckpoint(tmp_path / "b.safetensors", save_best_only="yes")
    with pytest.raises(TypeError, match="monitor"):
        jn.callbacks.EarlyStopping(monitor=None)
    with pytest.raises(ValueError, match="monitor='val_accuracy'.*pass validation_data"):
        jn.fit(NET, PARAMS, X, Y, verbose=0,
               callbacks=[jn.callbacks.ModelCheckpoint(tmp_path / "c", "val_accuracy")])  # fmt: skip


# --- EarlyStopping is Keras's --------------------------------------------------------------


def keras_early_stopping(values, patience, min_delta=0.0, mode="min"):
    """Keras 3's ``EarlyStopping.on_epoch_end`` over a sequence of monitored values (0-based
    epochs inside): ``(stopped epoch or None, best epoch)``, both 1-based."""
    op = np.less if mode == "min" else np.greater
    delta = min_delta * (1 if op is np.greater else -1)
    best, best_epoch, wait = (np.inf if op is np.less else -np.inf), None, 0
    for epoch, current in enumerate(values):
        wait += 1
        if op(current - delta, best):
            best, best_epoch, wait = current, epoch, 0
            continue
        if wait >= patience and epoch > 0:
            return epoch + 1, best_epoch + 1
    return None, None if best_epoch is None else best_epoch + 1


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("patience, min_delta, mode", [(0, 0.0, "min"), (3, 0.0, "min"),
                         (2, 0.05, "max"), (5, 0.01, "min")])  # fmt: skip
def test_early_stopping_decides_as_keras(seed, patience, min_delta, mode):
    rng = np.random.default_rng(seed)
    values = np.round(rng.uniform(size=30) + np.linspace(0, 0.5, 30), 2).tolist()
    if seed == 0:
        values[4] = math.nan  # a NaN never improves
    stop = jn.callbacks.EarlyStopping("m", patience, min_delta, mode)
    stop.on_train_begin({"epoch": [], "m": []}, None)
    for epoch, value in enumerate(values, start=1):
        stop.on_epoch_end(epoch, {"m": value}, None)
        if stop.stop_training:
            break
    expected_stop, expected_best = keras_early_stopping(values, patience, min_delta, mode)
    assert (stop.stopped_epoch or None, stop.best_epoch) == (expected_stop, expected_best)


@pytest.mark.parametrize(
    "arguments",
    [
        {"monitor": "val_loss", "patience": 3, "restore_best_params": True},
        {"monitor": "val_accuracy", "patience": 4, "min_delta": 0.05, "restore_best_params": True},
        {"monitor": "loss", "patience": 1},
    ],
)
def test_early_stopping_in_fit(arguments):
    _, full = fit(40)
    mode = "max" if "accuracy" in arguments["monitor"] else "min"
    values = full[arguments["monitor"]]
    stopped, best = keras_early_stopping(
        values, arguments["patience"], arguments.get("min_delta", 0.0), mode
    )
    assert stopped is not None and stopped < 40
    stop = jn.callbacks.EarlyStopping(**arguments)
    params, history = fit(40, callbacks=[stop])
    assert history["stopped_epoch"] == stopped == stop.stopped_epoch
    assert history["epoch"] == list(range(1, stopped + 1))
    assert history["loss"] == full["loss"][:stopped]
    expected = fit(best if arguments.get("restore_best_params") else stopped)[0]
    chex.assert_trees_all_equal(params, expected)
    # the shortcut is the same mechanism
    params_2, history_2 = fit(40, early_stopping=arguments)
    chex.assert_trees_all_equal(params_2, params)
    assert without_time(history_2) == without_time(history)


def test_full_batch_early_stopping_checks_every_few_iterations():
    """Full batch: checks every 5 iterations, patience in iterations (20)."""
    _, full = jn.fit(NET, PARAMS, X, Y, epochs=200, **FULL)
    stop = jn.callbacks.EarlyStopping(patience=20, every=5, restore_best_params=True)
    params, history = jn.fit(NET, PARAMS, X, Y, epochs=200, callbacks=[stop], **FULL)
    checked = full["val_loss"][4::5]  # the values at iterations 5, 10, ...
    best = 5 * (int(np.argmin(checked[: history["stopped_epoch"] // 5])) + 1)
    assert stop.best_epoch == best and history["stopped_epoch"] == best + 20
    assert history["loss"] == full["loss"][: best + 20]
    chex.assert_trees_all_equal(params, jn.fit(NET, PARAMS, X, Y, epochs=best, **FULL)[0])


def test_a_run_that_never_improves_keeps_its_last_params():
    stop = jn.callbacks.EarlyStopping("loss", patience=2, restore_best_params=True)
    stop.on_train_begin({"epoch": [], "loss": []}, None)
    for epoch in (1, 2, 3):
        stop.on_epoch_end(epoch, {"loss": math.nan}, {"W": np.ones(1)})
    assert stop.stop_training and stop.best_epoch is None
    assert stop.on_train_end({}, {"W": np.ones(1)}) is None


# --- resume --------------------------------------------------------------------------------


def test_a_run_stopped_early_and_resumed_trains_no_further(tmp_path):
    arguments = {"patience": 3, "restore_best_params": True}
    params, history = fit(40, early_stopping=arguments, checkpoint_dir=tmp_path)
    stopped = history["stopped_epoch"]
    assert checkpoint.read_metadata(tmp_path)["step"] == stopped
    with count_compiles() as compiles:
        again, history_again = fit(60, early_stopping=arguments, resume_from=tmp_path)
    assert compiles[CHUNK] == 0
    chex.assert_trees_all_equal(again, params)  # the best params, kept beside the checkpoint
    assert history_again["stopped_epoch"] == stopped
    assert without_time(history_again) == without_time(history)


def test_more_patience_continues_a_stopped_run_as_a_straight_run(tmp_path):
    fit(40, early_stopping={"patience": 3}, checkpoint_dir=tmp_path)
    straight, h_straight = fit(40, early_stopping={"patience": 6})
    resumed, h_resumed = fit(40, early_stopping={"patience": 6}, resume_from=tmp_path)
    chex.assert_trees_all_equal(resumed, straight)
    assert without_time(h_resumed) == without_time(h_straight)
    assert h_straight["stopped_epoch"] > 5
    # without early stopping it trains all the epochs
    _, h_all = fit(12, resume_from=tmp_path)
    assert h_all["epoch"][-1] == 12 and "stopped_epoch" not in h_all


def test_an_interrupted_run_with_early_stopping_resumes_bitwise(tmp_path):
    """The best epoch (2) predates the resume point (4): its params come from the copy
    EarlyStopping keeps in the checkpoint folder."""
    arguments = {"patience": 6, "restore_best_params": True}
    straight, h_straight = fit(40, early_stopping=arguments)
    fit(4, early_stopping=arguments, checkpoint_dir=tmp_path)
    assert (tmp_path / "early_stopping" / checkpoint.FILENAME).is_file()
    stop = jn.callbacks.EarlyStopping(**arguments)
    resumed, h_resumed = fit(40, callbacks=[stop], resume_from=tmp_path)
    assert stop.best_epoch < 4
    chex.assert_trees_all_equal(resumed, straight)
    assert without_time(h_resumed) == without_time(h_straight)
    # the latest checkpoint of the folder is still the run's
    assert checkpoint.latest(tmp_path).name == checkpoint.FILENAME


def test_best_params_lost_before_a_resume_are_a_warning(tmp_path):
    arguments = {"patience": 6, "restore_best_params": True}
    fit(4, checkpoint_dir=tmp_path)  # saved without early stopping: no copy of the best
    with pytest.warns(RuntimeWarning, match="best epoch 2 were not kept"):
        params, history = fit(40, early_stopping=arguments, resume_from=tmp_path)
    chex.assert_trees_all_equal(params, fit(history["stopped_epoch"])[0])


# --- the built-ins -------------------------------------------------------------------------


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_csv_logger_writes_the_history_exactly(tmp_path):
    path = tmp_path / "logs" / "run.csv"
    _, history = fit(6, callbacks=[jn.callbacks.CSVLogger(path, every=2, min_interval=0)])
    rows = read_csv(path)
    assert list(rows[0]) == ["epoch", *LOGGED]
    assert [int(r["epoch"]) for r in rows] == [2, 4, 6]
    for r in rows:
        i = int(r["epoch"]) - 1
        assert all(float(r[k]) == history[k][i] for k in LOGGED)  # repr: exact
    names = sorted(p.name for p in path.parent.iterdir() if p.name not in atomic.BOOKKEEPING)
    assert names == ["run.csv"]  # no temporaries


def test_csv_logger_of_a_resumed_run_is_the_straight_runs(tmp_path):
    fit(7, callbacks=[jn.callbacks.CSVLogger(tmp_path / "straight.csv")])
    fit(3, checkpoint_dir=tmp_path / "ckpt", callbacks=[jn.callbacks.CSVLogger(tmp_path / "r.csv")])
    fit(7, resume_from=tmp_path / "ckpt", callbacks=[jn.callbacks.CSVLogger(tmp_path / "r.csv")])
    assert (tmp_path / "r.csv").read_text() == (tmp_path / "straight.csv").read_text()


def read_scalars(log_dir):
    """``{tag: [(step, value)]}`` from the event files: TFRecords of ``Event`` protos
    (length, its masked CRC, the proto, its CRC), parsed with tensorboardX's own proto."""
    from tensorboardX.proto import event_pb2

    scalars = {}
    for file in sorted(Path(log_dir).glob("events.out.tfevents.*")):
        data, i = file.read_bytes(), 0
        while i < len(data):
            (n,) = struct.unpack("<Q", data[i : i + 8])
            event = event_pb2.Event.FromString(data[i + 12 : i + 12 + n])
            i += 12 + n + 4
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((event.step, value.simple_value))
    return scalars


def test_tensorboard_writes_one_scalar_per_logged_quantity(tmp_path):
    _, history = fit(4, callbacks=[jn.callbacks.TensorBoard(tmp_path / "tb")])
    scalars = read_scalars(tmp_path / "tb")
    assert set(scalars) == set(LOGGED)
    for tag in LOGGED:
        assert [s for s, _ in scalars[tag]] == [1, 2, 3, 4]
        np.testing.assert_array_equal([v for _, v in scalars[tag]], np.float32(history[tag]))


def test_tensorboard_without_tensorboardx_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"jaxnet\[tensorboard\]"):
        jn.callbacks.TensorBoard(tmp_path)


def test_model_checkpoint_keeps_the_best_params(tmp_path):
    path = tmp_path / "best.safetensors"
    params, history = fit(8, callbacks=[jn.callbacks.ModelCheckpoint(path)])
    best = int(np.argmin(history["val_loss"])) + 1
    meta = checkpoint.read_metadata(path)
    assert meta["step"] == best and meta["config"]["value"] == min(history["val_loss"])
    saved = checkpoint.restore(path, params)
    chex.assert_trees_all_equal(saved.params, fit(best)[0])


def test_model_checkpoint_every_call_with_a_path_pattern(tmp_path):
    keep = jn.callbacks.ModelCheckpoint(
        str(tmp_path / "e{epoch:02d}-{val_accuracy:.2f}.safetensors"),
        monitor="val_accuracy", save_best_only=False, every=2,
    )  # fmt: skip
    _, history = fit(6, callbacks=[keep])
    names = sorted(p.name for p in tmp_path.iterdir() if p.name not in atomic.BOOKKEEPING)
    expected = [f"e{e:02d}-{history['val_accuracy'][e - 1]:.2f}.safetensors" for e in (2, 4, 6)]
    assert names == expected and keep.mode == "max"
