"""What the recurrent building blocks share: boundary checks, the mask, the softmax output, time-major views.

Arrays are batch-first at the public boundary (``x (m, T_x, n_x)``, ``a (m, T_x, n_a)``);
``lax.scan`` runs over a leading time axis, so inside, per-step arrays are time-major
``(T_x, m, ...)``. A mask ``(m, T_x)`` becomes ``(T_x, m, 1)`` booleans, broadcast explicitly
against ``(m, n)`` per step (no rank promotion).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "as_carry",
    "as_mask",
    "check_array",
    "check_params",
    "concat_rows",
    "fuse_gates",
    "gate_sizes",
    "gated_params",
    "input_grad",
    "input_part",
    "output_logits",
    "previous",
    "rows",
    "softmax",
    "split_columns",
    "sum_outer",
    "unfuse_gates",
    "zero_masked",
]


def check_params(params, shapes: Mapping[str, tuple[int, ...]], name: str = "params"):
    """``params`` if it maps every name of ``shapes`` to an array of that shape; else a clear error.

    ``None`` in a shape is a free size. Extra keys are allowed (and ignored). Returns ``params``.
    """
    if not isinstance(params, Mapping):
        raise TypeError(
            f"{name} must be a dict with the keys {sorted(shapes)}, got {type(params).__name__}"
        )
    missing = [k for k in shapes if k not in params]
    if missing:
        raise ValueError(
            f"{name} lacks {missing}; expected the keys {sorted(shapes)}, got {sorted(params)}"
        )
    for key, shape in shapes.items():
        got = getattr(params[key], "shape", None)
        if got is None:
            raise TypeError(f"{name}[{key!r}] must be an array, got {type(params[key]).__name__}")
        if len(got) != len(shape) or any(s not in (None, g) for s, g in zip(shape, got)):
            raise ValueError(f"{name}[{key!r}] must have shape {_fmt(shape)}, got {tuple(got)}")
    return params


def _fmt(shape) -> str:
    """A shape with its free sizes as ``?``: ``(5, ?)``, ``(5,)``."""
    parts = ["?" if s is None else str(s) for s in shape]
    return f"({parts[0]},)" if len(parts) == 1 else f"({', '.join(parts)})"


def check_array(x, name: str, shape: tuple, dims: str):
    """``x`` if it is an array of ``shape`` (``None`` entries are free); ``dims`` names the axes."""
    got = getattr(x, "shape", None)
    if got is None or not hasattr(x, "dtype"):
        raise TypeError(f"{name} must be an array of shape {dims}, got {type(x).__name__}")
    ok = len(got) == len(shape) and all(s is None or s == g for s, g in zip(shape, got))
    if not ok:
        raise ValueError(f"{name} must have shape {dims} = {_fmt(shape)}, got {tuple(got)}")
    if not jnp.issubdtype(x.dtype, jnp.floating):
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    return x


def as_carry(state, *arrays):
    """``state`` in the dtype of a step's result, ``result_type(state, *arrays)``: the scan's carry
    keeps one dtype (a float32 ``a0`` with float64 params becomes float64, as any product would)."""
    return state.astype(jnp.result_type(state, *arrays))


def as_mask(mask, m: int, T_x: int):
    """``mask (m, T_x)`` (bool, or 0/1 numbers) as time-major booleans ``(T_x, m, 1)``; None stays None."""
    if mask is None:
        return None
    got = getattr(mask, "shape", None)
    if got is None:
        mask = np.asarray(mask)
        got = mask.shape
    if tuple(got) != (m, T_x):
        raise ValueError(
            f"mask must have shape (m, T_x) = ({m}, {T_x}), like x's first two axes, got {tuple(got)}"
        )
    if not (jnp.issubdtype(mask.dtype, jnp.bool_) or jnp.issubdtype(mask.dtype, jnp.number)):
        raise TypeError(f"mask must hold booleans (True = a real step), got dtype {mask.dtype}")
    return (jnp.asarray(mask) != 0).T[:, :, None]


def output_logits(a, Wy, by):
    """``z = a Wy^T + by`` for ``a (..., n_a)``, ``Wy (n_y, n_a)``, ``by (n_y,)``: ``(..., n_y)``."""
    z = a @ Wy.T
    return z + jnp.broadcast_to(by, z.shape)


def rows(v):
    """``v (..., n)`` as a matrix ``(prod(...), n)``: every step of every example one row."""
    return v.reshape(-1, v.shape[-1])


def input_part(x, W_x, b):
    """``(z_x, x_tm)``: ``z_x = x W_x^T + b`` for every step, time-major ``(T_x, m, k)``, from one
    matrix product over the ``T_x m`` rows; ``x_tm (T_x, m, n_x)`` is ``x`` time-major."""
    x_tm = x.transpose(1, 0, 2)
    z = (rows(x_tm) @ W_x.T).reshape(*x_tm.shape[:2], W_x.shape[0])
    return z + jnp.broadcast_to(b, z.shape), x_tm


def sum_outer(dz, v):
    """``sum over steps and examples of dz^T v``: ``(k, n)`` from ``dz (T_x, m, k)``, ``v (T_x, m, n)``."""
    return rows(dz).T @ rows(v)


def input_grad(dz, W_x):
    """``dx = dz W_x`` for every step, batch-first ``(m, T_x, n_x)`` from ``dz (T_x, m, k)``."""
    T_x, m, _ = dz.shape
    return (rows(dz) @ W_x).reshape(T_x, m, W_x.shape[1]).transpose(1, 0, 2)


def previous(first, states):
    """The state before each step: ``first (m, n)`` then ``states[:-1]``, time-major ``(T_x, m, n)``."""
    return jnp.concatenate([first[None], states[:-1]], axis=0)


def concat_rows(*blocks):
    """The course's gate matrices stacked along axis 0: ``(k n_a, n_a + n_x)`` for ``k`` gates."""
    return jnp.concatenate(blocks, axis=0)


