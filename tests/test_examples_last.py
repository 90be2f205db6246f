"""The course's layout inside a compiled step (``jaxnet.training._cpu.layout``).

The transform re-evaluates a batch-first function with the examples axis stored last: the
results must be the batch-first function's (float64, to rounding) for any network, those
whose primitives have no rule (convolutions, pools, gathers) included, and the arrays of
the course's planar step must really carry the examples on their minor axis.
"""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import Scale, architectures, cnns, normalised_labels, random_data, regularised_nets
from hypothesis import given, settings
from hypothesis import strategies as st

import jaxnet as jn
from jaxnet.layers import Dense
from jaxnet.training import engine, optimizers
from jaxnet.training._cpu.layout import Stored, batch_first, examples_last, stored_as

F64 = {"rtol": 1e-9, "atol": 1e-10}  # (a zero gradient's rounding noise, through Adam: ~1e-11)
ON_EXAMPLES = (False, False, True, True, True, False)  # params, opt_state, X, Y, weights, key


def moved(a):
    """``a`` stored examples-last: axis 0 moved to the end."""
    return None if a is None else jnp.moveaxis(a, 0, -1)


def both_steps(net, m, seed, backprop, weighted, optimizer="adam"):
    """``train_step`` batch-first and examples-last on the same params and batch."""
    X, Y = random_data(seed, net, m, jnp.float64)
    Y = normalised_labels(net, Y, jnp.float64)
    weights = None
    if weighted:  # padding rows (weight 0) and uneven weights, at least one row kept
        w = np.random.default_rng(seed).integers(0, 3, m).astype(np.float64)
        w[:2] = 1.0  # (batch norm needs two examples)
        weights = jnp.asarray(w)
    params = jn.init(jax.random.key(seed % 1000), net, dtype=jnp.float64)
    tx = optimizers.get(optimizer)
    step = functools.partial(engine.train_step, engine.TrainConfig(net, tx, backprop))
    key = jax.random.key(seed) if net.needs_key else None
    args = (params, tx.init(params), X, Y, weights, key)
    expected = jax.jit(step)(*args)
    got = jax.jit(examples_last(step, ON_EXAMPLES))(*args[:2], *map(moved, args[2:5]), key)
    return got, expected


@pytest.mark.slow  # drawn networks, each compiled in both layouts
@settings(max_examples=5, deadline=None, derandomize=True)
@given(
    case=st.one_of(architectures(max_depth=3, max_width=5, max_m=9), regularised_nets()),
    backprop=st.sampled_from(["manual", "autodiff"]),
    weighted=st.booleans(),
)
def test_a_dense_step_is_the_same_in_either_layout(case, backprop, weighted):
    net, m, seed = case
    with jax.enable_x64(True):
        got, expected = both_steps(net, max(m, 2), seed, backprop, weighted)
        chex.assert_trees_all_close(got, expected, **F64)


@pytest.mark.slow  # drawn CNNs, each compiled in both layouts
@settings(max_examples=4, deadline=None, derandomize=True)
@given(case=cnns(max_m=4), backprop=st.sampled_from(["manual", "autodiff"]))
def test_a_cnn_step_is_the_same_in_either_layout(case, backprop):
    """Convolutions and pools have no rule: their operands go back to batch-first (NHWC)."""
    net, m, seed = case
    with jax.enable_x64(True):
        got, expected = both_steps(net, m, seed, backprop, weighted=True)
        chex.assert_trees_all_close(got, expected, **F64)


def test_a_layer_that_merges_the_examples_axis_and_draws_noise(x64):
    """Scale reshapes ``(m, n)`` to rows and draws noise from its key: both fall back."""
    net = jn.Sequential([Dense(4, "tanh"), Scale(noise=0.3), Dense(2, "softmax")], input_shape=(3,))
    got, expected = both_steps(net, 7, 5, "manual", weighted=True, optimizer="sgd")
    chex.assert_trees_all_close(got, expected, **F64)


