"""Models of other JAX libraries as :class:`jaxnet.Model`: Flax NNX and Linen, Equinox, stax.

Each adapter returns a :class:`jaxnet.Model` whose ``init(key)`` gives the params jaxnet
trains and whose ``apply`` runs the library's own module, so ``jn.fit``,
``jn.fit_ensemble``, ``jn.evaluate``, ``jn.predict``, callbacks, checkpoints and sharding
train it as they train a network (by ``jax.grad``: ``backprop="autodiff"``). The module
must return the outputs before the output activation (logits), one array ``(m, n_out)``.

- :func:`from_flax_nnx`: the ``nnx.Param`` state trains (``nnx.BatchStat`` is the model's
  state); back into the module with ``nnx.update(module, params)``.
- :func:`from_flax_linen`: the ``"params"`` collection trains (other collections are the
  state); back with ``module.apply({"params": params}, x)``.
- :func:`from_equinox`: the module's float arrays train; back with ``eqx.combine(params, module)``.
- :func:`from_stax`: stax's params train; back with ``apply_fun(params, x)``.

flax and equinox are optional (``pip install "jaxnet[interop]"``); they are imported when
an adapter is called, never by ``import jaxnet``.
"""

from jaxnet.interop.equinox import from_equinox
from jaxnet.interop.flax_linen import from_flax_linen
from jaxnet.interop.flax_nnx import from_flax_nnx
from jaxnet.interop.stax import from_stax

__all__ = ["from_equinox", "from_flax_linen", "from_flax_nnx", "from_stax"]
