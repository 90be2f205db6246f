"""Batch norm, dropout, L2, convolutions, residual blocks and the sequence layers work with every
part of the library: hand backprop == autodiff over hypothesis-drawn networks, gradcheck
(passing, and rejecting planted bugs), per-example gradients, fit, fit_ensemble, sharding on 8
fake devices, checkpoints and resume, the feature-map plot."""

import dataclasses
import functools
import json
import subprocess
import sys
from pathlib import Path

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import (
    cnns,
    normalised_labels,
    random_data,
    random_params,
    regularised_nets,
    small_sequence_net,
    token_sequences,
)
from hypothesis import example, given, settings

import jaxnet as jn
from jaxnet import network
from jaxnet.gradcheck import COURSE_THRESHOLD
from jaxnet.layers import (
    Activation,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    Residual,
)
from jaxnet.layers._autodiff import plain_autodiff
from jaxnet.training import engine

# A sweep of whole networks through every part of the library (seconds per test): the full
# suite runs it; the fast tier covers each layer alone (test_layers.py) and in networks
# (test_network.py, test_training_layers.py).
pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
F64 = {"rtol": 1e-10, "atol": 1e-12}


def small_cnn(rate=0.25, l2=0.01):
    return jn.Sequential(
        [Conv2D(3, 3, padding="same", activation="relu", l2=l2), BatchNorm(), MaxPool2D(2),
         Conv2D(4, 2, activation="tanh", l2=l2), AvgPool2D(2, strides=1), Flatten(),
         Dropout(rate), Dense(3, "softmax", l2=l2)],
        input_shape=(6, 6, 2),
    )  # fmt: skip


def small_resnet(rate=0.25, l2=0.01):
    """A conv stem, an identity block with dropout inside, a convolutional block (stride 2,
    projection shortcut), average pooling and a dense softmax; L2 on every kernel."""
    return jn.Sequential(
        [Conv2D(3, 3, padding="same", activation="relu"),
         Residual((Conv2D(3, 3, padding="same"), BatchNorm(), Activation("relu"), Dropout(rate),
                   Conv2D(3, 3, padding="same"), BatchNorm())),
         Residual((Conv2D(4, 3, strides=2, padding="same"), BatchNorm(), Activation("relu"),
                   Conv2D(4, 3, padding="same"), BatchNorm()),
                  shortcut=(Conv2D(4, 1, strides=2), BatchNorm())),
         AvgPool2D(3), Flatten(), Dense(3, "softmax")],
        input_shape=(6, 6, 2), l2=l2,
    )  # fmt: skip


def dense_resnet():
    """A narrow dense network of two blocks (fit_ensemble's examples-last CPU path takes it)."""
    return jn.Sequential(
        [Dense(6, "relu"),
         Residual((Dense(6, "relu", l2=0.1), BatchNorm(), Dropout(0.2), Dense(6, "linear"))),
         Residual((Dense(4, "tanh"),), shortcut=(Dense(4, "linear"),), activation="tanh"),
         Dense(1, "sigmoid")],
        input_shape=(3,),
    )  # fmt: skip


def regularised_dense():
    return jn.Network((3, 6, 5, 1), hidden_activation="relu", l2=0.4, dropout=0.3, batch_norm=True)


def images(m=20, seed=0, dtype=np.float32):
    """NumPy images ``(m, 6, 6, 2)`` and 3 classes from a rule the CNN can learn."""
    X = np.random.default_rng(seed).standard_normal((m, 6, 6, 2)).astype(dtype)
    y = (X[:, :3, :, 0].mean(axis=(1, 2)) > 0).astype(np.int32) + (
        X[:, :, :3, 1].mean(axis=(1, 2)) > 0
    ).astype(np.int32)
    return X, y


def tabular(m=22, seed=0, dtype=np.float32):
    X = np.random.default_rng(seed).standard_normal((m, 3)).astype(dtype)
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)


# --- hand backprop == autodiff, float64, over drawn networks --------------------------------


@functools.partial(jax.jit, static_argnames=("net", "train"))
def _three_gradients(net, params, X, Y, weights, key, *, train):
    manual = network.loss_and_grads(net, params, X, Y, weights, "manual", key=key, train=train)
    autodiff = network.loss_and_grads(net, params, X, Y, weights, "autodiff", key=key, train=train)
    cost = functools.partial(network.cost, net, X=X, Y=Y, weights=weights, key=key, train=train)
    with plain_autodiff():  # JAX's own derivative of conv and pooling, not their custom VJPs
        reference = jax.grad(lambda p: cost(p))(params)
    return manual, autodiff, reference


