"""Preprocessing and splitting: flatten, scale, standardize, one-hot, split, minibatches;
host (NumPy) inputs are prepared without compiling anything."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet.datasets as ds

KEY = jax.random.key(0)


def test_flatten_images_is_c_order_and_keeps_the_array_type():
    X = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    flat = ds.flatten_images(X)
    assert isinstance(flat, np.ndarray) and flat.shape == (2, 36)
    np.testing.assert_array_equal(flat, X.reshape(2, -1))
    np.testing.assert_array_equal(flat[0, :4], [0, 1, 2, 3])  # channel varies fastest
    jitted = jax.jit(ds.flatten_images)(jnp.asarray(X))
    np.testing.assert_array_equal(jitted, flat)
    assert ds.flatten_images(np.zeros((0, 2, 2))).shape == (0, 4)
    with pytest.raises(ValueError, match="X must have shape"):
        ds.flatten_images(np.zeros(3))


def test_scale():
    X = np.array([[0, 51, 255]], np.uint8)
    out = ds.scale(X)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, [[0, 0.2, 1]], rtol=1e-6)
    np.testing.assert_allclose(jax.jit(ds.scale)(X, 16.0), X / 16.0, rtol=1e-6)
    with pytest.raises(ValueError, match="max_value"):
        ds.scale(X, 0.0)


def test_standardize_fits_on_train_and_guards_constant_features():
    rng = np.random.default_rng(0)
    X_train = np.c_[rng.normal(5, 3, 200), np.full(200, 0.1), rng.integers(0, 255, 200)]
    X_test = X_train[:10] + 1.0
    stats, Z_train, Z_test = ds.standardize(X_train.astype(np.float32), X_test.astype(np.float32))
    assert isinstance(stats, ds.Standardization) and stats.mean.shape == (3,)
    np.testing.assert_allclose(Z_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(Z_train.std(axis=0), [1, 0, 1], atol=1e-5)
    assert np.isfinite(Z_train).all()
    mean, std = np.asarray(stats.mean), np.asarray(stats.std)
    np.testing.assert_allclose(Z_test, (X_test - mean) / std, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(stats.invert(Z_train), X_train, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(jax.jit(stats.apply)(X_test), Z_test, rtol=1e-6)
    stats2, _, none = ds.standardize(np.arange(6).reshape(3, 2))
    assert none is None and stats2.mean.dtype == jnp.float32
    with pytest.raises(ValueError, match="X must have shape"):
        stats.apply(np.zeros((4, 2)))


def test_one_hot_and_back():
    y = np.array([2, 0, 1, 2], np.int32)
    Y = ds.one_hot(y, 3)
    assert Y.shape == (4, 3) and Y.dtype == jnp.float32
    np.testing.assert_array_equal(Y, np.eye(3)[y])
    np.testing.assert_array_equal(ds.from_one_hot(Y), y)
    assert ds.from_one_hot(Y).dtype == jnp.int32
    np.testing.assert_array_equal(jax.jit(ds.one_hot, static_argnums=1)(y, 3), Y)
    with pytest.raises(ValueError, match="label 3, outside 0..2"):
        ds.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="label -1"):
        ds.one_hot(np.array([0, -1]), 3)
    with pytest.raises(TypeError, match="integer labels"):
        ds.one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match=r"shape \(m,\)"):
        ds.one_hot(np.zeros((2, 1), int), 2)
    with pytest.raises(ValueError, match="num_classes"):
        ds.one_hot(y, 0)
    with pytest.raises(ValueError, match=r"shape \(m, K\)"):
        ds.from_one_hot(y)


def test_train_test_split_partitions_the_examples():
    X = np.arange(100, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(100) % 4
    (X_tr, y_tr), (X_te, y_te) = ds.train_test_split(KEY, X, y, test_fraction=0.25)
    assert X_tr.shape == (75, 3) and X_te.shape == (25, 3) and isinstance(X_tr, np.ndarray)
    ids = np.r_[X_tr[:, 0], X_te[:, 0]].astype(int)
    assert sorted(ids.tolist()) == list(range(100))  # disjoint and complete
    np.testing.assert_array_equal(y_te, X_te[:, 0].astype(int) % 4)  # rows stay paired
    (X_again, _), _ = ds.train_test_split(KEY, X, y, test_fraction=0.25)
    np.testing.assert_array_equal(X_again, X_tr)
    (X_other, _), _ = ds.train_test_split(jax.random.key(1), X, y, test_fraction=0.25)
    assert not np.array_equal(X_other, X_tr)


def test_stratified_split_keeps_class_proportions():
    y = np.r_[np.zeros(90, int), np.ones(10, int)]
    X = jnp.arange(100.0)[:, None]
    (_, y_tr), (X_te, y_te) = ds.train_test_split(KEY, X, y, test_fraction=0.2, stratify=True)
    assert np.bincount(y_te).tolist() == [18, 2] and np.bincount(y_tr).tolist() == [72, 8]
    assert isinstance(X_te, jax.Array)
    Y = np.eye(2)[y]  # one-hot labels are stratified by argmax
    _, (_, Y_te) = ds.train_test_split(KEY, X, Y, test_fraction=0.2, stratify=True)
    assert Y_te.sum(axis=0).tolist() == [18, 2]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        ds.train_test_split(KEY, np.zeros((10, 2)), np.zeros(10), test_fraction=fraction)


def test_split_rejects_mismatched_lengths_and_bad_keys():
    with pytest.raises(ValueError, match="same number of examples"):
        ds.train_test_split(KEY, np.zeros((10, 2)), np.zeros(9))
    with pytest.raises(TypeError, match="key"):
        ds.train_test_split(0, np.zeros((10, 2)), np.zeros(10))


def test_minibatches_cover_every_example_once():
    X = np.arange(10, dtype=np.float32)[:, None]
    Y = np.arange(10)
    batches = list(ds.minibatches(KEY, X, Y, 4))
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)
    again = np.concatenate([b[1] for b in ds.minibatches(KEY, X, Y, 4)])
    np.testing.assert_array_equal(again, seen)
    assert [len(b[0]) for b in ds.minibatches(KEY, X, Y, 4, drop_last=True)] == [4, 4]
    ordered = [b[1].tolist() for b in ds.minibatches(None, X, Y, 5, shuffle=False)]
    assert ordered == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_minibatches_work_on_jax_arrays():
    X, Y = jnp.ones((7, 2)), jnp.arange(7)
    shapes = [(xb.shape, yb.shape) for xb, yb in ds.minibatches(KEY, X, Y, 3)]
    assert shapes == [((3, 2), (3,)), ((3, 2), (3,)), ((1, 2), (1,))]


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 2.0}, TypeError, "batch_size"),
        ({"batch_size": 20, "drop_last": True}, ValueError, "no batch"),
        ({"batch_size": 2, "key": None}, ValueError, "key is required"),
        ({"batch_size": 2, "Y": np.zeros(3)}, ValueError, "same number of examples"),
    ],
)
def test_minibatches_validate_eagerly(kwargs, error, match):
    args = {"key": KEY, "X": np.zeros((10, 2)), "Y": np.zeros(10)} | kwargs
    with pytest.raises(error, match=match):
        ds.minibatches(**args)


@contextlib.contextmanager
def compilations():
    """Collects one entry per XLA compilation made inside the block."""
    events = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        yield events
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)


def test_host_inputs_compile_nothing_and_match_the_jitted_path():
    rng = np.random.default_rng(3)
    X = rng.integers(0, 256, (37, 5)).astype(np.uint8)  # a shape no other test uses
    y = rng.integers(0, 3, 37).astype(np.int32)
    with compilations() as compiled:
        scaled = ds.scale(X)
        stats, Z, _ = ds.standardize(X)
        back = stats.invert(np.asarray(Z))
        Y = ds.one_hot(y, 3)
        labels = ds.from_one_hot(np.asarray(Y))
    assert compiled == []
    for out in (scaled, stats.mean, stats.std, Z, back, Y, labels):
        assert isinstance(out, jax.Array)
    np.testing.assert_allclose(scaled, jax.jit(ds.scale)(X), rtol=1e-7)
    np.testing.assert_allclose(Z, jax.jit(stats.apply)(X), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(back, X, rtol=1e-5, atol=1e-4)
    jitted_stats = jax.jit(ds.Standardization.fit)(X)
    np.testing.assert_allclose(stats.mean, jitted_stats.mean, rtol=1e-6)
    np.testing.assert_allclose(stats.std, jitted_stats.std, rtol=1e-5)
    np.testing.assert_array_equal(Y, jax.jit(ds.one_hot, static_argnums=1)(y, 3))
    assert Y.dtype == jnp.float32 and labels.dtype == jnp.int32
    np.testing.assert_array_equal(labels, y)


def test_split_of_jax_arrays_compiles_nothing_and_gives_jax_arrays():
    X, y = ds.planar_flower(jax.random.key(3), m=46)
    with compilations() as compiled:
        (X_tr, y_tr), (X_te, y_te) = ds.train_test_split(KEY, X, y, test_fraction=0.25)
    assert compiled == []
    assert all(isinstance(a, jax.Array) for a in (X_tr, y_tr, X_te, y_te))
    assert X_tr.shape == (34, 2) and X_te.shape == (12, 2) and y_te.dtype == jnp.int32
    rows = {tuple(r) for r in np.asarray(X).tolist()}
    assert {tuple(r) for r in np.r_[X_tr, X_te].tolist()} == rows
