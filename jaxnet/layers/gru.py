"""The GRU cell and its sequence (course 5, week 1, the lecture's full GRU), batch-first, with hand-derived BPTT.

The lecture's equations for one example (``c<t> = a<t>``; ``[., .]`` a concatenation in
that order)::

    Gu = sigmoid(Wu [c<t-1>, x<t>] + bu)              update gate
    Gr = sigmoid(Wr [c<t-1>, x<t>] + br)              relevance (reset) gate
    cc = tanh(Wc [Gr * c<t-1>, x<t>] + bc)            candidate c~<t>
    c<t> = Gu * cc + (1 - Gu) * c<t-1>                a<t> = c<t>
    y_hat<t> = softmax(Wy a<t> + by)

Shapes: ``Wu, Wr, Wc (n_a, n_a + n_x)``, ``bu, br, bc (n_a,)``, ``Wy (n_y, n_a)``, ``by (n_y,)``.

Keras's ``GRU(reset_after=False)`` is this cell with its gate ``z = 1 - Gu`` (Keras writes
``h = z * h_prev + (1 - z) * hh``): the same model under ``Wu = -W_z``, ``bu = -b_z``. Keras's
default ``reset_after=True`` (cuDNN's form) applies the reset gate *after* the recurrent
product, ``hh = tanh(x W_h + r * (h_prev U_h + b_rh) + b_h)``, a different model that is not
built here.

Backward, ``g`` the loss's gradient with respect to ``a<t>`` (from above and step ``t+1``)::

    dzc = g * Gu * (1 - cc^2)             dzu = g * (cc - c<t-1>) * Gu (1 - Gu)
    d(Gr c<t-1>) = dzc Wc_a               dzr = d(Gr c<t-1>) * c<t-1> * Gr (1 - Gr)
    dc_prev = g (1 - Gu) + d(Gr c<t-1>) * Gr + dzu Wu_a + dzr Wr_a
    dxt = dzu Wu_x + dzr Wr_x + dzc Wc_x
    dWu = dzu^T [c_prev, xt]   dWr = dzr^T [c_prev, xt]   dWc = dzc^T [Gr c_prev, xt]   db_ = sum_m dz_

(``W_a`` the first ``n_a`` columns of a gate matrix, ``W_x`` the rest). As for the LSTM,
the input part of every step is one product before the scan, the parameter and input
gradients one product each after it; the reset-before form needs two recurrent products
per step (``Gr`` must be known before ``Wc_a``), forward and backward. ``da`` of
:func:`gru_backward` and the mask mean what they mean in :mod:`jaxnet.layers.rnn`.
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
    "GRUCaches",
    "GRUCellCache",
    "gru_backward",
    "gru_cell_backward",
    "gru_cell_forward",
    "gru_forward",
    "gru_params",
]

GATES = ("u", "r", "c")


class GRUCellCache(NamedTuple):
    """The cell cache ``(a_next, a_prev, ut, rt, cct, xt, params)``: ``(m, n_a)`` each but ``xt (m, n_x)``."""

    a_next: jax.Array
    a_prev: jax.Array
    ut: jax.Array
    rt: jax.Array
    cct: jax.Array
    xt: jax.Array
    params: dict


class GRUCaches(NamedTuple):
    """What :func:`gru_backward` needs from :func:`gru_forward` (time-major, as ``lax.scan`` stacks).

    Attributes:
      a: ``(T_x, m, n_a)``, the states ``a<1..T_x>``.
      gates: ``(T_x, m, 3 n_a)``, ``[Gu, Gr, cc]`` of every step.
      a0: ``(m, n_a)``, the initial state.
      x: ``(T_x, m, n_x)``, the inputs time-major.
      mask: ``(T_x, m, 1)`` booleans, or None.
      params: the parameter dict.
    """

    a: jax.Array
    gates: jax.Array
    a0: jax.Array
    x: jax.Array
    mask: jax.Array | None
    params: dict


def gru_params(key, n_x: int, n_a: int, n_y: int, *, scale: float = 0.01, dtype=jnp.float32):
    """Params for the GRU blocks: weights ``scale * N(0, 1)``, biases zero (as the course's RNN).

    Args:
      key: a ``jax.random`` key.
      n_x: input size; n_a: state size; n_y: output size.
      scale: the weights' standard deviation.
      dtype: the params' dtype.

    Returns:
      ``Wu, Wr, Wc (n_a, n_a + n_x)``, ``bu, br, bc (n_a,)``, ``Wy (n_y, n_a)``, ``by (n_y,)``.

    Example:
      >>> import jax
      >>> from jaxnet.layers import gru_params
      >>> params = gru_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> params["Wu"].shape, params["br"].shape, params["Wy"].shape
      ((5, 8), (5,), (2, 5))
    """
    return gated_params(key, GATES, n_x, n_a, n_y, scale, dtype)


def _step(z_x, a_prev, W_a):
    """One step from the precomputed input part ``z_x = xt W_x^T + b (m, 3 n_a)``: ``(a_next, gates)``."""
    n_a = a_prev.shape[-1]
    ur = jax.nn.sigmoid(z_x[:, : 2 * n_a] + a_prev @ W_a[: 2 * n_a].T)
    ut, rt = ur[:, :n_a], ur[:, n_a:]
    cct = jnp.tanh(z_x[:, 2 * n_a :] + (rt * a_prev) @ W_a[2 * n_a :].T)
    a_next = ut * cct + (1 - ut) * a_prev
    return a_next, jnp.concatenate([ut, rt, cct], axis=1)


def _step_backward(g, a_prev, gates, W_a):
    """The sequential part of the cell backward: ``(da_prev, dz (m, 3 n_a))``."""
    n_a = a_prev.shape[-1]
    ut, rt, cct = gates[:, :n_a], gates[:, n_a : 2 * n_a], gates[:, 2 * n_a :]
    dzc = g * ut * (1 - cct * cct)
    dzu = g * (cct - a_prev) * ut * (1 - ut)
    d_ra = dzc @ W_a[2 * n_a :]
    dzr = d_ra * a_prev * rt * (1 - rt)
    dz_ur = jnp.concatenate([dzu, dzr], axis=1)
    da_prev = g * (1 - ut) + d_ra * rt + dz_ur @ W_a[: 2 * n_a]
    return da_prev, jnp.concatenate([dz_ur, dzc], axis=1)


def _recurrent_grads(dz, a_prev, rt, n_a: int):
    """``dW_a (3 n_a, n_a)``, the gradient of the state columns: ``c_prev`` for u and r, ``Gr c_prev``
    for c; summed over every leading axis of ``dz (..., 3 n_a)``, ``a_prev`` and ``rt (..., n_a)``."""
    dW_ur = sum_outer(dz[..., : 2 * n_a], a_prev)
    dW_c = sum_outer(dz[..., 2 * n_a :], rt * a_prev)
    return jnp.concatenate([dW_ur, dW_c], axis=0)


def gru_cell_forward(xt, a_prev, params):
    """One GRU step (the lecture's full GRU): ``(a_next, yt_pred, cache)``.

    Args:
      xt: ``(m, n_x)``, the input at step t.
      a_prev: ``(m, n_a)``, the state ``c<t-1> = a<t-1>``.
      params: ``Wu, Wr, Wc (n_a, n_a + n_x)``, ``bu, br, bc (n_a,)``, ``Wy (n_y, n_a)``, ``by (n_y,)``.

    Returns:
      ``(a_next (m, n_a), yt_pred (m, n_y), cache)``, cache a :class:`GRUCellCache`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import gru_cell_forward, gru_params
      >>> params = gru_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> a_next, yt_pred, cache = gru_cell_forward(jnp.ones((10, 3)), jnp.zeros((10, 5)), params)
      >>> a_next.shape, yt_pred.shape, len(cache)
      ((10, 5), (10, 2), 7)
    """
    n_x, n_a, _ = gate_sizes(params, GATES)
    m = check_array(xt, "xt", (None, n_x), "(m, n_x)").shape[0]
    check_array(a_prev, "a_prev", (m, n_a), "(m, n_a)")
    W_a, W_x, b = fuse_gates(params, GATES, n_a)
    z_x = xt @ W_x.T
    a_next, gates = _step(z_x + jnp.broadcast_to(b, z_x.shape), a_prev, W_a)
    yt_pred = softmax(output_logits(a_next, params["Wy"], params["by"]))
    ut, rt, cct = gates[:, :n_a], gates[:, n_a : 2 * n_a], gates[:, 2 * n_a :]
    return a_next, yt_pred, GRUCellCache(a_next, a_prev, ut, rt, cct, xt, params)


def gru_cell_backward(da_next, cache: GRUCellCache):
    """Gradients through one GRU step, given ``da_next (m, n_a)``.

    Args:
      da_next: ``(m, n_a)``, the loss's gradient with respect to ``a_next``.
      cache: the :class:`GRUCellCache` of :func:`gru_cell_forward`.

    Returns:
      A dict: ``dxt (m, n_x)``, ``da_prev (m, n_a)``, ``dWu, dWr, dWc (n_a, n_a + n_x)``,
      ``dbu, dbr, dbc (n_a,)`` (sums over m).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import gru_cell_backward, gru_cell_forward, gru_params
      >>> params = gru_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> *_, cache = gru_cell_forward(jnp.ones((10, 3)), jnp.zeros((10, 5)), params)
      >>> grads = gru_cell_backward(jnp.ones((10, 5)), cache)
      >>> grads["dxt"].shape, grads["da_prev"].shape, grads["dWc"].shape, grads["dbu"].shape
      ((10, 3), (10, 5), (5, 8), (5,))
    """
    a_next, a_prev, ut, rt, cct, xt, params = cache
    n_a = a_next.shape[-1]
    check_array(da_next, "da_next", a_next.shape, "(m, n_a)")
    W_a, W_x, _ = fuse_gates(params, GATES, n_a)
    gates = jnp.concatenate([ut, rt, cct], axis=1)
    da_prev, dz = _step_backward(da_next, a_prev, gates, W_a)
    dW_a = _recurrent_grads(dz, a_prev, rt, n_a)
    grads = {"dxt": dz @ W_x, "da_prev": da_prev}
    return grads | unfuse_gates(dW_a, dz.T @ xt, dz.sum(axis=0), GATES, n_a)


def gru_forward(x, a0, params, mask=None):
    """The GRU over ``T_x`` steps (a ``lax.scan`` of the cell): ``(a, y_pred, caches)``.

    Args:
      x: ``(m, T_x, n_x)``, the inputs.
      a0: ``(m, n_a)``, the initial state.
      params: as :func:`gru_cell_forward`.
      mask: ``(m, T_x)`` booleans (True = a real step) or None; a padded step keeps ``a``
        and outputs ``y_pred = 0``.

    Returns:
      ``(a (m, T_x, n_a), y_pred (m, T_x, n_y), caches)``, caches a :class:`GRUCaches`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import gru_forward, gru_params
      >>> params = gru_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 4, 3))
      >>> a, y_pred, caches = gru_forward(x, jnp.zeros((10, 5)), params)
      >>> a.shape, y_pred.shape
      ((10, 4, 5), (10, 4, 2))
    """
    n_x, n_a, _ = gate_sizes(params, GATES)
    m, T_x, _ = check_array(x, "x", (None, None, n_x), "(m, T_x, n_x)").shape
    check_array(a0, "a0", (m, n_a), "(m, n_a)")
    tmask = as_mask(mask, m, T_x)
    W_a, W_x, b = fuse_gates(params, GATES, n_a)
    a0 = as_carry(a0, x, W_a, W_x, b)
    z_x, x_tm = input_part(x, W_x, b)

    def step(a_prev, inputs):
        z_t, mask_t = inputs
        a_next, gates = _step(z_t, a_prev, W_a)
        if mask_t is not None:
            a_next = jnp.where(mask_t, a_next, a_prev)
        return a_next, (a_next, gates)

    _, (a_tm, gates) = lax.scan(step, a0, (z_x, tmask))
    y_tm = zero_masked(softmax(output_logits(a_tm, params["Wy"], params["by"])), tmask)
    caches = GRUCaches(a_tm, gates, a0, x_tm, tmask, params)
    return a_tm.transpose(1, 0, 2), y_tm.transpose(1, 0, 2), caches


def gru_backward(da, caches: GRUCaches, *, dy=None):
    """Backpropagation through time: a reverse ``lax.scan`` of the GRU cell backward.

    Args:
      da: ``(m, T_x, n_a)``, the loss's gradient with respect to every ``a<t>`` from above
        (not through the recurrence).
      caches: the :class:`GRUCaches` of :func:`gru_forward`.
      dy: ``(m, T_x, n_y)`` or None, the gradient with respect to the output logits
        ``Wy a<t> + by``.

    Returns:
      A dict: ``dx (m, T_x, n_x)``, ``da0 (m, n_a)``, ``dWu, dWr, dWc (n_a, n_a + n_x)``,
      ``dbu, dbr, dbc (n_a,)``, ``dWy (n_y, n_a)``, ``dby (n_y,)`` (zero without ``dy``).
      Sums over examples and steps.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import gru_backward, gru_forward, gru_params
      >>> params = gru_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 4, 3))
      >>> a, _, caches = gru_forward(x, jnp.zeros((10, 5)), params)
      >>> grads = gru_backward(jnp.ones_like(a), caches)
      >>> def loss(p):  # the same gradient by autodiff
      ...     return gru_forward(x, jnp.zeros((10, 5)), p)[0].sum()
      >>> bool(jnp.allclose(jax.jit(jax.grad(loss))(params)["Wr"], grads["dWr"], atol=1e-6))
      True
    """
    a_tm, gates, a0, x_tm, tmask, params = caches
    n_x, n_a, n_y = gate_sizes(params, GATES)
    T_x, m, _ = x_tm.shape
    check_array(da, "da", (m, T_x, n_a), "(m, T_x, n_a)")
    g_tm = da.transpose(1, 0, 2)
    if dy is None:
        dWy, dby = jnp.zeros_like(params["Wy"]), jnp.zeros_like(params["by"])
    else:
        check_array(dy, "dy", (m, T_x, n_y), "(m, T_x, n_y)")
        dy_tm = zero_masked(dy.transpose(1, 0, 2), tmask)
        g_tm = g_tm + dy_tm @ params["Wy"]
        dWy = sum_outer(dy_tm, a_tm)
        dby = dy_tm.sum(axis=(0, 1))
    W_a, W_x, _ = fuse_gates(params, GATES, n_a)
    a_prev_tm = previous(a0, a_tm)

    def step(da_next, inputs):
        g_t, a_prev, gates_t, mask_t = inputs
        g = g_t + da_next
        da_prev, dz = _step_backward(g, a_prev, gates_t, W_a)
        if mask_t is not None:
            dz = jnp.where(mask_t, dz, jnp.zeros((), dz.dtype))
            da_prev = jnp.where(mask_t, da_prev, g)
        return da_prev, dz

    inputs = (g_tm, a_prev_tm, gates, tmask)
    da0, dz = lax.scan(step, jnp.zeros_like(a0), inputs, reverse=True)
    rt = gates[..., n_a : 2 * n_a]
    dW_a = _recurrent_grads(dz, a_prev_tm, rt, n_a)
    dW_x = sum_outer(dz, x_tm)
    grads = {"dx": input_grad(dz, W_x), "da0": da0}
    return (
        grads | unfuse_gates(dW_a, dW_x, dz.sum(axis=(0, 1)), GATES, n_a) | {"dWy": dWy, "dby": dby}
    )
