"""Workload F in Flax NNX + optax, as the Flax docs write a recurrent model: ``nnx.Embed``,
``nnx.RNN(nnx.OptimizedLSTMCell)`` (the fused-gate cell), ``nnx.Linear`` per step; an
``nnx.jit`` train step (``optax.softmax_cross_entropy_with_integer_labels`` on the logits,
mean over every character) in a Python loop, bound with ``nnx.cached_partial`` as the Flax
performance guide recommends. The shared start is assigned to the ``nnx.Param``s (the
fused cell's layout is Keras's: kernels ``(in, 4 units)``, gates i, f, g, o; the bias on
the recurrent product)."""

import numpy as np

from benchmarks import common, lstm_lm
from benchmarks.contenders.flax import train_epochs


def model_class(nnx):
    class CharLSTM(nnx.Module):
        def __init__(self, vocab_size, rngs):
            self.embed = nnx.Embed(vocab_size, lstm_lm.EMBED, rngs=rngs)
            cell = nnx.OptimizedLSTMCell(lstm_lm.EMBED, lstm_lm.UNITS, rngs=rngs)
            self.lstm = nnx.RNN(cell, rngs=rngs)
            self.dense = nnx.Linear(lstm_lm.UNITS, vocab_size, rngs=rngs)

        def __call__(self, ids):
            return self.dense(self.lstm(self.embed(ids)))

    return CharLSTM


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
    X, Y, X_test, Y_test, V = lstm_lm.windows(args)
    start = lstm_lm.start(args.seed, V)

    rng = np.random.default_rng(args.seed)
    t0, c0 = common.now(), clock.seconds
    model = model_class(nnx)(V, nnx.Rngs(args.seed))
    model.embed.embedding[...] = jnp.asarray(start["embedding"])
    cell = model.lstm.cell
    cell.dense_i.kernel[...] = jnp.asarray(start["kernel"])
    cell.dense_h.kernel[...] = jnp.asarray(start["recurrent_kernel"])
    cell.dense_h.bias[...] = jnp.asarray(start["bias"])
    model.dense.kernel[...] = jnp.asarray(start["dense_W"])
    model.dense.bias[...] = jnp.asarray(start["dense_b"])
    a = lstm_lm.ADAM
    tx = optax.adam(a["learning_rate"], b1=a["b1"], b2=a["b2"], eps=a["eps"])

    epoch_times, loss = train_epochs(
        jax, nnx, optax, model, tx, X, Y, lstm_lm.EPOCHS[args.size], rng
    )
    total, compile_s = common.now() - t0, clock.seconds - c0
    logits = np.asarray(nnx.jit(lambda m, x: m(x))(model, X_test))
    test_loss, acc = lstm_lm.cross_entropy_and_accuracy(logits, Y_test)
    common.emit(
        common.epoch_result(
            total, epoch_times, compile_s, acc, test_loss=test_loss, train_loss=loss
        )
    )


if __name__ == "__main__":
    main()
