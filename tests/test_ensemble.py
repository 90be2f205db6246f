"""Many models in one vmapped run (``init_ensemble``, ``fit_ensemble``).

The setups match test_training's (a 3-4-1 tanh/sigmoid network on 22 examples, batches
of 5), so the single-model runs compared against here reuse its compiled programs.
"""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from helpers import count_compiles

import jaxnet as jn
from jaxnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D
from jaxnet.training import _cpu, ensemble

M, B, K = 22, 5, 4
CHUNK = "jit(_ensemble_chunk)"  # the compiled vmapped chunk's name in JAX's compile events
F32 = {"rtol": 2e-5, "atol": 2e-6}


def binary_data(seed, m=M, n_x=3, dtype=np.float32):
    """NumPy data (no compilation per shape): inputs ``(m, n_x)``, 0/1 labels ``(m,)``."""
    X = np.random.default_rng(seed).standard_normal((m, n_x)).astype(dtype)
    return X, (X[:, 0] + 0.5 * X[:, 1] ** 2 > 0.3).astype(np.int32)


def binary_net():
    return jn.Network((3, 4, 1), hidden_activation="tanh", output_activation="sigmoid")


def model(stacked, k):
    return jax.tree.map(lambda a: a[k], stacked)


def assert_histories_close(got, expected, **tol):
    assert set(got) == set(expected)
    for key in expected:
        if key == "time":
            assert len(got[key]) == len(expected[key])
        else:
            np.testing.assert_allclose(got[key], expected[key], err_msg=key, **tol)


# --- init_ensemble -----------------------------------------------------------------------


def test_init_ensemble_stacks_one_init_per_key():
    net = binary_net()
    keys = jax.random.split(jax.random.key(0), K)
    stacked = jn.init_ensemble(keys, net, "xavier")
    chex.assert_shape(stacked[0]["W"], (K, 4, 3))
    chex.assert_shape(stacked[1]["b"], (K, 1))
    for k in range(K):
        chex.assert_trees_all_close(model(stacked, k), jn.init(keys[k], net, scheme="xavier"))
    assert not np.allclose(stacked[0]["W"][0], stacked[0]["W"][1])


# --- fit_ensemble equals K single fits ---------------------------------------------------


@pytest.mark.parametrize("batch_size", [None, B], ids=["full-batch", "minibatch"])
@pytest.mark.parametrize("rates", ["seeds", "rates"])
def test_fit_ensemble_equals_sequential_fits(batch_size, rates):
    net = binary_net()
    X, Y = binary_data(1)
    X_val, Y_val = binary_data(2, 10)
    init_keys = jax.random.split(jax.random.key(3), K)
    shuffle_keys = jax.random.split(jax.random.key(4), K)
    stacked = jn.init_ensemble(init_keys, net, "xavier")
    lrs = [0.5] * K if rates == "seeds" else [0.1, 0.3, 0.5, 0.9]
    lr = 0.5 if rates == "seeds" else jnp.array(lrs)
    validation = None if batch_size is None else (X_val, Y_val)
    epochs = 20 if batch_size is None else 4
    kw = dict(epochs=epochs, batch_size=batch_size, validation_data=validation, verbose=0)
    trained, histories = jn.fit_ensemble(
        net, stacked, X, Y, learning_rate=lr, keys=shuffle_keys, **kw
    )
    assert len(histories) == K
    for k in range(K):
        single, history = jn.fit(
            net, model(stacked, k), X, Y, learning_rate=lrs[k], key=shuffle_keys[k], **kw
        )
        chex.assert_trees_all_close(model(trained, k), single, **F32)
        assert_histories_close(histories[k], history, **F32)
        assert histories[k]["epoch"] == list(range(1, epochs + 1))
    # the models did differ
    assert not np.allclose(histories[0]["loss"], histories[1]["loss"])