def test_the_planar_step_keeps_the_examples_on_the_minor_axis():
    """In the course's 2-4-1 step every array with the examples axis has it last (m = 37
    matches no other size): nothing is transposed back to batch-first. (A bias broadcast
    batch-first, then transposed to meet a stored value, is one broadcast once XLA folds
    the transpose: those broadcasts are left out.)"""
    m = 37
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = jn.init(jax.random.key(0), net)
    tx = optimizers.get("sgd")
    for backprop in ("manual", "autodiff"):
        step = functools.partial(engine.train_step, engine.TrainConfig(net, tx, backprop))
        X, Y = jnp.zeros((2, m)), jnp.zeros((1, m))
        jaxpr = jax.make_jaxpr(examples_last(step, ON_EXAMPLES))(
            params, tx.init(params), X, Y, jnp.ones(m), None
        )
        with_examples = [
            v.aval.shape
            for eqn in all_eqns(jaxpr.jaxpr)
            if not (eqn.primitive.name == "broadcast_in_dim" and m not in eqn.invars[0].aval.shape)
            for v in eqn.outvars
            if m in v.aval.shape
        ]
        assert len(with_examples) > 20
        assert all(s[-1] == m for s in with_examples), (backprop, with_examples)
        # and the batch-first jaxpr does have them elsewhere: the check can fail
        plain = jax.make_jaxpr(step)(params, tx.init(params), X.T, Y.T, jnp.ones(m), None)
        assert any(m in s and s[-1] != m for s in out_shapes(plain.jaxpr))


def all_eqns(jaxpr):
    for eqn in jaxpr.eqns:
        yield eqn
        for p in eqn.params.values():
            inner = getattr(p, "jaxpr", p)
            if hasattr(inner, "eqns"):
                yield from all_eqns(inner)


def out_shapes(jaxpr):
    return [v.aval.shape for eqn in all_eqns(jaxpr) for v in eqn.outvars]


# --- the rules, one primitive family at a time ---------------------------------------------

RULES = {
    "broadcast-and-elementwise": lambda X: (
        jnp.tanh(X * jnp.arange(3.0)[None] + 1) - jnp.maximum(X, 0)
    ),
    "reductions": lambda X: X.sum(0) + X.max(1).sum() + jnp.argmax(X, axis=1).sum(),
    "transpose-and-products": lambda X: (X.T @ X) + (X @ jnp.ones((3, 3))).T @ X,
    "batched-product": lambda X: jnp.einsum("mij,mjk->mik", X[:, :, None], X[:, None, :]).sum(0),
    "reshape-keeping-and-merging": lambda X: (
        X.reshape(X.shape[0], 3, 1).sum(2) + X.reshape(-1)[None, :3]
    ),
    "slices-pads-concatenation": lambda X: jnp.concatenate(
        [jnp.pad(X[1:, ::2], ((0, 1), (1, 0))), X[:, :1], X], axis=1
    ).sum(0),
    "concatenate-on-examples": lambda X: jnp.concatenate([X, 2 * X], axis=0).T,
    "select-clamp-squeeze": lambda X: jnp.where(X > 0, X, jnp.clip(X, -0.5, 0.5))[:, :1].squeeze(1),
    "no-rule": lambda X: (
        jnp.sort(X, axis=0) + jnp.cumsum(X, axis=0) + X[jnp.array([2, 0, 1, 3, 4])]
    ),
    "vmap-and-jit-inside": lambda X: jax.jit(jax.vmap(lambda x: x @ x))(X) * X.mean(),
}


@pytest.mark.parametrize("name", list(RULES))
def test_each_rule_gives_the_batch_first_result(name, x64):
    fun = RULES[name]
    X = jnp.asarray(np.random.default_rng(0).normal(size=(5, 3)))
    expected = fun(X)
    got = jax.jit(examples_last(fun, (True,)))(X.T)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("last", [None, 0, 1, 2])
@pytest.mark.parametrize("target", [None, 0, 1, 2])
def test_stored_values_convert_between_layouts(last, target):
    x = jnp.arange(24.0).reshape(2, 3, 4)
    v = Stored(x if last is None else jnp.moveaxis(x, last, -1), last)
    np.testing.assert_array_equal(batch_first(v), x)
    want = x if target is None else jnp.moveaxis(x, target, -1)
    np.testing.assert_array_equal(stored_as(v, target), want)
