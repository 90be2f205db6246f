"""Gradient checking: the course's relative difference, finite differences, a planted bug caught."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import random_data, random_params

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
    net = jn.Network((3, 4, 3, n_out), hidden=hidden, output=output)
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
    net = jn.Network((2, 3, 1), hidden="tanh", output="sigmoid")
    params = random_params(2, net, jnp.float64)
    X, Y = random_data(3, net, 4, jnp.float64)
    numeric = numeric_grads(net, params, X, Y, chunk_size=4)  # several chunks
    chex.assert_trees_all_equal_structs(numeric, params)
    autodiff = network.grads(net, params, X, Y, backprop="autodiff")
    chex.assert_trees_all_close(numeric, autodiff, rtol=1e-6, atol=1e-9)
