"""Gradient checking: the course's relative difference, finite differences, a planted bug caught."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import Scale, random_data, random_params

import jaxnet as jn
from jaxnet import network
from jaxnet.gradcheck import COURSE_THRESHOLD, numeric_grads


def test_computation_graph_example():
    """The course's J = 3(a + bc) at (a, b, c) = (5, 3, 2): J = 33, dJ/da = 3, dJ/db = 6, dJ/dc = 9."""

    def J(a, b, c):
        u = b * c
        v = a + u
        return 3 * v

    assert J(5.0, 3.0, 2.0) == 33.0
    grads = jax.grad(J, argnums=(0, 1, 2))(5.0, 3.0, 2.0)
    chex.assert_trees_all_close(grads, (3.0, 6.0, 9.0))
    # the chain rule along the graph: dJ/dv = 3, dv/du = 1, du/db = c, du/dc = b
    assert tuple(map(float, grads)) == (3.0, 3.0 * 1.0 * 2.0, 3.0 * 1.0 * 3.0)


def test_relative_difference():
    tree = ({"W": jnp.array([[1.0, 2.0]]), "b": jnp.array([3.0])},)
    assert jn.relative_difference(tree, tree) == 0.0
    zeros = jax.tree.map(jnp.zeros_like, tree)
    assert jn.relative_difference(zeros, zeros) == 0.0
    assert jn.relative_difference(tree, zeros) == pytest.approx(1.0)
    other = ({"W": jnp.array([[1.0, 2.0]]), "b": jnp.array([3.1])},)
    difference = jn.relative_difference(tree, other)
    assert isinstance(difference, float)
    expected = 0.1 / (np.sqrt(14) + np.sqrt(1 + 4 + 3.1**2))
    assert difference == pytest.approx(expected, rel=1e-5)


def _net_and_data(output, hidden="tanh"):
    n_out = 3 if output == "softmax" else 2
    net = jn.Network((3, 4, 3, n_out), hidden_activation=hidden, output_activation=output)
    params = random_params(0, net)  # float32: gradcheck must still run in float64
    X, Y = random_data(1, net, 5)
    return net, params, X, Y


@pytest.mark.parametrize("output, hidden", [("sigmoid", "tanh"), ("softmax", "sigmoid")])
def test_gradcheck_passes_on_a_correct_network(output, hidden):
    net, params, X, Y = _net_and_data(output, hidden)
    chex.assert_type(jax.tree.leaves(params), jnp.float32)
    report = jn.gradcheck(net, params, X, Y)
    assert report.passed, str(report)
    assert max(report[:3]) < COURSE_THRESHOLD == report.threshold
    assert report.manual_vs_autodiff < 1e-12  # both exact, in float64
    assert "PASSED" in str(report) and "FAILED" not in str(report)


def _forgets_one_over_m(net, params, X, Y):
    grads = network.grads(net, params, X, Y)
    return (dict(grads[0], W=grads[0]["W"] * X.shape[0]), *grads[1:])


def _flips_a_sign(net, params, X, Y):
    grads = network.grads(net, params, X, Y)
    return (*grads[:-1], dict(grads[-1], W=-grads[-1]["W"]))


@pytest.mark.parametrize("planted", (_forgets_one_over_m, _flips_a_sign))
def test_gradcheck_fails_on_a_planted_error(planted):
    net, params, X, Y = _net_and_data("sigmoid")
    report = jn.gradcheck(net, params, X, Y, manual_grads=planted)
    assert not report.passed
    assert report.manual_vs_autodiff > 1e-2 and report.manual_vs_numeric > 1e-2
    assert report.autodiff_vs_numeric < COURSE_THRESHOLD  # the reference stays right
    assert "FAILED" in str(report) and "PASSED" not in str(report)


def test_numeric_grads_match_autodiff(x64):
    net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = random_params(2, net, jnp.float64)
    X, Y = random_data(3, net, 4, jnp.float64)
    numeric = numeric_grads(net, params, X, Y, chunk_size=4)  # several chunks
    chex.assert_trees_all_equal_structs(numeric, params)
    autodiff = network.grads(net, params, X, Y, backprop="autodiff")
    chex.assert_trees_all_close(numeric, autodiff, rtol=1e-6, atol=1e-9)