def assert_manual_equals_autodiff(net, m, seed):
    """Training and inference mode, with and without padding rows: hand backprop == autodiff ==
    jax.grad of the cost, to 1e-10; J, A[L] and the new moving statistics agree too."""
    params = random_params(seed, net, jnp.float64)
    X, labels = random_data(seed + 1, net, m, jnp.float64)
    Y = normalised_labels(net, labels, jnp.float64)
    key = jax.random.key(seed % 1000)
    padded = jnp.ones(m).at[m // 2].set(0.0) if m > 2 else None  # keep 2 real rows for BN
    for train in (False, True):  # with padding rows when m allows (two real rows for BN)
        for weights in (padded,):
            manual, autodiff, reference = _three_gradients(
                net, params, X, Y, weights, key, train=train
            )
            reference = jax.tree.map(  # jax.grad also differentiates the state inference reads
                lambda t, g: g if t else jnp.zeros_like(g), net.trainable(), tuple(reference)
            )
            chex.assert_trees_all_equal_structs(manual[2], params)
            chex.assert_trees_all_close(manual[2], reference, **F64)
            chex.assert_trees_all_close(autodiff[2], reference, **F64)
            chex.assert_trees_all_close(manual[::3], autodiff[::3], **F64)  # J and stats
            chex.assert_trees_all_close(manual[1], autodiff[1], **F64)


# Two nets an earlier, longer draw found, kept as examples (each draw compiles for seconds): a
# softmax output behind two batch norms of linear units; dropout 0.5 between leaky ReLUs
# with an MSE output and a large L2.
TWO_BATCH_NORMS = jn.Sequential(
    [Dense(3, "linear"), BatchNorm(momentum=0.9), Dropout(0.1), Dense(1, "linear"), BatchNorm(),
     Dense(2, "softmax")],
    input_shape=(1,),
)  # fmt: skip
LEAKY_MSE = jn.Sequential(
    [Dense(6, "leaky_relu(0.2)", l2=0.05), Dropout(0.5), Dense(4, "leaky_relu(0.2)", l2=1.3),
     Dropout(0.5), Dense(2, "sigmoid")],
    input_shape=(3,), loss="mse",
)  # fmt: skip


@settings(max_examples=3, deadline=None, derandomize=True)
@given(regularised_nets())
@example((regularised_dense(), 7, 1))
@example((TWO_BATCH_NORMS, 9, 814292))
@example((LEAKY_MSE, 4, 32))
def test_regularised_dense_nets_manual_equals_autodiff(case):
    with jax.enable_x64(True):
        assert_manual_equals_autodiff(*case)


# Found by this test: max pooling's backward once compared A_prev with the forward's output,
# which XLA's fusion may recompute with another rounding (here batch norm's output feeding a
# 1x1 pool), dropping the gradient under jit; the argmax is now found from A_prev alone.
REGRESSION_CNN = jn.Sequential(
    [Conv2D(2, 1), BatchNorm(), MaxPool2D(1), Conv2D(2, 2), BatchNorm(), MaxPool2D(2, strides=1),
     Flatten(), Dense(2, "sigmoid")],
    input_shape=(7, 7, 1),
)  # fmt: skip


@settings(max_examples=3, deadline=None, derandomize=True)
@given(cnns())
@example((small_cnn(), 4, 2))
@example((REGRESSION_CNN, 2, 0))
@example((small_resnet(), 4, 3))
@example((dense_resnet(), 5, 1))
def test_cnns_manual_equals_autodiff(case):
    with jax.enable_x64(True):
        assert_manual_equals_autodiff(*case)


# --- gradcheck passes on them and still catches planted bugs -----------------------------


class _OffBy1Percent:
    """A backward off by 1%: dW scaled by 1.01 (the rest of the layer is right)."""

    def backward(self, params, cache, dA):
        dA_prev, grads = super().backward(params, cache, dA)
        return dA_prev, {**grads, "W": grads["W"] * 1.01}


class OffDense(_OffBy1Percent, Dense):
    kind = "test_off_dense"


class OffConv2D(_OffBy1Percent, Conv2D):
    kind = "test_off_conv2d"


class BatchNormWithoutBatchTerms(BatchNorm):
    """A classic batch norm mistake: backward through the batch statistics as if they were
    constants (inference's dX = gamma dY / sqrt(var + eps), even in training)."""

    kind = "test_batch_norm_without_batch_terms"

    def backward(self, params, cache, dA):
        inner = cache[0]
        frozen = type(inner)(inner.xhat, inner.gamma, inner.inv_std, inner.p, False)
        return super().backward(params, (frozen, cache[1]), dA)


def _gradcheck_case(net, seed=0, m=6):
    params = random_params(seed, net)
    X, Y = random_data(seed + 1, net, m)
    return params, X, Y


@functools.cache
def _good_report(make, train):
    """gradcheck of ``make()`` on its case (key 1): the report the planted-bug tests compare
    against, computed once per process (each gradcheck compiles its finite differences)."""
    net = make()
    params, X, Y = _gradcheck_case(net)
    return jn.gradcheck(net, params, X, Y, key=jax.random.key(1), train=train)


@pytest.mark.parametrize("train", (False, True))
@pytest.mark.parametrize(
    "make",
    (regularised_dense, small_cnn, small_sequence_net, small_resnet),
    ids=("dense", "cnn", "sequence", "resnet"),
)
def test_gradcheck_passes_on_regularised_nets_and_cnns(make, train):
    report = _good_report(make, train)
    assert report.passed, str(report)
    assert report.manual_vs_autodiff < 1e-12


@settings(max_examples=3, deadline=None, derandomize=True)
@given(cnns())
def test_gradcheck_passes_on_drawn_cnns(case):
    net, m, seed = case
    params, X, Y = _gradcheck_case(net, seed % 1000, m)
    report = jn.gradcheck(net, params, X, Y, key=jax.random.key(2), train=True)
    assert report.passed, str(report)


def _planted(net, layer_l, cls):
    """``net`` with layer ``layer_l`` swapped for the buggy ``cls`` (same hyperparameters)."""
    layers = list(net.layers)
    layers[layer_l] = cls(**dataclasses.asdict(layers[layer_l]))
    return jn.Sequential(layers, input_shape=net.input_shape, loss=net.loss)


@pytest.mark.parametrize(
    "make, layer_l, cls",
    [
        (regularised_dense, 0, OffDense),  # a hidden Dense's dW off by 1%
        (regularised_dense, 6, OffDense),  # the output layer's
        (small_cnn, 0, OffConv2D),  # a conv's dW off by 1%
        (small_cnn, 1, BatchNormWithoutBatchTerms),  # batch norm's training backward wrong
        (regularised_dense, 1, BatchNormWithoutBatchTerms),
    ],
    ids=["hidden-dense", "output-dense", "conv", "cnn-batch-norm", "dense-batch-norm"],
)
def test_gradcheck_rejects_a_planted_bug(make, layer_l, cls):
    """The buggy layer has the right forward (so autodiff and the finite differences stay
    right) and a wrong backward: gradcheck must fail, by far more than its threshold."""
    good = make()
    net = _planted(good, layer_l, cls)
    params, X, Y = _gradcheck_case(good)
    report = jn.gradcheck(net, params, X, Y, key=jax.random.key(1), train=True)
    assert not report.passed, str(report)
    assert report.manual_vs_autodiff > 100 * COURSE_THRESHOLD
    assert report.autodiff_vs_numeric < COURSE_THRESHOLD  # the references agree
    assert _good_report(make, True).passed  # the same case, the right layer


def _planted_in_block(net, layer_l, branch, i, cls):
    """``net`` with sub-layer ``i`` of block ``layer_l``'s ``branch`` swapped for ``cls``."""
    layers = list(net.layers)
    block = layers[layer_l]
    path = list(getattr(block, branch))
    path[i] = cls(**dataclasses.asdict(path[i]))
    layers[layer_l] = dataclasses.replace(block, **{branch: tuple(path)})
    return jn.Sequential(layers, input_shape=net.input_shape, loss=net.loss)


@pytest.mark.parametrize(
    "layer_l, branch, i, cls",
    [(1, "main", 0, OffConv2D), (2, "shortcut", 1, BatchNormWithoutBatchTerms)],
    ids=["main-conv", "shortcut-batch-norm"],
)  # fmt: skip
def test_gradcheck_rejects_a_planted_bug_inside_a_block(layer_l, branch, i, cls):
    """A block's backward is its sub-layers': a wrong one inside a block fails gradcheck."""
    good = small_resnet()
    net = _planted_in_block(good, layer_l, branch, i, cls)
    params, X, Y = _gradcheck_case(good)
    report = jn.gradcheck(net, params, X, Y, key=jax.random.key(1), train=True)
    assert not report.passed and report.manual_vs_autodiff > 100 * COURSE_THRESHOLD, str(report)
    assert report.autodiff_vs_numeric < COURSE_THRESHOLD
    assert _good_report(small_resnet, True).passed  # the same case, the right layers


def test_gradcheck_rejects_a_backward_that_forgets_l2():
    net = regularised_dense()
    params, X, Y = _gradcheck_case(net)
    key = jax.random.key(1)

    def without_the_l2_term(n, p, x, y):
        return network.grads(network.without_l2(n), p, x, y, key=key, train=True)

    report = jn.gradcheck(net, params, X, Y, key=key, train=True, manual_grads=without_the_l2_term)
    assert not report.passed and report.autodiff_vs_numeric < COURSE_THRESHOLD


# --- per-example gradients: inference mode, each example's L2 share ------------------------


@pytest.mark.parametrize(
    "make",
    (regularised_dense, small_cnn, small_sequence_net, small_resnet),
    ids=("dense", "cnn", "sequence", "resnet"),
)
def test_per_example_grads(make, x64):
    """Row i is the gradient of example i's inference-mode loss plus (λ/m) W; the mean over i
    is jn.grads; manual == autodiff."""
    net = make()
    params = random_params(3, net, jnp.float64)
    X, Y = random_data(4, net, 5, jnp.float64)
    per = jn.per_example_grads(net, params, X, Y)
    chex.assert_trees_all_equal_structs(per, params)
    chex.assert_trees_all_close(
        jax.tree.map(lambda g: g.mean(axis=0), per), jn.grads(net, params, X, Y), **F64
    )
    chex.assert_trees_all_close(jn.per_example_grads(net, params, X, Y, backprop="autodiff"), per,
                                **F64)  # fmt: skip
    data_net, m = network.without_l2(net), X.shape[0]
    for i in (0, 3):
        one = jn.grads(data_net, params, X[i : i + 1], Y[i : i + 1])
        one = network.l2_gradients(net, params, one, m)
        chex.assert_trees_all_close(jax.tree.map(lambda g, i=i: g[i], per), one, **F64)


# --- fit, fit_ensemble ----------------------------------------------------------------------


def _step_key(key, step):
    return jax.random.fold_in(jax.random.fold_in(key, engine._STEP_KEYS), step)


@functools.partial(jax.jit, static_argnames="net")
def _gd_step(net, params, X, Y, key):
    """One gradient-descent step (0.2) on the training cost, by the network core: ``(params, J)``."""
    J, _, grads, stats = network.loss_and_grads(net, params, X, Y, key=key, train=True)
    stepped = jax.tree.map(lambda p, g: p - 0.2 * g, params, grads)
    return network.with_stats(net, stepped, stats), J


@pytest.mark.parametrize("make", (small_cnn, small_resnet), ids=("cnn", "resnet"))
def test_full_batch_fit_of_a_cnn_is_the_hand_loop(make, x64):
    """Gradient descent on the training cost (dropout mask from each step's key, batch
    statistics, moving averages from ``stats``, L2), by the network core, step by step."""
    net = make()
    X, y = images(12, dtype=np.float64)
    params = jn.init(jax.random.key(1), net, dtype=jnp.float64)
    key = jax.random.key(2)
    expected, losses = params, []
    Y = jax.nn.one_hot(y, 3, dtype=jnp.float64)
    for step in range(4):
        expected, J = _gd_step(net, expected, jnp.asarray(X), Y, _step_key(key, step))
        losses.append(float(J))
    for backprop in ("manual", "autodiff"):
        trained, history = jn.fit(net, params, X, y, learning_rate=0.2, epochs=4, key=key,
                                  backprop=backprop, verbose=0)  # fmt: skip
        chex.assert_trees_all_close(trained, expected, **F64)
        np.testing.assert_allclose(history["loss"], losses, rtol=1e-10)


# A conv's bias just before batch norm has a zero gradient (the mean is taken out): manual
# and autodiff give it rounding noise of 1e-10, which Adam's normalised steps would amplify
# into different biases; the ResNet case runs momentum, whose steps keep the noise small.
@pytest.mark.parametrize(
    "make, data, optimizer",
    [(small_cnn, images, ("adam", 0.02)), (regularised_dense, tabular, ("adam", 0.02)),
     (small_sequence_net, token_sequences, ("adam", 0.02)),
     (small_resnet, images, ("momentum", 0.1))],
    ids=["cnn", "dense", "sequence", "resnet"],
)  # fmt: skip
def test_minibatch_fit_learns_and_manual_equals_autodiff(make, data, optimizer, x64):
    net = make()
    X, y = data(40, dtype=np.float64)
    params = jn.init(jax.random.key(3), net, dtype=jnp.float64)
    kw = dict(optimizer=optimizer[0], learning_rate=optimizer[1], epochs=12, batch_size=16,
              key=jax.random.key(4), validation_data=(X, y), verbose=0)  # fmt: skip
    manual, h_manual = jn.fit(net, params, X, y, **kw)
    autodiff, h_autodiff = jn.fit(net, params, X, y, backprop="autodiff", **kw)
    chex.assert_trees_all_close(manual, autodiff, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(h_manual["loss"], h_autodiff["loss"], rtol=1e-8)
    assert h_manual["loss"][-1] < 0.8 * h_manual["loss"][0]
    # validation runs in inference mode with the moving statistics: jn.evaluate's numbers
    final = jn.evaluate(net, manual, X, y)
    assert h_manual["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-10)
    assert h_manual["val_accuracy"][-1] == pytest.approx(final["accuracy"], rel=1e-10)


def test_sixteen_cnns_in_one_vmapped_run():
    """16 CNNs (batch norm, dropout, L2), each its own seed, key and learning rate: one
    compiled run; each model is the one jn.fit would train alone."""
    net = small_cnn()
    X, y = images(30)
    K = 16
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(5), K), net)
    keys = jax.random.split(jax.random.key(6), K)
    rates = np.geomspace(1e-3, 1e-1, K).astype(np.float32)
    kw = dict(optimizer="adam", epochs=3, batch_size=8, verbose=0)
    trained, histories = jn.fit_ensemble(net, stacked, X, y, keys=keys, learning_rate=rates, **kw)
    assert len(histories) == K
    assert jax.tree.leaves(trained)[0].shape[0] == K
    for k in (0, 11):
        single, history = jn.fit(net, jax.tree.map(lambda a, k=k: a[k], stacked), X, y,
                                 key=keys[k], learning_rate=float(rates[k]), **kw)  # fmt: skip
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, k=k: a[k], trained), single, rtol=2e-5, atol=2e-6
        )
        np.testing.assert_allclose(histories[k]["loss"], history["loss"], rtol=2e-5)
    finals = [h["loss"][-1] for h in histories]
    assert len(set(finals)) == K  # every model its own run


