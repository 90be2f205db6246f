"""The named optimisers are the course's update rules; any optax transformation works too.

Each rule is checked twice: through ``jn.fit`` against a hand-written loop over
``jn.grads`` (float64, full batch), and as a bare optax transformation against the
optax optimiser it should (or should not) equal.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import count_compiles

import jaxnet as jn
from jaxnet import optimizers

F64 = {"rtol": 1e-10, "atol": 1e-12}
STEPS = 20


def setup(dtype=jnp.float64):
    """The 3-4-1 tanh/sigmoid network of test_training on 22 examples (shares its compilations)."""
    net = jn.Network((3, 4, 1), hidden="tanh", output="sigmoid")
    X = np.random.default_rng(0).standard_normal((22, 3)).astype(dtype)
    Y = (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)
    return net, jn.init(jax.random.key(1), net, scheme="xavier", dtype=dtype), X, Y


def tmap(f, *trees):
    return jax.tree.map(f, *trees)


def hand_loop(net, params, X, Y, rule, steps=STEPS):
    """``params, state = rule(params, grads, state, t)`` for t = 1..steps on full-batch gradients."""
    state = None
    for t in range(1, steps + 1):
        params, state = rule(params, jn.grads(net, params, X, Y, backprop="manual"), state, t)
    return params


def sgd_rule(lr):
    def rule(p, g, state, t):
        return tmap(lambda p, g: p - lr * g, p, g), state

    return rule


def course_momentum_rule(lr, beta=0.9):
    """The course: ``v = beta v + (1 - beta) dW;  W = W - alpha v``."""

    def rule(p, g, v, t):
        v = tmap(jnp.zeros_like, g) if v is None else v
        v = tmap(lambda v, g: beta * v + (1 - beta) * g, v, g)
        return tmap(lambda p, v: p - lr * v, p, v), v

    return rule


def heavy_ball_rule(lr, beta=0.9):
    """optax.sgd(momentum=beta): ``v = beta v + dW;  W = W - alpha v``."""

    def rule(p, g, v, t):
        v = g if v is None else tmap(lambda v, g: beta * v + g, v, g)
        return tmap(lambda p, v: p - lr * v, p, v), v

    return rule


def keras_rmsprop_rule(lr, rho=0.9, eps=1e-7):
    """Keras: ``s = rho s + (1 - rho) g^2;  W = W - lr g / sqrt(s + eps)``."""

    def rule(p, g, s, t):
        s = tmap(jnp.zeros_like, g) if s is None else s
        s = tmap(lambda s, g: rho * s + (1 - rho) * g**2, s, g)
        return tmap(lambda p, g, s: p - lr * g / jnp.sqrt(s + eps), p, g, s), s

    return rule


def course_adam_rule(lr, b1=0.9, b2=0.999, eps=1e-8):
    """The course's Adam with bias correction."""

    def rule(p, g, state, t):
        v, s = (tmap(jnp.zeros_like, g),) * 2 if state is None else state
        v = tmap(lambda v, g: b1 * v + (1 - b1) * g, v, g)
        s = tmap(lambda s, g: b2 * s + (1 - b2) * g**2, s, g)
        step = tmap(lambda v, s: (v / (1 - b1**t)) / (jnp.sqrt(s / (1 - b2**t)) + eps), v, s)
        return tmap(lambda p, d: p - lr * d, p, step), (v, s)

    return rule


RULES = {
    "sgd": (sgd_rule, 0.5),
    "momentum": (course_momentum_rule, 0.5),
    "rmsprop": (keras_rmsprop_rule, 0.01),
    "adam": (course_adam_rule, 0.01),
}


@pytest.mark.parametrize("name", RULES)
def test_named_optimizer_is_the_hand_written_rule(name, x64):
    rule, lr = RULES[name]
    net, params, X, Y = setup()
    expected = hand_loop(net, params, X, Y, rule(lr))
    trained, history = jn.fit(
        net, params, X, Y, optimizer=name, learning_rate=lr, epochs=STEPS, verbose=0
    )
    chex.assert_trees_all_close(trained, expected, **F64)
    assert history["loss"][-1] < history["loss"][0]


