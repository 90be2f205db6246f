"""``jax.grad`` through jaxnet's convolution and pooling: their custom VJPs, and the switch to trace without them.

``conv_forward`` and ``pool_forward`` carry a ``jax.custom_vjp`` whose backward is the
layer's own hand-derived one (``conv_backward``, ``pool_backward``): ``jax.grad`` of any
model built on them runs the backward that XLA runs fast, also inside ``fit``'s compiled
loop, where XLA:CPU runs the convolution JAX's transpose rule emits for ``dW`` as a naive
loop (benchmarks/README.md). A custom VJP has no forward mode: ``jax.jvp``, ``jax.jacfwd``
and ``jax.hessian`` through these layers raise JAX's ``TypeError`` (nothing in jaxnet uses
forward mode).

:func:`plain_autodiff` traces them without the custom VJPs, as the plain ``lax``
primitives, so that ``jax.vjp`` is JAX's own derivative: the independent witness that the
tests and :func:`jaxnet.gradcheck` compare the hand-derived backward with. The switch is
read while tracing; a function already traced and cached by ``jax.jit`` keeps the form
it was traced with.
"""

from __future__ import annotations

import contextlib
import contextvars

__all__ = ["custom_vjp_enabled", "plain_autodiff"]

_CUSTOM_VJP = contextvars.ContextVar("jaxnet_custom_vjp", default=True)


def custom_vjp_enabled() -> bool:
    """Whether the layers being traced now carry their custom VJPs (True unless inside :func:`plain_autodiff`)."""
    return _CUSTOM_VJP.get()


@contextlib.contextmanager
def plain_autodiff():
    """Trace convolution and pooling as plain ``lax`` primitives: ``jax.grad`` is then JAX's own derivative.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import conv_forward
      >>> from jaxnet.layers._autodiff import plain_autodiff
      >>> def f(W):
      ...     return conv_forward(jnp.ones((1, 3, 3, 1)), W, jnp.zeros(1))[0].sum()
      >>> with plain_autodiff():
      ...     plain = jax.grad(f)(jnp.ones((2, 2, 1, 1)))
      >>> bool((plain == jax.grad(f)(jnp.ones((2, 2, 1, 1)))).all())
      True
    """
    token = _CUSTOM_VJP.set(False)
    try:
        yield
    finally:
        _CUSTOM_VJP.reset(token)
