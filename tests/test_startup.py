"""What makes ``jaxnet train`` start fast: keys on the host, few programs, matplotlib imported
while JAX works, and its exit. Each shortcut is checked against
the slow path it replaces."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import api
from jaxnet.cli import data as cli_data
from jaxnet.datasets import _random

REPO = Path(__file__).resolve().parents[1]


def python(code: str, **env) -> subprocess.CompletedProcess:
    environment = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, timeout=300
    )


@pytest.mark.parametrize("seed", [0, 7, 2**31 + 5, 2**32 - 1])
def test_keys_made_on_the_host_are_jax_keys(seed):
    key = jax.random.key(seed)
    np.testing.assert_array_equal(_random.seed_key(seed), jax.random.key_data(key))
    np.testing.assert_array_equal(
        _random.split_seed(seed, 3), jax.random.key_data(jax.random.split(key, 3))
    )
    for host, ours in zip(cli_data.run_keys(seed), jax.random.split(key), strict=True):
        assert host.dtype == ours.dtype
        np.testing.assert_array_equal(jax.random.key_data(host), jax.random.key_data(ours))


def test_generated_data_from_a_host_key_equals_from_a_jax_key():
    X_host, y_host = jn.datasets.planar_flower(_random.seed_key(1), m=40)
    X_jax, y_jax = jn.datasets.planar_flower(jax.random.key(1), m=40)
    np.testing.assert_array_equal(X_host, X_jax)
    np.testing.assert_array_equal(y_host, y_jax)


def test_evaluate_sets_equals_evaluate_per_set():
    net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = jn.init(jax.random.key(0), net, scheme="normal")
    X = jax.random.normal(jax.random.key(1), (12, 2))
    y = (X[:, 0] > 0).astype(jnp.int32)
    sets = {"train": (X[:9], y[:9]), "validation": (X[9:], y[9:])}
    together = api.evaluate_sets(net, params, sets)
    assert together == {k: jn.evaluate(net, params, *XY) for k, XY in sets.items()}


def _summed(params, X, *, key, train):  # a jn.Model that takes any number of features
    return X.sum(axis=1, keepdims=True) * params["w"]


def test_evaluate_sets_of_a_model_equals_evaluate_and_refuses_two_example_shapes():
    model = jn.Model(lambda key: {"w": jnp.ones((1, 1))}, _summed, loss="bce")
    params = model.init(None)
    X = jax.random.normal(jax.random.key(1), (12, 2))
    y = (X[:, 0] > 0).astype(jnp.int32)
    sets = {"train": (X[:9], y[:9]), "validation": (X[9:], y[9:])}
    together = api.evaluate_sets(model, params, sets)
    assert together == {k: jn.evaluate(model, params, *XY) for k, XY in sets.items()}
    with pytest.raises(ValueError, match=r"sets: .*'validation': \(3,\)"):
        api.evaluate_sets(
            model, params, {"train": (X, y), "validation": (X[:, :1].repeat(3, 1), y)}
        )


def test_predict_in_one_program_equals_the_labels_of_the_outputs():
    net = jn.Network((2, 3, 3), hidden_activation="tanh", output_activation="softmax")
    params = jn.init(jax.random.key(2), net, scheme="normal")
    X = jax.random.normal(jax.random.key(3), (50, 2))
    expected = jnp.argmax(jn.forward(net, params, X), axis=1)
    np.testing.assert_array_equal(jn.predict(net, params, X), expected)


@pytest.mark.integration  # a subprocess
def test_the_command_compiles_five_programs_and_imports_matplotlib_while_training(tmp_path):
    """``jaxnet train`` as the command (argv None): init, the fit's two programs, one
    evaluation of both splits, one prediction for the decision boundary; matplotlib was
    imported by the preload thread before the figures; both PNGs; no XLA option added."""
    code = (
        "import sys, os, json, jax, jaxnet.cli as cli\n"
        "from jaxnet.cli import plots\n"
        "n = []\n"
        "jax.monitoring.register_event_duration_secs_listener(lambda e, d, **_: "
        "n.append(e) if e == '/jax/core/compile/backend_compile_duration' else None)\n"
        "write = plots.write_plots\n"
        "seen = []\n"
        "def spy(*a, **k):\n"
        "    seen.append(plots._preloading is not None and 'matplotlib.figure' in sys.modules)\n"
        "    return write(*a, **k)\n"
        "plots.write_plots = spy\n"
        f"sys.argv = ['jaxnet', 'train', '--epochs', '20', '--quiet', '--out', {str(tmp_path / 'run')!r}]\n"
        "status = cli.main()\n"
        "print(json.dumps({'status': status, 'programs': len(n), 'preloaded': seen, "
        "'flags': os.environ['XLA_FLAGS']}))\n"
    )
    out = python(code, JAXNET_COMPILATION_CACHE="off", XLA_FLAGS="")
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"status": 0, "programs": 5, "preloaded": [True], "flags": ""}
    for name in ("learning_curves.png", "decision_boundary.png", "metrics.json"):
        assert (tmp_path / "run" / name).stat().st_size > 0, name


@pytest.mark.integration  # a subprocess
def test_the_command_exits_with_its_status_after_flushing(tmp_path):
    """``python -m jaxnet`` ends through os._exit: its output is complete, its status kept."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "JAXNET_COMPILATION_CACHE": "off"}
    ok = subprocess.run(
        [sys.executable, "-m", "jaxnet", "train", "--epochs", "3", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert "run directory:" in ok.stdout.splitlines()[-1]
    bad = subprocess.run(
        [sys.executable, "-m", "jaxnet", "train", "--epochs", "0"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.startswith("jaxnet: error:")
