"""An Equinox module as a :class:`jaxnet.Model`: its float arrays trained, the rest kept static."""

from __future__ import annotations

import jax

from jaxnet.interop._optional import module_or_factory, require
from jaxnet.model import Model

__all__ = ["from_equinox"]


def from_equinox(
    module, *, loss, output: str | None = None, needs_key: bool = False, name: str | None = None
) -> Model:
    """The Equinox ``module`` (or a function ``key -> module``) as a :class:`jaxnet.Model`.

    An Equinox module takes ONE example; ``apply`` vmaps it over the ``m`` examples of ``X``
    (``jax.vmap(module)(X)``), with ``eqx.nn.inference_mode(module, not train)`` so that
    ``eqx.nn.Dropout`` runs only in training. The params are the module's float arrays
    (``eqx.filter(module, eqx.is_inexact_array)``, a module with ``None`` elsewhere); the
    trained module is ``eqx.combine(params, module)``.

    Args:
      module: an ``equinox.Module`` whose call ``module(x)`` (``module(x, key=k)`` with
        ``needs_key``) returns logits ``(n_out,)`` for one example ``x``; or a function
        ``key -> module`` (then ``init(key)`` builds a fresh module: ``fit_ensemble`` over seeds).
        A module given as it is was initialised when it was built: ``init`` returns its
        arrays whatever the key.
      loss, output, name: as for :class:`jaxnet.Model`.
      needs_key: the module draws randomness in training (``eqx.nn.Dropout``): each example
        gets its own key, ``module(x, key=k)``.

    Returns:
      The :class:`jaxnet.Model`. Equinox's stateful layers (``eqx.nn.BatchNorm`` with
      ``eqx.nn.State``) are not covered: write a stateful :class:`jaxnet.Model` for them.

    Example:
      >>> import jax, equinox as eqx, numpy as np
      >>> import jaxnet as jn
      >>> mlp = eqx.nn.MLP(2, 1, width_size=4, depth=1, activation=jax.nn.tanh, key=jax.random.key(0))
      >>> model = jn.interop.from_equinox(mlp, loss="bce")
      >>> params = model.init(jax.random.key(0))
      >>> params.layers[0].weight.shape, params.activation   # arrays kept, the rest None
      ((4, 2), None)
      >>> jn.forward(model, params, np.zeros((3, 2), np.float32)).shape
      (3, 1)
    """
    eqx = require("equinox", "from_equinox")
    module, make = module_or_factory(module, eqx.Module, "equinox.Module")
    arrays, static = eqx.partition(module, eqx.is_inexact_array)

    def init(key):
        if make is None:
            return arrays
        return eqx.filter(make(key), eqx.is_inexact_array)

    def apply(params, X, *, key, train):
        model = eqx.nn.inference_mode(eqx.combine(params, static), value=not train)
        if key is None:
            return jax.vmap(model)(X)
        return jax.vmap(lambda x, k: model(x, key=k))(X, jax.random.split(key, X.shape[0]))

    name = name or type(module).__name__
    init.__qualname__, apply.__qualname__ = f"{name}.init", f"{name}.apply"
    return Model(init, apply, loss=loss, output=output, name=name, needs_key=needs_key)
