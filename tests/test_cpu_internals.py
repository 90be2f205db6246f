"""The JAX internals that the CPU machinery (``jaxnet.training._cpu``) relies on, against the installed JAX.

One test per entry of the list in ``jaxnet.training._cpu``'s docstring (numbered alike): a
JAX upgrade that renames a primitive or a param or moves a class fails here, naming what
changed, instead of silently slowing ``fit_ensemble`` (a primitive without a rule runs
batch-first, with transposes) or breaking it. The equality tests (test_examples_last.py,
test_ensemble.py) prove the results; these prove the assumptions.
"""

import contextlib
import functools

import jax
import jax.extend as jex
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import ACTIVATIONS, OUTPUTS
from jax import lax

import jaxnet as jn
from jaxnet.training import engine, optimizers
from jaxnet.training._cpu import layout

KNOWN = layout._ELEMENTWISE | layout._REDUCTIONS | set(layout._CALLS) | set(layout._RULES)


def eqns(jaxpr):
    """Every equation of ``jaxpr`` and of the jaxprs its equations call."""
    for eqn in jaxpr.eqns:
        yield eqn
        for p in eqn.params.values():
            inner = getattr(p, "jaxpr", p)
            if hasattr(inner, "eqns"):
                yield from eqns(inner)


def the_eqn(fun, *args, name):
    """The equation of primitive ``name`` in ``fun``'s jaxpr (it must have one)."""
    found = [e for e in eqns(jax.make_jaxpr(fun)(*args).jaxpr) if e.primitive.name == name]
    assert found, f"{fun} no longer traces to a {name!r} equation"
    return found[0]


# 1. make_jaxpr, ClosedJaxpr, Jaxpr -------------------------------------------------------


def test_1_make_jaxpr_gives_a_closed_jaxpr_and_the_output_shapes():
    const = np.arange(3.0, dtype=np.float32)
    closed, shape = jax.make_jaxpr(lambda x: (x * const, x.sum()), return_shape=True)(jnp.ones(3))
    assert isinstance(closed, jex.core.ClosedJaxpr)
    assert isinstance(closed.consts, list | tuple)
    jaxpr = closed.jaxpr
    for field in ("constvars", "invars", "outvars", "eqns"):
        assert isinstance(getattr(jaxpr, field), list | tuple), field
    assert len(jaxpr.constvars) == len(closed.consts) and len(jaxpr.invars) == 1
    assert jax.tree.structure(shape) == jax.tree.structure((0, 0))
    assert [s.shape for s in shape] == [(3,), ()]


# 2. operands: Literal with .val, variables with .aval.shape ---------------------------------


def test_2_literals_carry_their_value_and_variables_their_shape():
    eqn = the_eqn(lambda x: x * 2.0, jnp.ones((2, 3)), name="mul")
    variable, literal = eqn.invars
    assert isinstance(literal, jex.core.Literal) and float(literal.val) == 2.0
    assert not isinstance(variable, jex.core.Literal) and variable.aval.shape == (2, 3)


# 3. equations: primitive, params, ctx.manager; bind re-runs them ---------------------------


@pytest.mark.parametrize("name", ["tanh", "jit", "reduce_max"])
def test_3_an_equation_runs_again_through_bind(name):
    def fun(x):
        return jax.jit(jnp.tanh)(x).max(axis=1) + jnp.tanh(x)[:, 0]

    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)), jnp.float32)
    eqn = the_eqn(fun, x, name=name)
    assert isinstance(eqn.params, dict) and isinstance(eqn.primitive.multiple_results, bool)
    operand = {"tanh": x, "jit": x, "reduce_max": jnp.tanh(x)}[name]
    with eqn.ctx.manager:
        params = eqn.primitive.get_bind_params(eqn.params)
        out = eqn.primitive.bind(operand, **params)
    out = out[0] if eqn.primitive.multiple_results else out
    expected = {"tanh": jnp.tanh(x), "jit": jnp.tanh(x), "reduce_max": jnp.tanh(x).max(axis=1)}
    np.testing.assert_allclose(out, expected[name], rtol=1e-6)
    assert isinstance(eqn.ctx.manager, contextlib.AbstractContextManager)


# 4. primitive names: the calls evaluated inline, and every primitive of the course's steps --


@jax.custom_vjp
def _clip_gradient(x):
    return x


_clip_gradient.defvjp(lambda x: (x, None), lambda _, g: (jnp.clip(g, -1, 1),))

CALLS = {
    "jax.jit": lambda x: jax.jit(jnp.sin)(x),
    "custom_jvp (jax.nn.relu)": jax.nn.relu,
    "custom_vjp": _clip_gradient,
    "jax.checkpoint": jax.checkpoint(jnp.sin),
}


