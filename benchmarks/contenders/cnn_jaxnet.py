"""Workload E in jaxnet: ``jn.Sequential`` of Conv2D/MaxPool2D/Flatten/Dense, ``jn.fit`` with Adam.

``--backprop manual`` trains with the hand-derived backward of every layer, ``autodiff``
with ``jax.grad``. After training, the process also times one jitted Adam step built on
``jn.grads(..., backprop=...)`` (median of many calls on one batch of 128), as workload D
does for dense nets: the hand-derived vs autodiff target compares those medians.
"""

import numpy as np

from benchmarks import cnn, common


def network(jn):
    L = jn.layers
    convs = []
    for filters, f in cnn.CONVS:
        convs += [L.Conv2D(filters, f, padding="same", activation="relu"), L.MaxPool2D(2)]
    dense = [L.Dense(cnn.HIDDEN, "relu"), L.Dense(cnn.CLASSES, "softmax")]
    return jn.Sequential([*convs, L.Flatten(), *dense], input_shape=(cnn.SIDE, cnn.SIDE, 1))


def params_from(start: dict, jnp) -> tuple:
    """The shared start in jaxnet's layout: conv ``W (f, f, n_C_prev, n_C)`` as is, dense ``W (n[l], n[l-1])``."""
    conv = [{"W": jnp.asarray(start[f"conv{l}_W"]), "b": jnp.asarray(start[f"conv{l}_b"])}
            for l in (1, 2)]  # fmt: skip
    dense = [{"W": jnp.asarray(start[f"dense{l}_W"].T), "b": jnp.asarray(start[f"dense{l}_b"])}
             for l in (1, 2)]  # fmt: skip
    return (conv[0], {}, conv[1], {}, {}, dense[0], dense[1])


def step_time(args, jax, jn, net, params, X, y) -> dict:
    """Median seconds of one jitted Adam step (``jn.grads`` + ``optax.adam``) on one batch."""
    import optax

    a = cnn.ADAM
    tx = optax.adam(a["learning_rate"], b1=a["b1"], b2=a["b2"], eps=a["eps"])
    Xb = jax.device_put(X[: common.BATCH])
    Yb = jax.device_put(np.eye(cnn.CLASSES, dtype=np.float32)[y[: common.BATCH]])

    @jax.jit
    def step(params, opt_state, X, Y):
        g = jn.grads(net, params, X, Y, backprop=args.backprop)
        updates, opt_state = tx.update(g, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    state = [params, tx.init(params)]

    def call():
        state[:] = jax.block_until_ready(step(*state, Xb, Yb))

    return common.time_calls(call, cnn.STEP_CALLS[args.size], warmup=2)


def main():
    args = common.parse_args()
    import jax
    import jax.numpy as jnp

    import jaxnet as jn

    clock = common.CompileClock()
    X, y, X_test, y_test = cnn.images(args)
    start = cnn.start(args.seed)
    net = network(jn)
    t0, c0 = common.now(), clock.seconds
    params = params_from(start, jnp)
    params, history = jn.fit(
        net,
        params,
        X,
        y,
        optimizer="adam",
        learning_rate=cnn.ADAM["learning_rate"],
        epochs=cnn.EPOCHS[args.size],
        batch_size=common.BATCH,
        key=jax.random.key(args.seed),
        backprop=args.backprop,
        verbose=0,
    )
    jax.block_until_ready(params)
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = jn.evaluate(net, params, X_test, y_test)["accuracy"]
    step = step_time(args, jax, jn, net, params_from(start, jnp), X, y)
    result = common.epoch_result(
        total, history["time"], compile_s, acc, backprop=args.backprop, step=step
    )
    common.emit(result)


if __name__ == "__main__":
    main()
