"""A Flax NNX module as a :class:`jaxnet.Model`: its ``nnx.Param`` trained, ``nnx.BatchStat`` its state."""

from __future__ import annotations

import jax

from jaxnet.interop._optional import module_or_factory, require
from jaxnet.model import Model

__all__ = ["from_flax_nnx"]


def from_flax_nnx(module, *, loss, output: str | None = None, name: str | None = None) -> Model:
    """The NNX ``module`` (or a function ``key -> module``) as a :class:`jaxnet.Model`.

    The module is split once (``nnx.split``): its ``nnx.Param`` state is what jaxnet trains,
    its ``nnx.BatchStat`` state (``nnx.BatchNorm``'s running statistics), if any, makes the
    model stateful, and the rest (RNG streams, ...) is kept as it is. ``apply`` merges them
    back into a module, in training mode (``module.train()``: dropout on, batch statistics)
    or inference mode (``module.eval()``), and calls it on the batch. A module with RNG
    streams (``nnx.Dropout``) needs a key: every step reseeds its streams from jaxnet's
    step key (``nnx.reseed``), so the masks follow the run's key as a network's do.

    Args:
      module: an ``nnx.Module`` whose call ``module(x)`` returns logits ``(m, n_out)``; or
        a function ``key -> module`` (then ``init(key)`` builds a fresh one: ``fit_ensemble``
        over seeds). A module given as it is was initialised when it was built: ``init``
        returns its params whatever the key.
      loss, output, name: as for :class:`jaxnet.Model`.

    Returns:
      The :class:`jaxnet.Model`; its params are an ``nnx.State`` (and ``(params, state)``
      with batch statistics): ``nnx.update(module, params)`` puts trained params back.

    Example:
      >>> import jax, numpy as np
      >>> from flax import nnx
      >>> import jaxnet as jn
      >>> class MLP(nnx.Module):
      ...     def __init__(self, rngs):
      ...         self.hidden, self.out = nnx.Linear(2, 4, rngs=rngs), nnx.Linear(4, 1, rngs=rngs)
      ...     def __call__(self, x):
      ...         return self.out(jax.nn.tanh(self.hidden(x)))
      >>> module = MLP(nnx.Rngs(0))
      >>> model = jn.interop.from_flax_nnx(module, loss="bce")
      >>> params = model.init(jax.random.key(0))
      >>> params["hidden"]["kernel"].shape
      (2, 4)
      >>> jn.predict(model, params, np.zeros((3, 2), np.float32)).shape
      (3,)
    """
    nnx = require("flax.nnx", "from_flax_nnx")
    module, make = module_or_factory(module, nnx.Module, "nnx.Module")
    graphs = {train: _graph(nnx, module, train) for train in (True, False)}
    _, params0, state0, rest = nnx.split(module, nnx.Param, nnx.BatchStat, ...)
    stateful = bool(jax.tree.leaves(state0))
    streams = sorted(
        {node.tag for _, node in nnx.iter_graph(module) if isinstance(node, nnx.RngStream)}
    )

    def init(key):
        if make is None:
            return (params0, state0) if stateful else params0
        _, params, state, _ = nnx.split(make(key), nnx.Param, nnx.BatchStat, ...)
        return (params, state) if stateful else params

    def run(params, state, X, key, train):
        # fresh Variables at this trace level: merge would share (and mutate) the given ones
        params, state, fresh_rest = jax.tree.map(lambda a: a, (params, state, rest))
        m = nnx.merge(graphs[train], params, state, fresh_rest)
        if key is not None:
            nnx.reseed(m, **dict.fromkeys(streams, key))
        return m(X), nnx.state(m, nnx.BatchStat)

    if stateful:

        def apply(params, state, X, *, key, train):
            return run(params, state, X, key, train)

    else:

        def apply(params, X, *, key, train):
            return run(params, state0, X, key, train)[0]

    name = name or type(module).__name__
    init.__qualname__, apply.__qualname__ = f"{name}.init", f"{name}.apply"
    return Model(init, apply, loss=loss, output=output, name=name, stateful=stateful,
                 needs_key=bool(streams))  # fmt: skip


def _graph(nnx, module, train: bool):
    """The graph of ``module`` in training (``.train()``) or inference (``.eval()``) mode."""
    copy = nnx.clone(module)
    copy.train() if train else copy.eval()
    return nnx.split(copy)[0]
