"""The course generators: shapes, dtypes, label sets, balance, formulas, determinism, errors;
their random source (Threefry, the same on the host and under jit) and that they compile nothing."""

import contextlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.extend.random import threefry_2x32

import jaxnet.datasets as ds
from jaxnet.datasets import _random

KEY = jax.random.key(0)
OTHER = jax.random.key(1)

KEYED = [
    ("planar_flower", lambda key: ds.planar_flower(key)),
    ("spiral", lambda key: ds.spiral(key, 300, classes=3)),
    ("housing_prices", lambda key: ds.housing_prices(key)),
]


def test_planar_flower_shapes_labels_and_balance():
    X, y = ds.planar_flower(KEY, m=400)
    assert X.shape == (400, 2) and X.dtype == np.float32
    assert y.shape == (400,) and y.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(np.asarray(y)), [200, 200])
    np.testing.assert_array_equal(y[:200], 0)  # the course's order: class 0, then class 1


def test_planar_flower_follows_the_course_formula_without_noise():
    X, y = ds.planar_flower(KEY, m=400, petals=3.0, noise=0.0)
    t = np.concatenate([np.linspace(3.12 * j, 3.12 * (j + 1), 200) for j in (0, 1)])
    r = 3.0 * np.sin(4 * t)
    np.testing.assert_allclose(np.asarray(X), np.c_[r * np.sin(t), r * np.cos(t)], atol=1e-5)


def test_planar_flower_radius_is_bounded_by_petal_length_plus_noise():
    X, _ = ds.planar_flower(OTHER, m=400, petals=4.0, noise=0.2)
    radius = np.linalg.norm(np.asarray(X), axis=1)
    assert radius.max() < 4.0 + 6 * 0.2
    assert radius.max() > 3.5  # petals reach out to about `petals`


def test_spiral_shapes_balance_and_radius():
    X, y = ds.spiral(KEY, m=301, classes=3, noise=0.0)
    assert X.shape == (301, 2) and X.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(np.asarray(y)), [101, 100, 100])
    radius = np.linalg.norm(np.asarray(X), axis=1)
    np.testing.assert_allclose(radius[101:201], np.linspace(0, 1, 100), atol=1e-6)


@pytest.mark.parametrize("classes", [2, 5])
def test_spiral_any_number_of_classes(classes):
    _, y = ds.spiral(KEY, m=10 * classes, classes=classes)
    np.testing.assert_array_equal(np.bincount(np.asarray(y)), [10] * classes)


@pytest.mark.parametrize("n_bits", [1, 3, 6])
def test_xor_parity_is_every_input_and_its_parity(n_bits):
    X, y = ds.xor_parity(n_bits)
    assert X.shape == (2**n_bits, n_bits) and X.dtype == np.float32 and y.dtype == np.int32
    X, y = np.asarray(X), np.asarray(y)
    assert set(np.unique(X)) <= {0.0, 1.0}
    assert len({tuple(row) for row in X}) == 2**n_bits
    expected = np.bitwise_xor.reduce(X.astype(int), axis=1)
    np.testing.assert_array_equal(y, expected)
    assert y.sum() == 2 ** (n_bits - 1)  # parity is balanced


def test_xor_parity_is_not_random():
    np.testing.assert_array_equal(ds.xor_parity(4)[0], ds.xor_parity(4)[0])


def test_housing_prices_ranges_and_price_grows_with_size():
    X, y = ds.housing_prices(KEY, m=1000)
    X, y = np.asarray(X), np.asarray(y)
    assert X.shape == (1000, 4) and X.dtype == np.float32
    assert y.shape == (1000,) and y.dtype == np.float32
    size, bedrooms, wealth, walk = X.T
    assert size.min() >= 400 and size.max() <= 6000
    assert set(np.unique(bedrooms)) <= {1.0, 2.0, 3.0, 4.0, 5.0, 6.0}
    assert wealth.min() >= 0 and wealth.max() <= 1 and walk.min() >= 0 and walk.max() <= 100
    assert (y > 0).all()
    assert np.corrcoef(size, y)[0, 1] > 0.5 and np.corrcoef(wealth, y)[0, 1] > 0.3


def test_housing_prices_without_noise_is_the_documented_formula():
    X, y = ds.housing_prices(KEY, m=1000, noise=0.0)
    size, bedrooms, wealth, walk = np.asarray(X, np.float64).T
    expected = (50 + 0.15 * size + 10 * bedrooms + 0.5 * walk) * (0.5 + wealth)
    np.testing.assert_allclose(np.asarray(y), expected, rtol=1e-5)


@pytest.mark.parametrize("name,make", KEYED)
def test_same_key_same_data_bitwise_and_different_key_different_data(name, make):
    X1, y1 = make(KEY)
    X2, y2 = make(KEY)
    X3, _ = make(OTHER)
    assert np.asarray(X1).tobytes() == np.asarray(X2).tobytes(), name
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3), name


def test_legacy_uint32_keys_work():
    X, _ = ds.planar_flower(jax.random.PRNGKey(0))
    assert X.shape == (400, 2)


def test_planar_flower_vmaps_over_keys():
    keys = jax.random.split(KEY, 3)
    X = jax.vmap(lambda k: ds.planar_flower(k)[0])(keys)
    assert X.shape == (3, 400, 2)
    np.testing.assert_allclose(X[1], ds.planar_flower(keys[1])[0], rtol=1e-5, atol=1e-5)


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


