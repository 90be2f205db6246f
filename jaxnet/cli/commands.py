"""What each ``jaxnet`` command does: train (and resume), evaluate, predict, summary, gradcheck.

Each command takes parsed options and returns its exit status; it raises ``ValueError`` /
``TypeError`` / ``OSError`` for input it cannot use (the library's own argument errors
included), :class:`RunFailed` for a run that started and failed, and :class:`Interrupted`
for a run stopped by SIGINT (Ctrl-C) or SIGTERM, after saving what it had trained.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import threading
import time
from pathlib import Path

import jax
import numpy as np

import jaxnet as jn
from jaxnet import api, limits, parallel
from jaxnet.cli import arch, plots, rundir
from jaxnet.cli import data as cli_data
from jaxnet.cli.config import GradcheckConfig, RunConfig, TrainOptions, command_line, show
from jaxnet.io import atomic, checkpoint, lock


class RunFailed(Exception):
    """A run or check that started and failed (a diverged run): exit status 1."""


class Interrupted(KeyboardInterrupt):
    """A run stopped by a signal; ``status`` is the exit status (128 + the signal number)."""

    def __init__(self, message: str, status: int = 128 + signal.SIGINT):
        super().__init__(message)
        self.status = status


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the run saves what it has."""


@contextlib.contextmanager
def _signals():
    """SIGTERM raises :class:`_Terminated` in the body (SIGINT raises KeyboardInterrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        raise _Terminated("terminated (SIGTERM)")

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def build_network(config: RunConfig, data: cli_data.Data) -> jn.Network:
    """The run's network on ``data``: ``Network((n_x, *hidden_sizes, n_out), l2=, dropout=,
    batch_norm=)`` (the dense shorthand), or ``Sequential`` of the ``--arch`` layers on the
    data's input shape. n_out is 1 for a sigmoid on two classes or for regression (a linear
    or relu output), else the number of classes."""
    K = data.num_classes
    token = None if config.arch is None else arch.output_token(config.arch)
    output = (token and token.activation) or config.output_activation
    output = output or ("sigmoid" if K == 2 else "softmax")
    n_out = K if jn.activations.get(output).name == "softmax" else 1
    if config.arch is None:
        # the regularisation keywords only when on: a plain run builds the plain shorthand
        extra = {"l2": config.l2, "dropout": config.dropout, "batch_norm": config.batch_norm}
        net = jn.Network(
            (data.num_features, *config.hidden_sizes, n_out),
            hidden_activation=config.hidden_activation,
            output_activation=output,
            **{k: v for k, v in extra.items() if v},
        )
    else:
        net = _arch_network(config, data, output, n_out)
    if net.task == "binary" and K > 2:
        raise ValueError(f"--output-activation {output} cannot classify {K} classes; use softmax")
    m = data.splits["train"][0].shape[0]
    batch = m if config.batch_size is None else min(config.batch_size, m)
    given = (
        f"--arch {config.arch}" if config.arch else f"--hidden-sizes {show(config.hidden_sizes)}"
    )
    limits.check_budget(net, batch, f"the network of {given} on {data.name}")
    return net


def _arch_network(config: RunConfig, data: cli_data.Data, output: str, n_out: int):
    first = next(t for t in arch.parse(config.arch) if t.word not in arch.SHAPELESS)
    if arch.takes_images(config.arch) and data.image_shape is None:
        raise ValueError(
            f"{first.where} takes images (n_H, n_W, n_C), but {data.name} gives vectors of "
            f"{data.num_features} features; image datasets: mnist, fashion-mnist, cat"
        )
    layers = arch.layers(
        config.arch,
        hidden_activation=config.hidden_activation,
        output_activation=output,
        outputs=n_out,
    )
    arch.check_shapes(config.arch, layers, data.input_shape)
    extra = {"l2": config.l2} if config.l2 else {}
    return jn.Sequential(layers, input_shape=data.input_shape, **extra)


def takes_images(config: RunConfig) -> bool:
    """Whether the run feeds image datasets as images (a conv, pool or flatten first)."""
    return config.arch is not None and arch.takes_images(config.arch)


def load_data(
    config: RunConfig, *, download=False, preprocessing=None, recorded=False, images=None
):
    """The run's dataset (as images when the network takes them, or ``images`` says so)."""
    return cli_data.load(
        config.dataset,
        data_dir=config.data_dir,
        download=download,
        limit=config.limit,
        preprocessing=preprocessing,
        recorded=recorded,
        images=takes_images(config) if images is None else images,
    )


