"""BatchNorm: the closed-form batchnorm_backward equals jax.vjp (hypothesis: dense and image shapes,
weights, training and inference) and finite differences; batch statistics; padded rows excluded;
moving averages (Keras's momentum, biased variance); the protocol; bad input."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_checks import assert_finite_differences, vjp_in_layer_convention

import jaxnet as jn
from jaxnet.layers import BatchNorm, batchnorm_backward, batchnorm_forward, batchnorm_inference

SHAPES = [(5, 3), (4, 1), (3, 4, 5, 2), (2, 1, 1, 3), (2, 3, 2, 1)]


def _params(rng, n_C):
    return {
        "gamma": jnp.asarray(rng.normal(size=n_C)),
        "beta": jnp.asarray(rng.normal(size=n_C)),
        "moving_mean": jnp.asarray(rng.normal(size=n_C)),
        "moving_var": jnp.asarray(rng.uniform(0.5, 2.0, size=n_C)),
    }


def _weights(rng, m, kind):
    if kind == "none":
        return None
    if kind == "padded":  # the first row is real, the rest real or padding
        return jnp.asarray(np.r_[1.0, rng.integers(0, 2, size=m - 1)])
    return jnp.asarray(rng.uniform(0.1, 2.0, size=m))


@functools.partial(jax.jit, static_argnames=("layer", "train"))
def _manual_and_vjp(layer, params, A_prev, dA, weights, *, train):
    A, cache = layer.forward(params, A_prev, train=train, weights=weights)
    manual = layer.backward(params, cache, dA)
    reference = vjp_in_layer_convention(layer, params, A_prev, dA, train=train, weights=weights)
    return A, manual, reference, layer.stats(cache)


@settings(max_examples=24, deadline=None, derandomize=True)
@given(
    shape=st.sampled_from(SHAPES),
    weights=st.sampled_from(["none", "padded", "positive"]),
    train=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_backward_equals_vjp(shape, weights, train, seed):
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        layer = BatchNorm()
        params = _params(rng, shape[-1])
        A_prev = jnp.asarray(rng.normal(size=shape) * 3 + 1)
        dA = jnp.asarray(rng.normal(size=shape))
        w = _weights(rng, shape[0], weights)
        A, manual, reference, stats = _manual_and_vjp(layer, params, A_prev, dA, w, train=train)
        chex.assert_shape(A, shape)
        chex.assert_trees_all_close(manual, reference, rtol=1e-9, atol=1e-11)
        assert set(stats) == {"moving_mean", "moving_var"}


@pytest.mark.parametrize("shape", [(6, 3), (3, 3, 2, 2)])
@pytest.mark.parametrize("weighted", [False, True])
def test_backward_equals_finite_differences(x64, shape, weighted):
    rng = np.random.default_rng(len(shape))
    X = jnp.asarray(rng.normal(size=shape))
    gamma, beta = (jnp.asarray(rng.normal(size=shape[-1])) for _ in range(2))
    weights = jnp.asarray(rng.uniform(0.5, 1.5, size=shape[0])) if weighted else None
    Y, cache, _ = batchnorm_forward(X, gamma, beta, weights=weights)
    G = jnp.asarray(rng.normal(size=shape))
    dX, dgamma, dbeta = batchnorm_backward(G, cache)
    m = shape[0]
    assert_finite_differences(
        lambda x, g, b: batchnorm_forward(x, g, b, weights=weights)[0],
        (X, gamma, beta),
        (dX, m * dgamma, m * dbeta),
        G,
        rtol=1e-5,
    )


def test_batch_statistics_per_feature(x64):
    """Statistics per last axis over every other axis; Y has mean beta and variance ~ gamma^2."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 5, 4, 3)) * np.array([1.0, 5.0, 0.1]) + np.array([0.0, -3.0, 7.0])
    gamma, beta = jnp.array([1.0, 2.0, 0.5]), jnp.array([0.0, 1.0, -1.0])
    Y, _, (mean, var) = batchnorm_forward(jnp.asarray(X), gamma, beta, epsilon=1e-3)
    np.testing.assert_allclose(mean, X.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(var, X.var(axis=(0, 1, 2)), rtol=1e-12)  # biased (ddof=0)
    np.testing.assert_allclose(Y.mean(axis=(0, 1, 2)), beta, atol=1e-12)
    expected_var = gamma**2 * var / (var + 1e-3)
    np.testing.assert_allclose(Y.var(axis=(0, 1, 2)), expected_var, rtol=1e-10)
    X2 = rng.normal(size=(6, 4))  # dense activations: per unit, over the examples
    _, _, (mean2, var2) = batchnorm_forward(jnp.asarray(X2), jnp.ones(4), jnp.zeros(4))
    np.testing.assert_allclose((mean2, var2), (X2.mean(axis=0), X2.var(axis=0)), rtol=1e-12)


@pytest.mark.parametrize("shape", [(7, 3), (5, 2, 3, 2)])
def test_padded_rows_are_excluded(x64, shape):
    """Weights 0 on padding rows: the same outputs, statistics and gradients as the real rows alone
    (dY rows scaled by m w_i / sum(w), as the network's output delta does)."""
    rng = np.random.default_rng(1)
    real = 4
    X = rng.normal(size=shape)
    X[real:] = 1e6  # padding content must not matter
    weights = jnp.asarray(np.r_[np.ones(real), np.zeros(shape[0] - real)])
    layer = BatchNorm(momentum=0.9)
    params = _params(rng, shape[-1])
    A, cache = layer.forward(params, jnp.asarray(X), train=True, weights=weights)
    A_real, cache_real = layer.forward(params, jnp.asarray(X[:real]), train=True)
    np.testing.assert_allclose(A[:real], A_real, rtol=1e-10)
    chex.assert_trees_all_close(layer.stats(cache), layer.stats(cache_real), rtol=1e-12)
    dY_real = rng.normal(size=(real, *shape[1:]))
    dY = np.zeros(shape)
    dY[:real] = dY_real * shape[0] / real
    dX, grads = layer.backward(params, cache, jnp.asarray(dY))
    dX_real, grads_real = layer.backward(params, cache_real, jnp.asarray(dY_real))
    np.testing.assert_allclose(dX[:real], dX_real * shape[0] / real, rtol=1e-9)
    np.testing.assert_array_equal(dX[real:], 0)
    chex.assert_trees_all_close(grads, grads_real, rtol=1e-10)


def test_inference_uses_the_moving_statistics(x64):
    rng = np.random.default_rng(2)
    params = _params(rng, 3)
    X = rng.normal(size=(4, 2, 2, 3))
    Y, cache = BatchNorm(epsilon=1e-2).forward(params, jnp.asarray(X))  # train=False
    mm, mv = np.asarray(params["moving_mean"]), np.asarray(params["moving_var"])
    expected = (X - mm) / np.sqrt(mv + 1e-2) * np.asarray(params["gamma"]) + np.asarray(
        params["beta"]
    )
    np.testing.assert_allclose(Y, expected, rtol=1e-12)
    one, _ = BatchNorm(epsilon=1e-2).forward(params, jnp.asarray(X[1:2]))  # a batch of one is fine
    np.testing.assert_allclose(one, Y[1:2], rtol=1e-12)
    stats = BatchNorm().stats(cache)
    chex.assert_trees_all_equal(
        stats, {"moving_mean": params["moving_mean"], "moving_var": params["moving_var"]}
    )
    Y2, cache2 = batchnorm_inference(jnp.asarray(X), *params.values(), epsilon=1e-2)
    np.testing.assert_allclose(Y2, Y)


def test_training_updates_the_moving_averages_like_keras(x64):
    """``moving = momentum moving + (1 - momentum) batch``, the batch's biased variance."""
    rng = np.random.default_rng(3)
    params = _params(rng, 2)
    X = rng.normal(size=(10, 2)) * 2 + 1
    _, cache = BatchNorm(momentum=0.9).forward(params, jnp.asarray(X), train=True)
    stats = BatchNorm(momentum=0.9).stats(cache)
    expected_mean = 0.9 * params["moving_mean"] + 0.1 * X.mean(axis=0)
    expected_var = 0.9 * params["moving_var"] + 0.1 * X.var(axis=0)
    np.testing.assert_allclose(stats["moving_mean"], expected_mean, rtol=1e-12)
    np.testing.assert_allclose(stats["moving_var"], expected_var, rtol=1e-12)


def test_protocol_defaults_and_float32():
    layer = BatchNorm()
    assert (layer.momentum, layer.epsilon) == (0.99, 1e-3)  # Keras's defaults
    assert layer.non_trainable == ("moving_mean", "moving_var") and layer.needs_key is False
    assert layer.output_shape((5, 5, 8)) == (5, 5, 8)
    assert layer.param_shapes((5, 5, 8)) == dict.fromkeys(
        ("gamma", "beta", "moving_mean", "moving_var"), (8,)
    )
    params = layer.init(jax.random.key(0), (16,))
    chex.assert_trees_all_equal(
        params,
        {
            "gamma": jnp.ones(16),
            "beta": jnp.zeros(16),
            "moving_mean": jnp.zeros(16),
            "moving_var": jnp.ones(16),
        },
    )
    assert layer.to_dict() == {"kind": "batch_norm", "momentum": 0.99, "epsilon": 0.001}
    assert jn.layers.from_dict(layer.to_dict()) == layer
    X = jax.random.normal(jax.random.key(1), (8, 16))
    Y, cache = jax.jit(lambda p, x: layer.forward(p, x, train=True))(params, X)
    dX, grads = jax.jit(layer.backward)(params, cache, jnp.ones_like(Y))
    chex.assert_type([Y, dX, grads["gamma"], layer.stats(cache)["moving_var"]], jnp.float32)
    chex.assert_trees_all_equal(grads["moving_mean"], jnp.zeros(16))


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"momentum": -0.1}, ValueError, "momentum"),
        ({"momentum": 1.5}, ValueError, "momentum"),
        ({"momentum": True}, TypeError, "momentum"),
        ({"epsilon": 0.0}, ValueError, "epsilon"),
        ({"epsilon": -1e-3}, ValueError, "epsilon"),
        ({"epsilon": float("inf")}, ValueError, "epsilon"),
        ({"epsilon": "1e-3"}, TypeError, "epsilon"),
    ],
)
def test_bad_hyperparameters_are_rejected(kwargs, error, name):
    with pytest.raises(error, match=name):
        BatchNorm(**kwargs)


