"""Residual blocks (course 4, week 2): the block's hand-derived backward (composed from its
sub-layers') equals jax.vjp in float64 over drawn blocks and finite differences; the course's
identity and convolutional blocks against their layer-by-layer definition; params as trees
(init, L2, state, validation), JSON, the summary, and the errors a bad block gets."""

import json
import re

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import REPO, random_data, random_params, residual_blocks, script
from hypothesis import example, given, settings
from hypothesis import strategies as st
from layer_checks import (
    assert_layer_gradients,
    directional_derivative,
    manual_and_vjp,
    random_layer_params,
    vjp_in_layer_convention,
)

import jaxnet as jn
from jaxnet import network
from jaxnet.layers import (
    Activation,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    Residual,
    batchnorm_forward,
    batchnorm_inference,
    conv_forward,
    convolutional_block,
    convolutional_block_backward,
    convolutional_block_forward,
    identity_block,
    identity_block_backward,
    identity_block_forward,
)
from jaxnet.layers.base import map_sublayers

F64 = {"rtol": 1e-10, "atol": 1e-12}

# --- the generic proof over drawn blocks -----------------------------------------------------


@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    case=residual_blocks(),
    m=st.integers(2, 4),
    seed=st.integers(0, 2**31 - 1),
    train=st.booleans(),
    padded=st.booleans(),
)
@example(
    case=(convolutional_block(2, (2, 3, 3), s=2), (5, 4, 2)), m=3, seed=1, train=True, padded=True
)
def test_drawn_blocks_backward_equals_vjp(case, m, seed, train, padded):
    """``dA_prev = dA_main_prev + dA_shortcut_prev`` and every sub-layer's params gradient, by
    the block's backward == ``jax.vjp`` of its forward: strides, identity or projection
    shortcuts, batch norm (batch statistics in training, with padding rows), dropout with a
    key, nested blocks."""
    block, input_shape = case
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        params = random_layer_params(block, input_shape, rng)
        A_prev = jnp.asarray(rng.normal(size=(m, *input_shape)))
        dA = jnp.asarray(rng.normal(size=(m, *block.output_shape(input_shape))))
        weights = jnp.asarray(np.r_[1.0, 1.0, np.zeros(m - 2)]) if padded else None
        A, (dA_prev, dparams), stats, (vjp_params, vjp_A_prev) = manual_and_vjp(
            block, params, A_prev, dA, jax.random.key(seed % 997), weights, train=train
        )
        chex.assert_shape(A, (m, *block.output_shape(input_shape)))
        chex.assert_trees_all_close(dA_prev, vjp_A_prev, **F64)
        assert_layer_gradients(block, input_shape, params, dparams, stats, vjp_params, m)


FINITE_DIFFERENCE_CASES = [
    (  # a convolutional block with dropout: the mask from the key, batch statistics
        Residual(
            (
                Conv2D(3, 3, strides=2, padding="same"),
                BatchNorm(),
                Activation("tanh"),
                Dropout(0.3),
                Conv2D(3, 2, padding="same"),
                BatchNorm(),
            ),
            shortcut=(Conv2D(3, 1, strides=2), BatchNorm()),
            activation="tanh",
        ),
        (5, 5, 2),
    ),  # fmt: skip
    (  # a dense block inside a dense block
        Residual(
            (Residual((Dense(4, "tanh"), Dense(4, "linear"))), Dense(4, "sigmoid")), None, "tanh"
        ),
        (4,),
    ),
]


