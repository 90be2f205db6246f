"""The residual block (course 4, week 2; He et al., 2015): layers with a skip connection, a layer made of layers.

A block runs its ``main`` path and its ``shortcut`` (the identity, or a few layers such as
a strided 1x1 convolution and batch norm) on the same input, adds them and applies its
activation::

    Z = main(A_prev) + shortcut(A_prev)          A = g(Z)

Its backward composes the sub-layers' hand-derived backwards: the sum sends the same
``dZ`` down both paths, and the input, which feeds both, collects both gradients::

    dZ = dA * g'(Z)
    dA_main_prev, dparams_main = main's backwards, in reverse, from dZ
    dA_shortcut_prev, dparams_shortcut = the shortcut's backwards from dZ   (identity: dZ itself)
    dA_prev = dA_main_prev + dA_shortcut_prev

Params are a tree: ``{"main": (p_0, p_1, ...), "shortcut": (q_0, ...)}`` (no
``"shortcut"`` for the identity), each ``p_i`` the sub-layer's own params. Within the
block, sub-layer ``i`` of ``main`` draws its randomness from ``fold_in(key, i)`` and
sub-layer ``j`` of the shortcut from ``fold_in(key, len(main) + j)``, as a network keys
its layers.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax

from jaxnet import activations, initializers
from jaxnet.layers import base
from jaxnet.layers.base import Layer, field
from jaxnet.validation import check_activation

__all__ = ["Residual", "check_sublayers"]


def check_sublayers(value, name: str, *, optional: bool = False) -> tuple[Layer, ...] | None:
    """A non-empty sequence of layers as a tuple (``None`` too, if ``optional``).

    A layer's JSON form (``to_dict()``) stands for the layer: :func:`jaxnet.layers.from_dict`
    rebuilds it, so a block read back from JSON holds layers, never dicts.

    Raises:
      TypeError: not a sequence, or an element that is not a layer (its index named).
      ValueError: an empty sequence, or a dict that does not describe a layer.

    Example:
      >>> from jaxnet.layers import Dense
      >>> check_sublayers([Dense(2, "relu"), {"kind": "flatten"}], "main")
      (Dense(units=2, activation='relu'), Flatten())
    """
    if value is None and optional:
        return None
    if isinstance(value, Layer):
        raise TypeError(
            f"{name} must be a sequence of layers, got one layer {value!r:.80}: write {name}=({value!r:.60},)"
        )
    if isinstance(value, str | bytes | dict) or not isinstance(value, Sequence):
        also = " or None (the identity)" if optional else ""
        raise TypeError(
            f"{name} must be a sequence of layers{also}, got {value!r:.80} of type "
            f"{type(value).__name__}"
        )
    if not value:
        hint = ": for the identity, leave it None" if optional else ""
        raise ValueError(f"{name} must hold at least one layer, got an empty sequence{hint}")
    layers = []
    for i, layer in enumerate(value):
        if isinstance(layer, dict):
            try:
                layer = base.from_dict(layer)
            except ValueError as e:
                raise ValueError(f"{name}[{i}]: {e}") from None
        layers.append(base.check_layer(layer, f"{name}[{i}]"))
    return tuple(layers)


def _shapes(layers, input_shape, name: str) -> list[tuple[int, ...]]:
    """The input shape of each layer, and the path's output shape last (errors name the layer)."""
    shapes = [tuple(input_shape)]
    for i, layer in enumerate(layers):
        try:
            shapes.append(tuple(int(n) for n in layer.output_shape(shapes[-1])))
        except ValueError as e:
            raise ValueError(
                f"{name}[{i}] ({layer!r:.80}) on input shape {shapes[-1]}: {e}"
            ) from None
    return shapes


def _key(key, i: int, layer):
    """Sub-layer ``i``'s key, ``fold_in(key, i)``, for a layer that draws; else None."""
    needs = key is not None and getattr(layer, "needs_key", False)
    return jax.random.fold_in(key, i) if needs else None


def _init_key(key, i: int):
    """Sub-layer ``i``'s init key: the same pre-drawn values (each init takes the next ones),
    or ``fold_in(key, i)`` of a ``jax.random`` key."""
    if key is None or isinstance(key, initializers.Draws):
        return key
    return jax.random.fold_in(key, i)


