"""Workload E in Flax NNX + optax, as the Flax MNIST tutorial writes its CNN (max pooling here):
an ``nnx.jit`` train step in a Python loop, sped up with ``nnx.cached_partial`` as the Flax
performance guide recommends. The shared start is assigned to the ``nnx.Param``s (Flax's
kernels are HWIO and ``(in, out)``, the start's layout)."""

import functools

import numpy as np

from benchmarks import cnn, common
from benchmarks.contenders.flax import accuracy, train_epochs


def model_class(nnx):
    class CNN(nnx.Module):
        def __init__(self, rngs):
            (f1, k1), (f2, k2) = cnn.CONVS
            self.conv1 = nnx.Conv(1, f1, kernel_size=(k1, k1), padding="SAME", rngs=rngs)
            self.conv2 = nnx.Conv(f1, f2, kernel_size=(k2, k2), padding="SAME", rngs=rngs)
            self.pool = functools.partial(nnx.max_pool, window_shape=(2, 2), strides=(2, 2))
            n_flat, hidden, classes = cnn.dense_sizes()
            self.dense1 = nnx.Linear(n_flat, hidden, rngs=rngs)
            self.dense2 = nnx.Linear(hidden, classes, rngs=rngs)

        def __call__(self, x):
            x = self.pool(nnx.relu(self.conv1(x)))
            x = self.pool(nnx.relu(self.conv2(x)))
            x = x.reshape(x.shape[0], -1)
            return self.dense2(nnx.relu(self.dense1(x)))

    return CNN


def main():
    args = common.parse_args()
    try:
        import jax
        import jax.numpy as jnp
        import optax
        from flax import nnx
    except ImportError as e:
        common.missing("flax", e)
    clock = common.CompileClock()
    X, y, X_test, y_test = cnn.images(args)
    start = cnn.start(args.seed)

    rng = np.random.default_rng(args.seed)
    t0, c0 = common.now(), clock.seconds
    model = model_class(nnx)(nnx.Rngs(args.seed))
    for name in ("conv1", "conv2", "dense1", "dense2"):
        layer = getattr(model, name)
        layer.kernel[...] = jnp.asarray(start[f"{name}_W"])
        layer.bias[...] = jnp.asarray(start[f"{name}_b"])
    a = cnn.ADAM
    tx = optax.adam(a["learning_rate"], b1=a["b1"], b2=a["b2"], eps=a["eps"])
    epoch_times, _ = train_epochs(jax, nnx, optax, model, tx, X, y, cnn.EPOCHS[args.size], rng)
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = accuracy(nnx, model, X_test, y_test)
    common.emit(common.epoch_result(total, epoch_times, compile_s, acc))


if __name__ == "__main__":
    main()
