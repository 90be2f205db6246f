"""Issue 23, rows 5 and 8: an interrupted run keeps what it has.

In the API, an exception raised by a callback at ANY hook, and Ctrl-C's KeyboardInterrupt,
carry the params of the last completed chunk (``.params``, ``.opt_state``, ``.history``,
``.epoch``), bitwise those of a straight run of that many epochs; with ``checkpoint_dir`` a
KeyboardInterrupt also saves them, and resuming gives the straight run. A callback that
breaks the params it is given is a TypeError naming it. The command saves the last
completed epoch on SIGINT and SIGTERM, exits 130 / 143 and says how to resume.
"""

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time

import chex
import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import cli
from jaxnet.io import checkpoint

NET = jn.Sequential([jn.layers.Dense(4, "tanh"), jn.layers.BatchNorm(), jn.layers.Dense(1, "sigmoid")],
                    input_shape=(2,))  # fmt: skip
PARAMS = jn.init(jax.random.key(0), NET)
X = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
Y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)
KW = dict(learning_rate=0.3, batch_size=8, key=jax.random.key(1), verbose=0)


def fit(epochs, **kw):
    return jn.fit(NET, PARAMS, X, Y, epochs=epochs, **{**KW, **kw})


STRAIGHT = {n: fit(n)[0] for n in (1, 2, 3)} | {0: PARAMS}


class RaiseAt(jn.callbacks.Callback):
    """Raises ``error`` in ``hook`` (at ``epoch`` for the per-epoch hooks)."""

    def __init__(self, hook, error, epoch=2):
        self.hook, self.error, self.at = hook, error, epoch

    def _maybe(self, hook, epoch=None):
        if hook == self.hook and (epoch is None or epoch == self.at):
            raise self.error(f"raised in {hook}")

    def on_train_begin(self, history, params):
        super().on_train_begin(history, params)
        self._maybe("on_train_begin")

    def on_epoch_end(self, epoch, logs, params):
        self._maybe("on_epoch_end", epoch)

    def on_train_end(self, history, params):
        self._maybe("on_train_end")

    def save_state(self, directory):
        self._maybe("save_state")  # the first save: epoch 1


# hook -> the epoch whose params the exception carries (3 epochs asked)
HOOKS = {"on_train_begin": 0, "on_epoch_end": 2, "on_train_end": 3, "save_state": 1}


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt, ValueError, SystemExit])
@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_an_exception_at_any_hook_carries_the_last_completed_params(hook, error, tmp_path):
    logger = jn.callbacks.CSVLogger(tmp_path / "log.csv", min_interval=0)
    extra = (
        {"checkpoint_dir": tmp_path / "ckpt", "checkpoint_every": 1} if hook == "save_state" else {}
    )
    with pytest.raises(error, match=f"raised in {hook}") as caught:
        fit(3, callbacks=[logger, RaiseAt(hook, error, epoch=1 if hook == "save_state" else 2)],
            **extra)  # fmt: skip
    e, epoch = caught.value, HOOKS[hook]
    assert e.epoch == epoch and e.history["epoch"] == list(range(1, epoch + 1))
    chex.assert_trees_all_equal(e.params, STRAIGHT[epoch])
    assert e.opt_state is not None
    assert "stopped after epoch" in "".join(getattr(e, "__notes__", []))
    rows = (tmp_path / "log.csv").read_text().splitlines()  # on_train_end flushed the logger
    assert len(rows) == 1 + (epoch if hook != "on_train_end" else 3)


def test_ctrl_c_with_a_checkpoint_dir_saves_the_last_epoch_and_resumes_bitwise(tmp_path):
    with pytest.raises(KeyboardInterrupt) as caught:
        fit(4, checkpoint_dir=tmp_path, callbacks=[RaiseAt("on_epoch_end", KeyboardInterrupt)])
    assert "resume_from=" in " ".join(caught.value.__notes__)
    assert checkpoint.read_metadata(tmp_path)["step"] == 2
    params, history = fit(4, checkpoint_dir=tmp_path, resume_from=tmp_path)
    straight, straight_history = fit(4)
    chex.assert_trees_all_equal(params, straight)
    assert history["loss"] == straight_history["loss"]


def test_ctrl_c_after_a_saved_epoch_does_not_save_it_again(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        fit(4, checkpoint_dir=tmp_path, checkpoint_every=2,
            callbacks=[RaiseAt("on_epoch_end", KeyboardInterrupt, epoch=3)])  # fmt: skip
    assert checkpoint.read_metadata(tmp_path)["step"] == 3  # 2 by checkpoint_every, 3 on Ctrl-C


def _interrupt_soon(seconds):
    """SIGINT to this process after ``seconds`` (Python raises KeyboardInterrupt in the main
    thread), as Ctrl-C does; the timer is cancelled if the body ends first."""
    timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    return timer


@pytest.mark.integration  # a real SIGINT, twice, into runs that train until it lands
def test_a_real_sigint_in_fit_and_in_fit_ensemble(tmp_path):
    """Whenever the signal lands, the state carried is a completed chunk's (1000 full-batch
    epochs each) and the history matches it."""
    timer = _interrupt_soon(1.5)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            jn.fit(NET, PARAMS, X, Y, epochs=10**7, learning_rate=0.1, verbose=0,
                   checkpoint_dir=tmp_path)  # fmt: skip
    finally:
        timer.cancel()
    e = caught.value
    assert e.epoch % 1000 == 0 and len(e.history["loss"]) == e.epoch
    if e.epoch:
        assert checkpoint.read_metadata(tmp_path)["step"] == e.epoch
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(0), 2), NET)
    timer = _interrupt_soon(1.5)
    try:
        with pytest.raises(KeyboardInterrupt) as caught:
            jn.fit_ensemble(NET, stacked, X, Y, epochs=10**7, learning_rate=0.1, verbose=0)
    finally:
        timer.cancel()
    e = caught.value
    assert e.epoch % 1000 == 0 and [len(h["loss"]) for h in e.histories] == [e.epoch] * 2
    assert jax.tree.map(lambda a: a.shape[0], e.params) == jax.tree.map(lambda a: 2, PARAMS)


