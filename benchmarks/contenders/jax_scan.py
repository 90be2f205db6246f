"""Raw JAX reference: one jitted ``lax.scan`` per epoch that gathers each batch inside the scan body
(A); the whole planar run, init included, as one jitted ``lax.scan`` of 10,000 steps (B); n
planar models (C) as the simplest fast raw-JAX program: init and a ``lax.fori_loop`` of
``jax.vmap(step)`` (``jax.grad``, the course's layout ``W @ X``) in one jitted function, with
a second independent form to check it (``lax.scan``; batch-first ``X @ W.T``), or the
one-model program run n times in a row.

The training arrays are arguments of the jitted function (not closed-over constants); the
partial last batch runs once after the scan, inside the same compiled epoch. With
``--cache-dir`` JAX's persistent compilation cache is on, set as a raw-JAX user would.
"""

import functools

import numpy as np

from benchmarks import common


def workload_a(args, clock):
    import jax
    import jax.numpy as jnp
    import optax

    X, y, X_test, y_test = (jnp.asarray(a) for a in common.mnist_for(args))
    r = common.RMSPROP
    tx = optax.rmsprop(r["learning_rate"], decay=r["rho"], eps=r["eps"])

    @functools.partial(jax.jit, static_argnums=1)
    def init(key, sizes=(784, 512, 10)):
        keys = jax.random.split(key, len(sizes) - 1)
        return [
            {"W": jax.random.normal(k, (n, n_in)) * jnp.sqrt(2 / n_in), "b": jnp.zeros(n)}
            for k, n_in, n in zip(keys, sizes, sizes[1:], strict=False)
        ]

    def logits(params, x):
        h = jax.nn.relu(x @ params[0]["W"].T + params[0]["b"])
        return h @ params[1]["W"].T + params[1]["b"]

    def loss_fn(params, xb, yb):
        return optax.softmax_cross_entropy_with_integer_labels(logits(params, xb), yb).mean()

    def train_step(state, xb, yb):
        params, opt_state = state
        loss, grads = jax.value_and_grad(loss_fn)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @functools.partial(jax.jit, donate_argnums=(0,))
    def epoch(state, X, y, key):
        def body(state, idx):
            return train_step(state, X[idx], y[idx])

        perm = jax.random.permutation(key, X.shape[0])
        n_full = X.shape[0] // common.BATCH * common.BATCH
        state, losses = jax.lax.scan(body, state, perm[:n_full].reshape(-1, common.BATCH))
        if n_full < X.shape[0]:
            state, _ = body(state, perm[n_full:])
        return state, losses.mean()

    key = jax.random.key(args.seed)
    t0, c0 = common.now(), clock.seconds
    params = init(key, (784, 512, 10))
    state = (params, tx.init(params))
    epoch_times = []
    for e in range(common.MNIST_EPOCHS[args.size]):
        te = common.now()
        state, loss = epoch(state, X, y, jax.random.fold_in(key, e))
        jax.block_until_ready(loss)
        epoch_times.append(common.now() - te)
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = float(
        (np.asarray(jax.jit(logits)(state[0], X_test)).argmax(1) == np.asarray(y_test)).mean()
    )
    return common.epoch_result(total, epoch_times, compile_s, acc)


def planar(iters: int, course: bool = False):
    """``(train, forward)`` for 2-4-1 tanh/sigmoid, randn * 0.01, full-batch GD: ``train(key, X,
    Y)`` is init and every step (a ``lax.scan`` recording the cost of each) in one function.

    Batch-first: ``X (m, 2)``, ``Y (m, 1)``, ``Z = X W^T + b``. The course's layout (``course``):
    ``X (2, m)``, ``Y (1, m)``, ``Z = W X + b``, ``b (n, 1)``: the examples on the minor axis.
    """
    import jax
    import jax.numpy as jnp

    lr = common.PLANAR_LR

    def forward(params, X):  # logits (m, 1), or (1, m) in the course's layout
        if course:
            A1 = jnp.tanh(params["W1"] @ X + params["b1"])
            return params["W2"] @ A1 + params["b2"]
        A1 = jnp.tanh(X @ params["W1"].T + params["b1"])
        return A1 @ params["W2"].T + params["b2"]

    def cost(params, X, Y):
        Z = forward(params, X)
        return jnp.mean(jnp.logaddexp(0.0, Z) - Y * Z)  # binary cross-entropy from logits

    def train(key, X, Y):
        k1, k2 = jax.random.split(key)
        params = {
            "W1": jax.random.normal(k1, (4, 2)) * 0.01,
            "b1": jnp.zeros((4, 1) if course else 4),
            "W2": jax.random.normal(k2, (1, 4)) * 0.01,
            "b2": jnp.zeros((1, 1) if course else 1),
        }

        def step(params, _):
            loss, g = jax.value_and_grad(cost)(params, X, Y)
            return jax.tree.map(lambda p, d: p - lr * d, params, g), loss

        return jax.lax.scan(step, params, None, length=iters)

    return train, forward


def workload_b(args, clock):
    """2-4-1 tanh/sigmoid, randn * 0.01, full-batch GD: init and every step in one program."""
    import jax

    X, y = common.flower(args.seed)
    X, Y = jax.device_put(X), jax.device_put(y.astype(np.float32)[:, None])
    train, forward = planar(common.PLANAR_ITERS[args.size])
    train = jax.jit(train)

    def timed():
        t0 = common.now()
        params, losses = jax.block_until_ready(train(jax.random.key(args.seed), X, Y))
        return common.now() - t0, params, losses

    c0 = clock.seconds
    first, _, _ = timed()
    compile_clock = clock.seconds - c0
    second, params, losses = timed()
    acc = float(((forward(params, X) > 0) == (Y > 0.5)).mean())
    return {
        "total_s": first,
        "run_s": second,
        "compile_s": first - second,
        "compile_clock_s": compile_clock,
        "final_cost": float(losses[-1]),
        "train_acc": acc,
    }


