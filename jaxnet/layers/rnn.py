"""The basic RNN cell and its sequence (course 5, week 1), batch-first, with hand-derived backpropagation through time.

Shapes: ``xt (m, n_x)``, ``a_prev (m, n_a)``, ``x (m, T_x, n_x)``, ``a (m, T_x, n_a)``; the
course's parameters ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)``, ``ba (n_a,)``,
``by (n_y,)``. One example reads exactly as the course writes it::

    a<t> = tanh(Waa a<t-1> + Wax x<t> + ba)        y_hat<t> = softmax(Wya a<t> + by)

Backward (``g`` the gradient of the loss with respect to ``a<t>``, from above and from step
``t+1``; ``dz = g (1 - a<t>^2)``)::

    dxt = dz Wax      da_prev = dz Waa      dWax = dz^T xt      dWaa = dz^T a_prev      dba = sum_m dz

``da`` of :func:`rnn_backward` is the upstream gradient of the loss with respect to every
hidden state ``a<t>`` (the course's): ``(m, T_x, n_a)``, *not* including the recurrence; the
backward adds the gradient that flows back from step ``t+1``. Gradients are sums over the
examples and steps (the course's; no ``1/m``): they are exactly the vector-Jacobian product
of :func:`rnn_forward` with ``da``, so a mean cost divides ``da`` by ``m``.

BPTT is a reverse ``lax.scan`` of the cell's sequential part (``dz`` and ``da_prev``); the
parameter and input gradients are linear in ``dz`` and are taken once over all steps (one
matrix product over ``T_x m`` rows instead of ``T_x`` small ones), the same sums the
course's loop accumulates.

Masking: with ``mask (m, T_x)`` a padded step (False) keeps the state, ``a<t> = a<t-1>``, and
outputs ``y_hat<t> = 0``; its backward passes ``g`` straight to ``a<t-1>`` and adds nothing to
the parameter gradients. Padded steps anywhere in a sequence therefore give the final
state and gradients of that sequence alone.
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
    check_params,
    input_grad,
    input_part,
    output_logits,
    previous,
    softmax,
    sum_outer,
    zero_masked,
)

__all__ = [
    "RNNCaches",
    "RNNCellCache",
    "rnn_backward",
    "rnn_cell_backward",
    "rnn_cell_forward",
    "rnn_forward",
    "rnn_params",
]


class RNNCellCache(NamedTuple):
    """The course's cell cache ``(a_next, a_prev, xt, parameters)``: ``(m, n_a)``, ``(m, n_a)``, ``(m, n_x)``, dict."""

    a_next: jax.Array
    a_prev: jax.Array
    xt: jax.Array
    params: dict


class RNNCaches(NamedTuple):
    """What :func:`rnn_backward` needs from :func:`rnn_forward`.

    Attributes:
      a: ``(T_x, m, n_a)``, the states ``a<1..T_x>`` time-major (as ``lax.scan`` stacks them).
      a0: ``(m, n_a)``, the initial state.
      x: ``(T_x, m, n_x)``, the inputs time-major.
      mask: ``(T_x, m, 1)`` booleans, or None (every step is real).
      params: the parameter dict.
    """

    a: jax.Array
    a0: jax.Array
    x: jax.Array
    mask: jax.Array | None
    params: dict


def _sizes(params):
    """``(n_x, n_a, n_y)`` from the params, after checking their five shapes agree."""
    check_params(params, {"Wax": (None, None), "Wya": (None, None)})
    n_a, n_x = params["Wax"].shape
    n_y = params["Wya"].shape[0]
    shapes = {"Wax": (n_a, n_x), "Waa": (n_a, n_a), "Wya": (n_y, n_a), "ba": (n_a,), "by": (n_y,)}
    check_params(params, shapes)
    return n_x, n_a, n_y


def rnn_params(key, n_x: int, n_a: int, n_y: int, *, scale: float = 0.01, dtype=jnp.float32):
    """The course's ``initialize_parameters``: weights ``scale * N(0, 1)``, biases zero.

    Args:
      key: a ``jax.random`` key.
      n_x: input size; n_a: state size; n_y: output size.
      scale: the weights' standard deviation (the course's 0.01).
      dtype: the params' dtype.

    Returns:
      ``{"Wax": (n_a, n_x), "Waa": (n_a, n_a), "Wya": (n_y, n_a), "ba": (n_a,), "by": (n_y,)}``.

    Example:
      >>> import jax
      >>> from jaxnet.layers import rnn_params
      >>> params = rnn_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> {k: v.shape for k, v in sorted(params.items())}
      {'Waa': (5, 5), 'Wax': (5, 3), 'Wya': (2, 5), 'ba': (5,), 'by': (2,)}
    """
    k1, k2, k3 = jax.random.split(key, 3)
    normal = lambda k, shape: scale * jax.random.normal(k, shape, dtype)  # noqa: E731
    return {
        "Wax": normal(k1, (n_a, n_x)),
        "Waa": normal(k2, (n_a, n_a)),
        "Wya": normal(k3, (n_y, n_a)),
        "ba": jnp.zeros((n_a,), dtype),
        "by": jnp.zeros((n_y,), dtype),
    }


