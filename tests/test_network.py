"""The network: hand backprop equals ``jax.grad(jn.cost)``, the course's shapes, symmetry, no retracing."""

import contextlib
import dataclasses
import functools
import json
import sys

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    ACTIVATIONS,
    OUTPUTS,
    Scale,
    architectures,
    make_net,
    normalised_labels,
    random_data,
    random_params,
)
from hypothesis import example, given, settings
from layer_cases import NETWORKS, case_id

import jaxnet as jn
from jaxnet import network
from jaxnet.layers._autodiff import plain_autodiff

# the largest manual-vs-autodiff relative difference seen, per dtype (printed with -s)
LARGEST_RELATIVE_DIFFERENCE = {"float32": 0.0, "float64": 0.0}
TOLERANCES = {"float32": {"rtol": 1e-4, "atol": 1e-5}, "float64": {"rtol": 1e-8, "atol": 1e-12}}


@pytest.fixture(scope="module", autouse=True)
def report_largest_relative_difference():
    yield
    print(f"\nlargest manual-vs-autodiff relative difference: {LARGEST_RELATIVE_DIFFERENCE}")


def _manual_and_autodiff(net, params, X, Y):
    _, caches = jn.forward_with_caches(net, params, X)
    with plain_autodiff():  # JAX's own derivative of conv and pooling, not their custom VJPs
        autodiff = jax.grad(jn.cost, argnums=1)(net, params, X, Y)
    return jn.backward(net, params, caches, Y), autodiff


# one compilation per architecture and dtype (the public functions' own jits inline into it)
_manual_and_autodiff_jit = jax.jit(_manual_and_autodiff, static_argnums=0)


def assert_manual_equals_autodiff(net, m, seed, dtype):
    """``jn.backward`` (hand backprop through the caches) == ``jax.grad(jn.cost)``."""
    with jax.enable_x64(dtype == "float64"):
        params = random_params(seed, net, dtype)
        X, Y = random_data(seed + 1, net, m, dtype)
        manual, autodiff = _manual_and_autodiff_jit(net, params, X, Y)
        chex.assert_trees_all_equal_structs(manual, params)
        chex.assert_trees_all_equal_structs(autodiff, params)
        chex.assert_trees_all_close(manual, autodiff, **TOLERANCES[dtype])
        difference = _relative_difference(manual, autodiff)
        LARGEST_RELATIVE_DIFFERENCE[dtype] = max(LARGEST_RELATIVE_DIFFERENCE[dtype], difference)


def _relative_difference(g1, g2) -> float:
    """``jn.relative_difference`` in NumPy (for the report: no compile per tree of shapes)."""
    v1, v2 = (np.concatenate([np.ravel(a) for a in jax.tree.leaves(g)]) for g in (g1, g2))
    denominator = np.linalg.norm(v1) + np.linalg.norm(v2)
    return float(np.linalg.norm(v1 - v2) / denominator) if denominator > 0 else 0.0


@pytest.mark.parametrize("dtype", ("float64", pytest.param("float32", marks=pytest.mark.slow)))
@pytest.mark.parametrize("output, loss", OUTPUTS)
def test_every_hidden_activation_with_every_output(output, loss, dtype):
    """One deep net chains all seven hidden activations in front of each output/loss pair."""
    n_out = 3 if output == "softmax" else 2
    net = make_net((4, 5, 6, 3, 5, 4, 6, 5, n_out), ACTIVATIONS, output, loss)
    assert_manual_equals_autodiff(net, m=9, seed=0, dtype=dtype)


@pytest.mark.slow  # drawn architectures, each compiled in two dtypes
@settings(max_examples=3, deadline=None, derandomize=True)
@given(architectures())
@example((make_net((3, 2), (), "sigmoid"), 1, 0))  # depth 1: logistic regression, one example
@example((make_net((8, 8, 8, 8, 8, 8), ("relu",) * 4, "softmax"), 16, 1))  # depth 5
def test_manual_backprop_equals_autodiff(case):
    net, m, seed = case
    for dtype in ("float64", "float32"):
        assert_manual_equals_autodiff(net, m, seed, dtype)