def planar_models(iters: int, layout: str, loop: str):
    """``(train, forward)`` for C: n planar models (2-4-1 tanh/sigmoid, randn * 0.01, full-batch
    GD), the simplest fast raw-JAX program: ``train(keys, X, Y)`` draws every model's params
    (``vmap`` over the keys) and runs ``iters`` steps of ``jax.vmap(step)`` in one jitted loop,
    ``step = params - lr * jax.grad(cost)``. Nothing is recorded (no loss history).

    ``layout``: ``"course"`` (``X (2, m)``, ``W1 (n, 4, 2)``, ``b1 (n, 4, 1)``, ``Z = W X + b``,
    the examples on the minor axis) or ``"batch-first"`` (``X (m, 2)``, ``Z = X W^T + b``).
    ``loop``: ``"fori"`` (``lax.fori_loop``, the reference) or ``"scan"`` (``lax.scan``, an
    independent second form).
    """
    import jax
    import jax.numpy as jnp

    lr, course = common.PLANAR_LR, layout == "course"

    def forward(params, X):  # logits (1, m), or (m, 1) batch-first
        if course:
            return params["W2"] @ jnp.tanh(params["W1"] @ X + params["b1"]) + params["b2"]
        return jnp.tanh(X @ params["W1"].T + params["b1"]) @ params["W2"].T + params["b2"]

    def cost(params, X, Y):  # binary cross-entropy from the logits
        Z = forward(params, X)
        return jnp.mean(jnp.logaddexp(0.0, Z) - Y * Z)

    def step(params, X, Y):
        grads = jax.grad(cost)(params, X, Y)
        return jax.tree.map(lambda p, g: p - lr * g, params, grads)

    def init(key):
        k1, k2 = jax.random.split(key)
        return {
            "W1": jax.random.normal(k1, (4, 2)) * 0.01,
            "b1": jnp.zeros((4, 1) if course else 4),
            "W2": jax.random.normal(k2, (1, 4)) * 0.01,
            "b2": jnp.zeros((1, 1) if course else 1),
        }

    def train(keys, X, Y):
        params = jax.vmap(init)(keys)
        vstep = jax.vmap(step, in_axes=(0, None, None))
        if loop == "fori":
            return jax.lax.fori_loop(0, iters, lambda _, p: vstep(p, X, Y), params)
        return jax.lax.scan(lambda p, _: (vstep(p, X, Y), None), params, None, length=iters)[0]

    return jax.jit(train), forward


C_VARIANTS = {  # --variant -> (layout, loop)
    "course": ("course", "fori"),
    "course-scan": ("course", "scan"),
    "batch-first": ("batch-first", "fori"),
    "sequential": ("course", "fori"),
}


def workload_c(args, clock):
    """n models (seeds ``split(key(seed), n)``) as one program (:func:`planar_models`, the
    ``--variant``'s layout and loop), or ``sequential``: the one-model program run n times."""
    import jax

    n, iters = common.ensemble_size(args), common.PLANAR_ITERS[args.size]
    if args.variant not in C_VARIANTS:
        raise SystemExit(f"C: --variant must be one of {sorted(C_VARIANTS)}, got {args.variant}")
    layout, loop = C_VARIANTS[args.variant]
    X, y = common.flower(args.seed)
    train, forward = planar_models(iters, layout, loop)
    X, Y = (X.T, y[None, :]) if layout == "course" else (X, y[:, None])
    X, Y = jax.device_put(X), jax.device_put(Y.astype(np.float32))
    keys = jax.random.split(jax.random.key(args.seed), n)
    if args.variant == "sequential":
        one = [keys[i : i + 1] for i in range(n)]  # a (1,) key array per model

        def run():
            return [jax.block_until_ready(train(k, X, Y)) for k in one]
    else:

        def run():
            return jax.block_until_ready(train(keys, X, Y))

    c0, t0, cpu0 = clock.seconds, common.now(), common.cpu_now()
    out = run()
    first, first_cpu = common.now() - t0, common.cpu_now() - cpu0
    compile_clock = clock.seconds - c0
    second = second_cpu = None
    if args.variant != "sequential":  # the warm rerun (a sequential one would be n more runs)
        t0, cpu0 = common.now(), common.cpu_now()
        out = run()
        second, second_cpu = common.now() - t0, common.cpu_now() - cpu0
    if args.variant == "sequential":
        out = jax.tree.map(lambda *a: np.concatenate(a), *out)
    Z = np.asarray(jax.vmap(forward, in_axes=(0, None))(out, X))  # logits of every model
    accs = ((Z > 0) == (np.asarray(Y) > 0.5)).reshape(n, -1).mean(axis=1)
    result = {
        "total_s": first,
        "total_cpu_s": first_cpu,
        "compile_clock_s": compile_clock,
        "n_models": n,
        "iterations": iters,
        "mean_train_acc": float(np.mean(accs)),
    }
    if second is not None:
        result.update(run_s=second, run_cpu_s=second_cpu, compile_s=first - second)
    return result


if __name__ == "__main__":
    args = common.parse_args()
    if args.workload not in ("A", "B", "C"):
        raise SystemExit(f"jax_scan runs workloads A, B and C only, not {args.workload}")
    common.enable_jax_cache(args.cache_dir)
    run = {"A": workload_a, "B": workload_b, "C": workload_c}[args.workload]
    common.emit(run(args, common.CompileClock()))