def test_course_momentum_is_not_optax_sgd_momentum(x64):
    net, params, X, Y = setup()
    lr = 0.5
    course = hand_loop(net, params, X, Y, course_momentum_rule(lr))
    heavy_ball = hand_loop(net, params, X, Y, heavy_ball_rule(lr))
    trained, _ = jn.fit(
        net, params, X, Y, optimizer="momentum", learning_rate=lr, epochs=STEPS, verbose=0
    )
    chex.assert_trees_all_close(trained, course, **F64)
    assert not np.allclose(trained[0]["W"], heavy_ball[0]["W"], rtol=1e-2)
    # and the heavy-ball rule is optax.sgd(momentum=0.9)
    tx = optax.sgd(lr, momentum=0.9)
    p, state = params, tx.init(params)
    for _ in range(STEPS):
        updates, state = tx.update(jn.grads(net, p, X, Y), state, p)
        p = optax.apply_updates(p, updates)
    chex.assert_trees_all_close(p, heavy_ball, **F64)


def random_gradients(key, n=6):
    """A sequence of gradient trees (one W and one b) of varied scale."""
    keys = jax.random.split(key, n)
    return [
        {"W": jax.random.normal(k, (3, 2)) * (i + 1), "b": jax.random.normal(k, (2,)) / (i + 1)}
        for i, k in enumerate(keys)
    ]


def run_transformation(tx, grads, state=None, params=None):
    params = {"W": jnp.ones((3, 2)), "b": jnp.zeros(2)} if params is None else params
    state = tx.init(params) if state is None else state
    out = []
    for g in grads:
        updates, state = tx.update(g, state, params)
        out.append(updates)
    return out


def named(name, lr):
    tx = optimizers.get(name)
    params = {"W": jnp.ones((3, 2)), "b": jnp.zeros(2)}
    return tx, optimizers.set_learning_rate(tx.init(params), lr)


@pytest.mark.parametrize(
    "name, reference",
    [
        ("sgd", optax.sgd(0.03)),
        ("rmsprop", optax.rmsprop(0.03, decay=0.9, eps=1e-7)),
        ("adam", optax.adam(0.03)),
    ],
)
def test_named_transformation_equals_optax(name, reference, x64):
    grads = random_gradients(jax.random.key(2))
    tx, state = named(name, 0.03)
    chex.assert_trees_all_close(
        run_transformation(tx, grads, state), run_transformation(reference, grads), **F64
    )


def test_momentum_transformation_is_the_course_ema_not_optax_momentum(x64):
    grads = random_gradients(jax.random.key(3))
    tx, state = named("momentum", 0.03)
    got = run_transformation(tx, grads, state)
    v = jax.tree.map(jnp.zeros_like, grads[0])
    for g, u in zip(grads, got):
        v = jax.tree.map(lambda v, g: 0.9 * v + 0.1 * g, v, g)
        chex.assert_trees_all_close(u, jax.tree.map(lambda v: -0.03 * v, v), **F64)
    optax_momentum = run_transformation(optax.sgd(0.03, momentum=0.9), grads)
    assert not np.allclose(got[-1]["W"], optax_momentum[-1]["W"], rtol=0.1)
    # the course's form with beta = 0.9 is optax's velocity scaled by (1 - beta) only at step 1
    chex.assert_trees_all_close(got[0], jax.tree.map(lambda u: 0.1 * u, optax_momentum[0]), **F64)


def test_rmsprop_is_keras_with_epsilon_inside_the_square_root(x64):
    grads = random_gradients(jax.random.key(4))
    tx, state = named("rmsprop", 0.03)
    got = run_transformation(tx, grads, state)
    s = jax.tree.map(jnp.zeros_like, grads[0])
    for g, u in zip(grads, got):
        s = jax.tree.map(lambda s, g: 0.9 * s + 0.1 * g**2, s, g)
        expected = jax.tree.map(lambda g, s: -0.03 * g / jnp.sqrt(s + 1e-7), g, s)
        chex.assert_trees_all_close(u, expected, **F64)