def test_three_lstm_networks_in_one_vmapped_run():
    """fit_ensemble trains several sequence networks at once, each the one jn.fit trains alone."""
    net = small_sequence_net()
    X, y = token_sequences(24)
    K = 3
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(5), K), net)
    keys = jax.random.split(jax.random.key(6), K)
    kw = dict(optimizer="adam", learning_rate=0.01, epochs=2, batch_size=8, verbose=0)
    trained, histories = jn.fit_ensemble(net, stacked, X, y, keys=keys, **kw)
    single, history = jn.fit(net, jax.tree.map(lambda a: a[2], stacked), X, y, key=keys[2], **kw)
    chex.assert_trees_all_close(jax.tree.map(lambda a: a[2], trained), single, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(histories[2]["loss"], history["loss"], rtol=2e-5)
    assert len({h["loss"][-1] for h in histories}) == K


def test_residual_ensemble_equals_single_runs():
    """4 narrow dense residual networks (batch norm, dropout, L2 inside the blocks) in one
    vmapped run, on the CPU's examples-last path: each model is jn.fit's alone."""
    net = dense_resnet()
    X, y = tabular(24)
    K = 4
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(9), K), net)
    keys = jax.random.split(jax.random.key(10), K)
    kw = dict(optimizer="adam", learning_rate=0.02, epochs=3, batch_size=8, verbose=0)
    trained, histories = jn.fit_ensemble(net, stacked, X, y, keys=keys, **kw)
    for k in (0, 3):
        single, history = jn.fit(net, jax.tree.map(lambda a, k=k: a[k], stacked), X, y,
                                 key=keys[k], **kw)  # fmt: skip
        chex.assert_trees_all_close(
            jax.tree.map(lambda a, k=k: a[k], trained), single, rtol=2e-5, atol=2e-6
        )
        np.testing.assert_allclose(histories[k]["loss"], history["loss"], rtol=2e-5)


