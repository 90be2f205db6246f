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
    net = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
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


def clip_rule(lr, clip_value=None, clip_norm=None):
    """The course's ``clip``: each entry to [-clip_value, clip_value], then the global norm."""

    def rule(p, g, state, t):
        if clip_value is not None:
            g = tmap(lambda g: jnp.minimum(jnp.maximum(g, -clip_value), clip_value), g)
        if clip_norm is not None:
            norm = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree.leaves(g)))
            g = tmap(lambda g: g * clip_norm / jnp.maximum(norm, clip_norm), g)
        return tmap(lambda p, g: p - lr * g, p, g), state

    return rule


@pytest.mark.parametrize(
    "clip", [{"clip_value": 0.02}, {"clip_norm": 0.05}, {"clip_value": 0.02, "clip_norm": 0.03}]
)
def test_fit_clips_the_gradients_before_the_update(clip, x64):
    """One full-batch step of clipped sgd is ``W - lr clip(dW)``, computed by hand."""
    net, params, X, Y = setup()
    grads = jn.grads(net, params, X, Y, backprop="manual")
    largest = max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads))
    norm = float(jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads))))
    assert largest > 0.02 and norm > 0.05  # the bounds bite
    expected = hand_loop(net, params, X, Y, clip_rule(0.5, **clip), steps=1)
    trained, _ = jn.fit(net, params, X, Y, optimizer="sgd", learning_rate=0.5, epochs=1,
                        verbose=0, **clip)  # fmt: skip
    chex.assert_trees_all_close(trained, expected, **F64)
    unclipped = hand_loop(net, params, X, Y, sgd_rule(0.5), steps=1)
    assert not np.allclose(unclipped[0]["W"], expected[0]["W"], rtol=1e-3)


def test_clipped_optimizers_are_cached_named_and_keep_the_learning_rate():
    tx = optimizers.get("adam", clip_norm=5)
    assert tx is optimizers.get("adam", clip_norm=np.float32(5.0)) is not optimizers.get("adam")
    assert optimizers.name_of(tx) == "adam"
    assert optimizers.clipping_of(tx) == (None, 5.0)
    assert optimizers.clipping_of(optimizers.get("adam")) == (None, None)
    assert optimizers.clipping_of(optax.adam(1e-3)) == (None, None)
    state = optimizers.set_learning_rate(tx.init({"W": jnp.ones(2)}), 0.25)
    assert float(optimizers.learning_rate_of(state)) == 0.25


@pytest.mark.parametrize(
    "bound, error", [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError),
                     ("5", TypeError), (True, TypeError)],
)  # fmt: skip
def test_a_bad_clipping_bound_is_refused(bound, error):
    for name in ("clip_value", "clip_norm"):
        with pytest.raises(error, match=name):
            optimizers.get("sgd", **{name: bound})
        with pytest.raises(error, match=name):
            optimizers.clipping(**{name: bound})


def test_clipping_with_an_optax_transformation_says_to_chain_it():
    net, params, X, Y = setup(jnp.float32)
    with pytest.raises(ValueError, match=r"clip_norm.*optax\.chain"):
        jn.fit(net, params, X, Y, optimizer=optax.adam(1e-3), clip_norm=1.0, verbose=0)


def test_resuming_with_other_clipping_is_refused(tmp_path):
    net, params, X, Y = setup(jnp.float32)
    jn.fit(net, params, X, Y, optimizer="sgd", clip_value=1.0, epochs=1, verbose=0,
           checkpoint_dir=tmp_path)  # fmt: skip
    with pytest.raises(ValueError, match="clip_value=1.0, not clip_value=None"):
        jn.fit(net, params, X, Y, optimizer="sgd", epochs=2, verbose=0, resume_from=tmp_path)
    _, history = jn.fit(net, params, X, Y, optimizer="sgd", clip_value=1.0, epochs=2, verbose=0,
                        resume_from=tmp_path)  # fmt: skip
    assert history["epoch"] == [1, 2]


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


# --- the course's update functions, written in NumPy, step by step on a real network --------
#
# Course 2, week 2 ("Optimization methods"): parameters and gradients are dicts "W1", "b1",
# "dW1", ...; velocity and squared-gradient averages start at zero; Adam's t counts the
# updates (minibatches). Keras's RMSprop (keras/src/optimizers/rmsprop.py) is written the
# same way. jaxnet's optimizers must follow them update after update: a callback records
# the params after every epoch (every full-batch iteration, every 5-minibatch epoch).


