"""The CPU-only speed machinery of ``jn.fit_ensemble``, behind one switch: :func:`applies`.

K vmapped copies of a narrow network (the course's 2-4-1) are many tiny arrays, and
XLA:CPU runs them slowly as written. Two parts make them fast, each exact (a run equals
the plain vmapped run: tests/test_examples_last.py and the examples-last tests of
test_ensemble.py):

- :mod:`.layout`: the step evaluated with the examples axis stored last, the
  course's layout ``A (n[l], m)``, so XLA:CPU vectorises the long examples axis rather
  than an axis of a few units;
- :mod:`.blocks`: the K models trained a block at a time, one block's activations within
  the CPU's cache.

**The switch.** :func:`applies` is the one place that decides: ``fit_ensemble`` asks it
once and records the answer as ``TrainConfig.cpu`` (static: the compiled program
differs), which the engine reads for the step's layout and the ensemble for its blocks.
It applies on the CPU backend, to a network whose layers hold at
most :data:`NARROW` values per example, without a mesh. ``jn.fit`` never uses it, nor does a
:class:`jaxnet.Model` (its layers are not jaxnet's: it runs batch-first).

**JAX internals relied on.** Each is checked against the installed JAX by
tests/test_cpu_internals.py, so an upgrade that changes one fails there, by name, rather
than silently slowing the ensemble (a primitive without a rule runs batch-first, with
transposes) or breaking it:

1. ``jax.make_jaxpr(fun, return_shape=True)`` returns a ``jax.extend.core.ClosedJaxpr``
   (``.jaxpr``, ``.consts``) and the output shapes; its ``Jaxpr`` has ``constvars``,
   ``invars``, ``outvars`` and ``eqns``.
2. An operand is a ``jax.extend.core.Literal`` (its value in ``.val``) or a variable
   whose ``.aval.shape`` is its shape.
3. An equation has ``primitive``, ``params``, ``invars``, ``outvars`` and ``ctx.manager``
   (the context it was traced in); ``primitive.bind(*operands,
   **primitive.get_bind_params(params))`` runs it again, and ``primitive.multiple_results``
   says whether it returns a list.
4. Primitive names: the elementwise primitives and reductions of
   :mod:`.layout`'s tables (``tanh``, ``logistic``, ``max``, ``reduce_sum``,
   ``argmax``, ...), and the calls evaluated inline, with the param that holds their
   jaxpr: ``jit`` (``pjit`` in older JAX) ``jaxpr``, ``custom_jvp_call`` and
   ``custom_vjp_call`` ``call_jaxpr``, ``remat2`` (``jax.checkpoint``) ``jaxpr``.
5. The params each rule rewrites: ``broadcast_in_dim`` (``shape``,
   ``broadcast_dimensions``), ``transpose`` (``permutation``), ``squeeze``
   (``dimensions``), ``reshape`` (``new_sizes``, ``dimensions``), ``slice``
   (``start_indices``, ``limit_indices``, ``strides``), ``pad`` (``padding_config``),
   ``concatenate`` (``dimension``), ``dot_general`` (``dimension_numbers``), the
   reductions (``axes``).
6. In a trace without a mesh, the ``sharding`` / ``out_sharding`` params are None (a
   value there marks a sharded operand, which keeps its layout).
"""

from __future__ import annotations

import math

import jax

from jaxnet.network import Network
from jaxnet.training._cpu.blocks import models_per_block, vmap_in_blocks
from jaxnet.training._cpu.layout import examples_last

__all__ = [
    "NARROW",
    "applies",
    "examples_last",
    "models_per_block",
    "narrow",
    "vmap_in_blocks",
]

NARROW = 64  # values per example, per layer, up to which the machinery applies


def applies(net, mesh) -> bool:
    """THE switch: whether ``fit_ensemble`` trains ``net`` with the CPU machinery.

    Args:
      net: the network (or a :class:`jaxnet.Model`, which it never applies to).
      mesh: the run's ``jax.sharding.Mesh``, or None.

    Returns:
      True on the CPU backend, without a mesh, for a :func:`narrow` network.
    """
    if not isinstance(net, Network):
        return False
    return mesh is None and narrow(net) and jax.default_backend() == "cpu"


def narrow(net) -> bool:
    """Whether every layer's input and output hold at most :data:`NARROW` values per example."""
    shapes = (*net.input_shapes, net.output_shape)
    return max(math.prod(s) for s in shapes) <= NARROW
