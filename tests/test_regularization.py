"""L2 regularisation (course 2, week 1): the cost and gradient formulas, padding, the dense
shorthand with dropout and batch norm, serialisation, and how L2 relates to optax's weight decay."""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import random_data, random_params

import jaxnet as jn
from jaxnet import network
from jaxnet.layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D

F64 = {"rtol": 1e-10, "atol": 1e-12}


def cnn(l2=0.3):
    return jn.Sequential(
        [Conv2D(3, 3, padding="same", activation="relu", l2=l2), BatchNorm(), MaxPool2D(2),
         Conv2D(2, 2, activation="tanh", l2=l2), AvgPool2D(2, strides=1), Flatten(), Dropout(0.25),
         Dense(3, "softmax", l2=2 * l2)],
        input_shape=(6, 6, 2),
    )  # fmt: skip


def test_the_cost_is_the_course_s_compute_cost_with_regularization(x64):
    """J = cross_entropy + (λ / 2m) (||W1||² + ||W2||² + ||W3||²), written out in NumPy."""
    lambd = 0.7
    net = jn.Network((3, 4, 3, 1), hidden_activation="relu", output_activation="sigmoid", l2=lambd)
    params = random_params(0, net, jnp.float64)
    X, Y = random_data(1, net, 5, jnp.float64)
    A = np.asarray(X)
    for l, p in enumerate(params):
        Z = A @ np.asarray(p["W"]).T + np.asarray(p["b"])
        A = np.maximum(Z, 0) if l < 2 else 1 / (1 + np.exp(-Z))
    y = np.asarray(Y)
    m = y.shape[0]
    cross_entropy = -np.mean(y * np.log(A) + (1 - y) * np.log(1 - A))
    l2_cost = lambd / (2 * m) * sum(np.sum(np.asarray(p["W"]) ** 2) for p in params)
    assert float(jn.cost(net, params, X, Y)) == pytest.approx(cross_entropy + l2_cost, rel=1e-12)
    assert float(jn.evaluate(net, params, X, Y)["loss"]) == pytest.approx(
        cross_entropy + l2_cost, rel=1e-12
    )


@pytest.mark.parametrize("train", (False, True))
def test_the_gradient_adds_lambda_over_m_W_and_nothing_else(train, x64):
    """dW += (λ/m) W on every weighted layer; biases, gamma/beta and the moving statistics
    get exactly the unregularised gradient."""
    net = cnn(l2=0.3)
    plain = network.without_l2(net)
    assert plain.l2 == (0.0,) * net.L and net.l2 == (0.3, 0, 0, 0.3, 0, 0, 0, 0.6)
    params = random_params(2, net, jnp.float64)
    X, Y = random_data(3, net, 6, jnp.float64)
    key = jax.random.key(4)
    g = jn.grads(net, params, X, Y, key=key, train=train)
    g0 = jn.grads(plain, params, X, Y, key=key, train=train)
    for l, (layer, p) in enumerate(zip(net.layers, params)):
        for name in p:
            extra = layer.l2 / 6 * p["W"] if name == "W" else 0.0
            chex.assert_trees_all_close(g[l][name], g0[l][name] + extra, **F64)
    J = jn.cost(net, params, X, Y, key=key, train=train)
    J0 = jn.cost(plain, params, X, Y, key=key, train=train)
    penalty = sum(lambd * jnp.sum(p["W"] ** 2) for lambd, p in zip(net.l2, params) if lambd)
    assert float(J) == pytest.approx(float(J0 + penalty / (2 * 6)), rel=1e-12)


@jax.jit
def _both(params, X, Y, weights, key):
    return tuple(
        network.loss_and_grads(NET, params, X, Y, weights, backprop, key=key, train=True)[:3:2]
        for backprop in ("manual", "autodiff")
    )


NET = jn.Network(
    (4, 6, 5, 3), hidden_activation="tanh", output_activation="softmax", l2=0.9, batch_norm=True
)


