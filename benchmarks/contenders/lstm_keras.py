"""Workload F in Keras 3 on JAX, as its character-level text-generation examples write it:
``Sequential([Embedding, LSTM(return_sequences=True), Dense])``, ``compile``, ``fit``.

The dense layer gives logits and the loss is ``SparseCategoricalCrossentropy(from_logits=True)``
on the next ids ``(m, 40)`` (the mean over every character); ``Adam(1e-3)`` given
``epsilon=1e-8`` (the other contenders' default); the shared start is Keras's own layout,
loaded with ``set_weights``.
"""

import os

import numpy as np

from benchmarks import common, lstm_lm


def model_of(keras, vocab_size: int):
    L = keras.layers
    return keras.Sequential(
        [
            keras.Input((lstm_lm.T,), dtype="int32"),
            L.Embedding(vocab_size, lstm_lm.EMBED),
            L.LSTM(lstm_lm.UNITS, return_sequences=True),
            L.Dense(vocab_size),
        ]
    )


def main():
    args = common.parse_args()
    os.environ["KERAS_BACKEND"] = "jax"
    try:
        import keras
    except ImportError as e:
        common.missing("keras", e)
    clock = common.CompileClock()
    X, Y, X_test, Y_test, V = lstm_lm.windows(args)
    start = lstm_lm.start(args.seed, V)
    keras.utils.set_random_seed(args.seed)  # the shuffle
    epoch_times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = common.now()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(common.now() - self.t0)

    t0, c0 = common.now(), clock.seconds
    model = model_of(keras, V)
    names = ("embedding", "kernel", "recurrent_kernel", "bias", "dense_W", "dense_b")
    model.set_weights([start[k] for k in names])
    a = lstm_lm.ADAM
    opt = keras.optimizers.Adam(
        learning_rate=a["learning_rate"], beta_1=a["b1"], beta_2=a["b2"], epsilon=a["eps"]
    )
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(
        X, Y, batch_size=common.BATCH, epochs=lstm_lm.EPOCHS[args.size], shuffle=True,
        verbose=0, callbacks=[EpochTimer()],
    )  # fmt: skip
    total, compile_s = common.now() - t0, clock.seconds - c0
    logits = np.asarray(model.predict(X_test, batch_size=1024, verbose=0))
    test_loss, acc = lstm_lm.cross_entropy_and_accuracy(logits, Y_test)
    common.emit(
        common.epoch_result(
            total,
            epoch_times,
            compile_s,
            acc,
            backend=keras.backend.backend(),
            test_loss=test_loss,
            train_loss=float(history.history["loss"][-1]),
        )  # fmt: skip
    )


if __name__ == "__main__":
    main()
