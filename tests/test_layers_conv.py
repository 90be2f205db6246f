"""Conv2D: the hand-derived conv_backward, each of its dW forms and the custom VJP equal jax.vjp of the
plain convolution (hypothesis-drawn shapes, strides, paddings), finite differences, and the course's
loops; the dW form follows the platform; "same" padding as Keras/TF; the layer protocol; bad input."""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from layer_checks import assert_finite_differences, vjp_in_layer_convention

import jaxnet as jn
from jaxnet.layers import Conv2D, conv, conv_backward, conv_forward
from jaxnet.layers._autodiff import plain_autodiff
from jaxnet.layers.conv import conv_padding, same_padding

PADDINGS = ("valid", "same", 0, 1, 2)


# --- the course's loops: the third witness ------------------------------------------------


def conv_forward_loops(A_prev, W, b, stride, padding):
    """The course's ``conv_forward``: a loop over examples, output rows, columns and channels."""
    (top, bottom), (left, right) = padding
    A_pad = np.pad(np.asarray(A_prev), ((0, 0), (top, bottom), (left, right), (0, 0)))
    m, f, n_C = A_prev.shape[0], W.shape[0], W.shape[3]
    n_H = (A_pad.shape[1] - f) // stride + 1
    n_W = (A_pad.shape[2] - f) // stride + 1
    Z = np.zeros((m, n_H, n_W, n_C))
    for i, h, w, c in itertools.product(range(m), range(n_H), range(n_W), range(n_C)):
        a_slice = A_pad[i, h * stride : h * stride + f, w * stride : w * stride + f, :]
        Z[i, h, w, c] = np.sum(a_slice * W[..., c]) + b[c]
    return Z


def conv_backward_loops(dZ, A_prev, W, stride, padding):
    """The course's ``conv_backward`` (with ``dW``, ``db`` of the mean cost: ``/ m``)."""
    (top, bottom), (left, right) = padding
    A_pad = np.pad(np.asarray(A_prev), ((0, 0), (top, bottom), (left, right), (0, 0)))
    dA_pad, dW, db = np.zeros_like(A_pad), np.zeros(W.shape), np.zeros(W.shape[3])
    m, n_H, n_W, n_C = dZ.shape
    f = W.shape[0]
    for i, h, w, c in itertools.product(range(m), range(n_H), range(n_W), range(n_C)):
        rows = slice(h * stride, h * stride + f)
        cols = slice(w * stride, w * stride + f)
        dA_pad[i, rows, cols, :] += W[..., c] * dZ[i, h, w, c]
        dW[..., c] += A_pad[i, rows, cols, :] * dZ[i, h, w, c]
        db[c] += dZ[i, h, w, c]
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    return dA_pad[:, top : top + n_H_prev, left : left + n_W_prev, :], dW / m, db / m


def _arrays(rng, m, n_H, n_W, n_C_prev, f, n_C):
    A_prev = jnp.asarray(rng.normal(size=(m, n_H, n_W, n_C_prev)))
    W = jnp.asarray(rng.normal(size=(f, f, n_C_prev, n_C)))
    return A_prev, W, jnp.asarray(rng.normal(size=(n_C,)))


def _fits(n_H, n_W, f, stride, pad) -> bool:
    (top, bottom), (left, right) = conv_padding(pad, n_H, n_W, f, stride)
    return f <= min(n_H + top + bottom, n_W + left + right)


# --- backward == jax.vjp over drawn shapes ---------------------------------------------


DW_FORMS = {"matmul": conv._dW_matmul, "convolution": conv._dW_convolution}


