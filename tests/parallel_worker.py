"""One process of a multi-process data-parallel run (launched by test_parallel.py).

Usage: python parallel_worker.py PROCESS_ID NUM_PROCESSES PORT OUT_JSON [crash]
Each process fakes 2 CPU devices; the processes talk over 127.0.0.1 with gloo.
"""

import json
import os
import sys

import jax
import lowering_context

import jaxnet as jn
from jaxnet import parallel
from jaxnet.datasets import planar_flower

lowering_context.install()  # one MLIR context, as in the test processes (tests/conftest.py)


def train_planar(mesh=None):
    """The run both sides compare: planar flower, batches of 50 (not a multiple of 4 devices)."""
    X, y = planar_flower(jax.random.key(1), m=402)
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    params = jn.init(jax.random.key(2), net, scheme="normal")
    return jn.fit(net, params, X, y, learning_rate=0.5, epochs=4, batch_size=50,
                  key=jax.random.key(0), verbose=0, mesh=mesh)  # fmt: skip


def main(process_id: int, num_processes: int, port: int, out: str, crash: bool) -> None:
    # a process that dies is noticed after the heartbeat timeout: 2 s where one is made to die
    heartbeat = 2 if crash else 5
    parallel.initialize(
        f"127.0.0.1:{port}", num_processes, process_id, heartbeat_timeout_seconds=heartbeat
    )
    if crash and process_id == 1:
        os._exit(3)  # dies without a word: the other process must not hang
    mesh = parallel.data_mesh()
    params, history = train_planar(mesh)
    result = {
        "devices": len(mesh.devices.ravel()),
        "params": jax.tree.map(lambda a: a.tolist(), parallel.to_host(params)),
        "history": history,
    }
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    # before JAX starts its backends: 2 virtual CPU devices per process, gloo collectives
    os.environ["XLA_FLAGS"] = (
        f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2".strip()
    )
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    pid, nproc, port, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    main(pid, nproc, port, out, crash=len(sys.argv) > 5 and sys.argv[5] == "crash")
