"""The course's attention decoder (course 5, week 3) as a layer: encoder states in, ``T_y`` per-step outputs out.

For ``t = 1..T_y``, from ``s<0> = c<0> = 0``::

    context<t>     = one_step_attention(a, s<t-1>)          :mod:`jaxnet.layers.attention`
    s<t>, c<t>     = LSTM cell(context<t>, s<t-1>, c<t-1>)  the post-attention LSTM (n_s units)
    y_hat<t>       = g(Wy s<t> + by)                        the output layer, softmax per step

Input ``a (m, T_x, n_enc)`` (e.g. a ``Bidirectional(LSTM(n_a, return_sequences=True))``'s,
``n_enc = 2 n_a``); output ``(m, T_y, units)``. Params: the attention's ``W1 (n_e, n_enc +
n_s)``, ``b1 (n_e,)``, ``W2 (1, n_e)``, ``b2 (1,)``; the LSTM's ``Wf, Wi, Wc, Wo (n_s, n_s +
n_enc)``, ``bf, bi, bc, bo (n_s,)``; the output layer's ``Wy (units, n_s)``, ``by (units,)``
(the LSTM cell's own softmax head, as :func:`jaxnet.layers.lstm_cell_forward` names it).

Why a decoder layer and not a chain of layers: every output step reads all of ``a`` and the
previous step's state, so the model is not a chain. The layer is the whole loop, and its
``backward`` is backpropagation through the ``T_y`` steps by hand: a reverse ``lax.scan`` of
:func:`jaxnet.layers.lstm_cell_backward` and
:func:`jaxnet.layers.attention.one_step_attention_backward`, where ``s<t>`` gets its
gradient from the output at ``t``, from the LSTM at ``t+1`` and from the attention at
``t+1`` (the repeat's sum over ``T_x``), and ``a`` collects every step's ``da``.

The output activation is a field, ``activation`` (default softmax per step, the course's
output layer); as in :class:`jaxnet.layers.Dense`, the caches are ``(inner, Z)`` with ``Z``
the logits, so a trainer can fuse the softmax with the cross-entropy (``dZ = A - Y``) by
running the layer with ``activation="linear"``. The encoder's padded steps are not masked
(the course pads with ``<pad>`` and lets the attention learn to ignore it).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnet import activations, limits
from jaxnet.layers._sequence import output_logits, sum_outer
from jaxnet.layers.attention import (
    AttentionCache,
    check_energy,
    one_step_attention_backward,
    one_step_attention_forward,
)
from jaxnet.layers.base import Layer, field
from jaxnet.layers.lstm import LSTMCellCache, lstm_cell_backward, lstm_cell_forward
from jaxnet.layers.recurrent import check_sequence, sequence_shape, weights_drawn_biases_zero
from jaxnet.validation import check_activation, check_int

__all__ = ["AttentionDecoder", "attention_weights"]

_ATTENTION = ("W1", "b1", "W2", "b2")
_LSTM = ("Wf", "Wi", "Wc", "Wo", "bf", "bi", "bc", "bo", "Wy", "by")
_size = functools.partial(check_int, minimum=1, maximum=limits.MAXIMA["units"])


class _Steps(NamedTuple):
    """Each decoder step's values, time-major ``(T_y, m, ...)`` as ``lax.scan`` stacks them."""

    s_prev: jax.Array  # (T_y, m, n_s)
    c_prev: jax.Array  # (T_y, m, n_s)
    s: jax.Array  # (T_y, m, n_s)
    c: jax.Array  # (T_y, m, n_s)
    gates: jax.Array  # (T_y, m, 4, n_s): ft, it, cct, ot
    context: jax.Array  # (T_y, m, n_enc)
    h: jax.Array  # (T_y, m, T_x, n_e)
    z2: jax.Array  # (T_y, m, T_x)
    alphas: jax.Array  # (T_y, m, T_x)


