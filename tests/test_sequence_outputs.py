"""Networks that output a sequence (a softmax at every step): the per-step loss, its hand-derived
gradient == autodiff in float64, masked steps left out of the means, jn.fit learning a toy
sequence task end to end (evaluate, predict, per-example gradients, checkpoints and resume),
and labels of the wrong shape refused naming both shapes."""

import functools
import json
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import network
from jaxnet.io import checkpoint
from jaxnet.layers import GRU, LSTM, AttentionDecoder, Bidirectional, Dense, Embedding, SimpleRNN

F64 = {"rtol": 1e-10, "atol": 1e-12}
V, T = 4, 5


def _lm(T=T, mask_zero=False, cell=LSTM, output="softmax"):
    """Ids (m, T) -> a distribution over V at every step (the dinosaur LM's shape)."""
    layers = [
        Embedding(V, 3, mask_zero=mask_zero),
        cell(4, return_sequences=True),
        Dense(V, output),
    ]
    return jn.Sequential(layers, input_shape=(T,))


@functools.partial(jax.jit, static_argnames=("net", "backprop"))
def _loss_and_grads(net, params, X, Y, weights, backprop):
    return network.loss_and_grads(net, params, X, Y, weights, backprop)


def _delay_task(m=256, seed=0):
    """The output at step t is the input id at step t - 1 (0 at the first step)."""
    X = np.random.default_rng(seed).integers(1, V, (m, T))
    return X.astype(np.float32), np.concatenate([np.zeros((m, 1), int), X[:, :-1]], axis=1)


@pytest.mark.parametrize(
    "net",
    [
        _lm(mask_zero=True),
        _lm(cell=GRU, output="sigmoid"),  # binary cross-entropy per step, several units
        _lm(cell=SimpleRNN, output="tanh"),  # unfused: squared error through tanh
        jn.Sequential(  # the date translator's shape: encoder T_x = 5, decoder T_y = 3
            [
                Embedding(V, 3),
                Bidirectional(LSTM(2, return_sequences=True)),
                AttentionDecoder(3, V, n_s=4, n_e=3),
            ],
            input_shape=(T,),
        ),  # fmt: skip
    ],
    ids=["lstm-masked-softmax", "gru-sigmoid", "rnn-tanh-mse", "attention-decoder"],
)
def test_hand_derived_equals_autodiff_in_float64(net, x64):
    """The weighted batch (a padded row of weight 0) and padded steps (id 0) anywhere."""
    rng = np.random.default_rng(3)
    params = jn.init(jax.random.key(0), net, scheme="xavier", dtype=jnp.float64)
    X = jnp.asarray(rng.integers(0, V, (6, T)), jnp.float64).at[:, 0].set(1)
    Y = jnp.asarray(rng.random((6, *net.output_shape)), jnp.float64)
    if net.task == "multiclass":
        Y = jax.nn.one_hot(Y.argmax(-1), V, dtype=jnp.float64)
    elif net.task != "regression":
        Y = jnp.round(Y)
    weights = jnp.array([1.0, 1, 1, 1, 1, 0])
    manual = _loss_and_grads(net, params, X, Y, weights, "manual")
    autodiff = _loss_and_grads(net, params, X, Y, weights, "autodiff")
    chex.assert_trees_all_close(manual[0], autodiff[0], **F64)
    chex.assert_trees_all_close(manual[2], autodiff[2], **F64)


def test_padded_steps_count_zero_and_a_sequence_keeps_its_own_loss(x64):
    """Sequences of 2, 3 and 5 real steps padded to 6 (id 0 after them): the batch's loss and
    gradients are the means of each sequence's alone (its own T), and the per-step accuracy
    counts the real steps only."""
    sequences = ([1, 2], [3, 1, 2], [2, 3, 1, 1, 2])
    targets = ([2, 3], [1, 1, 3], [3, 3, 2, 1, 1])
    X = np.zeros((3, 6)), np.zeros((3, 6), int)
    for i, (s, y) in enumerate(zip(sequences, targets)):
        X[0][i, : len(s)], X[1][i, : len(y)] = s, y
    X, Y = X[0], X[1]
    X[2, 0] = 0  # padding before the real steps too
    X[2, 1 : 1 + 5], Y[2] = sequences[2], [0, *targets[2]]
    net = _lm(6, mask_zero=True)
    params = jn.init(jax.random.key(0), net, scheme="xavier", dtype=jnp.float64)
    Y_hot = jax.nn.one_hot(Y, V, dtype=jnp.float64)
    loss, _, grads, _ = _loss_and_grads(net, params, jnp.asarray(X), Y_hot, None, "manual")
    alone = []
    for s, y in zip(sequences, targets):
        x, y = jnp.array([s], jnp.float64), jax.nn.one_hot(jnp.array([y]), V, dtype=jnp.float64)
        J, _, g, _ = _loss_and_grads(_lm(len(s), mask_zero=True), params, x, y, None, "manual")
        alone.append((J, g))
    chex.assert_trees_all_close((loss, grads), jax.tree.map(lambda *v: sum(v) / 3, *alone), **F64)
    labels = np.asarray(jn.predict(net, params, X))
    real = X != 0
    per_example = [(labels[i] == Y[i])[real[i]].mean() for i in range(3)]
    assert labels.shape == (3, 6)
    assert jn.evaluate(net, params, X, Y)["accuracy"] == pytest.approx(np.mean(per_example))


