"""Bad input at the public boundary: each error names the argument, what it got and what it expected."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn

BINARY = jn.Network((3, 4, 1), hidden="relu", output="sigmoid")
MULTICLASS = jn.Network((3, 4, 3), hidden="relu", output="softmax")
REGRESSION = jn.Network((3, 2), output="linear")


def _params(net):
    return jn.init(jax.random.key(0), net, scheme="xavier")


X = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(4, 3)


@pytest.mark.parametrize(
    "bad_X, match",
    [
        (np.ones((4, 5)), r"^X has 5 features per example \(shape \(4, 5\)\).*sizes\[0\] = 3"),
        (np.ones(3), r"^X must be 2-D \(m examples, 3 features\), got shape \(3,\).*X\[None, :\]"),
        (np.ones((4, 3, 1)), r"^X must be 2-D .*got shape \(4, 3, 1\)"),
        (np.ones((4, 3, 2, 2)), r"^X must be 2-D .*flatten_images"),
        (np.ones((0, 3)), r"^X has no examples"),
        (np.where(X > 0.9, np.inf, X), r"^X must be finite, got 1 NaN or infinite"),
        (np.full((4, 3), np.nan), r"^X must be finite, got 12 NaN"),
    ],
)
def test_bad_X(bad_X, match):
    params = _params(BINARY)
    for call in (
        lambda: jn.forward(BINARY, params, bad_X),
        lambda: jn.forward_with_caches(BINARY, params, bad_X),
        lambda: jn.cost(BINARY, params, bad_X, np.zeros(len(bad_X))),
        lambda: jn.grads(BINARY, params, bad_X, np.zeros(len(bad_X))),
        lambda: jn.predict(BINARY, params, bad_X),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_non_numeric_X():
    with pytest.raises(TypeError, match=r"^X must be numeric"):
        jn.forward(BINARY, _params(BINARY), np.full((2, 3), "a"))


@pytest.mark.parametrize(
    "net, bad_Y, match",
    [
        (BINARY, np.zeros(5), r"^Y must have one row per example of X: shape \(4,\) or \(4, 1\)"),
        (BINARY, np.zeros((4, 2)), r"^Y has shape \(4, 2\), expected \(4, 1\)"),
        (BINARY, np.zeros((4, 1, 1)), r"^Y must have one row per example"),
        (BINARY, np.array([0, 1, 2, 0]), r"^Y must hold labels in \{0, 1\} .*\[2\]"),
        (BINARY, np.array([0, 1, 0.5, 0]), r"^Y must hold labels in \{0, 1\}"),
        (BINARY, np.array([0, 1, -1, 0]), r"^Y must hold labels in \{0, 1\}"),
        (MULTICLASS, np.array([0, 1, 3, 2]), r"^Y must hold labels in 0\.\.2 .*\[3\]"),
        (MULTICLASS, np.array([0, -1, 1, 2]), r"^Y must hold labels in 0\.\.2"),
        (
            MULTICLASS,
            np.zeros((4, 2)),
            r"^Y has shape \(4, 2\), expected integer labels \(4,\) or one-hot \(4, 3\)",
        ),
        (MULTICLASS, np.ones((4, 3)), r"^Y must be one-hot rows"),
        (REGRESSION, np.zeros((4, 3)), r"^Y has shape \(4, 3\), expected \(4, 2\)"),
        (REGRESSION, np.zeros(4), r"^Y has shape \(4,\), expected \(4, 2\)"),
        (REGRESSION, np.full((4, 2), np.nan), r"^Y must be finite"),
    ],
)
def test_bad_Y(net, bad_Y, match):
    params = _params(net)
    for call in (
        lambda: jn.cost(net, params, X, bad_Y),
        lambda: jn.grads(net, params, X, bad_Y),
        lambda: jn.evaluate(net, params, X, bad_Y),
        lambda: jn.backward(net, params, jn.forward_with_caches(net, params, X)[1], bad_Y),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_labels_in_every_accepted_form_agree():
    params = _params(BINARY)
    labels = np.array([0, 1, 1, 0])
    costs = [
        float(jn.cost(BINARY, params, X, Y))
        for Y in (labels, labels[:, None], labels.astype(bool), labels.tolist(), labels * 1.0)
    ]
    assert costs == [costs[0]] * 5
    params = _params(MULTICLASS)
    one_hot = np.eye(3)[[0, 2, 1, 2]]
    assert float(jn.cost(MULTICLASS, params, X, [0, 2, 1, 2])) == pytest.approx(
        float(jn.cost(MULTICLASS, params, X, one_hot)), rel=1e-6
    )


def _swap_layer_2_W(params):
    return (params[0], {"W": params[1]["W"].T, "b": params[1]["b"]})


@pytest.mark.parametrize(
    "make_bad, error, match",
    [
        (lambda p: p[:1], ValueError, r"^params must be a tuple of 2 layer dicts .*length 1"),
        (lambda p: p[0], TypeError, r"^params must be a tuple of 2 layer dicts .*got dict"),
        (
            _swap_layer_2_W,
            ValueError,
            r"^params\[1\]\['W'\] \(layer 2\) has shape \(4, 1\), expected \(1, 4\)",
        ),
        (
            lambda p: (p[0], {"W": p[1]["W"], "b": jnp.zeros(2)}),
            ValueError,
            r"^params\[1\]\['b'\] \(layer 2\) has shape \(2,\), expected \(1,\)",
        ),
        (lambda p: ({"W": p[0]["W"]}, p[1]), ValueError, r"^params\[0\] must be a dict with keys"),
        (
            lambda p: ({"W": p[0]["W"].at[0, 0].set(jnp.nan), "b": p[0]["b"]}, p[1]),
            ValueError,
            r"^params\[0\]\['W'\] must be finite, got 1 NaN",
        ),
        (
            lambda p: (p[0], {"W": p[1]["W"], "b": jnp.array([jnp.inf])}),
            ValueError,
            r"^params\[1\]\['b'\] must be finite",
        ),
        (
            lambda p: (p[0], {"W": jnp.ones((1, 4), jnp.int32), "b": p[1]["b"]}),
            TypeError,
            r"^params\[1\]\['W'\] must be floating point",
        ),
    ],
)
def test_bad_params(make_bad, error, match):
    params = make_bad(_params(BINARY))
    Y = np.zeros(4)
    for call in (
        lambda: jn.forward(BINARY, params, X),
        lambda: jn.cost(BINARY, params, X, Y),
        lambda: jn.grads(BINARY, params, X, Y),
        lambda: jn.evaluate(BINARY, params, X, Y),
        lambda: jn.gradcheck(BINARY, params, X, Y),
    ):
        with pytest.raises(error, match=match):
            call()


def test_params_of_mixed_dtypes(x64):
    params = _params(BINARY)
    params = (params[0], jax.tree.map(lambda a: a.astype(jnp.float64), params[1]))
    with pytest.raises(TypeError, match=r"^params must share one dtype"):
        jn.forward(BINARY, params, X)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown activation 'swish'.*sigmoid, tanh, relu, linear, softmax, leaky_relu",
    ):
        jn.Network((3, 2, 1), hidden="swish")
    with pytest.raises(
        ValueError,
        match=r"unknown loss 'hinge'.*binary_cross_entropy, categorical_cross_entropy, mean_squared_error",
    ):
        jn.Network((3, 1), loss="hinge")
    with pytest.raises(
        ValueError, match=r"unknown init scheme 'uniform'.*zeros, normal, he, xavier, lecun"
    ):
        jn.init(jax.random.key(0), BINARY, scheme="uniform")


def test_other_bad_arguments():
    params = _params(BINARY)
    with pytest.raises(
        ValueError, match=r"^backprop must be one of \('manual', 'autodiff'\), got 'numeric'"
    ):
        jn.grads(BINARY, params, X, np.zeros(4), backprop="numeric")
    with pytest.raises(TypeError, match=r"^net must be a jaxnet.Network, got tuple"):
        jn.forward((3, 4, 1), params, X)
    with pytest.raises(TypeError, match=r"^dtype must be a floating dtype"):
        jn.init(jax.random.key(0), BINARY, dtype=jnp.int32)


def test_shape_validation_also_runs_under_jit():
    params = _params(BINARY)
    forward = jax.jit(jn.forward, static_argnums=0)
    cost = jax.jit(jn.cost, static_argnums=0)
    grads = jax.jit(jn.grads, static_argnums=0)
    # valid input works and agrees with the eager call
    np.testing.assert_allclose(forward(BINARY, params, X), jn.forward(BINARY, params, X), rtol=1e-6)
    np.testing.assert_allclose(
        cost(BINARY, params, X, np.zeros(4)), jn.cost(BINARY, params, X, np.zeros(4)), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"^X has 5 features"):
        forward(BINARY, params, np.ones((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"^X must be 2-D"):
        forward(BINARY, params, np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"^Y must have one row per example"):
        cost(BINARY, params, X, np.zeros(5, np.float32))
    with pytest.raises(ValueError, match=r"^Y has shape \(4, 2\)"):
        grads(BINARY, params, X, np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match=r"^params\[1\]\['W'\] \(layer 2\)"):
        forward(BINARY, _swap_layer_2_W(params), X)
