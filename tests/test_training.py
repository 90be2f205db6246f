"""``jn.fit``: the course's loop, minibatches, no recompilation, history, progress, divergence, errors.

Compiling a training program takes a second or two on a loaded CPU, so the tests share
a few setups (same network, data shape, batch size and optimiser compile once):
M = 22 examples in batches of B = 5 (four full batches and a partial one of 2).
"""

import json

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import count_compiles, without_time

import jaxnet as jn

M, B = 22, 5
F32 = {"rtol": 1e-5, "atol": 1e-6}
F64 = {"rtol": 1e-10, "atol": 1e-12}


def normal(seed, shape, dtype):
    """Standard normal NumPy data (NumPy, not jax.random: no compilation per shape)."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def binary_data(seed, m=M, n_x=3, dtype=np.float32):
    """Inputs ``(m, n_x)`` and 0/1 labels ``(m,)`` from a non-linear rule."""
    X = normal(seed, (m, n_x), dtype)
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)


def multiclass_data(seed, m=M, n_x=4, classes=3, dtype=np.float32):
    X = normal(seed, (m, n_x), dtype)
    return X, np.argmax(X[:, :classes] + 0.3 * X[:, -1:], axis=1).astype(np.int32)


def regression_data(seed, m=M, n_x=3, dtype=np.float32):
    X = normal(seed, (m, n_x), dtype)
    return X, np.sin(X[:, 0]) + X[:, 1] * X[:, 2]


def binary_setup(dtype=jnp.float32):
    """A 3-4-1 tanh/sigmoid network, Xavier params, M examples."""
    net = jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    X, Y = binary_data(0, dtype=dtype)
    return net, jn.init(jax.random.key(1), net, scheme="xavier", dtype=dtype), X, Y


def multiclass_setup(dtype=jnp.float32):
    """A 4-6-3 relu/softmax network, He params, M examples of 3 classes."""
    net = jn.Network((4, 6, 3), hidden_activation="relu", output_activation="softmax")
    X, Y = multiclass_data(2, dtype=dtype)
    return net, jn.init(jax.random.key(3), net, scheme="he", dtype=dtype), X, Y


def regression_setup(dtype=jnp.float32):
    """A 3-8-1 relu/linear network (mean squared error), He params."""
    net = jn.Network((3, 8, 1), hidden_activation="relu", output_activation="linear")
    X, y = regression_data(4, dtype=dtype)
    return net, jn.init(jax.random.key(5), net, dtype=dtype), X, y


def sgd_step(params, grads, lr):
    return jax.tree.map(lambda p, g: p - lr * g, params, grads)


def all_finite(tree) -> bool:
    return all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(tree))


def leaves_equal(a, b) -> bool:
    return all(bool((x == y).all()) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


# --- full batch: the course's loop -------------------------------------------------------


def course_loop(net, params, X, Y, lr, iterations):
    """The course's ``for i in range(num_iterations)``: cost, grads, ``W = W - lr dW``."""
    costs = []
    for _ in range(iterations):
        costs.append(float(jn.cost(net, params, X, Y)))
        params = sgd_step(params, jn.grads(net, params, X, Y, backprop="manual"), lr)
    return params, costs


def test_full_batch_is_the_course_loop_float64(x64):
    net, params, X, Y = binary_setup(jnp.float64)
    expected_params, expected_costs = course_loop(net, params, X, Y, lr=0.5, iterations=20)
    trained, history = jn.fit(
        net, params, X, Y, optimizer="sgd", learning_rate=0.5, epochs=20, verbose=0
    )
    assert len(history["loss"]) == 20
    np.testing.assert_allclose(history["loss"], expected_costs, **F64)
    chex.assert_trees_all_close(trained, expected_params, **F64)
    assert expected_costs[-1] < expected_costs[0] - 0.01  # the loop does learn something
    chex.assert_type(jax.tree.leaves(trained), jnp.float64)


def test_full_batch_is_the_course_loop_float32():
    net, params, X, Y = binary_setup()
    expected_params, expected_costs = course_loop(net, params, X, Y, lr=0.5, iterations=20)
    trained, history = jn.fit(
        net, params, X, Y, optimizer="sgd", learning_rate=0.5, epochs=20, verbose=0
    )
    np.testing.assert_allclose(history["loss"], expected_costs, **F32)
    chex.assert_trees_all_close(trained, expected_params, **F32)
    # the loss is taken BEFORE each update: epoch 1 reports the cost of the initial params
    assert history["loss"][0] == pytest.approx(expected_costs[0], rel=1e-6)


