"""Per-example gradients: the gradient of each example's loss, stacked along a leading axis m.

``per_example_grads(...)[l]["W"][i]`` is ``d loss_i / dW[l]``; their mean over i is
``jn.grads`` (the gradient of J, the mean loss). Computed by ``jax.vmap`` of the
one-example gradient, by hand-derived backprop or ``jax.grad``; ``chunk_size`` bounds
memory by mapping over chunks of examples (``jax.lax.map``). In inference mode (dropout
the identity, batch norm on its moving averages), where one example's loss depends on
that example alone.
"""

from __future__ import annotations

import functools

import jax

from jaxnet import network
from jaxnet.network import Network
from jaxnet.validation import (
    as_inputs,
    as_labels,
    check_choice,
    check_int,
    check_network,
    check_params,
)


@functools.partial(jax.jit, static_argnames=("net", "backprop", "chunk_size"))
def _per_example(net, params, X, Y, backprop, chunk_size):
    def one(x, y):
        return network.grads(net, params, x[None], y[None], backprop=backprop)

    if chunk_size is None:
        return jax.vmap(one)(X, Y)
    return jax.lax.map(lambda xy: one(*xy), (X, Y), batch_size=chunk_size)


def per_example_grads(
    net: Network, params, X, Y, backprop: str = "manual", chunk_size: int | None = None
):
    """Gradients of each example's loss: the params' tree with a leading axis m on every leaf.

    Args:
      net, params, X, Y: as for ``jn.grads`` (X ``(m, *net.input_shape)``).
      backprop: ``"manual"`` (hand-derived backprop) or ``"autodiff"`` (``jax.grad``).
      chunk_size: process this many examples at a time (bounds memory to
        ``chunk_size x num_params`` floats); ``None`` vmaps over all m at once.
    """
    check_network(net)
    check_choice(backprop, "backprop", network.BACKPROP)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", 1)
    dtype = check_params(net, params)
    X = as_inputs(net, X, dtype)
    Y = as_labels(net, Y, X.shape[0], dtype)
    return _per_example(net, params, X, Y, backprop, chunk_size)
