"""A layer's params as a tree: shapes as leaves, paths that name a leaf, and state merged back in.

A plain layer's params are a flat dict (``{"W": (n[l], n[l-1]), "b": (n[l],)}``); a layer
made of layers (:class:`jaxnet.layers.Residual`) nests its sub-layers' dicts
(``{"main": ({...}, {...}), "shortcut": ({...},)}``). :meth:`jaxnet.layers.Layer.param_shapes` answers
with the same tree, its leaves the shapes (tuples of ints). These helpers walk either
form, so the network, validation and the summary need not know which layers nest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import jax

__all__ = ["is_shape", "leaf_paths", "map_shapes", "merge_stats", "path_name", "shape_leaves"]


def is_shape(x) -> bool:
    """Whether ``x`` is a leaf of a shapes tree: a tuple of ints (``()`` too: a scalar).

    >>> is_shape((3, 4)), is_shape(()), is_shape(({"W": (3, 4)},))
    (True, True, False)
    """
    return isinstance(x, tuple) and all(isinstance(n, int) for n in x)


def shape_leaves(shapes) -> list[tuple[int, ...]]:
    """The shapes of a shapes tree, in ``jax.tree`` order (the order of the params' leaves).

    >>> shape_leaves(({"W": (3, 4), "b": (3,)}, {"main": ({"gamma": (3,)},)}))
    [(3, 4), (3,), (3,)]
    """
    return jax.tree.leaves(shapes, is_leaf=is_shape)


def map_shapes(fn: Callable, shapes, *rest) -> Any:
    """``fn(shape, *leaves)`` at every leaf of a shapes tree (``rest``: trees of its structure).

    >>> map_shapes(lambda s, t: (s, t), {"W": (3, 4)}, {"W": True})
    {'W': ((3, 4), True)}
    """
    return jax.tree.map(fn, shapes, *rest, is_leaf=is_shape)


def leaf_paths(shapes, prefix: str = "") -> Iterator[tuple[str, tuple[int, ...]]]:
    """``(path, shape)`` of every leaf: ``"['W']"``, ``"['main'][0]['W']"``, after ``prefix``.

    >>> list(leaf_paths({"main": ({"W": (2, 2)},)}, "params[1]"))
    [("params[1]['main'][0]['W']", (2, 2))]
    """
    flat = jax.tree_util.tree_flatten_with_path(shapes, is_leaf=is_shape)[0]
    for path, shape in flat:
        yield prefix + path_name(path), shape


def path_name(path) -> str:
    """A ``jax.tree_util`` key path as Python indexing: ``['main'][0]['W']``."""
    return jax.tree_util.keystr(tuple(path))


def merge_stats(params, stats):
    """``params`` with the leaves that ``stats`` (a partial tree of the same nesting) holds
    replaced: a dict merges key by key, a tuple position by position, anything else is a
    new value. A flat layer's ``{**params, **stats}``, and the same for nested blocks.

    >>> merge_stats({"main": ({"g": 1, "mean": 0},)}, {"main": ({"mean": 5},)})
    {'main': ({'g': 1, 'mean': 5},)}
    """
    if isinstance(stats, dict):
        return {**params, **{k: merge_stats(params[k], v) for k, v in stats.items()}}
    if isinstance(stats, tuple | list):
        return tuple(merge_stats(p, s) for p, s in zip(params, stats, strict=True))
    return stats
