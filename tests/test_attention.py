"""Attention (course 5, week 3): the one-step attention block and the AttentionDecoder layer,
their hand-derived backwards == jax.vjp in float64 and == finite differences, the attention
weights, a network with the decoder (hand backprop == autodiff, summary, JSON) and the errors
for inputs that do not fit (the generic vjp test over tests/layer_cases.py covers it too)."""

import functools
import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_checks import assert_finite_differences, vjp_in_layer_convention

import jaxnet as jn
from jaxnet.layers import (
    LSTM,
    AttentionDecoder,
    Bidirectional,
    Dense,
    Flatten,
    attention_weights,
    one_step_attention_backward,
    one_step_attention_forward,
)

F64 = {"rtol": 1e-10, "atol": 1e-12}


def _attention_params(rng, n_enc, n_s, n_e):
    shapes = {"W1": (n_e, n_enc + n_s), "b1": (n_e,), "W2": (1, n_e), "b2": (1,)}
    return {k: jnp.asarray(rng.normal(size=s)) for k, s in shapes.items()}


@functools.partial(jax.jit, static_argnames=("energy",))
def _attention_manual_and_vjp(a, s_prev, params, dcontext, *, energy):
    context, cache = one_step_attention_forward(a, s_prev, params, energy=energy)
    manual = one_step_attention_backward(dcontext, cache, energy=energy)
    forward = lambda a, s, p: one_step_attention_forward(a, s, p, energy=energy)[0]  # noqa: E731
    da, ds_prev, dp = jax.vjp(forward, a, s_prev, params)[1](dcontext)
    return manual, {"da": da, "ds_prev": ds_prev} | {f"d{k}": v for k, v in dp.items()}


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    m=st.integers(1, 4),
    T_x=st.integers(1, 5),
    n_enc=st.integers(1, 4),
    n_s=st.integers(1, 3),
    n_e=st.integers(1, 3),
    energy=st.sampled_from(["relu", "tanh", "linear"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_one_step_attention_backward_equals_vjp(m, T_x, n_enc, n_s, n_e, energy, seed):
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        params = _attention_params(rng, n_enc, n_s, n_e)
        a, s_prev = (jnp.asarray(rng.normal(size=s)) for s in ((m, T_x, n_enc), (m, n_s)))
        dcontext = jnp.asarray(rng.normal(size=(m, n_enc)))
        manual, vjp = _attention_manual_and_vjp(a, s_prev, params, dcontext, energy=energy)
        assert set(manual) == set(vjp)
        chex.assert_trees_all_close(manual, vjp, **F64)


def test_one_step_attention_is_the_course_s_equations(x64):
    """The context is the alpha-weighted sum of a; alpha a softmax over T_x of
    relu(W2 tanh(W1 [a, s_prev] + b1) + b2), written out per example and step."""
    rng = np.random.default_rng(0)
    params = _attention_params(rng, 3, 2, 4)
    a, s_prev = jnp.asarray(rng.normal(size=(2, 5, 3))), jnp.asarray(rng.normal(size=(2, 2)))
    context, cache = one_step_attention_forward(a, s_prev, params)
    P = {k: np.asarray(v) for k, v in params.items()}
    for i in range(2):
        e = np.array([
            max(0.0, (P["W2"] @ np.tanh(P["W1"] @ np.r_[a[i, t], s_prev[i]] + P["b1"]) + P["b2"])[0])
            for t in range(5)
        ])  # fmt: skip
        alpha = np.exp(e) / np.exp(e).sum()
        np.testing.assert_allclose(cache.alphas[i], alpha, rtol=1e-12)
        np.testing.assert_allclose(context[i], alpha @ np.asarray(a[i]), rtol=1e-12)


@functools.partial(jax.jit, static_argnames=("layer",))
def _layer_manual_and_vjp(layer, params, A_prev, dA):
    A, cache = layer.forward(params, A_prev)
    return A, layer.backward(params, cache, dA), vjp_in_layer_convention(layer, params, A_prev, dA)


def _layer_draw(layer, m, T_x, n_enc, seed):
    rng = np.random.default_rng(seed)
    shapes = layer.param_shapes((T_x, n_enc))
    params = {k: jnp.asarray(rng.normal(size=s)) for k, s in shapes.items()}
    A_prev = jnp.asarray(rng.normal(size=(m, T_x, n_enc)))
    dA = jnp.asarray(rng.normal(size=(m, *layer.output_shape((T_x, n_enc)))))
    return params, A_prev, dA


@settings(max_examples=4, deadline=None, derandomize=True)
@given(
    m=st.integers(1, 3),
    T_x=st.integers(1, 4),
    n_enc=st.integers(1, 3),
    steps=st.integers(1, 3),
    units=st.integers(1, 3),
    n_s=st.integers(1, 3),
    n_e=st.integers(1, 3),
    energy=st.sampled_from(["relu", "tanh"]),
    activation=st.sampled_from(["softmax", "linear"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_decoder_bptt_equals_vjp_of_forward(
    m, T_x, n_enc, steps, units, n_s, n_e, energy, activation, seed
):
    layer = AttentionDecoder(steps, units, n_s=n_s, n_e=n_e, energy=energy, activation=activation)
    with jax.enable_x64(True):
        params, A_prev, dA = _layer_draw(layer, m, T_x, n_enc, seed)
        A, (dA_prev, dparams), (vjp_A_prev, vjp_params) = _layer_manual_and_vjp(
            layer, params, A_prev, dA
        )
        chex.assert_shape(A, (m, steps, units))
        assert set(dparams) == set(params)
        chex.assert_trees_all_close((dA_prev, dparams), (vjp_A_prev, vjp_params), **F64)


def test_decoder_backward_equals_finite_differences(x64):
    layer = AttentionDecoder(3, 4, n_s=3, n_e=2, energy="tanh")
    params, A_prev, dA = _layer_draw(layer, 2, 5, 3, seed=11)
    _, cache = layer.forward(params, A_prev)
    dA_prev, dparams = layer.backward(params, cache, dA)
    names = ("W1", "W2", "Wc", "Wy", "bo")
    fn = lambda a, *ws: layer.forward(params | dict(zip(names, ws)), a)[0]  # noqa: E731
    grads = [dA_prev / 2] + [dparams[k] for k in names]  # dparams: the mean over m = 2
    assert_finite_differences(
        fn, [A_prev] + [params[k] for k in names], grads, dA / 2, directions=2, rtol=1e-5
    )


def test_attention_weights_are_the_decoder_s_softmax_over_the_input_steps(x64):
    layer = AttentionDecoder(4, 3, n_s=2, n_e=3)
    params, A_prev, _ = _layer_draw(layer, 2, 6, 3, seed=2)
    alphas = attention_weights(layer, params, A_prev)
    chex.assert_shape(alphas, (2, 4, 6))
    np.testing.assert_allclose(alphas.sum(axis=-1), 1.0, rtol=1e-12)
    (_, run), _ = layer.forward(params, A_prev)[1]
    chex.assert_trees_all_equal(alphas, run.alphas.transpose(1, 0, 2))
    # step 1 attends from s<0> = 0: its weights are the same for every decoder with those W1[:, :n_enc]
    first = one_step_attention_forward(A_prev, jnp.zeros((2, 2)), params)[1].alphas
    np.testing.assert_allclose(alphas[:, 0], first, rtol=1e-12)


def test_a_network_with_the_decoder_backprops_by_hand_as_autodiff(x64):
    """Bi-LSTM encoder -> decoder -> Flatten -> softmax: hand backprop == jax.grad, and the
    network is summarised and round-trips through JSON."""
    layers = [
        Bidirectional(LSTM(2, return_sequences=True)),
        AttentionDecoder(3, 2, n_s=3, n_e=2, activation="tanh"),
        Flatten(),
        Dense(3, "softmax"),
    ]
    net = jn.Sequential(layers, input_shape=(5, 2))
    assert jn.Network.from_dict(json.loads(json.dumps(net.to_dict()))) == net
    params = jn.init(jax.random.key(0), net, dtype=jnp.float64)
    X = np.random.default_rng(0).normal(size=(4, 5, 2))
    y = np.array([0, 1, 2, 1])
    manual = jn.grads(net, params, X, y, backprop="manual")
    autodiff = jn.grads(net, params, X, y, backprop="autodiff")
    chex.assert_trees_all_close(manual, autodiff, **F64)


def test_summary_lists_the_decoder(capsys):
    net = jn.Sequential(
        [AttentionDecoder(3, 2, n_s=4), Flatten(), Dense(2, "softmax")], input_shape=(5, 6)
    )
    jn.summary(net)
    out = capsys.readouterr().out
    assert "AttentionDecoder" in out or "attention_decoder" in out
    n_params = 10 * (6 + 4) + 10 + 10 + 1 + 4 * (4 * (4 + 6) + 4) + 2 * 4 + 2
    assert f"{n_params:,}" in out or str(n_params) in out


def test_fields_are_checked_and_round_trip():
    layer = AttentionDecoder(np.int64(10), 11)
    assert layer.steps == 10 and type(layer.steps) is int
    assert jn.layers.from_dict(json.loads(json.dumps(layer.to_dict()))) == layer
    assert AttentionDecoder(2, 3, energy="ReLU").energy == "relu"
    with pytest.raises(ValueError, match="energy must be an elementwise activation"):
        AttentionDecoder(2, 3, energy="softmax")
    with pytest.raises(ValueError, match="steps"):
        AttentionDecoder(0, 3)
    with pytest.raises(TypeError, match="units"):
        AttentionDecoder(2, 3.5)


def test_inputs_that_do_not_fit_are_refused_naming_the_argument():
    layer = AttentionDecoder(2, 3, n_s=4)
    params = layer.init(jax.random.key(0), (5, 6))
    with pytest.raises(ValueError, match=r"A_prev must be a batch of sequences \(m, T, n_x\)"):
        layer.forward(params, jnp.ones((2, 6)))
    with pytest.raises(ValueError, match=r"A_prev must be the encoder's states .* n_enc = 6"):
        layer.forward(params, jnp.ones((2, 5, 7)))
    with pytest.raises(ValueError, match="expects a sequence"):
        layer.output_shape((6,))
    with pytest.raises(ValueError, match=r"a must have shape \(m, T_x, n_enc\)"):
        one_step_attention_forward(jnp.ones((2, 6)), jnp.ones((2, 4)), params)
    with pytest.raises(ValueError, match=r"s_prev must have shape \(m, n_s\)"):
        one_step_attention_forward(jnp.ones((2, 5, 6)), jnp.ones((3, 4)), params)
    with pytest.raises(ValueError, match=r"params\['W1'\]"):
        one_step_attention_forward(jnp.ones((2, 5, 7)), jnp.ones((2, 4)), params)
    with pytest.raises(TypeError, match="layer must be an AttentionDecoder"):
        attention_weights(Dense(3), params, jnp.ones((2, 5, 6)))
