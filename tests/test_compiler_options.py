"""fit_ensemble's XLA options (``jaxnet.training._cpu.xla_options``): probed once, on first
use, never at import; an unknown one is dropped."""

import dataclasses
import subprocess
import sys

import chex
import jax
import numpy as np
import pytest

import jaxnet as jn
from jaxnet.training import _cpu, engine, ensemble
from jaxnet.training._cpu import xla_options


@pytest.fixture
def fresh_probe(monkeypatch):
    """Run the options probe again and rebuild the runner (restoring both afterwards)."""
    xla_options.compiler_options.cache_clear()
    _cpu.jit.cache_clear()
    yield monkeypatch
    xla_options.compiler_options.cache_clear()
    _cpu.jit.cache_clear()


def test_this_xla_accepts_the_options():
    assert xla_options.compiler_options() == xla_options.COMPILER_OPTIONS


def test_the_runner_is_built_once():
    config = engine.TrainConfig(jn.Network((2, 1)), None, cpu=True)
    assert ensemble.ensemble_runner(config) is ensemble.ensemble_runner(config)
    plain = dataclasses.replace(config, cpu=False)
    assert ensemble.ensemble_runner(plain) is not ensemble.ensemble_runner(config)


def test_an_option_xla_does_not_know_is_dropped(fresh_probe):
    fresh_probe.setattr(xla_options, "COMPILER_OPTIONS", {"xla_cpu_no_such_option": "1"})
    assert xla_options.compiler_options() == {}
    # fit_ensemble still runs (without options) and agrees with fit
    net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
    X = np.random.default_rng(0).standard_normal((10, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(0), 2), net)
    trained, _ = jn.fit_ensemble(net, stacked, X, y, learning_rate=0.5, epochs=3, verbose=0)
    single, _ = jn.fit(
        net, jax.tree.map(lambda a: a[1], stacked), X, y, learning_rate=0.5, epochs=3, verbose=0
    )
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[1], trained), single, rtol=1e-5, atol=1e-6)


def test_importing_jaxnet_starts_no_backend():
    """Probing needs a backend; it must wait for the first compile (distributed.initialize first)."""
    code = (
        "import jaxnet, jax._src.xla_bridge as xb; import jaxnet.training._cpu as c;"
        "print(len(xb._backends), c.jit.cache_info().currsize, c.compiler_options.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "0", "0"]
