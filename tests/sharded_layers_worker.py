"""Sharded vs single-device training of networks with batch norm, dropout and L2, and of a CNN,
on 8 fake CPU devices (run by test_new_layers_everywhere.py in a subprocess).

Usage: python sharded_layers_worker.py OUT_JSON
"""

import json
import os
import sys

os.environ["XLA_FLAGS"] = (
    f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8".strip()
)

import jax  # noqa: E402
import numpy as np  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet import network, parallel  # noqa: E402
from jaxnet.layers import BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D  # noqa: E402

M = 402  # not a multiple of 8: the mesh pads 6 rows with weight 0


def max_difference(a, b) -> float:
    return max(
        float(np.abs(np.asarray(x) - np.asarray(y)).max())
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def compare(name, net, params, X, Y, mesh, **kw):
    single, h1 = jn.fit(net, params, X, Y, verbose=0, **kw)
    sharded, h8 = jn.fit(net, params, X, Y, verbose=0, mesh=mesh, **kw)
    moving = [l for l, layer in enumerate(net.layers) if layer.kind == "batch_norm"]
    return {
        "name": name,
        "params_diff": max_difference(single, sharded),
        "loss_diff": float(np.abs(np.array(h1["loss"]) - np.array(h8["loss"])).max()),
        "moving_stats_changed": all(not np.allclose(single[l]["moving_mean"], 0) for l in moving),
        "params_sharding": str(sharded[0]["W"].sharding.spec),
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
        ],  # fmt: skip
        "batch_statistics": [
            batch_statistics(mesh, dense, p_dense, X, y),
            batch_statistics(mesh, cnn, p_cnn, images, labels),
        ],
    }
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1])