def test_zero_initialisation_gradients_agree_at_the_relu_kink():
    """With zeros init every Z is exactly 0: manual and autodiff must pick the same g'(0)."""
    for hidden, output in (("relu", "softmax"), ("leaky_relu", "sigmoid")):
        net = jn.Network((3, 4, 2), hidden_activation=hidden, output_activation=output)
        params = jn.init(jax.random.key(0), net, scheme="zeros")
        X, Y = random_data(1, net, 5)
        chex.assert_trees_all_close(
            jn.grads(net, params, X, Y, backprop="manual"),
            jn.grads(net, params, X, Y, backprop="autodiff"),
            atol=1e-7,
        )


@pytest.mark.parametrize("sizes, m", [((5, 1), 3), ((4, 3, 1), 7), ((20, 16, 8, 10), 2)])
def test_course_matrix_dimensions(sizes, m):
    net = jn.Network(
        sizes, hidden_activation="relu", output_activation="softmax" if sizes[-1] > 1 else "sigmoid"
    )
    params = jn.init(jax.random.key(0), net)
    X, Y = random_data(1, net, m)
    A_L, caches = jn.forward_with_caches(net, params, X)
    assert len(params) == len(caches) == net.L == len(sizes) - 1
    chex.assert_shape(A_L, (m, sizes[-1]))
    for l in range(1, net.L + 1):
        (A_prev, W, b), Z = caches[l - 1]
        chex.assert_shape(params[l - 1]["W"], (sizes[l], sizes[l - 1]))
        chex.assert_shape(params[l - 1]["b"], (sizes[l],))
        chex.assert_shape((W, b), ((sizes[l], sizes[l - 1]), (sizes[l],)))
        chex.assert_shape((A_prev, Z), ((m, sizes[l - 1]), (m, sizes[l])))
    grads = jn.backward(net, params, caches, Y)
    chex.assert_trees_all_equal_structs(grads, params)
    chex.assert_trees_all_equal_shapes(grads, params)


def _train(net, params, X, Y, steps=5, learning_rate=0.5):
    for _ in range(steps):
        grads = jn.grads(net, params, X, Y)
        params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
    return params


def test_zero_initialisation_does_not_break_symmetry():
    net = jn.Network((3, 4, 1), hidden_activation="sigmoid", output_activation="sigmoid")
    X, Y = random_data(0, net, 11)  # odd m: the labels cannot be exactly balanced
    params = _train(net, jn.init(jax.random.key(1), net, scheme="zeros"), X, Y)
    W1, W2 = params[0]["W"], params[1]["W"]
    chex.assert_trees_all_close(W1, jnp.broadcast_to(W1[:1], W1.shape))  # every row equal
    chex.assert_trees_all_close(W2, jnp.full_like(W2, W2[0, 0]))
    assert float(jnp.abs(W1).min()) > 0 and float(jnp.abs(W2).min()) > 0  # it did train

    params = _train(net, jn.init(jax.random.key(1), net, scheme="normal"), X, Y)
    W1 = params[0]["W"]
    assert float(jnp.abs(W1 - W1[:1]).max()) > 1e-3  # random init breaks the symmetry


def test_jit_traces_once_and_the_core_does_not_recompile():
    net = jn.Network((4, 6, 3), hidden_activation="relu", output_activation="softmax")
    params = jn.init(jax.random.key(0), net)
    chex.clear_trace_counter()

    @jax.jit
    @chex.assert_max_traces(n=1)
    def step(params, X, Y):
        return jn.forward(net, params, X), jn.grads(net, params, X, Y)

    for i in range(3):
        X, Y = random_data(i, net, 8)
        step(params, X, Y)
    with pytest.raises(AssertionError, match="traced > 1 times"):  # new shapes must retrace
        step(params, *random_data(9, net, 9))

    # the public functions reuse their compiled core for new arrays of the same shapes
    X, Y = random_data(10, net, 10)
    params = jax.tree.map(lambda p: p + 0.1, params)
    jn.forward(net, params, X), jn.grads(net, params, X, Y)
    with _count_compilations() as compilations:
        for i in range(3):
            X, Y = random_data(20 + i, net, 10)
            params = jax.tree.map(lambda p: p + 0.1, params)
            jn.forward(net, params, X), jn.grads(net, params, X, Y)
    assert compilations == []
    with _count_compilations() as compilations:  # the listener sees a new shape compile
        jn.forward(net, params, random_data(30, net, 11)[0])
    assert compilations