def train(config: RunConfig, options: TrainOptions) -> int:
    """``jaxnet train``: a new run into ``--out`` (default ``runs/<dataset>-<time>``)."""
    plots.preload()  # matplotlib imported while JAX compiles and trains
    inputs = (config.dataset,) if cli_data.kind(config.dataset) == "csv" else ()
    out = options.out
    if out is not None:
        out = rundir.check_out(out, force=options.force, inputs=inputs)
    mesh = make_mesh(options.devices)  # before JAX starts: it may set the CPU device count
    data = load_data(config, download=options.download)
    net = build_network(config, data)
    config = dataclasses.replace(config, output_activation=net.activations[-1])
    run_dir = out or rundir.check_out(rundir.new_run_dir(data.name))
    with _owned(run_dir, "--out") as created:
        rundir.check_out(run_dir, force=options.force, inputs=inputs)  # again, now it is ours
        init_key, _ = cli_data.run_keys(config.seed)
        params = jn.init(init_key, net, config.scheme)
        if options.force:
            rundir.clear(run_dir)
        return _fit(config, net, params, data, run_dir, options, mesh, done=0, created=created)


@contextlib.contextmanager
def _owned(run_dir: Path, name: str):
    """Hold ``run_dir``'s lock (created if missing) and SIGTERM as an interrupt for the body;
    yield whether the folder was created here (then removed if the run leaves it empty)."""
    created = not run_dir.exists()
    try:
        with lock.hold(run_dir, name), _signals():
            yield created
    finally:
        if created and run_dir.is_dir() and not rundir.user_files(run_dir):
            with contextlib.suppress(OSError):
                for entry in atomic.BOOKKEEPING:
                    (run_dir / entry).unlink(missing_ok=True)
                run_dir.rmdir()


def resume(options: TrainOptions, epochs: int | None, data_dir: str | None) -> int:
    """``jaxnet train --resume DIR``: continue to ``epochs`` in total (default: the run's
    own), or, when the run has done them (killed before its results), complete its files."""
    plots.preload()
    mesh = make_mesh(options.devices)
    run_dir = Path(options.resume)
    saved = rundir.read_config(run_dir)
    with _owned(run_dir, "--resume"):
        return _resume(options, epochs, data_dir, mesh, run_dir, saved)


def _resume(options, epochs, data_dir, mesh, run_dir, saved) -> int:
    done = rundir.epochs_done(run_dir)
    asked = f"--epochs {epochs}" if epochs is not None else f"its {rundir.CONFIG}'s epochs"
    epochs = saved.config.epochs if epochs is None else epochs
    if epochs < done:
        raise ValueError(f"{asked} ({epochs}) is below the {done} epochs {run_dir} has done")
    rundir.check_run_files(run_dir)
    changes = {"epochs": epochs} | ({"data_dir": data_dir} if data_dir is not None else {})
    config = dataclasses.replace(saved.config, **changes)
    data = load_data(
        config, download=options.download, preprocessing=saved.preprocessing, recorded=True
    )
    net = build_network(config, data)
    if net != saved.net:
        raise ValueError(
            f"{run_dir / rundir.CONFIG}: its network {saved.net} is not the one its options "
            f"build on {config.dataset} ({net})"
        )
    if epochs == done:
        ckpt = rundir.read_checkpoint(run_dir, net)
        print(f"{run_dir} has done its {done} epochs; writing its results and plots")
        return _finish(config, net, ckpt.params, data, run_dir, ckpt.history, None, 0.0, 0)
    params = jn.init(
        jax.random.key(0), net, config.scheme
    )  # a template: the checkpoint's replace it
    try:
        return _fit(config, net, params, data, run_dir, options, mesh, done=done, created=False)
    except (ValueError, TypeError) as e:
        raise type(e)(
            f"cannot resume {run_dir} with the settings of its {rundir.CONFIG}: {e}"
        ) from e


