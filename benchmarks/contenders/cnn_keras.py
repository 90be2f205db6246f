"""Workload E in Keras 3 on JAX, as its MNIST convnet example writes it: ``Sequential``, ``fit``.

The example's layers (without its dropout), ``categorical_crossentropy`` on one-hot
labels, ``Adam(1e-3)`` given ``epsilon=1e-8`` (the other contenders' default) and the
shared start loaded with ``set_weights`` (Keras's layout is the start's own).
"""

import os

from benchmarks import cnn, common
from benchmarks.contenders.keras import compile_and_fit


def model_of(keras):
    L = keras.layers
    convs = []
    for filters, f in cnn.CONVS:
        convs += [
            L.Conv2D(filters, (f, f), padding="same", activation="relu"),
            L.MaxPooling2D((2, 2)),
        ]
    return keras.Sequential(
        [
            keras.Input((cnn.SIDE, cnn.SIDE, 1)),
            *convs,
            L.Flatten(),
            L.Dense(cnn.HIDDEN, activation="relu"),
            L.Dense(cnn.CLASSES, activation="softmax"),
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
    X, y, X_test, y_test = cnn.images(args)
    Y = keras.utils.to_categorical(y, cnn.CLASSES)
    start = cnn.start(args.seed)
    keras.utils.set_random_seed(args.seed)  # the shuffle

    t0, c0 = common.now(), clock.seconds
    model = model_of(keras)
    model.set_weights([start[k] for k in sorted(start, key=_layer_order)])
    a = cnn.ADAM
    opt = keras.optimizers.Adam(
        learning_rate=a["learning_rate"], beta_1=a["b1"], beta_2=a["b2"], epsilon=a["eps"]
    )
    epoch_times = compile_and_fit(keras, model, opt, X, Y, cnn.EPOCHS[args.size])
    total, compile_s = common.now() - t0, clock.seconds - c0
    acc = float((model.predict(X_test, batch_size=1024, verbose=0).argmax(1) == y_test).mean())
    common.emit(
        common.epoch_result(total, epoch_times, compile_s, acc, backend=keras.backend.backend())
    )


def _layer_order(name: str):
    """``conv1_W, conv1_b, conv2_W, ..., dense2_b``: the order of ``model.get_weights()``."""
    layer, param = name.split("_")
    return (layer.startswith("dense"), layer, param != "W")


if __name__ == "__main__":
    main()