# --- any network; non-finite gradients and bad arguments fail -----------------------------


def _general_net():
    return jn.Sequential(
        [Scale(noise=0.3), jn.layers.Dense(4, "tanh"), Scale(), jn.layers.Dense(3, "softmax")],
        input_shape=(3,),
    )


@pytest.mark.parametrize("train", (False, True))
def test_gradcheck_passes_on_any_network(train):
    net = _general_net()
    params = random_params(0, net)
    X, Y = random_data(1, net, 6)
    report = jn.gradcheck(net, params, X, Y, key=jax.random.key(3), train=train)
    assert report.passed, str(report)


def _drops_a_layers_gradient(net, params, X, Y):
    """A planted bug in a non-dense layer: Scale's ds forgotten."""
    grads = network.grads(net, params, X, Y)
    return (dict(grads[0], s=jnp.zeros_like(grads[0]["s"])), *grads[1:])


def test_gradcheck_catches_a_planted_bug_in_any_layer():
    net = _general_net()
    params = random_params(0, net)
    X, Y = random_data(1, net, 6)
    report = jn.gradcheck(net, params, X, Y, manual_grads=_drops_a_layers_gradient)
    assert not report.passed and report.autodiff_vs_numeric < COURSE_THRESHOLD


def test_numeric_grads_leave_the_non_trainable_leaves_out(x64):
    net = jn.Sequential([Scale(), jn.layers.Dense(1, "sigmoid")], input_shape=(2,))
    params = random_params(0, net, jnp.float64)
    X, Y = random_data(1, net, 4, jnp.float64)
    numeric = numeric_grads(net, params, X, Y)
    chex.assert_trees_all_equal(numeric[0]["offset"], jnp.zeros(2))  # inference reads it
    chex.assert_trees_all_close(
        numeric, network.grads(net, params, X, Y, backprop="autodiff"), rtol=1e-6, atol=1e-9
    )


@pytest.mark.parametrize("bad", (np.nan, np.inf, -np.inf))
def test_non_finite_gradients_fail(bad):
    net, params, X, Y = _net_and_data("sigmoid")

    def non_finite(net, params, X, Y):
        grads = network.grads(net, params, X, Y)
        return (dict(grads[0], b=grads[0]["b"].at[0].set(bad)), *grads[1:])

    report = jn.gradcheck(net, params, X, Y, manual_grads=non_finite)
    assert not report.passed and "FAILED" in str(report)
    assert np.isnan(report.manual_vs_autodiff) and np.isnan(report.manual_vs_numeric)
    assert np.isnan(jn.relative_difference(non_finite(net, params, X, Y), params))


@pytest.mark.parametrize(
    "epsilon, error, match",
    [
        (0.0, ValueError, r"^epsilon must be a finite number > 0, got epsilon=0.0"),
        (-1e-7, ValueError, r"^epsilon must be a finite number > 0"),
        (np.inf, ValueError, r"^epsilon must be a finite number > 0, got epsilon=inf"),
        (np.nan, ValueError, r"^epsilon must be a finite number > 0, got epsilon=nan"),
        ("a", TypeError, r"^epsilon must be a real number .* got epsilon='a'"),
        (True, TypeError, r"^epsilon must be a real number .* got epsilon=True"),
        (None, TypeError, r"^epsilon must be a real number .* got epsilon=None"),
    ],
)
def test_bad_epsilon(epsilon, error, match):
    net, params, X, Y = _net_and_data("sigmoid")
    with pytest.raises(error, match=match):
        jn.gradcheck(net, params, X, Y, epsilon=epsilon)


def test_other_bad_arguments():
    net, params, X, Y = _net_and_data("sigmoid")
    with pytest.raises(ValueError, match=r"^threshold must be a finite number > 0"):
        jn.gradcheck(net, params, X, Y, threshold=0)
    with pytest.raises(TypeError, match=r"^manual_grads must be a function"):
        jn.gradcheck(net, params, X, Y, manual_grads="manual")
    noisy = _general_net()
    with pytest.raises(ValueError, match=r"^key is needed"):
        jn.gradcheck(noisy, random_params(0, noisy), *random_data(1, noisy, 3), train=True)
