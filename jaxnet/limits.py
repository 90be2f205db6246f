"""The documented bounds on sizes: what a layer, a network and ``jaxnet train`` accept.

Sizes far beyond any network this library trains are refused where they are given, with
a ``ValueError`` naming the argument, instead of overflowing inside XLA (a C++ abort) or
running for hours:

====================  ===================  ==============================================
bound                 value                checked by
====================  ===================  ==============================================
``units``             2**24 (16,777,216)   ``Dense``, the recurrent layers, ``Network``
``filters``           2**16 (65,536)       ``Conv2D``
``kernel_size``       1,024                ``Conv2D``
``strides``           1,024                ``Conv2D``, ``MaxPool2D``, ``AvgPool2D``
``padding``           1,024                ``Conv2D`` (an int padding)
``pool_size``         1,024                ``MaxPool2D``, ``AvgPool2D``
``vocab_size``        2**24 (16,777,216)   ``Embedding``
``dim``               2**16 (65,536)       ``Embedding``
``layers``            1,024                ``Network`` / ``Sequential`` (depth)
``input_size``        2**31 - 1            ``Network`` (values per example)
``MAX_PARAMS``        2**27 (134,217,728)  ``jaxnet train`` (parameters of the network)
``MAX_ACTIVATIONS``   2**30                ``jaxnet train`` (values per batch, all layers)
``MAX_TOKENS``        100                  ``jaxnet train --arch`` (tokens)
====================  ===================  ==============================================

>>> at_most(units=512)
>>> try:
...     at_most(units=10**20)
... except ValueError as e:
...     print(e)
units must be at most 16777216 (jaxnet.limits), got 100000000000000000000
"""

from __future__ import annotations

import math
import numbers

__all__ = ["MAX_ACTIVATIONS", "MAX_PARAMS", "MAX_TOKENS", "MAXIMA", "at_most", "check_budget"]

MAXIMA = {
    "units": 2**24,
    "filters": 2**16,
    "kernel_size": 1024,
    "strides": 1024,
    "padding": 1024,
    "pool_size": 1024,
    "vocab_size": 2**24,
    "dim": 2**16,
    "layers": 1024,
    "input_size": 2**31 - 1,
}
MAX_PARAMS = 2**27  # jaxnet train: 512 MiB of float32 params (and as much per optimiser slot)
MAX_ACTIVATIONS = 2**30  # jaxnet train: values held per batch, inputs and every layer's output
MAX_TOKENS = 100  # jaxnet train --arch


def at_most(**values) -> None:
    """Refuse an integer above its bound in ``MAXIMA`` (other values are left to the
    type checks of the caller).

    Args:
      values: ``name=value`` pairs, names among ``MAXIMA``.

    Raises:
      ValueError: the first value above its bound, naming it.
    """
    for name, value in values.items():
        big = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        if big and value > MAXIMA[name]:
            raise ValueError(
                f"{name} must be at most {MAXIMA[name]} (jaxnet.limits), got {value!r}"
            )


def _sizes(net) -> tuple[int, int]:
    """``(parameters, values per example)`` of ``net``: its params' sizes, and its input's
    plus every layer's output (what a forward pass with caches holds per example)."""
    values = math.prod(net.input_shape) + sum(
        _values(layer, shape) for layer, shape in zip(net.layers, net.input_shapes)
    )
    return net.num_params, values


def _values(layer, input_shape) -> int:
    """The values per example that ``layer`` outputs on ``input_shape``, and for a layer made
    of layers (a residual block) every output along its paths too."""
    total = math.prod(layer.output_shape(input_shape))
    for path in layer.sublayers().values():
        shape = tuple(input_shape)
        for sub in path:
            total += _values(sub, shape)
            shape = tuple(sub.output_shape(shape))
    return total


def check_budget(net, batch: int, name: str) -> None:
    """Refuse a network whose parameters or activations per batch exceed ``MAX_PARAMS``
    or ``MAX_ACTIVATIONS``, before anything is compiled.

    Args:
      net: a :class:`jaxnet.Network`.
      batch: the examples per training step (the batch size, or the training set).
      name: what gave the network, for the message (``"--arch conv8k3-..."``).

    Raises:
      ValueError: naming ``name``, the count and the bound.

    Example:
      >>> import jaxnet as jn
      >>> check_budget(jn.Network((784, 512, 10)), 128, "--layers 512")
      >>> try:
      ...     check_budget(jn.Network((784, 10**6, 10)), 128, "--layers 1000000")
      ... except ValueError as e:
      ...     print(str(e)[:60])
      --layers 1000000 has 795,000,010 parameters, more than the 1
    """
    params, values = _sizes(net)
    if params > MAX_PARAMS:
        raise ValueError(
            f"{name} has {params:,} parameters, more than the {MAX_PARAMS:,} jaxnet train "
            "accepts (jaxnet.limits.MAX_PARAMS); make the layers smaller"
        )
    if values * batch > MAX_ACTIVATIONS:
        raise ValueError(
            f"{name} holds {values:,} values per example (its input and every layer's "
            f"output), {values * batch:,} per batch of {batch}: more than the "
            f"{MAX_ACTIVATIONS:,} jaxnet train accepts (jaxnet.limits.MAX_ACTIVATIONS); make "
            "the layers or the batch smaller"
        )