@contextlib.contextmanager
def _count_compilations():
    """Collects one entry per jaxpr trace or XLA compilation made inside the block."""
    events = []

    def listener(event, duration, **kwargs):
        if event.startswith("/jax/core/compile/"):
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_forward_under_vmap_matches_the_batch():
    net = jn.Network((3, 5, 2), hidden_activation="tanh", output_activation="softmax")
    params = jn.init(jax.random.key(0), net)
    X, _ = random_data(1, net, 6)
    per_example = jax.vmap(lambda x: jn.forward(net, params, x[None, :])[0])(X)
    chex.assert_trees_all_close(per_example, jn.forward(net, params, X), rtol=1e-5)
    # per-example gradients (leading axis m) average to the batch gradient
    X, Y = random_data(2, net, 6)
    per_example = jax.vmap(lambda x, y: jn.grads(net, params, x[None], y[None]))(X, Y)
    chex.assert_tree_shape_prefix(per_example, (6,))
    mean = jax.tree.map(lambda g: g.mean(axis=0), per_example)
    chex.assert_trees_all_close(mean, jn.grads(net, params, X, Y), rtol=1e-4, atol=1e-6)


def test_predict_and_evaluate():
    net = jn.Network((2, 3), output_activation="softmax")
    W = jnp.array([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    params = ({"W": W, "b": jnp.zeros(3)},)
    X = jnp.array([[2.0, 0.0], [0.0, 2.0], [-2.0, -2.0], [2.0, 0.0]])
    Y = jnp.array([0, 1, 2, 1])
    chex.assert_trees_all_equal(jn.predict(net, params, X), jnp.array([0, 1, 2, 0], jnp.int32))
    result = jn.evaluate(net, params, X, Y)
    assert set(result) == {"loss", "accuracy"} and all(type(v) is float for v in result.values())
    assert result["accuracy"] == pytest.approx(0.75)
    assert result["loss"] == pytest.approx(float(jn.cost(net, params, X, Y)), rel=1e-6)

    binary = jn.Network((2, 1), output_activation="sigmoid")
    params = ({"W": jnp.array([[1.0, -1.0]]), "b": jnp.zeros(1)},)
    chex.assert_trees_all_equal(jn.predict(binary, params, X), jnp.array([1, 0, 0, 1], jnp.int32))
    assert jn.evaluate(binary, params, X, jnp.array([1, 0, 1, 1]))["accuracy"] == 0.75

    regression = jn.Network((2, 1), output_activation="linear")
    pred = jn.predict(regression, params, X)
    chex.assert_trees_all_close(pred, X @ params[0]["W"].T)
    result = jn.evaluate(regression, params, X, jnp.zeros(4))
    assert set(result) == {"loss", "mse"} and all(type(v) is float for v in result.values())
    assert result["mse"] == pytest.approx(float(jnp.mean(pred**2)))
    assert result["loss"] == pytest.approx(result["mse"] / 2)  # the cost keeps the course's 1/2


def test_summary_shows_shapes_and_the_total(capsys):
    net = jn.Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    assert net.num_params == 512 * 785 + 10 * 513 == 407_050
    text = jn.format_summary(net)
    for expected in ("(512, 784)", "(10, 512)", "(512,)", "(10,)", "407,050", "relu", "softmax"):
        assert expected in text
    assert jn.summary(net) is None
    assert capsys.readouterr().out.strip() == text.strip()


def test_network_is_frozen_hashable_and_round_trips():
    net = jn.Network((2, 4, 3, 1), activations=("relu", "leaky_relu(0.2)", "sigmoid"))
    same = jn.Network([2, 4, 3, 1], activations=["ReLU", "leaky_relu(slope=0.2)", "sigmoid"])
    assert net == same and hash(net) == hash(same)
    assert {net: "a"}[same] == "a"
    assert net != jn.Network((2, 4, 3, 1), hidden_activation="tanh")
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.sizes = (1, 1)
    assert jn.Network.from_dict(net.to_dict()) == net
    assert net.to_dict() == {
        "sizes": [2, 4, 3, 1],
        "activations": ["relu", "leaky_relu(0.2)", "sigmoid"],
        "loss": "binary_cross_entropy",
    }
    assert (net.L, net.task, net.fused) == (3, "binary", True)
    assert jn.Network((2, 3), output_activation="softmax").loss == "categorical_cross_entropy"
    assert jn.Network((2, 3), output_activation="linear").loss == "mean_squared_error"
    assert not jn.Network((2, 1), output_activation="sigmoid", loss="mse").fused


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            {"sizes": (3,)},
            ValueError,
            r"sizes must be a sequence of at least 2 ints, got sizes=\(3,\)",
        ),
        ({"sizes": (3, 0, 1)}, ValueError, r"sizes\[1\] must be an int >= 1, got sizes\[1\]=0"),
        ({"sizes": (3, 2.5, 1)}, TypeError, r"sizes\[1\] must be an int .* got sizes\[1\]=2.5"),
        ({"sizes": 3}, TypeError, "sizes must be a sequence"),
        (
            {"sizes": (3, 1), "output_activation": "swish"},
            ValueError,
            r"'swish'.*sigmoid, tanh, relu",
        ),
        ({"sizes": (3, 2, 1), "activations": ("relu",)}, ValueError, "one activation per layer"),
        ({"sizes": (3, 2, 1), "activations": "relu"}, TypeError, "one per layer"),
        (
            {"sizes": (3, 2, 1), "hidden_activation": 3},
            TypeError,
            "hidden_activation must be an activation's name",
        ),
        (
            {"sizes": (3, 1), "output_activation": "softmax"},
            ValueError,
            "softmax output needs at least 2",
        ),
        (
            {"sizes": (3, 1), "output_activation": "tanh", "loss": "bce"},
            ValueError,
            "needs a sigmoid",
        ),
        (
            {"sizes": (3, 2), "output_activation": "sigmoid", "loss": "cce"},
            ValueError,
            "needs a softmax",
        ),
        ({"sizes": (3, 1), "loss": "hinge"}, ValueError, r"unknown loss 'hinge'.*mean_squared"),
    ],
)
def test_network_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        jn.Network(**kwargs)