@functools.partial(jax.jit, static_argnames=("stride", "pad"))
def _manual_and_vjp(A_prev, W, b, dZ, *, stride, pad):
    """``conv_backward``; ``jax.vjp`` of the plain convolution (its dW, db over m); ``jax.vjp`` of
    ``conv_forward`` through its custom VJP (the same, over m); each dW form (over m). One compile."""

    def forward(a, w, c):
        return conv_forward(a, w, c, stride, pad)[0]

    Z, cache = conv_forward(A_prev, W, b, stride, pad)
    dA_prev, dW, db = conv_backward(dZ, cache)
    m = A_prev.shape[0]
    with plain_autodiff():  # JAX's own transpose of lax.conv_general_dilated
        ref_A, ref_W, ref_b = jax.vjp(forward, A_prev, W, b)[1](dZ)
    custom_A, custom_W, custom_b = jax.vjp(forward, A_prev, W, b)[1](dZ)
    f = W.shape[0]
    forms = {
        name: form(A_prev, dZ, f=f, stride=stride, padding=cache.padding) / m
        for name, form in DW_FORMS.items()
    }
    return (
        (dA_prev, dW, db),
        (ref_A, ref_W / m, ref_b / m),
        (custom_A, custom_W / m, custom_b / m),
        forms,
    )


