"""The seed's Keras MNIST example, trained through jaxnet: 784-512-10, relu/softmax, RMSprop.

    model = Sequential([Dense(512, activation="relu", input_shape=(784,)),
                        Dense(10, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=5, validation_data=(x_test, y_test))

Run: ``python scripts/train_mnist.py --data-dir ../shared/data/mnist`` (about 97.8% test accuracy).
"""

import argparse
import sys

import jax

import jaxnet as jn
from jaxnet import datasets as ds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--data-dir", help="folder holding the four MNIST .gz files")
    parser.add_argument("--download", action="store_true", help="fetch them if missing")
    parser.add_argument("--limit", type=int, help="train on the first N examples only (quick runs)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        (X_train, y_train), (X_test, y_test) = ds.load_mnist(args.data_dir, download=args.download)
    except FileNotFoundError as e:
        print(f"train_mnist.py: error: {e}", file=sys.stderr)
        return 2
    X_train, X_test = ds.scale(ds.flatten_images(X_train)), ds.scale(ds.flatten_images(X_test))
    X_train, y_train = X_train[: args.limit], y_train[: args.limit]

    net = jn.Network((784, 512, 10), hidden_activation="relu", output_activation="softmax")
    jn.summary(net)
    init_key, shuffle_key = jax.random.split(jax.random.key(args.seed))
    params = jn.init(init_key, net, scheme="he")
    params, history = jn.fit(
        net, params, X_train, y_train,
        optimizer="rmsprop", learning_rate=1e-3, epochs=args.epochs, batch_size=128,
        key=shuffle_key, validation_data=(X_test, y_test), verbose=2,
    )  # fmt: skip
    test = jn.evaluate(net, params, X_test, y_test)
    print(f"Test loss: {test['loss']:.4f}")
    print(f"Test accuracy: {test['accuracy']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