class AttentionDecoder(Layer):
    """The course's attention model after its encoder: ``T_y`` steps of attention, LSTM, softmax.

    Fields: ``steps`` (T_y), ``units`` (the output vocabulary), ``n_s`` (the post-attention
    LSTM's units, the course's 64), ``n_e`` (densor1's units, the course's 10), ``energy``
    (densor2's activation, the course's relu) and ``activation`` (the output's, softmax).
    Input ``(m, T_x, n_enc)``, output ``(m, steps, units)``.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import AttentionDecoder
      >>> layer = AttentionDecoder(steps=4, units=11, n_s=8)
      >>> layer
      AttentionDecoder(steps=4, units=11, n_s=8, n_e=10, energy='relu', activation='softmax')
      >>> layer.output_shape((7, 6)), layer.param_shapes((7, 6))["W1"]
      ((4, 11), (10, 14))
      >>> params = layer.init(jax.random.key(0), (7, 6))
      >>> A, cache = layer.forward(params, jnp.ones((2, 7, 6)))
      >>> dA_prev, grads = layer.backward(params, cache, jnp.ones_like(A))
      >>> A.shape, dA_prev.shape, grads["Wf"].shape
      ((2, 4, 11), (2, 7, 6), (8, 14))
    """

    kind = "attention_decoder"
    steps: int = field(check=_size)
    units: int = field(check=_size)
    n_s: int = field(default=64, check=_size)
    n_e: int = field(default=10, check=_size)
    energy: str = field(default="relu", check=check_energy)
    activation: str = field(default="softmax", check=check_activation)

    def output_shape(self, input_shape) -> tuple[int, ...]:
        """``(steps, units)`` for the encoder's ``(T_x, n_enc)`` per example."""
        sequence_shape(self, input_shape)
        return (self.steps, self.units)

    def output_mask(self, A_prev, mask):
        """None: the ``steps`` output steps are all real (the encoder's mask is of its ``T_x``)."""
        del A_prev, mask

    def param_shapes(self, input_shape) -> dict[str, tuple[int, ...]]:
        """The attention's ``W1, b1, W2, b2``, the LSTM's gates, the output's ``Wy, by``."""
        _, n_enc = sequence_shape(self, input_shape)
        n_s, n_e = self.n_s, self.n_e
        shapes = {"W1": (n_e, n_enc + n_s), "b1": (n_e,), "W2": (1, n_e), "b2": (1,)}
        shapes |= {f"W{g}": (n_s, n_s + n_enc) for g in "fico"}
        shapes |= {f"b{g}": (n_s,) for g in "fico"}
        return shapes | {"Wy": (self.units, n_s), "by": (self.units,)}

    def init(self, key, input_shape, scheme="he", *, scale=0.01, dtype=jnp.float32) -> dict:
        """Every weight drawn by ``scheme`` (fans of its own shape), the biases zero."""
        return weights_drawn_biases_zero(self.param_shapes(input_shape), key, scheme, scale, dtype)

    def _check_input(self, params, A_prev) -> None:
        _, _, n_enc = check_sequence(A_prev)
        expected = params["W1"].shape[1] - self.n_s
        if n_enc != expected:
            raise ValueError(
                f"A_prev must be the encoder's states (m, T_x, n_enc) with n_enc = {expected} "
                f"(the params' W1 is (n_e, n_enc + n_s)), got shape {A_prev.shape}"
            )

    def _run(self, params, a) -> _Steps:
        """The ``T_y`` decoder steps: a ``lax.scan`` of one-step attention and the LSTM cell."""
        m, n_s = a.shape[0], self.n_s
        dtype = jnp.result_type(a, params["W1"])
        att, cell = {k: params[k] for k in _ATTENTION}, {k: params[k] for k in _LSTM}

        def step(carry, _):
            s_prev, c_prev = carry
            context, att_cache = one_step_attention_forward(a, s_prev, att, energy=self.energy)
            s, c, _, lc = lstm_cell_forward(context, s_prev, c_prev, cell)
            gates = jnp.stack([lc.ft, lc.it, lc.cct, lc.ot], axis=1)
            out = _Steps(s_prev, c_prev, s, c, gates, context, att_cache.h, att_cache.z2,
                         att_cache.alphas)  # fmt: skip
            return (s, c), out

        zeros = jnp.zeros((m, n_s), dtype)
        return lax.scan(step, (zeros, zeros), None, length=self.steps)[1]

    def forward(self, params: dict, A_prev, *, key=None, train=False, weights=None):
        """``(A (m, steps, units), cache)``, cache ``((A_prev, steps' values), Z)`` with ``Z``
        the logits; ``key``, ``train``, ``weights`` unused."""
        del key, train, weights
        self._check_input(params, A_prev)
        run = self._run(params, A_prev)
        Z = output_logits(run.s, params["Wy"], params["by"]).transpose(1, 0, 2)
        return activations.get(self.activation).fn(Z), ((A_prev, run), Z)

    def backward(self, params: dict, cache, dA):
        """``(dA_prev (m, T_x, n_enc), dparams)``: BPTT over the ``T_y`` steps by hand (module
        docstring), the blocks' sums divided by ``m``."""
        (a, run), Z = cache
        m = a.shape[0]
        dZ = activations.get(self.activation).vjp(Z, dA).transpose(1, 0, 2)  # (T_y, m, units)
        grads = {"Wy": sum_outer(dZ, run.s), "by": dZ.sum(axis=(0, 1))}
        att, cell = {k: params[k] for k in _ATTENTION}, {k: params[k] for k in _LSTM}

        def step(carry, inputs):
            ds, dc, da, sums = carry
            ds_out, r = inputs
            lc = LSTMCellCache(r.s, r.c, r.s_prev, r.c_prev, *(r.gates[:, k] for k in range(4)),
                               r.context, cell)  # fmt: skip
            lg = lstm_cell_backward(ds_out + ds, dc, lc)
            ac = AttentionCache(a, r.s_prev, r.h, r.z2, r.alphas, att)
            ag = one_step_attention_backward(lg["dxt"], ac, energy=self.energy)
            step_grads = {k: lg[f"d{k}"] for k in _LSTM[:8]} | {k: ag[f"d{k}"] for k in _ATTENTION}
            sums = jax.tree.map(jnp.add, sums, step_grads)
            return (lg["da_prev"] + ag["ds_prev"], lg["dc_prev"], da + ag["da"], sums), None

        zeros = {k: jnp.zeros_like(params[k]) for k in (*_ATTENTION, *_LSTM[:8])}
        state = jnp.zeros_like(run.s[0])
        carry = (state, state, jnp.zeros_like(a), zeros)
        (_, _, da, sums), _ = lax.scan(step, carry, (dZ @ params["Wy"], run), reverse=True)
        grads |= sums
        return da, {k: grads[k] / m for k in params}


def attention_weights(layer: AttentionDecoder, params: dict, a) -> jax.Array:
    """The attention weights ``alpha<t, t'>`` of every output step over the input steps.

    Args:
      layer: an :class:`AttentionDecoder`.
      params: its params.
      a: ``(m, T_x, n_enc)``, the encoder's states (the layer's input).

    Returns:
      ``(m, T_y, T_x)``; each row ``[i, t]`` sums to 1 (the attention map of example ``i``).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import AttentionDecoder, attention_weights
      >>> layer = AttentionDecoder(steps=3, units=5, n_s=4)
      >>> params = layer.init(jax.random.key(0), (6, 2))
      >>> alphas = attention_weights(layer, params, jnp.ones((2, 6, 2)))
      >>> alphas.shape, bool(jnp.allclose(alphas.sum(axis=-1), 1.0))
      ((2, 3, 6), True)
    """
    if not isinstance(layer, AttentionDecoder):
        raise TypeError(f"layer must be an AttentionDecoder, got {type(layer).__name__}")
    layer._check_input(params, a)
    return layer._run(params, a).alphas.transpose(1, 0, 2)
