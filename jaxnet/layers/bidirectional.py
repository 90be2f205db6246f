"""A recurrent layer run both ways over a sequence, the two outputs concatenated (course 5's BRNN).

``Bidirectional(layer)`` runs ``layer`` (a SimpleRNN, LSTM or GRU) forwards over ``x`` and a
second copy, with its own params, over ``x`` reversed; the outputs are concatenated on the
last axis, ``[a_forward, a_backward]``: ``(m, 2 units)``, or ``(m, T, 2 units)`` with
``return_sequences`` (the backward run's states put back in the forward order, so step t
holds both directions' states at step t).

Masks: with padded steps only the valid part of each sequence is reversed (the valid
steps, in reverse order, take the valid positions), so the backward run starts at a
sequence's last real step and a padded batch gives each sequence's result alone.

The reversal is a permutation ``P`` of the steps that is its own inverse, so its backward is
``P`` again: ``dA_prev = dx_forward + P(dx_backward)``; each direction's params gradients are
its layer's hand-derived BPTT. The params are flat: the inner layer's names prefixed with
``fw_`` and ``bw_``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnet import initializers
from jaxnet.layers.base import Layer, check_layer, field, from_dict
from jaxnet.layers.recurrent import GRU, LSTM, SimpleRNN, check_sequence

__all__ = ["Bidirectional", "reverse_valid"]

PREFIXES = ("fw_", "bw_")


def _check_recurrent(value, name: str):
    """``value`` as a recurrent layer (a dict from JSON rebuilt); else a clear error."""
    if isinstance(value, dict):
        value = from_dict(value)
    check_layer(value, name)
    if not isinstance(value, SimpleRNN | LSTM | GRU):
        raise TypeError(
            f"{name} must be a recurrent layer (SimpleRNN, LSTM or GRU), got {value!r:.80}"
        )
    if value.return_state:
        raise ValueError(
            f"{name} must return its outputs only, got {value!r:.80}: Bidirectional concatenates "
            "one output per direction (leave return_state out)"
        )
    return value


def reverse_valid(x, mask):
    """``x (m, T, ...)`` with each sequence's valid steps reversed in place (all steps without a mask).

    Args:
      x: ``(m, T, ...)``.
      mask: ``(m, T)`` booleans (True = a real step) or None.

    Returns:
      ``x`` permuted along axis 1; applying it twice gives ``x`` back.

    Example:
      >>> import jax.numpy as jnp
      >>> x = jnp.arange(5.0)[None, :, None]
      >>> reverse_valid(x, None)[0, :, 0].tolist()
      [4.0, 3.0, 2.0, 1.0, 0.0]
      >>> reverse_valid(x, jnp.array([[False, True, True, True, False]]))[0, :, 0].tolist()
      [0.0, 3.0, 2.0, 1.0, 4.0]
    """
    if mask is None:
        return x[:, ::-1]
    T = mask.shape[1]
    steps = jnp.arange(T)
    rank = jnp.cumsum(mask, axis=1) - 1  # a valid step's rank among the valid ones
    count = mask.sum(axis=1, keepdims=True)
    order = jnp.argsort(jnp.where(mask, rank, T + steps[None, :]), axis=1)  # valid first, in order
    partner = jnp.take_along_axis(order, jnp.clip(count - 1 - rank, 0, T - 1), axis=1)
    perm = jnp.where(mask, partner, steps[None, :])
    index = perm.reshape(*perm.shape, *(1,) * (x.ndim - 2))
    return jnp.take_along_axis(x, jnp.broadcast_to(index, x.shape), axis=1)


class Bidirectional(Layer):
    """``layer`` run forwards and, with params of its own, backwards; outputs concatenated.

    Params: ``layer``'s, prefixed ``fw_`` and ``bw_``. Input ``(m, T, n_x)``; output
    ``(m, 2 units)``, or ``(m, T, 2 units)`` when ``layer`` returns sequences.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import GRU, Bidirectional
      >>> layer = Bidirectional(GRU(3, return_sequences=True))
      >>> layer.output_shape((5, 2)), sorted(layer.param_shapes((5, 2)))[:3]
      ((5, 6), ['bw_Wc', 'bw_Wr', 'bw_Wu'])
      >>> layer.to_dict()
      {'kind': 'bidirectional', 'layer': {'kind': 'gru', 'units': 3, 'return_sequences': True}}
      >>> params = layer.init(jax.random.key(0), (5, 2))
      >>> A, cache = layer.forward(params, jnp.ones((4, 5, 2)))
      >>> A.shape, layer.backward(params, cache, jnp.ones_like(A))[0].shape
      ((4, 5, 6), (4, 5, 2))
    """

    kind = "bidirectional"
    takes_mask = True
    layer: Layer = field(check=_check_recurrent)

    def to_dict(self) -> dict:
        """``{"kind": "bidirectional", "layer": layer.to_dict()}``."""
        return {"kind": self.kind, "layer": self.layer.to_dict()}

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """The inner layer's, its last axis doubled."""
        *lead, units = self.layer.output_shape(input_shape)
        return (*lead, 2 * units)

    def param_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """The inner layer's shapes, once per direction (``fw_``, ``bw_``)."""
        inner = self.layer.param_shapes(input_shape)
        return {f"{p}{k}": s for p in PREFIXES for k, s in inner.items()}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """The inner layer's init, forward direction first."""
        params = {}
        for i, prefix in enumerate(PREFIXES):
            subkey = key if isinstance(key, initializers.Draws) else jax.random.fold_in(key, i)
            inner = self.layer.init(subkey, input_shape, scheme, scale=scale, dtype=dtype)
            params |= {f"{prefix}{k}": v for k, v in inner.items()}
        return params

    def _split(self, params: dict) -> tuple[dict, dict]:
        return tuple({k[3:]: v for k, v in params.items() if k.startswith(p)} for p in PREFIXES)

    def forward(self, params: dict, A_prev, *, key=None, train=False, weights=None, mask=None):
        """``(concat(A_forward, A_backward), cache)``; ``mask (m, T)`` or None."""
        del key, train, weights
        check_sequence(A_prev)
        p_fw, p_bw = self._split(params)
        A_fw, cache_fw = self.layer.forward(p_fw, A_prev, mask=mask)
        A_bw, cache_bw = self.layer.forward(p_bw, reverse_valid(A_prev, mask), mask=mask)
        if self.layer.return_sequences:
            A_bw = reverse_valid(A_bw, mask)
        return jnp.concatenate([A_fw, A_bw], axis=-1), (cache_fw, cache_bw, mask)

    def backward(self, params: dict, cache, dA):
        """``(dx_forward + P(dx_backward), dparams)``, ``P`` the reversal (its own inverse)."""
        cache_fw, cache_bw, mask = cache
        p_fw, p_bw = self._split(params)
        units = self.layer.units
        dA_fw, dA_bw = dA[..., :units], dA[..., units:]
        if self.layer.return_sequences:
            dA_bw = reverse_valid(dA_bw, mask)
        dx_fw, g_fw = self.layer.backward(p_fw, cache_fw, dA_fw)
        dx_bw, g_bw = self.layer.backward(p_bw, cache_bw, dA_bw)
        grads = {f"fw_{k}": v for k, v in g_fw.items()} | {f"bw_{k}": v for k, v in g_bw.items()}
        return dx_fw + reverse_valid(dx_bw, mask), grads
