"""A character vocabulary (course 5, week 1): sorted characters, the newline as the end token.

The course builds ``chars = sorted(set(data))`` over the whole text, newlines included, so
the newline (``"\\n"``, the end of every name) is index 0 ahead of ``a``-``z``; then
``char_to_ix`` and ``ix_to_char``. :func:`char_vocab` does the same from a list of lines.
"""

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["CharVocab", "char_vocab"]


class CharVocab(NamedTuple):
    """Characters and their indices: ``chars[i]`` is index ``i``.

    Attributes:
      chars: the characters, sorted (the end token among them).
      char_to_ix: character -> index (the course's ``char_to_ix``).
      ix_to_char: index -> character (the course's ``ix_to_char``).
      end: the end-of-sequence character (the course's newline).

    Example:
      >>> import jaxnet as jn
      >>> vocab = jn.datasets.char_vocab(["ab", "ba", "c"])
      >>> vocab.chars, vocab.size, vocab.char_to_ix["\\n"]
      (('\\n', 'a', 'b', 'c'), 4, 0)
      >>> ids = vocab.encode("cab\\n")
      >>> ids.tolist(), vocab.decode(ids)
      ([3, 1, 2, 0], 'cab\\n')
    """

    chars: tuple[str, ...]
    char_to_ix: dict[str, int]
    ix_to_char: dict[int, str]
    end: str

    @property
    def size(self) -> int:
        """The number of characters (the course's ``vocab_size``)."""
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``text`` as int32 indices ``(len(text),)``; a character outside the vocabulary is a ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        try:
            return np.array([self.char_to_ix[ch] for ch in text], dtype=np.int32)
        except KeyError:
            i, ch = next((i, ch) for i, ch in enumerate(text) if ch not in self.char_to_ix)
            raise ValueError(
                f"text[{i}] = {ch!r} is not in the vocabulary of {self.size} characters "
                f"{''.join(self.chars)!r}"
            ) from None

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The characters of integer indices ``ids``; an index outside ``0..size-1`` is a ValueError."""
        ids = np.asarray(ids)
        if ids.ndim != 1 or not (ids.size == 0 or np.issubdtype(ids.dtype, np.integer)):
            raise ValueError(
                f"ids must be a 1-D sequence of integers, got shape {ids.shape}, dtype {ids.dtype}"
            )
        bad = np.flatnonzero((ids < 0) | (ids >= self.size))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"ids[{i}] = {int(ids[i])} is outside the vocabulary 0..{self.size - 1}"
            )
        return "".join(self.chars[int(i)] for i in ids)


def char_vocab(lines: Iterable[str], *, end: str = "\n") -> CharVocab:
    """The sorted characters of ``lines`` plus the end token ``end``, as the course builds them.

    Args:
      lines: the texts (e.g. :func:`~jaxnet.datasets.load_dinos`'s names).
      end: the end-of-sequence character appended to every line (the course's newline).

    Returns:
      A :class:`CharVocab`.

    Raises:
      TypeError: a line that is not a str.
      ValueError: ``end`` is not one character, or no line.

    Example:
      >>> import jaxnet as jn
      >>> vocab = jn.datasets.char_vocab(["aachenosaurus", "aardonyx"])
      >>> vocab.size, vocab.ix_to_char[0] == "\\n", vocab.ix_to_char[1]
      (13, True, 'a')
    """
    if not isinstance(end, str) or len(end) != 1:
        raise ValueError(f"end must be one character, got {end!r}")
    if isinstance(lines, str):
        raise TypeError("lines must be a list of strings, got one str (wrap it: [text])")
    chars, count = {end}, 0
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            raise TypeError(f"lines[{i}] must be a str, got {type(line).__name__}")
        chars.update(line)
        count += 1
    if not count:
        raise ValueError("lines is empty: a vocabulary needs at least one line")
    ordered = tuple(sorted(chars))
    return CharVocab(
        ordered, {ch: i for i, ch in enumerate(ordered)}, dict(enumerate(ordered)), end
    )