def test_fit_learns_a_sequence_task_end_to_end(tmp_path):
    """jn.fit on labels (m, T) with both backprops, evaluate, predict, per-example gradients,
    one-hot labels (m, T, V), fit_ensemble and a bitwise resume."""
    X, Y = _delay_task()
    net = _lm(cell=SimpleRNN)
    params = jn.init(jax.random.key(0), net)
    kw = dict(optimizer="adam", learning_rate=0.02, batch_size=64, key=jax.random.key(1), verbose=0)
    trained, history = jn.fit(net, params, X, Y, epochs=20, validation_data=(X[:50], Y[:50]), **kw)
    assert history["accuracy"][-1] == 1.0 and history["val_accuracy"][-1] == 1.0
    assert jn.evaluate(net, trained, X, Y) == pytest.approx(
        {"loss": history["loss"][-1], "accuracy": 1.0}, abs=0.05
    )
    np.testing.assert_array_equal(np.asarray(jn.predict(net, trained, X[:8])), Y[:8])
    autodiff = jn.fit(net, params, X, Y, epochs=2, backprop="autodiff", **kw)[1]["loss"]
    one_hot = jn.fit(net, params, X, np.eye(V)[Y], epochs=2, **kw)[1]["loss"]
    np.testing.assert_allclose(autodiff, history["loss"][:2], rtol=1e-5)
    assert one_hot == history["loss"][:2]

    per_example = jn.per_example_grads(net, trained, X[:6], Y[:6])
    chex.assert_trees_all_close(
        jax.tree.map(lambda g: g.mean(axis=0), per_example),
        jn.grads(net, trained, X[:6], Y[:6]),
        rtol=1e-4, atol=1e-7,
    )  # fmt: skip

    first = jn.fit(net, params, X, Y, epochs=1, checkpoint_dir=tmp_path, **kw)
    assert checkpoint.read_metadata(tmp_path)["step"] == 1
    resumed = jn.fit(net, params, X, Y, epochs=2, resume_from=tmp_path, **kw)
    assert resumed[1]["loss"] == [first[1]["loss"][0], history["loss"][1]]

    stacked = jax.tree.map(lambda a: jnp.stack([a, a]), params)
    keys = jnp.stack([jax.random.key(1)] * 2)
    _, histories = jn.fit_ensemble(net, stacked, X, Y, epochs=2, keys=keys, **{
        k: v for k, v in kw.items() if k != "key"})  # fmt: skip
    assert [h["loss"] for h in histories] == [history["loss"][:2]] * 2


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.zeros((8, 3), int), r"Y has shape \(8, 3\), expected integer ids \(8, 5\) or one-hot \(8, 5, 4\)"),
        (np.zeros((8, 5, 2)), r"Y has shape \(8, 5, 2\), expected integer ids \(8, 5\) or one-hot \(8, 5, 4\): the network outputs a sequence, 5 steps of 4 units"),
        (np.zeros(8, int), r"Y has shape \(8,\), expected integer ids \(8, 5\)"),
        (np.full((8, 5), 4), r"Y must hold labels in 0\.\.3"),
        (np.full((8, 5, 4), 0.5), "Y must be one-hot rows"),
    ],
)  # fmt: skip
def test_labels_of_the_wrong_shape_are_refused_naming_both_shapes(labels, match):
    net = _lm()
    params = jn.init(jax.random.key(0), net)
    with pytest.raises(ValueError, match=match):
        jn.fit(net, params, np.ones((8, T)), labels, epochs=1, verbose=0)


def test_backward_of_a_masked_sequence_points_to_grads():
    """jn.backward takes the caches, which do not hold the mask made from X: refused."""
    net = _lm(mask_zero=True)
    params = jn.init(jax.random.key(0), net)
    X, Y = _delay_task(4)
    _, caches = jn.forward_with_caches(net, params, X)
    with pytest.raises(ValueError, match=r"jn.backward needs the mask.*use jn.grads"):
        jn.backward(net, params, caches, Y)
    plain = _lm()
    _, caches = jn.forward_with_caches(plain, params, X)
    chex.assert_trees_all_close(
        jn.backward(plain, params, caches, Y), jn.grads(plain, params, X, Y), rtol=1e-6
    )


def test_gradcheck_summary_and_json_of_a_sequence_output():
    """Finite differences agree (masked steps, float64 inside gradcheck); the summary shows the
    output per step; the network survives a JSON round trip."""
    net = _lm(mask_zero=True, cell=SimpleRNN)
    params = jn.init(jax.random.key(0), net, scheme="xavier")
    X, Y = _delay_task(4)
    X[:2, 3:] = 0
    assert jn.gradcheck(net, params, X, Y).passed
    assert re.search(r"dense_1 \(Dense\) +\(None, 5, 4\) +softmax", jn.format_summary(net))
    assert jn.Network.from_dict(json.loads(json.dumps(net.to_dict()))) == net