@pytest.mark.parametrize(
    "block, input_shape", FINITE_DIFFERENCE_CASES, ids=["conv", "nested-dense"]
)
def test_block_backward_agrees_with_finite_differences(block, input_shape):
    """Along random directions of (params, A_prev), central differences of
    ``L = sum(A * G)`` equal the hand-derived gradients (the non-trainable leaves held still)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(0)
        m = 4
        params = random_layer_params(block, input_shape, rng)
        A_prev = jnp.asarray(rng.normal(size=(m, *input_shape)))
        G = jnp.asarray(rng.normal(size=(m, *block.output_shape(input_shape))))
        kw = {"key": jax.random.key(3), "train": True}
        A, cache = block.forward(params, A_prev, **kw)
        dA_prev, dparams = block.backward(params, cache, G)
        theta, unravel = jax.flatten_util.ravel_pytree(params)
        trainable = block.trainable(input_shape)
        mask = jax.flatten_util.ravel_pytree(
            jax.tree.map(lambda t, p: jnp.full(p.shape, float(t)), trainable, params)
        )[0]

        def L(th, a):
            return block.forward(unravel(th), a, **kw)[0] * G

        for _ in range(3):
            v_theta = jnp.asarray(rng.normal(size=theta.shape)) * mask
            v_A = jnp.asarray(rng.normal(size=A_prev.shape))
            numeric = directional_derivative(L, (theta, A_prev), (v_theta, v_A))
            g_theta = jax.flatten_util.ravel_pytree(dparams)[0] * m  # dparams: the mean's
            analytic = float(jnp.vdot(g_theta, v_theta) + jnp.vdot(dA_prev, v_A))
            np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


# --- the course's blocks ------------------------------------------------------------------------


def _course_unit(X, W, b, bn, *, stride=1, pad="valid", relu=True, train=False):
    """Conv2D -> BatchNorm(axis=3) -> ReLU as the course's Keras code writes it, from the
    building-block functions."""
    Z, _ = conv_forward(X, W, b, stride, pad)
    if train:
        Y = batchnorm_forward(Z, bn["gamma"], bn["beta"], epsilon=1e-3)[0]
    else:
        Y = batchnorm_inference(
            Z, bn["gamma"], bn["beta"], bn["moving_mean"], bn["moving_var"], epsilon=1e-3
        )[0]
    return jnp.maximum(Y, 0) if relu else Y


def _course_block(X, params, f, s, projection, train):
    p = params["main"]
    A = _course_unit(X, p[0]["W"], p[0]["b"], p[1], stride=s, train=train)
    A = _course_unit(A, p[3]["W"], p[3]["b"], p[4], pad="same", train=train)
    A = _course_unit(A, p[6]["W"], p[6]["b"], p[7], relu=False, train=train)
    shortcut = X
    if projection:
        q = params["shortcut"]
        shortcut = _course_unit(X, q[0]["W"], q[0]["b"], q[1], stride=s, relu=False, train=train)
    return jnp.maximum(A + shortcut, 0)


@pytest.mark.parametrize("train", (False, True))
def test_identity_block_is_the_courses(train, x64):
    """The course's test shapes: X (3, 4, 4, 3), f = 2, filters (4, 4, 3) -> (3, 4, 4, 3); the
    forward is the course's layer sequence, the backward equals jax.vjp of the forward."""
    rng = np.random.default_rng(1)
    X = jnp.asarray(rng.normal(size=(3, 4, 4, 3)))
    params = random_layer_params(identity_block(2, (4, 4, 3)), (4, 4, 3), rng)
    A, cache = identity_block_forward(X, params, 2, train=train)
    chex.assert_shape(A, (3, 4, 4, 3))
    chex.assert_trees_all_close(A, _course_block(X, params, 2, 1, False, train), **F64)
    dA = jnp.asarray(rng.normal(size=A.shape))
    dA_prev, grads = identity_block_backward(dA, cache)
    ref_A_prev, ref_grads = vjp_in_layer_convention(cache.block, params, X, dA, train=train)
    chex.assert_trees_all_close((dA_prev, grads), (ref_A_prev, ref_grads), **F64)


def test_convolutional_block_is_the_courses(x64):
    """The course's test: X (3, 4, 4, 6), f = 2, filters (2, 4, 6), s = 2 -> (3, 2, 2, 6)."""
    rng = np.random.default_rng(2)
    X = jnp.asarray(rng.normal(size=(3, 4, 4, 6)))
    block = convolutional_block(2, (2, 4, 6), s=2)
    params = random_layer_params(block, (4, 4, 6), rng)
    A, cache = convolutional_block_forward(X, params, 2, s=2, train=True)
    chex.assert_shape(A, (3, 2, 2, 6))
    chex.assert_trees_all_close(A, _course_block(X, params, 2, 2, True, True), **F64)
    dA = jnp.asarray(rng.normal(size=A.shape))
    dA_prev, grads = convolutional_block_backward(dA, cache)
    ref_A_prev, ref_grads = vjp_in_layer_convention(block, params, X, dA, train=True)
    chex.assert_trees_all_close((dA_prev, grads), (ref_A_prev, ref_grads), **F64)
    assert cache.block == block and sorted(grads) == ["main", "shortcut"]


