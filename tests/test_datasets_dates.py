"""The date-translation data of course 5, week 3: generation, vocabularies, encoding."""

import collections
import datetime as dt
import re

import jax
import numpy as np
import pytest

import jaxnet as jn

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")  # fmt: skip


def _parse(human: str) -> dt.date:
    """An independent reader of every default format (as the translator must learn it)."""
    words = human.split()
    if "/" in human:  # M/d/yy
        month, day, year = (int(v) for v in human.split("/"))
        return dt.date(1900 + year if year >= 70 else 2000 + year, month, day)
    if "." in human:  # dd.MM.yy
        day, month, year = (int(v) for v in human.split("."))
        return dt.date(1900 + year if year >= 70 else 2000 + year, month, day)
    if words[0].endswith("day"):  # a weekday first: check it, then read the rest
        date = _parse(" ".join(words[1:]))
        assert date.strftime("%A").lower() == words[0], human
        return date
    if len(words) == 3 and all(w.isdigit() for w in words):  # d MM yy
        day, month, year = (int(v) for v in words)
        return dt.date(1900 + year if year >= 70 else 2000 + year, month, day)
    month_word = next(w for w in words if not w.isdigit())
    month = next(i for i, name in enumerate(MONTHS, 1) if name.startswith(month_word))
    day, year = (int(w) for w in words if w.isdigit())
    return dt.date(year, month, day)


def test_make_dates_pairs_are_correct_and_varied():
    pairs = jn.datasets.make_dates(jax.random.key(0), 3000)
    assert len(pairs) == 3000
    for human, machine in pairs:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", machine), machine
        assert _parse(human).isoformat() == machine, human
        assert human == human.lower() and "," not in human
    machines = [m for _, m in pairs]
    assert min(machines) >= "1970-01-01" and max(machines) <= "2029-12-31"
    assert len(set(machines)) > 2500  # uniform over 60 years: few repeats
    shapes = collections.Counter(re.sub(r"[a-z]+", "w", re.sub(r"\d", "9", h)) for h, _ in pairs)
    assert len(shapes) >= 10  # many formats, e.g. "w w 9 9999", "9/9/99", "99.99.99"
    years = collections.Counter(m[:3] for m in machines)
    assert set(years) == {"197", "198", "199", "200", "201", "202"}


def test_make_dates_is_a_pure_function_of_the_key():
    a = jn.datasets.make_dates(jax.random.key(7), 50)
    assert a == jn.datasets.make_dates(jax.random.key(7), 50)
    assert a != jn.datasets.make_dates(jax.random.key(8), 50)
    assert jn.datasets.make_dates(jax.random.key(7), 80)[:50] == a  # a longer draw extends it


def test_make_dates_options():
    pairs = jn.datasets.make_dates(
        jax.random.key(1),
        20,
        formats=["EEEE d MMMM y"],
        start="2009-03-10",
        end=dt.date(2009, 3, 10),
        lower=False,
    )
    assert set(pairs) == {("Tuesday 10 March 2009", "2009-03-10")}
    day = dt.date(1979, 5, 3)
    assert jn.datasets.format_date(day, "d MMMM y") == "3 May 1979"
    assert jn.datasets.format_date(day, "MMMM d y") == "May 3 1979"
    assert jn.datasets.format_date(day, "dd.MM.yy") == "03.05.79"
    assert jn.datasets.format_date(day, "M/d/yy") == "5/3/79"
    wide = jn.datasets.make_dates(jax.random.key(2), 5, formats=["y-MM-dd"], start="1800-01-01")
    assert all(h == m for h, m in wide)


def test_make_dates_rejects_bad_arguments():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="two-digit year .* under 100 years"):
        jn.datasets.make_dates(key, 5, start="1900-01-01")
    with pytest.raises(ValueError, match="end must not be before start"):
        jn.datasets.make_dates(key, 5, start="2000-01-02", end="2000-01-01")
    with pytest.raises(ValueError, match="start must be an ISO date YYYY-MM-DD, got '10.11.19'"):
        jn.datasets.make_dates(key, 5, start="10.11.19")
    with pytest.raises(ValueError, match=r"formats\[0\] = 'YYYY' must be built from the tokens"):
        jn.datasets.make_dates(key, 5, formats=["YYYY"])
    with pytest.raises(TypeError, match="formats must be a non-empty sequence"):
        jn.datasets.make_dates(key, 5, formats="d MMMM y")
    with pytest.raises(ValueError, match="m must be an int >= 1, got m=0"):
        jn.datasets.make_dates(key, 0)
    with pytest.raises(TypeError, match="key must be a single jax.random key"):
        jn.datasets.make_dates(0, 5)
    with pytest.raises(TypeError, match="outside jit/vmap"):
        jax.jit(lambda k: jn.datasets.make_dates(k, 2))(key)


def test_vocabularies_and_encoding_are_the_courses():
    pairs = jn.datasets.make_dates(jax.random.key(3), 2000)
    human, machine, inv = jn.datasets.date_vocabularies(pairs)
    assert list(machine) == list("-0123456789") and inv == {i: c for c, i in machine.items()}
    assert list(human)[-2:] == ["<unk>", "<pad>"] and list(human)[:13] == list(" ./0123456789")
    names = set("".join(MONTHS) + "mondaytuesdaywednesdaythursdayfridaysaturdaysunday")
    assert set(human) == set(" ./0123456789") | names | {"<unk>", "<pad>"}
    X, Y = jn.datasets.encode_dates(pairs, human, machine, Tx=30, Ty=10)
    assert X.shape == (2000, 30) and Y.shape == (2000, 10) and X.dtype == Y.dtype == np.int32
    inv_human = {i: c for c, i in human.items()}
    for (h, m), x, y in zip(pairs[:50], X, Y):
        text = "".join(inv_human[i] for i in x if inv_human[i] != "<pad>")
        assert text == h and "".join(inv[i] for i in y) == m
    X2, _ = jn.datasets.encode_dates(
        [("Tuesday, 10 March 2009 é", "2009-03-10")], human, machine, Tx=30
    )
    decoded = [inv_human[i] for i in X2[0]]
    assert "".join(decoded[:21]) == "tuesday 10 march 2009" and decoded[22] == "<unk>"
    X3, _ = jn.datasets.encode_dates(pairs[:1], human, machine, Tx=3)
    assert X3.shape == (1, 3)
    Xoh = jax.nn.one_hot(X, len(human))  # the course's Xoh
    assert Xoh.shape == (2000, 30, len(human))


def test_encoding_rejects_bad_input():
    human, machine, _ = jn.datasets.date_vocabularies([("3 may 1979", "1979-05-03")])
    with pytest.raises(
        ValueError, match=r"pairs\[0\] machine date '1979-5-3' must be 10 characters"
    ):
        jn.datasets.encode_dates([("3 may 1979", "1979-5-3")], human, machine)
    with pytest.raises(ValueError, match=r"human_vocab lacks \['<unk>', '<pad>'\]"):
        jn.datasets.encode_dates([("3 may 1979", "1979-05-03")], {"a": 0}, machine)
    with pytest.raises(ValueError, match="pairs is empty"):
        jn.datasets.encode_dates([], human, machine)
    with pytest.raises(TypeError, match=r"pairs\[0\] must be a \(human, machine\) pair"):
        jn.datasets.date_vocabularies(["3 may 1979"])
    with pytest.raises(ValueError, match="pairs is empty"):
        jn.datasets.date_vocabularies([])
