"""The scikit-learn wrappers: shapes, dtypes, determinism per key, kwargs, missing sklearn."""

import sys

import jax
import numpy as np
import pytest

import jaxnet.datasets as ds

KEY = jax.random.key(0)

WRAPPERS = [
    (ds.make_classification, (5000, 20), {0, 1}),
    (ds.make_moons, (200, 2), {0, 1}),
    (ds.make_circles, (200, 2), {0, 1}),
    (ds.make_blobs, (200, 2), set(range(6))),
    (ds.make_gaussian_quantiles, (200, 2), {0, 1}),
]


@pytest.mark.parametrize("make,shape,labels", WRAPPERS, ids=lambda v: getattr(v, "__name__", ""))
def test_wrapper_shapes_dtypes_labels(make, shape, labels):
    X, y = make(KEY)
    assert X.shape == shape and X.dtype == np.float32
    assert y.shape == shape[:1] and y.dtype == np.int32
    assert set(np.unique(y).tolist()) == labels


@pytest.mark.parametrize("make,shape,labels", WRAPPERS, ids=lambda v: getattr(v, "__name__", ""))
def test_wrapper_is_deterministic_per_key(make, shape, labels):
    X1, y1 = make(KEY, m=100)
    X2, y2 = make(KEY, m=100)
    X3, _ = make(jax.random.key(1), m=100)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)


def test_balanced_classes_where_sklearn_balances():
    _, y = ds.make_moons(KEY, m=200)
    np.testing.assert_array_equal(np.bincount(y), [100, 100])


def test_kwargs_pass_through():
    X, y = ds.make_classification(KEY, m=300, n_features=8, n_informative=5, n_classes=3)
    assert X.shape == (300, 8) and set(np.unique(y).tolist()) == {0, 1, 2}
    X, _ = ds.make_blobs(KEY, m=50, n_features=3, centers=2, cluster_std=0.1)
    assert X.shape == (50, 3)


@pytest.mark.parametrize("kwarg,hint", [("n_samples", "m="), ("random_state", "key=")])
def test_reserved_kwargs_are_refused(kwarg, hint):
    with pytest.raises(TypeError, match=hint):
        ds.make_moons(KEY, **{kwarg: 3})


def test_invalid_key_and_m():
    with pytest.raises(TypeError, match="key"):
        ds.make_moons(42)
    with pytest.raises(ValueError, match="m"):
        ds.make_moons(KEY, m=1)


def test_bundled_real_sets():
    X, y = ds.load_breast_cancer()
    assert X.shape == (569, 30) and X.dtype == np.float32 and y.dtype == np.int32
    np.testing.assert_array_equal(np.bincount(y), [212, 357])
    X, y = ds.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int32
    assert X.min() == 0 and X.max() == 16 and set(np.unique(y).tolist()) == set(range(10))
    _, y = ds.load_digits(n_class=2)
    assert set(np.unique(y).tolist()) == {0, 1}
    with pytest.raises(ValueError, match="n_class"):
        ds.load_digits(n_class=11)


@pytest.mark.parametrize(
    "call",
    [lambda: ds.make_moons(KEY), lambda: ds.make_classification(KEY), ds.load_breast_cancer],
)
def test_missing_scikit_learn_says_how_to_install(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r'pip install "jaxnet\[datasets\]"') as info:
        call()
    assert "scikit-learn" in str(info.value)
