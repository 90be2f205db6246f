"""Dinosaur names, character by character (course 5, week 1): a SimpleRNN and an LSTM against
a unigram and a bigram model, per-character cross-entropy on 10% held-out names, ten samples.

    PYTHONPATH=. python scripts/dinos.py [--epochs 20] [--seed 0] [--data-dir ../shared/data/dinos]

Each name ``s`` (with its newline end) gives ``len(s) + 1`` examples: the characters before
step k (token ids, 0 = padding, masked) -> the character at step k, so a jaxnet network
``Embedding(mask_zero) -> SimpleRNN / LSTM -> Dense(softmax)`` is the character model and the
mean categorical cross-entropy over a set's examples is its per-character cross-entropy (in
nats). The names are split 90/10 with the seed's key before any example is made; the
unigram and bigram (previous character, the start as a character) counts come from the
training names with add-k smoothing, k the better of 1 and 0.1 on the held-out names (a
baseline given the benefit of the doubt). Samples are drawn one character at a time from
the trained LSTM's softmax with a key. The last stdout line is one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jaxnet as jn  # noqa: E402
from jaxnet.layers import LSTM, Dense, Embedding, SimpleRNN  # noqa: E402


def examples(names, vocab, T: int):
    """``X (n, T)`` ids + 1 of the characters before each step (0 = padding), ``y (n,)`` the
    character at that step (vocabulary ids; the newline ends every name)."""
    X, y = [], []
    for name in names:
        ids = vocab.encode(name + vocab.end)
        for k in range(len(ids)):
            context = ids[max(0, k - T) : k] + 1
            X.append(np.pad(context, (0, T - len(context))))
            y.append(ids[k])
    return np.asarray(X, np.float32), np.asarray(y, np.int32)


def pairs(names, vocab):
    """``(previous, next)`` vocabulary ids of every step; the start is the previous ``-1``."""
    out = []
    for name in names:
        ids = vocab.encode(name + vocab.end)
        out += list(zip([-1, *ids[:-1].tolist()], ids.tolist()))
    return np.asarray(out)


def ngram_baselines(train_names, test_names, vocab) -> dict:
    """Per-character cross-entropy (nats) of the add-k unigram and bigram models on the test names."""
    V, train, test = vocab.size, pairs(train_names, vocab), pairs(test_names, vocab)
    unigram = np.bincount(train[:, 1], minlength=V).astype(float)
    bigram = np.zeros((V + 1, V))  # row V: the start
    np.add.at(bigram, (train[:, 0] % (V + 1), train[:, 1]), 1.0)
    models = {
        "unigram": (unigram[None], np.zeros(len(test), int)),
        "bigram": (bigram, test[:, 0] % (V + 1)),
    }
    result = {}
    for name, (counts, rows) in models.items():
        ce = []
        for k in (1.0, 0.1):
            p = (counts + k) / (counts + k).sum(axis=-1, keepdims=True)
            ce.append(float(-np.log(p[rows, test[:, 1]]).mean()))
        result[name] = min(ce)
    return result


def model(cell: str, vocab_size: int, T: int) -> jn.Network:
    """``Embedding(vocab + padding, 16, mask_zero) -> SimpleRNN(50) | LSTM(64) -> Dense(vocab, softmax)``."""
    recurrent = SimpleRNN(50) if cell == "rnn" else LSTM(64)
    layers = [
        Embedding(vocab_size + 1, 16, mask_zero=True),
        recurrent,
        Dense(vocab_size, "softmax"),
    ]
    return jn.Sequential(layers, input_shape=(T,))


def sample(net, params, vocab, key, *, temperature=1.0, max_length=25) -> str:
    """One name drawn character by character from the network's softmax (ends at the newline)."""
    T = net.input_shape[0]
    ids = []
    for step in range(max_length):
        context = np.zeros((1, T), np.float32)
        tail = np.asarray(ids[-T:], np.float32) + 1
        context[0, : len(tail)] = tail
        logits = np.log(np.asarray(jn.forward(net, params, context))[0] + 1e-30)
        nxt = int(jax.random.categorical(jax.random.fold_in(key, step), logits / temperature))
        if vocab.chars[nxt] == vocab.end:
            break
        ids.append(nxt)
    return vocab.decode(ids)


def run(*, epochs: int = 20, seed: int = 0, data_dir=None, limit=None, samples: int = 10) -> dict:
    """Train both models and measure them against the baselines; returns the summary."""
    names = jn.datasets.load_dinos(data_dir)
    names = names if limit is None else names[:limit]
    vocab = jn.datasets.char_vocab(names)
    key_split, key_rnn, key_lstm, key_fit, key_sample = jax.random.split(jax.random.key(seed), 5)
    order = np.asarray(jax.random.permutation(key_split, len(names)))
    n_test = max(1, round(0.1 * len(names)))
    test_names = [names[i] for i in order[:n_test]]
    train_names = [names[i] for i in order[n_test:]]
    T = max(len(n) for n in names)
    X, y = examples(train_names, vocab, T)
    X_test, y_test = examples(test_names, vocab, T)
    result = {"names": {"train": len(train_names), "test": len(test_names)},
              "examples": {"train": len(y), "test": len(y_test)}, "epochs": epochs}  # fmt: skip
    result |= {"cross_entropy": ngram_baselines(train_names, test_names, vocab)}
    trained = {}
    for cell, key in (("rnn", key_rnn), ("lstm", key_lstm)):
        net = model(cell, vocab.size, T)
        params = jn.init(key, net, scheme="xavier")
        params, _ = jn.fit(net, params, X, y, optimizer="adam", learning_rate=5e-3,
                           epochs=epochs, batch_size=256, key=key_fit, verbose=0)  # fmt: skip
        name = "simple_rnn_50" if cell == "rnn" else "lstm_64"
        result["cross_entropy"][name] = float(jn.evaluate(net, params, X_test, y_test)["loss"])
        trained[cell] = (net, params)
    net, params = trained["lstm"]
    keys = jax.random.split(key_sample, samples)
    result["samples"] = [sample(net, params, vocab, k) for k in keys]
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20, help="epochs per model (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="the split, init and samples' key")
    parser.add_argument("--data-dir", default=None, help="dinos.txt or its folder")
    parser.add_argument("--limit", type=int, default=None, help="use the first N names only")
    args = parser.parse_args(argv)
    result = run(epochs=args.epochs, seed=args.seed, data_dir=args.data_dir, limit=args.limit)
    print("per-character cross-entropy on the held-out names (nats):")
    for name, value in result["cross_entropy"].items():
        print(f"  {name:<14} {value:.4f}  (perplexity {math.exp(value):.2f})")
    print("ten names sampled from the LSTM:", ", ".join(result["samples"]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
