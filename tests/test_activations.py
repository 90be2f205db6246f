"""Activations: every hand-derived derivative equals autodiff, softmax's VJP stays O(m K)."""

import chex
import jax
import jax.extend.core
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ACTIVATIONS, ELEMENTWISE

import jaxnet as jn
from jaxnet.activations import softmax_derivative, softmax_vjp

# continuous points that avoid the kink at 0 (tested on its own below)
Z_POINTS = np.linspace(-4.0, 4.0, 41) + 0.0137


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_derivative_equals_vmap_grad(x64, name):
    act = jn.activations.get(name)
    Z = jnp.asarray(Z_POINTS, jnp.float64)
    expected = jax.vmap(jax.grad(act.fn))(Z)
    chex.assert_trees_all_close(act.derivative(Z), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ("relu", "leaky_relu", "leaky_relu(0.2)"))
def test_derivative_at_the_kink_matches_autodiff(name):
    """At z = 0 the course takes g'(0) from the left (0 for ReLU, slope for leaky ReLU);
    ``jax.grad`` must agree, or manual and autodiff gradients differ for zero-initialised nets."""
    act = jn.activations.get(name)
    Z = jnp.zeros(3)
    slope = {"relu": 0.0, "leaky_relu": 0.01, "leaky_relu(0.2)": 0.2}[name]
    chex.assert_trees_all_close(act.derivative(Z), jnp.full(3, slope))
    chex.assert_trees_all_close(jax.vmap(jax.grad(act.fn))(Z), jnp.full(3, slope))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_vjp_equals_jax_vjp(x64, name):
    """``act.vjp(Z, dA)`` is the backward step ``dZ = J^T dA``, for a batch ``(m, n)``."""
    act = jn.activations.get(name)
    kz, ka = jax.random.split(jax.random.key(0))
    Z = jax.random.normal(kz, (6, 5), jnp.float64) * 3
    dA = jax.random.normal(ka, (6, 5), jnp.float64)
    A, pullback = jax.vjp(act.fn, Z)
    (expected,) = pullback(dA)
    chex.assert_shape(act.vjp(Z, dA), (6, 5))
    chex.assert_trees_all_close(act.vjp(Z, dA), expected, rtol=1e-12, atol=1e-15)
    chex.assert_trees_all_close(act.fn(Z), A)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_vjp_is_dA_times_derivative(name):
    act = jn.activations.get(name)
    Z = jnp.asarray(Z_POINTS, jnp.float32)
    dA = jnp.linspace(-1.0, 2.0, Z.size)
    chex.assert_trees_all_close(act.vjp(Z, dA), dA * act.derivative(Z))


def test_softmax_derivative_is_the_jacobian(x64):
    Z = jax.random.normal(jax.random.key(1), (4, 5), jnp.float64) * 2
    derivative, autodiff = jax.jit(
        lambda Z: (
            (softmax_derivative(Z), softmax_derivative(Z[0])),
            (
                jax.vmap(jax.jacobian(jn.activations.softmax))(Z),
                jax.jacobian(jn.activations.softmax)(Z[0]),
            ),
        )
    )(Z)
    chex.assert_shape(derivative, ((4, 5, 5), (5, 5)))
    chex.assert_trees_all_close(derivative, autodiff, rtol=1e-12)
    act = jn.activations.get("softmax")
    assert act.derivative is softmax_derivative and act.vjp is softmax_vjp


def _max_rank(closed_jaxpr) -> int:
    """The largest rank of any value a jaxpr computes, nested jaxprs included."""

    def walk(jaxpr):
        ranks = [0]
        for eqn in jaxpr.eqns:
            ranks += [len(v.aval.shape) for v in eqn.outvars]
            for param in eqn.params.values():
                for sub in param if isinstance(param, tuple | list) else (param,):
                    if isinstance(sub, jax.extend.core.ClosedJaxpr):
                        ranks.append(walk(sub.jaxpr))
                    elif isinstance(sub, jax.extend.core.Jaxpr):
                        ranks.append(walk(sub))
        return max(ranks)

    return walk(closed_jaxpr.jaxpr)


def test_softmax_vjp_builds_no_rank3_tensor():
    Z = jnp.ones((8, 10))
    dA = jnp.ones((8, 10))
    assert _max_rank(jax.make_jaxpr(softmax_vjp)(Z, dA)) == 2
    # the walker does see an (m, K, K) Jacobian when one is built
    through_jacobian = jax.make_jaxpr(
        lambda Z, dA: jnp.einsum("mk,mkj->mj", dA, softmax_derivative(Z))
    )(Z, dA)
    assert _max_rank(through_jacobian) == 3