def test_feature_maps_of_a_resnet_show_its_blocks():
    net = jn.Sequential(small_resnet().layers, input_shape=(6, 6, 1))  # a grey image to show
    params = jn.init(jax.random.key(0), net)
    fig = jn.plotting.plot_feature_maps(net, params, images(1)[0][0, :, :, :1], max_maps=2)
    labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert labels == ["layer 1 conv2d\n6x6x3", "layer 2 residual\n6x6x3", "layer 3 residual\n3x3x4"]


# --- sharded data parallel on 8 fake devices -------------------------------------------------


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    out = tmp_path_factory.mktemp("sharded_layers") / "result.json"
    proc = subprocess.run(
        [sys.executable, HERE / "sharded_layers_worker.py", out],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())


@pytest.mark.integration  # a subprocess on 8 fake devices, run once: one worker
@pytest.mark.xdist_group("sharded_layers_worker")
@pytest.mark.parametrize("index", range(6))
def test_sharded_fit_equals_single_device(sharded, index):
    """Batch norm's statistics, dropout's masks and the L2 term over the global batch of real
    rows (402 padded to 408 with weight-0 rows), in dense nets, a CNN, a ResNet, a masked
    sequence network (embedding, LSTM, dense per step, GRU, clip_norm) and a network with a
    softmax at every step (labels (m, T), padded steps masked): the same training on 8
    devices as on one."""
    assert sharded["devices"] == 8
    run = sharded["runs"][index]
    assert run["params_diff"] < 1e-4, run
    assert run["loss_diff"] < 1e-4, run
    assert run["moving_stats_changed"] and run["params_sharding"] == "{'P()'}", run