def test_fit_accepts_numpy_params_and_data_made_by_hand():
    """A course result can be reproduced from the same NumPy start."""
    net, _, X, Y = binary_setup()
    rng = np.random.default_rng(0)
    params = (
        {"W": rng.standard_normal((4, 3)).astype(np.float32), "b": np.zeros(4, np.float32)},
        {"W": rng.standard_normal((1, 4)).astype(np.float32), "b": np.zeros(1, np.float32)},
    )
    X, Y = np.asarray(X), np.asarray(Y)
    expected, _ = course_loop(net, jax.tree.map(jnp.asarray, params), X, Y, 0.5, 20)
    trained, _ = jn.fit(net, params, X, Y, learning_rate=0.5, epochs=20, verbose=0)
    chex.assert_trees_all_close(trained, expected, **F32)


def test_default_learning_rate_of_sgd_is_keras_001():
    net, params, X, Y = binary_setup()
    default, _ = jn.fit(net, params, X, Y, epochs=20, verbose=0)
    explicit, _ = jn.fit(net, params, X, Y, learning_rate=0.01, epochs=20, verbose=0)
    chex.assert_trees_all_equal(default, explicit)
    assert not leaves_equal(default, params)


# --- minibatches -------------------------------------------------------------------------


def minibatch_loop(net, params, X, Y, lr, batch_size, order=None):
    """One epoch by hand: each step's gradient is the mean over its own examples."""
    m = X.shape[0]
    order = np.arange(m) if order is None else np.asarray(order)
    losses, sizes = [], []
    for start in range(0, m, batch_size):
        idx = order[start : start + batch_size]
        losses.append(float(jn.cost(net, params, X[idx], Y[idx])))
        sizes.append(len(idx))
        params = sgd_step(params, jn.grads(net, params, X[idx], Y[idx], backprop="manual"), lr)
    return params, losses, sizes


@pytest.mark.parametrize("m, sizes", [(M, [5, 5, 5, 5, 2]), (20, [5, 5, 5, 5])])
def test_minibatches_use_the_last_partial_batch(x64, m, sizes):
    net, params, X, Y = binary_setup(jnp.float64)
    X, Y = X[:m], Y[:m]
    expected, losses, got_sizes = minibatch_loop(net, params, X, Y, 0.7, B)
    assert got_sizes == sizes
    trained, history = jn.fit(
        net,
        params,
        X,
        Y,
        optimizer="sgd",
        learning_rate=0.7,
        epochs=1,
        batch_size=B,
        shuffle=False,
        verbose=0,
    )
    chex.assert_trees_all_close(trained, expected, **F64)
    # the epoch's loss is the example-weighted mean of its batch losses
    np.testing.assert_allclose(history["loss"][0], np.dot(losses, sizes) / m, **F64)
    if m % B:  # dropping the partial batch would give something else
        dropped, _, _ = minibatch_loop(net, params, X[:20], Y[:20], 0.7, B)
        assert not np.allclose(dropped[0]["W"], trained[0]["W"], rtol=1e-6)


def test_minibatch_accuracy_is_example_weighted(x64):
    net, params, X, Y = binary_setup(jnp.float64)
    # with a learning rate of ~0 every batch sees the initial params
    _, history = jn.fit(
        net, params, X, Y, learning_rate=1e-30, epochs=1, batch_size=B, shuffle=False, verbose=0
    )
    expected = jn.evaluate(net, params, X, Y)
    assert history["accuracy"][0] == pytest.approx(expected["accuracy"], abs=1e-12)
    assert history["loss"][0] == pytest.approx(expected["loss"], rel=1e-12)
    # and the batch accuracies differ (so a plain mean over batches would not do)
    batch_acc = [
        jn.evaluate(net, params, X[i : i + B], Y[i : i + B])["accuracy"] for i in range(0, M, B)
    ]
    assert np.mean(batch_acc) != pytest.approx(expected["accuracy"], abs=1e-6)


def test_shuffling_follows_fold_in_of_the_key_per_epoch(x64):
    """Epoch e (0-based) visits the examples in ``permutation(fold_in(key, e), m)``."""
    net, params, X, Y = binary_setup(jnp.float64)
    key = jax.random.key(9)
    expected, losses = params, []
    for e in range(2):
        order = jax.random.permutation(jax.random.fold_in(key, e), M)
        expected, batch_losses, sizes = minibatch_loop(net, expected, X, Y, 0.7, B, order)
        losses.append(np.dot(batch_losses, sizes) / M)
    trained, history = jn.fit(
        net, params, X, Y, learning_rate=0.7, epochs=2, batch_size=B, key=key, verbose=0
    )
    chex.assert_trees_all_close(trained, expected, **F64)
    np.testing.assert_allclose(history["loss"], losses, **F64)


