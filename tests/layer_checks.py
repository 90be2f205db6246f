"""Witnesses for the layer tests: ``jax.vjp`` of a forward in the layers' convention, and central finite differences."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.layers._autodiff import plain_autodiff


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
    frozen = getattr(layer, "non_trainable", ())
    dparams = {
        name: jnp.zeros_like(g) if name in frozen else g / m for name, g in vjp_params.items()
    }
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
