"""What a layer is: the base class every layer derives from, and the registry of kinds that rebuilds one.

A layer is a frozen, hashable value (a dataclass of its hyperparameters, e.g.
``Dense(units, activation)``) that ``jax.jit`` takes as part of a static network, with the
course's building block ``init / forward / backward`` as its methods. A network
(:class:`jaxnet.Network`) is their composition; one generic test proves every layer's
``backward`` against ``jax.vjp`` of its ``forward``.

:class:`Layer` writes once what every layer shares: equality and hash from the type and
the fields, ``repr``, ``to_dict``, registration under ``kind``, the argument checks
declared with each :func:`field`, and the defaults of a parameter-free, stateless layer.
A new layer is its fields, ``kind``, ``output_shape``, ``forward`` and ``backward`` (and
``param_shapes`` / ``init`` when it has params, ``stats`` / ``non_trainable`` when it has
state, ``needs_key`` when it draws randomness); docs/writing_a_layer.md walks through one.

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

Sequences and masks: a sequence is ``(m, T, n)`` (batch-first; an ``Embedding``
takes integer ids ``(m, T)``, held as floats). A network threads a mask ``(m, T)``
(True = a real step, False = padding) along the chain while the activations are sequences
``(m, T, n)``: a layer's :meth:`Layer.output_mask` says what mask its output carries (by
default the one it received, so Dense per step and Dropout keep it;
``Embedding(mask_zero=True)``, the first layer, makes one from its ids; a decoder whose
output steps are not its input's ends it), an output of another rank (a
recurrent layer's one vector per example, a Flatten) ends it, and a layer whose class sets
``takes_mask = True`` (the recurrent layers) receives it as ``forward(..., mask=mask)``
and keeps it in its cache, so its ``backward`` needs nothing more.

A layer's JSON form is ``to_dict()`` = ``{"kind": ..., **fields}``; :func:`from_dict`
rebuilds it through the registered classes, never by importing a module a file names.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, dataclass_transform

import jax

__all__ = [
    "Layer",
    "field",
    "from_dict",
    "kinds",
    "map_sublayers",
]

_KINDS: dict[str, type] = {}


def field(*, default: Any = dataclasses.MISSING, check: Callable | None = None, omit_default=False):
    """A layer's field (a hyperparameter), with its argument check.

    Args:
      default: its default value; none makes it a required argument.
      check: ``check(value, name) -> value``, run on every construction (and by
        ``dataclasses.replace``): it normalises the value (``np.int64(3)`` -> ``3``, an
        activation to its canonical name) or raises ``TypeError`` (wrong type) /
        ``ValueError`` (wrong value) naming the field; the checkers of
        ``jaxnet.validation``, e.g. ``functools.partial(check_int, minimum=1)``.
      omit_default: leave the field out of ``repr`` and ``to_dict`` when it equals its
        default (``l2=0``: a plain layer reads, and is saved, as before L2 existed).

    Returns:
      A ``dataclasses.field`` carrying ``check`` and ``omit_default`` in its metadata.

    Example:
      >>> from jaxnet.layers.base import field
      >>> field(default=0.0, omit_default=True).metadata["omit_default"]
      True
    """
    metadata = {"check": check, "omit_default": omit_default}
    return dataclasses.field(default=default, metadata=metadata)


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
class Layer(abc.ABC):
    """The base of every layer: a frozen dataclass of its hyperparameters, registered under ``kind``.

    A subclass declares its fields as a dataclass does (annotated class attributes, with
    :func:`field` where a field has a check or an omitted default) and a class attribute
    ``kind``; it becomes a frozen dataclass, equal (and hashing equal) to a layer of the
    same class with equal fields (two kinds with equal fields differ), with ``repr`` and
    :meth:`to_dict` derived from the fields, and is registered under ``kind`` so that
    :func:`from_dict` rebuilds it. A class without a ``kind`` of its own in its body (a
    shared base such as the pools') is not registered. A class defined again under the
    same module and name (a notebook cell run twice) replaces the old one; another class
    under a taken ``kind`` is a ``ValueError``. Change a field with
    ``dataclasses.replace(layer, name=value)`` (checked again). A check that involves
    several fields goes in the subclass's ``__post_init__``, after
    ``super().__post_init__()`` (which runs the fields' own checks).

    Attributes:
      kind: the name of the layer class in :meth:`to_dict`, e.g. ``"dense"``.
      non_trainable: the names of the state leaves of its params dict (batch norm's
        ``moving_mean``, ``moving_var``): they get zero gradients, and training replaces
        them by :meth:`stats`. Default ``()``.
      needs_key: whether ``forward`` draws randomness in training (dropout; a property
        when it depends on a field). Default ``False``.
      takes_mask: whether ``forward`` takes the keyword ``mask (m, T)`` of padded steps
        (the recurrent layers; module docstring). Default ``False``.

    A field ``l2`` (the L2 coefficient λ on the layer's ``W``; Dense, Conv2D) is applied
    by the network (module docstring); a field ``activation`` marks a layer that can be
    the output layer.

    Example:
      >>> import jaxnet as jn
      >>> layer = jn.layers.Dense(3, "relu")
      >>> layer.kind, layer.output_shape((5,)), layer.param_shapes((5,))
      ('dense', (3,), {'W': (3, 5), 'b': (3,)})
      >>> layer == jn.layers.Dense(3, "ReLU"), layer.to_dict()
      (True, {'kind': 'dense', 'units': 3, 'activation': 'relu'})
      >>> import dataclasses
      >>> dataclasses.replace(layer, l2=0.5)
      Dense(units=3, activation='relu', l2=0.5)
    """

    kind: ClassVar[str]
    non_trainable: ClassVar[tuple[str, ...]] = ()
    needs_key: ClassVar[bool] = False
    takes_mask: ClassVar[bool] = False
    _fields: ClassVar[tuple[dataclasses.Field, ...]] = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
        cls._fields = dataclasses.fields(cls)
        if "kind" in cls.__dict__:
            _register(cls)

    def __post_init__(self):
        for f in self._fields:
            check = f.metadata.get("check")
            if check is not None:
                object.__setattr__(self, f.name, check(getattr(self, f.name), f.name))

    # --- identity, repr, JSON: from the fields ---------------------------------------

    def _values(self) -> tuple:
        return tuple(getattr(self, f.name) for f in self._fields)

    def __eq__(self, other):
        return type(self) is type(other) and self._values() == other._values()

    def __hash__(self):
        return hash((type(self), self._values()))

    def _shown(self) -> dict[str, Any]:
        """The fields, less those equal to a default declared ``omit_default``."""
        return {
            f.name: getattr(self, f.name)
            for f in self._fields
            if not (f.metadata.get("omit_default") and getattr(self, f.name) == f.default)
        }

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._shown().items())
        return f"{type(self).__name__}({fields})"

    def to_dict(self) -> dict:
        """``{"kind": kind, **fields}``, JSON-friendly (fields declared ``omit_default`` left
        out at their default)."""
        return {"kind": self.kind, **self._shown()}

    # --- the building block ----------------------------------------------------------

    @abc.abstractmethod
    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """The per-example output shape; a ``ValueError`` naming the problem if it does not fit."""

    def param_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """``{name: shape}`` of its params; default ``{}`` (a parameter-free layer)."""
        del input_shape
        return {}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=None) -> dict:
        """Its params; default ``{}`` once ``input_shape`` is checked (a parameter-free layer).

        A layer with params overrides it and draws its random values through
        :mod:`jaxnet.initializers`, whose functions take a ``jax.random`` key or the
        pre-drawn normals ``jn.init`` passes as ``key``.
        """
        del key, scheme, scale, dtype
        self.output_shape(input_shape)
        return {}

    @abc.abstractmethod
    def forward(
        self, params: dict, A_prev: jax.Array, *, key=None, train=False, weights=None
    ) -> tuple[jax.Array, Any]:
        """``(A, cache)``. ``key`` is this layer's own (``fold_in(key, l)``); ``train`` selects
        training behaviour (dropout on, batch statistics); ``weights (m,)`` marks padding rows
        (weight 0) that batch statistics must exclude. A layer with an ``activation`` applies
        it here and returns the course's cache ``(inner_cache, Z)``."""

    @abc.abstractmethod
    def backward(self, params: dict, cache, dA: jax.Array) -> tuple[jax.Array, dict]:
        """``(dA_prev, dparams)``, hand-derived; ``dparams`` has ``params``' keys (zeros for
        the non-trainable ones)."""

    def output_mask(self, A_prev, mask):
        """The mask ``(m, T)`` of the output's padded steps, given the input's ``mask`` (or None);
        default: ``mask`` unchanged (a layer that keeps the time axis). ``A_prev`` is the
        network's inputs ``X`` for its first layer and None for the others: a mask is made
        from the inputs alone (the network reads it without a forward pass)."""
        del A_prev
        return mask

    def stats(self, cache) -> dict:
        """The new non-trainable values after a training forward; default ``{}`` (no state)."""
        del cache
        return {}

    # --- the params' tree, leaf by leaf: what the network asks of every layer ----------

    def trainable(self, input_shape: tuple[int, ...]) -> dict:
        """The tree of :meth:`param_shapes` with a bool per leaf: False for a state leaf
        (``non_trainable``), True for the rest. A layer made of layers answers for its own."""
        return {name: name not in self.non_trainable for name in self.param_shapes(input_shape)}

    def l2_coefficients(self, input_shape: tuple[int, ...]) -> dict:
        """The tree of :meth:`param_shapes` with λ per leaf: the field ``l2`` on ``W``, 0.0
        on every other leaf (and everywhere in a layer without ``l2``)."""
        l2 = float(getattr(self, "l2", 0.0))
        return {name: l2 if name == "W" else 0.0 for name in self.param_shapes(input_shape)}

    def sublayers(self) -> dict[str, tuple[Layer, ...]]:
        """The layers this one is made of, by the field that holds each sequence of them
        (:class:`jaxnet.layers.Residual`: ``main`` and ``shortcut``); ``{}`` for a plain layer.
        Each sequence is a path that runs on this layer's input (the summary shows it so)."""
        return {}


def map_sublayers(layer: Layer, fn: Callable[[Layer], Layer]) -> Layer:
    """``layer`` with ``fn`` applied to each of its :meth:`Layer.sublayers` (``layer`` itself
    when it has none): how the network sets ``l2`` on every weighted layer, blocks included.

    Example:
      >>> import dataclasses
      >>> from jaxnet.layers import Dense, Residual
      >>> block = Residual((Dense(3, "relu"), Dense(3, "linear")))
      >>> map_sublayers(block, lambda s: dataclasses.replace(s, l2=0.1)).main[1]
      Dense(units=3, activation='linear', l2=0.1)
    """
    branches = layer.sublayers()
    if not branches:
        return layer
    fields: dict[str, Any] = {name: tuple(fn(s) for s in seq) for name, seq in branches.items()}
    return dataclasses.replace(layer, **fields)  # type: ignore[type-var]  # Layer subclasses are dataclasses


def _register(cls: type) -> None:
    """Make ``cls`` rebuildable by :func:`from_dict` under ``cls.kind``."""
    kind = cls.__dict__["kind"]
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{cls.__name__}.kind must be a non-empty str, got {kind!r}")
    old = _KINDS.get(kind, cls)
    same = (old.__module__, old.__qualname__) == (cls.__module__, cls.__qualname__)
    if not same:
        raise ValueError(
            f"layer kind {kind!r} is already registered to {old.__qualname__} "
            f"({old.__module__}); give {cls.__qualname__} another kind"
        )
    _KINDS[kind] = cls


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


def check_layer(layer, name: str = "layer") -> Layer:
    """``layer`` if it is a :class:`Layer` registered under its kind; else a ``TypeError``."""
    if not isinstance(layer, Layer):
        raise TypeError(
            f"{name} must be a layer (a jaxnet.layers.Layer, e.g. jaxnet.layers.Dense(10, "
            f"'relu')), got {layer!r:.80} of type {type(layer).__name__}"
        )
    if _KINDS.get(str(getattr(layer, "kind", ""))) is not type(layer):
        raise TypeError(
            f"{name}: {type(layer).__name__} is not registered: its class body must set its "
            f"own kind (it has {getattr(layer, 'kind', None)!r})"
        )
    return layer


def _hashable(value):
    """JSON lists back to tuples (hyperparameters are hashable); other values unchanged."""
    return tuple(_hashable(v) for v in value) if isinstance(value, list) else value


def from_dict(d: dict) -> Layer:
    """The layer ``d`` describes (``{"kind": ..., **fields}``), rebuilt by its registered class.

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
    except (TypeError, ValueError) as e:
        raise ValueError(f"layer {d!r:.200} does not describe a {kind} layer: {e}") from None