def test_shuffle_differs_between_epochs_and_depends_on_key():
    net, params, X, Y = binary_setup()
    kw = dict(learning_rate=0.5, batch_size=B, verbose=0)
    key = jax.random.key(12)

    def two_epochs_in_two_calls(**extra):
        once, _ = jn.fit(net, params, X, Y, epochs=1, key=key, **kw, **extra)
        return jn.fit(net, once, X, Y, epochs=1, key=key, **kw, **extra)[0]

    # without shuffling, two one-epoch calls are one two-epoch call (sgd keeps no state)
    no_shuffle, _ = jn.fit(net, params, X, Y, epochs=2, key=key, shuffle=False, **kw)
    chex.assert_trees_all_close(two_epochs_in_two_calls(shuffle=False), no_shuffle, **F32)
    # with shuffling they differ: the second epoch of one call reshuffles
    shuffled, _ = jn.fit(net, params, X, Y, epochs=2, key=key, **kw)
    assert not np.allclose(two_epochs_in_two_calls()[0]["W"], shuffled[0]["W"], rtol=1e-4)
    # the order depends on the key
    other, _ = jn.fit(net, params, X, Y, epochs=2, key=jax.random.key(13), **kw)
    assert not np.allclose(other[0]["W"], shuffled[0]["W"], rtol=1e-4)
    # and shuffling is not the natural order
    assert not np.allclose(no_shuffle[0]["W"], shuffled[0]["W"], rtol=1e-4)


# --- no recompilation --------------------------------------------------------------------

CHUNK = "jit(run_chunk)"  # the compiled chunk's name in JAX's compile events


def test_minibatch_epochs_do_not_recompile():
    net = jn.Network(
        (5, 7, 3), hidden_activation="relu", output_activation="softmax"
    )  # sizes used nowhere else
    X, Y = multiclass_data(14, 50, n_x=5)
    params = jn.init(jax.random.key(15), net)
    with count_compiles() as compiles:
        jn.fit(net, params, X, Y, epochs=3, batch_size=16, key=jax.random.key(0), verbose=0)
        assert compiles[CHUNK] == 1
        # more epochs, another key, other data values, another learning rate: the same program
        X2, Y2 = multiclass_data(16, 50, n_x=5)
        key = jax.random.key(1)
        jn.fit(net, params, X2, Y2, epochs=7, batch_size=16, key=key, learning_rate=0.2, verbose=0)
    assert compiles[CHUNK] == 1


def test_full_batch_chunks_share_one_trace():
    """1500 iterations run as chunks of 1000 and 500 with a fixed scan length: one compilation
    (and any other number of full-batch iterations reuses it)."""
    net = jn.Network(
        (5, 6, 1), hidden_activation="tanh", output_activation="sigmoid"
    )  # sizes used nowhere else
    X, Y = binary_data(17, 30, n_x=5)
    params = jn.init(jax.random.key(18), net, scheme="xavier")
    with count_compiles() as compiles:
        p1500, h1500 = jn.fit(net, params, X, Y, learning_rate=0.1, epochs=1500, verbose=0)
        assert compiles[CHUNK] == 1
        assert len(h1500["loss"]) == 1500 and h1500["epoch"][-1] == 1500
        _, h2000 = jn.fit(net, params, X, Y, learning_rate=0.1, epochs=2000, verbose=0)
        # a short run is the start of the long one, still without a new compilation
        _, h7 = jn.fit(net, params, X, Y, learning_rate=0.1, epochs=7, verbose=0)
    assert compiles[CHUNK] == 1
    np.testing.assert_allclose(h2000["loss"][:1500], h1500["loss"], **F32)
    # the inactive tail of the short chunk applied no update: iteration 1501 starts from p1500
    assert h2000["loss"][1500] == pytest.approx(float(jn.cost(net, p1500, X, Y)), rel=1e-5)
    np.testing.assert_allclose(h7["loss"], h1500["loss"][:7], **F32)


