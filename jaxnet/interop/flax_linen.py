"""A Flax Linen module as a :class:`jaxnet.Model`: ``"params"`` trained, other collections its state."""

from __future__ import annotations

import jax

from jaxnet.interop._optional import require
from jaxnet.model import Model

__all__ = ["from_flax_linen"]


def from_flax_linen(
    module,
    example_input,
    *,
    loss,
    output: str | None = None,
    train_kwarg: str | None = None,
    needs_key: bool = False,
    name: str | None = None,
) -> Model:
    """The Linen ``module`` as a :class:`jaxnet.Model`, initialised on ``example_input``.

    ``init(key)`` is ``module.init(key, example_input)``: its ``"params"`` collection is
    what jaxnet trains; any other collection (``"batch_stats"`` of ``nn.BatchNorm``) makes
    the model stateful: ``init`` returns ``(params, state)`` and training carries the state
    (``apply(..., mutable=[...])`` in training). A dropout key reaches the module as the
    ``"dropout"`` rng.

    Args:
      module: a ``flax.linen.Module`` whose ``__call__(x, ...)`` returns logits ``(m, n_out)``.
      example_input: a batch of inputs ``(m, *input_shape)`` for ``module.init`` (e.g. ``X[:1]``).
      loss, output, needs_key, name: as for :class:`jaxnet.Model`.
      train_kwarg: the name of the module's keyword that switches training behaviour (e.g.
        ``"train"``: ``module(x, train=True)`` in training, ``False`` at inference); None if
        it has none.

    Returns:
      The :class:`jaxnet.Model`; trained params go back as ``module.apply({"params": params,
      **state}, x)``.

    Example:
      >>> import jax, numpy as np
      >>> import flax.linen as nn
      >>> import jaxnet as jn
      >>> class MLP(nn.Module):
      ...     @nn.compact
      ...     def __call__(self, x):
      ...         hidden = nn.tanh(nn.Dense(4)(x))
      ...         return nn.Dense(1)(hidden)
      >>> X = np.zeros((3, 2), np.float32)
      >>> model = jn.interop.from_flax_linen(MLP(), X[:1], loss="bce")
      >>> params = model.init(jax.random.key(0))
      >>> params["Dense_0"]["kernel"].shape, jn.predict(model, params, X).shape
      ((2, 4), (3,))
    """
    require("flax.linen", "from_flax_linen")
    example = jax.numpy.asarray(example_input)

    def flags(train: bool) -> dict:
        return {} if train_kwarg is None else {train_kwarg: train}

    def variables(key):
        return module.init(key, example, **flags(False))

    collections = sorted(jax.eval_shape(variables, jax.random.key(0)))
    state_collections = [c for c in collections if c != "params"]
    stateful = bool(state_collections)

    def init(key):
        v = variables(key)
        params = v["params"]
        return (params, {c: v[c] for c in state_collections}) if stateful else params

    def run(params, state, X, key, train):
        rngs = None if key is None else {"dropout": key}
        v = {"params": params, **state}
        if stateful and train:
            Z, updates = module.apply(v, X, rngs=rngs, mutable=state_collections, **flags(train))
            return Z, {**state, **updates}
        return module.apply(v, X, rngs=rngs, **flags(train)), state

    if stateful:

        def apply(params, state, X, *, key, train):
            return run(params, state, X, key, train)

    else:

        def apply(params, X, *, key, train):
            return run(params, {}, X, key, train)[0]

    name = name or type(module).__name__
    init.__qualname__, apply.__qualname__ = f"{name}.init", f"{name}.apply"
    return Model(init, apply, loss=loss, output=output, name=name, stateful=stateful,
                 needs_key=needs_key, input_shape=example.shape[1:])  # fmt: skip
