"""The course's one-step attention (course 5, week 3), batch-first, with its hand-derived backward.

For one output step ``t``, the encoder's states ``a<t'>`` (``t' = 1..T_x``) and the decoder's
previous state ``s<t-1>``, the course's ``one_step_attention``::

    concat<t'> = [a<t'>, s<t-1>]                    RepeatVector(T_x), then Concatenate (that order)
    h<t'>      = tanh(W1 concat<t'> + b1)            densor1: n_e units (the course: 10)
    e<t'>      = g(W2 h<t'> + b2)                    densor2: one unit; g relu in the course
    alpha<t'>  = exp(e<t'>) / sum_t'' exp(e<t''>)    softmax over the T_x input steps
    context    = sum_t' alpha<t'> a<t'>              Dot(axes=1)

Shapes: ``a (m, T_x, n_enc)``, ``s_prev (m, n_s)``; ``W1 (n_e, n_enc + n_s)``, ``b1 (n_e,)``,
``W2 (1, n_e)``, ``b2 (1,)``; ``alphas (m, T_x)``, ``context (m, n_enc)``.

Backward, with ``dcontext`` the loss's gradient with respect to ``context``::

    dalpha<t'> = a<t'> . dcontext                    da<t'>   = alpha<t'> dcontext + (dz1 W1)[:n_enc]
    de<t'>     = alpha<t'> (dalpha<t'> - sum_t'' alpha<t''> dalpha<t''>)      (the softmax's Jacobian)
    dz2        = de * g'(z2)        dW2 = sum dz2 h^T        db2 = sum dz2
    dz1        = dz2 W2 * (1 - h^2) dW1 = sum dz1 concat^T   db1 = sum dz1
    ds_prev    = sum_t' (dz1<t'> W1)[n_enc:]                 (the repeat's backward: a sum over T_x)

The sums run over the examples and the ``T_x`` steps: like the LSTM blocks
(:mod:`jaxnet.layers.lstm`), the parameter gradients are sums over examples (no ``1/m``).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from jaxnet import activations
from jaxnet.layers._sequence import check_array, check_params, rows
from jaxnet.validation import check_activation

__all__ = [
    "AttentionCache",
    "check_energy",
    "one_step_attention_backward",
    "one_step_attention_forward",
]


class AttentionCache(NamedTuple):
    """What :func:`one_step_attention_backward` needs from :func:`one_step_attention_forward`.

    Attributes:
      a: ``(m, T_x, n_enc)``, the encoder's states.
      s_prev: ``(m, n_s)``, the decoder's previous state.
      h: ``(m, T_x, n_e)``, densor1's outputs ``tanh(z1)``.
      z2: ``(m, T_x)``, densor2's pre-activations (the energies before ``g``).
      alphas: ``(m, T_x)``, the attention weights.
      params: ``W1, b1, W2, b2``.
    """

    a: jax.Array
    s_prev: jax.Array
    h: jax.Array
    z2: jax.Array
    alphas: jax.Array
    params: dict


def check_energy(value, name: str = "energy") -> str:
    """The canonical name of the energies' activation ``g`` (elementwise: softmax is refused)."""
    canonical = check_activation(value, name)
    if canonical == "softmax":
        raise ValueError(
            f"{name} must be an elementwise activation (the energy is one unit; the softmax "
            f"over the input steps follows it), got {name}={value!r}"
        )
    return canonical


def _sizes(a, s_prev, params) -> tuple[int, int, int, int, int]:
    """``(m, T_x, n_enc, n_s, n_e)`` after checking the arrays' and params' shapes agree."""
    m, T_x, n_enc = check_array(a, "a", (None, None, None), "(m, T_x, n_enc)").shape
    n_s = check_array(s_prev, "s_prev", (m, None), "(m, n_s)").shape[1]
    check_params(params, {"W1": (None, n_enc + n_s)})
    n_e = params["W1"].shape[0]
    check_params(params, {"W1": (n_e, n_enc + n_s), "b1": (n_e,), "W2": (1, n_e), "b2": (1,)})
    return m, T_x, n_enc, n_s, n_e


def _concat(a, s_prev):
    """``[a<t'>, s<t-1>]`` for every ``t'``: ``(m, T_x, n_enc + n_s)`` (RepeatVector + Concatenate)."""
    m, T_x, _ = a.shape
    repeated = jnp.broadcast_to(s_prev[:, None, :], (m, T_x, s_prev.shape[1]))
    return jnp.concatenate([a, repeated.astype(jnp.result_type(a, s_prev))], axis=-1)


def _bias(b, z):
    return jnp.broadcast_to(b, z.shape)  # explicit: no rank promotion