def test_fit_ensemble_compiles_once_for_any_learning_rates():
    net = jn.Network(
        (2, 9, 1), hidden_activation="tanh", output_activation="sigmoid"
    )  # sizes used nowhere else
    X, Y = binary_data(5, 16, n_x=2)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(6), K), net, "xavier")
    keys = jax.random.split(jax.random.key(7), K)
    kw = dict(epochs=3, batch_size=4, keys=keys, verbose=0)
    with count_compiles() as compiles:
        a, _ = jn.fit_ensemble(net, stacked, X, Y, learning_rate=0.1, **kw)
        assert compiles[CHUNK] == 1
        b, _ = jn.fit_ensemble(
            net, stacked, X, Y, learning_rate=jnp.array([0.2, 0.3, 0.4, 0.5]), **kw
        )
        jn.fit_ensemble(net, stacked, X, Y, learning_rate=0.7, **{**kw, "epochs": 6})
    assert compiles[CHUNK] == 1
    assert not np.allclose(a[0]["W"], b[0]["W"])


def test_a_diverging_model_stops_alone():
    net = jn.Network((3, 8, 1), hidden_activation="relu", output_activation="linear")
    X = np.random.default_rng(4).standard_normal((M, 3)).astype(np.float32)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(8), K), net)
    rates = [0.05, 1e6, 0.05, 0.05]
    with pytest.warns(RuntimeWarning, match=r"models \[1\]"):
        trained, histories = jn.fit_ensemble(
            net, stacked, X, y, learning_rate=jnp.array(rates), epochs=20, verbose=0
        )
    assert [len(h["loss"]) for h in histories][::2] == [20, 20]
    assert 1 <= len(histories[1]["loss"]) < 20
    assert all(len(v) == len(histories[1]["loss"]) for v in histories[1].values())
    assert all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(trained))
    for k in (0, 2, 3):
        single, history = jn.fit(
            net, model(stacked, k), X, y, learning_rate=0.05, epochs=20, verbose=0
        )
        chex.assert_trees_all_close(model(trained, k), single, **F32)
        assert_histories_close(histories[k], history, **F32)
    with pytest.raises(jn.TrainingDiverged) as info:
        jn.fit(net, model(stacked, 1), X, y, learning_rate=1e6, epochs=20, verbose=0)
    assert len(histories[1]["loss"]) == info.value.epoch - 1
    # params of ~1e23 after two steps at 1e6: vmapped and single rounding differ where terms
    # cancel, so compare relative to each leaf's scale
    for got, want in zip(jax.tree.leaves(model(trained, 1)), jax.tree.leaves(info.value.params)):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5 * float(np.abs(want).max()))


# --- hidden-size sweeps ------------------------------------------------------------------


def test_hidden_size_sweep_trains_exactly_like_the_narrow_networks():
    net = binary_net()  # the widest: 4 hidden units
    X, Y = binary_data(9)
    widths = [1, 2, 4]
    keys = list(jax.random.split(jax.random.key(10), len(widths)))
    stacked = jn.init_ensemble(keys, net, "xavier", hidden_sizes=widths)
    trained, histories = jn.fit_ensemble(
        net, stacked, X, Y, learning_rate=0.5, epochs=20, verbose=0
    )
    stacked_np, trained_np = jax.tree.map(np.asarray, (stacked, trained))

    def narrow(tree, k, w):
        """Model k of a stacked tree, cut down to w hidden units."""
        first, second = tree
        return (
            {"W": first["W"][k, :w], "b": first["b"][k, :w]},
            {"W": second["W"][k, :, :w], "b": second["b"][k]},
        )

    for k, w in enumerate(widths):
        small = jn.Network((3, w, 1), hidden_activation="tanh", output_activation="sigmoid")
        start = jn.init(keys[k], small, scheme="xavier")
        chex.assert_trees_all_equal(narrow(stacked_np, k, w), jax.tree.map(np.asarray, start))
        single, history = jn.fit(small, start, X, Y, learning_rate=0.5, epochs=20, verbose=0)
        assert_histories_close(histories[k], history, rtol=1e-5, atol=1e-6)
        chex.assert_trees_all_close(narrow(trained_np, k, w), single, rtol=1e-5, atol=1e-6)
        # the padding units stayed exactly zero
        first, second = trained_np
        assert not np.any(first["W"][k, w:]) and not np.any(first["b"][k, w:])
        assert not np.any(second["W"][k, :, w:])
    # and the widths matter
    assert not np.allclose(histories[0]["loss"], histories[2]["loss"], rtol=1e-3)