def test_course_block_functions_refuse_bad_arguments():
    with pytest.raises(ValueError, match=r"filters must be three ints \(F1, F2, F3\)"):
        identity_block(3, (4, 4))
    with pytest.raises(TypeError, match="filters must be a sequence of three ints"):
        identity_block(3, 4)
    with pytest.raises(ValueError, match="f must be an int >= 1"):
        identity_block(0, (4, 4, 3))
    with pytest.raises(ValueError, match="s must be an int >= 1"):
        convolutional_block(3, (4, 4, 3), s=0)
    with pytest.raises(ValueError, match="params must be a course block's params"):
        identity_block_forward(jnp.ones((2, 4, 4, 3)), {"main": ()}, 3)
    with pytest.raises(TypeError, match="f must be an int"):
        identity_block_forward(jnp.ones((2, 4, 4, 3)), {}, 2.0)


# --- a layer made of layers: construction, errors, JSON ------------------------------------------


def test_a_block_whose_paths_differ_is_refused_naming_both_shapes():
    block = Residual((Conv2D(4, 3, padding="same"),))
    with pytest.raises(
        ValueError,
        match=r"main path's output shape \(5, 5, 4\) differs from the identity shortcut \(the "
        r"input\)'s \(5, 5, 2\).*shortcut=\(Conv2D",
    ):
        block.output_shape((5, 5, 2))
    projected = Residual((Conv2D(4, 3, strides=2, padding="same"),), (Conv2D(4, 1),))
    with pytest.raises(ValueError, match=r"\(3, 3, 4\) differs from the shortcut's \(5, 5, 4\)"):
        projected.output_shape((5, 5, 2))
    with pytest.raises(ValueError, match=r"layers\[0\] .*main path's output shape"):
        jn.Sequential([block, Flatten(), Dense(2, "softmax")], input_shape=(5, 5, 2))
    with pytest.raises(ValueError, match=r"main\[1\] \(Dense.*on input shape \(5, 5, 4\)"):
        Residual((Conv2D(4, 3), Dense(3))).output_shape((7, 7, 4))


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"main": Dense(3)}, TypeError, r"main must be a sequence of layers, got one layer .* write main=\(Dense"),
        ({"main": "dense3"}, TypeError, "main must be a sequence of layers, got 'dense3' of type str"),
        ({"main": ()}, ValueError, "main must hold at least one layer"),
        ({"main": (Dense(3), 3)}, TypeError, r"main\[1\] must be a layer"),
        ({"main": (Dense(3),), "shortcut": ()}, ValueError, "for the identity, leave it None"),
        ({"main": (Dense(3),), "shortcut": 1}, TypeError, r"shortcut must be a sequence of layers or None \(the identity\)"),
        ({"main": ({"kind": "nope"},)}, ValueError, r"main\[0\]: unknown layer kind 'nope'"),
        ({"main": (Dense(3),), "activation": "swish"}, ValueError, "activation: unknown activation"),
    ],
)  # fmt: skip
def test_bad_blocks_are_refused_naming_the_argument(kwargs, error, message):
    with pytest.raises(error, match=message):
        Residual(**kwargs)


def test_blocks_are_values_with_a_nested_json_form():
    block = convolutional_block(3, (2, 2, 4), s=2)
    d = block.to_dict()
    assert d["kind"] == "residual" and d["activation"] == "relu"
    assert d["main"][0] == {"kind": "conv2d", "filters": 2, "kernel_size": 1, "strides": 2,
                            "padding": "valid", "activation": None}  # fmt: skip
    assert [s["kind"] for s in d["shortcut"]] == ["conv2d", "batch_norm"]
    assert "shortcut" not in identity_block(3, (2, 2, 4)).to_dict()
    assert jn.layers.from_dict(json.loads(json.dumps(d))) == block
    assert hash(jn.layers.from_dict(d)) == hash(block)
    nested = Residual((Residual((Dense(3, "relu"), Dropout(0.1))), Dense(3, "linear")), None, None)
    net = jn.Sequential([Dense(3), nested, Dense(2, "softmax")], input_shape=(4,))
    again = jn.Network.from_dict(json.loads(json.dumps(net.to_dict())))
    assert again == net and again.layers[1].main[0].main[1] == Dropout(0.1)
    assert nested != Residual(nested.main, None, "relu")  # the activation counts


# --- params as trees through the network ---------------------------------------------------------


def _block_net(l2=0.0):
    block = Residual((Dense(4, "relu"), BatchNorm(), Dropout(0.25), Dense(4, "linear")),
                     shortcut=(Dense(4, "linear"),))  # fmt: skip
    return jn.Sequential([Dense(4, "tanh"), block, Dense(3, "softmax")], input_shape=(5,), l2=l2)