def test_the_guarded_replay_is_compiled_only_when_a_run_diverges():
    """The fast path carries no finiteness guard; a diverging chunk is replayed guarded."""
    net = jn.Network(
        (3, 5, 1), hidden_activation="relu", output_activation="linear"
    )  # sizes used nowhere else
    X, y = regression_data(19, n_x=3)
    params = jn.init(jax.random.key(20), net)
    with count_compiles() as compiles:
        jn.fit(net, params, X, y, learning_rate=0.01, epochs=5, verbose=0)
        assert compiles[CHUNK] == 1
        with pytest.raises(jn.TrainingDiverged) as info:
            jn.fit(net, params, X, y, learning_rate=1e6, epochs=50, verbose=0)
    assert compiles[CHUNK] == 2  # + the guarded variant
    assert all_finite(info.value.params)


def test_the_compile_counter_sees_a_new_program():
    """The counter the tests above rely on does count: another batch size is another program."""
    net = jn.Network((5, 7, 3), hidden_activation="relu", output_activation="softmax")
    X, Y = multiclass_data(14, 50, n_x=5)
    params = jn.init(jax.random.key(15), net)
    with count_compiles() as compiles:
        jn.fit(net, params, X, Y, epochs=1, batch_size=7, key=jax.random.key(0), verbose=0)
        jn.fit(net, params, X, Y, epochs=1, batch_size=9, key=jax.random.key(0), verbose=0)
    assert compiles[CHUNK] == 2


# --- manual backprop and autodiff give the same training ----------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("setup", [binary_setup, multiclass_setup], ids=["tanh", "relu"])
def test_manual_and_autodiff_trajectories_agree(setup, dtype):
    """100 shuffled minibatch steps (20 epochs of 5 batches, the last one partial)."""
    with jax.enable_x64(dtype == "float64"):
        net, params, X, Y = setup(dtype)
        kw = dict(learning_rate=0.3, epochs=20, batch_size=B, key=jax.random.key(21), verbose=0)
        manual, h_manual = jn.fit(net, params, X, Y, backprop="manual", **kw)
        auto, h_auto = jn.fit(net, params, X, Y, backprop="autodiff", **kw)
        tol = {"rtol": 1e-9, "atol": 1e-11} if dtype == "float64" else {"rtol": 1e-4, "atol": 1e-5}
        chex.assert_trees_all_close(manual, auto, **tol)
        np.testing.assert_allclose(h_manual["loss"], h_auto["loss"], **tol)
        assert h_auto["loss"][-1] < 0.8 * h_auto["loss"][0]  # they did move


# --- history -----------------------------------------------------------------------------


def test_history_is_json_with_keras_keys_and_validation():
    net, params, X, Y = multiclass_setup()
    X_val, Y_val = multiclass_data(23, 10)
    trained, history = jn.fit(
        net,
        params,
        X,
        Y,
        learning_rate=0.1,
        epochs=4,
        batch_size=B,
        key=jax.random.key(25),
        validation_data=(X_val, Y_val),
        verbose=0,
    )
    assert set(history) == {
        "epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "time"
    }  # fmt: skip
    assert json.loads(json.dumps(history)) == history
    assert history["learning_rate"] == [pytest.approx(0.1, rel=1e-7)] * 4  # float32's 0.1
    for k, v in history.items():
        assert isinstance(v, list) and len(v) == 4, k
        assert all(type(x) is (int if k == "epoch" else float) for x in v), k
    assert history["epoch"] == [1, 2, 3, 4]
    assert all(t >= 0 for t in history["time"])
    assert all(0 <= a <= 1 for a in history["accuracy"] + history["val_accuracy"])
    final = jn.evaluate(net, trained, X_val, Y_val)
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-5)
    assert history["val_accuracy"][-1] == pytest.approx(final["accuracy"], abs=1e-6)


def test_full_batch_history_loss_before_and_validation_after_each_update():
    net, params, X, Y = binary_setup()
    X_val, Y_val = binary_data(27, 10)
    trained, history = jn.fit(
        net, params, X, Y, learning_rate=0.5, epochs=3, validation_data=(X_val, Y_val), verbose=0
    )
    start = jn.evaluate(net, params, X, Y)
    assert history["loss"][0] == pytest.approx(start["loss"], rel=1e-6)
    assert history["accuracy"][0] == pytest.approx(start["accuracy"], abs=1e-6)
    after_1 = jn.evaluate(net, sgd_step(params, jn.grads(net, params, X, Y), 0.5), X_val, Y_val)
    assert history["val_loss"][0] == pytest.approx(after_1["loss"], rel=1e-5)
    final = jn.evaluate(net, trained, X_val, Y_val)
    assert history["val_loss"][-1] == pytest.approx(final["loss"], rel=1e-5)
    assert history["val_accuracy"][-1] == pytest.approx(final["accuracy"], abs=1e-6)
    assert history["val_loss"][0] != pytest.approx(history["val_loss"][-1], rel=1e-6)


