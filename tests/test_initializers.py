"""Initialisers: each scheme against its formula (sample statistics, bounds, truncation), Keras's
own initialisers bit for bit (JAX backend), PyTorch's bounds and fans, and jn.init's shared draws."""

import math
import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxnet as jn
from jaxnet import initializers, network
from jaxnet.layers import BatchNorm, Conv2D, Dense, Flatten

T = initializers.TRUNCATED_STD

# scheme -> (kind, the formula's bound a (uniform) or standard deviation s (normals), from fans)
FORMULAS = {
    "he": ("normal", lambda i, o: math.sqrt(2 / i)),
    "xavier": ("normal", lambda i, o: math.sqrt(2 / (i + o))),
    "lecun": ("normal", lambda i, o: math.sqrt(1 / i)),
    "glorot_uniform": ("uniform", lambda i, o: math.sqrt(6 / (i + o))),
    "glorot_normal": ("truncated", lambda i, o: math.sqrt(2 / (i + o)) / T),
    "he_uniform": ("uniform", lambda i, o: math.sqrt(6 / i)),
    "he_normal": ("truncated", lambda i, o: math.sqrt(2 / i) / T),
    "lecun_uniform": ("uniform", lambda i, o: math.sqrt(3 / i)),
    "lecun_normal": ("truncated", lambda i, o: math.sqrt(1 / i) / T),
    "pytorch": ("uniform", lambda i, o: 1 / math.sqrt(i)),
}
DENSE, CONV = (500, 400), (5, 5, 16, 24)  # 200,000 and 9,600 values


def assert_follows_formula(W, scheme, shape):
    """Mean 0, the formula's spread, and its support: ``[-a, a]`` for a uniform (reaching the
    edges), ``[-2 s, 2 s]`` for a truncated normal (whose std is ``s * T``)."""
    kind, spread_of = FORMULAS[scheme]
    spread = spread_of(*initializers.fans(shape))
    W = np.asarray(W, np.float64).ravel()
    n = W.size
    std = {"normal": spread, "uniform": spread / math.sqrt(3), "truncated": spread * T}[kind]
    assert abs(W.mean()) < 5 * std / math.sqrt(n), (scheme, W.mean(), std)
    assert W.std() == pytest.approx(std, rel=6 / math.sqrt(n) + 0.01), scheme
    if kind == "uniform":
        assert np.abs(W).max() <= spread * (1 + 1e-6)
        assert np.abs(W).max() > spread * (1 - 20 / n)  # the draws reach the bound
        # flat: each tenth of [-a, a] holds a tenth of the draws
        counts = np.histogram(W, bins=10, range=(-spread, spread))[0]
        np.testing.assert_allclose(counts / n, 0.1, atol=5 * math.sqrt(0.09 / n))
    elif kind == "truncated":
        assert np.abs(W).max() < 2 * spread
        assert np.abs(W).max() > 1.95 * spread  # truncated at 2 s, not earlier
        # a normal's shape inside: P(|x| < s) / P(|x| < 2 s) = erf(1/sqrt2) / erf(sqrt2)
        inside = np.mean(np.abs(W) < spread)
        expected = math.erf(1 / math.sqrt(2)) / math.erf(math.sqrt(2))
        assert inside == pytest.approx(expected, abs=5 * math.sqrt(0.25 / n))
    else:  # an untruncated normal has tails past 4 sigma in 200,000 draws
        assert np.abs(W).max() > 3.5 * spread


@pytest.mark.parametrize("shape", [DENSE, CONV], ids=["dense", "conv"])
@pytest.mark.parametrize("scheme", FORMULAS)
def test_each_scheme_follows_its_formula(scheme, shape):
    W = initializers.get(scheme)(jax.random.key(0), shape)
    chex.assert_shape(W, shape)
    assert_follows_formula(W, scheme, shape)


