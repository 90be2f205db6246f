"""Checks at the public boundary: each error names the argument, what it got and what was expected.

Shape checks always run (they are static, so they also work on tracers inside ``jit``);
value checks (finiteness, label range) run only on concrete arrays, once, outside traced code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnet.network import Network


def is_concrete(x) -> bool:
    """True for arrays whose values can be read now (not tracers inside jit/grad/vmap)."""
    return not isinstance(x, jax.core.Tracer)


def check_network(net) -> Network:
    if not isinstance(net, Network):
        raise TypeError(f"net must be a jaxnet.Network, got {type(net).__name__}")
    return net


def _as_array(x, name: str):
    if isinstance(x, jax.Array | np.ndarray):
        return x
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array, got {type(x).__name__}: {e}") from None


def _on_device(x, dtype):
    """``x`` as a JAX array of ``dtype``; a NumPy array is cast on the host and put on the
    device with ``device_put`` (``jnp.asarray`` would compile a cast or a copy per shape)."""
    if isinstance(x, np.ndarray):
        return jax.device_put(x.astype(dtype, copy=False))
    return jnp.asarray(x, dtype)


def _check_finite(x, name: str) -> None:
    if (
        is_concrete(x)
        and jnp.issubdtype(x.dtype, jnp.inexact)
        and not np.isfinite(np.asarray(x)).all()
    ):
        bad = int((~np.isfinite(np.asarray(x))).sum())
        raise ValueError(f"{name} must be finite, got {bad} NaN or infinite value(s)")


def check_params(net: Network, params, name: str = "params") -> jnp.dtype:
    """Params must be a tuple of L ``{"W": (n[l], n[l-1]), "b": (n[l],)}`` in one float dtype."""
    if not isinstance(params, tuple | list) or len(params) != net.L:
        got = (
            f"{type(params).__name__} of length {len(params)}"
            if isinstance(params, tuple | list)
            else type(params).__name__
        )
        raise ValueError(
            f"{name} must be a tuple of {net.L} layer dicts for sizes {net.sizes}, got {got}"
        )
    dtypes = set()
    for l, (p, n_prev, n) in enumerate(zip(params, net.sizes, net.sizes[1:]), start=1):
        if not isinstance(p, dict) or set(p) != {"W", "b"}:
            raise ValueError(f"{name}[{l - 1}] must be a dict with keys 'W' and 'b', got {p!r:.80}")
        for key, expected in (("W", (n, n_prev)), ("b", (n,))):
            leaf = _as_array(p[key], f"{name}[{l - 1}]['{key}']")
            if tuple(leaf.shape) != expected:
                raise ValueError(
                    f"{name}[{l - 1}]['{key}'] (layer {l}) has shape {tuple(leaf.shape)}, expected "
                    f"{expected} for sizes {net.sizes}"
                )
            if not jnp.issubdtype(leaf.dtype, jnp.floating):
                raise TypeError(
                    f"{name}[{l - 1}]['{key}'] must be floating point, got {leaf.dtype}"
                )
            _check_finite(leaf, f"{name}[{l - 1}]['{key}']")
            dtypes.add(jnp.dtype(leaf.dtype))
    if len(dtypes) > 1:
        raise TypeError(f"{name} must share one dtype, got {sorted(map(str, dtypes))}")
    return dtypes.pop()


def as_inputs(net: Network, X, dtype, name: str = "X"):
    """``X`` as a ``(m, n[0])`` array of ``dtype``."""
    X = _as_array(X, name)
    if X.ndim != 2:
        hint = {
            1: "; for one example use X[None, :]",
            4: "; flatten images first with jaxnet.datasets.flatten_images",
        }.get(X.ndim, "")
        raise ValueError(
            f"{name} must be 2-D (m examples, {net.sizes[0]} features), got shape {X.shape}{hint}"
        )
    if X.shape[1] != net.sizes[0]:
        raise ValueError(
            f"{name} has {X.shape[1]} features per example (shape {X.shape}), but the network "
            f"expects sizes[0] = {net.sizes[0]}"
        )
    if X.shape[0] < 1:
        raise ValueError(f"{name} has no examples (shape {X.shape})")
    if not (jnp.issubdtype(X.dtype, jnp.number) or X.dtype == bool):
        raise TypeError(f"{name} must be numeric, got dtype {X.dtype}")
    _check_finite(X, name)
    return _on_device(X, dtype)


def as_labels(net: Network, Y, m: int, dtype, name: str = "Y"):
    """Labels as ``(m, n[L])`` of ``dtype``: one-hot for softmax, 0/1 columns for sigmoid."""
    Y = _as_array(Y, name)
    n_out, task = net.sizes[-1], net.task
    if Y.ndim not in (1, 2) or Y.shape[0] != m:
        raise ValueError(
            f"{name} must have one row per example of X: shape ({m},) or ({m}, {n_out}), got {Y.shape}"
        )
    if task == "multiclass" and (Y.ndim == 1 or Y.shape[1] == 1):
        _check_values(Y, name, integers_below=n_out)
        if isinstance(Y, np.ndarray):
            return _on_device(Y.reshape(m, 1) == np.arange(n_out), dtype)
        return jax.nn.one_hot(jnp.asarray(Y).reshape(m), n_out, dtype=dtype)
    got = Y.shape  # the caller's shape, for the message
    if Y.ndim == 1:
        Y = Y.reshape(m, 1)
    if Y.shape[1] != n_out:
        what = {"multiclass": f"integer labels ({m},) or one-hot ({m}, {n_out})"}.get(
            task, f"({m}, {n_out})"
        )
        raise ValueError(f"{name} has shape {got}, expected {what} for {n_out} output units")
    if task == "multiclass":
        _check_one_hot(Y, name)
    elif task in ("binary", "multilabel"):
        _check_values(Y, name, integers_below=2)
    else:
        _check_finite(Y, name)
    return _on_device(Y, dtype)


def _check_values(Y, name: str, integers_below: int) -> None:
    if not is_concrete(Y):
        return
    values = np.asarray(Y)
    ok = (
        np.isfinite(values)
        & (values == np.round(values))
        & (values >= 0)
        & (values < integers_below)
    )
    if not ok.all():
        bad = values[~ok].ravel()[:5]
        expected = (
            "{0, 1} for a sigmoid output"
            if integers_below == 2
            else f"0..{integers_below - 1} (integer class labels)"
        )
        raise ValueError(f"{name} must hold labels in {expected}, got {bad.tolist()}")


def _check_one_hot(Y, name: str) -> None:
    if not is_concrete(Y):
        return
    values = np.asarray(Y, dtype=np.float64)
    if not (
        np.isfinite(values).all()
        and (values >= 0).all()
        and np.allclose(values.sum(axis=1), 1, atol=1e-4)
    ):
        raise ValueError(
            f"{name} must be one-hot rows (non-negative, summing to 1) for a softmax output"
        )
