"""Callbacks in ``jn.fit`` (Keras's ``callbacks=``): hooks called on the host between compiled chunks.

A callback is any object with some of these methods (:class:`Callback` gives no-op
defaults); ``jn.fit(..., callbacks=[...])`` calls them in list order:

- ``on_train_begin(history, params)``: before training. ``history`` is the history so
  far: empty for a new run, the checkpoint's for a resumed one, so a callback can
  rebuild its state from it (:class:`EarlyStopping` does, and resuming stays bitwise).
- ``on_epoch_end(epoch, logs, params)``: after every ``every``-th epoch (``every`` an
  attribute, default 1). ``epoch`` is 1-based, as ``history["epoch"]`` (Keras passes it
  0-based); ``logs`` that epoch's ``{"loss", "accuracy", "val_loss", "val_accuracy",
  "learning_rate"}`` (those logged); ``params`` the params at the end of exactly that
  epoch: ``jn.fit`` cuts its compiled chunks at the multiples of every callback's
  ``every``, so nothing recompiles (the chunk's length is a traced bound).
- ``on_train_end(history, params)``: once, however training ends (done, stopped, diverged,
  or an exception). What it returns, if not None, replaces the params ``jn.fit``
  returns (``EarlyStopping(restore_best_params=True)``); not when ``jn.fit`` raises.
- ``stop_training``: an attribute; set it True in ``on_epoch_end`` (or
  ``on_train_begin``) to end training after that epoch, as Keras's
  ``model.stop_training``. The history then holds ``"stopped_epoch"``.
- optional ``save_state(directory)`` / ``load_state(directory, params)``: with
  ``checkpoint_dir``, called before each checkpoint is written / before resuming, for
  state the history cannot rebuild (the best params of :class:`EarlyStopping`).

With minibatches a compiled chunk is one epoch already. With full batch an epoch is one
iteration and a chunk runs up to a thousand of them, so ``every=1`` costs one dispatch
per iteration: for the course's long full-batch runs use e.g. ``every=100`` (its
"print the cost every 100 iterations"); ``patience`` stays in epochs (iterations).

A callback that raises, at any hook, stops training at once: the exception propagates
with ``.params``, ``.opt_state``, ``.history`` and ``.epoch`` (the state of the last
completed chunk) attached, like :class:`jaxnet.TrainingDiverged`; so does Ctrl-C's
``KeyboardInterrupt``. A hook that leaves the params it was given broken (a leaf set to
None, another shape or dtype), or an ``on_train_end`` that returns such params, is a
``TypeError`` naming the callback.

The callbacks that write files check their paths when they are made and again before
training: a path under a file, a folder in place of a file, and an existing file that
jaxnet did not write (unless ``overwrite=True``) are refused, naming the argument.

>>> import jax, numpy as np, jaxnet as jn
>>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
>>> X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
>>> y = (X[:, 0] > 0).astype(np.int32)
>>> class Show(jn.callbacks.Callback):
...     every = 2
...     def on_epoch_end(self, epoch, logs, params):
...         print(epoch, sorted(logs), params[0]["W"].shape)
>>> _ = jn.fit(net, jn.init(jax.random.key(0), net), X, y, learning_rate=0.5, epochs=5,
...            verbose=0, callbacks=[Show()])
2 ['accuracy', 'learning_rate', 'loss'] (3, 2)
4 ['accuracy', 'learning_rate', 'loss'] (3, 2)
"""

from __future__ import annotations

import csv
import io
import math
import os
import string
import time
import warnings
from pathlib import Path

import jax

from jaxnet.io import atomic, checkpoint
from jaxnet.training.history import STOPPED, epoch_logs
from jaxnet.validation import check_bool, check_choice, check_int, check_real

__all__ = ["CSVLogger", "Callback", "EarlyStopping", "ModelCheckpoint", "TensorBoard"]

HOOKS = ("on_train_begin", "on_epoch_end", "on_train_end")


