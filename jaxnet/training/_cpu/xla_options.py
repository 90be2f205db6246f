"""XLA options for ``fit_ensemble``'s compiled runner on a narrow network, probed once on first use.

XLA:CPU hands some fused reductions to a kernel library (YNNPACK, "ynn" fusions); for
the reductions over the examples of many small models at once (``(K, m, 1) -> (K,)``)
that path is much slower than XLA's own loop (benchmarks/README.md), so
:data:`COMPILER_OPTIONS` keeps the library for matrix products only. ``fit`` does not
use them (one model's larger products gain from the library). They are ``xla_cpu_*``
options: other backends ignore them, and an XLA that does not know them is detected by
the probe and then compiles without them. The probe needs a backend, so it runs on the
first compile, never at import (``jax.distributed.initialize`` must come first on a
multi-host run).

The option is an XLA:CPU internal (:mod:`jaxnet.training._cpu` lists it with the JAX
internals the machinery relies on).
"""

from __future__ import annotations

import functools

import jax

__all__ = ["COMPILER_OPTIONS", "compiler_options"]

COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


@functools.cache
def compiler_options() -> dict[str, str]:
    """:data:`COMPILER_OPTIONS` if this XLA accepts them, else ``{}`` (probed once)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=COMPILER_OPTIONS).lower(1.0).compile()
    except Exception:  # an XLA without the option: "No such compile option"
        return {}
    return dict(COMPILER_OPTIONS)
