"""What a layer is: the protocol every layer follows, and the registry of kinds that rebuilds one.

A layer is a frozen, hashable value (a ``typing.NamedTuple`` of its hyperparameters,
e.g. ``Dense(units, activation)``) that ``jax.jit`` takes as part of a static network,
with the course's building block ``init / forward / backward`` as its methods. A
network (:class:`jaxnet.Network`) is their composition; one generic test proves every
layer's ``backward`` against ``jax.vjp`` of its ``forward``.

Shapes: ``A_prev`` has the examples on axis 0, ``(m, n)`` for vectors and
``(m, n_H, n_W, n_C)`` (NHWC) for images; ``input_shape`` and ``output_shape`` are the
per-example shapes (no ``m``).

The backward convention: ``backward(params, cache, dA)`` receives the course's
per-example ``dA`` (row i is ``m dJ/dA_i``: for the plain mean, ``d loss_i / dA_i``)
and returns ``(dA_prev, dparams)``, ``dA_prev`` in the same convention and ``dparams``
the gradient of J itself (hence the ``1/m`` in ``dW = dZ^T A_prev / m``).

L2 regularisation belongs to the cost, not to a layer's forward: a layer with a field
``l2`` (λ, the course's ``lambd``; Dense and Conv2D) has its ``W`` decayed by the network,
which adds ``(λ / 2m) ||W||^2`` to J and ``(λ / m) W`` to the hand-derived ``dW``
(``jaxnet.network.penalty``). ``backward`` itself stays the gradient of the data cost,
so the generic test against ``jax.vjp`` of ``forward`` covers every layer unchanged.

A layer's JSON form is ``to_dict()`` = ``{"kind": ..., **hyperparameters}``;
:func:`from_dict` rebuilds it through the classes registered by :func:`register`,
never by importing a module a file names.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar, Protocol

import jax

__all__ = [
    "Layer",
    "from_dict",
    "kinds",
    "register",
]


class Layer(Protocol):
    """The layer protocol (a description for readers and type checkers; layers do not inherit it).


    Attributes:
      kind: the name of the layer class in :func:`to_dict`, e.g. ``"dense"``.
      non_trainable: the names of the state leaves of its params dict (batch norm's
        ``moving_mean``, ``moving_var``): they get zero gradients, and training replaces
        them by :meth:`stats`. Optional, default ``()``.
      needs_key: whether ``forward`` draws randomness in training (dropout). Optional,
        default ``False``.
      l2: the L2 coefficient λ on the layer's ``W`` (Dense, Conv2D), applied by the
        network. Optional, default no decay.

    Example:
      >>> import jaxnet as jn
      >>> layer = jn.layers.Dense(3, "relu")  # follows the protocol without inheriting it
      >>> layer.kind, layer.output_shape((5,)), layer.param_shapes((5,))
      ('dense', (3,), {'W': (3, 5), 'b': (3,)})
    """

    kind: ClassVar[str]
    non_trainable: ClassVar[tuple[str, ...]]
    needs_key: ClassVar[bool]

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-example output shape; a ``ValueError`` naming the problem if it does not fit."""

    def param_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``{name: shape}`` of its params (``{}`` for a parameter-free layer)."""

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=None) -> dict:
        """Its params. Random values are drawn through :mod:`jaxnet.initializers`, whose
        functions take a ``jax.random`` key or the pre-drawn normals ``jn.init`` passes."""

    def forward(
        self, params: dict, A_prev: jax.Array, *, key=None, train=False, weights=None
    ) -> tuple[jax.Array, Any]:
        """``(A, cache)``. ``key`` is this layer's own (``fold_in(key, l)``); ``train`` selects
        training behaviour (dropout on, batch statistics); ``weights (m,)`` marks padding rows
        (weight 0) that batch statistics must exclude. A layer with an ``activation`` applies
        it here and returns the course's cache ``(inner_cache, Z)``."""

    def backward(self, params: dict, cache, dA: jax.Array) -> tuple[jax.Array, dict]:
        """``(dA_prev, dparams)``, hand-derived; ``dparams`` has ``params``' keys (zeros for
        the non-trainable ones)."""

    def stats(self, cache) -> dict:
        """The new non-trainable values after a training forward. Optional, default ``{}``."""

    def to_dict(self) -> dict:
        """``{"kind": kind, **hyperparameters}``, JSON-friendly."""


