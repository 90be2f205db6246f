"""scripts/dinos.py: the next-character examples and the n-gram baselines on toy names, and a
shortened run on the dinosaur names (slow)."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import script

import jaxnet as jn

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dinos():
    return script("dinos")


def test_examples_are_the_characters_before_each_step(dinos):
    vocab = jn.datasets.char_vocab(["ab", "ba"])  # "\n" 0, "a" 1, "b" 2
    X, y = dinos.examples(["ab"], vocab, T=2)
    assert y.tolist() == [1, 2, 0]  # a, b, then the end
    assert X.tolist() == [[0, 0], [2, 0], [2, 3]]  # ids + 1, 0 = padding
    X, y = dinos.examples(["abab"], vocab, T=2)
    assert X[-1].tolist() == [2, 3]  # only the last T characters ("ab" before the end)


def test_ngram_baselines_against_counts_by_hand(dinos):
    vocab = jn.datasets.char_vocab(["ab"])  # "\n", "a", "b"
    result = dinos.ngram_baselines(["ab", "ab"], ["ab"], vocab)
    # unigram, add-0.1: every character 2 times in training -> 1/3 each
    assert result["unigram"] == pytest.approx(math.log(3))
    # bigram, add-0.1: start->a, a->b, b->end each seen twice: (2.1) / (2.3)
    assert result["bigram"] == pytest.approx(-math.log(2.1 / 2.3))
    assert result["bigram"] < result["unigram"]


@pytest.mark.slow
def test_a_shortened_run_learns_and_samples(dinos, shared_data, capsys):
    argv = ["--epochs", "3", "--limit", "300", "--data-dir", str(shared_data / "dinos")]
    assert dinos.main(argv) == 0
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    ce = result["cross_entropy"]
    assert set(ce) == {"unigram", "bigram", "simple_rnn_50", "lstm_64"}
    assert all(np.isfinite(v) for v in ce.values())
    assert ce["bigram"] < ce["unigram"]
    assert ce["simple_rnn_50"] < ce["unigram"] and ce["lstm_64"] < ce["unigram"]
    assert result["names"] == {"train": 270, "test": 30}
    assert len(result["samples"]) == 10
    assert all(set(s) <= set("abcdefghijklmnopqrstuvwxyz") for s in result["samples"])
