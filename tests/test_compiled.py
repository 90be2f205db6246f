"""``jaxnet.compiled``: jax.jit with XLA options, probed once, built on the first call."""

import subprocess
import sys

import chex
import jax
import jax.numpy as jnp
import pytest

from jaxnet import compiled


@pytest.fixture
def fresh_probe(monkeypatch):
    """Run the options probe again (and restore the cached answer afterwards)."""
    compiled.compiler_options.cache_clear()
    yield monkeypatch
    compiled.compiler_options.cache_clear()


def test_this_xla_accepts_the_options():
    assert compiled.compiler_options() == compiled.COMPILER_OPTIONS


def test_an_option_xla_does_not_know_is_dropped(fresh_probe):
    fresh_probe.setattr(compiled, "COMPILER_OPTIONS", {"xla_cpu_no_such_option": "1"})
    assert compiled.compiler_options() == {}
    f = compiled.jit(lambda x: x * 2)
    chex.assert_trees_all_equal(f(jnp.arange(3.0)), jnp.array([0.0, 2.0, 4.0]))


def test_jit_compiles_once_and_matches_jax_jit():
    def loss(w, x):
        return jnp.sum(jnp.tanh(x @ w) ** 2, axis=0)

    f = compiled.jit(loss)
    assert f.__name__ == "loss" and f.__wrapped__ is loss
    w, x = jnp.ones((3, 2)), jnp.linspace(-1, 1, 12).reshape(4, 3)
    chex.assert_trees_all_close(f(w, x), jax.jit(loss)(w, x), rtol=1e-6)
    f(w + 1, x)
    assert f._cache_size() == 1


def test_static_arguments_pass_through():
    f = compiled.jit(lambda x, n: x * n, static_argnames="n")
    assert float(f(jnp.float32(2.0), n=3)) == 6.0
    f(jnp.float32(5.0), n=3)
    f(jnp.float32(5.0), n=4)
    assert f._cache_size() == 2


def test_importing_jaxnet_starts_no_backend():
    """Probing needs a backend; it must wait for the first compile (distributed.initialize first)."""
    code = "import jaxnet, jax._src.xla_bridge as xb; print(len(xb._backends))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"
