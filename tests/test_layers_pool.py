"""MaxPool2D / AvgPool2D: the hand-derived pool_backward and the custom VJP of pool_forward equal
jax.vjp of the plain reduce_window (hypothesis-drawn shapes, windows, strides, overlapping), finite
differences and the course's loops; ties; the protocol; bad input."""

import functools
import itertools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from layer_checks import assert_finite_differences

import jaxnet as jn
from jaxnet.layers import AvgPool2D, MaxPool2D, pool_backward, pool_forward
from jaxnet.layers._autodiff import plain_autodiff

# --- the course's loops: the third witness ------------------------------------------------


def _windows(shape, f, stride):
    m, n_H_prev, n_W_prev, n_C = shape
    n_H, n_W = (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1
    for i, h, w, c in itertools.product(range(m), range(n_H), range(n_W), range(n_C)):
        rows = slice(h * stride, h * stride + f)
        cols = slice(w * stride, w * stride + f)
        yield (i, h, w, c), (i, rows, cols, c)


def pool_forward_loops(A_prev, f, stride, mode):
    """The course's ``pool_forward``."""
    A_prev = np.asarray(A_prev)
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    A = np.zeros((m, (n_H_prev - f) // stride + 1, (n_W_prev - f) // stride + 1, n_C))
    for out, window in _windows(A_prev.shape, f, stride):
        A[out] = np.max(A_prev[window]) if mode == "max" else np.mean(A_prev[window])
    return A


def create_mask_from_window(x):
    """The course's mask: every position equal to the window's maximum."""
    return x == np.max(x)


def first_max_mask(x):
    """The first maximum in row-major order (np.argmax), what jax.vjp of reduce_window max picks."""
    mask = np.zeros(x.shape, bool)
    mask[np.unravel_index(np.argmax(x), x.shape)] = True
    return mask


def pool_backward_loops(dA, A_prev, f, stride, mode, mask=first_max_mask):
    """The course's ``pool_backward`` (``distribute_value`` for average), with a choice of max mask."""
    A_prev = np.asarray(A_prev)
    dA_prev = np.zeros(A_prev.shape)
    for out, window in _windows(A_prev.shape, f, stride):
        if mode == "max":
            dA_prev[window] += mask(A_prev[window]) * dA[out]
        else:
            dA_prev[window] += dA[out] / (f * f)
    return dA_prev


# --- backward == jax.vjp over drawn shapes ---------------------------------------------


@functools.partial(jax.jit, static_argnames=("f", "stride", "mode"))
def _manual_and_vjp(A_prev, dA, *, f, stride, mode):
    """``pool_backward``, ``jax.vjp`` of the plain ``reduce_window``, and ``jax.vjp`` of
    ``pool_forward`` through its custom VJP. One compile."""

    def forward(a):
        return pool_forward(a, f, stride, mode)[0]

    manual = pool_backward(dA, pool_forward(A_prev, f, stride, mode)[1])
    with plain_autodiff():
        reference = jax.vjp(forward, A_prev)[1](dA)[0]
    return manual, reference, jax.vjp(forward, A_prev)[1](dA)[0]


@settings(max_examples=20, deadline=None, derandomize=True)  # each draw compiles
@given(
    m=st.integers(1, 3),
    n_H=st.integers(1, 8),
    n_W=st.integers(1, 8),
    n_C=st.integers(1, 3),
    f=st.integers(1, 3),
    stride=st.integers(1, 3),
    mode=st.sampled_from(["max", "average"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_pool_backward_equals_vjp(m, n_H, n_W, n_C, f, stride, mode, seed):
    """Overlapping (stride < f), tiling (stride == f) and gapped (stride > f) windows; inputs
    drawn from a continuous distribution (no ties)."""
    assume(f <= min(n_H, n_W))
    with jax.enable_x64(True):
        rng = np.random.default_rng(seed)
        A_prev = jnp.asarray(rng.normal(size=(m, n_H, n_W, n_C)))
        shape = (m, (n_H - f) // stride + 1, (n_W - f) // stride + 1, n_C)
        dA = jnp.asarray(rng.normal(size=shape))
        manual, reference, custom = _manual_and_vjp(A_prev, dA, f=f, stride=stride, mode=mode)
        chex.assert_trees_all_close(manual, reference, rtol=1e-12, atol=1e-14)
        chex.assert_trees_all_close(custom, reference, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1), (2, 1), (3, 2), (2, 3), (1, 1)])
def test_pool_equals_the_course_loops(x64, mode, f, stride):
    rng = np.random.default_rng(f * 10 + stride)
    A_prev = jnp.asarray(rng.normal(size=(2, 7, 6, 3)))
    A, cache = pool_forward(A_prev, f, stride, mode)
    np.testing.assert_allclose(A, pool_forward_loops(A_prev, f, stride, mode), rtol=1e-14)
    dA = rng.normal(size=A.shape)
    expected = pool_backward_loops(dA, A_prev, f, stride, mode)
    np.testing.assert_allclose(pool_backward(jnp.asarray(dA), cache), expected, rtol=1e-12)
    if mode == "max":  # without ties the course's mask is the same one
        course = pool_backward_loops(dA, A_prev, f, stride, mode, create_mask_from_window)
        np.testing.assert_allclose(course, expected, rtol=1e-12)


@pytest.mark.parametrize("f, stride", [(2, 2), (2, 1), (3, 2), (3, 1)])
def test_max_ties_go_to_the_first_maximum(x64, f, stride):
    """With ties each window's gradient goes once, to its first maximum (row-major), as
    jax.vjp sends it; the course's mask would send it to every tied position."""
    rng = np.random.default_rng(f + stride)
    A_prev = jnp.asarray(rng.integers(0, 3, size=(2, 7, 7, 2)).astype(float))  # many ties
    A, cache = pool_forward(A_prev, f, stride, "max")
    dA = rng.normal(size=A.shape)
    manual = pool_backward(jnp.asarray(dA), cache)
    np.testing.assert_allclose(
        manual, pool_backward_loops(dA, A_prev, f, stride, "max"), atol=1e-14
    )
    np.testing.assert_allclose(
        manual,
        _manual_and_vjp(A_prev, jnp.asarray(dA), f=f, stride=stride, mode="max")[1],
        atol=1e-14,
    )
    np.testing.assert_allclose(float(manual.sum()), float(dA.sum()), rtol=1e-12)
    course = pool_backward_loops(dA, A_prev, f, stride, "max", create_mask_from_window)
    assert not np.allclose(course, manual)  # the course's mask counts ties more than once


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize("f, stride", [(2, 2), (3, 1)])
def test_pool_backward_equals_finite_differences(x64, mode, f, stride):
    rng = np.random.default_rng(3)
    # well separated values, so no window's maximum changes within the differencing step
    values = rng.permutation(2 * 6 * 5 * 2).astype(float).reshape(2, 6, 5, 2)
    A_prev = jnp.asarray(values / 10)
    A, cache = pool_forward(A_prev, f, stride, mode)
    G = jnp.asarray(rng.normal(size=A.shape))
    assert_finite_differences(
        lambda a: pool_forward(a, f, stride, mode)[0], (A_prev,), (pool_backward(G, cache),), G
    )


def test_pool_float32_jitted():
    A_prev = jax.random.normal(jax.random.key(0), (4, 9, 9, 3))
    for mode in ("max", "average"):
        A, cache = jax.jit(pool_forward, static_argnums=(1, 2, 3))(A_prev, 2, 2, mode)
        dA_prev = jax.jit(pool_backward)(jnp.ones_like(A), cache)
        chex.assert_shape([A, dA_prev], [(4, 4, 4, 3), (4, 9, 9, 3)])
        chex.assert_type([A, dA_prev], jnp.float32)
        assert float(dA_prev[:, 8].sum()) == 0  # the last row no window reaches


@jax.jit
def _pool_grads(A_prev):
    """Per-model gradients (vmap) and a second-order gradient of a max-then-average pooling,
    through the custom VJPs, then of the plain ``reduce_window``. One compile."""

    def loss(a):
        pooled = pool_forward(pool_forward(a, 2, 1, "max")[0], 2, 2, "average")[0]
        return jnp.sum(jnp.sin(pooled))

    def results():
        per_model = jax.vmap(jax.grad(loss))(jnp.stack([A_prev, -A_prev]))
        return per_model, jax.grad(lambda a: jnp.sum(jax.grad(loss)(a) * a))(A_prev)

    custom = results()
    with plain_autodiff():
        return custom, results()


def test_custom_vjp_vmapped_twice_and_second_order(x64):
    rng = np.random.default_rng(4)
    A_prev = jnp.asarray(rng.normal(size=(2, 7, 6, 2)))
    for _ in range(2):
        custom, plain = _pool_grads(A_prev)
        chex.assert_trees_all_close(custom, plain, rtol=1e-12, atol=1e-14)
    with pytest.raises(TypeError, match="forward-mode"):
        jax.jvp(lambda a: pool_forward(a, 2)[0], (A_prev,), (A_prev,))


# --- the layer protocol --------------------------------------------------------------------


@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_pool_layer_protocol(cls):
    layer = cls(2)
    assert layer.strides is None and layer.stride == 2
    assert layer.output_shape((28, 28, 32)) == (14, 14, 32)
    assert layer.output_shape((7, 5, 3)) == (3, 2, 3)
    assert cls(3, strides=1).output_shape((5, 6, 2)) == (3, 4, 2)
    assert layer.param_shapes((28, 28, 32)) == {} and layer.init(None, (28, 28, 32)) == {}
    assert jn.layers.from_dict(layer.to_dict()) == layer
    assert cls(3, 2).to_dict() == {"kind": cls.kind, "pool_size": 3, "strides": 2}
    assert layer.needs_key is False and layer.non_trainable == () and layer.stats(None) == {}
    A_prev = jax.random.normal(jax.random.key(0), (2, 6, 6, 3))
    A, cache = layer.forward({}, A_prev, train=True)
    dA_prev, grads = layer.backward({}, cache, jnp.ones_like(A))
    chex.assert_shape([A, dA_prev], [(2, 3, 3, 3), A_prev.shape])
    assert grads == {}


def test_max_and_average_are_different_layers():
    """Equal fields, different layers: they must not share a jit cache entry."""
    assert MaxPool2D(2) != AvgPool2D(2) and hash(MaxPool2D(2)) != hash(AvgPool2D(2))
    assert MaxPool2D(2) == MaxPool2D(2, None)
    A_prev = jnp.arange(16.0).reshape(1, 4, 4, 1)
    run = jax.jit(lambda layer, a: layer.forward({}, a)[0], static_argnums=0)
    np.testing.assert_allclose(run(MaxPool2D(2), A_prev).ravel(), [5, 7, 13, 15])
    np.testing.assert_allclose(run(AvgPool2D(2), A_prev).ravel(), [2.5, 4.5, 10.5, 12.5])


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, error, name",
    [
        ((0,), ValueError, "pool_size"),
        ((2.0,), TypeError, "pool_size"),
        ((True,), TypeError, "pool_size"),
        ((2, 0), ValueError, "strides"),
        ((2, "1"), TypeError, "strides"),
    ],
)
@pytest.mark.parametrize("cls", [MaxPool2D, AvgPool2D])
def test_bad_hyperparameters_are_rejected(cls, args, error, name):
    with pytest.raises(error, match=name):
        cls(*args)


@pytest.mark.parametrize(
    "input_shape, match",
    [
        ((2, 5, 3), "pool_size=3 is larger than the input 2x5"),
        ((5, 5), r"images \(n_H, n_W, n_C\)"),
        ((25,), "images"),
    ],
)
def test_output_shape_rejects_what_does_not_fit(input_shape, match):
    with pytest.raises(ValueError, match=match):
        MaxPool2D(3).output_shape(input_shape)


def test_forward_rejects_non_images_and_pool_forward_unknown_modes():
    with pytest.raises(ValueError, match=r"AvgPool2D expects A_prev of shape \(m, n_H, n_W, n_C\)"):
        AvgPool2D(2).forward({}, jnp.ones((2, 4, 4)))
    with pytest.raises(ValueError, match="pool_size=2 is larger"):
        MaxPool2D(2).forward({}, jnp.ones((2, 1, 4, 3)))
    with pytest.raises(ValueError, match="mode must be one of"):
        pool_forward(jnp.ones((1, 4, 4, 1)), 2, 2, "min")
