"""One forward + backward of the recurrent building blocks: hand-derived BPTT against ``jax.vjp``.

For each cell (LSTM, GRU, basic RNN) two jitted functions of ``(params, x, a0, da)`` return
the gradients of ``sum(da * a)``: ``hand`` runs ``*_forward`` then ``*_backward`` (the reverse
``lax.scan`` of the hand-derived cell backward), ``vjp`` runs ``jax.vjp`` of ``*_forward``.
Both compile before timing; the two alternate, ``--repeats`` calls each, and the table gives
the minimum (and median) wall time per call in milliseconds. Float32, default device.

    python benchmarks/sequence_blocks.py [--m 128] [--T 40] [--n-x 32] [--n-a 128] [--repeats 10]

On XLA:CPU a call's large temporary buffers are fresh pages each time (glibc returns big
blocks to the system), which costs the hand-derived program tens of milliseconds at these
sizes; ``MALLOC_MMAP_THRESHOLD_=2000000000 MALLOC_TRIM_THRESHOLD_=2000000000`` in the
environment keeps them and shows the compute alone. Report both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402

from jaxnet import layers  # noqa: E402

CELLS = {
    "lstm": (layers.lstm_params, layers.lstm_forward, layers.lstm_backward),
    "gru": (layers.gru_params, layers.gru_forward, layers.gru_backward),
    "rnn": (layers.rnn_params, layers.rnn_forward, layers.rnn_backward),
}


def functions(forward, backward):
    """The two jitted ``(params, x, a0, da) -> (dparams, dx, da0)``."""

    @jax.jit
    def hand(params, x, a0, da):
        a, *_, caches = forward(x, a0, params)
        grads = backward(da, caches)
        return {k: grads["d" + k] for k in params}, grads["dx"], grads["da0"]

    @jax.jit
    def vjp(params, x, a0, da):
        _, pullback = jax.vjp(lambda p, x, a0: forward(x, a0, p)[0], params, x, a0)
        return pullback(da)

    return hand, vjp


def time_call(fn, args) -> float:
    start = time.perf_counter()
    jax.block_until_ready(fn(*args))
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--m", type=int, default=128)
    parser.add_argument("--T", type=int, default=40)
    parser.add_argument("--n-x", type=int, default=32)
    parser.add_argument("--n-a", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--cells", default="lstm,gru,rnn")
    args = parser.parse_args(argv)
    keys = jax.random.split(jax.random.key(0), 4)
    x = jax.random.normal(keys[0], (args.m, args.T, args.n_x))
    a0 = jax.random.normal(keys[1], (args.m, args.n_a)) * 0.1
    da = jax.random.normal(keys[2], (args.m, args.T, args.n_a))
    print(
        f"device: {jax.devices()[0].device_kind}; m={args.m} T={args.T} n_x={args.n_x} n_a={args.n_a}"
    )
    print("| cell | hand ms (min / median) | jax.vjp ms (min / median) | hand / vjp (min) |")
    print("| --- | --- | --- | --- |")
    for name in args.cells.split(","):
        init, forward, backward = CELLS[name]
        params = init(keys[3], args.n_x, args.n_a, args.n_x, scale=0.1)
        hand, vjp = functions(forward, backward)
        call = (params, x, a0, da)
        jax.block_until_ready((hand(*call), vjp(*call)))  # compile both
        times = {"hand": [], "vjp": []}
        for _ in range(args.repeats):
            times["hand"].append(time_call(hand, call))
            times["vjp"].append(time_call(vjp, call))
        h, v = (min(times[k]) * 1e3 for k in ("hand", "vjp"))
        hm, vm = (statistics.median(times[k]) * 1e3 for k in ("hand", "vjp"))
        print(f"| {name} | {h:.2f} / {hm:.2f} | {v:.2f} / {vm:.2f} | {h / v:.2f} |")


if __name__ == "__main__":
    main()
