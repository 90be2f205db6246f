"""Layers: every layer's hand backward equals ``jax.vjp`` of its forward (one generic test over
tests/layer_cases.py); the course's building blocks; the layer protocol and registry; initialisers."""

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized
from helpers import ACTIVATIONS, random_inputs, writing_a_layer
from hypothesis import given, settings
from hypothesis import strategies as st
from layer_cases import CASES, case_id
from layer_checks import assert_layer_gradients, manual_and_vjp, random_layer_params

import jaxnet as jn
from jaxnet.layers import (
    Dense,
    _matmul,
    dense_backward,
    dense_forward,
    linear_backward,
    linear_forward,
)
from jaxnet.validation import check_real

M, N_IN, N_OUT = 5, 4, 3


def _inputs(dtype=jnp.float64):
    """``A_prev (M, N_IN)``, ``W (N_OUT, N_IN)``, ``b (N_OUT,)``, ``dA (M, N_OUT)``."""
    keys = jax.random.split(jax.random.key(0), 4)
    shapes = ((M, N_IN), (N_OUT, N_IN), (N_OUT,), (M, N_OUT))
    return tuple(jax.random.normal(k, s, dtype) for k, s in zip(keys, shapes, strict=True))


# --- the generic test: every layer's backward is the vjp of its forward -------------------


@pytest.mark.parametrize("layer, input_shape", CASES, ids=map(case_id, CASES))
@settings(max_examples=5, deadline=None, derandomize=True)
@given(
    m=st.integers(2, 6),
    seed=st.integers(0, 2**31 - 1),
    train=st.booleans(),
    padded=st.booleans(),
)
def test_backward_equals_vjp_of_forward(layer, input_shape, m, seed, train, padded):
    """``dA_prev = vjp_A(dA)``, ``dparams = vjp_params(dA) / m`` (the gradient of the mean),
    zeros for the non-trainable leaves; in float64, training and inference, with padding."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        params = random_layer_params(layer, input_shape, rng)
        A_prev = jnp.asarray(random_inputs(layer, input_shape, m, rng))
        output_shape = layer.output_shape(input_shape)
        several = isinstance(output_shape[0], tuple)  # a layer of several outputs: return_state
        shapes = output_shape if several else (output_shape,)
        dA = tuple(jnp.asarray(rng.normal(size=(m, *s))) for s in shapes)  # one per output
        dA = dA if several else dA[0]
        weights = None
        if padded:  # padding rows (weight 0), at least one real row
            weights = jnp.asarray(np.r_[1.0, rng.integers(0, 2, size=m - 1)])
        key = jax.random.key(seed)
        A, (dA_prev, dparams), stats, (vjp_params, vjp_A_prev) = manual_and_vjp(
            layer, params, A_prev, dA, key, weights, train=train
        )

        chex.assert_shape(A if several else (A,), tuple((m, *s) for s in shapes))
        chex.assert_type(A, jnp.float64)
        chex.assert_trees_all_close(dA_prev, vjp_A_prev, rtol=1e-10, atol=1e-12)
        assert_layer_gradients(layer, input_shape, params, dparams, stats, vjp_params, m)


def test_every_case_is_a_registered_layer():
    for layer, input_shape in CASES:
        assert jn.layers.from_dict(layer.to_dict()) == layer
        assert isinstance(layer.output_shape(input_shape), tuple)


# --- the base: what every layer inherits ---------------------------------------------------


class _Shift(jn.layers.Layer):
    """A minimal layer for the base's tests: ``A = A_prev + by``."""

    kind = "test_shift"
    by: float = jn.layers.field(default=0.0, check=check_real, omit_default=True)

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        return A_prev + self.by, None

    def backward(self, params, cache, dA):
        return dA, {}


class _Shift2(_Shift):
    kind = "test_shift2"


def test_the_base_derives_identity_repr_and_json_from_the_fields():
    layer = _Shift(np.float32(0.5))
    assert type(layer.by) is float and repr(layer) == "_Shift(by=0.5)"
    assert repr(_Shift()) == "_Shift()" and _Shift().to_dict() == {"kind": "test_shift"}
    assert layer.to_dict() == {"kind": "test_shift", "by": 0.5}
    assert jn.layers.from_dict(layer.to_dict()) == layer
    assert layer == _Shift(0.5) and hash(layer) == hash(_Shift(0.5)) and layer != _Shift(1.0)
    assert layer != _Shift2(0.5)  # the type counts: equal fields, another kind
    assert (layer.param_shapes((3,)), layer.init(None, (3,)), layer.stats(None)) == ({}, {}, {})
    assert layer.non_trainable == () and layer.needs_key is False


