"""Sampling a character sequence from the basic RNN's building blocks: the course's ``sample`` (course 5, week 1).

Start from ``x<1> = 0`` and ``a<0> = 0``; at each step run the cell, draw the next character
from ``softmax(z<t> / temperature)`` (``z<t> = Wya a<t> + by``), feed its one-hot vector back
as ``x<t+1>``, and stop at the newline or after ``max_length`` characters (then a newline is
appended, as the course does). The draws come from ``key`` (one split per step): same key,
same sequence. The loop is one jitted ``lax.scan`` of ``max_length`` steps.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import jax
import jax.numpy as jnp
from jax import lax

from jaxnet.layers.rnn import _sizes, _step
from jaxnet.validation import check_int, check_key, check_real

__all__ = ["rnn_sample"]


@functools.partial(jax.jit, static_argnames="max_length")
def _draw(params, key, temperature, max_length: int):
    """``max_length`` indices drawn one after another (the newline is found afterwards)."""
    vocab_size, n_a = params["Wya"].shape

    def step(carry, k):
        a_prev, idx = carry
        xt = jax.nn.one_hot(idx, vocab_size, dtype=a_prev.dtype)  # idx -1: the zero vector
        zx = xt @ params["Wax"].T + params["ba"]
        a = _step(zx, a_prev, params["Waa"])
        z = a @ params["Wya"].T + params["by"]
        nxt = jax.random.categorical(k, z / temperature)
        return (a, nxt), nxt

    start = (jnp.zeros((n_a,), params["Waa"].dtype), jnp.asarray(-1))
    return lax.scan(step, start, jax.random.split(key, max_length))[1]


def rnn_sample(
    params,
    char_to_ix: Mapping[str, int],
    *,
    key,
    temperature: float = 1.0,
    max_length: int = 50,
    end: str = "\n",
) -> list[int]:
    """The course's ``sample``: character indices drawn from the RNN, ending with the newline's.

    Args:
      params: the RNN's ``Wax (n_a, vocab)``, ``Waa (n_a, n_a)``, ``Wya (vocab, n_a)``,
        ``ba (n_a,)``, ``by (vocab,)`` (inputs and outputs are one-hot characters).
      char_to_ix: character -> index, with an entry for ``end``.
      key: a ``jax.random`` key (the course's ``seed``).
      temperature: divides the logits before the softmax (> 0): below 1 sharper, above 1 flatter.
      max_length: the most characters drawn (the course's 50); a newline is appended when
        it is reached.
      end: the end-of-sequence character (the course's newline).

    Returns:
      The indices, the last one ``char_to_ix[end]``; at most ``max_length + 1`` of them.

    Example:
      >>> import jax
      >>> from jaxnet.layers import rnn_params, rnn_sample
      >>> chars = "\\nabc"
      >>> char_to_ix = {ch: i for i, ch in enumerate(chars)}
      >>> params = rnn_params(jax.random.key(0), n_x=4, n_a=8, n_y=4, scale=1.0)
      >>> indices = rnn_sample(params, char_to_ix, key=jax.random.key(1), max_length=10)
      >>> indices[-1], len(indices) <= 11, all(0 <= i < 4 for i in indices)
      (0, True, True)
      >>> indices == rnn_sample(params, char_to_ix, key=jax.random.key(1), max_length=10)
      True
    """
    n_x, _, n_y = _sizes(params)
    if n_x != n_y:
        raise ValueError(
            f"params must read and write the same vocabulary: Wax has {n_x} input columns, "
            f"Wya {n_y} output rows"
        )
    if not isinstance(char_to_ix, Mapping) or end not in char_to_ix:
        raise ValueError(f"char_to_ix must be a dict with an entry for the end character {end!r}")
    end_ix = check_int(char_to_ix[end], f"char_to_ix[{end!r}]", 0)
    if end_ix >= n_y:
        raise ValueError(
            f"char_to_ix[{end!r}] must be below the vocabulary size {n_y}, got {end_ix}"
        )
    check_key(key)
    temperature = check_real(temperature, "temperature", 0.0, strict=True)
    max_length = check_int(max_length, "max_length", 1)
    drawn = _draw(params, key, temperature, max_length).tolist()
    return drawn[: drawn.index(end_ix) + 1] if end_ix in drawn else [*drawn, end_ix]
