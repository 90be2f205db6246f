"""Flax NNX, Flax Linen, Equinox and stax models trained by jn.fit equal their own library's loop.

Each model starts from one init and trains on the planar flower, with jn.fit and with the
library's idiomatic optax loop (nnx.Optimizer, a Linen TrainState, eqx.filter_jit, a
jitted stax step) on the same batches in the same order (shuffle=False, 4 batches of 50):
the losses per epoch and the final params agree to float32 rounding (the losses are
computed by different code: jaxnet's from-logits BCE against optax's). Models with batch
statistics compare under SGD: under Adam the bias before a batch norm has a zero gradient
up to rounding, which Adam normalises into steps of size lr in a direction set by rounding
noise, so no two implementations agree on it (nor on the running mean that follows it).
"""

import re
import subprocess
import sys
from pathlib import Path

import chex
import equinox as eqx
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from flax.training import train_state
from jax.example_libraries import stax

import jaxnet as jn
from jaxnet.datasets import planar_flower

# Imports Flax and Equinox and trains each library's models (seconds per test): full suite.
pytestmark = pytest.mark.slow

X, y = (np.asarray(a) for a in planar_flower(jax.random.key(0), m=200))
Y = y[:, None].astype(np.float32)
EPOCHS, BATCH = 5, 50
ADAM = optax.adam(0.05)


def _bce(logits, Y):
    return optax.sigmoid_binary_cross_entropy(logits, Y).mean()


def _batches():
    for _ in range(EPOCHS):
        for i in range(0, X.shape[0], BATCH):
            yield X[i : i + BATCH], Y[i : i + BATCH]


def _per_epoch(losses):
    return np.asarray(losses, np.float64).reshape(EPOCHS, -1).mean(axis=1)


def _fit(model, params, tx=ADAM, **kw):
    return jn.fit(model, params, X, y, optimizer=tx, epochs=EPOCHS, batch_size=BATCH,
                  shuffle=False, verbose=0, **kw)  # fmt: skip


def _same(history, losses, params, library_params, tol=1e-5):
    np.testing.assert_allclose(history["loss"], _per_epoch(losses), rtol=tol, atol=tol)
    chex.assert_trees_all_close(params, library_params, rtol=tol, atol=tol)


# --- Flax NNX ------------------------------------------------------------------------------


class NNXMLP(nnx.Module):
    def __init__(self, rngs, batch_norm=False, dropout=0.0):
        self.hidden = nnx.Linear(2, 8, rngs=rngs)
        self.norm = nnx.BatchNorm(8, momentum=0.9, rngs=rngs) if batch_norm else None
        self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout else None
        self.out = nnx.Linear(8, 1, rngs=rngs)

    def __call__(self, x):
        h = self.hidden(x)
        h = jnp.tanh(h if self.norm is None else self.norm(h))
        return self.out(h if self.drop is None else self.drop(h))


def _nnx_loop(module, tx):
    optimizer = nnx.Optimizer(module, tx, wrt=nnx.Param)

    @nnx.jit
    def step(module, optimizer, x, yy):
        loss, grads = nnx.value_and_grad(lambda m: _bce(m(x), yy))(module)
        optimizer.update(module, grads)
        return loss

    module.train()
    return [float(step(module, optimizer, x, yy)) for x, yy in _batches()]


def test_flax_nnx_equals_its_own_loop():
    module = NNXMLP(nnx.Rngs(0))
    model = jn.interop.from_flax_nnx(module, loss="bce")
    params, history = _fit(model, model.init(jax.random.key(0)))
    losses = _nnx_loop(module, ADAM)  # trains the module in place (after jn.fit read it)
    _same(history, losses, params, nnx.state(module, nnx.Param))
    nnx.update(module, params)  # the trained params go back into the module
    np.testing.assert_allclose(jax.nn.sigmoid(module(X)), jn.forward(model, params, X), rtol=1e-6)


def test_flax_nnx_with_batch_norm_equals_its_own_loop():
    module = NNXMLP(nnx.Rngs(1), batch_norm=True)
    model = jn.interop.from_flax_nnx(module, loss="bce")
    assert model.stateful and not model.needs_key
    tx = optax.sgd(0.5)
    (params, state), history = _fit(model, model.init(jax.random.key(0)), tx)
    losses = _nnx_loop(module, tx)
    _same(history, losses, params, nnx.state(module, nnx.Param))
    chex.assert_trees_all_close(state, nnx.state(module, nnx.BatchStat), rtol=1e-5, atol=1e-6)
    module.eval()  # inference on the running statistics
    np.testing.assert_allclose(
        jax.nn.sigmoid(module(X)), jn.forward(model, (params, state), X), rtol=1e-5
    )


