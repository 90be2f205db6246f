"""The network description and the traced core: forward, cost and hand-derived backward.

A :class:`Network` is a small frozen, hashable value (layer sizes, activations, loss)
that ``jax.jit`` takes as a static argument; params are a tuple with one
``{"W": (n[l], n[l-1]), "b": (n[l],)}`` per layer. The functions in this module are
the pure core that training compiles: they do no validation and expect ``X (m, n[0])``
and ``Y (m, n[L])`` already in the params' dtype. The public, validated entry points
(``jn.forward``, ``jn.cost``, ...) live in :mod:`jaxnet.api`.

``weights`` (optional, ``(m,)``) turns every mean over examples into a weighted mean;
training uses it to mask padded examples, so their loss and gradients count zero.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet import activations as _activations
from jaxnet import initializers, metrics
from jaxnet import losses as _losses
from jaxnet.layers import Dense, linear_backward


@dataclasses.dataclass(frozen=True, init=False)
class Network:
    """An L-layer fully connected network: sizes ``(n[0], ..., n[L])`` and one activation per layer.

    >>> net = Network((784, 512, 10), hidden="relu", output="softmax")
    >>> net.activations, net.loss
    (('relu', 'softmax'), 'categorical_cross_entropy')
    >>> Network((2, 4, 3, 1), activations=("relu", "tanh", "sigmoid")).L
    3

    Args:
      sizes: ``(n_x, n[1], ..., n[L])``, at least two positive ints.
      hidden: the activation of every hidden layer.
      output: the activation of the output layer.
      activations: one activation per layer instead of ``hidden``/``output``.
      loss: the cost; by default it follows the output (sigmoid -> binary
        cross-entropy, softmax -> categorical cross-entropy, otherwise mean squared error).
    """

    sizes: tuple[int, ...]
    activations: tuple[str, ...]
    loss: str

    def __init__(
        self,
        sizes: Sequence[int],
        hidden="relu",
        output="sigmoid",
        *,
        activations: Sequence[str] | None = None,
        loss: str | None = None,
    ):
        sizes = _check_sizes(sizes)
        if activations is None:
            activations = (hidden,) * (len(sizes) - 2) + (output,)
        if isinstance(activations, str) or len(activations) != len(sizes) - 1:
            raise ValueError(
                f"activations must give one activation per layer ({len(sizes) - 1} for sizes "
                f"{sizes}), got {activations!r}"
            )
        names = tuple(_activations.get(a).name for a in activations)
        loss_name = (_losses.for_output(names[-1]) if loss is None else _losses.get(loss)).name
        _check_output(sizes[-1], names[-1], loss_name)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "activations", names)
        object.__setattr__(self, "loss", loss_name)

    @property
    def L(self) -> int:
        """The number of layers with parameters (the input layer is layer 0)."""
        return len(self.sizes) - 1

    @property
    def layers(self) -> tuple[Dense, ...]:
        """One :class:`~jaxnet.layers.Dense` per layer."""
        return tuple(Dense(n, a) for n, a in zip(self.sizes[1:], self.activations, strict=True))

    @property
    def needs_key(self) -> bool:
        """Whether some layer draws randomness in training (dropout); then training needs a key."""
        return False

    @property
    def output_activation(self) -> _activations.Activation:
        return _activations.get(self.activations[-1])

    @property
    def loss_function(self) -> _losses.Loss:
        return _losses.get(self.loss)

    @property
    def fused(self) -> bool:
        """Whether the output gradient fuses to ``dZ[L] = A[L] - Y`` (and the cost uses logits)."""
        return self.loss_function.fused_activation == self.activations[-1]

    @property
    def task(self) -> str:
        """``"binary"``, ``"multilabel"``, ``"multiclass"`` or ``"regression"``, from the loss."""
        if self.loss == "categorical_cross_entropy":
            return "multiclass"
        if self.loss == "binary_cross_entropy":
            return "binary" if self.sizes[-1] == 1 else "multilabel"
        return "regression"

    @property
    def num_params(self) -> int:
        """``sum_l n[l] (n[l-1] + 1)``."""
        return sum(n * (n_prev + 1) for n_prev, n in zip(self.sizes, self.sizes[1:]))

    def to_dict(self) -> dict:
        """A JSON-friendly description; ``Network.from_dict`` rebuilds the same value."""
        return {"sizes": list(self.sizes), "activations": list(self.activations), "loss": self.loss}

    @classmethod
    def from_dict(cls, d: dict) -> Network:
        return cls(d["sizes"], activations=d["activations"], loss=d["loss"])


def _check_sizes(sizes) -> tuple[int, ...]:
    try:
        sizes = tuple(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of layer sizes, got {sizes!r}") from None
    ints = all(isinstance(n, numbers.Integral) and not isinstance(n, bool) for n in sizes)
    if len(sizes) < 2 or not ints or min(sizes) < 1:
        raise ValueError(f"sizes must be at least two positive ints (n_x, ..., n_L), got {sizes!r}")
    return tuple(int(n) for n in sizes)  # NumPy ints become Python ints: hashable, JSON-friendly


def _check_output(n_out: int, output: str, loss: str) -> None:
    if output == "softmax" and n_out < 2:
        raise ValueError(f"a softmax output needs at least 2 units, got sizes[-1] = {n_out}")
    if loss == "binary_cross_entropy" and output != "sigmoid":
        raise ValueError(f"binary_cross_entropy needs a sigmoid output, got output {output!r}")
    if loss == "categorical_cross_entropy" and output != "softmax":
        raise ValueError(f"categorical_cross_entropy needs a softmax output, got output {output!r}")


@functools.partial(jax.jit, static_argnames=("net", "scheme", "scale", "dtype"))  # one compile
def init(key, net: Network, scheme="he", *, scale=0.01, dtype=jnp.float32) -> tuple[dict, ...]:
    """Params for ``net``: ``W[l]`` drawn by ``scheme`` (see :mod:`jaxnet.initializers`), ``b[l] = 0``.

    Every ``W[l]`` is a slice of ONE draw of standard normals, scaled by its scheme's
    standard deviation: one random-number kernel to compile whatever the depth (a draw
    per layer made compiling ``init`` cost ~0.15 s per layer on a CPU).
    """
    initializer = initializers.get(scheme, scale=scale)
    shapes = [(n_out, n_in) for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:])]
    if initializer is initializers.zeros:
        weights = [jnp.zeros(shape, dtype) for shape in shapes]
    else:
        ends = np.cumsum([n_out * n_in for n_out, n_in in shapes])
        draws = jnp.split(jax.random.normal(key, (int(ends[-1]),), dtype), ends[:-1])
        weights = [
            z.reshape(n_out, n_in) * jnp.asarray(initializer.std_of(n_in, n_out), dtype)
            for z, (n_out, n_in) in zip(draws, shapes)
        ]
    return tuple({"W": W, "b": jnp.zeros((W.shape[0],), dtype)} for W in weights)


def forward_with_caches(net: Network, params, X):
    """``A[L] (m, n[L])`` and one ``(linear_cache, Z)`` per layer, chaining ``dense_forward``."""
    A, caches = X, []
    for layer, p in zip(net.layers, params, strict=True):
        A, cache = layer.forward(p, A)
        caches.append(cache)
    return A, tuple(caches)


def forward(net: Network, params, X):
    """The output activations ``A[L] (m, n[L])``."""
    return forward_with_caches(net, params, X)[0]


def cost_from_output(net: Network, A_L, Z_L, Y, weights=None):
    """J from the output layer: from the logits ``Z_L`` when the loss fuses with the output."""
    loss = net.loss_function
    per_example = loss.per_example_from_logits(Z_L, Y) if net.fused else loss.per_example(A_L, Y)
    return _losses.reduce_mean(per_example, weights)


def cost(net: Network, params, X, Y, weights=None):
    """The cost J (a scalar): the (weighted) mean over examples of the loss."""
    A_L, caches = forward_with_caches(net, params, X)
    return cost_from_output(net, A_L, caches[-1][1], Y, weights)


def output_delta(net: Network, Z_L, Y, weights=None):
    """``dZ[L] (m, n[L])``: ``A[L] - Y`` when fused, else ``g'(Z[L])`` applied to the loss's ``dA[L]``.

    With ``weights``, row i is scaled by ``m w_i / sum(w)`` so the ``1/m`` of
    ``linear_backward`` becomes the weighted mean.
    """
    act = net.output_activation
    A_L = act.fn(Z_L)
    dZ = A_L - Y if net.fused else act.vjp(Z_L, net.loss_function.gradient(A_L, Y))
    if weights is not None:
        dZ = dZ * (weights * (weights.shape[0] / weights.sum()))[:, None]
    return dZ


def backward(net: Network, params, caches, Y, weights=None) -> tuple[dict, ...]:
    """Hand-derived backprop: the gradients of J, with exactly the params' tree structure."""
    linear_cache, Z_L = caches[-1]
    dA, dW, db = linear_backward(output_delta(net, Z_L, Y, weights), linear_cache)
    grads = [{"W": dW, "b": db}]
    for layer, p, cache in reversed(tuple(zip(net.layers, params, caches))[:-1]):
        dA, g = layer.backward(p, cache, dA)
        grads.append(g)
    return tuple(reversed(grads))


