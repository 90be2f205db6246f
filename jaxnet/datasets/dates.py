"""Human-readable dates and their machine form ``YYYY-MM-DD`` (course 5, week 3: translation with attention).

The course generates its pairs with Faker and Babel; here they come offline from
``datetime`` and a ``jax.random`` key. A date is drawn uniformly between ``start`` and
``end``, a format uniformly from ``formats`` (repeats weigh a format up, as the course's
list repeats ``"full"``), and written in English; lower-cased and without commas, as the
course feeds them. Format tokens (Unicode/Babel patterns)::

    EEEE  weekday name (tuesday)      MMMM  month name (march)     MMM  its first three letters
    MM    month, two digits (03)      M     month (3)
    dd    day, two digits (09)        d     day (9)
    y     year (2009)                 yy    year, two digits (09)

Any other character is copied. Two-digit years name one date only while the range spans
under a hundred years (the default, 1970-2029, maps ``70..99`` to 19xx and ``00..69`` to 20xx).
"""

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from jaxnet.datasets import _random
from jaxnet.validation import check_bool, check_int, check_key, is_traced

__all__ = ["DATE_FORMATS", "date_vocabularies", "encode_dates", "format_date", "make_dates"]

# The course's nmt_utils FORMATS after lower-casing and removing commas (Babel's en_US
# "short", "medium", "long", "full" spelled out), plus the day-first full form.
DATE_FORMATS = (
    "M/d/yy",  # short: 3/10/09
    "MMM d y",  # medium: mar 10 2009
    "MMMM d y",  # long: march 10 2009
    *("EEEE MMMM d y",) * 6,  # full: tuesday march 10 2009
    *("EEEE d MMMM y",) * 4,  # tuesday 10 march 2009
    "d MMM y",
    "d MMMM y",
    "dd MMM y",
    "d MMM y",
    "d MMMM y",
    "dd MMM y",
    "d MM yy",
    "d MMMM y",
    "MMMM d y",
    "MMMM d y",
    "dd.MM.yy",
)
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_TOKEN = re.compile(r"EEEE|MMMM|MMM|MM|M|dd|d|yy|y")
_LETTERS = re.compile(r"[A-Za-z]")
UNK, PAD = "<unk>", "<pad>"


def _field(token: str, day: dt.date) -> str:
    """The text of one format token for ``day``."""
    return {
        "EEEE": lambda: WEEKDAYS[day.weekday()],
        "MMMM": lambda: MONTHS[day.month - 1],
        "MMM": lambda: MONTHS[day.month - 1][:3],
        "MM": lambda: f"{day.month:02d}",
        "M": lambda: str(day.month),
        "dd": lambda: f"{day.day:02d}",
        "d": lambda: str(day.day),
        "yy": lambda: f"{day.year % 100:02d}",
        "y": lambda: str(day.year),
    }[token]()


def format_date(day: dt.date, pattern: str) -> str:
    """``day`` written with ``pattern`` (tokens as in the module docstring), in English.

    Example:
      >>> import datetime
      >>> import jaxnet as jn
      >>> day = datetime.date(2009, 3, 10)
      >>> jn.datasets.format_date(day, "EEEE d MMMM y"), jn.datasets.format_date(day, "dd.MM.yy")
      ('Tuesday 10 March 2009', '10.03.09')
    """
    return _TOKEN.sub(lambda match: _field(match.group(0), day), pattern)


def _as_date(value, name: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} must be an ISO date YYYY-MM-DD, got {value!r}") from None
    raise TypeError(f"{name} must be a datetime.date or an ISO string, got {type(value).__name__}")


def _check_formats(formats) -> tuple[str, ...]:
    if isinstance(formats, str) or not isinstance(formats, Sequence) or not formats:
        raise TypeError(f"formats must be a non-empty sequence of patterns, got {formats!r}")
    for i, pattern in enumerate(formats):
        if not isinstance(pattern, str):
            raise TypeError(f"formats[{i}] must be a str, got {type(pattern).__name__}")
        leftover = _LETTERS.findall(_TOKEN.sub("", pattern))
        if leftover or not _TOKEN.search(pattern):
            raise ValueError(
                f"formats[{i}] = {pattern!r} must be built from the tokens EEEE MMMM MMM MM M "
                f"dd d yy y and separators; it has {''.join(leftover) or 'no token'}"
            )
    return tuple(formats)


