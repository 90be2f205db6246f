"""Flax NNX + optax, as the Flax MNIST tutorial writes it: an ``nnx.jit`` train step in a Python
loop, sped up with ``nnx.cached_partial`` as the Flax performance guide recommends."""

import numpy as np

from benchmarks import common


def workload_a(args, jax, nnx, optax, clock):
    X, y, X_test, y_test = common.mnist_for(args)

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.linear1 = nnx.Linear(784, 512, rngs=rngs)
            self.linear2 = nnx.Linear(512, 10, rngs=rngs)

        def __call__(self, x):
            return self.linear2(nnx.relu(self.linear1(x)))

    @nnx.jit
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    rng = np.random.default_rng(args.seed)
    t0, c0 = common.now(), clock.seconds
    model = MLP(nnx.Rngs(args.seed))
    r = common.RMSPROP
    tx = optax.rmsprop(r["learning_rate"], decay=r["rho"], eps=r["eps"])
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    step = nnx.cached_partial(train_step, model, optimizer)
    epoch_times = []
    for _ in range(common.MNIST_EPOCHS[args.size]):
        te = common.now()
        for idx in common.batches(rng.permutation(len(X))):
            loss = step(X[idx], y[idx])
        jax.block_until_ready(loss)
        epoch_times.append(common.now() - te)
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = float((np.asarray(nnx.jit(lambda m, x: m(x))(model, X_test)).argmax(1) == y_test).mean())
    return common.epoch_result(total, epoch_times, compile_s, acc)


def main():
    args = common.parse_args()
    try:
        import jax
        import optax
        from flax import nnx
    except ImportError as e:
        common.missing("flax", e)
    if args.workload != "A":
        raise SystemExit(f"flax runs workload A only, not {args.workload}")
    common.emit(workload_a(args, jax, nnx, optax, common.CompileClock()))


if __name__ == "__main__":
    main()
