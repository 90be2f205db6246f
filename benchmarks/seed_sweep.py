"""Seed sweep: the seed's Keras MNIST run (784-512-10, relu/softmax, RMSprop 1e-3, batch 128,
5 epochs) in jaxnet and in Keras from the same Keras default (Glorot uniform) start, seeds 0-4.

For each seed, ``keras.utils.set_random_seed(s)`` and the Keras model are built first; its
initial weights are loaded into jaxnet params (``W = kernel.T``, ``b = bias``), so both runs
start from the same point by construction. The script also reports whether
``jn.init([s, 0], net, "glorot_uniform")`` draws that same start by itself (it does not: an
unseeded Keras initializer takes its own integer seed from Python's ``random``, one per layer). Both frameworks
run sequentially in this one process; the shuffles differ (each framework's own).

    python benchmarks/seed_sweep.py [--seeds 5] [--data-dir PATH]

Prints a Markdown table (seed, jaxnet acc, keras acc) and the mean and range per framework.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import jaxnet as jn  # noqa: E402
from benchmarks import common  # noqa: E402

EPOCHS = 5


def keras_model(seed: int):
    """The seed's Keras model, built right after ``set_random_seed(seed)``."""
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    r = common.RMSPROP
    opt = keras.optimizers.RMSprop(learning_rate=r["learning_rate"], rho=r["rho"], epsilon=r["eps"])
    model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def params_from_keras(model) -> tuple[dict, ...]:
    """jaxnet params ``({"W": (n[l], n[l-1]), "b": (n[l],)}, ...)`` from Keras's Dense layers."""
    return tuple(
        {"W": jnp.asarray(np.asarray(d.kernel).T), "b": jnp.asarray(np.asarray(d.bias))}
        for d in model.layers
    )


def same_start(net, params, seed: int) -> bool:
    """Whether ``jn.init`` with Keras's raw key ``[seed, 0]`` draws exactly ``params``."""
    mine = jn.init(jnp.array([seed, 0], jnp.uint32), net, scheme="glorot_uniform")
    return all(bool(jnp.array_equal(a[k], b[k])) for a, b in zip(mine, params) for k in ("W", "b"))


def run_seed(seed: int, data):
    X, y, X_test, y_test = data
    net = jn.Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    model = keras_model(seed)
    params = params_from_keras(model)
    exact = same_start(net, params, seed)

    params, _ = jn.fit(
        net,
        params,
        X,
        y,
        optimizer="rmsprop",
        learning_rate=common.RMSPROP["learning_rate"],
        epochs=EPOCHS,
        batch_size=common.BATCH,
        key=jax.random.key(seed),
        verbose=0,
    )
    acc_jn = jn.evaluate(net, params, X_test, y_test)["accuracy"]

    model.fit(
        X,
        keras.utils.to_categorical(y, 10),
        batch_size=common.BATCH,
        epochs=EPOCHS,
        shuffle=True,
        verbose=0,
    )
    acc_k = float((model.predict(X_test, batch_size=1024, verbose=0).argmax(1) == y_test).mean())
    return acc_jn, acc_k, exact


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA_DIR)
    a = p.parse_args(argv)
    data = common.mnist(a.data_dir)
    rows = []
    for s in range(a.seeds):
        rows.append((s, *run_seed(s, data)))
        print(f"seed {s}: jaxnet {rows[-1][1]:.4f} keras {rows[-1][2]:.4f}", file=sys.stderr)

    print("| seed | jaxnet acc | keras acc | jn.init == Keras start |")
    print("|-----:|-----------:|----------:|:----------------------:|")
    for s, aj, ak, ex in rows:
        print(f"| {s} | {aj:.4f} | {ak:.4f} | {'yes' if ex else 'no'} |")
    for name, col in (("jaxnet", 1), ("keras", 2)):
        v = np.array([r[col] for r in rows])
        print(f"\n{name}: mean {v.mean():.4f}, range {v.min():.4f}-{v.max():.4f}", end="")
    print()


if __name__ == "__main__":
    main()