class Callback:
    """The base class of callbacks: every hook a no-op, ``every = 1``, ``stop_training`` False.

    Subclass it and override what you need (any object with the hooks works too).

    Attributes:
      every: ``on_epoch_end`` runs after epochs ``every, 2 every, ...``.
      stop_training: set True to end training after the current epoch.

    >>> class PrintCost(Callback):  # the course's "Cost after iteration i"
    ...     every = 100
    ...     def on_epoch_end(self, epoch, logs, params):
    ...         print(f"Cost after iteration {epoch}: {logs['loss']:.4f}")
    >>> PrintCost().every, PrintCost().stop_training
    (100, False)
    """

    every: int = 1
    stop_training: bool = False

    def on_train_begin(self, history: dict, params) -> None:
        """Before training; ``history`` is the run's so far (empty unless resumed)."""
        self.stop_training = False

    def on_epoch_end(self, epoch: int, logs: dict, params) -> None:
        """After epoch ``epoch`` (1-based, a multiple of ``every``) with its ``logs`` and ``params``."""

    def on_train_end(self, history: dict, params):
        """After training; return replacement params, or None to keep ``params``."""
        return None


_OVERWRITE_HINT = "pass overwrite=True to replace it, or choose another path"


def _check_template(path: str, name: str) -> tuple[str, ...]:
    """The fields of the path template ``path`` (``"best-{epoch:02d}-{val_loss:.3f}"``).

    Each field is a name (``epoch`` or a logged quantity), optionally with a format spec:
    no positional fields (``{}``, ``{0}``), no attribute or index lookups
    (``{epoch.real}``, ``{logs[0]}``), no conversions (``{epoch!r}``), no nested fields in
    a spec. Each spec is tried on a sample value (``epoch`` an int, the others floats), so
    a bad one (``{epoch:s}``) is refused here, before training.
    """
    try:
        parts = list(string.Formatter().parse(path))
    except ValueError as e:
        raise ValueError(f"{name} {path!r} is not a valid path template: {e}") from None
    fields = []
    for _, field, spec, conversion in parts:
        if field is None:
            continue
        shown = f"{{{field}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
        if not field.isidentifier():
            why = (
                "a positional field"
                if field == "" or field.isdigit()
                else "an attribute or index lookup"
            )
            raise ValueError(
                f"{name} {path!r}: {shown} is {why}; fields are names only: {{epoch}} or a "
                "logged quantity such as {val_loss:.3f}"
            )
        if conversion or "{" in (spec or ""):
            raise ValueError(
                f"{name} {path!r}: {shown} has a conversion or a nested field; write "
                "{name} or {name:spec}"
            )
        sample = 1 if field == "epoch" else 0.5
        try:
            format(sample, spec)
        except (ValueError, TypeError) as e:
            raise ValueError(
                f"{name} {path!r}: {shown} cannot format the {type(sample).__name__} that "
                f"{field} is ({e})"
            ) from None
        fields.append(field)
    return tuple(fields)


def _render(path: str, epoch, logs) -> str:
    """The template ``path`` with its fields filled in (``epoch`` and the logs)."""
    return path.format(epoch=epoch, **logs)


def _check_monitor(monitor) -> str:
    if not isinstance(monitor, str):
        raise TypeError(f"monitor must be the name of a logged quantity, got {monitor!r}")
    if not monitor:
        raise ValueError("monitor must be the name of a logged quantity, got ''")
    return monitor


def _resolve_mode(mode: str, monitor: str) -> str:
    """``"min"``/``"max"``; ``"auto"``: max for accuracies, min for losses and errors (Keras)."""
    if mode != "auto":
        return mode
    return "max" if "acc" in monitor else "min"


def _monitored(history: dict, monitor: str, who: str) -> None:
    """A clear error, before training, when ``monitor`` will not be in the logs."""
    available = [k for k in history if k not in ("epoch", "time", STOPPED)]
    if monitor not in available:
        hint = " (pass validation_data to log val_*)" if monitor.startswith("val_") else ""
        raise ValueError(
            f"{who}: monitor={monitor!r} is not logged by this run{hint}; it logs {available}"
        )


