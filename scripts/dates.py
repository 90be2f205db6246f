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

Training: ``jn.fit`` (Adam) on a :class:`jaxnet.Model` whose ``apply`` is the layers'
chain with the decoder's logits; the loss is the mean over the ten output characters of
their categorical cross-entropies, from the logits. With ``--backprop manual`` (the
default) ``jax.grad`` of that loss runs the layers' hand-derived backwards (a
``jax.custom_vjp`` around the chain: the reverse chain of ``layer.backward``, the decoder's
BPTT and the Bi-LSTM's); ``autodiff`` differentiates the forwards instead.

Reported: the exact-match rate (all ten characters right) and the per-character accuracy on
the held-out dates; ``--figure`` saves the attention maps of a few of them. The last stdout
line is one JSON summary.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import jaxnet as jn  # noqa: E402
from jaxnet.layers import LSTM, AttentionDecoder, Bidirectional, Embedding  # noqa: E402

TX, TY = 30, 10
EXAMPLES = ("3 may 1979", "5 april 09", "21th of august 2016", "tue 10 jul 2007",
            "saturday may 9 2018", "march 3 2001", "1 march 2001")  # fmt: skip


def layers(n_human: int, n_machine: int, *, n_a: int = 32, n_s: int = 64) -> tuple:
    """The encoder and the decoder; the decoder gives logits (the softmax is in the loss)."""
    return (
        Embedding(n_human, 16),
        Bidirectional(LSTM(n_a, return_sequences=True)),
        AttentionDecoder(TY, n_machine, n_s=n_s, n_e=10, activation="linear"),
    )


def _shapes(chain, input_shape) -> list:
    shapes = [tuple(input_shape)]
    for layer in chain[:-1]:
        shapes.append(layer.output_shape(shapes[-1]))
    return shapes


def _forward(chain, params, X):
    A, caches = X, []
    for layer, p in zip(chain, params):
        A, cache = layer.forward(p, A)
        caches.append(cache)
    return A, caches


def hand_derived(chain):
    """``f(params, X) -> A`` of the layers' chain, whose ``jax.vjp`` runs their hand-derived
    backwards: ``dA = m * g`` (the layers' per-example convention, ``g = dJ/dA``), then each
    ``layer.backward`` in reverse; they return the gradients of the mean, ``dJ/dparams``."""

    @jax.custom_vjp
    def f(params, X):
        return _forward(chain, params, X)[0]

    def fwd(params, X):
        A, caches = _forward(chain, params, X)
        return A, (params, caches, X)

    def bwd(residuals, g):
        params, caches, X = residuals
        dA, grads = g * X.shape[0], []
        for layer, p, cache in reversed(tuple(zip(chain, params, caches))):
            dA, dp = layer.backward(p, cache, dA)
            grads.append(dp)
        return tuple(reversed(grads)), jnp.zeros_like(X)

    f.defvjp(fwd, bwd)
    return f


def sequence_cross_entropy(Z, Y):
    """Each example's mean over the ``TY`` steps of ``CE(softmax(Z_t), Y_t)``, from the logits.

    ``Z`` and ``Y`` are ``(m, TY * n_machine)``: the logits and the one-hot labels, step after step.
    """
    m = Z.shape[0]
    Z, Y = Z.reshape(m, TY, -1), Y.reshape(m, TY, -1)
    return (jax.nn.logsumexp(Z, axis=-1) - (Y * Z).sum(axis=-1)).mean(axis=-1)


def model(n_human: int, n_machine: int, *, backprop: str = "manual", **sizes) -> jn.Model:
    """The date translator as a :class:`jaxnet.Model`: logits ``(m, TY * n_machine)``
    (``sizes``: ``n_a``, ``n_s`` of :func:`layers`)."""
    chain = layers(n_human, n_machine, **sizes)
    run = hand_derived(chain) if backprop == "manual" else None

    def init(key):
        shapes = _shapes(chain, (TX,))
        keys = jax.random.split(key, len(chain))
        return tuple(l.init(k, s, "xavier") for l, k, s in zip(chain, keys, shapes))

    def apply(params, X, *, key, train):
        del key, train
        A = run(params, X) if run is not None else _forward(chain, params, X)[0]
        return A.reshape(X.shape[0], -1)

    return jn.Model(init, apply, loss=sequence_cross_entropy, name=f"dates_{backprop}")


def data(seed: int, n_train: int, n_test: int):
    """``(X, Y)`` train and test ids, the one-hot flat labels, and the vocabularies."""
    pairs = jn.datasets.make_dates(jax.random.key(seed), n_train + n_test)
    human, machine, inv = jn.datasets.date_vocabularies(pairs)
    X, Y = jn.datasets.encode_dates(pairs, human, machine, Tx=TX, Ty=TY)
    return pairs, X.astype(np.float32), Y, (human, machine, inv)


def one_hot_flat(Y, n_machine: int):
    return np.eye(n_machine, dtype=np.float32)[Y].reshape(len(Y), -1)


@functools.partial(jax.jit, static_argnames=("n_machine",))
def _translate(params, X, n_machine: int):
    chain = layers(params[0]["E"].shape[0], n_machine)
    return _forward(chain, params, X)[0].argmax(axis=-1)


def translate(params, X, n_machine: int, *, batch: int = 500):
    """Output ids ``(m, TY)``: each step's most likely character."""
    return np.concatenate(
        [
            np.asarray(_translate(params, X[i : i + batch], n_machine))
            for i in range(0, len(X), batch)
        ]
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
    chain = layers(params[0]["E"].shape[0], n_machine)
    a = X
    for layer, p in zip(chain[:-1], params[:-1]):
        a, _ = layer.forward(p, a)
    return np.asarray(jn.layers.attention_weights(chain[-1], params[-1], a))


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
    net = model(len(human), n_machine, backprop=backprop)
    key_init, key_fit = jax.random.split(jax.random.key(seed + 1))
    params = net.init(key_init)
    start = time.perf_counter()
    params, history = jn.fit(net, params, X_train, one_hot_flat(Y_train, n_machine),
                             optimizer="adam", learning_rate=learning_rate, epochs=epochs,
                             batch_size=batch_size, key=key_fit, verbose=0)  # fmt: skip
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
