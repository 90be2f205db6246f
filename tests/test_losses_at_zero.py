"""jax.grad of the costs computed from logits is exact at z = 0 (zero-initialised logistic regression)."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxnet as jn
from jaxnet import losses


def test_bce_from_logits_gradient_at_zero_is_sigmoid_minus_label():
    Z = jnp.zeros((4, 1))
    Y = jnp.array([[0.0], [1.0], [1.0], [0.0]])
    dZ = jax.grad(lambda z: losses.binary_cross_entropy_from_logits(z, Y))(Z)
    np.testing.assert_allclose(dZ * 4, 0.5 - Y, rtol=1e-6)  # (A - Y) per example, A = 0.5


def test_zero_init_logistic_regression_autodiff_equals_manual():
    X = jax.random.normal(jax.random.key(0), (20, 3))
    y = (X[:, 0] > 0).astype(jnp.int32)
    net = jn.Network((3, 1), output="sigmoid")
    params = jn.init(jax.random.key(1), net, scheme="zeros")
    manual = jn.grads(net, params, X, y, method="manual")
    autodiff = jn.grads(net, params, X, y, method="autodiff")
    assert jn.relative_difference(manual, autodiff) < 1e-6
    assert float(jnp.abs(manual[0]["W"]).max()) > 0.01  # a real gradient, not zero