def _calls(history: dict, every: int):
    """The epochs of ``history`` at which a callback with ``every`` was called, and their index."""
    return [(i, e) for i, e in enumerate(history["epoch"]) if e % every == 0]


class EarlyStopping(Callback):
    """Stop training when a monitored quantity has stopped improving (Keras's ``EarlyStopping``).

    Every ``every`` epochs the monitored value is compared with the best so far: it
    improves when it is below ``best - min_delta`` (mode ``"min"``) or above ``best +
    min_delta`` (``"max"``). When ``patience`` epochs have passed since the last
    improvement (since the start if none), training stops after the current epoch; it
    never stops at the first check. The history records ``"stopped_epoch"``.

    Resuming (``resume_from``) rebuilds the counters from the saved history, so a run
    stopped early and resumed with the same settings trains no further (even with more
    ``epochs``), while a larger ``patience`` (or no early stopping) continues it exactly
    as a straight run with that patience would have gone on.

    Args:
      monitor: a key of the logs: ``"val_loss"`` (needs ``validation_data``), ``"loss"``,
        ``"val_accuracy"``, ...
      patience: epochs without improvement before stopping (0: stop at the first check
        that does not improve).
      min_delta: the smallest change that counts as an improvement, ``>= 0``.
      mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, min otherwise).
      restore_best_params: return the params of the best checked epoch (Keras's
        ``restore_best_weights``), whether training stopped early or not (if no check
        improved, e.g. a NaN loss, the last params); the params are copied to the host
        at each improvement.
      every: check after every ``every``-th epoch (with full batch, e.g. 100 iterations).

    Attributes:
      best: the best value checked (``inf``, or ``-inf`` in mode max, before any).
      best_epoch: its epoch (1-based; None before any improvement).
      stopped_epoch: the epoch after which it stopped training, 0 if it did not.
      best_params: the params of ``best_epoch`` (``restore_best_params`` only).

    >>> import jax, numpy as np, jaxnet as jn
    >>> net = jn.Network((2, 8, 1), hidden_activation="relu", output_activation="sigmoid")
    >>> X = np.random.default_rng(0).normal(size=(60, 2)).astype(np.float32)
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)
    >>> stop = jn.callbacks.EarlyStopping("val_loss", patience=2, restore_best_params=True)
    >>> params, history = jn.fit(net, jn.init(jax.random.key(0), net), X[:40], y[:40],
    ...     learning_rate=3.0, epochs=200, validation_data=(X[40:], y[40:]), verbose=0,
    ...     callbacks=[stop])
    >>> history["stopped_epoch"] < 200, stop.best_epoch <= history["stopped_epoch"]
    (True, True)
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_params: bool = False,
        *,
        every: int = 1,
    ):
        self.monitor = _check_monitor(monitor)
        self.patience = check_int(patience, "patience", 0)
        self.min_delta = check_real(min_delta, "min_delta", 0.0)
        self.mode = _resolve_mode(check_choice(mode, "mode", ("auto", "min", "max")), monitor)
        self.restore_best_params = check_bool(restore_best_params, "restore_best_params")
        self.every = check_int(every, "every", 1)
        self._reset()

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(monitor={self.monitor!r}, patience={self.patience}, "
            f"min_delta={self.min_delta}, mode={self.mode!r}, "
            f"restore_best_params={self.restore_best_params}, every={self.every})"
        )

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.best_params = None
        self.stopped_epoch = 0
        self.stop_training = False
        self._checks = 0
        self._saved_epoch: int | None = None  # the best epoch whose params save_state wrote
        self._loaded = None  # (epoch, params) read by load_state

    def _improves(self, value: float) -> bool:
        if self.mode == "min":
            return value + self.min_delta < self.best
        return value - self.min_delta > self.best

    def _check(self, epoch: int, value: float, params) -> None:
        """One check: a new best (its params kept), or a stop when patience has run out."""
        first = self._checks == 0
        self._checks += 1
        if self._improves(value):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_params:
                self.best_params = None if params is None else jax.device_get(params)
            return
        since = 0 if self.best_epoch is None else self.best_epoch
        if not first and epoch - since >= self.patience:
            self.stopped_epoch, self.stop_training = epoch, True

    def on_train_begin(self, history: dict, params) -> None:
        """Reset, then replay the checks of a resumed run's history (its params excepted)."""
        loaded = self._loaded
        self._reset()
        _monitored(history, self.monitor, "EarlyStopping")
        for i, epoch in _calls(history, self.every):
            self._check(epoch, history[self.monitor][i], None)
        done = history["epoch"][-1] if history["epoch"] else 0
        if self.best_epoch is not None and self.restore_best_params:
            if loaded is not None and loaded[0] == self.best_epoch:
                self.best_params, self._saved_epoch = loaded[1], self.best_epoch
            elif self.best_epoch == done:
                self.best_params = jax.device_get(params)

    def on_epoch_end(self, epoch: int, logs: dict, params) -> None:
        """Check ``logs[monitor]``; keep the params of an improvement; stop when out of patience."""
        self._check(epoch, float(logs[self.monitor]), params)

    def on_train_end(self, history: dict, params):
        """The best epoch's params with ``restore_best_params`` (else None: keep ``params``)."""
        if not self.restore_best_params or self.best_epoch is None:
            return None
        if self.best_params is None:
            warnings.warn(
                f"EarlyStopping: the params of the best epoch {self.best_epoch} were not "
                "kept (it predates the resumed checkpoint and its directory holds no copy); "
                "the params of the last epoch are returned",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
        return jax.device_put(self.best_params)

    def save_state(self, directory) -> None:
        """Write the best params to ``directory/early_stopping/`` (if they changed) for resuming."""
        if not self.restore_best_params or self.best_params is None:
            return
        if self._saved_epoch == self.best_epoch:
            return
        checkpoint.save(
            Path(directory) / "early_stopping",
            self.best_params,
            step=self.best_epoch,
            config={"monitor": self.monitor, "best": self.best},
        )
        self._saved_epoch = self.best_epoch

    def load_state(self, directory, params) -> None:
        """Read the best params :meth:`save_state` wrote there, if any (``params``: the template)."""
        path = Path(directory) / "early_stopping"
        if self.restore_best_params and (path / checkpoint.FILENAME).is_file():
            saved = checkpoint.restore(path, jax.eval_shape(lambda: params))
            self._loaded = (saved.step, jax.device_get(saved.params))


class CSVLogger(Callback):
    """Write the logs to a CSV file, one row per call (Keras's ``CSVLogger``).

    Columns: ``epoch`` then the logged quantities in the history's order. The file is
    rewritten whole and atomically (:mod:`jaxnet.io.atomic`): at most once per
    ``min_interval`` seconds during training and always at its end, so a reader never
    sees a half-written file. A resumed run rewrites the rows of the epochs it resumes
    from its history, so its file is the straight run's.

    Args:
      path: the ``.csv`` file (its folder is created). Checked here and again before
        training: a path under a file, a folder, or an existing file that jaxnet did not
        write (unless ``overwrite``) is refused, naming ``path``.
      every: one row after every ``every``-th epoch.
      min_interval: seconds between two rewrites during training, ``>= 0`` (0: every row).
      overwrite: replace an existing file at ``path`` that jaxnet did not write.

    >>> import jax, numpy as np, jaxnet as jn, tempfile, pathlib
    >>> net = jn.Network((2, 1), output_activation="sigmoid")
    >>> X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = jn.fit(net, jn.init(jax.random.key(0), net), X, (X[:, 0] > 0).astype(int),
    ...            epochs=2, verbose=0, callbacks=[jn.callbacks.CSVLogger(path)])
    >>> path.read_text().splitlines()[0]
    'epoch,loss,accuracy,learning_rate'
    """

    def __init__(self, path, *, every: int = 1, min_interval: float = 1.0, overwrite: bool = False):
        self.overwrite = check_bool(overwrite, "overwrite")
        self.path = atomic.check_target(
            path, "CSVLogger path", overwrite=self.overwrite, hint=_OVERWRITE_HINT
        )
        self.every = check_int(every, "every", 1)
        self.min_interval = check_real(min_interval, "min_interval", 0.0)
        self.rows: list[dict] = []
        self._written = -math.inf

    def on_train_begin(self, history: dict, params) -> None:
        """Start the rows from a resumed run's history; write the file (its header at least)."""
        self.stop_training = False
        atomic.check_target(
            self.path, "CSVLogger path", overwrite=self.overwrite, hint=_OVERWRITE_HINT
        )
        keys = [k for k in history if k not in ("epoch", "time", STOPPED)]
        self.columns = ["epoch", *keys]
        self.rows = [{"epoch": e, **epoch_logs(history, i)} for i, e in _calls(history, self.every)]
        self._write()

    def on_epoch_end(self, epoch: int, logs: dict, params) -> None:
        """Add the row of ``epoch``; rewrite the file if ``min_interval`` has passed."""
        self.rows.append({"epoch": epoch, **logs})
        if time.monotonic() - self._written >= self.min_interval:
            self._write()

    def on_train_end(self, history: dict, params):
        """Write the file with every row."""
        self._write()

    def _write(self) -> None:
        text = io.StringIO()
        writer = csv.DictWriter(text, self.columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: repr(v) if isinstance(v, float) else v for k, v in row.items()}
                         for row in self.rows)  # fmt: skip
        atomic.write_text(self.path, text.getvalue(), overwrite=self.overwrite)
        self._written = time.monotonic()


