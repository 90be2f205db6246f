"""A user's own pure model (jn.Model) through everything that trains: one contract, one loop.

A jn.Network and a jn.Model that computes the same function train to the same history
(the same engine runs both); the hand-written models of tests/own_models.py go through
fit, fit_ensemble, evaluate, predict, cost, grads, per-example gradients, callbacks,
checkpoints with bitwise resume and the divergence guard; bad models are refused at the
boundary with the argument named.
"""

import gc
import json
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from own_models import BN_DROPOUT, MLP, bn_apply, bn_init, mlp_apply, mlp_init

import jaxnet as jn
from jaxnet.datasets import planar_flower
from jaxnet.io import checkpoint
from jaxnet.training import engine

X, y = (np.asarray(a) for a in planar_flower(jax.random.key(0), m=200))
Y = y[:, None].astype(np.float32)
P0 = MLP.init(jax.random.key(1))


def _bce(params, X, Y):
    return optax.sigmoid_binary_cross_entropy(mlp_apply(params, X, key=None, train=False), Y).mean()


def _close(a, b, tol=1e-5):
    chex.assert_trees_all_close(a, b, rtol=tol, atol=tol)


# --- one contract: a network is one case of it -------------------------------------------


def test_a_network_and_the_same_function_as_a_model_train_alike():
    """jn.Network((2, 4, 1)) and a jn.Model computing the same function from the same
    params: the same engine gives the same history and params."""
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")

    def apply(params, X, *, key, train):
        hidden, out = params
        return jnp.tanh(X @ hidden["W"].T + hidden["b"][None]) @ out["W"].T + out["b"][None]

    model = jn.Model(lambda key: jn.init(key, net), apply, loss="bce")
    p0 = jn.init(jax.random.key(2), net)
    kw = dict(optimizer="adam", epochs=4, batch_size=50, key=jax.random.key(3), verbose=0,
              validation_data=(X[:60], y[:60]))  # fmt: skip
    net_params, net_history = jn.fit(net, p0, X, y, backprop="autodiff", **kw)
    params, history = jn.fit(model, p0, X, y, **kw)
    _close(params, net_params)
    for k in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[k], net_history[k], rtol=1e-5, atol=1e-6)
    assert jn.evaluate(model, params, X, y) == pytest.approx(jn.evaluate(net, params, X, y))
    np.testing.assert_array_equal(jn.predict(model, params, X), jn.predict(net, params, X))


def test_fit_is_gradient_descent_on_the_model_by_jax_grad():
    """Full batch: each epoch is one optax step on jax.grad of the model's mean BCE."""
    tx = optax.sgd(0.5)
    params, history = jn.fit(MLP, P0, X, y, optimizer=tx, epochs=5, verbose=0)
    p, state, losses = P0, tx.init(P0), []
    for _ in range(5):
        loss, g = jax.value_and_grad(_bce)(p, X, Y)
        updates, state = tx.update(g, state, p)
        p, losses = optax.apply_updates(p, updates), [*losses, float(loss)]
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-5)
    _close(params, p)


def test_evaluate_predict_cost_grads_and_per_example_grads():
    result = jn.evaluate(MLP, P0, X, y)
    Z = mlp_apply(P0, X, key=None, train=False)
    assert result["loss"] == pytest.approx(float(_bce(P0, X, Y)), rel=1e-5)
    assert result["accuracy"] == pytest.approx(float(((Z[:, 0] > 0) == y).mean()))
    np.testing.assert_array_equal(jn.predict(MLP, P0, X), (Z[:, 0] > 0).astype(np.int32))
    np.testing.assert_allclose(jn.forward(MLP, P0, X), jax.nn.sigmoid(Z), rtol=1e-6)
    assert float(jn.cost(MLP, P0, X, y)) == pytest.approx(result["loss"])
    grads = jn.grads(MLP, P0, X, y)
    _close(grads, jax.grad(_bce)(P0, X, Y))
    per_example = jn.per_example_grads(MLP, P0, X[:10], y[:10])
    assert per_example["W1"].shape == (10, 2, 8)
    _close(jax.tree.map(lambda g: g.mean(axis=0), per_example), jn.grads(MLP, P0, X[:10], y[:10]))