@pytest.mark.integration  # a subprocess on 8 fake devices, run once: one worker
@pytest.mark.xdist_group("sharded_layers_worker")
@pytest.mark.parametrize("index", range(3))
def test_batch_norm_statistics_are_global_under_sharding(sharded, index):
    """Under jit, jnp's reductions over a sharded axis are global (XLA inserts the
    all-reduce): the moving statistics and gradients equal one device's."""
    result = sharded["batch_statistics"][index]
    assert result["data_sharding"] == "P('data',)"
    assert result["stats_diff"] < 1e-5 and result["grads_diff"] < 1e-5, result
    assert result["loss_diff"] < 1e-5, result


# --- checkpoints and bitwise resume -----------------------------------------------------------


@pytest.mark.parametrize(
    "make, data",
    [(small_cnn, images), (regularised_dense, tabular), (small_sequence_net, token_sequences),
     (small_resnet, images)],
    ids=["cnn", "dense", "sequence", "resnet"],
)  # fmt: skip
def test_resume_is_bitwise(make, data, tmp_path):
    """2 epochs, then resume to 4 == 4 epochs straight, bit for bit: the moving statistics
    ride in params, the dropout keys follow the global step."""
    net = make()
    X, y = data(30)
    params = jn.init(jax.random.key(7), net)
    kw = dict(optimizer="adam", learning_rate=0.01, batch_size=8, key=jax.random.key(8), verbose=0)
    straight, h_straight = jn.fit(net, params, X, y, epochs=4, **kw)
    jn.fit(net, params, X, y, epochs=2, checkpoint_dir=tmp_path, **kw)
    resumed, h_resumed = jn.fit(net, params, X, y, epochs=4, resume_from=tmp_path, **kw)
    chex.assert_trees_all_equal(resumed, straight)
    assert h_resumed["loss"] == h_straight["loss"]
    restored = jn.checkpoint.restore(tmp_path, like=params)
    assert restored.step > 0
    if make is not small_sequence_net:  # the sequence network has no state
        state = restored.params[1]["main"][1] if make is small_resnet else restored.params[1]
        assert not np.allclose(state["moving_var"], 1)  # the state was saved (in a block too)
    assert jn.Network.from_dict(json.loads(json.dumps(net.to_dict()))) == net
