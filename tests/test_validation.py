"""Bad input at the public boundary: each error names the argument, what it got and what it expected."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import validation

BINARY = jn.Network((3, 4, 1), hidden_activation="relu", output_activation="sigmoid")
MULTICLASS = jn.Network((3, 4, 3), hidden_activation="relu", output_activation="softmax")
REGRESSION = jn.Network((3, 2), output_activation="linear")


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
        jn.Network((3, 2, 1), hidden_activation="swish")
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
        ValueError,
        match=r"^backprop must be one of \('manual', 'autodiff'\), got backprop='numeric'",
    ):
        jn.grads(BINARY, params, X, np.zeros(4), backprop="numeric")
    with pytest.raises(
        TypeError, match=r"^net must be a jaxnet.Network or a jaxnet.Model .*got tuple"
    ):
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


# --- wrong types, complex numbers, float64 without x64, keys -------------------------------


@pytest.mark.parametrize(
    "bad, match",
    [
        ("params", r"^params must be a tuple of 2 layer dicts .*got str"),
        (3, r"^params must be a tuple of 2 layer dicts .*got int"),
        (None, r"^params must be a tuple of 2 layer dicts .*got NoneType"),
        ([[1.0, 2.0], [3.0]], r"^params\[0\] must be a dict with keys 'W' and 'b', got list"),
        (
            ({"W": "w", "b": "b"}, {"W": "w", "b": "b"}),
            r"^params\[0\]\['W'\] must be an array \(NumPy or JAX\), got str",
        ),
        (
            ({"W": [[1.0, 2.0, 3.0]] * 4, "b": [0.0] * 4}, {"W": [[1.0] * 4], "b": [0.0]}),
            r"^params\[0\]\['W'\] must be an array \(NumPy or JAX\), got list",
        ),
        (
            ({"W": np.ones((4, 3), int), "b": np.zeros(4)}, {"W": np.ones((1, 4)), "b": [0.0]}),
            r"^params\[0\]\['W'\] must be floating point, got int",
        ),
        ((np.zeros((4, 3)), np.zeros((1, 4))), r"^params\[0\] must be a dict .*got ndarray"),
    ],
)
def test_params_of_the_wrong_types_are_type_errors(bad, match):
    caches = jn.forward_with_caches(BINARY, _params(BINARY), X)[1]
    for call in (
        lambda: jn.forward(BINARY, bad, X),
        lambda: jn.backward(BINARY, bad, caches, np.zeros(4)),
        lambda: jn.grads(BINARY, bad, X, np.zeros(4)),
    ):
        with pytest.raises(TypeError, match=match):
            call()


@pytest.mark.parametrize(
    "bad, error, match",
    [
        ("caches", TypeError, r"^caches must be the caches of jn.forward_with_caches .*got str"),
        (None, TypeError, r"^caches must be the caches"),
        ((1, 2, 3), ValueError, r"^caches must hold one cache per layer \(2\), got 3"),
        ((1, 2), TypeError, r"^caches\[-1\] must be the output layer's cache"),
        ((1, (2, "Z")), TypeError, r"^caches\[-1\] must be the output layer's cache"),
        ((1, (2, np.zeros((4, 3)))), TypeError, r"^caches\[-1\] must be the output layer's cache"),
    ],
)
def test_bad_caches(bad, error, match):
    with pytest.raises(error, match=match):
        jn.backward(BINARY, _params(BINARY), bad, np.zeros(4))


def test_complex_numbers_are_refused():
    params = _params(BINARY)
    with pytest.raises(TypeError, match=r"^X must be real, got complex dtype complex"):
        jn.forward(BINARY, params, X + 1j)
    with pytest.raises(TypeError, match=r"^Y must be real, got complex dtype complex"):
        jn.cost(BINARY, params, X, np.zeros(4) + 0j)
    complex_params = (params[0], {"W": np.asarray(params[1]["W"]) + 1j, "b": params[1]["b"]})
    with pytest.raises(TypeError, match=r"^params\[1\]\['W'\] must be floating point, got complex"):
        jn.forward(BINARY, complex_params, X)


def test_string_labels_are_refused():
    with pytest.raises(TypeError, match=r"^Y must be numeric, got dtype <U"):
        jn.cost(BINARY, _params(BINARY), X, np.array(["a", "b", "a", "b"]))


def test_float64_params_need_x64_like_init():
    params = jax.tree.map(lambda a: np.asarray(a, np.float64), _params(BINARY))
    for call in (
        lambda: jn.forward(BINARY, params, X),
        lambda: jn.grads(BINARY, params, X, np.zeros(4)),
    ):
        with pytest.raises(ValueError, match=r"^params of dtype float64 needs 64-bit JAX"):
            call()
    with pytest.raises(ValueError, match=r"^dtype float64 needs 64-bit JAX"):
        jn.init(jax.random.key(0), BINARY, dtype=jnp.float64)
    with jax.enable_x64(True):  # then they are fine
        assert jn.forward(BINARY, params, X).dtype == jnp.float64


@pytest.mark.parametrize(
    "key", [42, "key", None, np.uint32(3), jax.random.split(jax.random.key(0), 2), np.zeros(3)]
)
def test_init_names_a_bad_key(key):
    with pytest.raises(TypeError, match=r"^key must be a single jax.random key"):
        jn.init(key, BINARY)


@pytest.mark.parametrize(
    "scale, error",
    [
        ("abc", TypeError),
        (True, TypeError),
        (None, TypeError),
        (0.0, ValueError),
        (-1, ValueError),
        (np.inf, ValueError),
    ],
)
def test_init_names_a_bad_scale(scale, error):
    with pytest.raises(error, match=r"^scale must be a"):
        jn.init(jax.random.key(0), BINARY, scheme="normal", scale=scale)


def test_init_accepts_numpy_scalars_and_legacy_keys():
    params = jn.init(jax.random.PRNGKey(0), BINARY, scheme="normal", scale=np.float32(0.5))
    assert params[0]["W"].shape == (4, 3)


@pytest.mark.parametrize("train", ["yes", 1, None])
def test_train_must_be_a_bool(train):
    with pytest.raises(TypeError, match=r"^train must be True or False"):
        jn.forward(BINARY, _params(BINARY), X, train=train)


# --- the scalar checkers others use ---------------------------------------------------------


def test_check_int():
    assert validation.check_int(3, "m") == 3 and validation.check_int(np.int64(3), "m", 1) == 3
    assert type(validation.check_int(np.int32(2), "m")) is int
    for bad in (True, np.bool_(True), 2.0, "2", None, np.float64(2)):
        with pytest.raises(TypeError, match=r"^m must be an int \(a Python or NumPy integer"):
            validation.check_int(bad, "m")
    with pytest.raises(ValueError, match=r"^m must be an int >= 2, got m=1$"):
        validation.check_int(1, "m", 2)
    with pytest.raises(ValueError, match=r"^m must be an int in \[0, 2\], got m=3$"):
        validation.check_int(np.int64(3), "m", 0, 2)


def test_check_real():
    assert validation.check_real(np.float32(0.5), "lr", 0.0, strict=True) == 0.5
    assert validation.check_real(0, "noise", 0.0) == 0.0 and validation.check_real(-3, "x") == -3.0
    for bad in (True, "0.1", None, [0.1], 1j):
        with pytest.raises(TypeError, match=r"^lr must be a real number .* got lr="):
            validation.check_real(bad, "lr", 0.0, strict=True)
    for bad in (0.0, -1.0, np.nan, np.inf):
        with pytest.raises(ValueError, match=r"^lr must be a finite number > 0, got lr="):
            validation.check_real(bad, "lr", 0.0, strict=True)
    with pytest.raises(ValueError, match=r"^x must be a finite number, got x=nan"):
        validation.check_real(float("nan"), "x")
    with pytest.raises(ValueError, match=r"^p must be a number in \(0, 1\), got p=1.0"):
        validation.check_real(1, "p", 0.0, 1.0, strict=True, strict_maximum=True)


def test_check_choice_and_check_bool():
    assert validation.check_choice("sgd", "optimizer", ("sgd", "adam")) == "sgd"
    with pytest.raises(ValueError, match=r"^optimizer must be one of \('sgd', 'adam'\), got"):
        validation.check_choice("SGD", "optimizer", ("sgd", "adam"))
    for bad in (None, ["sgd"], np.array(["sgd"]), True):  # not a str: the wrong type
        with pytest.raises(TypeError, match=r"^optimizer must be one of \('sgd', 'adam'\), got"):
            validation.check_choice(bad, "optimizer", ("sgd", "adam"))
    assert type(validation.check_choice(np.int64(1), "verbose", (0, 1, 2))) is int
    with pytest.raises(TypeError, match="verbose"):
        validation.check_choice(True, "verbose", (0, 1, 2))
    assert validation.check_bool(np.bool_(True), "shuffle") is True
    for bad in (1, "True", None):
        with pytest.raises(TypeError, match=r"^shuffle must be True or False, got"):
            validation.check_bool(bad, "shuffle")


# --- the layers of the regularisation and convolution issues --------------------------------

from jaxnet.layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D  # noqa: E402

CNN = jn.Sequential(
    [Conv2D(4, 3, activation="relu"), BatchNorm(), MaxPool2D(2), Flatten(), Dropout(0.5),
     Dense(3, "softmax")],
    input_shape=(6, 6, 1),
)  # fmt: skip
IMAGES = np.linspace(-1.0, 1.0, 4 * 36, dtype=np.float32).reshape(4, 6, 6, 1)
LABELS = np.array([0, 1, 2, 1])


BN_DENSE = jn.Network((3, 4, 1), batch_norm=True)


def _bn_params():
    return jn.init(jax.random.key(0), BN_DENSE)


def _cnn_params():
    return jn.init(jax.random.key(0), CNN)


@pytest.mark.parametrize(
    "make, error, match",
    [
        # dropout's rate in [0, 1)
        (lambda: Dropout(1.0), ValueError, r"rate must be a number in \[0, 1\).*got rate=1.0"),
        (lambda: Dropout(-0.1), ValueError, r"got rate=-0.1"),
        (lambda: Dropout(float("nan")), ValueError, r"got rate=nan"),
        (lambda: Dropout(True), TypeError, r"got rate=True"),
        # strides, sizes and padding
        (
            lambda: Conv2D(2, 3, strides=0),
            ValueError,
            r"strides must be an int in \[1, 1024\], got strides=0",
        ),
        (
            lambda: Conv2D(2, 0),
            ValueError,
            r"kernel_size must be an int in \[1, 1024\], got kernel_size=0",
        ),
        (
            lambda: Conv2D(0, 3),
            ValueError,
            r"filters must be an int in \[1, 65536\], got filters=0",
        ),
        (
            lambda: Conv2D(2, 3, padding="full"),
            ValueError,
            r"padding must be one of \('valid', 'same'\)",
        ),
        (lambda: Conv2D(2, 3, padding=-1), ValueError, r"padding must be .* got padding=-1"),
        (
            lambda: MaxPool2D(2, strides=0),
            ValueError,
            r"strides must be an int in \[1, 1024\], got strides=0",
        ),
        (
            lambda: AvgPool2D(0),
            ValueError,
            r"pool_size must be an int in \[1, 1024\], got pool_size=0",
        ),
        (lambda: BatchNorm(momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\]"),
        (lambda: BatchNorm(epsilon=0), ValueError, r"epsilon must be a finite number > 0, got"),
        # windows larger than the (padded) input, named by layer index at construction
        (
            lambda: jn.Sequential([Conv2D(2, 5), Flatten(), Dense(1)], (4, 4, 1)),
            ValueError,
            r"layers\[0\] \(Conv2D.*kernel_size=5 is larger than the padded input 4x4",
        ),
        (
            lambda: jn.Sequential([Conv2D(2, 7, padding=1), Flatten(), Dense(1)], (4, 6, 1)),
            ValueError,
            r"kernel_size=7 is larger than the padded input 6x8",
        ),
        (
            lambda: jn.Sequential([Conv2D(2, 3), MaxPool2D(3), Flatten(), Dense(1)], (4, 4, 1)),
            ValueError,
            r"layers\[1\] \(MaxPool2D.*pool_size=3 is larger than the input 2x2",
        ),
        # a non-image input to Conv2D; a Dense after images without a Flatten
        (
            lambda: jn.Sequential([Conv2D(2, 3), Flatten(), Dense(1)], (16,)),
            ValueError,
            r"layers\[0\] .*Conv2D expects images \(n_H, n_W, n_C\) per example",
        ),
        (
            lambda: jn.Sequential([Conv2D(2, 3), Dense(2, "softmax")], (5, 5, 1)),
            ValueError,
            r"layers\[1\] \(Dense.*on input shape \(3, 3, 2\).*put a Flatten\(\) before it",
        ),
        (
            lambda: jn.Sequential([Flatten(), MaxPool2D(2), Dense(1)], (4, 4, 1)),
            ValueError,
            r"layers\[1\] .*MaxPool2D expects images",
        ),
    ],  # fmt: skip
)
def test_bad_layers_and_architectures(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "call, error, match",
    [
        # inputs whose shape is not input_shape; nothing broadcasts
        (
            lambda p: jn.forward(CNN, p, IMAGES[..., 0]),
            ValueError,
            r"X must be 4-D \(m examples of shape \(6, 6, 1\)\), got shape \(4, 6, 6\)",
        ),
        (lambda p: jn.forward(CNN, p, IMAGES.reshape(4, 36)), ValueError, r"X must be 4-D"),
        (
            lambda p: jn.forward(CNN, p, np.concatenate([IMAGES, IMAGES], axis=-1)),
            ValueError,
            r"X has examples of shape \(6, 6, 2\) .* expects input_shape \(6, 6, 1\)",
        ),
        (
            lambda p: jn.forward(CNN, p, IMAGES[:, :5]),
            ValueError,
            r"X has examples of shape \(5, 6, 1\)",
        ),
        (
            lambda p: jn.cost(CNN, p, IMAGES, LABELS[:3]),
            ValueError,
            r"Y must have one row per example of X",
        ),
        (
            lambda p: jn.cost(CNN, p, IMAGES, np.array([0, 1, 3, 1])),
            ValueError,
            r"Y must hold labels in 0..2",
        ),
        # params whose channels do not match the network's
        (
            lambda p: jn.forward(CNN, (dict(p[0], W=p[0]["W"][:, :, :1, :2]), *p[1:]), IMAGES),
            ValueError,
            r"params\[0\]\['W'\] \(layer 1\) has shape \(3, 3, 1, 2\), expected \(3, 3, 1, 4\)",
        ),
        (
            lambda p: jn.forward(CNN, (p[0], {**p[1], "gamma": jnp.ones(3)}, *p[2:]), IMAGES),
            ValueError,
            r"params\[1\]\['gamma'\] \(layer 2\) has shape \(3,\), expected \(4,\)",
        ),
        (
            lambda p: jn.forward(
                CNN, (p[0], {k: v for k, v in p[1].items() if k != "moving_var"}, *p[2:]), IMAGES
            ),
            ValueError,
            r"params\[1\] must be a dict with keys .*'moving_var'",
        ),
        # training: a key for dropout, two examples for batch norm
        (
            lambda p: jn.forward(CNN, p, IMAGES, train=True),
            ValueError,
            r"key is needed: train=True runs the network's dropout",
        ),
        (lambda p: jn.grads(CNN, p, IMAGES, LABELS, train=True), ValueError, r"key is needed"),
        (lambda p: jn.gradcheck(CNN, p, IMAGES, LABELS, train=True), ValueError, r"key is needed"),
        # batch norm on dense features needs two examples (on images, one has n_H n_W values)
        (
            lambda p: jn.forward(BN_DENSE, _bn_params(), X[:1], train=True),
            ValueError,
            r"BatchNorm in training needs more than one value per feature.*m=1",
        ),
        (
            lambda p: jn.grads(BN_DENSE, _bn_params(), X[:1], [1], train=True),
            ValueError,
            r"BatchNorm in training .* batch of size m=1",
        ),
        (
            lambda p: jn.fit(
                BN_DENSE,
                _bn_params(),
                X,
                [0, 1, 1, 0],
                batch_size=1,
                key=jax.random.key(0),
                verbose=0,
            ),
            ValueError,
            r"BatchNorm in training .* batch of size m=1",
        ),
        (lambda p: jn.fit(CNN, p, IMAGES, LABELS, verbose=0), ValueError, r"key"),
    ],  # fmt: skip
)
def test_bad_calls_of_a_cnn(call, error, match):
    with pytest.raises(error, match=match):
        call(_cnn_params())


def test_a_cnn_accepts_what_it_should():
    """The checks above leave the right calls alone (inference of one example, a key given)."""
    params = _cnn_params()
    assert jn.forward(CNN, params, IMAGES[:1]).shape == (1, 3)
    assert jn.forward(CNN, params, IMAGES, key=jax.random.key(1), train=True).shape == (4, 3)
    assert np.isfinite(float(jn.cost(CNN, params, IMAGES, LABELS)))
    # batch norm over one image's n_H n_W values per channel is defined (Keras's too)
    assert jn.forward(CNN, params, IMAGES[:1], key=jax.random.key(1), train=True).shape == (1, 3)
