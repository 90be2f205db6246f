"""Losses: documented formulas, logits vs probabilities, the fused gradient, weights, saturation."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import losses, network

A_BIN = jnp.array([[0.9], [0.2], [0.6]])
Y_BIN = jnp.array([[1.0], [0.0], [0.0]])
A_CAT = jnp.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
LABELS = jnp.array([0, 1, 0])
Y_CAT = jax.nn.one_hot(LABELS, 3)


def test_binary_cross_entropy_formula():
    expected = -(np.log(0.9) + np.log(0.8) + np.log(0.4)) / 3
    np.testing.assert_allclose(losses.binary_cross_entropy(A_BIN, Y_BIN), expected, rtol=1e-6)
    # several output units (multilabel): the per-example loss sums over units
    A = jnp.array([[0.9, 0.3]])
    Y = jnp.array([[1.0, 0.0]])
    np.testing.assert_allclose(
        losses.binary_cross_entropy(A, Y), -(np.log(0.9) + np.log(0.7)), rtol=1e-6
    )


def test_categorical_cross_entropy_formula():
    expected = -(np.log(0.7) + np.log(0.8) + np.log(0.3)) / 3
    np.testing.assert_allclose(losses.categorical_cross_entropy(A_CAT, Y_CAT), expected, rtol=1e-6)


def test_mean_squared_error_has_the_half():
    A = jnp.array([[1.0, 2.0], [3.0, 4.0]])
    Y = jnp.zeros((2, 2))
    # (1/m) sum_i 1/2 ||a_i - y_i||^2 = (0.5 * 5 + 0.5 * 25) / 2
    np.testing.assert_allclose(losses.mean_squared_error(A, Y), 7.5, rtol=1e-6)
    # Keras's metric has no 1/2 and averages over units too
    np.testing.assert_allclose(jn.metrics.mean_squared_error(A, Y), 7.5, rtol=1e-6)
    np.testing.assert_allclose(losses.mean_squared_error(A[:, :1], Y[:, :1]), 2.5, rtol=1e-6)
    np.testing.assert_allclose(jn.metrics.mean_squared_error(A[:, :1], Y[:, :1]), 5.0, rtol=1e-6)


def test_bce_from_probabilities_equals_from_logits(x64):
    Z = jax.random.normal(jax.random.key(0), (10, 3), jnp.float64) * 4
    Y = jax.random.bernoulli(jax.random.key(1), 0.5, (10, 3)).astype(jnp.float64)
    np.testing.assert_allclose(
        losses.binary_cross_entropy(jax.nn.sigmoid(Z), Y),
        losses.binary_cross_entropy_from_logits(Z, Y),
        rtol=1e-12,
    )


def test_cce_from_probabilities_equals_from_logits_and_integer_labels_equal_one_hot(x64):
    Z = jax.random.normal(jax.random.key(0), (10, 4), jnp.float64) * 4
    labels = jax.random.randint(jax.random.key(1), (10,), 0, 4)
    one_hot = jax.nn.one_hot(labels, 4, dtype=jnp.float64)
    A = jn.activations.softmax(Z)
    expected = losses.categorical_cross_entropy_from_logits(Z, one_hot)
    for value in (
        losses.categorical_cross_entropy(A, one_hot),
        losses.categorical_cross_entropy(A, labels),
        losses.categorical_cross_entropy_from_logits(Z, labels),
    ):
        np.testing.assert_allclose(value, expected, rtol=1e-12)
    np.testing.assert_allclose(
        losses.categorical_cross_entropy_gradient(A, labels),
        losses.categorical_cross_entropy_gradient(A, one_hot),
    )


def test_unfused_course_formula_through_the_activation_equals_fused(x64):
    """dA[L] = -(Y/A - (1-Y)/(1-A)) times sigmoid'(Z) is A - Y; likewise for softmax + CCE."""
    Z = jax.random.normal(jax.random.key(0), (7, 3), jnp.float64) * 3
    Y = jax.random.bernoulli(jax.random.key(1), 0.5, (7, 3)).astype(jnp.float64)
    sigmoid = jn.activations.get("sigmoid")
    A = sigmoid.fn(Z)
    dA = losses.binary_cross_entropy_gradient(A, Y)
    chex.assert_trees_all_close(dA, -(Y / A - (1 - Y) / (1 - A)))
    chex.assert_trees_all_close(sigmoid.vjp(Z, dA), A - Y, rtol=1e-10, atol=1e-12)

    Y_cat = jax.nn.one_hot(jnp.arange(7) % 3, 3, dtype=jnp.float64)
    softmax = jn.activations.get("softmax")
    A = softmax.fn(Z)
    dA = losses.categorical_cross_entropy_gradient(A, Y_cat)
    chex.assert_trees_all_close(softmax.vjp(Z, dA), A - Y_cat, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", losses.NAMES)
def test_gradient_is_the_derivative_of_each_examples_loss(x64, name):
    """``loss.gradient`` is dA[L]: d loss_i / d a_i (no 1/m), checked against jax.grad."""
    loss = losses.get(name)
    A = jax.random.uniform(jax.random.key(0), (5, 3), jnp.float64, 0.05, 0.95)
    if name == "categorical_cross_entropy":
        Y = jax.nn.one_hot(jnp.array([0, 1, 2, 0, 1]), 3, dtype=jnp.float64)
    else:
        Y = jax.random.bernoulli(jax.random.key(1), 0.5, (5, 3)).astype(jnp.float64)
    expected = jax.grad(lambda A: loss.per_example(A, Y).sum())(A)
    chex.assert_trees_all_close(loss.gradient(A, Y), expected, rtol=1e-10)


@pytest.mark.parametrize(
    "cost, A, Y",
    [
        (losses.binary_cross_entropy, A_BIN, Y_BIN),
        (losses.categorical_cross_entropy, A_CAT, Y_CAT),
        (losses.mean_squared_error, A_CAT, Y_CAT),
    ],
)
def test_weighted_mean_equals_mean_over_weighted_rows(cost, A, Y):
    weights = jnp.array([1.0, 0.0, 1.0])
    rows = np.array([0, 2])
    np.testing.assert_allclose(cost(A, Y, weights), cost(A[rows], Y[rows]), rtol=1e-6)
    # the weights' scale does not matter
    np.testing.assert_allclose(cost(A, Y, 5 * weights), cost(A[rows], Y[rows]), rtol=1e-6)
    # a weight of 2 counts the row twice
    twice = cost(A, Y, jnp.array([2.0, 1.0, 0.0]))
    np.testing.assert_allclose(twice, cost(A[jnp.array([0, 0, 1])], Y[jnp.array([0, 0, 1])]))


def test_weighted_network_grads_equal_grads_on_the_subset(x64):
    net = jn.Network((3, 5, 4, 2), hidden_activation="tanh", output_activation="softmax")
    params = jn.init(jax.random.key(0), net, scheme="xavier", dtype=jnp.float64)
    X = jax.random.normal(jax.random.key(1), (6, 3), jnp.float64)
    Y = jax.nn.one_hot(jnp.array([0, 1, 1, 0, 1, 0]), 2, dtype=jnp.float64)
    weights = jnp.array([1.0, 0.0, 1.0, 1.0, 0.0, 0.0])
    rows = np.array([0, 2, 3])
    cost = jax.jit(network.cost, static_argnums=0)
    grads = jax.jit(network.grads, static_argnums=0, static_argnames="backprop")
    np.testing.assert_allclose(
        cost(net, params, X, Y, weights), cost(net, params, X[rows], Y[rows])
    )
    for backprop in ("manual", "autodiff"):
        chex.assert_trees_all_close(
            grads(net, params, X, Y, weights, backprop=backprop),
            grads(net, params, X[rows], Y[rows], backprop=backprop),
            rtol=1e-10,
            atol=1e-14,
        )


@pytest.mark.parametrize("dtype", (jnp.float32, jnp.float64))
def test_costs_from_logits_at_saturation_are_finite(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        Z = jnp.array([[100.0], [-100.0], [100.0]], dtype)
        Y = jnp.array([[0.0], [1.0], [1.0]], dtype)
        # two confidently wrong (loss 100 each), one confidently right (loss ~0)
        np.testing.assert_allclose(
            losses.binary_cross_entropy_from_logits(Z, Y), 200 / 3, rtol=1e-6
        )
        Z = jnp.array([[100.0, -100.0, 0.0]], dtype)
        np.testing.assert_allclose(
            losses.categorical_cross_entropy_from_logits(Z, jnp.array([1])), 200.0, rtol=1e-6
        )
        np.testing.assert_allclose(
            losses.categorical_cross_entropy_from_logits(Z, jnp.array([0])), 0.0, atol=1e-6
        )
        grads = jax.grad(losses.categorical_cross_entropy_from_logits)(Z, jnp.array([1]))
        chex.assert_tree_all_finite(grads)


@pytest.mark.parametrize(
    "output, loss, Y",
    [("sigmoid", None, [[0.0]]), ("softmax", None, [1]), ("sigmoid", "mse", [[0.0]])],
)
def test_network_at_saturation_has_finite_cost_and_grads(output, loss, Y):
    """A confidently wrong network (|z| = 100) costs ~100 (not inf or nan); its grads are finite."""
    n_out = 2 if output == "softmax" else 1
    net = jn.Network((2, n_out), output_activation=output, loss=loss)
    W = jnp.zeros((n_out, 2)).at[0, 0].set(100.0)  # z_0 = 100 for x = (1, 0)
    params = ({"W": W, "b": jnp.zeros(n_out)},)
    X = jnp.array([[1.0, 0.0]])
    J = jn.cost(net, params, X, jnp.asarray(Y))
    chex.assert_tree_all_finite(J)
    if loss is None:
        np.testing.assert_allclose(J, 100.0, rtol=1e-5)
    for backprop in ("manual", "autodiff"):
        chex.assert_tree_all_finite(jn.grads(net, params, X, jnp.asarray(Y), backprop=backprop))


def test_get_aliases_and_for_output():
    assert losses.get("bce") is losses.BINARY_CROSS_ENTROPY
    assert losses.get("CCE") is losses.CATEGORICAL_CROSS_ENTROPY
    assert losses.get("mse") is losses.get("mean_squared_error") is losses.MEAN_SQUARED_ERROR
    assert losses.get(losses.MEAN_SQUARED_ERROR) is losses.MEAN_SQUARED_ERROR
    assert losses.for_output("sigmoid") is losses.BINARY_CROSS_ENTROPY
    assert losses.for_output("softmax") is losses.CATEGORICAL_CROSS_ENTROPY
    assert losses.for_output("tanh") is losses.MEAN_SQUARED_ERROR
    with pytest.raises(ValueError, match=r"unknown loss 'hinge'.*binary_cross_entropy"):
        losses.get("hinge")


def test_softplus_and_its_derivative_are_exact_everywhere(x64):
    """One exponential serves the value and the derivative; both match the references."""
    z = jnp.array([-800.0, -40.0, -3.0, -1e-9, 0.0, 1e-9, 2.5, 40.0, 800.0])
    chex.assert_trees_all_close(jn.losses.softplus(z), jax.nn.softplus(z), rtol=1e-15, atol=0)
    derivative = jax.vmap(jax.grad(jn.losses.softplus))(z)
    chex.assert_trees_all_close(derivative, jax.nn.sigmoid(z), rtol=1e-15, atol=0)
    assert float(jax.grad(jn.losses.softplus)(0.0)) == 0.5
    # the derivative rule is itself differentiable: s'(z) = s(z) (1 - s(z)) = s(z) s(-z)
    second = jax.vmap(jax.grad(jax.grad(jn.losses.softplus)))(z)
    expected = jax.nn.sigmoid(z) * jax.nn.sigmoid(-z)
    chex.assert_trees_all_close(second, expected, rtol=1e-12, atol=1e-300)