# Row 8: a callback that breaks the params it is given ---------------------------------------


def _set(key, value):
    def edit(params):
        params[0][key] = value

    return edit


BREAKS = {
    "W set to None": (_set("W", None), "params[0]['W'] is NoneType None"),
    "b of another shape": (_set("b", np.zeros(7, np.float32)), "params[0]['b'] is an array (7,)"),
    "W of another dtype": (_set("W", np.zeros((4, 2), np.float16)), "float16"),
    "W a list": (_set("W", [[0.0, 0.0]] * 4), "structure changed (params[0]['W']"),
    "b deleted": (lambda p: p[0].pop("b"), "structure changed"),
    "a key added": (_set("extra", np.zeros(1)), "structure changed"),
}


class Breaks(jn.callbacks.Callback):
    def __init__(self, hook, edit):
        self.hook, self.edit = hook, edit

    def on_train_begin(self, history, params):
        if self.hook == "on_train_begin":
            self.edit(params)

    def on_epoch_end(self, epoch, logs, params):
        if self.hook == "on_epoch_end" and epoch == 2:
            self.edit(params)

    def on_train_end(self, history, params):
        if self.hook == "on_train_end":
            self.edit(params)


@pytest.mark.parametrize("hook", ["on_train_begin", "on_epoch_end", "on_train_end"])
@pytest.mark.parametrize("name", sorted(BREAKS))
def test_a_callback_that_breaks_the_params_is_named(name, hook):
    edit, needle = BREAKS[name]
    with pytest.raises(TypeError) as caught:
        fit(3, callbacks=[jn.callbacks.Callback(), Breaks(hook, edit)])
    message = str(caught.value)
    assert f"callbacks[1] (Breaks).{hook} changed the params" in message, message
    assert needle in message and "\n" not in message
    epoch = HOOKS[hook]
    assert caught.value.epoch == epoch
    chex.assert_trees_all_equal(caught.value.params, STRAIGHT[epoch])  # intact


class Returns(jn.callbacks.Callback):
    def __init__(self, value):
        self.value = value

    def on_train_end(self, history, params):
        return self.value(params)


@pytest.mark.parametrize(
    ("replace", "needle"),
    [
        (lambda p: [None], "structure changed"),
        (lambda p: (p[0], p[1], {**p[2], "W": None}), "params[2]['W'] is NoneType"),
        (lambda p: (p[0], p[1], {**p[2], "b": np.zeros(3, np.float32)}), "params[2]['b']"),
        (lambda p: "best.safetensors", "structure changed"),
    ],
)
def test_on_train_end_returning_params_that_do_not_fit(replace, needle):
    with pytest.raises(
        TypeError, match="callbacks\\[0\\] \\(Returns\\).on_train_end returned"
    ) as caught:
        fit(1, callbacks=[Returns(replace)])
    assert needle in str(caught.value)
    chex.assert_trees_all_equal(caught.value.params, STRAIGHT[1])


def test_a_valid_replacement_is_still_returned():
    zeros = jax.tree.map(np.zeros_like, PARAMS)
    params, _ = fit(1, callbacks=[Returns(lambda p: zeros)])
    chex.assert_trees_all_equal(params, zeros)


# Row 5: the command on SIGINT and SIGTERM -------------------------------------------------


def _train_until_a_chunk_is_done(out):
    """``jaxnet train`` (planar, full batch: chunks of 1000 epochs) until its progress bar
    shows two chunks done (the bar is drawn just before a chunk is handed over: a signal
    sent as it shows may land before the second chunk is, never before the first)."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    argv = [sys.executable, "-m", "jaxnet", "train", "--epochs", "200000", "--out", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen, deadline = b"", time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stderr], [], [], 1.0)
        if ready:
            seen += os.read(proc.stderr.fileno(), 65536)
        done = [int(n) for n in re.findall(rb"(\d+)/200000", seen)]
        if done and done[-1] >= 2000 or proc.poll() is not None:
            break
    return proc


@pytest.mark.integration  # `python -m jaxnet train`, signalled once it has saved an epoch
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signalled_run_keeps_its_last_epoch_and_says_how_to_resume(sig, status, tmp_path, capsys):
    out = tmp_path / "run"
    proc = _train_until_a_chunk_is_done(out)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == status, err[-2000:]
    last = err.decode().strip().splitlines()[-1].split("\r")[-1]
    epoch = int(re.search(r"stopped after epoch (\d+) of 200000", last).group(1))
    assert f"jaxnet train --resume {out}" in last and epoch % 1000 == 0 and epoch >= 1000
    meta = checkpoint.read_metadata(out)
    assert meta["step"] == epoch and len(meta["history"]["loss"]) == epoch
    assert not (out / ".jaxnet.lock").exists()
    code = cli.main(["train", "--resume", str(out), "--epochs", str(epoch), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert (out / "metrics.json").is_file() and (out / "learning_curves.png").is_file()