def test_hidden_sizes_take_one_width_per_hidden_layer():
    net = jn.Network((3, 5, 4, 1), hidden_activation="relu", output_activation="sigmoid")
    keys = jax.random.split(jax.random.key(11), 2)
    stacked = jn.init_ensemble(keys, net, hidden_sizes=[(2, 3), 4])
    assert not np.any(np.asarray(stacked[0]["W"][0, 2:]))
    assert not np.any(np.asarray(stacked[1]["W"][0, 3:]))
    assert not np.any(np.asarray(stacked[1]["W"][0, :, 2:]))
    assert np.all(np.asarray(stacked[0]["W"][0, :2]) != 0)
    assert not np.any(np.asarray(stacked[0]["W"][1, 4:]))  # width 4 for both layers
    assert np.all(np.asarray(stacked[0]["W"][1, :4]) != 0)


@pytest.mark.parametrize("hidden", ["sigmoid", "softmax"])
def test_hidden_sizes_reject_activations_with_nonzero_value_at_zero(hidden):
    """sigmoid(0) = 1/2: padded units would not stay silent."""
    if hidden == "softmax":
        net = jn.Network((3, 4, 2), activations=("softmax", "softmax"))
    else:
        net = jn.Network((3, 4, 1), hidden_activation=hidden, output_activation="sigmoid")
    keys = jax.random.split(jax.random.key(12), 2)
    with pytest.raises(ValueError, match="hidden"):
        jn.init_ensemble(keys, net, hidden_sizes=[1, 2])


@pytest.mark.parametrize(
    "hidden_sizes", [[1], [1, 5], [0, 2], [(1, 2), 2]], ids=["count", "too-wide", "zero", "depth"]
)
def test_bad_hidden_sizes(hidden_sizes):
    net = binary_net()
    with pytest.raises(ValueError, match="hidden_sizes"):
        jn.init_ensemble(jax.random.split(jax.random.key(13), 2), net, hidden_sizes=hidden_sizes)


# --- bad arguments -----------------------------------------------------------------------
# (the arguments fit_ensemble shares with fit are tried on both in test_training_arguments.py)


def test_fit_ensemble_bad_arguments():
    net = binary_net()
    X, Y = binary_data(14)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(15), K), net, "xavier")
    keys = jax.random.split(jax.random.key(16), K)
    with pytest.raises(ValueError, match="keys"):
        jn.fit_ensemble(net, stacked, X, Y, keys=keys[:3], verbose=0)
    with pytest.raises(ValueError, match="keys"):
        jn.fit_ensemble(net, stacked, X, Y, batch_size=B, verbose=0)
    with pytest.raises(TypeError, match="keys"):
        jn.fit_ensemble(net, stacked, X, Y, keys=jax.random.key(0), verbose=0)
    with pytest.raises(ValueError, match="stacked_params"):
        jn.fit_ensemble(net, jn.init(jax.random.key(0), net), X, Y, verbose=0)
    with pytest.raises(ValueError, match="stacked_params"):
        ragged = (stacked[0], jax.tree.map(lambda a: a[:2], stacked[1]))
        jn.fit_ensemble(net, ragged, X, Y, verbose=0)