def test_a_user_supplied_optax_transformation(x64):
    net, params, X, Y = setup()
    tx = optax.chain(optax.clip_by_global_norm(0.05), optax.sgd(0.5))

    def clipped_sgd(p, g, state, t):
        norm = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(g)))
        factor = jnp.minimum(1.0, 0.05 / norm)
        return tmap(lambda p, g: p - 0.5 * factor * g, p, g), state

    expected = hand_loop(net, params, X, Y, clipped_sgd)
    trained, _ = jn.fit(net, params, X, Y, optimizer=tx, epochs=STEPS, verbose=0)
    chex.assert_trees_all_close(trained, expected, **F64)
    unclipped = hand_loop(net, params, X, Y, sgd_rule(0.5))
    assert not np.allclose(unclipped[0]["W"], expected[0]["W"], rtol=1e-3)  # clipping was active


def test_learning_rate_with_a_transformation_is_an_error():
    net, params, X, Y = setup(jnp.float32)
    with pytest.raises(ValueError, match="learning_rate"):
        jn.fit(net, params, X, Y, optimizer=optax.adam(1e-3), learning_rate=1e-3, verbose=0)


def test_unknown_name_is_an_error_listing_the_names():
    with pytest.raises(ValueError, match="nadam") as info:
        optimizers.get("nadam")
    for name in optimizers.NAMES:
        assert name in str(info.value)
    assert set(optimizers.NAMES) == {"sgd", "momentum", "rmsprop", "adam"}


def test_an_optimizer_that_is_neither_name_nor_transformation_is_a_type_error():
    net, params, X, Y = setup(jnp.float32)
    with pytest.raises(TypeError, match="optimizer"):
        jn.fit(net, params, X, Y, optimizer=optax.adam, verbose=0)


def test_default_learning_rates_are_keras_defaults():
    assert optimizers.DEFAULT_LEARNING_RATES == {
        "sgd": 0.01,
        "momentum": 0.01,
        "rmsprop": 1e-3,
        "adam": 1e-3,
    }


def test_the_same_name_gives_the_same_transformation():
    """So a compiled training program that takes it as a static argument is reused."""
    assert optimizers.get("adam") is optimizers.get("adam")


def test_name_of_finds_the_named_transformations_only():
    for name in optimizers.NAMES:
        assert optimizers.name_of(optimizers.get(name)) == name
    assert optimizers.name_of(optax.adam(1e-3)) is None
    assert optimizers.name_of(optax.inject_hyperparams(optax.sgd)(learning_rate=0.01)) is None


def test_public_name_is_the_training_module():
    assert jn.optimizers is optimizers
    assert optimizers.__name__ == "jaxnet.training.optimizers"


def test_changing_the_learning_rate_does_not_recompile():
    net, params, X, Y = setup(jnp.float32)
    kw = dict(optimizer="momentum", epochs=STEPS, verbose=0)
    a, _ = jn.fit(net, params, X, Y, learning_rate=0.1, **kw)
    with count_compiles() as compiles:
        b, _ = jn.fit(net, params, X, Y, learning_rate=0.3, **kw)
    assert compiles["jit(run_chunk)"] == 0
    assert not np.allclose(a[0]["W"], b[0]["W"])  # the new rate was used


def test_set_learning_rate_takes_a_scalar_or_one_rate_per_model():
    tx = optimizers.get("sgd")
    state = tx.init({"W": jnp.ones(3)})
    assert float(optimizers.set_learning_rate(state, 0.5).hyperparams["learning_rate"]) == 0.5
    stacked = jax.vmap(tx.init)({"W": jnp.ones((4, 3))})
    rates = optimizers.set_learning_rate(stacked, jnp.array([0.1, 0.2, 0.3, 0.4]))
    np.testing.assert_allclose(rates.hyperparams["learning_rate"], [0.1, 0.2, 0.3, 0.4])