@pytest.mark.parametrize(
    "name,make",
    [  # sizes no other test uses, so that a compiled generator could not hit an in-memory cache
        ("planar_flower", lambda key: ds.planar_flower(key, m=398)),
        ("spiral", lambda key: ds.spiral(key, 299, classes=4)),
        ("housing_prices", lambda key: ds.housing_prices(key, m=997)),
        ("xor_parity", lambda key: ds.xor_parity(5)),
    ],
)
def test_a_concrete_key_compiles_nothing_and_gives_jax_arrays(name, make):
    key = jax.random.key(12345)
    with compilations() as compiled:
        X, y = make(key)
    assert compiled == [], name
    assert isinstance(X, jax.Array) and isinstance(y, jax.Array), name


@pytest.mark.parametrize("name,make", KEYED)
def test_jit_gives_the_host_values(name, make):
    X, y = make(OTHER)
    X_jit, y_jit = jax.jit(make)(OTHER)
    np.testing.assert_allclose(X_jit, X, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_allclose(y_jit, y, rtol=1e-5, err_msg=name)


def test_threefry_matches_jax_on_host_and_traced():
    key = (np.array([0x13198A2E], np.uint32), np.array([0x03707344], np.uint32))
    c0, c1 = np.array([0, 7, 2**32 - 1], np.uint32), np.array([1, 0, 12345], np.uint32)
    x0, x1 = _random.threefry2x32(np, key, (c0, c1))
    expected = threefry_2x32((key[0][0], key[1][0]), np.concatenate([c0, c1]))
    np.testing.assert_array_equal(np.concatenate([x0, x1]), expected)
    j0, j1 = jax.jit(lambda k, c: _random.threefry2x32(jnp, k, c))(key, (c0, c1))
    np.testing.assert_array_equal(np.concatenate([j0, j1]), expected)


def test_key_words_of_typed_and_legacy_keys():
    typed = _random.key_words(jax.random.key(7), np)
    legacy = _random.key_words(jax.random.PRNGKey(7), np)
    assert [w.tolist() for w in typed] == [[0], [7]] == [w.tolist() for w in legacy]
    rbg = _random.key_words(jax.random.key(7, impl="rbg"), np)  # 4 words folded to 2
    assert all(w.dtype == np.uint32 and w.shape == (1,) for w in rbg)


def test_normal_and_uniform_draws_have_their_distributions():
    words = _random.key_words(KEY, np)
    z = _random.normal(np, words, 0, 200_000)
    assert z.dtype == np.float32 and abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs((np.abs(z) < 1.959964).mean() - 0.95) < 0.003  # two-sided 95% interval
    u = _random.uniform(np, words, 1, 200_000)
    assert u.dtype == np.float32 and u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.005
    assert abs(np.corrcoef(z, _random.normal(np, words, 1, 200_000))[0, 1]) < 0.01  # streams


def test_permutation_is_a_random_order():
    words = _random.key_words(KEY, np)
    perm = _random.permutation(words, 0, 1000)
    assert sorted(perm.tolist()) == list(range(1000)) and perm.tolist() != list(range(1000))
    np.testing.assert_array_equal(perm, _random.permutation(words, 0, 1000))
    assert not np.array_equal(perm, _random.permutation(words, 1, 1000))
    first = [
        _random.permutation(_random.key_words(jax.random.key(k), np), 0, 3)[0] for k in range(600)
    ]
    assert np.bincount(first).min() > 150  # each of 3 elements comes first about 200 times


@pytest.mark.parametrize(
    "call,argument",
    [
        (lambda: ds.planar_flower(KEY, m=1), "m"),
        (lambda: ds.planar_flower(KEY, m=401), "m must be even"),
        (lambda: ds.planar_flower(KEY, noise=-0.1), "noise"),
        (lambda: ds.planar_flower(KEY, petals=0.0), "petals"),
        (lambda: ds.spiral(KEY, m=1), "m"),
        (lambda: ds.spiral(KEY, m=10, classes=1), "classes"),
        (lambda: ds.spiral(KEY, m=3, classes=4), "m must be >= classes"),
        (lambda: ds.spiral(KEY, m=10, noise=-1.0), "noise"),
        (lambda: ds.spiral(KEY, m=10, noise=float("nan")), "noise"),
        (lambda: ds.xor_parity(0), "n_bits"),
        (lambda: ds.xor_parity(21), "n_bits"),
        (lambda: ds.housing_prices(KEY, m=0), "m"),
        (lambda: ds.housing_prices(KEY, noise=-1.0), "noise"),
    ],
)
def test_invalid_arguments_raise_value_error_naming_them(call, argument):
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize(
    "call,argument",
    [
        (lambda: ds.planar_flower(0), "key"),
        (lambda: ds.planar_flower(jax.random.split(KEY, 2)), "key"),
        (lambda: ds.planar_flower(KEY, m=400.0), "m"),
        (lambda: ds.spiral(KEY, m=True), "m"),
        (lambda: ds.xor_parity("3"), "n_bits"),
        (lambda: ds.housing_prices(KEY, noise="a"), "noise"),
    ],
)
def test_wrong_types_raise_type_error_naming_them(call, argument):
    with pytest.raises(TypeError, match=argument):
        call()