def test_regression_history_reports_mse():
    net, params, X, y = regression_setup()
    trained, history = jn.fit(
        net, params, X, y, learning_rate=0.05, epochs=5, validation_data=(X, y), verbose=0
    )
    assert set(history) == {"epoch", "loss", "mse", "val_loss", "val_mse", "learning_rate", "time"}
    json.dumps(history)
    assert all(len(v) == 5 for v in history.values())
    # Keras's mse is mean (a - y)^2; the course's cost is half of it
    A = jn.forward(net, trained, X)[:, 0]
    assert history["val_mse"][-1] == pytest.approx(float(jnp.mean((A - y) ** 2)), rel=1e-5)
    assert history["val_loss"][-1] == pytest.approx(history["val_mse"][-1] / 2, rel=1e-5)


# --- progress ----------------------------------------------------------------------------


def progress_run(verbose, batch_size=B, epochs=3):
    net, params, X, Y = binary_setup()
    key = jax.random.key(33)
    return jn.fit(net, params, X, Y, epochs=epochs, batch_size=batch_size, key=key, verbose=verbose)


def test_verbose_0_is_silent(capsys):
    progress_run(0)
    out, err = capsys.readouterr()
    assert out == "" and err == ""


def test_verbose_2_prints_one_keras_line_per_epoch(capsys):
    _, history = progress_run(2)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 3, out
    for i, line in enumerate(lines, start=1):
        assert line.startswith(f"Epoch {i}/3 - "), line
        assert f"loss: {history['loss'][i - 1]:.4f}" in line
        assert f"accuracy: {history['accuracy'][i - 1]:.4f}" in line
    assert err == ""


def test_verbose_2_full_batch_prints_every_100_iterations(capsys):
    progress_run(2, batch_size=None, epochs=250)
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines] == [
        "Epoch 1/250",
        "Epoch 100/250",
        "Epoch 200/250",
        "Epoch 250/250",
    ]


def test_verbose_1_shows_a_progress_bar_on_stderr(capsys):
    progress_run(1)
    out, err = capsys.readouterr()
    assert out == ""
    assert "3/3" in err and "epoch" in err and "loss" in err


def test_results_do_not_depend_on_verbosity(capsys):
    runs = [progress_run(v) for v in (0, 1, 2)]
    capsys.readouterr()
    for params, history in runs[1:]:
        chex.assert_trees_all_equal(params, runs[0][0])
        assert without_time(history) == without_time(runs[0][1])


# --- determinism -------------------------------------------------------------------------


def test_same_key_same_result_bit_for_bit():
    net, params, X, Y = multiclass_setup()
    kw = dict(learning_rate=0.1, epochs=3, batch_size=B, verbose=0)
    a, ha = jn.fit(net, params, X, Y, key=jax.random.key(36), **kw)
    b, hb = jn.fit(net, params, X, Y, key=jax.random.key(36), **kw)
    chex.assert_trees_all_equal(a, b)
    chex.assert_trees_all_equal(without_time(ha), without_time(hb))
    c, hc = jn.fit(net, params, X, Y, key=jax.random.key(37), **kw)
    assert not leaves_equal(a, c)
    assert hc["loss"] != ha["loss"]


# --- divergence --------------------------------------------------------------------------


def test_divergence_raises_with_epoch_step_and_last_finite_params():
    net, params, X, y = regression_setup()
    with pytest.raises(jn.TrainingDiverged, match=r"epoch (\d+)/20, step 1/1") as info:
        jn.fit(net, params, X, y, learning_rate=1e6, epochs=20, verbose=0)
    err = info.value
    assert isinstance(err, FloatingPointError)
    assert err.step == 1 and err.epoch >= 2
    assert f"epoch {err.epoch}/20" in str(err)
    assert all_finite(err.params)
    # the params before the failing step: those after the completed epochs (a hand loop)
    before, costs = course_loop(net, params, X, y, 1e6, err.epoch - 1)
    chex.assert_trees_all_close(err.params, before, rtol=1e-4)
    np.testing.assert_allclose(err.history["loss"], costs, rtol=1e-4)
    assert all(len(v) == err.epoch - 1 for v in err.history.values())
    json.dumps(err.history)
    # and the failing step does produce a non-finite loss or update
    after = sgd_step(before, jn.grads(net, before, X, y), 1e6)
    assert not (np.isfinite(float(jn.cost(net, before, X, y))) and all_finite(after))


