"""Training networks with randomness (dropout) and state (batch norm): keys and stats, by hand.

The training side of the layer protocol: a network that ``needs_key`` gets the key of
global step ``s`` from ``fold_in(fold_in(key, STEP_KEYS), s)`` (never a shuffle key
``fold_in(key, epoch)``), and non-trainable leaves take the forward pass's ``stats``,
not the optimiser's update. Each is checked against a hand-written loop over the core.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import network
from jaxnet.layers import BatchNorm, Dense, Dropout
from jaxnet.training import engine

M, B = 22, 5
STEP_KEYS = engine._STEP_KEYS


def data(dtype=np.float64):
    X = np.random.default_rng(0).standard_normal((M, 3)).astype(dtype)
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)


def dropout_net(rate=0.5):
    return jn.Sequential([Dense(6, "relu"), Dropout(rate), Dense(1, "sigmoid")], input_shape=(3,))


def batchnorm_net():
    return jn.Sequential([Dense(6, "linear"), BatchNorm(), Dense(1, "sigmoid")], input_shape=(3,))


def step_key(key, step):
    return jax.random.fold_in(jax.random.fold_in(key, STEP_KEYS), step)


@functools.partial(jax.jit, static_argnames="net")
def sgd_step(net, params, X, Y, lr, key):
    """One step of sgd on ``network.loss_and_grads`` in training mode: ``(params, J)``
    (compiled once per batch shape: the loop below runs it eagerly step by step)."""
    J, _, grads, stats = network.loss_and_grads(
        net, params, X, Y, None, "manual", key=key, train=True
    )
    return network.with_stats(net, jax.tree.map(lambda p, g: p - lr * g, params, grads), stats), J


def hand_loop(net, params, X, Y, lr, steps, key, batches=None):
    """sgd on ``network.loss_and_grads`` in training mode, step s with :func:`step_key`;
    ``batches`` (a list of index arrays, one per step) or full batch. Returns params, losses."""
    Y = np.asarray(Y, X.dtype)[:, None]
    losses = []
    for s in range(steps):
        idx = slice(None) if batches is None else batches[s]
        k = step_key(key, s) if net.needs_key else None
        params, J = sgd_step(net, params, X[idx], Y[idx], lr, k)
        losses.append(float(J))
    return params, losses


@pytest.mark.parametrize("net", [dropout_net(), batchnorm_net()], ids=["dropout", "batch_norm"])
def test_full_batch_fit_is_the_hand_loop(net, x64):
    X, Y = data()
    params = jn.init(jax.random.key(1), net, dtype=jnp.float64)
    key = jax.random.key(7)
    expected, losses = hand_loop(net, params, X, Y, 0.3, 12, key)
    trained, history = jn.fit(net, params, X, Y, learning_rate=0.3, epochs=12, key=key, verbose=0)
    np.testing.assert_allclose(history["loss"], losses, rtol=1e-10)
    chex.assert_trees_all_close(trained, expected, rtol=1e-10, atol=1e-12)


def test_minibatch_dropout_keys_follow_the_global_step(x64):
    """Unshuffled batches of 5 over 3 epochs: step s = 5 e + b draws its mask from step_key(key, s)."""
    net = dropout_net()
    X, Y = data()
    params = jn.init(jax.random.key(2), net, dtype=jnp.float64)
    key = jax.random.key(8)
    per_epoch = [np.arange(i, min(i + B, M)) for i in range(0, M, B)]
    expected, _ = hand_loop(net, params, X, Y, 0.3, 15, key, per_epoch * 3)
    trained, _ = jn.fit(
        net, params, X, Y, learning_rate=0.3, epochs=3, batch_size=B, shuffle=False,
        key=key, verbose=0,
    )  # fmt: skip
    chex.assert_trees_all_close(trained, expected, rtol=1e-10, atol=1e-12)


def test_dropout_needs_a_key_and_follows_it():
    net = dropout_net()
    X, Y = data(np.float32)
    params = jn.init(jax.random.key(3), net)
    with pytest.raises(ValueError, match="key"):
        jn.fit(net, params, X, Y, epochs=2, verbose=0)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(3), 2), net)
    with pytest.raises(ValueError, match="keys"):
        jn.fit_ensemble(net, stacked, X, Y, epochs=2, verbose=0)
    a, _ = jn.fit(net, params, X, Y, epochs=3, key=jax.random.key(4), verbose=0)
    b, _ = jn.fit(net, params, X, Y, epochs=3, key=jax.random.key(4), verbose=0)
    c, _ = jn.fit(net, params, X, Y, epochs=3, key=jax.random.key(5), verbose=0)
    chex.assert_trees_all_equal(a, b)
    assert not np.array_equal(a[0]["W"], c[0]["W"])
    # rate 0 draws nothing: no key needed, and it is the network without dropout
    plain = jn.Sequential([Dense(6, "relu"), Dense(1, "sigmoid")], input_shape=(3,))
    d, _ = jn.fit(dropout_net(0.0), params, X, Y, epochs=3, verbose=0)
    e, _ = jn.fit(plain, (params[0], params[2]), X, Y, epochs=3, verbose=0)
    chex.assert_trees_all_equal((d[0], d[2]), e)


def test_batch_norm_trains_its_moving_statistics_and_validates_with_them():
    net = batchnorm_net()
    X, Y = data(np.float32)
    params = jn.init(jax.random.key(6), net)
    trained, history = jn.fit(
        net, params, X, Y, learning_rate=0.1, epochs=4, batch_size=B, key=jax.random.key(1),
        validation_data=(X, Y), verbose=0,
    )  # fmt: skip
    bn = trained[1]
    assert not np.allclose(bn["moving_mean"], 0) and not np.allclose(bn["moving_var"], 1)
    final = jn.evaluate(net, trained, X, Y)  # inference mode: the moving statistics
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-5)


@pytest.mark.parametrize("net", [dropout_net(), batchnorm_net()], ids=["dropout", "batch_norm"])
def test_fit_ensemble_equals_sequential_fits(net):
    X, Y = data(np.float32)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(9), 3), net)
    keys = jax.random.split(jax.random.key(10), 3)
    kw = dict(learning_rate=0.2, epochs=3, batch_size=B, verbose=0)
    trained, histories = jn.fit_ensemble(net, stacked, X, Y, keys=keys, **kw)
    for k in range(3):
        single, history = jn.fit(
            net, jax.tree.map(lambda a, k=k: a[k], stacked), X, Y, key=keys[k], **kw
        )
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, k=k: a[k], trained), single, rtol=2e-5, atol=2e-6
        )
        np.testing.assert_allclose(histories[k]["loss"], history["loss"], rtol=2e-5)


@pytest.mark.parametrize("net", [dropout_net(), batchnorm_net()], ids=["dropout", "batch_norm"])
def test_resume_is_bitwise(tmp_path, net):
    X, Y = data(np.float32)
    params = jn.init(jax.random.key(11), net)
    kw = dict(optimizer="adam", batch_size=B, key=jax.random.key(12), verbose=0)
    straight, h_straight = jn.fit(net, params, X, Y, epochs=4, **kw)
    jn.fit(net, params, X, Y, epochs=2, checkpoint_dir=tmp_path, **kw)
    resumed, h_resumed = jn.fit(net, params, X, Y, epochs=4, resume_from=tmp_path, **kw)
    chex.assert_trees_all_equal(resumed, straight)
    assert h_resumed["loss"] == h_straight["loss"]
