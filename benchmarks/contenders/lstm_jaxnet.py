"""Workload F in jaxnet: ``Embedding -> LSTM(return_sequences) -> Dense per step`` with Adam.

A network's output is one vector per example (``jn.fit`` takes labels ``(m, n[L])``), so a
language model that predicts at every step is trained here as jaxnet's layers compose: the
layers' ``forward`` in turn, the per-step softmax cross-entropy on the dense layer's logits,
and either the layers' hand-derived ``backward`` in reverse (``--backprop manual``: the
LSTM's BPTT is the reverse ``lax.scan`` of its cell backward) with the fused output gradient
``dZ = (softmax(Z) - Y) / T`` (the layer convention's row ``m dJ/dZ_i``), or ``jax.grad`` of
the same cost (``autodiff``). One epoch is one compiled ``lax.scan`` over its batches, as in
``jn.fit``. After training, the process times one jitted Adam step (median of many calls on
one batch) for the hand-derived vs autodiff target.
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


def loss_and_grads_fn(jax, jnp, stack, backprop: str):
    """``(params, X, Y) -> (loss, grads)`` for ids ``X (m, T)`` and next ids ``Y (m, T)``."""

    def forward(params, X):
        A, caches = X, []
        for layer, p in zip(stack, params, strict=True):
            A, cache = layer.forward(p, A)
            caches.append(cache)
        return A, caches

    def cost(params, X, Y):
        logp = jax.nn.log_softmax(forward(params, X)[0])
        return -jnp.take_along_axis(logp, Y[..., None], axis=-1).mean()

    if backprop == "autodiff":
        return jax.value_and_grad(cost)

    def manual(params, X, Y):
        Z, caches = forward(params, X)
        logp = jax.nn.log_softmax(Z)
        onehot = jax.nn.one_hot(Y, Z.shape[-1], dtype=Z.dtype)
        loss = -(onehot * logp).sum(-1).mean()
        dA = (jnp.exp(logp) - onehot) / Z.shape[1]  # row i: m dJ/dZ_i (J: mean over m and T)
        grads = [None] * len(stack)
        for l in reversed(range(len(stack))):
            dA, grads[l] = stack[l].backward(params[l], caches[l], dA)
        return loss, tuple(grads)

    return manual


def adam(optax):
    a = lstm_lm.ADAM
    return optax.adam(a["learning_rate"], b1=a["b1"], b2=a["b2"], eps=a["eps"])


def train(backprop: str, X, Y, V: int, epochs: int, seed: int, batch: int = common.BATCH):
    """``(params, epoch_times, total_s, last_losses, step)``: Adam from the shared start, one
    compiled ``lax.scan`` per epoch over NumPy ``default_rng(seed)`` permutations (whole
    batches); ``step(params, opt_state, X, Y) -> (params, opt_state)`` is the jitted step."""
    import jax
    import jax.numpy as jnp
    import optax

    import jaxnet as jn

    stack = layers(jn, V)
    tx = adam(optax)
    grads_of = loss_and_grads_fn(jax, jnp, stack, backprop)

    def step(carry, batch):
        params, opt_state = carry
        loss, g = grads_of(params, *batch)
        updates, opt_state = tx.update(g, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def epoch(params, opt_state, X, Y, perm):
        order = perm.reshape(-1, batch)
        (params, opt_state), losses = jax.lax.scan(step, (params, opt_state), (X[order], Y[order]))
        return params, opt_state, losses

    rng = np.random.default_rng(seed)
    t0 = common.now()
    params = params_from(lstm_lm.start(seed, V), jnp)
    opt_state = tx.init(params)
    Xd, Yd = jax.device_put(X), jax.device_put(Y)
    epoch_times = []
    for _ in range(epochs):
        te = common.now()
        perm = jax.device_put(rng.permutation(len(X)).astype(np.int32))
        params, opt_state, losses = jax.block_until_ready(epoch(params, opt_state, Xd, Yd, perm))
        epoch_times.append(common.now() - te)
    total = common.now() - t0
    jstep = jax.jit(lambda p, s, x, y: step((p, s), (x, y))[0])
    return params, epoch_times, total, np.asarray(losses), jstep


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
    batch = (jax.device_put(X[: common.BATCH]), jax.device_put(Y[: common.BATCH]))

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
