"""Data-parallel training: 8 fake CPU devices, and two processes over loopback (subprocesses).

Fake devices must be configured before JAX initialises, so every multi-device run
happens in a fresh Python process (tests/sharded_worker.py, tests/parallel_worker.py).
"""

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from parallel_worker import train_planar

import jaxnet as jn
from jaxnet import parallel
from jaxnet.io import checkpoint

HERE = Path(__file__).parent
TOL = 1e-4  # float32: the sharded all-reduce sums in another order


def _run(args, timeout):
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def sharded(shared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("sharded")
    proc = _run(
        [HERE / "sharded_worker.py", shared_data / "mnist", out / "ckpt", out / "result.json"], 300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "result.json").read_text()), out / "ckpt"


@pytest.mark.integration
@pytest.mark.xdist_group("sharded_worker")
def test_data_is_split_over_eight_devices(sharded):
    result, _ = sharded
    assert result["devices"] == 8
    assert result["data_sharding"] == "P('data',)"
    assert result["shard_shapes"] == [51]  # 402 rows padded to 408 = 8 x 51


@pytest.mark.integration
@pytest.mark.xdist_group("sharded_worker")
@pytest.mark.parametrize("index", range(4))
def test_sharded_fit_equals_single_device(sharded, index):
    run = sharded[0]["runs"][index]
    assert run["params_diff"] < TOL, run
    assert run["loss_diff"] < TOL, run
    assert run["accuracy_diff"] < 1e-6, run
    assert run["params_sharding"] == "P()"  # replicated


@pytest.mark.integration
@pytest.mark.xdist_group("sharded_worker")
@pytest.mark.parametrize("shard", ["models", "data"])
def test_sharded_ensembles_equal_one_device(sharded, shard):
    """fit_ensemble on 8 devices: 3 models padded to 8 and split, or the rows split."""
    assert sharded[0]["ensembles"][shard] < TOL, sharded[0]["ensembles"]


@pytest.mark.integration
@pytest.mark.xdist_group("sharded_worker")
@pytest.mark.parametrize("index", [1, 2, 3])
def test_sharded_minibatch_fit_compiles_once(sharded, index):
    """A second, longer sharded fit of the same configuration reuses the compiled epoch."""
    assert sharded[0]["runs"][index]["new_traces"] == 1


@pytest.mark.integration
@pytest.mark.xdist_group("sharded_worker")
def test_sharded_checkpoint_restores_on_one_device(sharded):
    result, ckpt_dir = sharded
    net = jn.Network((2, 4, 1), hidden_activation="tanh", output_activation="sigmoid")
    like = jn.init(jax.random.key(2), net, scheme="normal")
    restored = checkpoint.restore(ckpt_dir, like=like)
    assert len(jax.devices()) == 1
    for layer, want in zip(restored.params, result["checkpointed"]["params"], strict=True):
        for name in ("W", "b"):
            np.testing.assert_array_equal(
                np.asarray(layer[name]), np.asarray(want[name], np.float32)
            )
    assert restored.history["loss"] == result["checkpointed"]["history"]["loss"]
    assert restored.step == 3


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(tmp_path, crash=False):
    port = _free_port()
    extra = ["crash"] if crash else []
    return [
        subprocess.Popen(
            [
                sys.executable,
                HERE / "parallel_worker.py",
                str(i),
                "2",
                str(port),
                tmp_path / f"p{i}.json",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]


@pytest.mark.integration
def test_two_processes_equal_one(tmp_path):
    procs = _launch(tmp_path)
    for p in procs:
        out, _ = p.communicate(timeout=240)
        assert p.returncode == 0, out[-3000:]
    results = [json.loads((tmp_path / f"p{i}.json").read_text()) for i in range(2)]
    assert results[0]["devices"] == 4
    params, history = train_planar()  # one process, one device
    for result in results:
        for got, want in zip(result["params"], params, strict=True):
            for name in ("W", "b"):
                np.testing.assert_allclose(np.asarray(got[name]), np.asarray(want[name]), atol=TOL)
        np.testing.assert_allclose(result["history"]["loss"], history["loss"], atol=TOL)


@pytest.mark.integration
def test_a_failed_process_stops_the_other(tmp_path):
    """Process 1 dies after joining; process 0 must exit with an error, not hang."""
    tic = time.perf_counter()
    procs = _launch(tmp_path, crash=True)
    codes = [p.wait(timeout=120) for p in procs]
    for p in procs:
        p.stdout.close()
    assert codes[1] == 3
    assert codes[0] != 0
    assert time.perf_counter() - tic < 120
    assert not (tmp_path / "p0.json").exists()


def test_data_mesh_and_padding_helpers():
    mesh = parallel.data_mesh()
    assert mesh.axis_names == ("data",) and mesh.size == len(jax.devices())
    assert parallel.padded_size(402, 8) == 408 and parallel.padded_size(400, 8) == 400
    with pytest.raises(ValueError, match="devices"):
        parallel.data_mesh([])
