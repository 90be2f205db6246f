"""Dropout: the mask from the key, E[output] = input, the same mask in backward, identity at inference,
rate validation; and Flatten, the other parameter-free reshaping of activations."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from layer_checks import assert_finite_differences, vjp_in_layer_convention

import jaxnet as jn
from jaxnet.layers import (
    Dropout,
    Flatten,
    dropout_backward,
    dropout_forward,
    flatten_backward,
    flatten_forward,
)


def test_same_key_same_mask_other_key_other_mask():
    A = jnp.ones((64, 32))
    A1, cache1 = dropout_forward(A, 0.5, jax.random.key(7))
    A2, cache2 = dropout_forward(A, 0.5, jax.random.key(7))
    A3, _ = dropout_forward(A, 0.5, jax.random.key(8))
    chex.assert_trees_all_equal((A1, cache1), (A2, cache2))
    assert not np.array_equal(A1, A3)
    assert cache1.D.dtype == jnp.bool_


def test_inverted_scaling_keeps_the_expectation():
    """Kept units are scaled by 1 / keep_prob: E[A_out] = A, and a fraction ``rate`` is dropped."""
    rate = 0.3
    A = jnp.linspace(-2.0, 2.0, 50)[None, :] * jnp.ones((4000, 1))
    A_out, cache = dropout_forward(A, rate, jax.random.key(0))
    np.testing.assert_allclose(1 - cache.D.mean(), rate, atol=0.01)
    kept = np.asarray(cache.D)
    np.testing.assert_allclose(np.asarray(A_out)[kept], np.asarray(A / (1 - rate))[kept], rtol=1e-6)
    assert float(jnp.abs(A_out[~cache.D]).max()) == 0
    np.testing.assert_allclose(A_out.mean(axis=0), A[0], atol=0.05)


def test_backward_reuses_the_mask_and_equals_vjp(x64):
    rng = np.random.default_rng(0)
    A = jnp.asarray(rng.normal(size=(6, 5)))
    key = jax.random.key(3)
    A_out, cache = dropout_forward(A, 0.4, key)
    dA = jnp.asarray(rng.normal(size=A.shape))
    dA_prev = dropout_backward(dA, cache)
    np.testing.assert_array_equal(dA_prev, jnp.where(cache.D, dA / 0.6, 0))
    _, vjp = jax.vjp(lambda a: dropout_forward(a, 0.4, key)[0], A)
    chex.assert_trees_all_close(dA_prev, vjp(dA)[0], rtol=1e-15)
    assert_finite_differences(lambda a: dropout_forward(a, 0.4, key)[0], (A,), (dA_prev,), dA)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 3, 2)])
def test_layer_backward_equals_vjp_in_training(x64, shape):
    layer = Dropout(0.25)
    rng = np.random.default_rng(1)
    A_prev = jnp.asarray(rng.normal(size=shape))
    dA = jnp.asarray(rng.normal(size=shape))
    key = jax.random.key(5)
    A, cache = layer.forward({}, A_prev, key=key, train=True)
    manual = layer.backward({}, cache, dA)
    reference = vjp_in_layer_convention(layer, {}, A_prev, dA, key=key, train=True)
    chex.assert_trees_all_close(manual, reference, rtol=1e-15)


@pytest.mark.parametrize("layer, train", [(Dropout(0.5), False), (Dropout(0.0), True)])
def test_identity_at_inference_and_rate_zero(layer, train):
    A_prev = jax.random.normal(jax.random.key(0), (5, 3))
    A, cache = layer.forward({}, A_prev, key=jax.random.key(1), train=train)
    assert A is A_prev and cache is None
    dA = jnp.ones((5, 3))
    dA_prev, grads = layer.backward({}, cache, dA)
    assert dA_prev is dA and grads == {}


def test_training_without_a_key_is_an_error():
    with pytest.raises(ValueError, match="key=None"):
        Dropout(0.5).forward({}, jnp.ones((2, 3)), train=True)
    Dropout(0.5).forward({}, jnp.ones((2, 3)))  # inference needs none


def test_rate_sweep_vmaps():
    """``dropout_forward`` takes a traced rate (a vmapped sweep): one compile for all rates."""
    rates = jnp.array([0.1, 0.5, 0.9])
    A = jnp.ones((2000, 10))
    A_out, cache = jax.vmap(lambda r: dropout_forward(A, r, jax.random.key(0)))(rates)
    np.testing.assert_allclose(1 - cache.D.mean(axis=(1, 2)), rates, atol=0.02)
    np.testing.assert_allclose(A_out.mean(axis=(1, 2)), 1.0, atol=0.1)


def test_dropout_protocol():
    layer = Dropout(0.14)
    assert layer.needs_key and not Dropout(0).needs_key
    assert layer.output_shape((4, 4, 3)) == (4, 4, 3)
    assert layer.param_shapes((7,)) == {} and layer.init(None, (7,)) == {}
    assert layer.non_trainable == () and layer.stats(None) == {}
    assert layer.to_dict() == {"kind": "dropout", "rate": 0.14}
    assert jn.layers.from_dict(layer.to_dict()) == layer
    assert Dropout(0.5) == Dropout(0.5) and hash(Dropout(0.5)) == hash(Dropout(0.5))
    assert Dropout() == Dropout(0.5) and Dropout(1 / 2) != Dropout(0.25)


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan")])
def test_rate_outside_zero_one_is_rejected(rate):
    with pytest.raises(ValueError, match=r"^rate must be a number in \[0, 1\), got rate="):
        Dropout(rate)


@pytest.mark.parametrize("rate", ["0.5", True, None])
def test_a_rate_that_is_not_a_number_is_a_type_error(rate):
    with pytest.raises(TypeError, match=r"rate must be a real number"):
        Dropout(rate)


# --- Flatten -------------------------------------------------------------------------------


def test_flatten_forward_backward_and_protocol(x64):
    A_prev = jnp.arange(2 * 3 * 4 * 5.0).reshape(2, 3, 4, 5)
    A, cache = flatten_forward(A_prev)
    np.testing.assert_array_equal(A, np.asarray(A_prev).reshape(2, -1))  # the course's row-major
    dA = jnp.asarray(np.random.default_rng(0).normal(size=A.shape))
    np.testing.assert_array_equal(flatten_backward(dA, cache), dA.reshape(A_prev.shape))
    layer = Flatten()
    assert layer.output_shape((3, 4, 5)) == (60,) and layer.param_shapes((3, 4, 5)) == {}
    manual = layer.backward({}, layer.forward({}, A_prev)[1], dA)
    chex.assert_trees_all_close(manual, vjp_in_layer_convention(layer, {}, A_prev, dA))
    assert jn.layers.from_dict(layer.to_dict()) == layer and layer.to_dict() == {"kind": "flatten"}
    assert Flatten() != () and hash(Flatten()) == hash(Flatten())
    A_jit, cache_jit = jax.jit(flatten_forward)(A_prev)  # the shape stays static in the cache
    assert cache_jit.shape == (2, 3, 4, 5)
    with pytest.raises(ValueError, match=r"Flatten expects A_prev of shape \(m, ...\)"):
        layer.forward({}, jnp.ones(3))