def test_padded_rows_change_nothing(x64):
    """With weights, m is sum(weights): rows of weight 0 change neither J nor the gradients,
    by hand or by autodiff (the minibatch and the mesh pad with such rows)."""
    params = random_params(5, NET, jnp.float64)
    X, labels = random_data(6, NET, 7, jnp.float64)
    Y = jax.nn.one_hot(labels, 3, dtype=jnp.float64)
    padded_X = jnp.concatenate([X, 10 * X[:3]])
    padded_Y = jnp.concatenate([Y, Y[:3]])
    weights = jnp.concatenate([jnp.ones(7), jnp.zeros(3)])
    (J, g), (J_auto, g_auto) = _both(params, X, Y, None, None)
    (Jp, gp), (Jp_auto, gp_auto) = _both(params, padded_X, padded_Y, weights, None)
    chex.assert_trees_all_close((Jp, gp), (J, g), **F64)
    chex.assert_trees_all_close((Jp_auto, gp_auto), (J, g), **F64)
    chex.assert_trees_all_close((J_auto, g_auto), (J, g), **F64)


def test_per_layer_lambdas_and_sequential_s_l2_override():
    layers = [Dense(5, "relu", l2=0.1), Dropout(0.5), Dense(2, "softmax", l2=0.2)]
    own = jn.Sequential(layers, input_shape=(3,))
    assert own.l2 == (0.1, 0.0, 0.2)
    every = jn.Sequential(layers, input_shape=(3,), l2=0.5)
    assert every.l2 == (0.5, 0.0, 0.5)
    off = jn.Sequential(layers, input_shape=(3,), l2=0)
    assert off.l2 == (0.0, 0.0, 0.0) and off == network.without_l2(own)
    assert own != every and hash(own) != hash(every)
    conv = jn.Sequential([Conv2D(2, 3), Flatten(), Dense(1, "sigmoid")], (4, 4, 1), l2=1e-3)
    assert conv.l2 == (1e-3, 0.0, 1e-3)