def _chain_forward(layers, params, A, key, offset: int, train: bool, weights):
    caches = []
    for i, (layer, p) in enumerate(zip(layers, params, strict=True)):
        A, cache = layer.forward(
            p, A, key=_key(key, offset + i, layer), train=train, weights=weights
        )
        caches.append(cache)
    return A, tuple(caches)


def _chain_backward(layers, params, caches, dA):
    grads = []
    for layer, p, cache in reversed(tuple(zip(layers, params, caches, strict=True))):
        dA, g = layer.backward(p, cache, dA)
        grads.append(g)
    return dA, tuple(reversed(grads))


_optional_activation = functools.partial(check_activation, optional=True)


class Residual(Layer):
    """``A = g(main(A_prev) + shortcut(A_prev))``: a block of layers with a skip connection.

    The course's identity block has ``shortcut=None`` (the input itself); its convolutional
    block has ``shortcut=(Conv2D(F3, 1, strides=s), BatchNorm())``
    (:func:`jaxnet.layers.identity_block`, :func:`jaxnet.layers.convolutional_block`). Any
    layers fit, dense ones and other blocks included, as long as both paths give the same
    shape. ``activation`` (default ``"relu"``) is applied to the sum; None adds only.

    Args:
      main: the main path's layers, in order (a non-empty sequence).
      shortcut: the shortcut's layers, or None for the identity.
      activation: the activation of the sum.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import Activation, BatchNorm, Conv2D, Residual
      >>> block = Residual(
      ...     main=(Conv2D(4, 3, strides=2, padding="same"), BatchNorm(), Activation("relu"),
      ...           Conv2D(4, 3, padding="same"), BatchNorm()),
      ...     shortcut=(Conv2D(4, 1, strides=2), BatchNorm()))
      >>> block.output_shape((8, 8, 2))
      (4, 4, 4)
      >>> params = block.init(jax.random.key(0), (8, 8, 2))
      >>> sorted(params), len(params["main"]), params["shortcut"][0]["W"].shape
      (['main', 'shortcut'], 5, (1, 1, 2, 4))
      >>> A, cache = block.forward(params, jnp.ones((3, 8, 8, 2)), train=True)
      >>> dA_prev, grads = block.backward(params, cache, jnp.ones(A.shape))
      >>> A.shape, dA_prev.shape, grads["main"][0]["W"].shape
      ((3, 4, 4, 4), (3, 8, 8, 2), (3, 3, 2, 4))
    """

    kind = "residual"
    main: tuple = field(check=check_sublayers)
    shortcut: tuple | None = field(
        default=None, check=functools.partial(check_sublayers, optional=True), omit_default=True
    )
    activation: str | None = field(default="relu", check=_optional_activation)

    # --- what it is made of ---------------------------------------------------------------

    def sublayers(self) -> dict[str, tuple[Layer, ...]]:
        """``{"main": main}``, and ``"shortcut"`` when it is not the identity."""
        return {"main": self.main} | ({} if self.shortcut is None else {"shortcut": self.shortcut})

    def _branches(self, input_shape):
        """``{name: (layers, input shapes, output shape)}`` for each path but the identity."""
        out = {}
        for name, layers in self.sublayers().items():
            shapes = _shapes(layers, input_shape, name)
            out[name] = (layers, shapes[:-1], shapes[-1])
        return out

    def to_dict(self) -> dict:
        """``{"kind": "residual", "main": [layer dicts], "shortcut": [layer dicts] or left
        out for the identity, "activation": ...}``: JSON, rebuilt by ``from_dict``."""
        d = super().to_dict()
        for name, layers in self.sublayers().items():
            d[name] = [layer.to_dict() for layer in layers]
        return d

    @property
    def needs_key(self) -> bool:  # type: ignore[override]
        """Whether a sub-layer draws randomness in training (a dropout inside)."""
        return any(getattr(s, "needs_key", False) for seq in self.sublayers().values() for s in seq)

    # --- shapes and params ----------------------------------------------------------------

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """Both paths' output shape; a ``ValueError`` saying both when they differ."""
        branches = self._branches(input_shape)
        main = branches["main"][2]
        shortcut = branches["shortcut"][2] if "shortcut" in branches else tuple(input_shape)
        if main != shortcut:
            what = "shortcut" if self.shortcut is not None else "identity shortcut (the input)"
            hint = (
                ""
                if self.shortcut is not None
                else ": give the block a shortcut that matches, e.g. shortcut=(Conv2D(n_C, 1, "
                "strides=s), BatchNorm()) for a convolutional block"
            )
            raise ValueError(
                f"the main path's output shape {main} differs from the {what}'s "
                f"{shortcut} on input shape {tuple(input_shape)}{hint}"
            )
        return main

    def _per_branch(self, input_shape, method: str) -> dict:
        return {
            name: tuple(getattr(s, method)(shape) for s, shape in zip(layers, shapes))
            for name, (layers, shapes, _) in self._branches(input_shape).items()
        }

    def param_shapes(self, input_shape) -> dict:
        """``{"main": (shapes of each sub-layer), "shortcut": (...)}`` (no shortcut: identity)."""
        return self._per_branch(input_shape, "param_shapes")

    def trainable(self, input_shape) -> dict:
        """The sub-layers' own answers, in the params' tree."""
        return self._per_branch(input_shape, "trainable")

    def l2_coefficients(self, input_shape) -> dict:
        """The sub-layers' own λ per leaf, in the params' tree."""
        return self._per_branch(input_shape, "l2_coefficients")

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=None) -> dict:
        """Each sub-layer's own ``init``: from the pre-drawn values ``jn.init`` passes (taken in
        order: main, then shortcut), or from ``fold_in(key, i)`` for a ``jax.random`` key."""
        self.output_shape(input_shape)
        kw = {"scale": scale} | ({} if dtype is None else {"dtype": dtype})
        params, i = {}, 0
        for name, (layers, shapes, _) in self._branches(input_shape).items():
            inits = []
            for layer, shape in zip(layers, shapes):
                inits.append(layer.init(_init_key(key, i), shape, scheme, **kw))
                i += 1
            params[name] = tuple(inits)
        return params

    # --- forward and the hand-derived backward --------------------------------------------

    def forward(self, params, A_prev, *, key=None, train=False, weights=None):
        """``(A, ((main caches, shortcut caches), Z))``: the course's cache ``(inner, Z)``."""
        self.output_shape(A_prev.shape[1:])
        main, caches = _chain_forward(self.main, params["main"], A_prev, key, 0, train, weights)
        shortcut, shortcut_caches = A_prev, ()
        if self.shortcut is not None:
            shortcut, shortcut_caches = _chain_forward(
                self.shortcut, params["shortcut"], A_prev, key, len(self.main), train, weights
            )
        Z = main + shortcut
        A = Z if self.activation is None else activations.get(self.activation).fn(Z)
        return A, ((caches, shortcut_caches), Z)

    def backward(self, params, cache, dA):
        """``(dA_main_prev + dA_shortcut_prev, {"main": ..., "shortcut": ...})`` from
        ``dZ = dA g'(Z)`` sent down both paths (the module docstring)."""
        (caches, shortcut_caches), Z = cache
        dZ = dA if self.activation is None else activations.get(self.activation).vjp(Z, dA)
        dA_prev, grads = _chain_backward(self.main, params["main"], caches, dZ)
        if self.shortcut is None:
            return dA_prev + dZ, {"main": grads}
        dA_shortcut, shortcut_grads = _chain_backward(
            self.shortcut, params["shortcut"], shortcut_caches, dZ
        )
        return dA_prev + dA_shortcut, {"main": grads, "shortcut": shortcut_grads}

    def stats(self, cache) -> dict:
        """The sub-layers' new state (batch norm's moving statistics), in the params' tree."""
        (caches, shortcut_caches), _ = cache
        out = {"main": tuple(s.stats(c) for s, c in zip(self.main, caches, strict=True))}
        if self.shortcut is not None:
            out["shortcut"] = tuple(
                s.stats(c) for s, c in zip(self.shortcut, shortcut_caches, strict=True)
            )
        return out