BACKPROP = ("manual", "autodiff")


def loss_and_grads(
    net: Network, params, X, Y, weights=None, backprop="manual", *, key=None, train=True
):
    """``(J, A[L], grads, stats)`` in one pass, by hand-derived backprop or by ``jax.grad``.

    ``grads`` has the params' tree (zeros for non-trainable leaves); ``stats`` holds one
    dict per layer with the new values of its non-trainable leaves (see :func:`with_stats`).
    """
    del key, train  # dense layers draw no randomness and have no train mode
    stats = tuple({} for _ in range(net.L))
    if backprop == "manual":
        A_L, caches = forward_with_caches(net, params, X)
        Z_L = caches[-1][1]
        J = cost_from_output(net, A_L, Z_L, Y, weights)
        return J, A_L, backward(net, params, caches, Y, weights), stats

    def J(p):
        A_L, caches = forward_with_caches(net, p, X)
        return cost_from_output(net, A_L, caches[-1][1], Y, weights), A_L

    (loss, A_L), grads = jax.value_and_grad(J, has_aux=True)(params)
    return loss, A_L, grads, stats


def with_stats(net: Network, params, stats):
    """``params`` with each layer's non-trainable leaves replaced by its ``stats`` dict."""
    del net
    return tuple({**p, **s} for p, s in zip(params, stats, strict=True))


def evaluate(net: Network, params, X, Y, weights=None):
    """``(J, metric)`` in inference mode, from one forward pass: the one evaluate core."""
    A_L, caches = forward_with_caches(net, params, X)
    loss = cost_from_output(net, A_L, caches[-1][1], Y, weights)
    return loss, metrics.metric(A_L, Y, net.task, weights)


def grads(net: Network, params, X, Y, weights=None, backprop="manual", *, key=None, train=True):
    """dJ/dparams by ``backprop`` ``"manual"`` (hand backprop) or ``"autodiff"`` (``jax.grad``)."""
    return loss_and_grads(net, params, X, Y, weights, backprop, key=key, train=train)[2]


def predictions(net: Network, A_L):
    """Labels from outputs: ``A > 0.5`` (binary (m,), multilabel (m, n_L)), argmax (multiclass (m,)),
    or the values themselves (regression (m, n_L))."""
    if net.task == "multiclass":
        return A_L.argmax(axis=-1).astype(jnp.int32)
    if net.task == "binary":
        return (A_L[:, 0] > 0.5).astype(jnp.int32)
    if net.task == "multilabel":
        return (A_L > 0.5).astype(jnp.int32)
    return A_L
