"""Workload F in jaxnet: ``Embedding -> LSTM(return_sequences) -> Dense per step`` with Adam, by ``jn.fit``.

The network outputs a softmax at every step, ``(m, 40, V)``, and ``jn.fit`` takes the next
ids ``(m, 40)`` as its labels: the per-character cross-entropy averaged over the steps and
the examples, the fused output gradient ``dZ = (softmax(Z) - Y) / T`` and the layers'
hand-derived backward (``--backprop manual``: the LSTM's BPTT is the reverse ``lax.scan`` of
its cell backward) or ``jax.grad`` of the same cost (``autodiff``). One epoch is one
compiled ``lax.scan`` over its batches (jn.fit's engine), shuffled from
``jax.random.key(seed)``. After training, the process times one jitted step of that engine
(``jaxnet.training.engine.train_step``, the step jn.fit runs; median of many calls on one
batch) for the hand-derived vs autodiff target.
"""

import numpy as np

from benchmarks import common, lstm_lm


def layers(jn, vocab_size: int):
    L = jn.layers
    return (
        L.Embedding(vocab_size, lstm_lm.EMBED),
        L.LSTM(lstm_lm.UNITS, return_sequences=True),
        L.Dense(vocab_size, "linear"),
    )


def params_from(start: dict, jnp) -> tuple:
    """The shared start in jaxnet's layout: gate ``W (n_a, n_a + n_x)`` on ``[a_prev, x]``."""
    g = lstm_lm.gate
    lstm = {}
    for name in "fico":
        W = np.concatenate([g(start["recurrent_kernel"], name), g(start["kernel"], name)]).T
        lstm[f"W{name}"] = jnp.asarray(W)
        lstm[f"b{name}"] = jnp.asarray(g(start["bias"], name))
    dense = {"W": jnp.asarray(start["dense_W"].T), "b": jnp.asarray(start["dense_b"])}
    return ({"E": jnp.asarray(start["embedding"])}, lstm, dense)


def network(jn, vocab_size: int):
    """The layers as one network: a softmax over the vocabulary at every one of the T steps."""
    *body, _ = layers(jn, vocab_size)
    return jn.Sequential([*body, jn.layers.Dense(vocab_size, "softmax")], input_shape=(lstm_lm.T,))


def adam(optax):
    a = lstm_lm.ADAM
    return optax.adam(a["learning_rate"], b1=a["b1"], b2=a["b2"], eps=a["eps"])


def train(backprop: str, X, Y, V: int, epochs: int, seed: int, batch: int = common.BATCH):
    """``(params, epoch_times, total_s, epoch_losses, step)``: ``jn.fit`` with Adam from the
    shared start (whole batches, shuffled from ``jax.random.key(seed)``); ``step(params,
    opt_state, X, Y) -> (params, opt_state)`` is jn.fit's jitted step, ``Y`` the one-hot
    labels ``(m, T, V)`` that jn.fit makes of the ids (:func:`step_labels`)."""
    import jax
    import jax.numpy as jnp
    import optax

    import jaxnet as jn
    from jaxnet.training import engine

    net, tx = network(jn, V), adam(optax)
    t0 = common.now()
    params = params_from(lstm_lm.start(seed, V), jnp)
    params, history = jn.fit(net, params, X, Y, optimizer=tx, epochs=epochs, batch_size=batch,
                             key=jax.random.key(seed), backprop=backprop, verbose=0)  # fmt: skip
    total = common.now() - t0
    config = engine.TrainConfig(net, tx, backprop, batch)
    jstep = jax.jit(lambda p, s, x, y: engine.train_step(config, p, s, x, y)[:2])
    return params, history["time"], total, np.asarray(history["loss"]), jstep


def step_labels(Y, V: int):
    """The ids ``Y (m, T)`` as jn.fit's step takes them: one-hot ``(m, T, V)`` float32."""
    import jax.numpy as jnp

    import jaxnet as jn

    return jn.validation.as_labels(network(jn, V), Y, len(Y), jnp.float32)


def logits(params, X, V: int):
    """The dense layer's logits ``(m, T, V)`` for ids ``X (m, T)`` (jitted, as NumPy)."""
    import jax

    import jaxnet as jn

    return np.asarray(jax.jit(lambda p, x: _logits(layers(jn, V), p, x))(params, X))


def main():
    args = common.parse_args()
    import jax
    import jax.numpy as jnp
    import optax

    clock = common.CompileClock()
    X, Y, X_test, Y_test, V = lstm_lm.windows(args)
    c0 = clock.seconds
    params, epoch_times, total, losses, jstep = train(
        args.backprop, X, Y, V, lstm_lm.EPOCHS[args.size], args.seed
    )
    compile_s = clock.seconds - c0
    test_loss, acc = lstm_lm.cross_entropy_and_accuracy(logits(params, X_test, V), Y_test)

    start = params_from(lstm_lm.start(args.seed, V), jnp)
    state = [start, adam(optax).init(start)]
    batch = (jax.device_put(X[: common.BATCH]), step_labels(Y[: common.BATCH], V))

    def call():
        state[:] = jax.block_until_ready(jstep(*state, *batch))

    step_s = common.time_calls(call, lstm_lm.STEP_CALLS[args.size], warmup=2)
    result = common.epoch_result(
        total, epoch_times, compile_s, acc, backprop=args.backprop, step=step_s,
        test_loss=test_loss, train_loss=float(losses[-1]),
    )  # fmt: skip
    common.emit(result)


def _logits(stack, params, X):
    A = X
    for layer, p in zip(stack, params, strict=True):
        A, _ = layer.forward(p, A)
    return A


if __name__ == "__main__":
    main()