def _step(zx, a_prev, Waa):
    """``a<t> = tanh(zx + a_prev Waa^T)`` with the input part ``zx = xt Wax^T + ba`` precomputed."""
    return jnp.tanh(zx + a_prev @ Waa.T)


def _step_backward(g, a_next, Waa):
    """The sequential part of the cell backward: ``dz = g (1 - a_next^2)``, ``da_prev = dz Waa``."""
    dz = g * (1 - a_next * a_next)
    return dz, dz @ Waa


def rnn_cell_forward(xt, a_prev, params):
    """One step of the basic RNN: ``a_next = tanh(a_prev Waa^T + xt Wax^T + ba)``, ``yt_pred = softmax(a_next Wya^T + by)``.

    Args:
      xt: ``(m, n_x)``, the input at step t.
      a_prev: ``(m, n_a)``, the state at step t-1.
      params: ``Wax (n_a, n_x)``, ``Waa (n_a, n_a)``, ``Wya (n_y, n_a)``, ``ba (n_a,)``, ``by (n_y,)``.

    Returns:
      ``(a_next (m, n_a), yt_pred (m, n_y), cache)``, cache an :class:`RNNCellCache`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import rnn_cell_forward, rnn_params
      >>> params = rnn_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> a_next, yt_pred, cache = rnn_cell_forward(jnp.ones((10, 3)), jnp.zeros((10, 5)), params)
      >>> a_next.shape, yt_pred.shape, yt_pred.sum(axis=1).round(6).tolist()[:2]
      ((10, 5), (10, 2), [1.0, 1.0])
    """
    n_x, n_a, _ = _sizes(params)
    m = check_array(xt, "xt", (None, n_x), "(m, n_x)").shape[0]
    check_array(a_prev, "a_prev", (m, n_a), "(m, n_a)")
    zx = xt @ params["Wax"].T
    a_next = _step(zx + jnp.broadcast_to(params["ba"], zx.shape), a_prev, params["Waa"])
    yt_pred = softmax(output_logits(a_next, params["Wya"], params["by"]))
    return a_next, yt_pred, RNNCellCache(a_next, a_prev, xt, params)


def rnn_cell_backward(da_next, cache: RNNCellCache):
    """Gradients through one step, given ``da_next (m, n_a)``, the loss's gradient with respect to ``a_next``.

    Args:
      da_next: ``(m, n_a)``.
      cache: the :class:`RNNCellCache` of :func:`rnn_cell_forward`.

    Returns:
      The course's dict: ``dxt (m, n_x)``, ``da_prev (m, n_a)``, ``dWax (n_a, n_x)``,
      ``dWaa (n_a, n_a)``, ``dba (n_a,)`` (sums over the m examples).

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import rnn_cell_backward, rnn_cell_forward, rnn_params
      >>> params = rnn_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> _, _, cache = rnn_cell_forward(jnp.ones((10, 3)), jnp.zeros((10, 5)), params)
      >>> grads = rnn_cell_backward(jnp.ones((10, 5)), cache)
      >>> {k: v.shape for k, v in grads.items()}
      {'dxt': (10, 3), 'da_prev': (10, 5), 'dWax': (5, 3), 'dWaa': (5, 5), 'dba': (5,)}
    """
    a_next, a_prev, xt, params = cache
    check_array(da_next, "da_next", a_next.shape, "(m, n_a)")
    dz, da_prev = _step_backward(da_next, a_next, params["Waa"])
    return {
        "dxt": dz @ params["Wax"],
        "da_prev": da_prev,
        "dWax": dz.T @ xt,
        "dWaa": dz.T @ a_prev,
        "dba": dz.sum(axis=0),
    }


def rnn_forward(x, a0, params, mask=None):
    """The basic RNN over ``T_x`` steps (a ``lax.scan`` of the cell): ``(a, y_pred, caches)``.

    Args:
      x: ``(m, T_x, n_x)``, the inputs.
      a0: ``(m, n_a)``, the initial state.
      params: as :func:`rnn_cell_forward`.
      mask: ``(m, T_x)`` booleans (True = a real step) or None; on a padded step the state
        carries over and ``y_pred`` is 0.

    Returns:
      ``(a (m, T_x, n_a), y_pred (m, T_x, n_y), caches)``, caches an :class:`RNNCaches`.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import rnn_forward, rnn_params
      >>> params = rnn_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 4, 3))
      >>> a, y_pred, caches = rnn_forward(x, jnp.zeros((10, 5)), params)
      >>> a.shape, y_pred.shape
      ((10, 4, 5), (10, 4, 2))
      >>> mask = jnp.array([[True, True, False, False]] * 10)  # every sequence of length 2
      >>> a_masked, y_masked, _ = rnn_forward(x, jnp.zeros((10, 5)), params, mask)
      >>> bool((a_masked[:, 3] == a[:, 1]).all()), float(abs(y_masked[:, 2:]).max())
      (True, 0.0)
    """
    n_x, n_a, _ = _sizes(params)
    m, T_x, _ = check_array(x, "x", (None, None, n_x), "(m, T_x, n_x)").shape
    check_array(a0, "a0", (m, n_a), "(m, n_a)")
    tmask = as_mask(mask, m, T_x)
    a0 = as_carry(a0, x, params["Wax"], params["Waa"], params["ba"])
    zx, x_tm = input_part(x, params["Wax"], params["ba"])
    Waa = params["Waa"]

    def step(a_prev, inputs):
        zx_t, mask_t = inputs
        a_next = _step(zx_t, a_prev, Waa)
        if mask_t is not None:
            a_next = jnp.where(mask_t, a_next, a_prev)
        return a_next, a_next

    _, a_tm = lax.scan(step, a0, (zx, tmask))
    y_tm = zero_masked(softmax(output_logits(a_tm, params["Wya"], params["by"])), tmask)
    caches = RNNCaches(a_tm, a0, x_tm, tmask, params)
    return a_tm.transpose(1, 0, 2), y_tm.transpose(1, 0, 2), caches


