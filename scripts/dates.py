"""Dates translated with attention (course 5, week 3): human-readable dates -> ``YYYY-MM-DD``.

    PYTHONPATH=. python scripts/dates.py [--train 10000] [--test 1000] [--epochs 20] [--seed 0]
                                         [--figure dates_attention.png] [--backprop manual]

The course's model: characters (ids, ``Tx = 30``) -> ``Embedding(n_human, 16)`` ->
``Bidirectional(LSTM(32, return_sequences=True))`` (the encoder, ``a (m, 30, 64)``) ->
``AttentionDecoder(10, n_machine, n_s=64, n_e=10)`` (one-step attention, the post-attention
LSTM and a softmax per output character). The pairs come from
:func:`jaxnet.datasets.make_dates` (train and test from one draw, so no test date is a
training date's twin by chance more than the formats make it), encoded by
:func:`jaxnet.datasets.encode_dates`.

Training: ``jn.fit`` (Adam) of the network on the output ids ``(m, TY)``: a network whose
output is a sequence takes one label per step, and its loss is the mean over the ten output
characters of their categorical cross-entropies (from the logits; the fused
``dZ = (A - Y) / TY``). With ``--backprop manual`` (the default) the gradient is the layers'
hand-derived backwards (the decoder's BPTT, the Bi-LSTM's, the embedding's scatter-add);
``autodiff`` is ``jax.grad`` of the forwards.

Reported: the exact-match rate (all ten characters right) and the per-character accuracy on
the held-out dates; ``--figure`` saves the attention maps of a few of them. The last stdout
line is one JSON summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jaxnet as jn  # noqa: E402
from jaxnet.layers import LSTM, AttentionDecoder, Bidirectional, Embedding  # noqa: E402

TX, TY = 30, 10
EXAMPLES = ("3 may 1979", "5 april 09", "21th of august 2016", "tue 10 jul 2007",
            "saturday may 9 2018", "march 3 2001", "1 march 2001")  # fmt: skip


def network(n_human: int, n_machine: int, *, n_a: int = 32, n_s: int = 64) -> jn.Network:
    """The encoder and the decoder as one network: ids ``(m, TX)`` in, a softmax over the
    ``n_machine`` characters at each of the ``TY`` output steps out, ``(m, TY, n_machine)``."""
    return jn.Sequential(
        [
            Embedding(n_human, 16),
            Bidirectional(LSTM(n_a, return_sequences=True)),
            AttentionDecoder(TY, n_machine, n_s=n_s, n_e=10),
        ],
        input_shape=(TX,),
    )


def data(seed: int, n_train: int, n_test: int):
    """``(X, Y)`` train and test: input ids ``(m, TX)``, output ids ``(m, TY)``; the vocabularies."""
    pairs = jn.datasets.make_dates(jax.random.key(seed), n_train + n_test)
    human, machine, inv = jn.datasets.date_vocabularies(pairs)
    X, Y = jn.datasets.encode_dates(pairs, human, machine, Tx=TX, Ty=TY)
    return pairs, X.astype(np.float32), Y, (human, machine, inv)


def translate(params, X, n_machine: int, *, batch: int = 500):
    """Output ids ``(m, TY)``: each step's most likely character."""
    net = network(params[0]["E"].shape[0], n_machine)
    return np.concatenate(
        [np.asarray(jn.predict(net, params, X[i : i + batch])) for i in range(0, len(X), batch)]
    )


def encode(texts, human):
    """Human dates as the model's input ids ``(k, TX)`` (cut to ``TX`` characters, padded)."""
    texts = [t[:TX] for t in texts]
    X, _ = jn.datasets.encode_dates([(t, "0000-00-00") for t in texts], human, {"0": 0, "-": 1},
                                    Tx=TX, Ty=TY)  # fmt: skip
    return X.astype(np.float32)


def translate_texts(params, vocabularies, texts) -> list[str]:
    """The machine dates the model writes for human dates ``texts``."""
    human, machine, inv = vocabularies
    out = translate(params, encode(texts, human), len(machine))
    return ["".join(inv[int(i)] for i in o) for o in out]


