"""An activation as a layer of its own: ``A = g(Z)``, Keras's ``Activation``, for blocks that put it after batch norm.

The course's residual blocks run ``Conv2D -> BatchNorm -> Activation('relu')``: the
activation comes after the normalisation, so it cannot be the convolution's own. Its
backward is the activation's hand-derived derivative (:mod:`jaxnet.activations`)::

    dZ = dA * g'(Z)        (softmax: its Jacobian applied row by row)
"""

from __future__ import annotations

from jaxnet import activations
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_activation

__all__ = ["Activation"]


class Activation(Layer):
    """``A = g(Z)``, elementwise (softmax: over the last axis); no parameters.

    The cache is the course's ``(None, Z)``, so an ``Activation`` can also end a network
    as its output layer (the network then applies ``g`` to ``Z[L]`` itself).

    Example:
      >>> import jax.numpy as jnp
      >>> from jaxnet.layers import Activation
      >>> layer = Activation("relu")
      >>> A, cache = layer.forward({}, jnp.array([[-1.0, 2.0]]))
      >>> A.tolist(), layer.backward({}, cache, jnp.ones((1, 2)))[0].tolist()
      ([[0.0, 2.0]], [[0.0, 1.0]])
    """

    kind = "activation"
    activation: str = field(check=check_activation)

    def output_shape(self, input_shape) -> tuple:
        """The input shape (a softmax needs a last axis to normalise over)."""
        if self.activation == "softmax" and len(input_shape) == 0:
            raise ValueError("a softmax Activation needs inputs with a last axis; got shape ()")
        return tuple(input_shape)

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(g(A_prev), (None, A_prev))``; ``key``, ``train``, ``weights`` unused."""
        del params, key, train, weights
        return activations.get(self.activation).fn(A_prev), (None, A_prev)

    def backward(self, params, cache, dA):
        """``(dA * g'(Z), {})``."""
        del params
        return activations.get(self.activation).vjp(cache[1], dA), {}