def test_init_draws_a_block_from_the_one_draw_in_layer_order():
    """jn.init's pre-drawn normals: a block's layers take the next values in order (main,
    then shortcut), so its Dense kernels are those of the same layers in a plain chain."""
    net = _block_net()
    chain = jn.Sequential(
        [Dense(4, "tanh"), Dense(4, "relu"), BatchNorm(), Dropout(0.25), Dense(4, "linear"),
         Dense(4, "linear", ), Dense(3, "softmax")],
        input_shape=(5,),
    )  # fmt: skip
    for scheme in ("he", "xavier", "normal"):
        params = jn.init(jax.random.key(4), net, scheme=scheme)
        flat = jn.init(jax.random.key(4), chain, scheme=scheme)
        block = params[1]
        chex.assert_trees_all_equal(
            (block["main"][0]["W"], block["main"][3]["W"], block["shortcut"][0]["W"]),
            (flat[1]["W"], flat[4]["W"], flat[5]["W"]),
        )
        chex.assert_trees_all_equal(block["main"][1], flat[2])  # batch norm's 1, 0, 0, 1
    other = jn.layers.Residual((Dense(4, "relu"),)).init(jax.random.key(0), (4,))
    assert other["main"][0]["W"].shape == (4, 4)  # a jax.random key works too


def test_l2_state_and_trainability_inside_a_block():
    net = _block_net(l2=0.5)
    block = net.layers[1]
    assert block.main[0].l2 == block.shortcut[0].l2 == 0.5 and net.l2 == (0.5, 0.5, 0.5)
    assert network.without_l2(net).l2 == (0.0, 0.0, 0.0)
    assert net.trainable()[1]["main"][1] == {
        "gamma": True, "beta": True, "moving_mean": False, "moving_var": False,
    }  # fmt: skip
    params = random_params(0, net)
    W = [params[0]["W"], params[1]["main"][0]["W"], params[1]["main"][3]["W"],
         params[1]["shortcut"][0]["W"], params[2]["W"]]  # fmt: skip
    expected = 0.5 / (2 * 10) * sum(float(jnp.sum(w**2)) for w in W)
    assert float(network.penalty(net, params, 10)) == pytest.approx(expected, rel=1e-6)
    zeros = jax.tree.map(jnp.zeros_like, params)
    decayed = network.l2_gradients(net, params, zeros, 10)
    chex.assert_trees_all_close(decayed[1]["shortcut"][0]["W"], 0.05 * W[3])
    chex.assert_trees_all_equal(decayed[1]["main"][0]["b"], zeros[1]["main"][0]["b"])
    X, y = random_data(1, net, 6)
    Y = jax.nn.one_hot(y, 3)
    _, _, grads, stats = network.loss_and_grads(
        net, params, X, Y, key=jax.random.key(0), train=True
    )
    assert stats[1] == {"main": ({}, stats[1]["main"][1], {}, {}), "shortcut": ({},)}
    new = network.with_stats(net, params, stats)
    chex.assert_trees_all_equal(
        new[1]["main"][1]["moving_mean"], stats[1]["main"][1]["moving_mean"]
    )
    chex.assert_trees_all_equal(new[1]["main"][0], params[1]["main"][0])
    assert net.needs_key and not jn.Sequential([Residual((Dense(3),))], (3,)).needs_key
    with pytest.raises(ValueError, match="key is needed"):
        network.loss_and_grads(net, params, X, Y, train=True)


def test_params_validation_walks_the_block():
    net = _block_net()
    params = jn.init(jax.random.key(0), net)
    bad = list(params)
    bad[1] = {**params[1], "main": params[1]["main"][:3]}
    with pytest.raises(ValueError, match=r"params\[1\]\['main'\] must be a tuple of 4 layer dicts"):
        jn.forward(net, tuple(bad), jnp.ones((2, 5)))
    bad[1] = {"main": params[1]["main"]}
    with pytest.raises(
        ValueError, match=r"params\[1\] must be a dict with keys 'main' and 'shortcut'"
    ):
        jn.forward(net, tuple(bad), jnp.ones((2, 5)))
    shortcut = ({"W": jnp.ones((4, 3)), "b": jnp.zeros(4)},)
    bad[1] = {**params[1], "shortcut": shortcut}
    with pytest.raises(
        ValueError,
        match=r"params\[1\]\['shortcut'\]\[0\]\['W'\] \(layer 2\) has shape \(4, 3\), expected \(4, 4\)",
    ):
        jn.forward(net, tuple(bad), jnp.ones((2, 5)))  # fmt: skip