def test_public_entry_points_agree_with_the_core():
    net = jn.Network((3, 4, 2), hidden_activation="tanh", output_activation="softmax")
    params = random_params(0, net)
    X, labels = random_data(1, net, 6)
    one_hot = jax.nn.one_hot(labels, 2)
    J = jn.cost(net, params, X, labels)
    assert J.shape == () and float(J) > 0
    chex.assert_trees_all_close(J, jn.cost(net, params, X, one_hot))
    chex.assert_trees_all_close(
        jn.forward(net, params, X), jn.forward_with_caches(net, params, X)[0]
    )
    chex.assert_trees_all_close(
        jn.grads(net, params, X, labels, backprop="autodiff"),
        jn.grads(net, params, np.asarray(X), np.asarray(one_hot), backprop="manual"),
        rtol=1e-4,
        atol=1e-6,
    )


# --- networks of any layers (jn.Sequential) ------------------------------------------------


def _sequential(case):
    layers, input_shape, loss = case
    return jn.Sequential(layers, input_shape=input_shape, loss=loss)


@functools.partial(jax.jit, static_argnames=("net", "train"))
def _core_manual_and_autodiff(net, params, X, Y, weights, key, *, train):
    manual = network.loss_and_grads(net, params, X, Y, weights, "manual", key=key, train=train)
    autodiff = network.loss_and_grads(net, params, X, Y, weights, "autodiff", key=key, train=train)
    with plain_autodiff():
        reference = jax.grad(network.cost, argnums=1)(
            net, params, X, Y, weights, key=key, train=train
        )
    return manual, autodiff, reference


