"""Flax NNX + optax, as the Flax MNIST tutorial writes it: an ``nnx.jit`` train step in a Python
loop, sped up with ``nnx.cached_partial`` as the Flax performance guide recommends."""

import numpy as np

from benchmarks import common


def train_epochs(jax, nnx, optax, model, tx, X, y, epochs: int, rng) -> tuple[list[float], float]:
    """An ``nnx.jit`` step (cross-entropy on the logits, ``tx``) bound with ``nnx.cached_partial``,
    over minibatches of ``common.BATCH`` from ``rng``'s permutations: each epoch's seconds and the
    last step's loss. Integer labels ``y`` of any shape that fits the logits' leading axes (one
    per example, or one per step of a sequence)."""

    @nnx.jit
    def train_step(model, optimizer, x, y):
        def loss_fn(model):
            return optax.softmax_cross_entropy_with_integer_labels(model(x), y).mean()

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        optimizer.update(model, grads)
        return loss

    step = nnx.cached_partial(train_step, model, nnx.Optimizer(model, tx, wrt=nnx.Param))
    epoch_times = []
    for _ in range(epochs):
        te = common.now()
        for idx in common.batches(rng.permutation(len(X))):
            loss = step(X[idx], y[idx])
        jax.block_until_ready(loss)
        epoch_times.append(common.now() - te)
    return epoch_times, float(loss)


def accuracy(nnx, model, X, y) -> float:
    """Fraction of ``X``'s rows whose largest logit is the label."""
    return float((np.asarray(nnx.jit(lambda m, x: m(x))(model, X)).argmax(1) == y).mean())


def workload_a(args, jax, nnx, optax, clock):
    X, y, X_test, y_test = common.mnist_for(args)

    class MLP(nnx.Module):
        def __init__(self, rngs):
            self.linear1 = nnx.Linear(784, 512, rngs=rngs)
            self.linear2 = nnx.Linear(512, 10, rngs=rngs)

        def __call__(self, x):
            return self.linear2(nnx.relu(self.linear1(x)))

    rng = np.random.default_rng(args.seed)
    t0, c0 = common.now(), clock.seconds
    model = MLP(nnx.Rngs(args.seed))
    r = common.RMSPROP
    tx = optax.rmsprop(r["learning_rate"], decay=r["rho"], eps=r["eps"])
    epoch_times, _ = train_epochs(
        jax, nnx, optax, model, tx, X, y, common.MNIST_EPOCHS[args.size], rng
    )
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = accuracy(nnx, model, X_test, y_test)
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
