"""The course's layout inside a compiled step: the examples axis stored last.

jaxnet's layers are batch-first, ``A (m, n[l])``; vmapped over K models the arrays are
``(K, m, n[l])``. XLA:CPU vectorises the minor axis, so with the course's tiny layers
(2-4-1) it works along an axis of 4 units, where the course's own layout ``A (n[l], m)``,
``(K, n[l], m)`` vmapped, gives it the long examples axis. :func:`examples_last` runs a
batch-first function in that layout: it traces the function once, then evaluates the
same primitives in the same order with every value that carries the examples axis
stored transposed (that axis moved last). It is a layout, not a second implementation
of the network: each rule only permutes the axes a primitive names (a reduction's axes,
a product's dimension numbers, a slice's bounds). A primitive without a rule gets its
operands back in the batch-first layout, so any network runs, at worst with transposes.

It reads JAX's jaxprs: the internals it relies on are listed in :mod:`jaxnet.training._cpu`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import jax
import jax.extend as jex
import numpy as np
from jax import lax

__all__ = ["Stored", "batch_first", "evaluate", "examples_last", "order", "position", "stored_as"]

# fmt: off
_ELEMENTWISE = frozenset((
    "abs", "acos", "acosh", "add", "add_any", "and", "asin", "asinh", "atan", "atan2",
    "atanh", "cbrt", "ceil", "clamp", "conj", "convert_element_type", "copy", "copy_p",
    "cos", "cosh", "digamma", "div", "eq", "erf", "erf_inv", "erfc", "exp", "exp2", "expm1",
    "floor", "ge", "gt", "igamma", "imag", "integer_pow", "is_finite", "le", "lgamma",
    "log", "log1p", "logistic", "lt", "max", "min", "mul", "ne", "neg", "nextafter", "not",
    "or", "population_count", "pow", "real", "reduce_precision", "rem", "round", "rsqrt",
    "select_n", "shift_left", "shift_right_arithmetic", "shift_right_logical", "sign",
    "sin", "sinh", "sqrt", "square", "stop_gradient", "sub", "tan", "tanh", "xor",
))
_REDUCTIONS = frozenset((
    "argmax", "argmin", "reduce_and", "reduce_max", "reduce_min", "reduce_or",
    "reduce_prod", "reduce_sum", "reduce_xor",
))
# fmt: on
_CALLS = {  # primitives that call a jaxpr (-> its param): evaluated inline, through the same rules
    "jit": "jaxpr",
    "pjit": "jaxpr",  # jit's name in older JAX
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
    "remat2": "jaxpr",  # jax.checkpoint
    "checkpoint": "jaxpr",  # jax.checkpoint's name in older JAX
}


class Stored(NamedTuple):
    """A value as stored: ``x`` is the array with its logical axis ``last`` moved to the end
    (``None``: stored as it is)."""

    x: Any
    last: int | None


def examples_last(fun, examples: tuple[bool, ...]):
    """``fun`` evaluated with the examples axis stored last.

    Args:
      fun: a batch-first function of positional arguments (pytrees of arrays).
      examples: one flag per argument: its leaves have the examples axis, axis 0 of the
        batch-first value, stored last (``X (n[0], m)`` for ``X (m, n[0])``).

    Returns:
      A function of the stored arguments that returns what ``fun`` returns, in the
      batch-first layout. It is for running, not for differentiating: the calls inside
      ``fun`` (``jit``, custom derivative rules) are evaluated inline.
    """

    def run(*args):
        logical = [
            jax.tree.map(_logical_aval if flag else _aval, arg)
            for arg, flag in zip(args, examples, strict=True)
        ]
        closed, out_shape = jax.make_jaxpr(fun, return_shape=True)(*logical)
        stored = [
            Stored(leaf, 0 if flag and leaf.ndim else None)
            for arg, flag in zip(args, examples, strict=True)
            for leaf in jax.tree.leaves(arg)
        ]
        consts = [Stored(c, None) for c in closed.consts]
        outs = evaluate(closed.jaxpr, consts, stored)
        return jax.tree.unflatten(jax.tree.structure(out_shape), [batch_first(v) for v in outs])

    return run


def _aval(a):
    return jax.ShapeDtypeStruct(a.shape, a.dtype)


def _logical_aval(a):
    shape = (a.shape[-1], *a.shape[:-1]) if a.ndim else a.shape
    return jax.ShapeDtypeStruct(shape, a.dtype)


# --- layout bookkeeping ----------------------------------------------------------------


def order(ndim: int, last: int | None) -> list[int]:
    """The logical axes in stored order: all but ``last`` in order, then ``last``."""
    if last is None:
        return list(range(ndim))
    return [a for a in range(ndim) if a != last] + [last]


def position(ndim: int, last: int | None, axis: int) -> int:
    """Where logical ``axis`` is stored."""
    return order(ndim, last).index(axis)


def batch_first(v: Stored):
    """The value in its logical (batch-first) layout."""
    if v.last is None:
        return v.x
    nd = v.x.ndim
    return lax.transpose(v.x, tuple(order(nd, v.last).index(a) for a in range(nd)))


def stored_as(v: Stored, last: int | None):
    """The array of ``v`` stored with logical axis ``last`` at the end."""
    if v.last == last:
        return v.x
    x = batch_first(v)
    return x if last is None else lax.transpose(x, tuple(order(x.ndim, last)))


# --- the evaluator ---------------------------------------------------------------------


def evaluate(jaxpr, consts: list[Stored], args: list[Stored]) -> list[Stored]:
    """Evaluate ``jaxpr`` on stored values; returns stored values."""
    env: dict[Any, Stored] = {}

    def read(v) -> Stored:
        return Stored(v.val, None) if isinstance(v, jex.core.Literal) else env[v]

    for var, val in zip(jaxpr.constvars, consts, strict=True):
        env[var] = val
    for var, val in zip(jaxpr.invars, args, strict=True):
        env[var] = val
    for eqn in jaxpr.eqns:
        with eqn.ctx.manager:
            outs = _apply(eqn, [read(v) for v in eqn.invars])
        for var, val in zip(eqn.outvars, outs, strict=True):
            env[var] = val
    return [read(v) for v in jaxpr.outvars]


def _apply(eqn, vals: list[Stored]) -> list[Stored]:
    name, params = eqn.primitive.name, eqn.params
    if all(v.last is None for v in vals):
        return _plain(eqn, vals)
    if any(params.get(k) is not None for k in ("sharding", "out_sharding")):
        return _plain(eqn, vals)  # sharded values keep their layout
    if name in _CALLS and _CALLS[name] in params:
        inner = params[_CALLS[name]]
        if isinstance(inner, jex.core.ClosedJaxpr):
            consts, inner = [Stored(c, None) for c in inner.consts], inner.jaxpr
        else:
            consts = []
        return evaluate(inner, consts, vals)
    if name in _ELEMENTWISE:
        return _elementwise(eqn, vals)
    if name in _REDUCTIONS:
        return [_reduction(eqn, vals[0])]
    rule = _RULES.get(name)
    out = rule(eqn, vals) if rule is not None else None
    return _plain(eqn, vals) if out is None else out


def _plain(eqn, vals: list[Stored]) -> list[Stored]:
    """The primitive on batch-first operands (its outputs stored as they are)."""
    params = eqn.primitive.get_bind_params(eqn.params)
    out = eqn.primitive.bind(*[batch_first(v) for v in vals], **params)
    outs = out if eqn.primitive.multiple_results else [out]
    return [Stored(o, None) for o in outs]


def _bind(eqn, *xs, **changes):
    return eqn.primitive.bind(*xs, **{**eqn.params, **changes})


def _elementwise(eqn, vals):
    """Same-shape operands (scalars aside): all stored like the first that has an axis last."""
    last = next(v.last for v in vals if v.last is not None)
    xs = [v.x if np.ndim(v.x) == 0 else stored_as(v, last) for v in vals]
    out = _bind(eqn, *xs)
    outs = out if eqn.primitive.multiple_results else [out]
    return [Stored(o, last) for o in outs]


def _reduction(eqn, v: Stored) -> Stored:
    nd, axes = v.x.ndim, tuple(eqn.params["axes"])
    out = _bind(eqn, v.x, axes=tuple(sorted(position(nd, v.last, a) for a in axes)))
    last = None if v.last in axes else v.last - sum(a < v.last for a in axes)
    return Stored(out, last)


def _broadcast_in_dim(eqn, vals):
    if len(vals) != 1:
        return None  # dynamic shapes
    (v,), p = vals, eqn.params
    shape, dims = p["shape"], p["broadcast_dimensions"]
    last = dims[v.last]
    stored_dims = tuple(position(len(shape), last, dims[a]) for a in order(v.x.ndim, v.last))
    stored_shape = tuple(shape[a] for a in order(len(shape), last))
    return [Stored(_bind(eqn, v.x, shape=stored_shape, broadcast_dimensions=stored_dims), last)]


def _transpose(eqn, vals):
    (v,), perm = vals, eqn.params["permutation"]
    nd, last = v.x.ndim, list(eqn.params["permutation"]).index(v.last)
    stored = tuple(position(nd, v.last, perm[q]) for q in order(nd, last))
    return [Stored(_bind(eqn, v.x, permutation=stored), last)]


def _squeeze(eqn, vals):
    (v,), dims = vals, tuple(eqn.params["dimensions"])
    nd = v.x.ndim
    stored = tuple(sorted(position(nd, v.last, d) for d in dims))
    last = None if v.last in dims else v.last - sum(d < v.last for d in dims)
    return [Stored(_bind(eqn, v.x, dimensions=stored), last)]


def _reshape(eqn, vals):
    """A reshape that keeps the stored axis whole (same size, same elements before and after)."""
    if len(vals) != 1 or eqn.params.get("dimensions") is not None:
        return None
    (v,) = vals
    shape_in, shape_out = eqn.invars[0].aval.shape, tuple(eqn.params["new_sizes"])
    before, size = math.prod(shape_in[: v.last]), shape_in[v.last]
    for j, n in enumerate(shape_out):
        if n == size and math.prod(shape_out[:j]) == before:
            stored_shape = tuple(shape_out[a] for a in order(len(shape_out), j))
            return [Stored(_bind(eqn, v.x, new_sizes=stored_shape), j)]
    return None


def _slice(eqn, vals):
    (v,), p = vals, eqn.params
    axes = order(v.x.ndim, v.last)

    def permuted(t):
        return None if t is None else tuple(t[a] for a in axes)

    out = _bind(
        eqn,
        v.x,
        start_indices=permuted(p["start_indices"]),
        limit_indices=permuted(p["limit_indices"]),
        strides=permuted(p["strides"]),
    )
    return [Stored(out, v.last)]


def _pad(eqn, vals):
    v, pad_value = vals
    if pad_value.last is not None:
        return None
    config = eqn.params["padding_config"]
    stored = tuple(config[a] for a in order(v.x.ndim, v.last))
    return [Stored(_bind(eqn, v.x, pad_value.x, padding_config=stored), v.last)]


def _concatenate(eqn, vals):
    last = next(v.last for v in vals if v.last is not None)
    xs = [stored_as(v, last) for v in vals]
    dim = position(xs[0].ndim, last, eqn.params["dimension"])
    return [Stored(_bind(eqn, *xs, dimension=dim), last)]


def _dot_general(eqn, vals):
    """A product with the stored axes paired (contracted or batched together) or free.

    The output keeps a free or batch stored axis; of the two operand orders, the one whose
    output comes out already stored that way is used (else a transpose follows).
    """
    lhs, rhs = vals
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    pairs = list(zip(lc, rc)) + list(zip(lb, rb))
    if lhs.last is not None and lhs.last in (a for a, _ in pairs):
        rhs = Stored(stored_as(rhs, dict(pairs)[lhs.last]), dict(pairs)[lhs.last])
    elif rhs.last is not None and rhs.last in (b for _, b in pairs):
        back = {b: a for a, b in pairs}
        lhs = Stored(stored_as(lhs, back[rhs.last]), back[rhs.last])
    elif lhs.last is not None and rhs.last is not None:
        rhs = Stored(stored_as(rhs, None), None)
    nl, nr = lhs.x.ndim, rhs.x.ndim
    lfree = [a for a in range(nl) if a not in lc and a not in lb]
    rfree = [b for b in range(nr) if b not in rc and b not in rb]
    nb = len(lb)
    out_of = {("l", a): nb + i for i, a in enumerate(lfree)}
    out_of.update({("r", b): nb + len(lfree) + i for i, b in enumerate(rfree)})
    if lhs.last is not None and ("l", lhs.last) in out_of:
        last = out_of[("l", lhs.last)]
    elif rhs.last is not None and ("r", rhs.last) in out_of:
        last = out_of[("r", rhs.last)]
    elif lhs.last is not None and lhs.last in lb:
        last = list(lb).index(lhs.last)
    else:
        last = None
    nd = nb + len(lfree) + len(rfree)
    wanted = order(nd, last)

    def attempt(first, second, fc, sc, fb, sb, fs, ss):
        """The product of ``first`` and ``second`` (stored) and its axes, as logical axes."""
        dims = (
            (
                tuple(position(first.x.ndim, first.last, a) for a in fc),
                tuple(position(second.x.ndim, second.last, b) for b in sc),
            ),
            (
                tuple(position(first.x.ndim, first.last, a) for a in fb),
                tuple(position(second.x.ndim, second.last, b) for b in sb),
            ),
        )
        axes = list(range(nb))
        for side, v, c, b in ((fs, first, fc, fb), (ss, second, sc, sb)):
            axes += [
                out_of[(side, a)] for a in order(v.x.ndim, v.last) if a not in c and a not in b
            ]
        return dims, axes

    dims, axes = attempt(lhs, rhs, lc, rc, lb, rb, "l", "r")
    operands = (lhs.x, rhs.x)
    if axes != wanted:
        swapped_dims, swapped_axes = attempt(rhs, lhs, rc, lc, rb, lb, "r", "l")
        if swapped_axes == wanted:
            dims, axes, operands = swapped_dims, swapped_axes, (rhs.x, lhs.x)
    out = _bind(eqn, *operands, dimension_numbers=dims)
    if axes != wanted:
        out = lax.transpose(out, tuple(axes.index(a) for a in wanted))
    return [Stored(out, last)]


_RULES = {
    "broadcast_in_dim": _broadcast_in_dim,
    "transpose": _transpose,
    "squeeze": _squeeze,
    "reshape": _reshape,
    "slice": _slice,
    "pad": _pad,
    "concatenate": _concatenate,
    "dot_general": _dot_general,
}