@pytest.mark.parametrize("model", [1, 2, K - 1])
@pytest.mark.parametrize("leaf", [(0, "W"), (1, "b")], ids=["W1", "b2"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_every_model_must_start_finite(model, leaf, value):
    """A non-finite value in any model (not only model 0) is an argument error, not a warning."""
    net = binary_net()
    X, Y = binary_data(14)
    stacked = jax.tree.map(np.array, jn.init_ensemble(jax.random.split(jax.random.key(15), K), net))
    layer, name = leaf
    stacked[layer][name][model].flat[0] = value
    with pytest.raises(
        ValueError, match=rf"stacked_params\[{layer}\]\['{name}'\].*models \[{model}\]"
    ):
        jn.fit_ensemble(net, stacked, X, Y, verbose=0)


BAD_KEYS = {
    "one-key": jax.random.key(0),
    "one-raw-key": jax.random.PRNGKey(0),
    "int-seed": 42,
    "list-of-ints": [1, 2],
    "empty-list": [],
    "key-matrix": jax.random.split(jax.random.key(0), (2, 2)),
}


@pytest.mark.parametrize("case", list(BAD_KEYS))
def test_init_ensemble_wants_k_keys(case):
    with pytest.raises(TypeError, match=r"keys must be K >= 1 jax\.random keys"):
        jn.init_ensemble(BAD_KEYS[case], binary_net())


def test_init_ensemble_takes_typed_raw_or_listed_keys():
    net = binary_net()
    typed = jn.init_ensemble(jax.random.split(jax.random.key(3), 2), net)
    listed = jn.init_ensemble(list(jax.random.split(jax.random.key(3), 2)), net)
    chex.assert_trees_all_equal(typed, listed)
    raw = jn.init_ensemble(jax.random.split(jax.random.PRNGKey(3), 2), net)
    chex.assert_shape(raw[0]["W"], (2, 4, 3))


@pytest.mark.parametrize(
    ("hidden_sizes", "error"),
    [([1.5, 2], TypeError), ([2.0, 2], TypeError), ([True, 2], TypeError), ([(1, "2"), 2], TypeError),
     ([], ValueError), ("12", TypeError), (3, TypeError)],
    ids=["float", "integral-float", "bool", "string-width", "empty", "string", "int"],
)  # fmt: skip
def test_init_ensemble_hidden_sizes_must_be_ints(hidden_sizes, error):
    net = jn.Network((3, 5, 4, 1), hidden_activation="relu", output_activation="sigmoid")
    with pytest.raises(error, match="hidden_sizes"):
        jn.init_ensemble(jax.random.split(jax.random.key(13), 2), net, hidden_sizes=hidden_sizes)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(scheme="bogus"), ValueError, "bogus"),
        (dict(dtype=jnp.int32), TypeError, "dtype"),
        (dict(dtype=jnp.float64), ValueError, "float64"),
    ],
    ids=["scheme", "int-dtype", "float64-without-x64"],
)
@pytest.mark.parametrize("hidden_sizes", [None, [1, 2]], ids=["plain", "hidden_sizes"])
def test_init_ensemble_applies_init_checks(kwargs, error, match, hidden_sizes):
    keys = jax.random.split(jax.random.key(13), 2)
    with pytest.raises(error, match=match):
        jn.init_ensemble(keys, binary_net(), hidden_sizes=hidden_sizes, **kwargs)


# --- the CPU machinery: the course's layout and blocks of models (jaxnet.training._cpu) --


def test_narrow_networks_train_examples_last():
    assert _cpu.narrow(binary_net())
    assert _cpu.narrow(
        jn.Network((20, 64, 10), hidden_activation="relu", output_activation="softmax")
    )
    assert not _cpu.narrow(
        jn.Network((784, 64, 10), hidden_activation="relu", output_activation="softmax")
    )
    assert not _cpu.narrow(jn.Network((2, 65, 1)))
    # the one switch: on this CPU, without a mesh, for a narrow network only
    assert _cpu.applies(binary_net(), None)
    assert not _cpu.applies(binary_net(), jn.parallel.data_mesh())
    assert not _cpu.applies(jn.Network((2, 65, 1)), None)


