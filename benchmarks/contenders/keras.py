"""Keras 3 on the JAX backend, as its MNIST examples write it: ``Sequential``, ``compile``, ``fit``."""

import os

from benchmarks import common


def compile_and_fit(keras, model, opt, X, Y, epochs: int) -> list[float]:
    """``model.compile`` (categorical cross-entropy, accuracy) and ``model.fit`` in batches of
    ``common.BATCH``, shuffled; each epoch's seconds, timed by a callback."""
    epoch_times = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = common.now()

        def on_epoch_end(self, epoch, logs=None):
            epoch_times.append(common.now() - self.t0)

    model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(
        X,
        Y,
        batch_size=common.BATCH,
        epochs=epochs,
        shuffle=True,
        verbose=0,
        callbacks=[EpochTimer()],
    )
    return epoch_times


def workload_a(args, keras, clock):
    X, y, X_test, y_test = common.mnist_for(args)
    Y = keras.utils.to_categorical(y, 10)
    keras.utils.set_random_seed(args.seed)

    t0, c0 = common.now(), clock.seconds
    model = keras.Sequential(
        [
            keras.Input((784,)),
            keras.layers.Dense(512, activation="relu"),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    r = common.RMSPROP
    opt = keras.optimizers.RMSprop(learning_rate=r["learning_rate"], rho=r["rho"], epsilon=r["eps"])
    epoch_times = compile_and_fit(keras, model, opt, X, Y, common.MNIST_EPOCHS[args.size])
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = float((model.predict(X_test, batch_size=1024, verbose=0).argmax(1) == y_test).mean())
    return common.epoch_result(total, epoch_times, compile_s, acc, backend=keras.backend.backend())


def main():
    args = common.parse_args()
    os.environ["KERAS_BACKEND"] = "jax"
    try:
        import keras
    except ImportError as e:
        common.missing("keras", e)
    if args.workload != "A":
        raise SystemExit(f"keras runs workload A only, not {args.workload}")
    common.emit(workload_a(args, keras, common.CompileClock()))


if __name__ == "__main__":
    main()