def one_step_attention_forward(a, s_prev, params, *, energy: str = "relu"):
    """One step of attention (the course's ``one_step_attention``): ``(context, cache)``.

    Args:
      a: ``(m, T_x, n_enc)``, the encoder's states (a Bi-LSTM's: ``n_enc = 2 n_a``).
      s_prev: ``(m, n_s)``, the post-attention LSTM's previous state.
      params: ``W1 (n_e, n_enc + n_s)``, ``b1 (n_e,)``, ``W2 (1, n_e)``, ``b2 (1,)``.
      energy: the activation ``g`` of densor2 (the course's ``"relu"``).

    Returns:
      ``(context (m, n_enc), cache)``, cache an :class:`AttentionCache` (its ``alphas (m, T_x)``
      are the attention weights).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers.attention import one_step_attention_forward
      >>> k = jax.random.split(jax.random.key(0), 3)
      >>> params = {"W1": jax.random.normal(k[0], (10, 6 + 4)), "b1": jnp.zeros(10),
      ...           "W2": jax.random.normal(k[1], (1, 10)), "b2": jnp.zeros(1)}
      >>> a = jax.random.normal(k[2], (2, 5, 6))
      >>> context, cache = one_step_attention_forward(a, jnp.zeros((2, 4)), params)
      >>> context.shape, cache.alphas.shape, bool(jnp.allclose(cache.alphas.sum(axis=1), 1.0))
      ((2, 6), (2, 5), True)
    """
    _sizes(a, s_prev, params)
    g = activations.get(check_energy(energy))
    z1 = _concat(a, s_prev) @ params["W1"].T
    h = jnp.tanh(z1 + _bias(params["b1"], z1))
    z2 = (h @ params["W2"].T)[..., 0]
    z2 = z2 + _bias(params["b2"][0], z2)
    alphas = jax.nn.softmax(g.fn(z2), axis=1)
    context = jnp.einsum("mt,mtn->mn", alphas, a)
    return context, AttentionCache(a, s_prev, h, z2, alphas, params)


def one_step_attention_backward(dcontext, cache: AttentionCache, *, energy: str = "relu"):
    """Gradients through one step of attention (the module's backward equations).

    Args:
      dcontext: ``(m, n_enc)``, the loss's gradient with respect to the context.
      cache: the :class:`AttentionCache` of :func:`one_step_attention_forward`.
      energy: the forward's ``energy`` activation.

    Returns:
      A dict: ``da (m, T_x, n_enc)``, ``ds_prev (m, n_s)``, ``dW1 (n_e, n_enc + n_s)``,
      ``db1 (n_e,)``, ``dW2 (1, n_e)``, ``db2 (1,)`` (sums over the examples).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers.attention import (one_step_attention_backward,
      ...                                      one_step_attention_forward)
      >>> k = jax.random.split(jax.random.key(0), 3)
      >>> params = {"W1": jax.random.normal(k[0], (10, 6 + 4)), "b1": jnp.zeros(10),
      ...           "W2": jax.random.normal(k[1], (1, 10)), "b2": jnp.zeros(1)}
      >>> a, s_prev = jax.random.normal(k[2], (2, 5, 6)), jnp.ones((2, 4))
      >>> context, cache = one_step_attention_forward(a, s_prev, params)
      >>> grads = one_step_attention_backward(jnp.ones((2, 6)), cache)
      >>> grads["da"].shape, grads["ds_prev"].shape, grads["dW1"].shape, grads["db2"].shape
      ((2, 5, 6), (2, 4), (10, 10), (1,))
      >>> def loss(p):  # the same gradient by autodiff
      ...     return one_step_attention_forward(a, s_prev, p)[0].sum()
      >>> bool(jnp.allclose(jax.grad(loss)(params)["W1"], grads["dW1"], atol=1e-5))
      True
    """
    a, s_prev, h, z2, alphas, params = cache
    _, _, n_enc, _, _ = _sizes(a, s_prev, params)
    check_array(dcontext, "dcontext", (a.shape[0], n_enc), "(m, n_enc)")
    g = activations.get(check_energy(energy))
    dalpha = jnp.einsum("mn,mtn->mt", dcontext, a)
    de = alphas * (dalpha - (alphas * dalpha).sum(axis=1, keepdims=True))
    dz2 = g.vjp(z2, de)
    dz1 = dz2[..., None] * params["W2"][None] * (1 - h * h)
    concat = _concat(a, s_prev)
    dconcat = dz1 @ params["W1"]
    return {
        "da": alphas[..., None] * dcontext[:, None, :] + dconcat[..., :n_enc],
        "ds_prev": dconcat[..., n_enc:].sum(axis=1),
        "dW1": rows(dz1).T @ rows(concat),
        "db1": dz1.sum(axis=(0, 1)),
        "dW2": (rows(dz2[..., None]).T @ rows(h)),
        "db2": dz2.sum()[None],
    }
