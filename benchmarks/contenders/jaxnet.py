"""jaxnet through its public API: ``jn.init`` + ``jn.fit`` (A, B, scaling), ``jn.fit_ensemble`` (C),
``jn.grads`` in a jitted step (D).

Compile time: the first ``fit`` call minus a second identical call in the same process
(B, C) and the seconds JAX reports tracing, lowering and compiling (``compile_clock_s``).
With ``--cache-dir`` the process turns on ``jn.enable_compilation_cache`` there first (B:
an empty folder gives the cold-cache time, the folder a first process filled the warm one).
"""

import numpy as np

from benchmarks import common


def mnist_fit(args, jax, jn, clock, X, y, width, epochs):
    """Train 784-width-10 on ``X, y``; ``(params, net, total_s, compile_s, epoch times)``."""
    net = jn.Network((784, width, 10), hidden_activation="relu", output_activation="softmax")
    k_init, k_fit = jax.random.split(jax.random.key(args.seed))
    t0, c0 = common.now(), clock.seconds
    params = jn.init(k_init, net, scheme="he")
    params, history = jn.fit(
        net,
        params,
        X,
        y,
        optimizer="rmsprop",
        learning_rate=common.RMSPROP["learning_rate"],
        epochs=epochs,
        batch_size=common.BATCH,
        key=k_fit,
        backprop=args.backprop,
        verbose=0,
    )
    jax.block_until_ready(params)
    return params, net, common.now() - t0, clock.seconds - c0, history["time"]


def workload_a(args, jax, jn, clock):
    X, y, X_test, y_test = common.mnist_for(args)
    params, net, total, compile_s, times = mnist_fit(
        args, jax, jn, clock, X, y, 512, common.MNIST_EPOCHS[args.size]
    )
    acc = jn.evaluate(net, params, X_test, y_test)["accuracy"]
    return {
        "total_s": total,
        "epoch_s": times,
        "steady_epoch_s": common.steady(times),
        "compile_s": compile_s,
        "test_acc": acc,
        "backprop": args.backprop,
    }


def workload_scaling(args, jax, jn, clock):
    epochs = args.epochs or common.MNIST_EPOCHS[args.size]
    X, y, _, _ = common.mnist(args.data_dir, args.m, 1)
    _, _, total, compile_s, times = mnist_fit(args, jax, jn, clock, X, y, args.width, epochs)
    return {
        "m": len(X),
        "width": args.width,
        "epochs": epochs,
        "total_s": total,
        "compile_s": compile_s,
        "epoch_s": times,
        "steady_epoch_s": common.steady(times),
    }


def twice(jax, clock, train):
    """Run ``train()`` (-> ``(params, history)``) twice: ``{total_s, run_s, compile_s,
    compile_clock_s}`` and its result. Only the params are waited for: the history is
    already Python floats (walking its 40,000 floats with ``block_until_ready`` took ~40 ms)."""

    def timed():
        t0, cpu0 = common.now(), common.cpu_now()
        out = train()
        jax.block_until_ready(out[0])
        return common.now() - t0, common.cpu_now() - cpu0, out

    c0 = clock.seconds
    first, first_cpu, _ = timed()
    compile_clock = clock.seconds - c0
    second, second_cpu, out = timed()
    return {
        "total_s": first,
        "run_s": second,
        "compile_s": first - second,
        "compile_clock_s": compile_clock,
        "total_cpu_s": first_cpu,
        "run_cpu_s": second_cpu,
    }, out


def workload_b(args, jax, jn, clock, n_models=None):
    X, y = common.flower(args.seed)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    iters = common.PLANAR_ITERS[args.size]
    fit_kw = {
        "optimizer": "sgd",
        "learning_rate": common.PLANAR_LR,
        "epochs": iters,
        "batch_size": None,
        "verbose": 0,
    }
    if n_models is None:

        def train():
            params = jn.init(jax.random.key(args.seed), net, scheme="normal")
            return jn.fit(net, params, X, y, **fit_kw)
    else:
        keys = jax.random.split(jax.random.key(args.seed), n_models)

        def train():
            stacked = jn.init_ensemble(keys, net, scheme="normal")
            return jn.fit_ensemble(net, stacked, X, y, keys=keys, **fit_kw)

    times, (params, history) = twice(jax, clock, train)
    if n_models is None:
        acc = float(jn.evaluate(net, params, X, y)["accuracy"])
        return {**times, "final_cost": history["loss"][-1], "train_acc": acc}
    accs = [
        jn.evaluate(net, jax.tree.map(lambda a, i=i: a[i], params), X, y)["accuracy"]
        for i in range(n_models)
    ]
    return {**times, "n_models": n_models, "mean_train_acc": float(np.mean(accs))}


def workload_c(args, jax, jn, clock):
    iters = {"iterations": common.PLANAR_ITERS[args.size]}
    if args.variant == "single":
        return {**workload_b(args, jax, jn, clock), "n_models": 1, **iters}
    return {**workload_b(args, jax, jn, clock, n_models=common.ensemble_size(args)), **iters}


def workload_d(args, jax, jn, clock):
    """Median time of one jitted RMSprop step with ``jn.grads(..., backprop=args.backprop)``."""
    import optax

    r = common.RMSPROP
    tx = optax.rmsprop(r["learning_rate"], decay=r["rho"], eps=r["eps"])
    nets = {"mnist 784-512-10": (784, 512, 10), "deep 10x64": (64,) * 11}
    calls = 20 if args.quick else 500
    out = {"backprop": args.backprop}
    for name, sizes in nets.items():
        net = jn.Network(sizes, hidden_activation="relu", output_activation="softmax")
        k1, k2, k3 = jax.random.split(jax.random.key(args.seed), 3)
        params = jn.init(k1, net, scheme="he")
        X = jax.random.uniform(k2, (common.BATCH, sizes[0]))
        Y = jax.nn.one_hot(jax.random.randint(k3, (common.BATCH,), 0, sizes[-1]), sizes[-1])

        @jax.jit
        def step(params, opt_state, X, Y, net=net):
            g = jn.grads(net, params, X, Y, backprop=args.backprop)
            updates, opt_state = tx.update(g, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        state = [params, tx.init(params)]

        def call(step=step, state=state, X=X, Y=Y):
            state[:] = jax.block_until_ready(step(*state, X, Y))

        out[name] = common.time_calls(call, calls, warmup=5)
    return out


def main():
    args = common.parse_args()
    import jax

    import jaxnet as jn

    if args.cache_dir is not None:
        jn.enable_compilation_cache(args.cache_dir)
    clock = common.CompileClock()
    run = {
        "A": workload_a,
        "B": workload_b,
        "C": workload_c,
        "D": workload_d,
        "scaling": workload_scaling,
    }[args.workload]
    common.emit(run(args, jax, jn, clock))


if __name__ == "__main__":
    main()
