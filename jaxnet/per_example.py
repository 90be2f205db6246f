"""Per-example gradients: the gradient of each example's loss, stacked along a leading axis m.

``per_example_grads(...)[l]["W"][i]`` is ``d loss_i / dW[l]``; their mean over i is
``jn.grads`` (the gradient of J, the mean loss). Computed by ``jax.vmap`` of the
one-example gradient, by hand-derived backprop or ``jax.grad``; ``chunk_size`` bounds
memory by mapping over chunks of examples (``jax.lax.map``).

Inference mode only (dropout the identity, batch norm on its moving averages): there one
example's loss depends on that example alone. In training mode batch norm's statistics
tie every example's loss to the whole batch, so a per-example gradient is not defined
(it would be a Jacobian), and dropout's mask belongs to the batch's draw.

L2: each example carries its share of the penalty, ``d/dW [loss_i + (λ / 2m) ||W||^2] =
d loss_i / dW + (λ / m) W`` with ``m`` the number of examples given, so the mean over i is
still ``jn.grads``. For the data term alone (e.g. to clip per-example gradients),
subtract ``(λ / m) W`` or pass ``jaxnet.network.without_l2(net)``.
"""

from __future__ import annotations

import functools

import jax

from jaxnet import network
from jaxnet.model import Model
from jaxnet.network import Network
from jaxnet.validation import (
    as_labels,
    bind,
    check_backprop,
    check_int,
    check_model,
    check_params,
)

__all__ = ["per_example_grads"]


@functools.partial(jax.jit, static_argnames=("net", "backprop", "chunk_size"))
def _per_example(net, params, X, Y, backprop, chunk_size):
    l2 = isinstance(net, Network)  # a jn.Model has no L2 term
    data_net = network.without_l2(net) if l2 else net  # each example's data term

    def one(x, y):
        return data_net.loss_and_grads(params, x[None], y[None], None, backprop, train=False)[2]

    if chunk_size is None:
        grads = jax.vmap(one)(X, Y)
    else:
        grads = jax.lax.map(lambda xy: one(*xy), (X, Y), batch_size=chunk_size)
    return network.l2_gradients(net, params, grads, X.shape[0]) if l2 else grads


def per_example_grads(
    net: Network | Model,
    params,
    X,
    Y,
    backprop: str | None = None,
    chunk_size: int | None = None,
):
    """Gradients of each example's loss: the params' tree with a leading axis m on every leaf.

    In inference mode, with each example's share of the L2 penalty (module docstring);
    the mean over the leading axis is ``jn.grads(net, params, X, Y)``.

    Args:
      net: the :class:`~jaxnet.Network` (or a :class:`~jaxnet.Model`).
      params: its params, one dict per layer: dense ``{"W": (n[l], n[l-1]), "b": (n[l],)}``.
      X: the inputs ``(m, *net.input_shape)``.
      Y: labels ``(m, n[L])`` or ``(m,)``, as for ``jn.cost``.
      backprop: ``"manual"`` (hand-derived backprop) or ``"autodiff"`` (``jax.grad``);
        None: the model's own (``"manual"`` for a network).
      chunk_size: process this many examples at a time (bounds memory to
        ``chunk_size x num_params`` floats); ``None`` vmaps over all m at once.

    Returns:
      The params' tree, every leaf ``(m, *leaf.shape)``: ``[l]["W"][i] = d loss_i / dW[l]``.

    Example:
      >>> import jax, jaxnet as jn
      >>> net = jn.Network((2, 3, 1), hidden_activation="tanh", output_activation="sigmoid")
      >>> params = jn.init(jax.random.key(0), net)
      >>> X, y = jax.numpy.ones((5, 2)), jax.numpy.array([0, 1, 1, 0, 1])
      >>> per_example_grads(net, params, X, y)[0]["W"].shape
      (5, 3, 2)
    """
    backprop = check_backprop(check_model(net), backprop)
    if chunk_size is not None:
        chunk_size = check_int(chunk_size, "chunk_size", 1)
    dtype = check_params(net, params)
    net, X = bind(net, params, X, dtype)
    Y = as_labels(net, Y, X.shape[0], dtype)
    return _per_example(net, params, X, Y, backprop, chunk_size)
