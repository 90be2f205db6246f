"""Witnesses for the layer tests: ``jax.vjp`` of a forward in the layers' convention, and central finite differences."""

import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.layers._autodiff import plain_autodiff
from jaxnet.layers.param_trees import is_shape


def vjp_in_layer_convention(layer, params, A_prev, dA, **forward_kwargs):
    """``(dA_prev, dparams)`` from ``jax.vjp`` of ``layer.forward``: ``dparams = vjp / m`` (the mean
    cost's gradient), zeros for the non-trainable leaves, as ``layer.backward`` must return.
    Traced under ``plain_autodiff``: JAX's own derivative of the ``lax`` primitives, not the
    custom VJPs (the hand-derived backward) that conv and pooling carry."""

    def forward(p, a):
        return layer.forward(p, a, **forward_kwargs)[0]

    with plain_autodiff():
        vjp_params, vjp_A_prev = jax.vjp(forward, params, A_prev)[1](dA)
    m = A_prev.shape[0]
    trainable = layer.trainable(tuple(A_prev.shape[1:]))  # a tree: a block nests its layers'
    dparams = jax.tree.map(lambda t, g: g / m if t else jnp.zeros_like(g), trainable, vjp_params)
    return vjp_A_prev, dparams


def directional_derivative(fn, args, directions, eps=1e-6):
    """``d/dt sum(fn(args + t directions) * 1)`` at 0 by central differences (float64)."""
    plus = fn(*(a + eps * d for a, d in zip(args, directions, strict=True)))
    minus = fn(*(a - eps * d for a, d in zip(args, directions, strict=True)))
    return float((jnp.sum(plus) - jnp.sum(minus)) / (2 * eps))


def assert_finite_differences(fn, args, grads, G, *, seed=0, directions=3, rtol=1e-6):
    """``grads`` (the gradients of ``L = sum(fn(*args) G)``, one per arg) agree with central
    differences of ``L`` along random directions."""
    rng = np.random.default_rng(seed)
    for _ in range(directions):
        V = [jnp.asarray(rng.normal(size=a.shape)) for a in args]
        numeric = directional_derivative(lambda *a: fn(*a) * G, args, V)
        analytic = sum(float(jnp.vdot(g, v)) for g, v in zip(grads, V, strict=True))
        np.testing.assert_allclose(analytic, numeric, rtol=rtol, atol=1e-8)


@functools.partial(jax.jit, static_argnames=("layer", "train"))
def manual_and_vjp(layer, params, A_prev, dA, key, weights, *, train):
    """The layer's forward, backward and stats, and ``jax.vjp`` of its forward: one compile."""

    def forward(p, a):
        return layer.forward(p, a, key=key, train=train, weights=weights)

    A, cache = forward(params, A_prev)
    with plain_autodiff():  # JAX's own derivative, not the custom VJPs of conv and pooling
        vjp = jax.vjp(lambda p, a: forward(p, a)[0], params, A_prev)[1](dA)
    return A, layer.backward(params, cache, dA), layer.stats(cache), vjp


def random_layer_params(layer, input_shape, rng):
    """Random values for every leaf (positive for the non-trainable ones: e.g. variances), in
    the layer's key order (a block's params nest its layers')."""

    def draw(shapes, trainable):
        if isinstance(shapes, dict):
            return {k: draw(v, trainable[k]) for k, v in shapes.items()}
        if not is_shape(shapes):
            return tuple(draw(s, t) for s, t in zip(shapes, trainable, strict=True))
        values = rng.normal(size=shapes)
        return jnp.asarray(values if trainable else np.abs(values) + 0.5)

    return draw(layer.param_shapes(input_shape), layer.trainable(input_shape))


def _at(tree, path):
    """The subtree of ``tree`` at a ``jax.tree_util`` key path."""
    for k in path:
        tree = tree[k.key if hasattr(k, "key") else k.idx]
    return tree


def assert_layer_gradients(layer, input_shape, params, dparams, stats, vjp_params, m):
    """``dparams`` has the params' tree, equals ``vjp_params / m`` on the trainable leaves and
    is exactly zero on the others; ``stats`` holds only non-trainable leaves."""
    trainable = layer.trainable(input_shape)
    chex.assert_trees_all_equal_structs(dparams, params)
    for path, _ in jax.tree_util.tree_flatten_with_path(stats)[0]:
        assert _at(trainable, path) is False, jax.tree_util.keystr(path)
    expected = jax.tree.map(lambda t, g: g / m if t else jnp.zeros_like(g), trainable, vjp_params)
    chex.assert_trees_all_close(dparams, expected, rtol=1e-10, atol=1e-12)
    frozen = jax.tree.map(lambda t, g: t or bool((g == 0).all()), trainable, dparams)
    assert all(jax.tree.leaves(frozen))