def test_summary_indents_the_blocks_layers():
    net = jn.Sequential(
        [Conv2D(2, 3, padding="same"), identity_block(3, (2, 2, 2)),
         convolutional_block(1, (2, 2, 4)), Flatten(), Dense(2, "softmax")],
        input_shape=(4, 4, 1),
    )  # fmt: skip
    text = jn.format_summary(net)
    lines = text.splitlines()
    block = next(i for i, line in enumerate(lines) if line.startswith("residual_1 (Residual)"))
    assert "(None, 4, 4, 2)" in lines[block] and "relu" in lines[block]
    assert lines[block + 1].strip() == "main:" and lines[block + 2].startswith(
        "    conv2d_2 (Conv2D)"
    )
    assert "shortcut: the input (identity)" in text
    second = next(i for i, line in enumerate(lines) if line.startswith("residual_2 (Residual)"))
    assert "(None, 2, 2, 4)" in lines[second]
    shortcut = lines.index("  shortcut:", second)
    assert (
        lines[shortcut + 1].startswith("    conv2d_8 (Conv2D)")
        and "(None, 2, 2, 4)" in lines[shortcut + 1]
    )
    assert f"Total params: {net.num_params:,}" in text
    assert net.num_params == sum(x.size for x in jax.tree.leaves(jn.init(jax.random.key(0), net)))
    moving = 2 * (2 + 2 + 2) + 2 * (2 + 2 + 4 + 4)  # the six batch norms' moving statistics
    assert net.num_params - net.num_trainable_params == moving


def test_map_sublayers_reaches_nested_blocks():
    inner = Residual((Dense(3, "relu"), Dense(3, "linear")))
    outer = Residual((inner, Dense(3, "linear")))
    with_l2 = jn.Sequential([outer, Dense(1, "sigmoid")], input_shape=(3,), l2=0.2).layers[0]
    assert with_l2.main[0].main[1].l2 == 0.2 and with_l2.main[1].l2 == 0.2
    assert map_sublayers(Dense(3), lambda s: None) == Dense(3)  # a plain layer: itself


def test_the_residual_page_runs():
    """docs/residual.md's code runs (its asserts check as they run)."""
    page = (REPO / "docs" / "residual.md").read_text()
    code = "\n".join(re.findall(r"^```python\n(.*?)^```", page, re.S | re.M))
    namespace = {"__name__": "residual_page"}
    exec(code, namespace)  # noqa: S102
    assert namespace["history"]["loss"][-1] > 0 and namespace["net"].layers[4].shortcut is None


@pytest.mark.slow
def test_residual_experiments_script_runs_shortened(shared_data, capsys):
    """scripts/residual_experiments.py --quick: every experiment, a few hundred examples."""
    experiments = script("residual_experiments")
    results = experiments.main(["all", "--quick", "--data-dir", str(shared_data)])
    out = capsys.readouterr().out
    assert "plain (6 hidden layers)" in out and "residual (6 hidden layers)" in out
    for name in ("plain", "residual"):
        assert len(results["plain-vs-residual"][name]["loss"]) == 1
    assert 0 <= results["resnet-mnist"]["val_accuracy"][-1] <= 1
    assert set(results["resnet-cat"]) == {"course dense 12288-20-7-5-1", "resnet"}
    assert "warmup 0.2 + cosine decay, batch-norm momentum 0.9" in out
    assert experiments.small_resnet((28, 28, 1), 10).output_shapes[-1] == (10,)


def test_resnet_mnist_schedule_warms_up_then_decays_to_about_zero():
    """The script's one-cycle schedule: peak / 25 at step 0, the peak at the end of the
    warmup, a falling half cosine after it, ~0 at the last step; a warmup of 1 refused."""
    experiments = script("residual_experiments")
    rate = experiments.warmup_cosine(0.01, steps=100, warmup=0.2)
    rates = np.array([float(rate(s)) for s in range(100)])
    assert rates[0] == pytest.approx(0.01 / 25, rel=1e-5) and rates[20] == pytest.approx(
        0.01, rel=1e-5
    )
    assert np.all(np.diff(rates[:21]) > 0) and np.all(np.diff(rates[20:]) < 0)
    assert 0 < rates[-1] < 1e-5
    with pytest.raises(ValueError, match="warmup"):
        experiments.warmup_cosine(0.01, steps=100, warmup=1.0)
