"""A ``jax.example_libraries.stax`` pair ``(init_fun, apply_fun)`` as a :class:`jaxnet.Model`."""

from __future__ import annotations

from collections.abc import Callable

import jax

from jaxnet.model import Model
from jaxnet.network import _check_input_shape

__all__ = ["from_stax"]


def from_stax(
    init_fun: Callable,
    apply_fun: Callable,
    input_shape,
    *,
    loss,
    output: str | None = None,
    needs_key: bool = False,
    name: str = "stax",
) -> Model:
    """The stax model ``(init_fun, apply_fun)`` (e.g. from ``stax.serial``) on examples of ``input_shape``.

    ``init(key)`` is ``init_fun(key, (-1, *input_shape))``'s params; ``apply`` is
    ``apply_fun(params, X, rng=key)`` (with NumPy rank promotion allowed, on which
    ``stax.Dense``'s bias relies). stax has no inference mode: a ``stax.Dropout``
    keeps the mode it was built with (pass ``needs_key=True`` for one in ``"train"`` mode).

    Args:
      init_fun, apply_fun: the stax pair; ``apply_fun`` returns logits ``(m, n_out)`` (no
        final ``stax.Sigmoid``/``stax.Softmax``/``stax.LogSoftmax``: the loss applies it).
      input_shape: one example's shape, e.g. ``(2,)``.
      loss, output, needs_key, name: as for :class:`jaxnet.Model`.

    Returns:
      The :class:`jaxnet.Model`; its params are stax's (a tuple per layer).

    Example:
      >>> import jax, numpy as np
      >>> from jax.example_libraries import stax
      >>> import jaxnet as jn
      >>> model = jn.interop.from_stax(*stax.serial(stax.Dense(4), stax.Tanh, stax.Dense(1)),
      ...                              input_shape=(2,), loss="bce")
      >>> params = model.init(jax.random.key(0))
      >>> [tuple(p.shape for p in layer) for layer in params]
      [((2, 4), (4,)), (), ((4, 1), (1,))]
      >>> jn.predict(model, params, np.zeros((3, 2), np.float32)).shape
      (3,)
    """
    input_shape = _check_input_shape(input_shape)

    def init(key):
        return init_fun(key, (-1, *input_shape))[1]

    def apply(params, X, *, key, train):
        del train  # stax layers keep the mode they were built with
        with jax.numpy_rank_promotion("allow"):  # stax.Dense adds b (n,) to (m, n)
            return apply_fun(params, X, rng=key)

    init.__qualname__, apply.__qualname__ = f"{name}.init", f"{name}.apply"
    return Model(init, apply, loss=loss, output=output, name=name, needs_key=needs_key,
                 input_shape=input_shape)  # fmt: skip