def _trainable_only(net, grads):
    """``grads`` with zeros for the non-trainable leaves."""
    return jax.tree.map(lambda t, g: g if t else jnp.zeros_like(g), net.trainable(), tuple(grads))


@pytest.mark.parametrize("case", NETWORKS, ids=map(case_id, NETWORKS))
@pytest.mark.parametrize("train", (False, True))
def test_sequential_backprop_equals_autodiff(case, train, x64):
    """Hand backprop through any layers == ``jax.grad`` of the cost, to 1e-10 in float64,
    in training (noise from the key, batch statistics) and inference, with padded rows."""
    net = _sequential(case)
    params = random_params(0, net, jnp.float64)
    X, labels = random_data(1, net, 7, jnp.float64)
    Y = normalised_labels(net, labels, jnp.float64)
    weights = jnp.array([1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 1.0])
    key = jax.random.key(2)
    manual, autodiff, reference = _core_manual_and_autodiff(
        net, params, X, Y, weights, key, train=train
    )
    J, A_L, grads, stats = manual
    # jax.grad also differentiates the state that inference reads; backprop leaves it out
    reference = _trainable_only(net, reference)
    chex.assert_shape(A_L, (7, *net.output_shape))
    chex.assert_trees_all_equal_structs(grads, params)
    chex.assert_trees_all_close(grads, reference, rtol=1e-10, atol=1e-12)
    chex.assert_trees_all_close(autodiff[2], reference, rtol=1e-10, atol=1e-12)
    chex.assert_trees_all_close((J, A_L, stats), autodiff[:1] + autodiff[1:2] + autodiff[3:])
    # no gradient for non-trainable leaves (a block's params nest its layers')
    frozen = jax.tree.map(lambda t, g: t or bool((g == 0).all()), net.trainable(), grads)
    assert all(jax.tree.leaves(frozen))
    # the public entry points agree with the core
    public = jn.grads(net, params, X, labels, key=key, train=train)
    public_reference = jax.grad(lambda p: jn.cost(net, p, X, labels, key=key, train=train))(params)
    public_reference = _trainable_only(net, public_reference)
    chex.assert_trees_all_close(public, public_reference, rtol=1e-10, atol=1e-12)


def test_training_mode_stats_and_with_stats():
    """``stats`` are the non-trainable leaves' new values; ``with_stats`` puts them in params."""
    net = jn.Sequential([Scale(), jn.layers.Dense(2, "softmax")], input_shape=(3,))
    params = random_params(0, net)
    X, labels = random_data(1, net, 6)
    Y = normalised_labels(net, labels)
    weights = jnp.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0])
    _, _, grads, stats = network.loss_and_grads(net, params, X, Y, weights, train=True)
    assert stats[1] == {} and set(stats[0]) == {"offset"}
    chex.assert_trees_all_close(stats[0]["offset"], X[:4].mean(axis=0), rtol=1e-6)
    chex.assert_trees_all_equal(grads[0]["offset"], jnp.zeros(3))
    stepped = jax.tree.map(lambda p, g: p - 0.1 * g, params, grads)
    new = network.with_stats(net, stepped, stats)
    chex.assert_trees_all_equal(new[0]["offset"], stats[0]["offset"])
    chex.assert_trees_all_equal((new[0]["s"], new[1]), (stepped[0]["s"], stepped[1]))
    # inference reads the state: the evaluate core in inference mode
    result = network.evaluate(net, new, X, Y)
    chex.assert_trees_all_close(result["loss"], network.cost(net, new, X, Y), rtol=1e-6)
    assert 0.0 <= float(result["accuracy"]) <= 1.0