class TensorBoard(Callback):
    """Write the logs as TensorBoard scalars (event files, through ``tensorboardX``).

    Each logged quantity is a scalar with its history name as tag (``loss``,
    ``val_accuracy``, ``learning_rate``, ...) and the epoch as step. Needs the optional
    extra: ``pip install "jaxnet[tensorboard]"``; view with ``tensorboard --logdir log_dir``.

    Args:
      log_dir: the folder of the event files (created; a resumed run adds a new file; a
        file there or above it is refused, naming ``log_dir``).
      every: write after every ``every``-th epoch.

    Raises:
      ImportError: ``tensorboardX`` is not installed (the message names the extra).
      ValueError: ``log_dir`` is, or lies under, a file.

    >>> import tempfile, jaxnet as jn
    >>> board = jn.callbacks.TensorBoard(tempfile.mkdtemp(), every=10)
    >>> board.every
    10
    """

    def __init__(self, log_dir, *, every: int = 1):
        self.log_dir = atomic.check_folder(log_dir, "TensorBoard log_dir")
        self.every = check_int(every, "every", 1)
        try:
            import tensorboardX
        except ImportError as e:
            raise ImportError(
                "jn.callbacks.TensorBoard writes event files with tensorboardX, which is not "
                "installed: pip install 'jaxnet[tensorboard]' (or pip install tensorboardX)"
            ) from e
        self._summary_writer = tensorboardX.SummaryWriter
        self.writer = None

    def on_train_begin(self, history: dict, params) -> None:
        """Open a new event file in ``log_dir``."""
        self.stop_training = False
        atomic.check_folder(self.log_dir, "TensorBoard log_dir")
        try:
            self.writer = self._summary_writer(str(self.log_dir))
        except OSError as e:
            raise ValueError(
                f"TensorBoard log_dir {self.log_dir}: cannot write event files there "
                f"({e.strerror or e})"
            ) from None

    def on_epoch_end(self, epoch: int, logs: dict, params) -> None:
        """One scalar per logged quantity at step ``epoch``."""
        for tag, value in logs.items():
            self.writer.add_scalar(tag, float(value), epoch)

    def on_train_end(self, history: dict, params):
        """Flush and close the event file."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class ModelCheckpoint(Callback):
    """Save the params when the monitored quantity improves (Keras's ``ModelCheckpoint``).

    The file is a jaxnet checkpoint (:func:`jaxnet.checkpoint.save`, atomic): the params,
    ``step`` = the epoch, and ``config = {"monitor", "value", "logs"}``; read it back with
    ``jn.checkpoint.restore(path, like=params)``. ``path`` may hold ``{epoch}`` and log
    names, as Keras's ``filepath`` (``"best-{epoch}-{val_loss:.3f}.safetensors"``): names
    only, each with an optional format spec, checked here (no positional fields, attribute
    or index lookups, conversions; each spec tried on a sample value) and, before training,
    against what the run logs (``{val_loss}`` needs ``validation_data``).

    Args:
      path: a ``.safetensors`` file (or a folder, which then holds ``checkpoint.safetensors``),
        or a template of one. A path under a file is refused here, and so is an existing
        file that jaxnet did not write (unless ``overwrite``; a template's files are
        checked when they are written).
      monitor: the logged quantity to compare (``"val_loss"`` needs ``validation_data``).
      mode: ``"min"``, ``"max"`` or ``"auto"`` (max for accuracies, min otherwise).
      save_best_only: save only improvements (else after every call).
      every: check after every ``every``-th epoch.
      overwrite: replace existing files at ``path`` that jaxnet did not write.

    Attributes:
      best: the best value saved (``inf``, or ``-inf`` in mode max, before any).
      best_epoch: its epoch (None before any save).

    >>> import tempfile, jaxnet as jn
    >>> keep = jn.callbacks.ModelCheckpoint(tempfile.mkdtemp() + "/best.safetensors",
    ...                                     monitor="val_accuracy")
    >>> keep.mode
    'max'
    """

    def __init__(
        self,
        path,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = True,
        *,
        every: int = 1,
        overwrite: bool = False,
    ):
        self.overwrite = check_bool(overwrite, "overwrite")
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"ModelCheckpoint path must be a path (str or pathlib.Path), got {path!r:.80}"
            )
        self.path = path if isinstance(path, str) else Path(path)
        self._fields = _check_template(str(path), "ModelCheckpoint path")
        self._check_file(1, {f: 0.5 for f in self._fields if f != "epoch"})
        self.monitor = _check_monitor(monitor)
        self.mode = _resolve_mode(check_choice(mode, "mode", ("auto", "min", "max")), monitor)
        self.save_best_only = check_bool(save_best_only, "save_best_only")
        self.every = check_int(every, "every", 1)
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch: int | None = None

    def _check_file(self, epoch, logs) -> Path:
        """The file to write for ``epoch`` and ``logs`` (``checkpoint.safetensors`` in a folder),
        checked: a template's sample file is checked only for the folders above it."""
        file = checkpoint.file_of(_render(str(self.path), epoch, logs))
        if self._fields:
            atomic.check_folder(file.parent, "ModelCheckpoint path")
            if file.is_dir():
                raise ValueError(f"ModelCheckpoint path {self.path}: {file} is a folder")
            return file
        return checkpoint.check_target(
            file, "ModelCheckpoint path", overwrite=self.overwrite, hint=_OVERWRITE_HINT
        )

    def on_train_begin(self, history: dict, params) -> None:
        """The best value of a resumed run's checks (so a worse epoch does not overwrite it)."""
        self.stop_training = False
        _monitored(history, self.monitor, "ModelCheckpoint")
        logged = [k for k in history if k not in ("epoch", "time", STOPPED)]
        unknown = [f for f in self._fields if f != "epoch" and f not in logged]
        if unknown:
            hint = " (pass validation_data to log val_*)" if unknown[0].startswith("val_") else ""
            raise ValueError(
                f"ModelCheckpoint path {str(self.path)!r} uses {{{unknown[0]}}}, which this run "
                f"does not log{hint}; it can use {{epoch}} and {logged}"
            )
        self._check_file(1, {k: 0.5 for k in logged})
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = None
        for i, epoch in _calls(history, self.every):
            value = history[self.monitor][i]
            if self._improves(value):
                self.best, self.best_epoch = value, epoch

    def _improves(self, value: float) -> bool:
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch: int, logs: dict, params) -> None:
        """Save ``params`` if ``logs[monitor]`` improves (or always, without ``save_best_only``)."""
        value = float(logs[self.monitor])
        improved = self._improves(value)
        if improved:
            self.best, self.best_epoch = value, epoch
        if improved or not self.save_best_only:
            path = _render(str(self.path), epoch, logs)
            config = {"monitor": self.monitor, "value": value, "logs": dict(logs)}
            checkpoint.save(path, params, step=epoch, config=config, overwrite=self.overwrite)