def make_dates(
    key,
    m: int = 10000,
    *,
    formats: Sequence[str] = DATE_FORMATS,
    start="1970-01-01",
    end="2029-12-31",
    lower: bool = True,
) -> list[tuple[str, str]]:
    """``m`` pairs ``(human-readable date, "YYYY-MM-DD")``, a pure function of ``key``.

    Args:
      key: a ``jax.random`` key (concrete: the strings are made on the host).
      m: the number of pairs.
      formats: the patterns to draw from, uniformly (repeat one to weigh it up).
      start, end: the range of dates, inclusive (``datetime.date`` or ISO strings).
      lower: lower-case the human form (the course's); False keeps ``Tuesday 10 March 2009``.

    Returns:
      A list of ``m`` ``(human, machine)`` string pairs.

    Example:
      >>> import jax
      >>> import jaxnet as jn
      >>> pairs = jn.datasets.make_dates(jax.random.key(0), 4)
      >>> len(pairs), all(len(machine) == 10 for _, machine in pairs)
      (4, True)
      >>> pairs == jn.datasets.make_dates(jax.random.key(0), 4)
      True
      >>> jn.datasets.make_dates(jax.random.key(1), 2, formats=["EEEE d MMMM y"], lower=False)
      [('Wednesday 2 February 1977', '1977-02-02'), ('Monday 24 March 1997', '1997-03-24')]
    """
    if is_traced(key):
        raise TypeError("make_dates makes Python strings on the host: call it outside jit/vmap")
    check_key(key)
    m = check_int(m, "m", 1)
    formats = _check_formats(formats)
    start, end = _as_date(start, "start"), _as_date(end, "end")
    lower = check_bool(lower, "lower")
    if end < start:
        raise ValueError(f"end must not be before start, got start={start}, end={end}")
    two_digit = any("yy" in p for p in formats)
    if two_digit and end.year - start.year >= 100:
        raise ValueError(
            f"a two-digit year (yy) names one date only in a range under 100 years; got "
            f"{start}..{end}: narrow the range or drop the yy formats"
        )
    words = _random.key_words(key, np)
    n_days = (end - start).days + 1
    offsets = np.floor(_random.uniform(np, words, 0, m) * n_days).astype(np.int64)
    choices = np.floor(_random.uniform(np, words, 1, m) * len(formats)).astype(np.int64)
    pairs = []
    for offset, choice in zip(offsets.tolist(), choices.tolist()):
        day = start + dt.timedelta(days=min(offset, n_days - 1))
        human = format_date(day, formats[min(choice, len(formats) - 1)])
        pairs.append((human.lower() if lower else human, day.isoformat()))
    return pairs


def date_vocabularies(pairs: Iterable[tuple[str, str]]):
    """The course's vocabularies: ``(human_vocab, machine_vocab, inv_machine_vocab)``.

    ``human_vocab`` maps the sorted characters of the human dates, then ``"<unk>"`` and
    ``"<pad>"``, to ``0, 1, ...``; ``machine_vocab`` the sorted characters of the machine
    dates (digits and ``-``); ``inv_machine_vocab`` is its inverse.

    Example:
      >>> import jaxnet as jn
      >>> human, machine, inv = jn.datasets.date_vocabularies([("3 may 1979", "1979-05-03")])
      >>> list(human)
      [' ', '1', '3', '7', '9', 'a', 'm', 'y', '<unk>', '<pad>']
      >>> machine, inv[0]
      ({'-': 0, '0': 1, '1': 2, '3': 3, '5': 4, '7': 5, '9': 6}, '-')
    """
    human_chars: set[str] = set()
    machine_chars: set[str] = set()
    for i, pair in enumerate(pairs):
        if not (
            isinstance(pair, tuple | list)
            and len(pair) == 2
            and all(isinstance(s, str) for s in pair)
        ):
            raise TypeError(f"pairs[{i}] must be a (human, machine) pair of strings, got {pair!r}")
        human_chars.update(pair[0])
        machine_chars.update(pair[1])
    if not machine_chars:
        raise ValueError("pairs is empty: the vocabularies need at least one pair")
    human = {ch: i for i, ch in enumerate([*sorted(human_chars), UNK, PAD])}
    machine = {ch: i for i, ch in enumerate(sorted(machine_chars))}
    return human, machine, {i: ch for ch, i in machine.items()}


def encode_dates(
    pairs: Iterable[tuple[str, str]],
    human_vocab: Mapping[str, int],
    machine_vocab: Mapping[str, int],
    Tx: int = 30,
    Ty: int = 10,
):
    """The course's ``preprocess_data`` as integer ids: ``X (m, Tx)`` and ``Y (m, Ty)``, int32.

    A human date is lower-cased, its commas removed, cut to ``Tx`` characters and padded
    with ``"<pad>"``; a character outside ``human_vocab`` becomes ``"<unk>"``. A machine date
    must be ``Ty`` characters of ``machine_vocab``. ``jax.nn.one_hot(X, len(human_vocab))``
    gives the course's ``Xoh (m, Tx, len(human_vocab))``, likewise ``Yoh``.

    Example:
      >>> import jaxnet as jn
      >>> pairs = [("3 may 1979", "1979-05-03")]
      >>> human, machine, inv = jn.datasets.date_vocabularies(pairs)
      >>> X, Y = jn.datasets.encode_dates(pairs, human, machine, Tx=12)
      >>> X.tolist(), "".join(inv[i] for i in Y[0].tolist())
      ([[2, 0, 6, 5, 7, 0, 1, 4, 3, 4, 9, 9]], '1979-05-03')
    """
    Tx, Ty = check_int(Tx, "Tx", 1), check_int(Ty, "Ty", 1)
    for name, vocab in (("human_vocab", human_vocab), ("machine_vocab", machine_vocab)):
        if not isinstance(vocab, Mapping):
            raise TypeError(
                f"{name} must be a dict of character -> index, got {type(vocab).__name__}"
            )
    missing = [t for t in (UNK, PAD) if t not in human_vocab]
    if missing:
        raise ValueError(f"human_vocab lacks {missing} (date_vocabularies adds both)")
    X, Y = [], []
    for i, (human, machine) in enumerate(pairs):
        text = human.lower().replace(",", "")[:Tx]
        ids = [human_vocab.get(ch, human_vocab[UNK]) for ch in text]
        X.append(ids + [human_vocab[PAD]] * (Tx - len(ids)))
        if len(machine) != Ty or any(ch not in machine_vocab for ch in machine):
            raise ValueError(
                f"pairs[{i}] machine date {machine!r} must be {Ty} characters of machine_vocab"
            )
        Y.append([machine_vocab[ch] for ch in machine])
    if not X:
        raise ValueError("pairs is empty")
    return np.array(X, np.int32), np.array(Y, np.int32)