def test_the_base_checks_fields_and_stays_frozen():
    with pytest.raises(TypeError, match="by must be a real number"):
        _Shift("1")
    with pytest.raises(ValueError, match="by must be a finite number"):
        _Shift(float("inf"))
    with pytest.raises(ValueError, match="by must be a finite number"):  # replace checks again
        dataclasses.replace(_Shift(), by=float("nan"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        _Shift().by = 1.0


def test_the_base_registers_every_kind_once():
    assert {"test_shift", "test_shift2"} <= set(jn.layers.base.kinds())
    with pytest.raises(ValueError, match="kind 'test_shift' is already registered to _Shift"):

        class Other(_Shift):
            kind = "test_shift"

    with pytest.raises(TypeError, match="kind must be a non-empty str"):

        class Nameless(_Shift):
            kind = ""


def test_a_class_defined_again_replaces_itself():
    """A notebook cell run twice defines the class again under the same module and name."""

    def define():
        class Again(_Shift):
            kind = "test_again"

        return Again

    first, second = define(), define()
    assert first is not second
    assert type(jn.layers.from_dict({"kind": "test_again"})) is second


def test_a_layer_without_forward_cannot_be_made():
    class Incomplete(jn.layers.Layer):
        kind = "test_incomplete"

        def output_shape(self, input_shape):
            return input_shape

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()


class LayerBackwardTest(chex.TestCase):
    """The course's building blocks: backward == vjp(forward), jitted and eager."""

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(*ACTIVATIONS)
    def test_dense_backward_equals_vjp_of_forward(self, activation):
        with jax.enable_x64(True):
            A_prev, W, b, dA = _inputs()

            @self.variant
            def manual(A_prev, W, b, dA):
                _, cache = dense_forward(A_prev, W, b, activation)
                return dense_backward(dA, cache, activation)

            @self.variant
            def autodiff(A_prev, W, b, dA):
                _, pullback = jax.vjp(
                    lambda A_prev, W, b: dense_forward(A_prev, W, b, activation)[0], A_prev, W, b
                )
                return pullback(dA)

            dA_prev, dW, db = manual(A_prev, W, b, dA)
            vjp_A_prev, vjp_W, vjp_b = autodiff(A_prev, W, b, dA)
            chex.assert_shape((dA_prev, dW, db), ((M, N_IN), (N_OUT, N_IN), (N_OUT,)))
            # dense_backward is the gradient of the MEAN over the M examples
            chex.assert_trees_all_close(
                (dA_prev, dW, db), (vjp_A_prev, vjp_W / M, vjp_b / M), rtol=1e-10, atol=1e-13
            )

    @chex.variants(with_jit=True, without_jit=True)
    def test_linear_backward_equals_vjp_of_forward(self):
        with jax.enable_x64(True):
            A_prev, W, b, dZ = _inputs()
            Z, cache = self.variant(linear_forward)(A_prev, W, b)
            chex.assert_trees_all_close(Z, A_prev @ W.T + b[None, :])
            _, pullback = jax.vjp(lambda *args: linear_forward(*args)[0], A_prev, W, b)
            v_A, v_W, v_b = pullback(dZ)
            got = self.variant(linear_backward)(dZ, cache)
            chex.assert_trees_all_close(got, (v_A, v_W / M, v_b / M), rtol=1e-12)


def test_single_example_reads_like_the_course():
    """``z = W a_prev + b`` for one example; the batch is the same function under vmap."""
    A_prev, W, b, _ = _inputs(jnp.float32)
    Z, _ = linear_forward(A_prev, W, b)
    chex.assert_trees_all_close(Z[2], W @ A_prev[2] + b, rtol=1e-5)
    per_example = jax.vmap(lambda a: linear_forward(a, W, b)[0])(A_prev)
    chex.assert_trees_all_close(per_example, Z, rtol=1e-5)


def test_dense_forward_caches_and_shapes():
    A_prev, W, b, _ = _inputs(jnp.float32)
    A, ((cached_A_prev, cached_W, cached_b), Z) = dense_forward(A_prev, W, b, "tanh")
    chex.assert_shape((A, Z), (M, N_OUT))
    chex.assert_trees_all_equal((cached_A_prev, cached_W, cached_b), (A_prev, W, b))
    chex.assert_trees_all_close(A, jnp.tanh(Z))
    params = Dense(7, "relu").init(jax.random.key(0), N_IN)
    chex.assert_shape((params["W"], params["b"]), ((7, N_IN), (7,)))
    chex.assert_trees_all_equal(params["b"], jnp.zeros(7))


# ---------------------------------------------------------------- initialisers

SHAPE = (300, 500)  # (n_out, n_in)


@pytest.mark.parametrize(
    "scheme, std",
    [
        ("he", np.sqrt(2 / SHAPE[1])),
        ("xavier", np.sqrt(2 / (SHAPE[0] + SHAPE[1]))),
        ("glorot", np.sqrt(2 / (SHAPE[0] + SHAPE[1]))),
        ("lecun", np.sqrt(1 / SHAPE[1])),
        ("normal", 0.01),
    ],
)
def test_initializer_statistics(scheme, std):
    W = np.asarray(jn.initializers.get(scheme)(jax.random.key(0), SHAPE))
    assert W.shape == SHAPE and W.dtype == np.float32
    np.testing.assert_allclose(W.std(), std, rtol=0.03)
    assert abs(W.mean()) < 0.03 * std


def test_normal_scale_and_zeros():
    W = jn.initializers.get("normal", scale=0.5)(jax.random.key(0), SHAPE)
    np.testing.assert_allclose(np.std(W), 0.5, rtol=0.03)
    chex.assert_trees_all_equal(
        jn.initializers.get("zeros")(jax.random.key(0), (3, 2)), jnp.zeros((3, 2))
    )


def test_init_biases_zero_deterministic_per_key(x64):
    net = jn.Network((6, 5, 5, 5, 2), hidden_activation="relu", output_activation="softmax")
    for scheme in ("zeros", "normal", "he", "xavier", "lecun"):
        params = jn.init(jax.random.key(3), net, scheme=scheme, dtype=jnp.float64)
        chex.assert_type(jax.tree.leaves(params), jnp.float64)
        chex.assert_trees_all_equal([p["b"] for p in params], [jnp.zeros(n) for n in net.sizes[1:]])
        chex.assert_trees_all_equal(
            params, jn.init(jax.random.key(3), net, scheme=scheme, dtype=jnp.float64)
        )
        if scheme != "zeros":
            other = jn.init(jax.random.key(4), net, scheme=scheme, dtype=jnp.float64)
            assert not np.allclose(params[0]["W"], other[0]["W"])
            # each layer draws from its own key
            assert not np.allclose(params[1]["W"], params[2]["W"])


# --- tiny layers: products as multiply-adds ------------------------------------------------


@pytest.mark.parametrize("k, n", [(1, 4), (2, 4), (4, 1), (3, 8), (4, 8), (8, 8), (5, 20)])
def test_small_matmul_is_the_matrix_product(x64, k, n):
    rng = np.random.default_rng(k * 100 + n)
    X, Y = rng.standard_normal((9, k)), rng.standard_normal((k, n))
    for x in (X, X[3]):  # a batch and one example
        chex.assert_trees_all_close(_matmul.matmul(x, Y, small=True), x @ Y, rtol=1e-13, atol=1e-14)
    grad = jax.grad(lambda x, y, s: jnp.sum(jnp.tanh(_matmul.matmul(x, y, s))), argnums=(0, 1))
    chex.assert_trees_all_close(grad(X, Y, True), grad(X, Y, False), rtol=1e-12, atol=1e-14)


def test_only_tiny_layers_take_the_multiply_add_path():
    assert _matmul.is_small(jnp.zeros((4, 2))) and _matmul.is_small(jnp.zeros((1, 4)))
    assert _matmul.is_small(jnp.zeros((4, 8)))  # 32 = SMALL_LAYER
    assert not _matmul.is_small(jnp.zeros((7, 5)))
    assert not _matmul.is_small(jnp.zeros((512, 784)))


def test_a_tiny_layer_compiles_without_a_matrix_product():
    X, W, b = jnp.ones((400, 2)), jnp.ones((4, 2)), jnp.zeros(4)
    small = jax.jit(lambda X: linear_forward(X, W, b)[0]).lower(X).as_text()
    big = jax.jit(lambda X: linear_forward(X, jnp.ones((64, 2)), jnp.zeros(64))[0]).lower(X)
    assert "dot_general" not in small and "dot_general" in big.as_text()


def test_the_writing_a_layer_page_runs():
    """docs/writing_a_layer.md's code runs (its checks assert as they run); its layer is
    also one of the generic test's cases (tests/layer_cases.py)."""
    page = writing_a_layer()
    layer = page["ScaleShift"]()
    assert type(jn.layers.from_dict(layer.to_dict())) is page["ScaleShift"]
    assert any(type(case[0]) is page["ScaleShift"] for case in CASES)
    assert page["net"].layers[0] == layer