def test_a_multiclass_model_with_a_loss_function():
    """Softmax output with a custom per-example loss (CCE with label smoothing): integer
    labels become one-hot, accuracy and argmax predictions follow the output."""
    X3, y3 = jn.datasets.spiral(jax.random.key(0), m=150, classes=3)

    def smoothed(Z, Y):
        return optax.softmax_cross_entropy(Z, 0.9 * Y + 0.1 / 3)

    def init(key):
        return {"W": jax.random.normal(key, (2, 3)) * 0.1, "b": jnp.zeros((1, 3))}

    model = jn.Model(init, lambda p, X, *, key, train: X @ p["W"] + p["b"], loss=smoothed,
                     output="softmax", name="linear")  # fmt: skip
    assert model.task == "multiclass"
    params, history = jn.fit(model, init(jax.random.key(1)), X3, y3, learning_rate=0.5,
                             epochs=30, verbose=0)  # fmt: skip
    assert history["loss"][-1] < history["loss"][0] and "accuracy" in history
    assert jn.predict(model, params, X3).shape == (150,)
    assert set(np.unique(jn.predict(model, params, X3))) <= {0, 1, 2}


# --- state, randomness, ensembles ---------------------------------------------------------


def test_a_stateful_model_with_dropout_trains_its_params_and_carries_its_state():
    p0, s0 = BN_DROPOUT.init(jax.random.key(1))
    with pytest.raises(ValueError, match="key is required"):
        jn.fit(BN_DROPOUT, (p0, s0), X, y, verbose=0)
    (params, state), history = jn.fit(
        BN_DROPOUT, (p0, s0), X, y, optimizer="adam", learning_rate=0.05, epochs=5,
        batch_size=50, shuffle=False, key=jax.random.key(4), verbose=0,
    )  # fmt: skip
    # the state is the running average of the batch statistics of the 20 steps, not a gradient
    assert not np.allclose(state["mean"], 0) and not np.allclose(state["var"], 1)
    assert history["loss"][-1] < history["loss"][0]
    # inference uses the running statistics and no dropout: deterministic
    Z, _ = bn_apply(params, state, jnp.asarray(X), key=None, train=False)
    np.testing.assert_array_equal(jn.predict(BN_DROPOUT, (params, state), X), (Z[:, 0] > 0))
    # two runs with one key are the same run; another key draws other masks
    again = jn.fit(BN_DROPOUT, (p0, s0), X, y, optimizer="adam", learning_rate=0.05, epochs=5,
                   batch_size=50, shuffle=False, key=jax.random.key(4), verbose=0)  # fmt: skip
    chex.assert_trees_all_equal(again[0], (params, state))
    other = jn.fit(BN_DROPOUT, (p0, s0), X, y, optimizer="adam", learning_rate=0.05, epochs=1,
                   batch_size=50, shuffle=False, key=jax.random.key(5), verbose=0)  # fmt: skip
    assert other[1]["loss"][0] != history["loss"][0]


def test_fit_ensemble_trains_each_model_as_fit_does():
    keys = jax.random.split(jax.random.key(7), 3)
    stacked = jax.vmap(MLP.init)(keys)
    params, histories = jn.fit_ensemble(MLP, stacked, X, y, optimizer="adam", epochs=3,
                                        batch_size=50, keys=keys, verbose=0)  # fmt: skip
    assert params["W1"].shape == (3, 2, 8) and len(histories) == 3
    one = jax.tree.map(lambda a: a[2], stacked)
    p, h = jn.fit(MLP, one, X, y, optimizer="adam", epochs=3, batch_size=50, key=keys[2], verbose=0)
    np.testing.assert_allclose(histories[2]["loss"], h["loss"], rtol=1e-5)
    _close(jax.tree.map(lambda a: a[2], params), p)
    assert histories[0]["loss"] != histories[2]["loss"]


def test_a_stateful_ensemble_with_dropout():
    keys = jax.random.split(jax.random.key(8), 2)
    stacked = jax.vmap(BN_DROPOUT.init)(keys)
    (params, state), histories = jn.fit_ensemble(
        BN_DROPOUT, stacked, X, y, optimizer="adam", epochs=2, batch_size=50, keys=keys, verbose=0
    )
    assert state["mean"].shape == (2, 1, 8) and params["gamma"].shape == (2, 1, 8)
    assert histories[0]["loss"] != histories[1]["loss"]