def test_flax_nnx_dropout_follows_the_run_key_and_resumes_bitwise(tmp_path):
    model = jn.interop.from_flax_nnx(NNXMLP(nnx.Rngs(2), batch_norm=True, dropout=0.3), loss="bce")
    assert model.needs_key
    p0 = model.init(jax.random.key(0))
    kw = dict(key=jax.random.key(3), epochs=3)
    straight = jn.fit(model, p0, X, y, optimizer="adam", batch_size=BATCH, verbose=0, **kw)
    jn.fit(model, p0, X, y, optimizer="adam", batch_size=BATCH, verbose=0, key=kw["key"],
           epochs=1, checkpoint_dir=tmp_path)  # fmt: skip
    resumed = jn.fit(model, p0, X, y, optimizer="adam", batch_size=BATCH, verbose=0,
                     resume_from=tmp_path, **kw)  # fmt: skip
    chex.assert_trees_all_equal(straight[0], resumed[0])
    assert straight[1]["loss"] == resumed[1]["loss"]
    other = jn.fit(model, p0, X, y, optimizer="adam", batch_size=BATCH, verbose=0,
                   key=jax.random.key(4), epochs=1)  # fmt: skip
    assert other[1]["loss"][0] != straight[1]["loss"][0]  # other masks


def test_flax_nnx_from_a_function_of_the_key_trains_an_ensemble():
    model = jn.interop.from_flax_nnx(lambda key: NNXMLP(nnx.Rngs(key)), loss="bce")
    keys = jax.random.split(jax.random.key(5), 3)
    stacked = jax.vmap(model.init)(keys)
    assert stacked["hidden"]["kernel"].shape == (3, 2, 8)
    params, histories = jn.fit_ensemble(model, stacked, X, y, optimizer="adam", epochs=2,
                                        verbose=0)  # fmt: skip
    assert len({h["loss"][0] for h in histories}) == 3  # three different inits


# --- Flax Linen ----------------------------------------------------------------------------


class LinenMLP(nn.Module):
    batch_norm: bool = False

    @nn.compact
    def __call__(self, x, train: bool = False):
        h = nn.Dense(8)(x)
        if self.batch_norm:
            h = nn.BatchNorm(use_running_average=not train, momentum=0.9)(h)
        return nn.Dense(1)(jnp.tanh(h))


def test_flax_linen_equals_its_own_loop():
    module = LinenMLP()
    model = jn.interop.from_flax_linen(module, X[:1], loss="bce")
    p0 = model.init(jax.random.key(1))
    state = train_state.TrainState.create(apply_fn=module.apply, params=p0, tx=ADAM)

    @jax.jit
    def step(state, x, yy):
        loss, grads = jax.value_and_grad(lambda p: _bce(state.apply_fn({"params": p}, x), yy))(
            state.params
        )
        return state.apply_gradients(grads=grads), loss

    losses = []
    for x, yy in _batches():
        state, loss = step(state, x, yy)
        losses.append(float(loss))
    params, history = _fit(model, p0)
    _same(history, losses, params, state.params)


def test_flax_linen_with_batch_norm_equals_its_own_loop():
    module = LinenMLP(batch_norm=True)
    model = jn.interop.from_flax_linen(module, X[:1], loss="bce", train_kwarg="train")
    assert model.stateful
    p0, s0 = model.init(jax.random.key(1))
    tx = optax.sgd(0.5)

    @jax.jit
    def step(p, s, o, x, yy):
        def loss(p):
            Z, updates = module.apply({"params": p, **s}, x, train=True, mutable=["batch_stats"])
            return _bce(Z, yy), updates

        (value, updates), grads = jax.value_and_grad(loss, has_aux=True)(p)
        u, o = tx.update(grads, o, p)
        return optax.apply_updates(p, u), {**s, **updates}, o, value

    p, s, o, losses = p0, s0, tx.init(p0), []
    for x, yy in _batches():
        p, s, o, value = step(p, s, o, x, yy)
        losses.append(float(value))
    (params, state), history = _fit(model, (p0, s0), tx)
    _same(history, losses, params, p)
    chex.assert_trees_all_close(state, s, rtol=1e-5, atol=1e-6)


# --- Equinox -------------------------------------------------------------------------------


def _mlp(key):
    return eqx.nn.MLP(2, 1, width_size=8, depth=1, activation=jnp.tanh, key=key)