def test_divergence_stop_returns_with_a_warning():
    net, params, X, y = regression_setup()
    with pytest.raises(jn.TrainingDiverged) as info:
        jn.fit(net, params, X, y, learning_rate=1e6, epochs=20, verbose=0)
    where = f"epoch {info.value.epoch}/20, step 1/1"
    with pytest.warns(RuntimeWarning, match=where):
        params_out, history = jn.fit(
            net, params, X, y, learning_rate=1e6, epochs=20, verbose=0, on_nonfinite="stop"
        )
    chex.assert_trees_all_equal(params_out, info.value.params)
    assert without_time(history) == without_time(info.value.history)
    assert len(history["loss"]) == info.value.epoch - 1


def test_divergence_within_an_epoch_names_the_step(x64):
    """Minibatches: the failing step is reported, and the params are those before it."""
    net, params, X, y = regression_setup(jnp.float64)
    lr = 1e40
    with pytest.raises(jn.TrainingDiverged) as info:
        jn.fit(
            net, params, X, y, learning_rate=lr, epochs=5, batch_size=B, shuffle=False, verbose=0
        )
    err = info.value
    assert f"epoch {err.epoch}/5, step {err.step}/5" in str(err)
    applied = (err.epoch - 1) * 5 + err.step - 1  # the steps before the failing one
    assert applied >= 2  # (so this is not the trivial first step)
    expected = params
    for s in range(applied):
        idx = slice(B * (s % 5), B * (s % 5) + B)
        expected = sgd_step(expected, jn.grads(net, expected, X[idx], y[idx]), lr)
    chex.assert_trees_all_close(err.params, expected, rtol=1e-6)
    assert len(err.history["loss"]) == err.epoch - 1
    # the failing step: its loss or its update is not finite
    idx = slice(B * (applied % 5), B * (applied % 5) + B)
    nxt = sgd_step(err.params, jn.grads(net, err.params, X[idx], y[idx]), lr)
    assert not (np.isfinite(float(jn.cost(net, err.params, X[idx], y[idx]))) and all_finite(nxt))


def overflow_at_update(k, lr=0.1):
    """sgd whose k-th update (0-based) is infinite while the loss is still finite."""
    return optax.chain(
        optax.sgd(lr), optax.scale_by_schedule(lambda count: jnp.where(count == k, jnp.inf, 1.0))
    )


@pytest.mark.parametrize("batch_size, epoch, step", [(None, 4, 1), (B, 1, 4)])
def test_an_overflowing_update_keeps_the_last_finite_params(batch_size, epoch, step):
    """A finite loss with an infinite update must leave neither non-finite nor stale params."""
    net, params, X, Y = binary_setup()
    kw = dict(batch_size=batch_size, shuffle=False, verbose=0)
    with pytest.raises(jn.TrainingDiverged, match=f"epoch {epoch}/10, step {step}/") as info:
        jn.fit(net, params, X, Y, optimizer=overflow_at_update(3), epochs=10, **kw)
    err = info.value
    assert all_finite(err.params)
    expected = params  # exactly three updates were applied
    for s in range(3):
        idx = slice(None) if batch_size is None else slice(B * s, B * s + B)
        expected = sgd_step(expected, jn.grads(net, expected, X[idx], Y[idx]), 0.1)
    chex.assert_trees_all_close(err.params, expected, **F32)
    assert len(err.history["loss"]) == epoch - 1


# --- zero logits (the course's zeros init) -------------------------------------------------


def test_autodiff_from_zero_logits_is_the_course_step():
    """Logistic regression from zeros (the course's week 2 start): both gradients agree.

    Regression test: jax.grad of the logits form max(z, 0) + log1p(exp(-|z|)) is 0 at
    z == 0 instead of sigmoid(0) = 1/2, which made autodiff's first step dZ = -Y.
    """
    net = jn.Network((3, 1), output_activation="sigmoid")
    X, Y = binary_data(0)
    params = jn.init(jax.random.key(0), net, scheme="zeros")
    manual, _ = jn.fit(
        net, params, X, Y, learning_rate=0.5, epochs=20, backprop="manual", verbose=0
    )
    auto, _ = jn.fit(
        net, params, X, Y, learning_rate=0.5, epochs=20, backprop="autodiff", verbose=0
    )
    chex.assert_trees_all_close(auto, manual, **F32)