def _leaves(params) -> list:
    """``[(path, leaf)]`` of ``params``, None leaves included (a callback may put one in)."""
    return jax.tree_util.tree_flatten_with_path(params, is_leaf=lambda x: x is None)[0]


def _describe(leaf) -> str:
    if hasattr(leaf, "shape") and hasattr(leaf, "dtype"):
        return f"an array {tuple(leaf.shape)} {leaf.dtype}"
    return f"{type(leaf).__name__} {leaf!r:.40}"


def _broken(before: list, params) -> str | None:
    """What is no longer a params tree of ``before``'s paths, shapes and dtypes (None: fine)."""
    after = _leaves(params)
    paths = [jax.tree_util.keystr(p) for p, _ in after]
    wanted = [jax.tree_util.keystr(p) for p, _ in before]
    if paths != wanted:
        lost = [p for p in wanted if p not in paths] or [p for p in paths if p not in wanted]
        return f"its structure changed (params{lost[0] if lost else ''})"
    for (path, old), (_, new) in zip(before, after, strict=True):
        same = (
            hasattr(new, "shape")
            and hasattr(new, "dtype")
            and tuple(new.shape) == tuple(old.shape)
            and new.dtype == old.dtype
        )
        if not same:
            where = jax.tree_util.keystr(path)
            return f"params{where} is {_describe(new)}, not {_describe(old)}"
    return None


