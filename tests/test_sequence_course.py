"""The course's printed numbers ("Building your Recurrent Neural Network - Step by Step", course 5
week 1), reproduced batch-first in float64 from the same ``np.random.seed(1)`` draws.

The course's arrays are ``(n, m)`` and ``(n, m, T_x)``; here they are ``(m, n)`` and
``(m, T_x, n)``, so the course's ``a[4][1]`` (unit 4, example 1, every step) is ``a[1, :, 4]``.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnet import layers


@pytest.fixture(autouse=True)
def _float64(x64):
    """Every course check runs in float64 (the notebook's NumPy precision)."""


def _draw(*shapes):
    """The course's draws after ``np.random.seed(1)``, in its order."""
    np.random.seed(1)
    return [np.random.randn(*shape) for shape in shapes]


def _as_params(**arrays):
    """The course's arrays as params: biases ``(n, 1)`` become ``(n,)``."""
    return {k: jnp.asarray(v.ravel() if k[0] == "b" else v) for k, v in arrays.items()}


def _rnn_params(Wax, Waa, Wya, ba, by):
    return _as_params(Wax=Wax, Waa=Waa, Wya=Wya, ba=ba, by=by)


def _lstm_params(Wf, bf, Wi, bi, Wo, bo, Wc, bc, Wy, by):
    names = ("Wf", "bf", "Wi", "bi", "Wo", "bo", "Wc", "bc", "Wy", "by")
    return _as_params(**dict(zip(names, (Wf, bf, Wi, bi, Wo, bo, Wc, bc, Wy, by))))


def _batch_first(x):
    """The course's ``(n, m, T_x)`` as ``(m, T_x, n)``."""
    return jnp.asarray(x.transpose(1, 2, 0))


def test_rnn_cell_forward():
    xt, a_prev, Waa, Wax, Wya, ba, by = _draw(
        (3, 10), (5, 10), (5, 5), (5, 3), (2, 5), (5, 1), (2, 1)
    )
    params = _rnn_params(Wax, Waa, Wya, ba, by)
    a_next, yt_pred, _ = layers.rnn_cell_forward(jnp.asarray(xt.T), jnp.asarray(a_prev.T), params)
    assert a_next.shape == (10, 5) and yt_pred.shape == (10, 2)  # the course's (5, 10), (2, 10)
    np.testing.assert_allclose(
        a_next[:, 4],
        [0.59584544, 0.18141802, 0.61311866, 0.99808218, 0.85016201, 0.99980978, -0.18887155, 0.99815551, 0.6531151, 0.82872037],
        atol=1e-8,
    )  # fmt: skip
    np.testing.assert_allclose(
        yt_pred[:, 1],
        [0.9888161, 0.01682021, 0.21140899, 0.36817467, 0.98988387, 0.88945212, 0.36920224, 0.9966312, 0.9982559, 0.17746526],
        atol=1e-8,
    )  # fmt: skip


def _rnn_forward_case():
    x, a0, Waa, Wax, Wya, ba, by = _draw(
        (3, 10, 4), (5, 10), (5, 5), (5, 3), (2, 5), (5, 1), (2, 1)
    )
    params = _rnn_params(Wax, Waa, Wya, ba, by)
    return layers.rnn_forward(_batch_first(x), jnp.asarray(a0.T), params), ba


def test_rnn_forward():
    (a, y_pred, _), _ = _rnn_forward_case()
    assert a.shape == (10, 4, 5) and y_pred.shape == (
        10,
        4,
        2,
    )  # the course's (5, 10, 4), (2, 10, 4)
    np.testing.assert_allclose(
        a[1, :, 4], [-0.99999375, 0.77911235, -0.99861469, -0.99833267], atol=1e-8
    )
    np.testing.assert_allclose(
        y_pred[3, :, 1], [0.79560373, 0.86224861, 0.11118257, 0.81515947], atol=1e-8
    )


def test_rnn_cell_backward():
    """The notebook's cell draws a new ``b`` but passes the ``ba`` left over from the
    ``rnn_forward`` cell above it; its printed numbers need that ``ba``."""
    _, stale_ba = _rnn_forward_case()
    xt, a_prev, Wax, Waa, Wya, _, by, da_next = _draw(
        (3, 10), (5, 10), (5, 3), (5, 5), (2, 5), (5, 1), (2, 1), (5, 10)
    )
    params = _rnn_params(Wax, Waa, Wya, stale_ba, by)
    _, _, cache = layers.rnn_cell_forward(jnp.asarray(xt.T), jnp.asarray(a_prev.T), params)
    g = layers.rnn_cell_backward(jnp.asarray(da_next.T), cache)
    assert g["dxt"].shape == (10, 3) and g["dWax"].shape == (5, 3) and g["dba"].shape == (5,)
    np.testing.assert_allclose(g["dxt"][2, 1], -0.4605641030588796, rtol=1e-10)
    np.testing.assert_allclose(g["da_prev"][3, 2], 0.08429686538067671, rtol=1e-10)
    np.testing.assert_allclose(g["dWax"][3, 1], 0.3930818739219304, rtol=1e-10)
    np.testing.assert_allclose(g["dWaa"][1, 2], -0.2848395578696066, rtol=1e-10)
    np.testing.assert_allclose(g["dba"][4], 0.80517166, atol=1e-8)


def test_rnn_backward():
    x, a0, Wax, Waa, Wya, ba, by, da = _draw(
        (3, 10, 4), (5, 10), (5, 3), (5, 5), (2, 5), (5, 1), (2, 1), (5, 10, 4)
    )
    params = _rnn_params(Wax, Waa, Wya, ba, by)
    _, _, caches = layers.rnn_forward(_batch_first(x), jnp.asarray(a0.T), params)
    g = layers.rnn_backward(_batch_first(da), caches)
    assert g["dx"].shape == (10, 4, 3) and g["da0"].shape == (10, 5)  # (3, 10, 4), (5, 10)
    np.testing.assert_allclose(
        g["dx"][2, :, 1], [-2.07101689, -0.59255627, 0.02466855, 0.01483317], atol=1e-8
    )
    np.testing.assert_allclose(g["da0"][3, 2], -0.3149423751266499, rtol=1e-10)
    np.testing.assert_allclose(g["dWax"][3, 1], 11.264104496527777, rtol=1e-10)
    np.testing.assert_allclose(g["dWaa"][1, 2], 2.3033331265798926, rtol=1e-10)
    np.testing.assert_allclose(g["dba"][4], -0.74747722, atol=1e-8)


def _lstm_cell_case():
    shapes = [(3, 10), (5, 10), (5, 10)] + [(5, 8), (5, 1)] * 4 + [(2, 5), (2, 1), (5, 10), (5, 10)]
    xt, a_prev, c_prev, *weights, da_next, dc_next = _draw(*shapes)
    params = _lstm_params(*weights)
    out = layers.lstm_cell_forward(*(jnp.asarray(v.T) for v in (xt, a_prev, c_prev)), params)
    return out, jnp.asarray(da_next.T), jnp.asarray(dc_next.T)


def test_lstm_cell_forward():
    (a_next, c_next, yt, cache), _, _ = _lstm_cell_case()
    assert a_next.shape == c_next.shape == (10, 5) and yt.shape == (10, 2) and len(cache) == 10
    np.testing.assert_allclose(
        a_next[:, 4],
        [-0.66408471, 0.0036921, 0.02088357, 0.22834167, -0.85575339, 0.00138482, 0.76566531, 0.34631421, -0.00215674, 0.43827275],
        atol=1e-8,
    )  # fmt: skip
    np.testing.assert_allclose(
        c_next[:, 2],
        [0.63267805, 1.00570849, 0.35504474, 0.20690913, -1.64566718, 0.11832942, 0.76449811, -0.0981561, -0.74348425, -0.26810932],
        atol=1e-8,
    )  # fmt: skip
    np.testing.assert_allclose(
        yt[:, 1],
        [0.79913913, 0.15986619, 0.22412122, 0.15606108, 0.97057211, 0.31146381, 0.00943007, 0.12666353, 0.39380172, 0.07828381],
        atol=1e-8,
    )  # fmt: skip


def test_lstm_cell_backward():
    (*_, cache), da_next, dc_next = _lstm_cell_case()
    g = layers.lstm_cell_backward(da_next, dc_next, cache)
    assert g["dxt"].shape == (10, 3) and g["dWf"].shape == (5, 8) and g["dbo"].shape == (5,)
    expected = {
        ("dxt", 2, 1): 3.2305591151091884,
        ("da_prev", 3, 2): -0.06396214197109239,
        ("dc_prev", 3, 2): 0.7975220387970015,
        ("dWf", 3, 1): -0.14795483816449725,
        ("dWi", 1, 2): 1.0574980552259903,
        ("dWc", 3, 1): 2.3045621636876668,
        ("dWo", 1, 2): 0.3313115952892108,
    }
    for (name, i, j), value in expected.items():
        np.testing.assert_allclose(g[name][i, j], value, rtol=1e-10, err_msg=name)
    got = [g[k][4] for k in ("dbf", "dbi", "dbc", "dbo")]
    np.testing.assert_allclose(got, [0.18864637, -0.40142491, 0.25587763, 0.13893342], atol=1e-8)


def test_lstm_forward():
    shapes = [(3, 10, 7), (5, 10)] + [(5, 8), (5, 1)] * 4 + [(2, 5), (2, 1)]
    x, a0, *weights = _draw(*shapes)
    a, y, c, _ = layers.lstm_forward(_batch_first(x), jnp.asarray(a0.T), _lstm_params(*weights))
    assert a.shape == c.shape == (10, 7, 5) and y.shape == (10, 7, 2)  # (5, 10, 7), (2, 10, 7)
    np.testing.assert_allclose(a[3, 6, 4], 0.17211776753291672, rtol=1e-10)
    np.testing.assert_allclose(y[4, 3, 1], 0.9508734618501101, rtol=1e-10)
    np.testing.assert_allclose(c[2, 1, 1], -0.8555449167181981, rtol=1e-10)


def test_rnn_sample_follows_the_course_loop():
    """``rnn_sample`` draws what the course's loop draws with the same per-step keys."""
    rng = np.random.default_rng(0)
    vocab, n_a = 5, 7
    params = _rnn_params(
        rng.normal(size=(n_a, vocab)), rng.normal(size=(n_a, n_a)) * 0.5,
        rng.normal(size=(vocab, n_a)), rng.normal(size=(n_a, 1)), rng.normal(size=(vocab, 1)),
    )  # fmt: skip
    char_to_ix = {ch: i for i, ch in enumerate("\nabcd")}
    key = jax.random.key(3)
    indices = layers.rnn_sample(params, char_to_ix, key=key, max_length=12)
    a, x, expected = np.zeros(n_a), np.zeros(vocab), []
    for k in jax.random.split(key, 12):
        a = np.tanh(params["Wax"] @ x + params["Waa"] @ a + params["ba"])
        idx = int(jax.random.categorical(k, jnp.asarray(params["Wya"] @ a + params["by"])))
        expected.append(idx)
        if idx == 0:
            break
        x = np.eye(vocab)[idx]
    if expected[-1] != 0:
        expected.append(0)
    assert indices == expected
    cold = layers.rnn_sample(params, char_to_ix, key=key, max_length=12, temperature=1e-3)
    assert cold[0] == int(np.argmax(params["Wya"] @ np.tanh(params["ba"]) + params["by"]))
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        layers.rnn_sample(params, char_to_ix, key=key, temperature=0.0)
    with pytest.raises(ValueError, match="entry for the end character"):
        layers.rnn_sample(params, {"a": 1}, key=key)
