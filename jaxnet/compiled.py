"""``jit``: ``jax.jit`` with XLA options, for ``fit_ensemble``'s compiled runner.

XLA:CPU hands some fused reductions to a kernel library (YNNPACK, "ynn" fusions). For
the reductions over the examples of many small models at once (``(K, m, 1) -> (K,)``
in a ``fit_ensemble`` of planar networks) that path measured ten times slower than
XLA's own loop (240 against 22 µs on 2 CPU cores), and it was 40% of an ensemble
step. :data:`COMPILER_OPTIONS` keeps the library for matrix products only. (One
model's MNIST epoch is faster WITH the library, 0.69 against 0.72 s, so ``fit`` does
not use these options.) They are ``xla_cpu_*`` options: other backends ignore them,
and an XLA that does not know them is detected once, on the first compile, and then
compiles without them.

The jitted function is built on its first call, not at import: probing the options
needs a backend, and importing jaxnet must not start one (``jax.distributed.initialize``
has to come first on a multi-host run). ``compiler_options`` can only be given to the
outermost ``jit``; the functions called inside are plain ``jax.jit``.
"""

from __future__ import annotations

import functools

import jax

COMPILER_OPTIONS = {"xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_DOT"}


@functools.cache
def compiler_options() -> dict[str, str]:
    """:data:`COMPILER_OPTIONS` if this XLA accepts them, else ``{}`` (probed once)."""
    try:
        jax.jit(lambda x: x + 1, compiler_options=COMPILER_OPTIONS).lower(1.0).compile()
    except Exception:  # an XLA without the option: "No such compile option"
        return {}
    return dict(COMPILER_OPTIONS)


class jit:  # noqa: N801 - used as a decorator, like jax.jit
    """``jax.jit(fun, **kwargs)`` with :func:`compiler_options`, made on the first call.

    Everything else (``lower``, ``_cache_size``, ...) is the jitted function's.
    """

    def __init__(self, fun, **jit_kwargs):
        self._fun, self._jit_kwargs = fun, jit_kwargs
        functools.update_wrapper(self, fun)

    @functools.cached_property
    def jitted(self):
        return jax.jit(self._fun, compiler_options=compiler_options(), **self._jit_kwargs)

    def __call__(self, *args, **kwargs):
        return self.jitted(*args, **kwargs)

    def __getattr__(self, name):
        if name in ("_fun", "_jit_kwargs", "jitted"):  # not set yet: no recursion
            raise AttributeError(name)
        return getattr(self.jitted, name)
