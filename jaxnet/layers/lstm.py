"""The LSTM cell and its sequence (course 5, week 1), batch-first, with hand-derived backpropagation through time.

The course's equations for one example, with ``[a<t-1>, x<t>]`` the concatenation (that order)::

    Gf = sigmoid(Wf [a<t-1>, x<t>] + bf)          forget gate
    Gi = sigmoid(Wi [a<t-1>, x<t>] + bi)          update (input) gate
    cc = tanh(Wc [a<t-1>, x<t>] + bc)             candidate c~<t>
    Go = sigmoid(Wo [a<t-1>, x<t>] + bo)          output gate
    c<t> = Gf * c<t-1> + Gi * cc                  a<t> = Go * tanh(c<t>)
    y_hat<t> = softmax(Wy a<t> + by)

Shapes: ``xt (m, n_x)``, ``a_prev, c_prev (m, n_a)``, ``x (m, T_x, n_x)``; ``Wf, Wi, Wc, Wo
(n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a,)``, ``Wy (n_y, n_a)``, ``by (n_y,)``.

Backward, with ``g_a``, ``g_c`` the loss's gradients with respect to ``a<t>`` and ``c<t>``
(from above and from step ``t+1``) and ``th = tanh(c<t>)``::

    dc  = g_c + g_a * Go * (1 - th^2)                 dc_prev = dc * Gf
    dzo = g_a * th * Go (1 - Go)      dzc = dc * Gi * (1 - cc^2)
    dzi = dc * cc * Gi (1 - Gi)       dzf = dc * c<t-1> * Gf (1 - Gf)
    dW_ = dz_^T [a_prev, xt]          db_ = sum_m dz_          [da_prev, dxt] = sum_gates dz_ W_

(the course's equations 7-17). Internally the four gates are one ``(4 n_a, n_a + n_x)``
matrix (rows f, i, c, o), so a step costs one ``(m, n_a) x (n_a, 4 n_a)`` product forward and
one backward; the input part ``x W_x^T + b`` of every step is one product before the scan,
and the parameter and input gradients one product each after it. The public params keep
the course's separate names.

``da`` of :func:`lstm_backward` is the upstream gradient with respect to every ``a<t>``
(not through the recurrence), as in :mod:`jaxnet.layers.rnn`; gradients are sums over
examples and steps (no ``1/m``). A mask ``(m, T_x)`` keeps ``a`` and ``c`` on padded steps
and zeroes their outputs.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from jaxnet.layers._sequence import (
    as_carry,
    as_mask,
    check_array,
    fuse_gates,
    gate_sizes,
    gated_params,
    input_grad,
    input_part,
    output_logits,
    previous,
    softmax,
    sum_outer,
    unfuse_gates,
    zero_masked,
)

__all__ = [
    "LSTMCaches",
    "LSTMCellCache",
    "lstm_backward",
    "lstm_cell_backward",
    "lstm_cell_forward",
    "lstm_forward",
    "lstm_params",
]

GATES = ("f", "i", "c", "o")


class LSTMCellCache(NamedTuple):
    """The course's cell cache ``(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)``.

    Every array is ``(m, n_a)`` except ``xt (m, n_x)``; ``params`` is the parameter dict.
    """

    a_next: jax.Array
    c_next: jax.Array
    a_prev: jax.Array
    c_prev: jax.Array
    ft: jax.Array
    it: jax.Array
    cct: jax.Array
    ot: jax.Array
    xt: jax.Array
    params: dict


class LSTMCaches(NamedTuple):
    """What :func:`lstm_backward` needs from :func:`lstm_forward` (time-major, as ``lax.scan`` stacks).

    Attributes:
      a: ``(T_x, m, n_a)``, the states ``a<1..T_x>``.
      c: ``(T_x, m, n_a)``, the cell states ``c<1..T_x>``.
      gates: ``(T_x, m, 4 n_a)``, ``[Gf, Gi, cc, Go]`` of every step.
      a0: ``(m, n_a)``, the initial state.
      c0: ``(m, n_a)``, the initial cell state.
      x: ``(T_x, m, n_x)``, the inputs time-major.
      mask: ``(T_x, m, 1)`` booleans, or None.
      params: the parameter dict.
    """

    a: jax.Array
    c: jax.Array
    gates: jax.Array
    a0: jax.Array
    c0: jax.Array
    x: jax.Array
    mask: jax.Array | None
    params: dict


def lstm_params(key, n_x: int, n_a: int, n_y: int, *, scale: float = 0.01, dtype=jnp.float32):
    """Params for the LSTM blocks: weights ``scale * N(0, 1)``, biases zero (as the course's RNN).

    Args:
      key: a ``jax.random`` key.
      n_x: input size; n_a: state size; n_y: output size.
      scale: the weights' standard deviation.
      dtype: the params' dtype.

    Returns:
      ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a,)``, ``Wy (n_y, n_a)``, ``by (n_y,)``.

    Example:
      >>> import jax
      >>> from jaxnet.layers import lstm_params
      >>> params = lstm_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> params["Wf"].shape, params["bo"].shape, params["Wy"].shape
      ((5, 8), (5,), (2, 5))
    """
    return gated_params(key, GATES, n_x, n_a, n_y, scale, dtype)


def _step(z_x, a_prev, c_prev, W_a):
    """One step from the precomputed input part ``z_x = xt W_x^T + b (m, 4 n_a)``.

    Returns ``(a_next, c_next, gates)``, gates ``[Gf, Gi, cc, Go] (m, 4 n_a)``.
    """
    n_a = a_prev.shape[-1]
    z = z_x + a_prev @ W_a.T
    sig = jax.nn.sigmoid(z)
    ft, it, ot = sig[:, :n_a], sig[:, n_a : 2 * n_a], sig[:, 3 * n_a :]
    cct = jnp.tanh(z[:, 2 * n_a : 3 * n_a])
    c_next = ft * c_prev + it * cct
    a_next = ot * jnp.tanh(c_next)
    return a_next, c_next, jnp.concatenate([ft, it, cct, ot], axis=1)


def _step_backward(g_a, g_c, c_next, c_prev, gates, W_a):
    """The sequential part of the cell backward: ``(da_prev, dc_prev, dz (m, 4 n_a))``."""
    n_a = c_next.shape[-1]
    ft, it, cct, ot = (gates[:, k * n_a : (k + 1) * n_a] for k in range(4))
    th = jnp.tanh(c_next)
    dc = g_c + g_a * ot * (1 - th * th)
    dz = jnp.concatenate(
        [
            dc * c_prev * ft * (1 - ft),
            dc * cct * it * (1 - it),
            dc * it * (1 - cct * cct),
            g_a * th * ot * (1 - ot),
        ],
        axis=1,
    )
    return dz @ W_a, dc * ft, dz


def _check_state(value, name: str, m: int, n_a: int):
    return check_array(value, name, (m, n_a), "(m, n_a)")


def lstm_cell_forward(xt, a_prev, c_prev, params):
    """One LSTM step (the course's equations 1-6): ``(a_next, c_next, yt_pred, cache)``.

    Args:
      xt: ``(m, n_x)``, the input at step t.
      a_prev: ``(m, n_a)``; c_prev: ``(m, n_a)``, the states at step t-1.
      params: ``Wf, Wi, Wc, Wo (n_a, n_a + n_x)``, ``bf, bi, bc, bo (n_a,)``, ``Wy (n_y, n_a)``,
        ``by (n_y,)``.

    Returns:
      ``(a_next (m, n_a), c_next (m, n_a), yt_pred (m, n_y), cache)``, cache an :class:`LSTMCellCache`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import lstm_cell_forward, lstm_params
      >>> params = lstm_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> a0 = c0 = jnp.zeros((10, 5))
      >>> a_next, c_next, yt_pred, cache = lstm_cell_forward(jnp.ones((10, 3)), a0, c0, params)
      >>> a_next.shape, c_next.shape, yt_pred.shape, len(cache)
      ((10, 5), (10, 5), (10, 2), 10)
    """
    n_x, n_a, _ = gate_sizes(params, GATES)
    m = check_array(xt, "xt", (None, n_x), "(m, n_x)").shape[0]
    _check_state(a_prev, "a_prev", m, n_a)
    _check_state(c_prev, "c_prev", m, n_a)
    W_a, W_x, b = fuse_gates(params, GATES, n_a)
    z_x = xt @ W_x.T
    a_next, c_next, gates = _step(z_x + jnp.broadcast_to(b, z_x.shape), a_prev, c_prev, W_a)
    yt_pred = softmax(output_logits(a_next, params["Wy"], params["by"]))
    ft, it, cct, ot = (gates[:, k * n_a : (k + 1) * n_a] for k in range(4))
    cache = LSTMCellCache(a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params)
    return a_next, c_next, yt_pred, cache


def lstm_cell_backward(da_next, dc_next, cache: LSTMCellCache):
    """Gradients through one LSTM step (the course's equations 7-17).

    Args:
      da_next: ``(m, n_a)``, the loss's gradient with respect to ``a_next``.
      dc_next: ``(m, n_a)``, with respect to ``c_next``.
      cache: the :class:`LSTMCellCache` of :func:`lstm_cell_forward`.

    Returns:
      The course's dict: ``dxt (m, n_x)``, ``da_prev (m, n_a)``, ``dc_prev (m, n_a)``,
      ``dWf, dWi, dWc, dWo (n_a, n_a + n_x)``, ``dbf, dbi, dbc, dbo (n_a,)`` (sums over m).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import lstm_cell_backward, lstm_cell_forward, lstm_params
      >>> params = lstm_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> a0 = c0 = jnp.zeros((10, 5))
      >>> *_, cache = lstm_cell_forward(jnp.ones((10, 3)), a0, c0, params)
      >>> grads = lstm_cell_backward(jnp.ones((10, 5)), jnp.zeros((10, 5)), cache)
      >>> grads["dxt"].shape, grads["dc_prev"].shape, grads["dWo"].shape, grads["dbf"].shape
      ((10, 3), (10, 5), (5, 8), (5,))
    """
    a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, params = cache
    n_a = a_next.shape[-1]
    check_array(da_next, "da_next", a_next.shape, "(m, n_a)")
    check_array(dc_next, "dc_next", a_next.shape, "(m, n_a)")
    W_a, W_x, _ = fuse_gates(params, GATES, n_a)
    gates = jnp.concatenate([ft, it, cct, ot], axis=1)
    da_prev, dc_prev, dz = _step_backward(da_next, dc_next, c_next, c_prev, gates, W_a)
    grads = {"dxt": dz @ W_x, "da_prev": da_prev, "dc_prev": dc_prev}
    return grads | unfuse_gates(dz.T @ a_prev, dz.T @ xt, dz.sum(axis=0), GATES, n_a)


def lstm_forward(x, a0, params, mask=None, *, c0=None):
    """The LSTM over ``T_x`` steps (a ``lax.scan`` of the cell): ``(a, y, c, caches)``.

    Args:
      x: ``(m, T_x, n_x)``, the inputs.
      a0: ``(m, n_a)``, the initial state.
      params: as :func:`lstm_cell_forward`.
      mask: ``(m, T_x)`` booleans (True = a real step) or None; a padded step keeps ``a``
        and ``c`` and outputs ``y = 0``.
      c0: ``(m, n_a)``, the initial cell state; None is zeros (the course's).

    Returns:
      ``(a (m, T_x, n_a), y (m, T_x, n_y), c (m, T_x, n_a), caches)``, caches an :class:`LSTMCaches`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import lstm_forward, lstm_params
      >>> params = lstm_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 7, 3))
      >>> a, y, c, caches = lstm_forward(x, jnp.zeros((10, 5)), params)
      >>> a.shape, y.shape, c.shape
      ((10, 7, 5), (10, 7, 2), (10, 7, 5))
    """
    n_x, n_a, _ = gate_sizes(params, GATES)
    m, T_x, _ = check_array(x, "x", (None, None, n_x), "(m, T_x, n_x)").shape
    _check_state(a0, "a0", m, n_a)
    c0 = jnp.zeros_like(a0) if c0 is None else _check_state(c0, "c0", m, n_a)
    tmask = as_mask(mask, m, T_x)
    W_a, W_x, b = fuse_gates(params, GATES, n_a)
    a0, c0 = (as_carry(s, x, W_a, W_x, b, a0, c0) for s in (a0, c0))
    z_x, x_tm = input_part(x, W_x, b)

    def step(carry, inputs):
        a_prev, c_prev = carry
        z_t, mask_t = inputs
        a_next, c_next, gates = _step(z_t, a_prev, c_prev, W_a)
        if mask_t is not None:
            a_next = jnp.where(mask_t, a_next, a_prev)
            c_next = jnp.where(mask_t, c_next, c_prev)
        return (a_next, c_next), (a_next, c_next, gates)

    _, (a_tm, c_tm, gates) = lax.scan(step, (a0, c0), (z_x, tmask))
    y_tm = zero_masked(softmax(output_logits(a_tm, params["Wy"], params["by"])), tmask)
    caches = LSTMCaches(a_tm, c_tm, gates, a0, c0, x_tm, tmask, params)
    batch_first = lambda v: v.transpose(1, 0, 2)  # noqa: E731
    return batch_first(a_tm), batch_first(y_tm), batch_first(c_tm), caches


def lstm_backward(da, caches: LSTMCaches, *, dc=None, dy=None):
    """Backpropagation through time: a reverse ``lax.scan`` of the LSTM cell backward.

    Args:
      da: ``(m, T_x, n_a)``, the loss's gradient with respect to every ``a<t>`` from above
        (not through the recurrence; the course's ``da``).
      caches: the :class:`LSTMCaches` of :func:`lstm_forward`.
      dc: ``(m, T_x, n_a)`` or None, the same for every cell state ``c<t>`` (e.g. the
        final state's gradient when it is returned).
      dy: ``(m, T_x, n_y)`` or None, the gradient with respect to the output logits
        ``Wy a<t> + by`` (``y - labels`` for softmax + cross-entropy).

    Returns:
      A dict: ``dx (m, T_x, n_x)``, ``da0 (m, n_a)``, ``dc0 (m, n_a)``, ``dWf, dWi, dWc, dWo
      (n_a, n_a + n_x)``, ``dbf, dbi, dbc, dbo (n_a,)``, ``dWy (n_y, n_a)``, ``dby (n_y,)``
      (zero without ``dy``). Sums over examples and steps.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import lstm_backward, lstm_forward, lstm_params
      >>> params = lstm_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 7, 3))
      >>> a, y, c, caches = lstm_forward(x, jnp.zeros((10, 5)), params)
      >>> grads = lstm_backward(jnp.ones_like(a), caches)
      >>> grads["dx"].shape, grads["da0"].shape, grads["dWf"].shape, grads["dbo"].shape
      ((10, 7, 3), (10, 5), (5, 8), (5,))
      >>> def loss(p):  # the same gradient by autodiff
      ...     return lstm_forward(x, jnp.zeros((10, 5)), p)[0].sum()
      >>> bool(jnp.allclose(jax.jit(jax.grad(loss))(params)["Wc"], grads["dWc"], atol=1e-6))
      True
    """
    a_tm, c_tm, gates, a0, c0, x_tm, tmask, params = caches
    n_x, n_a, n_y = gate_sizes(params, GATES)
    T_x, m, _ = x_tm.shape
    check_array(da, "da", (m, T_x, n_a), "(m, T_x, n_a)")
    ga_tm = da.transpose(1, 0, 2)
    if dc is None:
        gc_tm = None
    else:
        gc_tm = check_array(dc, "dc", (m, T_x, n_a), "(m, T_x, n_a)").transpose(1, 0, 2)
    if dy is None:
        dWy, dby = jnp.zeros_like(params["Wy"]), jnp.zeros_like(params["by"])
    else:
        check_array(dy, "dy", (m, T_x, n_y), "(m, T_x, n_y)")
        dy_tm = zero_masked(dy.transpose(1, 0, 2), tmask)
        ga_tm = ga_tm + dy_tm @ params["Wy"]
        dWy = sum_outer(dy_tm, a_tm)
        dby = dy_tm.sum(axis=(0, 1))
    W_a, W_x, _ = fuse_gates(params, GATES, n_a)
    c_prev_tm = previous(c0, c_tm)

    def step(carry, inputs):
        da_next, dc_next = carry
        ga_t, gc_t, c_t, c_prev, gates_t, mask_t = inputs
        g_a = ga_t + da_next
        g_c = dc_next if gc_t is None else gc_t + dc_next
        da_prev, dc_prev, dz = _step_backward(g_a, g_c, c_t, c_prev, gates_t, W_a)
        if mask_t is not None:
            dz = jnp.where(mask_t, dz, jnp.zeros((), dz.dtype))
            da_prev = jnp.where(mask_t, da_prev, g_a)
            dc_prev = jnp.where(mask_t, dc_prev, g_c)
        return (da_prev, dc_prev), dz

    zeros = jnp.zeros_like(a0)
    inputs = (ga_tm, gc_tm, c_tm, c_prev_tm, gates, tmask)
    (da0, dc0), dz = lax.scan(step, (zeros, zeros), inputs, reverse=True)
    dW_a = sum_outer(dz, previous(a0, a_tm))
    dW_x = sum_outer(dz, x_tm)
    grads = {"dx": input_grad(dz, W_x), "da0": da0, "dc0": dc0}
    return (
        grads | unfuse_gates(dW_a, dW_x, dz.sum(axis=(0, 1)), GATES, n_a) | {"dWy": dWy, "dby": dby}
    )