def test_a_key_is_needed_only_to_train_a_network_that_draws():
    noisy = jn.Sequential([Scale(noise=0.5), jn.layers.Dense(1, "sigmoid")], input_shape=(3,))
    quiet = jn.Sequential([Scale(), jn.layers.Dense(1, "sigmoid")], input_shape=(3,))
    assert noisy.needs_key and not quiet.needs_key
    assert not jn.Network((3, 1)).needs_key
    params = random_params(0, noisy)
    X, Y = random_data(1, noisy, 5)
    with pytest.raises(ValueError, match=r"^key is needed"):
        jn.forward(noisy, params, X, train=True)
    with pytest.raises(ValueError, match=r"^key is needed"):
        jn.grads(noisy, params, X, Y, train=True)
    with pytest.raises(ValueError, match=r"^key is needed"):
        network.loss_and_grads(noisy, params, X, normalised_labels(noisy, Y), train=True)
    jn.forward(quiet, params, X, train=True)  # nothing to draw: no key needed
    # inference is deterministic; training draws from the key: same key, same bits
    chex.assert_trees_all_equal(jn.forward(noisy, params, X), jn.forward(noisy, params, X))
    k1, k2 = jax.random.key(1), jax.random.key(2)
    a = jn.forward(noisy, params, X, key=k1, train=True)
    chex.assert_trees_all_equal(a, jn.forward(noisy, params, X, key=k1, train=True))
    assert not np.allclose(a, jn.forward(noisy, params, X, key=k2, train=True))
    assert not np.allclose(a, jn.forward(noisy, params, X))


def test_the_dense_shorthand_is_a_sequential_of_dense_layers():
    net = jn.Network((4, 5, 3), hidden_activation="tanh", output_activation="softmax")
    same = jn.Sequential(
        [jn.layers.Dense(5, "tanh"), jn.layers.Dense(3, "softmax")], input_shape=(4,)
    )
    assert net == same and hash(net) == hash(same) and same.is_dense
    assert same.sizes == (4, 5, 3) and same.layers == net.layers
    assert (net.input_shape, net.output_shapes, net.input_shapes) == (
        (4,),
        ((5,), (3,)),
        ((4,), (5,)),
    )
    general = jn.Sequential([Scale(), *net.layers], input_shape=(4,))
    assert general != net and not general.is_dense
    with pytest.raises(AttributeError, match="sizes is defined for dense networks only"):
        _ = general.sizes
    assert general.activations == ("tanh", "softmax")
    assert (general.L, general.num_params, general.num_trainable_params) == (3, 8 + 43, 4 + 43)
    assert repr(net) == (
        "Network((4, 5, 3), activations=('tanh', 'softmax'), loss='categorical_cross_entropy')"
    )
    assert repr(general).startswith("Sequential([Scale(noise=0.0), Dense(units=5, ")


def test_init_runs_each_layers_own_init_from_one_draw():
    net = jn.Sequential(
        [jn.layers.Dense(4, "relu"), Scale(), jn.layers.Dense(2, "sigmoid")], input_shape=(3,)
    )
    key = jax.random.key(7)
    params = jn.init(key, net, scheme="xavier")
    assert [{k: v.shape for k, v in p.items()} for p in params] == list(net.param_shapes())
    # the layers' draws are consecutive slices of ONE normal vector, in layer order
    z = jax.random.normal(key, (12 + 4 + 8,))
    std = lambda n_in, n_out: np.sqrt(2 / (n_in + n_out))  # noqa: E731
    chex.assert_trees_all_close(params[0]["W"], z[:12].reshape(4, 3) * std(3, 4), rtol=1e-6)
    chex.assert_trees_all_close(params[1]["s"], 1 + 0.1 * z[12:16], rtol=1e-6)
    chex.assert_trees_all_close(params[2]["W"], z[16:].reshape(2, 4) * std(4, 2), rtol=1e-6)
    chex.assert_trees_all_equal(params[1]["offset"], jnp.zeros(4))
    # a dense network: the same as each Dense.init given its slice
    dense = jn.Network((3, 4, 2))
    params = jn.init(key, dense)
    layer_params = dense.layers[1].init(
        jn.initializers.Draws(jax.random.normal(key, (20,))[12:]), (4,)
    )
    chex.assert_trees_all_equal(params[1], layer_params)