@settings(max_examples=20, deadline=None, derandomize=True)
@given(
    m=st.integers(1, 3),
    n_H=st.integers(1, 7),
    n_W=st.integers(1, 7),
    # 1-3: all offsets in one CPU product; 5, 12: groups of 7 and 3 offsets; 33: one each
    n_C_prev=st.sampled_from([1, 2, 3, 5, 12, 33]),
    n_C=st.integers(1, 3),
    f=st.integers(1, 3),
    stride=st.integers(1, 3),
    pad=st.sampled_from(PADDINGS),
    seed=st.integers(0, 2**31 - 1),
)
def test_conv_backward_equals_vjp(m, n_H, n_W, n_C_prev, n_C, f, stride, pad, seed):
    assume(_fits(n_H, n_W, f, stride, pad))
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        A_prev, W, b = _arrays(rng, m, n_H, n_W, n_C_prev, f, n_C)
        (top, bottom), (left, right) = conv_padding(pad, n_H, n_W, f, stride)
        n_H_out = (n_H + top + bottom - f) // stride + 1
        n_W_out = (n_W + left + right - f) // stride + 1
        dZ = jnp.asarray(rng.normal(size=(m, n_H_out, n_W_out, n_C)))
        manual, reference, custom, forms = _manual_and_vjp(A_prev, W, b, dZ, stride=stride, pad=pad)
        chex.assert_trees_all_close(manual, reference, rtol=1e-10, atol=1e-12)
        chex.assert_trees_all_close(custom, reference, rtol=1e-10, atol=1e-12)
        for dW in forms.values():
            chex.assert_trees_all_close(dW, reference[1], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("stride, pad", [(1, "same"), (2, "valid")])
def test_dW_matmul_in_chunks_equals_vjp(x64, stride, pad):
    """Examples too large for one chunk (float64 20x20x33 in, 40 channels out: 2 of 6 per
    chunk): the CPU form's scan over chunks of examples."""
    rng = np.random.default_rng(stride)
    A_prev, W, b = _arrays(rng, 6, 20, 21, 33, 3, 40)
    m = 6
    per_example = (A_prev[0].size + W.shape[3] * 20 * 21) * 8
    assert 2 * per_example <= conv._CHUNK_BYTES < 6 * per_example  # several chunks
    padding = conv_padding(pad, 20, 21, 3, stride)
    n_out = [(n + sum(p) - 3) // stride + 1 for n, p in zip((20, 21), padding, strict=True)]
    dZ = jnp.asarray(rng.normal(size=(m, *n_out, 40)))
    _, reference, _, forms = _manual_and_vjp(A_prev, W, b, dZ, stride=stride, pad=pad)
    chex.assert_trees_all_close(forms["matmul"], reference[1], rtol=1e-10, atol=1e-12)


@functools.partial(jax.jit, static_argnames="layer")
def _layer_manual_and_vjp(layer, params, A_prev, dA):
    A, cache = layer.forward(params, A_prev)
    return A, layer.backward(params, cache, dA), vjp_in_layer_convention(layer, params, A_prev, dA)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 6),
    f=st.integers(1, 3),
    stride=st.integers(1, 3),
    pad=st.sampled_from(PADDINGS),
    activation=st.sampled_from([None, "relu", "tanh", "sigmoid"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_conv2d_layer_backward_equals_vjp(n, f, stride, pad, activation, seed):
    """The layer: activation inside forward, its derivative inside backward."""
    assume(_fits(n, n + 1, f, stride, pad))
    layer = Conv2D(3, f, strides=stride, padding=pad, activation=activation)
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        A_prev, W, b = _arrays(rng, 2, n, n + 1, 2, f, 3)
        params = {"W": W, "b": b}
        output_shape = (2, *layer.output_shape((n, n + 1, 2)))
        dA = jnp.asarray(rng.normal(size=output_shape))
        A, manual, reference = _layer_manual_and_vjp(layer, params, A_prev, dA)
        chex.assert_shape(A, output_shape)
        chex.assert_trees_all_close(manual, reference, rtol=1e-10, atol=1e-12)


# --- the course's loops and finite differences -----------------------------------------


@pytest.mark.parametrize(
    "n_H, n_W, f, stride, pad",
    [
        (5, 5, 3, 1, 0),
        (5, 6, 3, 1, "same"),
        (5, 5, 2, 1, "same"),  # asymmetric: the extra row and column after
        (7, 6, 3, 2, 1),  # (n + 2p - f) % s != 0: rows the stride never reaches
        (6, 7, 2, 3, "valid"),
        (4, 4, 3, 2, 2),
        (5, 4, 1, 2, "same"),
    ],
)
def test_conv_equals_the_course_loops(x64, n_H, n_W, f, stride, pad):
    rng = np.random.default_rng(n_H * 100 + f * 10 + stride)
    A_prev, W, b = _arrays(rng, 2, n_H, n_W, 3, f, 2)
    Z, cache = conv_forward(A_prev, W, b, stride, pad)
    padding = conv_padding(pad, n_H, n_W, f, stride)
    np.testing.assert_allclose(Z, conv_forward_loops(A_prev, W, b, stride, padding), rtol=1e-12)
    dZ = rng.normal(size=Z.shape)
    expected = conv_backward_loops(dZ, np.asarray(A_prev), np.asarray(W), stride, padding)
    for got, want in zip(conv_backward(jnp.asarray(dZ), cache), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("stride, pad", [(1, "same"), (2, 1), (3, "valid")])
def test_conv_backward_equals_finite_differences(x64, stride, pad):
    rng = np.random.default_rng(stride)
    A_prev, W, b = _arrays(rng, 2, 5, 6, 2, 3, 2)
    Z, cache = conv_forward(A_prev, W, b, stride, pad)
    G = jnp.asarray(rng.normal(size=Z.shape))
    dA_prev, dW, db = conv_backward(G, cache)
    m = A_prev.shape[0]
    assert_finite_differences(
        lambda a, w, c: conv_forward(a, w, c, stride, pad)[0],
        (A_prev, W, b),
        (dA_prev, m * dW, m * db),
        G,
    )


@pytest.mark.parametrize("jit", [False, True])
def test_conv_backward_jitted_float32(jit):
    """float32 in, float32 out, eager or jitted (the cache's stride and padding are static)."""
    rng = np.random.default_rng(0)
    A_prev, W, b = (jnp.asarray(x, jnp.float32) for x in _arrays(rng, 4, 9, 9, 3, 3, 5))

    def step(A_prev, W, b, dZ):
        Z, cache = conv_forward(A_prev, W, b, 2, "same")
        return conv_backward(dZ, cache)

    dZ = jnp.ones((4, 5, 5, 5), jnp.float32)
    grads = (jax.jit(step) if jit else step)(A_prev, W, b, dZ)
    chex.assert_shape(grads, [(4, 9, 9, 3), (3, 3, 3, 5), (5,)])
    chex.assert_type(grads, jnp.float32)


def test_conv_cache_crosses_jit_and_vmap():
    """The cache is a pytree whose stride and padding stay static through jit and vmap."""
    rng = np.random.default_rng(1)
    A_prev, W, b = (jnp.asarray(x, jnp.float32) for x in _arrays(rng, 3, 6, 6, 2, 2, 4))
    Z, cache = jax.jit(conv_forward, static_argnums=(3, 4))(A_prev, W, b, 2, 1)
    assert (cache.stride, cache.padding) == (2, ((1, 1), (1, 1)))
    grads = jax.jit(conv_backward)(jnp.ones_like(Z), cache)
    per_model = jax.vmap(
        lambda w: conv_backward(jnp.ones_like(Z), conv_forward(A_prev, w, b, 2, 1)[1])
    )
    stacked = per_model(jnp.stack([W, W]))
    chex.assert_trees_all_close(stacked[1][0], grads[1], rtol=1e-6)


# --- the dW form per platform; the custom VJP ------------------------------------------


def _grad_W(A_prev, W):
    return jax.grad(lambda w: jnp.sum(conv_forward(A_prev, w, jnp.zeros(3), 2, 1)[0]))(W)


@pytest.mark.parametrize(
    "platform, form", [("cpu", "dot_general"), ("cuda", "convolution"), ("tpu", "convolution")]
)
def test_dW_form_follows_the_platform(platform, form):
    """Lowered for CPU, ``jax.grad`` wrt the kernel of a cost linear in ``Z`` (the forward is not
    needed) is matrix products; for GPU and TPU, the one convolution."""
    A_prev, W = jnp.ones((2, 6, 6, 2)), jnp.ones((3, 3, 2, 3))
    text = jax.jit(_grad_W).trace(A_prev, W).lower(lowering_platforms=(platform,)).as_text()
    other = {"dot_general": "convolution", "convolution": "dot_general"}[form]
    assert f"stablehlo.{form}" in text and f"stablehlo.{other}" not in text


def _loss(A_prev, W, b):
    return jnp.sum(jnp.tanh(conv_forward(A_prev, W, b, 2, "same")[0]) ** 2)


@jax.jit
def _custom_and_plain(A_prev, W, b):
    """Gradients, per-model gradients (vmap) and a second-order gradient: through the custom
    VJP, then of the plain convolution. One compile."""
    grad = jax.grad(_loss, argnums=(0, 1, 2))

    def results():
        per_model = jax.vmap(grad, in_axes=(None, 0, None))(A_prev, jnp.stack([W, -W]), b)
        second = jax.grad(lambda w: jnp.sum(grad(A_prev, w, b)[1] ** 2))(W)
        return grad(A_prev, W, b), per_model, second

    custom = results()
    with plain_autodiff():
        return custom, results()


def test_custom_vjp_twice_jitted_vmapped_and_second_order(x64):
    """``jax.grad`` through the custom VJP equals JAX's own derivative: eagerly, jitted (twice),
    vmapped over models, and differentiated again (reverse over reverse)."""
    rng = np.random.default_rng(3)
    A_prev, W, b = _arrays(rng, 3, 7, 6, 2, 3, 3)
    for _ in range(2):
        custom, plain = _custom_and_plain(A_prev, W, b)
        chex.assert_trees_all_close(custom, plain, rtol=1e-9, atol=1e-12)
    eager = jax.grad(_loss, argnums=1)(A_prev, W, b)
    chex.assert_trees_all_close(eager, plain[0][1], rtol=1e-10, atol=1e-12)


def test_forward_mode_needs_plain_autodiff():
    """A custom VJP has no forward mode: ``jax.jvp`` raises JAX's TypeError; traced under
    ``plain_autodiff`` the plain convolution has one."""
    A_prev, W = jnp.ones((1, 4, 4, 1)), jnp.ones((2, 2, 1, 1))

    def Z(w):
        return conv_forward(A_prev, w, jnp.zeros(1))[0]

    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(Z, (W,), (W,))
    with plain_autodiff():
        _, tangent = jax.jvp(Z, (W,), (W,))
    np.testing.assert_allclose(tangent, Z(W))  # Z is linear in W


# --- padding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "n, f, stride, expected",
    [(5, 3, 1, (1, 1)), (5, 2, 1, (0, 1)), (7, 3, 2, (1, 1)), (6, 3, 2, (0, 1)), (4, 1, 3, (0, 0))],
)
def test_same_padding_is_keras(n, f, stride, expected):
    """``ceil(n / s)`` outputs; the odd pixel after (bottom/right), as Keras and TF pad."""
    assert same_padding(n, f, stride) == expected
    assert (n + sum(expected) - f) // stride + 1 == -(-n // stride)


@pytest.mark.parametrize(
    "n_H, n_W, f, stride", [(5, 6, 2, 1), (7, 7, 3, 2), (6, 5, 3, 2), (4, 4, 2, 3)]
)
def test_same_matches_xla_same(x64, n_H, n_W, f, stride):
    rng = np.random.default_rng(0)
    A_prev, W, b = _arrays(rng, 2, n_H, n_W, 2, f, 3)
    Z, _ = conv_forward(A_prev, W, b, stride, "same")
    expected = jax.lax.conv_general_dilated(
        A_prev, W, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    np.testing.assert_allclose(Z, expected + b.reshape(1, 1, 1, -1), rtol=1e-12)


# --- the layer protocol --------------------------------------------------------------------


def test_conv2d_shapes_init_and_round_trip():
    layer = Conv2D(8, 3, strides=2, padding="same", activation="ReLU")
    assert layer.activation == "relu"
    assert layer.output_shape((28, 28, 1)) == (14, 14, 8)
    assert Conv2D(4, 5).output_shape((32, 30, 3)) == (28, 26, 4)  # floor((n - f)/s) + 1
    assert Conv2D(4, 3, 2, 1).output_shape((7, 8, 3)) == (4, 4, 4)  # floor((n + 2p - f)/s) + 1
    assert layer.param_shapes((28, 28, 1)) == {"W": (3, 3, 1, 8), "b": (8,)}
    params = layer.init(jax.random.key(0), (28, 28, 1))
    chex.assert_shape([params["W"], params["b"]], [(3, 3, 1, 8), (8,)])
    assert jn.layers.from_dict(layer.to_dict()) == layer
    assert layer.to_dict() == {
        "kind": "conv2d",
        "filters": 8,
        "kernel_size": 3,
        "strides": 2,
        "padding": "same",
        "activation": "relu",
    }
    assert layer.needs_key is False and layer.non_trainable == ()
    assert layer.stats(None) == {}
    assert hash(layer) == hash(Conv2D(8, 3, 2, "same", "relu"))


def test_conv2d_he_init_uses_the_receptive_field():
    """He: std = sqrt(2 / fan_in) with fan_in = f f n_C_prev (Keras's fans)."""
    W = Conv2D(256, 3).init(jax.random.key(0), (8, 8, 16), "he")["W"]
    np.testing.assert_allclose(np.std(W), np.sqrt(2 / (3 * 3 * 16)), rtol=0.03)
    assert float(jnp.abs(Conv2D(4, 3).init(jax.random.key(0), (5, 5, 2), "zeros")["W"]).max()) == 0


def test_conv2d_in_jit_with_the_layer_static():
    layer = Conv2D(2, 3, padding=1, activation="relu")
    params = layer.init(jax.random.key(1), (6, 6, 3))
    A_prev = jax.random.normal(jax.random.key(2), (4, 6, 6, 3))

    @jax.jit
    def grads(params, A_prev):
        A, cache = layer.forward(params, A_prev)
        return layer.backward(params, cache, jnp.ones_like(A))

    dA_prev, dparams = grads(params, A_prev)
    chex.assert_shape(dA_prev, A_prev.shape)
    chex.assert_trees_all_equal_structs(dparams, params)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, name",
    [
        ({"filters": 0, "kernel_size": 3}, ValueError, "filters"),
        ({"filters": 2.5, "kernel_size": 3}, TypeError, "filters"),
        ({"filters": 4, "kernel_size": 0}, ValueError, "kernel_size"),
        ({"filters": 4, "kernel_size": 3, "strides": 0}, ValueError, "strides"),
        ({"filters": 4, "kernel_size": 3, "strides": -1}, ValueError, "strides"),
        ({"filters": 4, "kernel_size": 3, "padding": "full"}, ValueError, "padding"),
        ({"filters": 4, "kernel_size": 3, "padding": -1}, ValueError, "padding"),
        ({"filters": 4, "kernel_size": 3, "padding": 1.0}, TypeError, "padding"),
        ({"filters": 4, "kernel_size": 3, "activation": "swishy"}, ValueError, "swishy"),
        ({"filters": 4, "kernel_size": 3, "activation": 1}, TypeError, "activation"),
    ],
)
def test_bad_hyperparameters_are_rejected(kwargs, error, name):
    with pytest.raises(error, match=name):
        Conv2D(**kwargs)


@pytest.mark.parametrize(
    "layer, input_shape, match",
    [
        (Conv2D(2, 5), (4, 6, 1), "kernel_size=5 is larger than the padded input 4x6"),
        (Conv2D(2, 6, padding=1), (3, 3, 1), "kernel_size=6"),
        (Conv2D(2, 3), (28, 28), r"images \(n_H, n_W, n_C\)"),
        (Conv2D(2, 3), (784,), "images"),
    ],
)
def test_output_shape_rejects_what_does_not_fit(layer, input_shape, match):
    with pytest.raises(ValueError, match=match):
        layer.output_shape(input_shape)


def test_forward_rejects_bad_inputs():
    layer = Conv2D(2, 3)
    params = layer.init(jax.random.key(0), (5, 5, 3))
    with pytest.raises(
        ValueError, match=r"A_prev of shape \(m, n_H, n_W, n_C\); got shape \(2, 5, 5\)"
    ):
        layer.forward(params, jnp.ones((2, 5, 5)))
    with pytest.raises(ValueError, match="A_prev has 1 channels .* expects n_C_prev=3"):
        layer.forward(params, jnp.ones((2, 5, 5, 1)))
    with pytest.raises(ValueError, match="kernel_size=3 is larger"):
        layer.forward(params, jnp.ones((2, 2, 5, 3)))


def test_the_witnesses_catch_a_planted_bug(x64):
    """A checker that cannot fail proves nothing: a 1% error in dW is caught by both."""
    rng = np.random.default_rng(5)
    A_prev, W, b = _arrays(rng, 2, 5, 5, 2, 3, 2)
    Z, cache = conv_forward(A_prev, W, b, 2, "same")
    G = jnp.asarray(rng.normal(size=Z.shape))
    dA_prev, dW, db = conv_backward(G, cache)
    with pytest.raises(AssertionError):
        assert_finite_differences(
            lambda a, w, c: conv_forward(a, w, c, 2, "same")[0],
            (A_prev, W, b),
            (dA_prev, 2 * dW * 1.01, 2 * db),
            G,
        )
    reference = _manual_and_vjp(A_prev, W, b, G, stride=2, pad="same")[1]
    with pytest.raises(AssertionError):
        chex.assert_trees_all_close((dA_prev, dW * 1.01, db), reference, rtol=1e-10)