def test_a_stateful_model_warns_when_its_batches_are_padded():
    with pytest.warns(RuntimeWarning, match="'bn' is stateful and its batches are padded"):
        jn.fit(BN_DROPOUT, BN_DROPOUT.init(jax.random.key(0)), X, y, epochs=1, batch_size=64,
               key=jax.random.key(0), verbose=0)  # fmt: skip


# --- sharded data parallel: 8 fake devices in a subprocess --------------------------------


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharded_model") / "result.json"
    worker = Path(__file__).parent / "sharded_model_worker.py"
    proc = subprocess.run([sys.executable, worker, out], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.integration  # a subprocess on 8 fake devices, run once: one worker
@pytest.mark.xdist_group("sharded_model_worker")
@pytest.mark.parametrize(
    "index", range(4), ids=["full-batch", "minibatch", "ensemble", "stateful+dropout"]
)
def test_a_model_sharded_over_eight_devices_equals_one_device(sharded, index):
    assert sharded["devices"] == 8
    run = sharded["runs"][index]
    assert run["params_diff"] < 1e-5 and run["loss_diff"] < 1e-5, run
    assert run["params_sharding"] == "P()"  # replicated


# --- callbacks, checkpoints and resume, the divergence guard -----------------------------


def test_callbacks_see_the_model_params_and_early_stopping_restores_them(tmp_path):
    seen = []

    class Record(jn.callbacks.Callback):
        every = 2

        def on_epoch_end(self, epoch, logs, params):
            seen.append((epoch, params["W1"].shape, logs["loss"]))

    stop = jn.callbacks.EarlyStopping(monitor="val_loss", patience=1, restore_best_params=True)
    best = jn.callbacks.ModelCheckpoint(tmp_path / "best.safetensors", monitor="val_loss")
    params, history = jn.fit(MLP, P0, X, y, optimizer="adam", learning_rate=0.5, epochs=40,
                             batch_size=100, key=jax.random.key(0), verbose=0,
                             validation_data=(X[:20], y[:20]), callbacks=[Record(), stop, best])  # fmt: skip
    assert [e for e, _, _ in seen] == list(range(2, len(history["epoch"]) + 1, 2))
    assert all(shape == (2, 8) for _, shape, _ in seen)
    assert history["stopped_epoch"] < 40  # stopped early: the validation loss rose
    restored = checkpoint.restore(tmp_path / "best.safetensors", like=P0)
    chex.assert_trees_all_equal(restored.params, params)  # the best epoch's params, both ways


@pytest.mark.parametrize("model", [MLP, BN_DROPOUT], ids=["stateless", "stateful+dropout"])
def test_resume_is_bitwise_a_straight_run(tmp_path, model):
    p0 = model.init(jax.random.key(1))
    kw = dict(optimizer="adam", batch_size=50, key=jax.random.key(2), verbose=0,
              validation_data=(X[:40], y[:40]))  # fmt: skip
    straight = jn.fit(model, p0, X, y, epochs=4, **kw)
    first = jn.fit(model, p0, X, y, epochs=2, checkpoint_dir=tmp_path, **kw)
    resumed = jn.fit(model, p0, X, y, epochs=4, resume_from=tmp_path, **kw)
    assert first[1]["loss"] == resumed[1]["loss"][:2]
    chex.assert_trees_all_equal(straight[0], resumed[0])
    for k in ("loss", "accuracy", "val_loss", "val_accuracy", "epoch"):
        assert straight[1][k] == resumed[1][k], k
    meta = checkpoint.read_metadata(tmp_path)
    assert meta["config"]["network"]["model"] == model.name
    other = jn.Model(mlp_init, mlp_apply, loss="mse", name="mlp")
    if model is MLP:
        with pytest.raises(ValueError, match="different network"):
            jn.fit(other, p0, X, y, epochs=4, resume_from=tmp_path, **kw)


def test_the_divergence_guard_keeps_the_last_finite_params():
    huge = jn.Model(mlp_init, mlp_apply, loss="mse", name="regression")
    targets = (X[:, :1] * 1e4).astype(np.float32)
    with pytest.raises(jn.TrainingDiverged) as caught:
        jn.fit(huge, P0, X, targets, learning_rate=10.0, epochs=50, verbose=0)
    err = caught.value
    assert err.epoch > 1 and len(err.history["loss"]) == err.epoch - 1
    assert all(np.isfinite(np.asarray(leaf)).all() for leaf in jax.tree.leaves(err.params))
    with pytest.warns(RuntimeWarning, match="non-finite"):
        params, history = jn.fit(huge, P0, X, targets, learning_rate=10.0, epochs=50,
                                 verbose=0, on_nonfinite="stop")  # fmt: skip
    chex.assert_trees_all_equal(params, err.params)


def test_fit_does_not_recompile_for_a_second_run():
    jn.fit(MLP, P0, X, y, epochs=2, batch_size=50, key=jax.random.key(0), verbose=0)
    before = engine.run_chunk._cache_size()
    jn.fit(MLP, P0, X, y, epochs=3, batch_size=50, key=jax.random.key(1), verbose=0)
    assert engine.run_chunk._cache_size() == before


# --- bad models and arguments, refused at the boundary ------------------------------------


def test_a_model_is_checked_once_per_example_shape():
    """The checks of a model (apply traced twice in each mode) run on the first number of examples
    met; a predict on another number traces only its program, the checks do not run again."""
    batch_sizes = []

    def apply(params, X, *, key, train):
        batch_sizes.append(X.shape[0])
        return X @ params["W"]

    model = jn.Model(lambda key: {"W": jax.random.normal(key, (2, 1))}, apply, loss="bce")
    params, X = model.init(jax.random.key(0)), np.ones((10, 2), np.float32)
    jn.predict(model, params, X)
    assert batch_sizes == [10] * 5  # 4 checks, 1 program
    jn.predict(model, params, X[:7])
    assert batch_sizes == [10] * 5 + [7]
    jn.predict(model, params, X[3:])  # the same shape again
    assert batch_sizes == [10] * 5 + [7]


def test_backprop_manual_is_refused_naming_the_model():
    with pytest.raises(ValueError, match=r"backprop='manual' needs a hand-derived backward.*'mlp'"):
        jn.fit(MLP, P0, X, y, backprop="manual", verbose=0)
    with pytest.raises(ValueError, match="'mlp' \\(a jn.Model\\) has none"):
        jn.grads(MLP, P0, X, y, backprop="manual")
    with pytest.raises(ValueError, match="backprop must be one of"):
        jn.fit(MLP, P0, X, y, backprop="numeric", verbose=0)


def test_network_only_functions_refuse_a_model():
    for call in (lambda: jn.summary(MLP), lambda: jn.gradcheck(MLP, P0, X, y),
                 lambda: jn.forward_with_caches(MLP, P0, X)):  # fmt: skip
        with pytest.raises(TypeError, match="net must be a jaxnet.Network.*not made of jaxnet's"):
            call()
    with pytest.raises(TypeError, match=r"initialises itself with model.init\(key\)"):
        jn.init(jax.random.key(0), MLP)
    with pytest.raises(TypeError, match="net must be a jaxnet.Network or a jaxnet.Model"):
        jn.fit(mlp_apply, P0, X, y)


def _model(apply, init=mlp_init, **kw):
    return jn.Model(init, apply, loss=kw.pop("loss", "bce"), name="bad", **kw)


def test_outputs_of_the_wrong_shape_are_refused_with_both_shapes():
    flat = _model(lambda p, X, *, key, train: mlp_apply(p, X, key=key, train=train)[:, 0])
    with pytest.raises(
        ValueError, match=r"shape \(m, n_out\) = \(200, n_out\).*got shape \(200,\).*Z\[:, None\]"
    ):
        jn.fit(flat, P0, X, y, verbose=0)
    three = _model(lambda p, X, *, key, train: jnp.tile(mlp_apply(p, X, key=key, train=train), 3))
    with pytest.raises(
        ValueError, match=r"Y has shape \(200, 1\), expected \(200, 3\) for model 'bad'"
    ):
        jn.fit(three, P0, X, Y, verbose=0)
    softmax = _model(mlp_apply, loss="cce")
    with pytest.raises(ValueError, match="softmax output needs at least 2 units.*\\(m, 1\\)"):
        jn.evaluate(softmax, P0, X, y)
    pair = _model(lambda p, X, *, key, train: (mlp_apply(p, X, key=key, train=train),) * 2)
    with pytest.raises(TypeError, match="must return one array Z"):
        jn.predict(pair, P0, X)
    ints = _model(lambda p, X, *, key, train: (X @ p["W1"]).astype(jnp.int32)[:, :1])
    with pytest.raises(TypeError, match="must return float outputs"):
        jn.predict(ints, P0, X)


def test_a_loss_function_must_give_one_loss_per_example():
    mean = _model(mlp_apply, loss=lambda Z, Y: ((Z - Y) ** 2).mean())
    with pytest.raises(
        ValueError, match=r"must return one loss per example, shape \(200,\), got \(\)"
    ):
        jn.fit(mean, P0, X, Y, verbose=0)


def test_an_impure_apply_is_refused():
    leaked = []

    def leaking(params, X, *, key, train):
        leaked.append(X)  # a tracer kept outside the call
        return mlp_apply(params, X, key=key, train=train)

    with pytest.raises(ValueError, match="not pure: apply leaks a tracer"):
        jn.fit(_model(leaking), P0, X, y, verbose=0)
    calls = []

    def counting(params, X, *, key, train):  # a Python side effect that changes the result
        calls.append(1)
        return mlp_apply(params, X, key=key, train=train) * len(calls)

    with pytest.raises(ValueError, match="not pure: two traces of apply on the same shapes"):
        jn.evaluate(_model(counting), P0, X, y)
    stale = _model(lambda p, X, *, key, train: mlp_apply(p, X, key=key, train=train) + leaked[0])
    leaked[:] = [jax.make_jaxpr(lambda x: leaked.append(x) or x)(jnp.ones((200, 1))) and leaked[-1]]
    with pytest.raises(
        ValueError, match="not pure: apply uses a tracer leaked from an earlier call"
    ):
        jn.predict(stale, P0, X)


@pytest.mark.parametrize("frozen_before", [False, True])
def test_leaks_inside_a_vmap_or_from_init_are_found_and_the_collectors_state_is_kept(
    frozen_before,
):
    """The leak check freezes the objects that existed before it (its collection then scans
    only the new ones) and unfreezes them after; a process that froze objects itself keeps
    them frozen. Either way a tracer kept in an older object is found: one of a ``vmap``
    inside apply, or one of init."""
    leaked = {}

    def leaking(params, X, *, key, train):
        def row(x):
            leaked["row"] = x  # a tracer of the vmap's trace, kept in a dict made before
            return x

        return mlp_apply(params, jax.vmap(row)(X), key=key, train=train)

    def leaking_init(key):
        leaked["init"] = jax.random.normal(key, (2,))
        return mlp_init(key)

    if frozen_before:
        gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with pytest.raises(ValueError, match="not pure: apply leaks a tracer"):
            jn.predict(_model(leaking), P0, X)
        with pytest.raises(ValueError, match="not pure: init leaks a tracer"):
            jn.predict(_model(mlp_apply, init=leaking_init), P0, X)
        jn.predict(_model(mlp_apply), P0, X)  # a pure model still passes with the old leaks
        # ours unfrozen, the process's own still frozen (a frozen object that dies leaves it)
        assert (frozen > 0) == frozen_before == (gc.get_freeze_count() > 0)
    finally:
        gc.unfreeze()


def test_an_apply_that_fails_is_reported_with_the_shapes():
    with pytest.raises(
        TypeError, match=r"apply\(params, X \(shape \(200, 3\)\).*failed when traced"
    ):
        jn.predict(MLP, P0, np.ones((200, 3), np.float32))


@pytest.mark.parametrize(
    "init, error, match",
    [
        (lambda key: "weights", TypeError, "init\\(key\\) must return a pytree of arrays"),
        (lambda key: {"w": 1.0}, TypeError, r"init\(key\)\['w'\] is a Python number"),
        (lambda key: {"w": jnp.zeros(2, jnp.int32)}, TypeError, "must be a float array"),
        (lambda key: {"w": print}, TypeError, "init\\(key\\) must return a pytree of arrays"),
    ],
    ids=["str", "python-float", "int-array", "function"],
)
def test_an_init_that_gives_no_pytree_of_arrays_is_refused(init, error, match):
    with pytest.raises(error, match=match):
        jn.fit(_model(mlp_apply, init=init), P0, X, y, verbose=0)


def test_params_that_do_not_fit_the_init_are_refused():
    with pytest.raises(ValueError, match=r"must have the tree of model 'mlp'.*\['W3'\]"):
        jn.fit(MLP, {**P0, "W3": jnp.ones(2)}, X, y, verbose=0)
    with pytest.raises(ValueError, match=r"params\['W1'\] has shape \(3, 8\), expected \(2, 8\)"):
        jn.fit(MLP, {**P0, "W1": jnp.ones((3, 8))}, X, y, verbose=0)
    with pytest.raises(TypeError, match=r"params\['b1'\]\[0\]\[0\] must be an array.*got float"):
        jn.fit(MLP, {**P0, "b1": [[0.0] * 8]}, X, y, verbose=0)
    with pytest.raises(ValueError, match=r"params\['b2'\] must be finite"):
        jn.fit(MLP, {**P0, "b2": jnp.array([[np.nan]])}, X, y, verbose=0)
    with pytest.raises(TypeError, match="must be the pair \\(params, state\\).*got dict"):
        jn.fit(BN_DROPOUT, P0, X, y, key=jax.random.key(0), verbose=0)


def test_a_stateful_apply_must_return_its_state():
    def no_state(params, state, X, *, key, train):
        return bn_apply(params, state, X, key=key, train=train)[0]

    def wrong_state(params, state, X, *, key, train):
        return bn_apply(params, state, X, key=key, train=train)[0], {"mean": state["mean"]}

    for apply, error in ((no_state, TypeError), (wrong_state, ValueError)):
        model = jn.Model(bn_init, apply, loss="bce", stateful=True, name="bad")
        with pytest.raises(error, match="must return .*\\(Z, new_state\\)"):
            jn.predict(model, bn_init(jax.random.key(0)), X)


def test_a_model_with_dropout_says_so_when_traced_without_a_key():
    forgot = jn.Model(bn_init, bn_apply, loss="bce", stateful=True, name="forgot")
    ok = jn.fit(forgot, bn_init(jax.random.key(0)), X, y, epochs=1, verbose=0)  # key None: no mask
    assert len(ok[1]["loss"]) == 1

    def needs(params, X, *, key, train):
        return mlp_apply(params, X, key=key, train=train) * jax.random.bernoulli(key, 0.5, (1,))

    with pytest.raises(TypeError, match="failed when traced"):
        jn.fit(_model(needs), P0, X, y, verbose=0)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(init=None), TypeError, "init must be a function"),
        (dict(apply=3), TypeError, "apply must be a function"),
        (dict(loss="hinge"), ValueError, "unknown loss 'hinge'"),
        (dict(loss=3), TypeError, "loss must be a name"),
        (dict(output="softmax"), ValueError, "binary_cross_entropy needs a sigmoid output"),
        (dict(output="swish"), ValueError, "unknown activation 'swish'"),
        (dict(stateful=1), TypeError, "stateful must be True or False"),
        (dict(needs_key="yes"), TypeError, "needs_key must be True or False"),
        (dict(name=3), TypeError, "name must be a str"),
        (dict(input_shape=(0,)), ValueError, r"input_shape\[0\] must be an int >= 1"),
    ],
)
def test_bad_model_arguments(kwargs, error, match):
    args = dict(init=mlp_init, apply=mlp_apply, loss="bce") | kwargs
    init, apply = args.pop("init"), args.pop("apply")
    with pytest.raises(error, match=match):
        jn.Model(init, apply, **args)


def test_a_model_is_a_static_value():
    again = jn.Model(mlp_init, mlp_apply, loss="binary_cross_entropy", name="mlp")
    assert again == MLP and hash(again) == hash(MLP)
    assert jn.Model(mlp_init, mlp_apply, loss="mse") != MLP
    assert repr(BN_DROPOUT) == (
        "Model('bn', loss='binary_cross_entropy', output='sigmoid', stateful=True, needs_key=True)"
    )
    sized = jn.Model(mlp_init, mlp_apply, loss="bce", input_shape=(3,))
    with pytest.raises(
        ValueError,
        match=r"X has examples of shape \(2,\).*model 'mlp_apply' expects input_shape \(3,\)",
    ):
        jn.predict(sized, P0, X)
