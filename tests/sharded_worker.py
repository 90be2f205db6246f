"""Sharded vs single-device training on 8 fake CPU devices (run by test_parallel.py in a subprocess).

Usage: python sharded_worker.py MNIST_DIR CHECKPOINT_DIR OUT_JSON
"""

import json
import os
import sys
import time

os.environ["XLA_FLAGS"] = (
    f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=8".strip()
)

import jax  # noqa: E402
import lowering_context  # noqa: E402
import numpy as np  # noqa: E402
from helpers import count_compiles  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet import parallel  # noqa: E402
from jaxnet.datasets import flatten_images, load_mnist, planar_flower, scale  # noqa: E402

lowering_context.install()  # one MLIR context, as in the test processes (tests/conftest.py)


def max_difference(a, b) -> float:
    return max(
        float(np.abs(np.asarray(x) - np.asarray(y)).max())
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b))
    )


def compare(name, net, params, X, Y, mesh, **kw):
    """Fit on one device and on the mesh; report differences, shardings, traces and times."""
    single, h1 = jn.fit(net, params, X, Y, verbose=0, **kw)
    with count_compiles() as compiles:
        tic = time.perf_counter()
        sharded, h8 = jn.fit(net, params, X, Y, verbose=0, mesh=mesh, **kw)
        seconds = time.perf_counter() - tic
        jn.fit(net, params, X, Y, verbose=0, mesh=mesh, **{**kw, "epochs": kw["epochs"] + 2})
    return {
        "name": name,
        "params_diff": max_difference(single, sharded),
        "loss_diff": float(np.abs(np.array(h1["loss"]) - np.array(h8["loss"])).max()),
        "accuracy_diff": float(np.abs(np.array(h1["accuracy"]) - np.array(h8["accuracy"])).max()),
        "params_sharding": str(sharded[0]["W"].sharding.spec),
        "new_traces": compiles["jit(run_chunk)"],
        "epoch_time_single": float(np.median(h1["time"][1:] or h1["time"])),
        "epoch_time_sharded": float(np.median(h8["time"][1:] or h8["time"])),
        "seconds": seconds,
    }


def ensembles(mesh, net, X, y) -> dict:
    """3 models (not a multiple of 8: shard="models" pads them) on the mesh, split by models and
    by data, against the same models on one device; the largest difference of each."""
    stacked = jn.init_ensemble(jax.random.split(jax.random.key(4), 3), net)
    kw = dict(learning_rate=np.array([0.3, 0.6, 1.2], np.float32), epochs=20, verbose=0)
    single, _ = jn.fit_ensemble(net, stacked, X, y, **kw)
    result = {}
    for shard in ("models", "data"):
        sharded, histories = jn.fit_ensemble(net, stacked, X, y, mesh=mesh, shard=shard, **kw)
        assert jax.tree.leaves(sharded)[0].shape[0] == len(histories) == 3
        result[shard] = max_difference(single, sharded)
    return result


def main(mnist_dir, checkpoint_dir, out):
    mesh = parallel.data_mesh()
    results = {"devices": mesh.size}
    X, y = planar_flower(jax.random.key(1), m=402)  # 402 rows: not a multiple of 8
    X_rows, _, _ = parallel.shard_rows(mesh, X, y[:, None].astype(X.dtype))
    results["data_sharding"] = str(X_rows.sharding.spec)
    results["shard_shapes"] = sorted({s.data.shape[0] for s in X_rows.addressable_shards})
    planar = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    p0 = jn.init(jax.random.key(2), planar, scheme="normal")
    key = jax.random.key(0)
    runs = [
        compare("planar full batch", planar, p0, X, y, mesh, learning_rate=1.2, epochs=100),
        compare(
            "planar batch 100",
            planar,
            p0,
            X,
            y,
            mesh,
            learning_rate=0.5,
            epochs=4,
            batch_size=100,
            key=key,
        ),
    ]
    results["ensembles"] = ensembles(mesh, planar, X, y)
    (Xm, ym), _ = load_mnist(mnist_dir)
    Xm, ym = scale(flatten_images(Xm[:1000])), ym[:1000]
    # tanh, not relu: with relu, RMSprop turns a last-bit difference in the pre-activation of a
    # nearly dead unit into learning-rate-sized steps (g / sqrt(v) ~ +-1), so two equal but
    # differently rounded programs part by 6e-3 (measured under another code generation, where
    # SGD, Adam and tanh stay within 2e-7). The comparison tests the sharding, not that chaos.
    mnist = jn.Network((784, 64, 10), hidden_activation="tanh", output_activation="softmax")
    pm = jn.init(jax.random.key(3), mnist)
    for batch_size in (100, 60):  # 60: batches do not divide by 8 either
        runs.append(
            compare(f"mnist 1000, batch {batch_size}", mnist, pm, Xm, ym, mesh, optimizer="rmsprop",
                    epochs=2, batch_size=batch_size, key=key)
        )  # fmt: skip
    results["runs"] = runs
    params, history = jn.fit(
        planar,
        p0,
        X,
        y,
        learning_rate=0.5,
        epochs=3,
        batch_size=64,
        key=key,
        verbose=0,
        mesh=mesh,
        checkpoint_dir=checkpoint_dir,
    )
    results["checkpointed"] = {
        "params": jax.tree.map(lambda a: np.asarray(a).tolist(), params),
        "history": history,
    }
    with open(out, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