@pytest.mark.parametrize("what", list(CALLS))
def test_4_calls_are_known_with_the_param_that_holds_their_jaxpr(what):
    (eqn,) = jax.make_jaxpr(CALLS[what])(jnp.ones(3)).jaxpr.eqns
    name = eqn.primitive.name
    assert name in layout._CALLS, f"{what} traces to {name!r}, which layout._CALLS lacks"
    inner = eqn.params[layout._CALLS[name]]
    assert isinstance(inner, jex.core.ClosedJaxpr) or hasattr(inner, "eqns"), (name, inner)


@functools.cache
def course_steps() -> list:
    """The train step's jaxpr for the course's dense networks: every hidden activation, output
    and loss, optimiser and backprop, weighted or not, with L2 or not (a covering set of 12,
    not the product), on ``m = 7`` examples."""
    m, steps = 7, []
    for i in range(12):
        hidden, (output, loss) = ACTIVATIONS[i % len(ACTIVATIONS)], OUTPUTS[i % len(OUTPUTS)]
        n_out = 3 if output == "softmax" else 1
        net = jn.Network((2, 4, n_out), activations=(hidden, output), loss=loss, l2=0.1 * (i % 3))
        tx = optimizers.get(optimizers.NAMES[i % len(optimizers.NAMES)])
        config = engine.TrainConfig(net, tx, ("manual", "autodiff")[i % 2])
        weights = jnp.ones(m) if i % 4 < 2 else None

        def step(p, X, Y, config=config, tx=tx, weights=weights):
            return engine.train_step(config, p, tx.init(p), X, Y, weights)

        params = jax.eval_shape(lambda net=net: jn.init(jax.random.key(0), net))
        steps.append((net, jax.make_jaxpr(step)(params, jnp.zeros((m, 2)), jnp.zeros((m, n_out)))))
    return steps


def test_4_every_primitive_of_the_course_steps_has_a_rule():
    """A renamed primitive (``logistic`` -> ``sigmoid``, say) would run batch-first with
    transposes: this names it."""
    unknown = {}
    for net, closed in course_steps():
        for eqn in eqns(closed.jaxpr):
            if eqn.primitive.name not in KNOWN:
                unknown.setdefault(eqn.primitive.name, repr(net))
    assert not unknown, f"primitives without a rule in jaxnet.training._cpu.layout: {unknown}"


# 5. the params each rule rewrites -----------------------------------------------------------

X = jnp.ones((4, 3))
RULE_PARAMS = {
    "broadcast_in_dim": (
        lambda x: jnp.broadcast_to(x[0], (4, 3)),
        ("shape", "broadcast_dimensions"),
    ),
    "transpose": (lambda x: x.T, ("permutation",)),
    "squeeze": (lambda x: lax.squeeze(x[:, :1], (1,)), ("dimensions",)),
    "reshape": (lambda x: x.reshape(12), ("new_sizes", "dimensions")),
    "slice": (lambda x: x[1:3], ("start_indices", "limit_indices", "strides")),
    "pad": (lambda x: jnp.pad(x, ((1, 0), (0, 0))), ("padding_config",)),
    "concatenate": (lambda x: jnp.concatenate([x, x]), ("dimension",)),
    "dot_general": (lambda x: x @ x.T, ("dimension_numbers",)),
    "reduce_sum": (lambda x: x.sum(0), ("axes",)),
    "argmax": (lambda x: x.argmax(1), ("axes",)),
}


@pytest.mark.parametrize("name", list(RULE_PARAMS))
def test_5_each_rule_finds_the_params_it_rewrites(name):
    fun, keys = RULE_PARAMS[name]
    eqn = the_eqn(fun, X, name=name)
    assert name in layout._RULES or name in layout._REDUCTIONS
    missing = [k for k in keys if k not in eqn.params]
    assert not missing, f"{name} has no params {missing}: it has {sorted(eqn.params)}"


def test_5_the_params_have_the_meaning_the_rules_give_them():
    assert the_eqn(RULE_PARAMS["reduce_sum"][0], X, name="reduce_sum").params["axes"] == (0,)
    assert the_eqn(RULE_PARAMS["transpose"][0], X, name="transpose").params["permutation"] == (1, 0)
    (lc, rc), (lb, rb) = the_eqn(RULE_PARAMS["dot_general"][0], X, name="dot_general").params[
        "dimension_numbers"
    ]
    assert (tuple(lc), tuple(rc), tuple(lb), tuple(rb)) == ((1,), (0,), (), ())
    sliced = the_eqn(RULE_PARAMS["slice"][0], X, name="slice").params
    assert tuple(sliced["start_indices"]) == (1, 0) and tuple(sliced["limit_indices"]) == (3, 3)


# 6. no mesh, no sharding params -------------------------------------------------------------


def test_6_a_trace_without_a_mesh_has_no_sharding_params():
    """A sharding param set on every equation would send every one to the batch-first path."""
    set_ = [
        (e.primitive.name, k)
        for _, closed in course_steps()
        for e in eqns(closed.jaxpr)
        for k in ("sharding", "out_sharding")
        if e.params.get(k) is not None
    ]
    assert not set_, set_