def initialize_velocity(parameters):
    return {"d" + k: np.zeros_like(v) for k, v in parameters.items()}


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            v[f"d{p}{l}"] = beta * v[f"d{p}{l}"] + (1 - beta) * grads[f"d{p}{l}"]
            parameters[f"{p}{l}"] = parameters[f"{p}{l}"] - learning_rate * v[f"d{p}{l}"]
    return parameters, v


def update_parameters_with_adam(
    parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999, epsilon=1e-8
):
    L = len(parameters) // 2
    v_corrected, s_corrected = {}, {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            d = f"d{p}{l}"
            v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
            v_corrected[d] = v[d] / (1 - beta1**t)
            s[d] = beta2 * s[d] + (1 - beta2) * grads[d] ** 2
            s_corrected[d] = s[d] / (1 - beta2**t)
            parameters[f"{p}{l}"] = parameters[f"{p}{l}"] - learning_rate * v_corrected[d] / (
                np.sqrt(s_corrected[d]) + epsilon
            )
    return parameters, v, s, v_corrected, s_corrected


def update_parameters_with_keras_rmsprop(parameters, grads, s, learning_rate, rho=0.9, eps=1e-7):
    """Keras: ``velocity = rho velocity + (1 - rho) g^2;  W -= lr g / sqrt(velocity + eps)``."""
    for k in parameters:
        s["d" + k] = rho * s["d" + k] + (1 - rho) * grads["d" + k] ** 2
        parameters[k] = parameters[k] - learning_rate * grads["d" + k] / np.sqrt(s["d" + k] + eps)
    return parameters, s


def to_course(params):
    return {f"{p}{l}": np.array(layer[p]) for l, layer in enumerate(params, 1) for p in ("W", "b")}


def from_course(parameters):
    L = len(parameters) // 2
    return tuple(
        {p: jnp.asarray(parameters[f"{p}{l}"]) for p in ("W", "b")} for l in range(1, L + 1)
    )


def course_grads(net, parameters, X, Y):
    """The course's ``backward_propagation`` (jaxnet's hand-derived one) as a dict of NumPy."""
    g = jn.grads(net, from_course(parameters), X, Y)
    return {"d" + k: np.asarray(v) for k, v in to_course(g).items()}


def course_training(net, params, X, Y, name, lr, batch_size, epochs):
    """The course's ``model(...)`` loop with minibatches in order: params after every epoch."""
    parameters, t = to_course(params), 0
    v, s = initialize_velocity(parameters), initialize_velocity(parameters)
    m = X.shape[0]
    after = []
    for _ in range(epochs):
        for start in range(0, m, batch_size or m):
            idx = slice(start, start + (batch_size or m))
            grads = course_grads(net, parameters, X[idx], Y[idx])
            t += 1
            if name == "momentum":
                parameters, v = update_parameters_with_momentum(parameters, grads, v, 0.9, lr)
            elif name == "adam":
                parameters, v, s, _, _ = update_parameters_with_adam(parameters, grads, v, s, t, lr)
            else:
                parameters, s = update_parameters_with_keras_rmsprop(parameters, grads, s, lr)
        after.append(from_course(dict(parameters)))
    return after


class ParamsAfterEachEpoch(jn.callbacks.Callback):
    def __init__(self):
        self.params = []

    def on_epoch_end(self, epoch, logs, params):
        self.params.append(params)


@pytest.mark.parametrize("batch_size, epochs", [(None, 8), (64, 3)], ids=["full", "minibatch"])
@pytest.mark.parametrize("name, lr", [("momentum", 0.1), ("adam", 0.01), ("rmsprop", 0.01)])
def test_the_course_update_functions_step_by_step(name, lr, batch_size, epochs, x64):
    """The course's 2-5-2-1 moons network (300 examples, 5 minibatches of 64 per epoch)."""
    X, y = jn.datasets.make_moons(jax.random.key(0), m=300, noise=0.2)
    X, y = np.asarray(X, np.float64), np.asarray(y)
    net = jn.Network((2, 5, 2, 1), hidden_activation="relu", output_activation="sigmoid")
    params = jn.init(jax.random.key(1), net, dtype=jnp.float64)
    expected = course_training(net, params, X, y, name, lr, batch_size, epochs)
    record = ParamsAfterEachEpoch()
    jn.fit(net, params, X, y, optimizer=name, learning_rate=lr, epochs=epochs,
           batch_size=batch_size, shuffle=False, verbose=0, callbacks=[record])  # fmt: skip
    assert len(record.params) == epochs
    for got, want in zip(record.params, expected):
        chex.assert_trees_all_close(got, want, **F64)
    # and they moved: the rule matters
    assert not np.allclose(expected[-1][0]["W"], params[0]["W"], rtol=1e-3)