def _fit(config, net, params, data, run_dir, options, mesh, *, done, created) -> int:
    """Write config.json, train with ``jn.fit`` (checkpointing into ``run_dir``), then write
    the results; a new run that fails (or is interrupted) before training leaves no
    config.json behind."""
    rundir.write_config(run_dir, config, net, data, command_line(config))
    if not options.quiet:
        print(describe(config, net, data, run_dir))
    X, y = data.splits["train"]
    held_out = data.splits.get(data.held_out) if data.held_out else None
    batch = None if config.batch_size is None else min(config.batch_size, X.shape[0])
    _, shuffle_key = cli_data.run_keys(config.seed)
    tic, diverged = time.perf_counter(), None
    try:
        params, history = jn.fit(
            net, params, X, y,
            optimizer=config.optimizer, learning_rate=config.learning_rate,
            clip_value=config.clip_value, clip_norm=config.clip_norm,
            epochs=config.epochs, batch_size=batch, key=shuffle_key,
            validation_data=held_out, backprop=config.backprop, verbose=0 if options.quiet else 1,
            checkpoint_dir=run_dir, checkpoint_every=options.checkpoint_every,
            resume_from=run_dir if done else None, mesh=mesh,
        )  # fmt: skip
    except jn.TrainingDiverged as e:
        params, history, diverged = e.params, e.history, e
    except (ValueError, TypeError):
        if not done:  # the library refused an argument: this run never started
            atomic.remove(run_dir / rundir.CONFIG)
        raise
    except KeyboardInterrupt as e:
        raise _interrupted(e, run_dir, getattr(e, "epoch", done), done, config.epochs) from None
    seconds = time.perf_counter() - tic
    try:
        return _finish(config, net, params, data, run_dir, history, diverged, seconds, done)
    except KeyboardInterrupt as e:
        raise _interrupted(e, run_dir, len(history["epoch"]), done, config.epochs) from None


def _interrupted(error, run_dir: Path, reached: int, done: int, epochs: int) -> Interrupted:
    """What an interrupted run kept, and how to go on: the message of :class:`Interrupted`."""
    status = 128 + (signal.SIGTERM if isinstance(error, _Terminated) else signal.SIGINT)
    how = f"continue with: jaxnet train --resume {run_dir}"
    if reached > done or (reached == done and done > 0):
        message = (
            f"stopped after epoch {reached} of {epochs}; its checkpoint is in {run_dir}: {how}"
        )
    else:  # nothing trained: the run never started
        atomic.remove(run_dir / rundir.CONFIG)
        message = (
            f"stopped before its first epoch ended: nothing was trained, nothing kept in {run_dir}"
        )
    return Interrupted(message, status)


def _finish(config, net, params, data, run_dir, history, diverged, seconds, done) -> int:
    trained = len(history["epoch"]) - done
    metrics = evaluate_splits(net, params, data) | {
        "epochs": len(history["epoch"]),
        "wall_time_s": seconds,
        "examples_per_second": data.splits["train"][0].shape[0] * trained / seconds
        if seconds > 0
        else None,
    }
    if diverged is not None:
        metrics["diverged"] = str(diverged)
    rundir.write_results(run_dir, history, metrics)
    plots.write_plots(run_dir, config, net, params, data, history, metrics)
    if diverged is not None:
        raise RunFailed(
            f"training diverged: {diverged}. Try a smaller --learning-rate; the results so "
            f"far are in {run_dir}"
        )
    print(format_metrics(metrics))
    speed = metrics["examples_per_second"]
    print(
        f"{metrics['epochs']} epochs, {seconds:.1f} s training"
        + (f" ({speed:.3g} examples/s)" if speed else "")
        + f"; run directory: {run_dir}"
    )
    return 0


def make_mesh(devices: int | str | None):
    """The ``("data",)`` mesh for ``--devices`` (None: the default single-device path).

    On a CPU, N virtual devices are made when N is at most the number of cores; more
    devices than exist are refused."""
    if devices is None:
        return None
    cores = os.cpu_count() or 1
    if devices != "all" and devices <= cores:
        # Raises once JAX has started (in-process use): it then keeps the devices it has.
        with contextlib.suppress(RuntimeError):
            jax.config.update("jax_num_cpu_devices", devices)
    available = jax.devices()
    if devices != "all" and len(available) < devices:
        cpu = (
            f" (virtual CPU devices: at most one per core, {cores})"
            if available[0].platform == "cpu"
            else ""
        )
        raise ValueError(
            f"--devices {devices}: only {len(available)} {available[0].platform} device(s) here{cpu}"
        )
    available = available if devices == "all" else available[:devices]
    mesh = parallel.data_mesh(available)
    print(
        f"mesh: {mesh.size} x {available[0].platform} device(s), axis 'data' (batches split along it)"
    )
    return mesh