class CallbackList:
    """The callbacks of one ``jn.fit`` run, dispatched in order (internal).

    A hook that leaves the params it was given broken (a leaf set to None, another shape)
    raises ``TypeError`` naming the callback and the hook; so does ``on_train_end``
    returning replacement params of another structure.
    """

    def __init__(self, callbacks):
        self.callbacks = list(callbacks)

    def _name(self, cb) -> str:
        i = next(i for i, c in enumerate(self.callbacks) if c is cb)
        return f"callbacks[{i}] ({type(cb).__name__})"

    def _call(self, cb, hook: str, params, *args):
        """``cb.hook(*args, params)``, refusing a hook that breaks ``params`` in place."""
        before = _leaves(params)
        result = getattr(cb, hook)(*args, params)
        problem = _broken(before, params)
        if problem is not None:
            raise TypeError(
                f"{self._name(cb)}.{hook} changed the params it was given: {problem}; a "
                "callback must not modify params in place (copy them first, e.g. "
                "jax.tree.map(jnp.copy, params))"
            )
        return result

    @property
    def periods(self) -> tuple[int, ...]:
        """Each callback's ``every``: ``jn.fit`` ends a compiled chunk at their multiples."""
        return tuple(sorted({_every(cb) for cb in self.callbacks if _has(cb, "on_epoch_end")}))

    @property
    def stop_training(self) -> bool:
        return any(getattr(cb, "stop_training", False) for cb in self.callbacks)

    def train_begin(self, history: dict, params) -> bool:
        for cb in self.callbacks:
            if _has(cb, "on_train_begin"):
                self._call(cb, "on_train_begin", params, history)
        return self.stop_training

    def epoch_end(self, epoch: int, history: dict, params) -> bool:
        """Call the callbacks due after ``epoch`` with its logs (the history's last entry)."""
        due = [cb for cb in self.callbacks if _has(cb, "on_epoch_end") and epoch % _every(cb) == 0]
        if due:
            logs = epoch_logs(history)
            for cb in due:
                self._call(cb, "on_epoch_end", params, epoch, logs)
        return self.stop_training

    def train_end(self, history: dict, params):
        """Every ``on_train_end``; the last replacement params returned, else ``params``."""
        for cb in self.callbacks:
            if _has(cb, "on_train_end"):
                replaced = self._call(cb, "on_train_end", params, history)
                if replaced is None:
                    continue
                problem = _broken(_leaves(params), replaced)
                if problem is not None:
                    raise TypeError(
                        f"{self._name(cb)}.on_train_end returned replacement params that do "
                        f"not fit the trained ones: {problem}; return params of the same "
                        "structure, shapes and dtypes, or None to keep them"
                    )
                params = replaced
        return params

    def train_end_after_error(self, error: BaseException, history: dict, params) -> None:
        """``on_train_end`` on an error path: their own errors become notes on ``error``."""
        for cb in self.callbacks:
            if _has(cb, "on_train_end"):
                try:
                    cb.on_train_end(history, params)
                except Exception as e:  # the original error is the one to see
                    error.add_note(f"{cb!r}.on_train_end also failed: {e!r}")

    def save_state(self, directory) -> None:
        for cb in self.callbacks:
            if _has(cb, "save_state"):
                cb.save_state(directory)

    def load_state(self, directory, params) -> None:
        for cb in self.callbacks:
            if _has(cb, "load_state"):
                cb.load_state(directory, params)


