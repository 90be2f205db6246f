"""Own models (jn.Model) sharded over 8 fake CPU devices vs one device (run by test_own_model.py).

Usage: python sharded_model_worker.py OUT_JSON
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
from own_models import BN_DROPOUT, MLP  # noqa: E402

import jaxnet as jn  # noqa: E402
from jaxnet import parallel  # noqa: E402
from jaxnet.datasets import planar_flower  # noqa: E402

lowering_context.install()  # one MLIR context, as in the test processes (tests/conftest.py)


def max_difference(a, b) -> float:
    return max(
        float(np.abs(np.asarray(x) - np.asarray(y)).max())
        for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


def compare(name, fit, model, params, X, y, mesh, **kw):
    """``fit`` on one device and on the mesh: the largest differences of params and losses."""
    single, h1 = fit(model, params, X, y, verbose=0, **kw)
    sharded, h8 = fit(model, params, X, y, verbose=0, mesh=mesh, **kw)
    h1, h8 = (h if isinstance(h, list) else [h] for h in (h1, h8))
    return {
        "name": name,
        "params_diff": max_difference(single, sharded),
        "loss_diff": max(
            float(np.abs(np.array(a["loss"]) - np.array(b["loss"])).max()) for a, b in zip(h1, h8)
        ),
        "params_sharding": str(jax.tree.leaves(sharded)[0].sharding.spec),
    }


def main(out):
    mesh = parallel.data_mesh()
    X, y = planar_flower(jax.random.key(1), m=402)  # 402 rows: not a multiple of 8
    p0 = MLP.init(jax.random.key(2))
    key = jax.random.key(0)
    runs = [
        compare("mlp full batch", jn.fit, MLP, p0, X, y, mesh, learning_rate=1.0, epochs=20),
        compare(
            "mlp batch 100",
            jn.fit,
            MLP,
            p0,
            X,
            y,
            mesh,
            optimizer="adam",
            epochs=3,
            batch_size=100,
            key=key,
        ),  # fmt: skip
        compare(
            "mlp ensemble",
            jn.fit_ensemble,
            MLP,
            jax.vmap(MLP.init)(jax.random.split(key, 3)),
            X,
            y,
            mesh,
            optimizer="adam",
            epochs=2,
            batch_size=60,
            keys=jax.random.split(key, 3),
        ),  # fmt: skip
        # batch statistics: batches that divide the rows and the devices (no padding rows);
        # SGD: under Adam the bias before the batch norm follows rounding noise (test_interop.py)
        compare(
            "bn + dropout batch 80",
            jn.fit,
            BN_DROPOUT,
            BN_DROPOUT.init(key),
            X[:400],
            y[:400],
            mesh,
            learning_rate=0.5,
            epochs=3,
            batch_size=80,
            key=key,
        ),  # fmt: skip
    ]
    with open(out, "w") as f:
        json.dump({"devices": mesh.size, "runs": runs}, f)


if __name__ == "__main__":
    main(sys.argv[1])