# Values held per evaluated chunk (the activations of all layers, float32: 128 MiB), so a
# CNN on 60000 images is evaluated in slices instead of all at once.
EVALUATE_BUDGET = 2**25


def evaluate_splits(net, params, data: cli_data.Data) -> dict[str, dict]:
    """``{split: {"loss", "accuracy" or "mse", "examples"}}`` for every split of ``data``: in
    one compiled program when every split fits :data:`EVALUATE_BUDGET`, else split by split."""
    splits = data.splits
    if all(_evaluation_rows(net) >= X.shape[0] for X, _ in splits.values()):
        results = api.evaluate_sets(net, params, splits)
    else:
        results = {split: evaluate_in_chunks(net, params, X, y) for split, (X, y) in splits.items()}
    return {
        split: {**results[split], "examples": int(X.shape[0])} for split, (X, _) in splits.items()
    }


def _evaluation_rows(net) -> int:
    """Rows evaluated at once within :data:`EVALUATE_BUDGET` activations."""
    per_example = sum(math.prod(s) for s in (net.input_shape, *net.output_shapes))
    return max(1, EVALUATE_BUDGET // per_example)


def evaluate_in_chunks(net, params, X, y) -> dict[str, float]:
    """``jn.evaluate`` over slices of at most :data:`EVALUATE_BUDGET` activations, combined
    as the mean over examples (one slice, the plain call, when the split fits)."""
    rows = _evaluation_rows(net)
    if X.shape[0] <= rows:
        return jn.evaluate(net, params, X, y)
    parts = [
        (jn.evaluate(net, params, X[i : i + rows], y[i : i + rows]), len(X[i : i + rows]))
        for i in range(0, X.shape[0], rows)
    ]
    return {k: sum(p[k] * n for p, n in parts) / X.shape[0] for k in parts[0][0]}


def evaluate(run_dir, *, dataset=None, data_dir=None, download=False) -> int:
    """``jaxnet evaluate``: loss and accuracy of the run's params on every split of its
    dataset (or of ``dataset``)."""
    saved = rundir.read_config(run_dir)
    params = rundir.read_checkpoint(run_dir, saved.net).params
    config = saved.config
    if dataset is not None and dataset != config.dataset:
        config = dataclasses.replace(config, dataset=dataset, limit=None, data_dir=None)
    if data_dir is not None:
        config = dataclasses.replace(config, data_dir=data_dir)
    data = load_data(
        config,
        download=download,
        preprocessing=saved.preprocessing or None,
        recorded=config.dataset == saved.config.dataset,
        images="image_shape" in saved.preprocessing,
    )
    if data.input_shape != saved.net.input_shape:
        what = "features" if len(data.input_shape) == 1 else "images"
        raise ValueError(
            f"{config.dataset} has examples of shape {data.input_shape}; the network in "
            f"{run_dir} takes {what} of shape {saved.net.input_shape}"
        )
    print(format_metrics(evaluate_splits(saved.net, params, data)))
    return 0


def predict(run_dir, input_csv, *, output=None, header=None, force=False) -> int:
    """``jaxnet predict``: the class (and its probability) or the value of each row of a CSV.

    ``--output`` never replaces the input CSV or a file of a run; an existing file that
    jaxnet did not write only with ``force``."""
    saved = rundir.read_config(run_dir)
    params = rundir.read_checkpoint(run_dir, saved.net).params
    if output is not None:
        inputs = (input_csv, Path(run_dir) / rundir.CONFIG, Path(run_dir) / checkpoint.FILENAME)
        output = rundir.check_output(output, inputs=inputs, force=force)
    net = saved.net
    X = cli_data.read_features(input_csv, net.input_shape, header=header)
    cli_data.check_raw_range(saved.preprocessing, X, input_csv)
    X = cli_data.apply_preprocessing(saved.preprocessing, X)
    values = np.asarray(jn.predict(net, params, X))
    if net.task in ("binary", "multiclass"):
        A = np.asarray(jn.forward(net, params, X))
        if A.shape[1] == 1:
            p = np.where(values == 1, A[:, 0], 1 - A[:, 0])
        else:
            p = A[np.arange(len(X)), values]
        columns = {"prediction": values.tolist(), "probability": p.tolist()}
    else:
        columns = {"prediction": values.reshape(len(X), -1)[:, 0].tolist()}
    if output is None:
        print("\n".join(f"{v:.6g}" for v in columns["prediction"]))
    else:
        rundir.write_predictions(output, columns, overwrite=force)
        print(f"wrote {len(X)} predictions to {output}")
    return 0


def summary(run_dir) -> int:
    """``jaxnet summary``: the parameter table, how the run was trained and its final metrics
    (its config.json's network checked against its checkpoint, as evaluate and predict do)."""
    saved = rundir.read_config(run_dir)
    rundir.read_checkpoint(run_dir, saved.net)
    lines = [
        jn.format_summary(saved.net),
        "",
        f"trained with: {saved.command or command_line(saved.config)}",
    ]
    metrics = rundir.read_metrics(run_dir)
    if metrics:
        lines += [f"after {metrics['epochs']} epochs:", format_metrics(metrics)]
        if "diverged" in metrics:
            lines.append(f"diverged: {metrics['diverged']}")
    print("\n".join(lines))
    return 0


GRADCHECK_MAX = 100_000  # parameters and examples of jaxnet gradcheck's random network


def gradcheck(config: GradcheckConfig) -> int:
    """``jaxnet gradcheck``: hand backprop vs jax.grad vs finite differences on random data."""
    output = jn.activations.get(config.output_activation).name
    outputs = config.outputs or (3 if output == "softmax" else 1)
    net = jn.Network(
        (config.inputs, *config.hidden_sizes, outputs),
        hidden_activation=config.hidden_activation,
        output_activation=config.output_activation,
    )
    limits.check_budget(net, config.examples, "jaxnet gradcheck's network")
    count = net.num_params
    if count > GRADCHECK_MAX or config.examples > GRADCHECK_MAX:
        raise ValueError(
            f"jaxnet gradcheck differentiates numerically, two passes per parameter: it takes "
            f"at most {GRADCHECK_MAX} parameters and examples, got {count} parameters and "
            f"--examples {config.examples}"
        )
    k_init, k_x, k_y = jax.random.split(jax.random.key(config.seed), 3)
    params = jn.init(k_init, net, config.scheme)
    X = jax.random.normal(k_x, (config.examples, config.inputs))
    if net.task == "multiclass":
        Y = jax.random.randint(k_y, (config.examples,), 0, outputs)
    elif net.task in ("binary", "multilabel"):
        Y = jax.random.bernoulli(k_y, 0.5, (config.examples, outputs)).astype(X.dtype)
    else:
        Y = jax.random.normal(k_y, (config.examples, outputs))
    report = jn.gradcheck(net, params, X, Y)
    print(
        f"gradcheck {'-'.join(map(str, net.sizes))} {'/'.join(net.activations)}, "
        f"{config.examples} examples, float64"
    )
    print(report)
    return 0 if report.passed else 1


def format_metrics(metrics: dict) -> str:
    """One line per split: ``train       loss 0.1889  accuracy 92.50%  (320 examples)``."""
    lines = []
    for split in ("train", "validation", "test"):
        if split in metrics:
            m = metrics[split]
            score = (
                f"accuracy {100 * m['accuracy']:6.2f}%"
                if "accuracy" in m
                else f"mse {m['mse']:.4g}"
            )
            lines.append(f"{split:<10}  loss {m['loss']:.4f}  {score}  ({m['examples']} examples)")
    return "\n".join(lines)


def describe(config: RunConfig, net, data: cli_data.Data, run_dir) -> str:
    """``planar (train 320, validation 80): 2-4-1 tanh/sigmoid (normal init), sgd lr 1.2, ...``."""
    regular = [f"{k} {v:g}" for k, v in (("l2", config.l2), ("dropout", config.dropout)) if v]
    regular += ["batch norm"] if config.batch_norm else []
    regular_text = f" with {', '.join(regular)}" if regular else ""
    steps = (
        f"{config.epochs} full-batch iterations"
        if config.batch_size is None
        else f"{config.epochs} epochs of batch {config.batch_size}"
    )
    m = ", ".join(f"{k} {X.shape[0]}" for k, (X, _) in data.splits.items())
    bounds = (("clip value", config.clip_value), ("clip norm", config.clip_norm))
    clipping = "".join(f", {k} {v:g}" for k, v in bounds if v is not None)
    return (
        f"{data.name} ({m}): {rundir.describe_network(net)}{regular_text} ({config.scheme} init), "
        f"{config.optimizer} lr {config.learning_rate:g}{clipping}, {steps}, seed {config.seed}, "
        f"{config.backprop} backprop -> {run_dir}"
    )