def test_softmax_rows_are_probabilities_and_shift_invariant():
    Z = jax.random.normal(jax.random.key(2), (5, 4)) * 10
    A = jn.activations.softmax(Z)
    chex.assert_trees_all_close(A.sum(axis=-1), jnp.ones(5), atol=1e-6)
    assert bool((A >= 0).all())
    chex.assert_trees_all_close(jn.activations.softmax(Z + 123.0), A, atol=1e-6)


def test_known_values():
    Z = jnp.array([-2.0, 0.0, 3.0])
    chex.assert_trees_all_close(jn.activations.sigmoid(Z), 1 / (1 + jnp.exp(-Z)))
    chex.assert_trees_all_close(jn.activations.tanh(Z), jnp.tanh(Z))
    chex.assert_trees_all_close(jn.activations.relu(Z), jnp.array([0.0, 0.0, 3.0]))
    chex.assert_trees_all_close(jn.activations.get("leaky_relu").fn(Z), jnp.array([-0.02, 0, 3]))
    chex.assert_trees_all_close(
        jn.activations.get("leaky_relu(0.2)").fn(Z), jnp.array([-0.4, 0, 3])
    )
    chex.assert_trees_all_close(jn.activations.get("linear").fn(Z), Z)
    chex.assert_trees_all_close(jn.activations.sigmoid_derivative(jnp.zeros(1)), jnp.full(1, 0.25))


@pytest.mark.parametrize("magnitude", (100.0, 1e4))
@pytest.mark.parametrize("name", ACTIVATIONS)
def test_saturated_inputs_stay_finite(name, magnitude):
    act = jn.activations.get(name)
    Z = jnp.array([[magnitude, -magnitude], [-magnitude, magnitude]], jnp.float32)
    dA = jnp.ones_like(Z)
    chex.assert_tree_all_finite((act.fn(Z), act.derivative(Z), act.vjp(Z, dA)))
    if name == "sigmoid":
        chex.assert_trees_all_close(act.fn(Z), jnp.array([[1.0, 0.0], [0.0, 1.0]]))
        chex.assert_trees_all_close(act.derivative(Z), jnp.zeros((2, 2)))
    if name == "softmax":
        chex.assert_trees_all_close(act.fn(Z), jnp.array([[1.0, 0.0], [0.0, 1.0]]))
    if name == "tanh":
        chex.assert_trees_all_close(act.fn(Z), jnp.array([[1.0, -1.0], [-1.0, 1.0]]))


def test_get_canonical_names_and_identity():
    get = jn.activations.get
    assert get("ReLU") is get("relu")
    assert get("leaky_relu", slope=0.2) is get("leaky_relu(0.2)") is get("leaky_relu(slope=0.2)")
    assert get("leaky_relu(0.2)").name == "leaky_relu(0.2)"
    assert get("leaky_relu(0.01)") is get("leaky_relu")
    relu = get("relu")
    assert get(relu) is relu
    assert get(get("leaky_relu(0.2)").name) is get("leaky_relu(0.2)")


def test_get_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*sigmoid, tanh, relu"):
        jn.activations.get("swish")
    with pytest.raises(ValueError, match="slope must be a finite number, got 'steep'"):
        jn.activations.get("leaky_relu(steep)")
    with pytest.raises(TypeError, match="activation must be a name"):
        jn.activations.get(3)


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("leaky_relu(nan)", {}),
        ("leaky_relu(inf)", {}),
        ("leaky_relu(-inf)", {}),
        ("leaky_relu", {"slope": float("nan")}),
        ("leaky_relu", {"slope": float("inf")}),
        ("leaky_relu", {"slope": [0.1]}),
    ],
)
def test_leaky_relu_slope_must_be_finite(name, kwargs):
    """A NaN or infinite slope would turn every negative input into NaN or infinity."""
    with pytest.raises(ValueError, match=r"slope must be a finite number"):
        jn.activations.get(name, **kwargs)
    if not kwargs:  # a network built with it is refused too
        with pytest.raises(ValueError, match=r"slope must be a finite number"):
            jn.Network((2, 3, 1), hidden_activation=name)