@pytest.mark.parametrize("scheme", FORMULAS)
def test_jn_init_draws_each_layer_by_its_formula(scheme):
    """Through the shared draws of jn.init: every layer, dense and conv, follows the formula;
    biases are zero except PyTorch's, which are U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    net = jn.Sequential(
        [Conv2D(24, 5, activation="relu"), BatchNorm(), Flatten(), Dense(400, "relu"),
         Dense(10, "softmax")],
        input_shape=(12, 12, 16),
    )  # fmt: skip
    params = jn.init(jax.random.key(1), net, scheme)
    assert_follows_formula(params[0]["W"], scheme, (5, 5, 16, 24))
    assert_follows_formula(params[3]["W"], scheme, (400, 8 * 8 * 24))
    chex.assert_trees_all_equal(params[1]["gamma"], jnp.ones(24))
    for p in (params[0], params[3], params[4]):
        fan_in = initializers.fans(p["W"].shape)[0]
        if scheme == "pytorch":
            b = np.asarray(p["b"])
            assert (np.abs(b) <= 1 / math.sqrt(fan_in)).all() and np.unique(b).size == b.size
        else:
            chex.assert_trees_all_equal(p["b"], jnp.zeros_like(p["b"]))
    if scheme == "pytorch":  # 400 biases of the hidden Dense: U(-a, a) with a = 1/sqrt(fan_in)
        b, a = np.asarray(params[3]["b"]), 1 / math.sqrt(8 * 8 * 24)
        assert b.std() == pytest.approx(a / math.sqrt(3), rel=0.15)


@pytest.mark.parametrize("scheme", ["glorot_uniform", "he_normal", "pytorch", "lecun"])
def test_jn_init_is_the_scheme_on_the_shared_draws_bit_for_bit(scheme, x64):
    """Normals come from ``key``, uniforms from ``fold_in(key, 1)``; a one-layer network's
    W (and PyTorch's b after it) is the scheme applied to that key directly."""
    key = jax.random.key(5)
    for dtype in (jnp.float32, jnp.float64):
        net = jn.Network((6, 4), output_activation="linear")
        params = jn.init(key, net, scheme, dtype=dtype)
        kind = FORMULAS[scheme][0]
        k = key if kind == "normal" else jax.random.fold_in(key, 1)
        if scheme == "pytorch":  # W then b: consecutive uniforms of one vector
            u = jax.random.uniform(k, (4 * 6 + 4,), dtype)
            a = jnp.asarray(1 / math.sqrt(6), dtype)
            expected = jax.jit(lambda u, a=a: jnp.maximum(-a, u * (a - -a) + -a))(u)
            chex.assert_trees_all_equal(params[0]["W"], expected[:24].reshape(4, 6))
            chex.assert_trees_all_equal(params[0]["b"], expected[24:])
        else:
            expected = jax.jit(lambda k, d=dtype: initializers.get(scheme)(k, (4, 6), d))(k)
            chex.assert_trees_all_equal(params[0]["W"], expected)


def test_uniform_and_truncated_normal_are_jax_random_s_draws():
    """From a key, the very calls Keras's JAX backend makes; from shared draws, the same maps
    (bit for bit under jit)."""
    key = jax.random.key(2)
    shape = (30, 20)
    chex.assert_trees_all_equal(
        initializers.uniform(key, shape, 0.3),
        jax.random.uniform(key, shape, minval=-0.3, maxval=0.3),
    )
    chex.assert_trees_all_equal(
        initializers.truncated_normal(key, shape, 0.7),
        jax.random.truncated_normal(key, -2.0, 2.0, shape) * jnp.float32(0.7),
    )

    @jax.jit
    def from_draws(u):
        draws = initializers.Draws(None, u)
        return initializers.uniform(draws, shape, 0.3), initializers.truncated_normal(
            draws, shape, 0.7
        )

    u = jax.random.uniform(key, (2 * 600,))  # the bits of both draws below
    a, t = from_draws(u)
    expected_a = jax.jit(lambda: jax.random.uniform(key, (1200,), minval=-0.3, maxval=0.3))()
    chex.assert_trees_all_equal(a, expected_a[:600].reshape(shape))
    expected_t = jax.jit(lambda: jax.random.truncated_normal(key, -2.0, 2.0, (1200,)) * 0.7)()
    chex.assert_trees_all_equal(t, expected_t[600:].reshape(shape))


def test_the_course_schemes_keep_their_numbers():
    """``he``, ``xavier``, ``lecun``, ``normal``: slices of one normal draw from ``key``, as before."""
    key = jax.random.key(7)
    net = jn.Network((3, 4, 2))
    z = jax.random.normal(key, (12 + 8,))
    for scheme, std in (("he", lambda i, o: np.sqrt(2 / i)), ("lecun", lambda i, o: np.sqrt(1 / i)),
                        ("normal", lambda i, o: 0.01)):  # fmt: skip
        params = jn.init(key, net, scheme)
        chex.assert_trees_all_close(params[0]["W"], z[:12].reshape(4, 3) * std(3, 4), rtol=1e-6)
        chex.assert_trees_all_close(params[1]["W"], z[12:].reshape(2, 4) * std(4, 2), rtol=1e-6)


def _random_bits_calls(net, scheme) -> int:
    jaxpr = jax.make_jaxpr(lambda k: network.init.__wrapped__(k, net, scheme))(jax.random.key(0))
    return str(jaxpr).count("random_bits")


def test_one_draw_per_kind_whatever_the_depth():
    """jn.init compiles one random-number kernel per kind of draw, not one per layer."""
    deep = jn.Network((8,) * 9 + (1,))
    cnn = jn.Sequential(
        [Conv2D(4, 3), Conv2D(4, 3), Flatten(), Dense(8), Dense(1, "sigmoid")],
        input_shape=(9, 9, 2),
    )
    for net in (deep, cnn):
        for scheme in ("he", "glorot_uniform", "he_normal", "pytorch"):
            assert _random_bits_calls(net, scheme) == 1, scheme
        assert _random_bits_calls(net, "zeros") == 0


# --- the frameworks themselves -----------------------------------------------------------

KERAS = {
    "glorot_uniform": "GlorotUniform",
    "glorot_normal": "GlorotNormal",
    "he_uniform": "HeUniform",
    "he_normal": "HeNormal",
    "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal",
}


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras  # in the test extra

    assert keras.backend.backend() == "jax", "the exact draws need Keras's JAX backend"
    return keras


@pytest.mark.parametrize("seed", [3, 2**31 + 5])
@pytest.mark.parametrize("scheme", KERAS)
def test_keras_s_initialisers_bit_for_bit(keras, scheme, seed):
    """Keras's ``seed=s`` is the raw key ``[s, 0]``; a dense W is Keras's kernel transposed."""
    key = jnp.array([seed & 0xFFFFFFFF, 0], jnp.uint32)
    keras_init = getattr(keras.initializers, KERAS[scheme])(seed=seed)
    kernel = np.asarray(keras_init((7, 5)))  # Keras's Dense kernel: (n[l-1], n[l])
    np.testing.assert_array_equal(np.asarray(initializers.get(scheme)(key, (5, 7))), kernel.T)
    conv = np.asarray(keras_init((3, 3, 2, 4)))  # conv kernels share the layout
    np.testing.assert_array_equal(np.asarray(initializers.get(scheme)(key, (3, 3, 2, 4))), conv)


def test_keras_s_dense_default_is_glorot_uniform(keras):
    layer = keras.layers.Dense(3)
    layer.build((None, 4))
    assert type(layer.kernel_initializer).__name__ == "GlorotUniform"
    assert type(keras.layers.Conv2D(3, 3).kernel_initializer).__name__ == "GlorotUniform"


def test_pytorch_s_bounds_and_fans():
    torch = pytest.importorskip("torch")  # the bench extra
    from torch.nn import init

    torch.manual_seed(0)
    for module, shape in ((torch.nn.Linear(300, 200), (200, 300)),
                          (torch.nn.Conv2d(16, 24, 5), (5, 5, 16, 24))):  # fmt: skip
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        assert fan_in == initializers.fans(shape)[0]
        gain = init.calculate_gain("leaky_relu", math.sqrt(5))
        bound = math.sqrt(3) * gain / math.sqrt(fan_in)  # kaiming_uniform_(a=sqrt(5))
        assert initializers.bias_limit("pytorch", shape) == pytest.approx(bound, rel=1e-12)
        assert initializers.bias_limit("pytorch", shape) == pytest.approx(1 / math.sqrt(fan_in))
        weight = module.weight.detach().numpy()
        ours = np.asarray(initializers.get("pytorch")(jax.random.key(0), shape))
        for W in (weight, ours):
            assert np.abs(W).max() <= bound * (1 + 1e-6)
            assert W.std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
        bias = module.bias.detach().numpy()
        assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0.5 * bound


def test_unknown_scheme_lists_every_name():
    with pytest.raises(ValueError, match="glorot_uniform, glorot_normal.*pytorch"):
        initializers.get("kaiming")
    with pytest.raises(ValueError, match="unknown init scheme 'kaiming'"):
        jn.init(jax.random.key(0), jn.Network((2, 1)), scheme="kaiming")
    assert set(initializers.NAMES) == {"zeros", "normal", *FORMULAS}
    assert initializers.bias_limit("he", (3, 2)) is None


def test_draws_refuse_to_give_more_than_they_hold():
    draws = initializers.Draws(jnp.zeros(4), jnp.zeros(2))
    initializers.standard_normal(draws, (2, 2))
    with pytest.raises(ValueError, match="drew 3 uniform values from a slice of 2"):
        initializers.standard_uniform(draws, (3,))
    counting = initializers.Draws()
    initializers.standard_uniform(counting, (3, 2))
    assert counting.used == {"normal": 0, "uniform": 6}


@pytest.mark.parametrize(
    "drawn, claimed",
    [
        ("he_uniform", "glorot_uniform"),  # the wrong bound
        ("xavier", "glorot_normal"),  # untruncated: tails past 2 s
        ("glorot_uniform", "xavier"),  # a uniform is not a normal of the same spread
        ("he_normal", "he"),  # truncated: no tails
    ],
)
def test_the_formula_check_rejects_the_wrong_distribution(drawn, claimed):
    W = initializers.get(drawn)(jax.random.key(0), DENSE)
    with pytest.raises(AssertionError):
        assert_follows_formula(W, claimed, DENSE)