REQUIRED = ("kind", "output_shape", "param_shapes", "init", "forward", "backward", "to_dict")

_KINDS: dict[str, type] = {}


def register(cls: type) -> type:
    """Class decorator: make ``cls`` rebuildable by :func:`from_dict` under ``cls.kind``.

    Args:
      cls: a layer class with a class attribute ``kind`` (a str not yet registered to
        another class).

    Returns:
      ``cls`` itself.

    Raises:
      TypeError: ``cls`` has no ``kind`` string.
      ValueError: ``kind`` is already registered to another class.

    Example:
      >>> from jaxnet.layers import Dense, register
      >>> register(Dense) is Dense  # already registered under "dense": unchanged
      True
      >>> register(int)
      Traceback (most recent call last):
      ...
      TypeError: a layer class needs a class attribute kind (a str), got None

    A new layer class is decorated with ``@register`` where it is defined (see
    :class:`jaxnet.layers.Dense`).
    """
    kind = getattr(cls, "kind", None)
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"a layer class needs a class attribute kind (a str), got {kind!r}")
    if _KINDS.get(kind, cls) is not cls:
        raise ValueError(f"layer kind {kind!r} is already registered to {_KINDS[kind].__name__}")
    _KINDS[kind] = cls
    return cls


def kinds() -> tuple[str, ...]:
    """The registered layer kinds.

    Returns:
      A tuple of the ``kind`` strings :func:`from_dict` accepts, in registration order.

    Example:
      >>> from jaxnet.layers.base import kinds
      >>> {"dense", "conv2d", "batch_norm"} <= set(kinds())
      True
    """
    return tuple(_KINDS)


def check_layer(layer, name: str = "layer"):
    """``layer`` if it follows the protocol and its kind is registered; else a ``TypeError``."""
    missing = [attr for attr in REQUIRED if not hasattr(layer, attr)]
    if missing:
        raise TypeError(
            f"{name} must be a layer (e.g. jaxnet.layers.Dense(10, 'relu')), got {layer!r} "
            f"of type {type(layer).__name__}, which lacks {', '.join(missing)}"
        )
    if _KINDS.get(layer.kind) is not type(layer):
        raise TypeError(
            f"{name}: {type(layer).__name__} (kind {layer.kind!r}) is not registered; "
            "decorate its class with jaxnet.layers.register"
        )
    return layer


def check_l2(value, name: str = "l2") -> float:
    """``value`` as the float λ >= 0 of an L2 penalty; a ``ValueError`` naming ``name`` otherwise.

    >>> check_l2(0.7)
    0.7
    """
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(float(value)) or value < 0:
        raise ValueError(
            f"{name} must be a finite number >= 0 (λ, the L2 coefficient; 0 turns it off); "
            f"got {name}={value!r}"
        )
    return float(value)


def _hashable(value):
    """JSON lists back to tuples (hyperparameters are hashable); other values unchanged."""
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def from_dict(d: dict):
    """The layer ``d`` describes (``{"kind": ..., **hyperparameters}``), rebuilt by its registered class.

    Args:
      d: a layer's ``to_dict()``, e.g. read back from JSON (lists become tuples).

    Returns:
      The layer, equal to the one that gave ``d``.

    Raises:
      ValueError: ``d`` is not a dict with a str ``"kind"``, the kind is not registered, or
        its fields do not fit the class.

    Example:
      >>> from jaxnet.layers import Conv2D, from_dict
      >>> from_dict({"kind": "dense", "units": 10, "activation": "softmax"})
      Dense(units=10, activation='softmax')
      >>> layer = Conv2D(8, 3, padding="same")
      >>> from_dict(layer.to_dict()) == layer
      True
    """
    if not isinstance(d, dict) or not isinstance(d.get("kind"), str):
        raise ValueError(f"a layer must be a dict with a 'kind' (a str), got {d!r:.200}")
    kind = d["kind"]
    if kind not in _KINDS:
        raise ValueError(f"unknown layer kind {kind!r:.80}; expected one of: {', '.join(_KINDS)}")
    fields = {k: _hashable(v) for k, v in d.items() if k != "kind"}
    try:
        return _KINDS[kind](**fields)
    except TypeError as e:
        raise ValueError(f"layer {d!r:.200} does not describe a {kind} layer: {e}") from None