def test_round_trip_through_json():
    dense = jn.Network((2, 4, 3, 1), activations=("relu", "leaky_relu(0.2)", "sigmoid"))
    general = jn.Sequential(
        [Scale(noise=0.25), jn.layers.Dense(3, "tanh"), jn.layers.Dense(2, "linear")],
        input_shape=(5,),
        loss="mse",
    )
    for net in (dense, general):
        d = json.loads(json.dumps(net.to_dict()))
        assert jn.Network.from_dict(d) == net
    assert general.to_dict() == {
        "input_shape": [5],
        "layers": [
            {"kind": "test_scale", "noise": 0.25},
            {"kind": "dense", "units": 3, "activation": "tanh"},
            {"kind": "dense", "units": 2, "activation": "linear"},
        ],
        "loss": "mean_squared_error",
    }
    # a dense Sequential is saved in the course's form, which old checkpoints hold
    old = {"sizes": [2, 4, 1], "activations": ["tanh", "sigmoid"], "loss": "binary_cross_entropy"}
    assert jn.Network.from_dict(old).to_dict() == old


@pytest.mark.parametrize(
    "d, match",
    [
        (
            {"input_shape": [2], "layers": [{"kind": "conv9d"}], "loss": "mse"},
            "unknown layer kind 'conv9d'",
        ),
        (
            {"input_shape": [2], "layers": [{"kind": "jaxnet.__main__"}], "loss": "mse"},
            "unknown layer kind",
        ),
        (
            {
                "input_shape": [2],
                "layers": [{"kind": "dense", "units": 2, "os": "rm"}],
                "loss": "mse",
            },
            "does not describe a dense layer",
        ),
        (
            {"input_shape": [2], "layers": [{"units": 2}], "loss": "mse"},
            "a layer must be a dict with a 'kind'",
        ),
        (
            {"input_shape": [2], "layers": [{"kind": "dense", "units": -1}], "loss": "mse"},
            "units must be an int in",
        ),
        ({"input_shape": [2], "layers": "dense", "loss": "mse"}, "needs a list 'layers'"),
        ({"layers": [], "loss": "mse"}, "needs a list 'layers' and an 'input_shape'"),
        ({"sizes": [2, 1], "loss": "mse"}, "needs 'activations'"),
        ({"sizes": [2, 1], "activations": ["linear"]}, "a network dict must hold"),
        ([1, 2], "a network dict must hold"),
    ],
)
def test_crafted_network_dicts_are_refused(d, match):
    """Nothing a dict names is imported: kinds come from the registry only."""
    before = set(sys.modules)
    with pytest.raises(ValueError, match=match):
        jn.Network.from_dict(d)
    assert set(sys.modules) == before


@pytest.mark.parametrize(
    "layers, input_shape, error, match",
    [
        ("dense", (2,), TypeError, "layers must be a sequence of layers, got str"),
        ((), (2,), ValueError, "at least one layer"),
        ([jn.layers.Dense(2), "relu"], (2,), TypeError, r"layers\[1\] must be a layer"),
        (
            [jn.layers.Dense(2, "softmax")],
            (2, 3, 1),
            ValueError,
            r"layers\[0\].*put a Flatten\(\) before it",
        ),
        (  # images are no output (a vector or a sequence (T, n[L]) is)
            [jn.layers.Conv2D(2, 1, activation="sigmoid")],
            (3, 3, 1),
            ValueError,
            r"a vector \(n\[L\],\) or a sequence \(T, n\[L\]\) per example, got shape "
            r"\(3, 3, 2\): put a Flatten\(\) and a Dense layer last",
        ),
        (
            [jn.layers.Dense(2), Scale()],
            (2,),
            ValueError,
            "the last layer must be the output layer",
        ),
        (
            [jn.layers.Dense(1, "softmax")],
            (2,),
            ValueError,
            "softmax output needs at least 2 units",
        ),
        ([jn.layers.Dense(1)], (0,), ValueError, r"input_shape\[0\] must be an int >= 1"),
        ([jn.layers.Dense(1)], (), ValueError, "input_shape must be a sequence of at least 1"),
        ([jn.layers.Dense(1)], (True,), TypeError, r"input_shape\[0\] must be an int"),
        ([jn.layers.Dense(1)], "ab", TypeError, "input_shape must be a sequence of ints"),
        ([jn.layers.Dense(1)], None, TypeError, "input_shape must be a sequence of ints"),
    ],
)
def test_sequential_validation(layers, input_shape, error, match):
    with pytest.raises(error, match=match):
        jn.Sequential(layers, input_shape=input_shape)