def _has(cb, hook: str) -> bool:
    return callable(getattr(cb, hook, None))


def _every(cb) -> int:
    return getattr(cb, "every", 1)


def check_callbacks(callbacks, early_stopping=None) -> CallbackList:
    """``callbacks`` (None or a list of objects with hooks) plus the ``early_stopping`` shortcut.

    Raises:
      TypeError: ``callbacks`` is not a list or tuple, an entry has none of the hooks
        (named ``callbacks[i]``), or ``early_stopping`` is neither an
        :class:`EarlyStopping`, a dict of its arguments nor None.
      ValueError: an ``every`` below 1.
    """
    if callbacks is None:
        callbacks = []
    if not isinstance(callbacks, list | tuple):
        raise TypeError(
            f"callbacks must be a list of callbacks (objects with {', '.join(HOOKS)}), "
            f"got {type(callbacks).__name__}"
        )
    for i, cb in enumerate(callbacks):
        if not any(_has(cb, hook) for hook in HOOKS):
            raise TypeError(
                f"callbacks[{i}] must be a callback, an object with any of the methods "
                f"{', '.join(HOOKS)} (e.g. a jn.callbacks.Callback), got {cb!r:.80}"
            )
        check_int(_every(cb), f"callbacks[{i}].every", 1)
    extra = []
    if isinstance(early_stopping, dict):
        try:
            early_stopping = EarlyStopping(**early_stopping)
        except TypeError as e:
            raise TypeError(f"early_stopping: {e}") from None
    if isinstance(early_stopping, EarlyStopping):
        extra.append(early_stopping)
    elif early_stopping is not None:
        raise TypeError(
            "early_stopping must be a jn.callbacks.EarlyStopping, a dict of its arguments "
            f"(e.g. {{'monitor': 'val_loss', 'patience': 5}}) or None, got {early_stopping!r:.80}"
        )
    return CallbackList([*callbacks, *extra])


def attach_state(error: BaseException, *, params, opt_state, history, epoch: int) -> None:
    """Put the state reached on an exception that ends ``jn.fit`` (unless it carries its own)."""
    if hasattr(error, "params"):
        return
    try:
        error.params, error.opt_state, error.history, error.epoch = (  # type: ignore[attr-defined]
            params,
            opt_state,
            history,
            epoch,
        )
    except AttributeError:  # an exception type without a __dict__
        return
    error.add_note(
        f"jn.fit stopped after epoch {epoch}: the params and opt_state reached and the "
        "history so far are on this exception (.params, .opt_state, .history, .epoch)"
    )