def attention_maps(params, X, n_machine: int):
    """``(m, TY, TX)``: the decoder's attention weights on the encoder's states."""
    *encoder, decoder = network(params[0]["E"].shape[0], n_machine).layers
    a = X
    for layer, p in zip(encoder, params[:-1]):
        a, _ = layer.forward(p, a)
    return np.asarray(jn.layers.attention_weights(decoder, params[-1], a))


def plot(params, vocabularies, texts, path=None):
    """The attention maps of ``texts`` (:func:`jaxnet.plotting.plot_attention`), saved at ``path``."""
    alphas = attention_maps(params, encode(texts, vocabularies[0]), len(vocabularies[1]))
    outputs = translate_texts(params, vocabularies, texts)
    texts = [t[:TX] for t in texts]
    return jn.plotting.plot_attention(alphas, texts, outputs, path, overwrite=path is not None)


def train(*, n_train=10000, n_test=1000, epochs=20, seed=0, batch_size=100, learning_rate=5e-3,
          backprop="manual"):  # fmt: skip
    """Train on ``n_train`` generated dates, measure on ``n_test`` others: ``(params,
    vocabularies, summary)``."""
    pairs, X, Y, vocabularies = data(seed, n_train, n_test)
    human, machine, inv = vocabularies
    n_machine = len(machine)
    X_train, Y_train, X_test, Y_test = X[:n_train], Y[:n_train], X[n_train:], Y[n_train:]
    net = network(len(human), n_machine)
    key_init, key_fit = jax.random.split(jax.random.key(seed + 1))
    params = jn.init(key_init, net, "xavier")
    start = time.perf_counter()
    params, history = jn.fit(net, params, X_train, Y_train, optimizer="adam",
                             learning_rate=learning_rate, epochs=epochs, batch_size=batch_size,
                             key=key_fit, backprop=backprop, verbose=0)  # fmt: skip
    seconds = time.perf_counter() - start
    predicted = translate(params, X_test, n_machine)
    result = {
        "train": n_train, "test": n_test, "epochs": epochs, "backprop": backprop,
        "train_seconds": round(seconds, 1), "final_loss": float(history["loss"][-1]),
        "exact_match": float((predicted == Y_test).all(axis=1).mean()),
        "char_accuracy": float((predicted == Y_test).mean()),
    }  # fmt: skip
    human_test = [h for h, _ in pairs[n_train:]]
    result["samples"] = {
        h: "".join(inv[int(i)] for i in p) for h, p in zip(human_test[:5], predicted[:5])
    }
    return params, vocabularies, result


def run(*, figure=None, **kwargs) -> dict:
    """:func:`train`, the examples translated and (with ``figure``) their attention maps saved."""
    params, vocabularies, result = train(**kwargs)
    examples = [e[:TX] for e in EXAMPLES]
    result["examples"] = dict(zip(examples, translate_texts(params, vocabularies, examples)))
    if figure is not None:
        plot(params, vocabularies, examples[:4], figure)
        result["figure"] = str(figure)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=10000, help="training dates (default 10000)")
    parser.add_argument("--test", type=int, default=1000, help="held-out dates (default 1000)")
    parser.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="the dates' and the init's key")
    parser.add_argument("--learning-rate", type=float, default=5e-3, help="Adam's (default 5e-3)")
    parser.add_argument("--backprop", choices=("manual", "autodiff"), default="manual",
                        help="hand-derived backwards (default) or jax.grad of the forwards")  # fmt: skip
    parser.add_argument("--figure", default=None, help="save the attention maps there (PNG)")
    args = parser.parse_args(argv)
    result = run(n_train=args.train, n_test=args.test, epochs=args.epochs, seed=args.seed,
                 learning_rate=args.learning_rate, backprop=args.backprop,
                 figure=args.figure)  # fmt: skip
    print(f"exact match on {result['test']} held-out dates: {result['exact_match']:.1%} "
          f"(per character {result['char_accuracy']:.1%}), trained in {result['train_seconds']} s")  # fmt: skip
    for human, machine in result["examples"].items():
        print(f"  {human:<28} -> {machine}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