def rnn_backward(da, caches: RNNCaches, *, dy=None):
    """Backpropagation through time: a reverse ``lax.scan`` of the cell backward.

    Args:
      da: ``(m, T_x, n_a)``, the loss's gradient with respect to every state ``a<t>`` from
        above (not through the recurrence; the course's ``da``).
      caches: the :class:`RNNCaches` of :func:`rnn_forward`.
      dy: ``(m, T_x, n_y)`` or None, the loss's gradient with respect to the output
        *logits* ``z<t> = Wya a<t> + by`` (for softmax + cross-entropy, ``y_pred - y``: the
        course's ``dy`` of the language model); its ``Wya^T dy`` joins ``da``.

    Returns:
      A dict: ``dx (m, T_x, n_x)``, ``da0 (m, n_a)``, ``dWax (n_a, n_x)``, ``dWaa (n_a, n_a)``,
      ``dba (n_a,)`` (the course's five) and ``dWya (n_y, n_a)``, ``dby (n_y,)`` (zero
      without ``dy``). Sums over examples and steps.

    Example:
      >>> import jax, jax.numpy as jnp
      >>> from jaxnet.layers import rnn_backward, rnn_forward, rnn_params
      >>> params = rnn_params(jax.random.key(0), n_x=3, n_a=5, n_y=2)
      >>> x = jax.random.normal(jax.random.key(1), (10, 4, 3))
      >>> a, y_pred, caches = rnn_forward(x, jnp.zeros((10, 5)), params)
      >>> grads = rnn_backward(jnp.ones_like(a), caches)
      >>> {k: v.shape for k, v in grads.items()}  # doctest: +NORMALIZE_WHITESPACE
      {'dx': (10, 4, 3), 'da0': (10, 5), 'dWax': (5, 3), 'dWaa': (5, 5), 'dba': (5,),
       'dWya': (2, 5), 'dby': (2,)}
      >>> def loss(p):  # the same gradient by autodiff
      ...     return (rnn_forward(x, jnp.zeros((10, 5)), p)[0]).sum()
      >>> bool(jnp.allclose(jax.jit(jax.grad(loss))(params)["Waa"], grads["dWaa"], atol=1e-6))
      True
    """
    a_tm, a0, x_tm, tmask, params = caches
    n_x, n_a, n_y = _sizes(params)
    T_x, m, _ = x_tm.shape
    check_array(da, "da", (m, T_x, n_a), "(m, T_x, n_a)")
    g_tm = da.transpose(1, 0, 2)
    if dy is None:
        dWya, dby = jnp.zeros_like(params["Wya"]), jnp.zeros_like(params["by"])
    else:
        check_array(dy, "dy", (m, T_x, n_y), "(m, T_x, n_y)")
        dy_tm = zero_masked(dy.transpose(1, 0, 2), tmask)
        g_tm = g_tm + dy_tm @ params["Wya"]
        dWya = sum_outer(dy_tm, a_tm)
        dby = dy_tm.sum(axis=(0, 1))
    Waa = params["Waa"]

    def step(da_next, inputs):
        g_t, a_t, mask_t = inputs
        g = g_t + da_next
        dz, da_prev = _step_backward(g, a_t, Waa)
        if mask_t is not None:
            dz = jnp.where(mask_t, dz, jnp.zeros((), dz.dtype))
            da_prev = jnp.where(mask_t, da_prev, g)
        return da_prev, dz

    da0, dz = lax.scan(step, jnp.zeros_like(a0), (g_tm, a_tm, tmask), reverse=True)
    return {
        "dx": input_grad(dz, params["Wax"]),
        "da0": da0,
        "dWax": sum_outer(dz, x_tm),
        "dWaa": sum_outer(dz, previous(a0, a_tm)),
        "dba": dz.sum(axis=(0, 1)),
        "dWya": dWya,
        "dby": dby,
    }