def test_an_unregistered_layer_class_is_refused():
    class Unregistered(Scale):  # no kind of its own: to_dict would name Scale's
        pass

    with pytest.raises(TypeError, match=r"layers\[0\]: Unregistered is not registered"):
        jn.Sequential([Unregistered(), jn.layers.Dense(1)], input_shape=(2,))


def test_a_layer_must_derive_from_the_base():
    class LooksLikeALayer:
        kind = "dense"

        def output_shape(self, input_shape):
            return input_shape

    with pytest.raises(TypeError, match=r"layers\[0\] must be a layer .* LooksLikeALayer"):
        jn.Sequential([LooksLikeALayer(), jn.layers.Dense(1)], input_shape=(2,))


def test_summary_of_a_general_network():
    net = jn.Sequential(
        [Scale(), jn.layers.Dense(3, "relu"), jn.layers.Dense(2, "softmax")], input_shape=(4,)
    )
    text = jn.format_summary(net)
    for expected in (
        "test_scale_1 (Scale)",
        "dense_1 (Dense)",
        "dense_2 (Dense)",
        "(None, 4)",
        "(None, 3)",
        "s (4,), [offset (4,)]",  # non-trainable in brackets
        "W (3, 4), b (3,)",
        "Total params: 31",
        "Trainable params: 27",
        "Non-trainable params: 4",
        "input shape (4,)",
    ):
        assert expected in text, (expected, text)


def test_summary_of_a_cnn_and_a_regularised_network():
    cnn = jn.Sequential(
        [jn.layers.Conv2D(8, 3, padding="same", activation="relu", l2=1e-3), jn.layers.BatchNorm(),
         jn.layers.MaxPool2D(2), jn.layers.Flatten(), jn.layers.Dropout(0.5),
         jn.layers.Dense(10, "softmax", l2=1e-3)],
        input_shape=(28, 28, 1),
    )  # fmt: skip
    lines = jn.format_summary(cnn).splitlines()
    header = next(line for line in lines if line.startswith("Layer (type)"))
    assert header.split() == ["Layer", "(type)", "Output", "shape", "Activation", "Params",
                              "Param", "#", "L2"]  # fmt: skip
    rows = {line.split()[0]: line for line in lines if "_1 (" in line}
    assert "(None, 28, 28, 8)" in rows["conv2d_1"] and rows["conv2d_1"].rstrip().endswith("0.001")
    assert "W (3, 3, 1, 8), b (8,)" in rows["conv2d_1"] and "80" in rows["conv2d_1"]
    assert "gamma (8,), beta (8,), [moving_mean (8,)], [moving_var (8,)]" in rows["batch_norm_1"]
    assert "(None, 14, 14, 8)" in rows["max_pool2d_1"] and "(None, 1568)" in rows["flatten_1"]
    assert "W (10, 1568), b (10,)" in rows["dense_1"]
    assert lines[-3:] == [
        f"Total params: {80 + 32 + 15690:,}",
        f"Trainable params: {80 + 16 + 15690:,}",
        "Non-trainable params: 16",
    ]
    # a network without L2 has no L2 column
    assert "L2" not in jn.format_summary(jn.network.without_l2(cnn)).splitlines()[2]