def test_equinox_equals_its_own_loop():
    mlp = _mlp(jax.random.key(2))
    model = jn.interop.from_equinox(mlp, loss="bce")

    @eqx.filter_jit
    def step(m, opt_state, x, yy):
        loss, grads = eqx.filter_value_and_grad(lambda m: _bce(jax.vmap(m)(x), yy))(m)
        updates, opt_state = ADAM.update(grads, opt_state, eqx.filter(m, eqx.is_array))
        return eqx.apply_updates(m, updates), opt_state, loss

    m, opt_state, losses = mlp, ADAM.init(eqx.filter(mlp, eqx.is_array)), []
    for x, yy in _batches():
        m, opt_state, loss = step(m, opt_state, x, yy)
        losses.append(float(loss))
    params, history = _fit(model, model.init(jax.random.key(0)))
    _same(history, losses, params, eqx.filter(m, eqx.is_array))
    trained = eqx.combine(params, mlp)  # back to a module
    np.testing.assert_allclose(
        jax.nn.sigmoid(jax.vmap(trained)(X)), jn.forward(model, params, X), rtol=1e-6
    )


def test_equinox_dropout_and_an_ensemble_from_a_function_of_the_key():
    def make(key):
        k1, k2 = jax.random.split(key)
        return eqx.nn.Sequential([eqx.nn.Linear(2, 8, key=k1), eqx.nn.Lambda(jnp.tanh),
                                  eqx.nn.Dropout(0.3), eqx.nn.Linear(8, 1, key=k2)])  # fmt: skip

    model = jn.interop.from_equinox(make, loss="bce", needs_key=True)
    keys = jax.random.split(jax.random.key(6), 2)
    params, histories = jn.fit_ensemble(model, jax.vmap(model.init)(keys), X, y,
                                        optimizer="adam", epochs=2, batch_size=BATCH,
                                        keys=keys, verbose=0)  # fmt: skip
    assert params.layers[0].weight.shape == (2, 8, 2)
    assert histories[0]["loss"] != histories[1]["loss"]
    one = jax.tree.map(lambda a: a[0], params)
    inference = jn.forward(model, one, X)  # dropout off: deterministic, no key
    np.testing.assert_array_equal(inference, jn.forward(model, one, X))


# --- stax ----------------------------------------------------------------------------------


def test_stax_equals_its_own_loop():
    init_fun, apply_fun = stax.serial(stax.Dense(8), stax.Tanh, stax.Dense(1))
    model = jn.interop.from_stax(init_fun, apply_fun, (2,), loss="bce")
    p0 = model.init(jax.random.key(3))

    @jax.jit
    @jax.numpy_rank_promotion("allow")  # stax.Dense adds b (n,) to (m, n)
    def step(p, opt_state, x, yy):
        loss, grads = jax.value_and_grad(lambda p: _bce(apply_fun(p, x), yy))(p)
        updates, opt_state = ADAM.update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, loss

    p, opt_state, losses = p0, ADAM.init(p0), []
    for x, yy in _batches():
        p, opt_state, loss = step(p, opt_state, x, yy)
        losses.append(float(loss))
    params, history = _fit(model, p0)
    _same(history, losses, params, p)


# --- the boundary -----------------------------------------------------------------------


def test_adapters_refuse_what_is_not_a_module():
    with pytest.raises(TypeError, match="module must be an equinox.Module or a function"):
        jn.interop.from_equinox(3, loss="bce")
    with pytest.raises(TypeError, match=r"module\(key\) must return an equinox.Module"):
        jn.interop.from_equinox(lambda key: "mlp", loss="bce")
    with pytest.raises(TypeError, match="module must be an nnx.Module or a function"):
        jn.interop.from_flax_nnx("mlp", loss="bce")
    with pytest.raises(ValueError, match="input_shape must be a sequence of at least 1 ints"):
        jn.interop.from_stax(*stax.serial(stax.Dense(1)), input_shape=(), loss="mse")


def test_a_missing_library_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "equinox", None)
    with pytest.raises(ImportError, match=r"from_equinox needs 'equinox'.*jaxnet\[interop\]"):
        jn.interop.from_equinox(_mlp(jax.random.key(0)), loss="bce")


def test_importing_jaxnet_imports_neither_flax_nor_equinox():
    code = (
        "import sys, jaxnet as jn; jn.interop.from_stax; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'flax', 'equinox'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.slow  # trains the page's models, as a notebook run does
def test_the_models_page_runs():
    """docs/models.md: its Python blocks, in order, as one program (with NumPy's default
    rank promotion, as a user runs them)."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "models.md").read_text()
    code = "\n".join(re.findall(r"^```python\n(.*?)^```", page, re.S | re.M))
    namespace: dict = {}
    with jax.numpy_rank_promotion("allow"):
        exec(compile(code, "docs/models.md", "exec"), namespace)
    assert namespace["history"]["loss"][-1] < namespace["history"]["loss"][0]
    assert namespace["state"]["mean"].shape == (8,)
    assert len(namespace["histories"]) == 4