def test_the_dense_shorthand():
    """Order per hidden layer: Dense -> BatchNorm -> Dropout; the output layer is a plain Dense(l2)."""
    net = jn.Network((2, 20, 3, 1), hidden_activation="relu", output_activation="sigmoid", dropout=0.14, l2=0.7,
                     batch_norm=True)  # fmt: skip
    assert net.layers == (
        Dense(20, "relu", l2=0.7), BatchNorm(), Dropout(0.14),
        Dense(3, "relu", l2=0.7), BatchNorm(), Dropout(0.14),
        Dense(1, "sigmoid", l2=0.7),
    )  # fmt: skip
    assert net.needs_key and not net.is_dense
    assert jn.Network((2, 3, 1), dropout=0.0, batch_norm=False, l2=0.0) == jn.Network((2, 3, 1))
    assert jn.Network((2, 1), dropout=0.5, batch_norm=True).layers == (Dense(1, "sigmoid"),)
    l2_only = jn.Network((2, 3, 1), l2=0.5)
    assert l2_only.is_dense and l2_only.sizes == (2, 3, 1) and l2_only.l2 == (0.5, 0.5)
    assert repr(l2_only).startswith("Sequential([Dense(units=3, activation='relu', l2=0.5)")


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: Dense(3, l2=-0.1), ValueError, r"l2 must be a finite number >= 0, got l2=-0.1"),
        (lambda: Dense(3, l2=float("nan")), ValueError, "l2 must be a finite number >= 0"),
        (lambda: Dense(3, l2=float("inf")), ValueError, "l2 must be a finite number >= 0"),
        (lambda: Dense(3, l2=True), TypeError, r"got l2=True"),
        (lambda: Dense(3, l2="0.1"), TypeError, r"got l2='0.1'"),
        (lambda: Dense(3, l2=None), TypeError, r"got l2=None"),
        (lambda: Conv2D(3, 3, l2=-1), ValueError, r"l2 must be a finite number >= 0"),
        (lambda: Conv2D(3, 3, l2=np.inf), ValueError, r"l2 must be a finite number >= 0"),
        (lambda: jn.Network((2, 1), l2=-1), ValueError, r"got l2=-1"),
        (lambda: jn.Network((2, 1), l2=False), TypeError, r"got l2=False"),
        (lambda: jn.Sequential([Dense(1)], (2,), l2=-2.0), ValueError, r"got l2=-2.0"),
        (lambda: jn.Sequential([Dense(1)], (2,), l2=np.nan), ValueError, r"got l2=nan"),
        (
            lambda: jn.Network((2, 3, 1), dropout=1.0),
            ValueError,
            r"dropout must be a number in \[0, 1\), got",
        ),
        (lambda: jn.Network((2, 3, 1), dropout=-0.1), ValueError, r"got dropout=-0.1"),
        (lambda: jn.Network((2, 3, 1), dropout=True), TypeError, r"got dropout=True"),
        (
            lambda: jn.Network.from_dict(
                {
                    "input_shape": [2],
                    "layers": [{"kind": "dense", "units": 1, "l2": -1}],
                    "loss": "mse",
                }
            ),
            ValueError,
            r"l2 must be a finite number >= 0",
        ),  # fmt: skip
    ],
)
def test_bad_l2_and_dropout_name_the_argument(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_batch_norm_must_be_a_bool():
    with pytest.raises(TypeError, match="batch_norm must be True or False, got batch_norm='yes'"):
        jn.Network((2, 3, 1), batch_norm="yes")


def test_json_round_trips():
    regularised = jn.Network(
        (2, 4, 1), hidden_activation="tanh", l2=0.25, dropout=0.5, batch_norm=True
    )
    for net in (regularised, jn.Network((2, 4, 1), l2=0.25), cnn()):
        d = json.loads(json.dumps(net.to_dict()))
        assert jn.Network.from_dict(d) == net
    assert jn.Network((2, 4, 1), l2=0.25).to_dict()["layers"][0] == {
        "kind": "dense", "units": 4, "activation": "relu", "l2": 0.25,
    }  # fmt: skip
    # l2 = 0 is left out, so unregularised nets (and old checkpoints) keep their dicts
    assert Conv2D(2, 3).to_dict() == {"kind": "conv2d", "filters": 2, "kernel_size": 3,
                                      "strides": 1, "padding": "valid", "activation": None}  # fmt: skip
    old = {"sizes": [2, 4, 1], "activations": ["tanh", "sigmoid"], "loss": "binary_cross_entropy"}
    assert jn.Network.from_dict(old).to_dict() == old
    assert repr(Conv2D(2, 3, l2=0.5)).endswith("activation=None, l2=0.5)")


def _one_step(net, params, X, Y, tx):
    grads = network.grads(net, params, X, Y)
    updates, _ = tx.update(grads, tx.init(params), params)
    return optax.apply_updates(params, updates)


def test_l2_is_decoupled_weight_decay_under_sgd_only(x64):
    """SGD on the L2 cost == SGD with optax.add_decayed_weights(λ/m) on the data cost (one
    step, every step). Under Adam they differ: Adam + L2 rescales (λ/m) W by the adaptive
    denominators, AdamW (decoupled) does not. Biases are decayed by neither here."""
    lambd, lr = 0.8, 0.1
    net = jn.Network((3, 5, 2), hidden_activation="tanh", output_activation="softmax", l2=lambd)
    plain = network.without_l2(net)
    params = random_params(7, net, jnp.float64)
    X, labels = random_data(8, net, 10, jnp.float64)
    Y = jax.nn.one_hot(labels, 2, dtype=jnp.float64)
    wd = lambd / X.shape[0]
    weights_only = jax.tree.map(lambda p: p.ndim == 2, params)  # decay W, not b
    l2_step = _one_step(net, params, X, Y, optax.sgd(lr))
    decoupled = optax.chain(optax.add_decayed_weights(wd, mask=weights_only), optax.sgd(lr))
    chex.assert_trees_all_close(l2_step, _one_step(plain, params, X, Y, decoupled), **F64)
    adam_l2 = _one_step(net, params, X, Y, optax.adam(lr))
    adamw = _one_step(plain, params, X, Y, optax.adamw(lr, weight_decay=wd, mask=weights_only))
    assert jn.relative_difference(adam_l2, adamw) > 1e-3
    # the biases are the same (neither decays them); the W's are not
    chex.assert_trees_all_close([p["b"] for p in adam_l2], [p["b"] for p in adamw], **F64)


def test_fit_with_l2_is_the_hand_loop_with_minibatch_m(x64):
    """Unshuffled batches of 4 of 10 rows: the last batch is padded to 4 with weight-0 rows;
    each step's penalty uses that batch's real count (4, 4, 2), as a hand loop over the short
    batches does."""
    net = jn.Network((3, 4, 1), hidden_activation="tanh", l2=0.6)
    params = random_params(9, net, jnp.float64)
    X, Y = random_data(10, net, 10, jnp.float64)
    expected, losses = params, []
    for _ in range(2):
        for batch in (slice(0, 4), slice(4, 8), slice(8, 10)):
            losses.append(float(jn.cost(net, expected, X[batch], Y[batch])))
            grads = jn.grads(net, expected, X[batch], Y[batch])
            expected = jax.tree.map(lambda p, g: p - 0.5 * g, expected, grads)
    trained, history = jn.fit(net, params, X, Y, learning_rate=0.5, epochs=2, batch_size=4,
                              shuffle=False, verbose=0)  # fmt: skip
    chex.assert_trees_all_close(trained, expected, rtol=1e-10, atol=1e-12)
    # the epoch loss is the example-weighted mean of the batches' costs
    per_epoch = [np.average(losses[i : i + 3], weights=[4, 4, 2]) for i in (0, 3)]
    np.testing.assert_allclose(history["loss"], per_epoch, rtol=1e-10)


def test_l2_shrinks_the_weights():
    X, Y = random_data(11, jn.Network((4, 1)), 40)
    norms = []
    for lambd in (0.0, 1.0, 10.0):
        net = jn.Network((4, 16, 1), hidden_activation="relu", l2=lambd)
        params = jn.init(jax.random.key(0), net)
        trained, _ = jn.fit(net, params, X, Y, learning_rate=0.3, epochs=200, verbose=0)
        norms.append(sum(float(jnp.sum(p["W"] ** 2)) for p in trained))
    assert norms[0] > norms[1] > norms[2]


def test_fit_ensemble_of_a_regularised_net_is_k_fits():
    """λ is part of the static network, so one vmapped run sweeps seeds and learning rates of
    a regularised net (in the course's examples-last layout for a net this narrow); a λ sweep
    is one run per λ."""
    net = jn.Network((3, 4, 1), hidden_activation="tanh", l2=0.5, dropout=0.2)
    X, Y = random_data(12, net, 21)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(1), 3), net)
    keys = jax.random.split(jax.random.key(2), 3)
    rates = np.array([0.05, 0.2, 0.5], np.float32)
    kw = dict(epochs=3, batch_size=5, verbose=0)
    trained, _ = jn.fit_ensemble(net, stacked, X, Y, keys=keys, learning_rate=rates, **kw)
    for k in range(3):
        one = jax.tree.map(lambda a, k=k: a[k], stacked)
        single, _ = jn.fit(net, one, X, Y, key=keys[k], learning_rate=float(rates[k]), **kw)
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, k=k: a[k], trained), single, rtol=2e-5, atol=2e-6
        )