def split_columns(W, n_a: int):
    """``W (k n_a, n_a + n_x)`` acting on ``[a_prev, xt]`` as ``(W_a (k n_a, n_a), W_x (k n_a, n_x))``."""
    return W[:, :n_a], W[:, n_a:]


def softmax(z):
    """The softmax over the last axis (the course's ``yt_pred``)."""
    return jax.nn.softmax(z, axis=-1)


def zero_masked(y, mask):
    """``y (T_x, m, n)`` with the masked steps set to 0 (``mask`` time-major or None)."""
    return y if mask is None else jnp.where(mask, y, jnp.zeros((), y.dtype))


def gate_sizes(params, gates: tuple[str, ...]):
    """``(n_x, n_a, n_y)`` of a gated cell's params (``W<g> (n_a, n_a + n_x)``, ``b<g> (n_a,)``
    per gate ``g``, ``Wy (n_y, n_a)``, ``by (n_y,)``), after checking that their shapes agree."""
    first = f"W{gates[0]}"
    check_params(params, {first: (None, None), "Wy": (None, None)})
    n_a, n_ax = params[first].shape
    n_y = params["Wy"].shape[0]
    shapes = {f"W{g}": (n_a, n_ax) for g in gates} | {f"b{g}": (n_a,) for g in gates}
    check_params(params, shapes | {"Wy": (n_y, n_a), "by": (n_y,)})
    if n_ax <= n_a:
        raise ValueError(
            f"params[{first!r}] must be (n_a, n_a + n_x) with n_x >= 1, got {(n_a, n_ax)}"
        )
    return n_ax - n_a, n_a, n_y


def fuse_gates(params, gates: tuple[str, ...], n_a: int):
    """``(W_a (G n_a, n_a), W_x (G n_a, n_x), b (G n_a,))``: the G gates' weights stacked in order."""
    W = concat_rows(*(params[f"W{g}"] for g in gates))
    b = jnp.concatenate([params[f"b{g}"] for g in gates])
    return (*split_columns(W, n_a), b)


def unfuse_gates(dW_a, dW_x, db, gates: tuple[str, ...], n_a: int) -> dict:
    """The fused gradients back under the course's names ``dW<g>, db<g>`` per gate."""
    grads = {}
    for k, g in enumerate(gates):
        block = slice(k * n_a, (k + 1) * n_a)
        grads[f"dW{g}"] = jnp.concatenate([dW_a[block], dW_x[block]], axis=1)
        grads[f"db{g}"] = db[block]
    return grads


def gated_params(key, gates: tuple[str, ...], n_x: int, n_a: int, n_y: int, scale: float, dtype):
    """A gated cell's params: weights ``scale * N(0, 1)`` (one key per gate, the last for
    ``Wy``), biases zero."""
    keys = jax.random.split(key, len(gates) + 1)
    params = {}
    for k, g in zip(keys, gates):
        params[f"W{g}"] = scale * jax.random.normal(k, (n_a, n_a + n_x), dtype)
        params[f"b{g}"] = jnp.zeros((n_a,), dtype)
    params["Wy"] = scale * jax.random.normal(keys[-1], (n_y, n_a), dtype)
    params["by"] = jnp.zeros((n_y,), dtype)
    return params
