"""Sharded vs single-device training of networks with batch norm, dropout and L2, of a CNN and
of a small ResNet (residual blocks with batch norm and dropout inside) and of a masked sequence
network (embedding, LSTM, dense per step, GRU), on 8 fake CPU devices (run by
test_new_layers_everywhere.py in a subprocess).

Usage: python sharded_layers_worker.py OUT_JSON
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (
    f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8".strip()
)

import jax  # noqa: E402
import lowering_context  # noqa: E402
import numpy as np  # noqa: E402
from helpers import small_sequence_net, token_sequences  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet import network, parallel  # noqa: E402
from jaxnet.layers import (  # noqa: E402
    Activation,
    AvgPool2D,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    Residual,
)

lowering_context.install()  # one MLIR context, as in the test processes (tests/conftest.py)

M = 402  # not a multiple of 8: the mesh pads 6 rows with weight 0


def max_difference(a, b) -> float:
    return max(
        float(np.abs(np.asarray(x) - np.asarray(y)).max())
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def moving_means(params):
    """Every batch norm's ``moving_mean`` in ``params``, inside residual blocks too."""
    flat = jax.tree_util.tree_flatten_with_path(params)[0]
    return [leaf for path, leaf in flat if getattr(path[-1], "key", None) == "moving_mean"]


def compare(name, net, params, X, Y, mesh, **kw):
    single, h1 = jn.fit(net, params, X, Y, verbose=0, **kw)
    sharded, h8 = jn.fit(net, params, X, Y, verbose=0, mesh=mesh, **kw)
    return {
        "name": name,
        "params_diff": max_difference(single, sharded),
        "loss_diff": float(np.abs(np.array(h1["loss"]) - np.array(h8["loss"])).max()),
        "moving_stats_changed": all(not np.allclose(m, 0) for m in moving_means(single)),
        "params_sharding": str({str(a.sharding.spec) for a in jax.tree.leaves(sharded)}),
    }


def batch_statistics(mesh, net, params, X, Y):
    """One training forward on rows sharded over the mesh (padded, weight 0) vs on one device:
    the batch norm statistics (``stats``) are those of the global batch of real rows."""
    Y = jax.nn.one_hot(Y, net.output_shape[0]) if net.task == "multiclass" else Y[:, None] * 1.0
    single = network.loss_and_grads(net, params, X, Y, None, key=jax.random.key(1), train=True)
    Xs, Ys, weights = parallel.shard_rows(mesh, X, Y)
    run = jax.jit(
        lambda p, x, y, w: network.loss_and_grads(
            net, p, x, y, w, key=jax.random.key(1), train=True
        )
    )
    sharded = run(parallel.replicate(mesh, params), Xs, Ys, weights)
    return {
        "data_sharding": str(Xs.sharding.spec),
        "stats_diff": max_difference(single[3], sharded[3]),
        "grads_diff": max_difference(single[2], sharded[2]),
        "loss_diff": float(abs(single[0] - sharded[0])),
    }


def main(out):
    mesh = parallel.data_mesh()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((M, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int32)
    dense = jn.Network((2, 8, 6, 1), hidden_activation="relu", l2=0.3, dropout=0.2, batch_norm=True)
    p_dense = jn.init(jax.random.key(2), dense)
    images = rng.standard_normal((M, 8, 8, 1)).astype(np.float32)
    labels = (images[:, :4].mean(axis=(1, 2, 3)) > 0).astype(np.int32) + (
        images[:, :, :4].mean(axis=(1, 2, 3)) > 0
    ).astype(np.int32)
    cnn = jn.Sequential(
        [Conv2D(4, 3, padding="same", activation="relu", l2=1e-3), BatchNorm(), MaxPool2D(2),
         Flatten(), Dropout(0.25), Dense(3, "softmax", l2=1e-3)],
        input_shape=(8, 8, 1),
    )  # fmt: skip
    p_cnn = jn.init(jax.random.key(3), cnn)
    resnet = jn.Sequential(
        [Conv2D(4, 3, padding="same", activation="relu"),
         Residual((Conv2D(4, 3, padding="same"), BatchNorm(), Activation("relu"), Dropout(0.2),
                   Conv2D(4, 3, padding="same"), BatchNorm())),
         Residual((Conv2D(6, 3, strides=2, padding="same"), BatchNorm()),
                  shortcut=(Conv2D(6, 1, strides=2), BatchNorm())),
         AvgPool2D(4), Flatten(), Dense(3, "softmax")],
        input_shape=(8, 8, 1), l2=1e-3,
    )  # fmt: skip
    p_resnet = jn.init(jax.random.key(4), resnet)
    sequences, classes = token_sequences(M)
    rnn = small_sequence_net()
    p_rnn = jn.init(jax.random.key(5), rnn)
    per_step = jn.Sequential(  # a softmax at every step, padded steps masked out of the loss
        [rnn.layers[0], rnn.layers[1], Dense(3, "softmax")], input_shape=rnn.input_shape
    )
    p_per_step = jn.init(jax.random.key(6), per_step)
    step_labels = (sequences.astype(np.int32) * 2 + 1) % 3  # each step's class, from its id
    key = jax.random.key(0)
    results = {
        "devices": mesh.size,
        "runs": [
            compare(
                "dense bn+dropout+l2 full batch",
                dense,
                p_dense,
                X,
                y,
                mesh,
                optimizer="adam",
                learning_rate=0.01,
                epochs=5,
                key=key,
            ),
            compare(
                "dense bn+dropout+l2 batch 60",
                dense,
                p_dense,
                X,
                y,
                mesh,
                optimizer="adam",
                learning_rate=0.01,
                epochs=3,
                batch_size=60,
                key=key,
            ),
            compare(
                "cnn bn+dropout+l2 batch 50",
                cnn,
                p_cnn,
                images,
                labels,
                mesh,
                optimizer="adam",
                learning_rate=0.01,
                epochs=2,
                batch_size=50,
                key=key,
            ),
            compare(
                "resnet bn+dropout+l2 in blocks, batch 50",
                resnet,
                p_resnet,
                images,
                labels,
                mesh,
                # momentum, not Adam: a conv bias before batch norm has a zero gradient whose
                # rounding noise Adam's normalised steps would blow up to differences of 1e-2
                optimizer="momentum",
                learning_rate=0.05,
                epochs=2,
                batch_size=50,
                key=key,
            ),
            compare(
                "emb-lstm-dense per step-gru masked, batch 50",
                rnn,
                p_rnn,
                sequences,
                classes,
                mesh,
                optimizer="adam",
                learning_rate=0.01,
                clip_norm=1.0,
                epochs=2,
                batch_size=50,
                key=key,
            ),
            compare(
                "emb-lstm-softmax per step, masked steps, batch 50",
                per_step,
                p_per_step,
                sequences,
                step_labels,
                mesh,
                optimizer="adam",
                learning_rate=0.01,
                epochs=2,
                batch_size=50,
                key=key,
            ),
        ],  # fmt: skip
        "batch_statistics": [
            batch_statistics(mesh, dense, p_dense, X, y),
            batch_statistics(mesh, cnn, p_cnn, images, labels),
            batch_statistics(mesh, resnet, p_resnet, images, labels),
        ],
    }
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