@pytest.mark.parametrize("shape", [(1, 4), (1, 1, 1, 3)])
def test_training_on_a_batch_of_one_is_an_error(shape):
    layer = BatchNorm()
    params = layer.init(None, shape[1:])
    with pytest.raises(ValueError, match="batch of size m=1"):
        layer.forward(params, jnp.ones(shape), train=True)
    with pytest.raises(
        ValueError, match="batch of size m=1"
    ):  # also when traced: the shape says so
        jax.jit(lambda x: layer.forward(params, x, train=True))(jnp.ones(shape))


def test_one_real_row_of_weights_is_an_error_when_the_weights_are_known():
    layer = BatchNorm()
    params = layer.init(None, (3,))
    with pytest.raises(ValueError, match="1 non-zero row"):
        layer.forward(params, jnp.ones((4, 3)), train=True, weights=jnp.array([0.0, 1.0, 0.0, 0.0]))
    layer.forward(params, jnp.ones((4, 3)), train=True, weights=jnp.array([0.0, 1.0, 1.0, 0.0]))


def test_one_image_has_many_values_per_channel():
    """A batch of one image still has n_H n_W values per channel (PyTorch's rule): allowed."""
    layer = BatchNorm()
    Y, _ = layer.forward(
        layer.init(None, (4, 4, 2)), jnp.arange(32.0).reshape(1, 4, 4, 2), train=True
    )
    np.testing.assert_allclose(Y.mean(axis=(0, 1, 2)), 0, atol=1e-5)


def test_features_that_do_not_match_the_params_are_an_error():
    layer = BatchNorm()
    params = layer.init(None, (3,))
    with pytest.raises(ValueError, match=r"n_C=3 features; got A_prev of shape \(2, 4\)"):
        layer.forward(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="A_prev"):
        layer.forward(params, jnp.ones(3))
    with pytest.raises(ValueError, match="feature axis"):
        layer.output_shape(())