def test_the_switch_reaches_the_compiled_ensemble(monkeypatch):
    """fit_ensemble asks the switch once; off, the plain vmap runs (the same results)."""
    X, y = binary_data(3)
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(2), 2), binary_net())
    kw = dict(learning_rate=0.5, epochs=3, verbose=0)
    seen, runner = [], ensemble.ensemble_runner
    monkeypatch.setattr(ensemble, "ensemble_runner", lambda c: seen.append(c.cpu) or runner(c))
    fast, _ = jn.fit_ensemble(binary_net(), stacked, X, y, **kw)
    monkeypatch.setattr(_cpu, "NARROW", 1)
    plain, _ = jn.fit_ensemble(binary_net(), stacked, X, y, **kw)
    assert seen == [True, False]
    chex.assert_trees_all_close(fast, plain, **F32)


def test_blocks_of_models_equal_sequential_fits(monkeypatch):
    """9 models in blocks of 2 (the last block padded with a copy of model 0), one of them
    diverging: each block is the vmap of its models, the diverged one frozen alone."""
    net = jn.Network((3, 8, 1), hidden_activation="relu", output_activation="linear")
    X = np.random.default_rng(4).standard_normal((M, 3)).astype(np.float32)
    y = np.sin(X[:, 0]) + X[:, 1] * X[:, 2]
    monkeypatch.setattr(_cpu.blocks, "BLOCK_BYTES", 2 * 8 * M * 4)  # 2 models of (8, M) float32
    assert _cpu.models_per_block(net, 9, M, np.float32) == 2
    assert _cpu.models_per_block(net, 7, M, np.float32) == 7  # under 4 blocks: one vmap
    K = 9
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(8), K), net)
    rates = np.full(K, 0.05, np.float32)
    rates[5] = 1e6
    with pytest.warns(RuntimeWarning, match=r"models \[5\]"):
        trained, histories = jn.fit_ensemble(
            net, stacked, X, y, learning_rate=rates, epochs=12, verbose=0
        )
    assert jax.tree.leaves(trained)[0].shape[0] == K
    assert 1 <= len(histories[5]["loss"]) < 12
    for k in (0, 4, 8):
        single, history = jn.fit(
            net, model(stacked, k), X, y, learning_rate=0.05, epochs=12, verbose=0
        )
        chex.assert_trees_all_close(model(trained, k), single, **F32)
        assert_histories_close(histories[k], history, **F32)


@pytest.mark.parametrize("case", ["dropout-batchnorm", "cnn"])
def test_layers_without_rules_train_examples_last(case, monkeypatch):
    """Minibatches (the last one masked), validation, dropout, batch norm, convolutions and
    pools through the examples-last step equal sequential fits of the plain one."""
    if case == "cnn":
        net = jn.Sequential(
            [Conv2D(2, 3, padding="same", activation="relu"), BatchNorm(), MaxPool2D(2),
             Flatten(), Dropout(0.2), Dense(1, "sigmoid")],
            input_shape=(4, 4, 1),
        )  # fmt: skip
        monkeypatch.setattr(_cpu, "NARROW", 10**6)
        images = np.random.default_rng(5).standard_normal((M, 4, 4, 1)).astype(np.float32)
        X, Y = images, (images[:, :2].mean(axis=(1, 2, 3)) > 0).astype(np.int32)
    else:
        net = jn.Network(
            (3, 6, 1),
            hidden_activation="tanh",
            output_activation="sigmoid",
            dropout=0.2,
            batch_norm=True,
        )
        X, Y = binary_data(6)
    assert _cpu.applies(net, None)
    K = 3
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(7), K), net)
    keys = jax.random.split(jax.random.key(8), K)
    kw = dict(learning_rate=0.2, epochs=3, batch_size=B, validation_data=(X[:9], Y[:9]), verbose=0)
    trained, histories = jn.fit_ensemble(net, stacked, X, Y, keys=keys, **kw)
    for k in range(K):
        single, history = jn.fit(net, model(stacked, k), X, Y, key=keys[k], **kw)
        chex.assert_trees_all_close(model(trained, k), single, **F32)
        assert_histories_close(histories[k], history, **F32)
