"""Issue 23, rows 2, 12 and 14: every reader has a bound, every number read from a file is
checked for plausibility, and inputs outside their documented range are refused.

Row 2 runs in ONE subprocess whose address space is capped (``resource.setrlimit``), so a
reader that regressed to reading ``/dev/zero`` whole fails there with a MemoryError instead
of exhausting the machine; a FIFO with no writer would hang it (the timeout catches that).
Each case must be one line naming the file: ``jaxnet: error: ...`` from the command, a
one-line ``ValueError`` from the library.
"""

import json
import math
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest
import safetensors
import safetensors.numpy
from helpers import jaxnet, refused

import jaxnet as jn
from jaxnet import cli
from jaxnet.io import checkpoint
from jaxnet.io.named_tensors import to_tensors

SPARSE = 10 * 2**30  # 10 GiB, holes only: no disk, no memory unless read
MEMORY_CAP = 3 * 2**30  # the worker's address space


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A planar run with batch norm (state to tamper with); its folder is copied per test."""
    run_dir = tmp_path_factory.mktemp("readers") / "run"
    argv = ["train", "--epochs", "3", "--hidden-sizes", "4", "--batch-norm", "--quiet", "--out"]
    assert cli.main([*argv, str(run_dir)]) == 0
    return run_dir


@pytest.fixture
def copy(run, tmp_path):
    shutil.copytree(run, tmp_path / "copy")
    return tmp_path / "copy"


def _sparse(path: Path, size: int = SPARSE) -> Path:
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _zero(path: Path) -> Path:
    path.symlink_to("/dev/zero")
    return path


def _huge_declared_checkpoint(path: Path, like) -> Path:
    """A checkpoint whose header is valid and declares an 8 GiB array (the file is sparse)."""
    tensors, dtypes = to_tensors(like, "params")
    meta = {"format": checkpoint.FORMAT, "step": 1, "history": "{}", "config": "{}",
            "dtypes": {**dtypes, "opt_state[0]": "float32"}, "sha256": "0" * 64}  # fmt: skip
    header, offset = {}, 0
    for name, array in sorted(tensors.items()):
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + array.nbytes]}  # fmt: skip
        offset += array.nbytes
    header["opt_state[0]"] = {"dtype": "F32", "shape": [2**31],
                              "data_offsets": [offset, offset + 2**33]}  # fmt: skip
    header["__metadata__"] = {"jaxnet": json.dumps(meta)}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in sorted(tensors):
            f.write(np.asarray(tensors[name], np.float32).tobytes())
        f.truncate(8 + len(text) + offset + 2**33)
    return path


WORKER = r"""
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, ({cap}, {cap}))
import contextlib, io
import jax
import jaxnet as jn
from jaxnet import cli
from jaxnet.io import checkpoint
from jaxnet.io.csv import read_table

API = {{
    "read_table": lambda p: read_table(p),
    "load_csv": lambda p: jn.datasets.load_csv(p),
    "read_idx": lambda p: jn.datasets.read_idx(p, 2051),
    "read_metadata": lambda p: checkpoint.read_metadata(p),
    "restore": lambda p: checkpoint.restore(
        p, jax.eval_shape(lambda: ({{"W": jax.numpy.ones((3, 2)), "b": jax.numpy.ones(3)}},))
    ),
}}
results = []
for case in json.loads(sys.argv[1]):
    err = io.StringIO()
    if "cli" in case:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = cli.main(case["cli"])
        results.append({{"code": code, "message": err.getvalue()}})
        continue
    try:
        API[case["api"]](case["path"])
        results.append({{"code": 0, "message": "read it"}})
    except ValueError as e:
        results.append({{"code": "ValueError", "message": str(e)}})
    except BaseException as e:
        results.append({{"code": type(e).__name__, "message": traceback.format_exc()}})
print(json.dumps(results))
"""


def test_no_reader_reads_a_device_a_fifo_or_a_huge_sparse_file(run, tmp_path):
    t = tmp_path
    runs = {}
    for name, file, make in [
        ("config-zero", "config.json", _zero), ("config-fifo", "config.json", _fifo),
        ("config-sparse", "config.json", _sparse), ("metrics-zero", "metrics.json", _zero),
        ("metrics-sparse", "metrics.json", _sparse), ("ckpt-fifo", "checkpoint.safetensors", _fifo),
        ("ckpt-sparse", "checkpoint.safetensors", _sparse),
        ("ckpt-zero", "checkpoint.safetensors", _zero),
    ]:  # fmt: skip
        runs[name] = shutil.copytree(run, t / name)
        (runs[name] / file).unlink()
        make(runs[name] / file)
    like = ({"W": np.ones((3, 2), np.float32), "b": np.ones(3, np.float32)},)
    files = {
        "fifo.csv": _fifo(t / "fifo.csv"),
        "sparse.csv": _sparse(t / "sparse.csv"),
        "zero.csv": _zero(t / "zero.csv"),
        "dir.csv": (t / "dir.csv").mkdir() or t / "dir.csv",
        "fifo.gz": _fifo(t / "images-idx3-ubyte.gz"),
        "sparse.idx": _sparse(t / "images-idx3-ubyte"),
        "fifo.safetensors": _fifo(t / "fifo.safetensors"),
        "huge.safetensors": _huge_declared_checkpoint(t / "huge.safetensors", like),
    }
    cases = [  # (what to run, a name its message must hold)
        *(({"cli": ["predict", str(run), str(files[f])]}, f) for f in
          ("fifo.csv", "sparse.csv", "zero.csv", "dir.csv")),
        ({"cli": ["predict", str(run), "/dev/zero"]}, "/dev/zero"),
        *(({"cli": ["train", "--dataset", str(files[f]), "--out", str(t / f"o{i}"), "--quiet"]}, f)
          for i, f in enumerate(("fifo.csv", "sparse.csv"))),
        ({"cli": ["train", "--dataset", str(files["zero.csv"]), "--quiet"]}, "/dev/zero"),
        *(({"cli": ["summary", str(runs[n])]}, n) for n in runs),
        *(({"cli": ["evaluate", str(runs[n])]}, n) for n in ("config-fifo", "ckpt-sparse")),
        *(({"cli": ["train", "--resume", str(runs[n])]}, n) for n in ("config-zero", "ckpt-fifo")),
        *(({"api": api, "path": str(files[f])}, files[f].name) for api, f in [
            ("read_table", "fifo.csv"), ("read_table", "sparse.csv"), ("read_table", "zero.csv"),
            ("load_csv", "sparse.csv"), ("read_idx", "fifo.gz"), ("read_idx", "sparse.idx"),
            ("read_metadata", "fifo.safetensors"), ("restore", "fifo.safetensors"),
            ("restore", "huge.safetensors"), ("read_metadata", "sparse.csv"),
        ]),
        ({"api": "read_table", "path": "/dev/zero"}, "/dev/zero"),
    ]  # fmt: skip
    worker = WORKER.format(cap=MEMORY_CAP)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-c", worker, json.dumps([c for c, _ in cases])],
        capture_output=True, text=True, timeout=300, env=env, cwd=t,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert len(results) == len(cases) == 31
    for (case, name), result in zip(cases, results, strict=True):
        message = result["message"]
        assert result["code"] in (2, "ValueError"), (case, message)
        assert "Traceback" not in message and message.strip().count("\n") == 0, (case, message)
        assert name in message, (case, message)
        assert any(w in message for w in ("not a", "more than", "corrupt", "FIFO", "unknown", "wrong",
                                           "character device", "directory")), (case, message)  # fmt: skip
    assert not [p for p in t.iterdir() if p.name.startswith("o")]  # no --out was made


# Row 12: plausibility of every number read from a file ---------------------------------------


def _rewrite_header(file: Path, edit) -> None:
    """Rewrite a checkpoint's jaxnet metadata with ``edit(meta)`` (its arrays untouched)."""
    with safetensors.safe_open(file, framework="numpy") as f:
        meta = json.loads(f.metadata()["jaxnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    edit(meta)
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": json.dumps(meta)})


@pytest.mark.parametrize("step", [10**400, 2**53, -1, 2**63])
def test_an_implausible_checkpoint_step_is_refused_naming_it(step, copy, capsys):
    file = copy / "checkpoint.safetensors"
    _rewrite_header(file, lambda meta: meta.update(step=step))
    with pytest.raises(ValueError, match="'step' must be in 0..") as error:
        checkpoint.read_metadata(file)
    assert "\n" not in str(error.value)
    for command in ("summary", "evaluate"):
        assert "'step'" in refused(capsys, command, copy)
    assert "'step'" in refused(capsys, "train", "--resume", copy, "--epochs", 5)


@pytest.mark.parametrize("step", [2**53, 10**20])
def test_saving_an_implausible_step_is_refused(step, tmp_path):
    with pytest.raises(ValueError, match=r"step must be an int in \[0, 9007199254740991\]"):
        checkpoint.save(tmp_path, [np.ones(2)], step=step)


@pytest.mark.parametrize(
    ("field", "value"),
    [("epochs", 10**400), ("epochs", -1), ("epochs", 2**31), ("accuracy", 5.0),
     ("accuracy", -0.1), ("loss", -1.0), ("loss", "1e999"), ("examples", 2.5),
     ("examples", -3), ("mse", 1.0)],
)  # fmt: skip
def test_implausible_numbers_in_metrics_json(field, value, copy, capsys):
    file = copy / "metrics.json"
    metrics = json.loads(file.read_text())
    if field == "epochs":
        metrics["epochs"] = value
    elif field == "mse":
        metrics["train"] = {k: v for k, v in metrics["train"].items() if k != "accuracy"}
        metrics["train"]["mse"] = -value
    else:
        metrics["train"][field] = value
    text = json.dumps(metrics).replace('"1e999"', "1e999")  # JSON's overflow: infinity
    file.write_text(text)
    err = refused(capsys, "summary", copy)
    assert "metrics.json" in err and repr(field) in err


@pytest.mark.parametrize(
    ("key", "value"),
    [("epochs", 10**400), ("epochs", 2**31), ("batch_size", 10**12), ("hidden_sizes", [10**9]),
     ("hidden_sizes", [4] * 2000), ("limit", 10**30), ("seed", 2**40), ("hidden_sizes", [0])],
)  # fmt: skip
def test_implausible_numbers_in_config_json(key, value, copy, capsys):
    file = copy / "config.json"
    config = json.loads(file.read_text())
    config[key] = value
    file.write_text(json.dumps(config))
    for command in ("summary", "evaluate"):
        err = refused(capsys, command, copy)
        assert "config.json" in err and repr(key) in err


def _resumable(tmp_path):
    net = jn.Sequential([jn.layers.Dense(3, "tanh"), jn.layers.BatchNorm(),
                         jn.layers.Dense(1, "sigmoid")], input_shape=(2,))  # fmt: skip
    X = np.random.default_rng(0).normal(size=(16, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int32)
    params = jn.init(jax.random.key(0), net)
    kw = dict(learning_rate=0.1, verbose=0, key=jax.random.key(1))
    jn.fit(net, params, X, y, epochs=2, checkpoint_dir=tmp_path, **kw)
    return lambda: jn.fit(net, params, X, y, epochs=3, resume_from=tmp_path, **kw)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda m: m["config"].update(steps=2**40), "'steps' must be an int"),
        (lambda m: m["config"].update(steps=-5), "'steps' must be an int"),
        (lambda m: m["config"].update(steps=True), "'steps' must be an int"),
        (lambda m: m["history"]["loss"].__setitem__(0, "0.5"), "'loss' holds '0.5'"),
        (lambda m: m["history"].update(epoch=[1, 7]), "'epoch' is not 1..2"),
    ],
)
def test_implausible_numbers_in_a_fit_checkpoint(edit, needle, tmp_path):
    resume = _resumable(tmp_path)
    _rewrite_header(tmp_path / "checkpoint.safetensors", edit)
    with pytest.raises(ValueError, match=needle):
        resume()


# Row 14: inputs outside their documented range ---------------------------------------------


def _tamper_state(file: Path, key: str, value: float) -> None:
    with safetensors.safe_open(file, framework="numpy") as f:
        meta = json.loads(f.metadata()["jaxnet"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
    name = next(n for n in tensors if n.startswith("params") and n.endswith(f"['{key}']"))
    tensors[name] = tensors[name].copy()
    tensors[name][0] = value
    meta["sha256"] = checkpoint._digest(tensors)
    safetensors.numpy.save_file(tensors, file, metadata={"jaxnet": json.dumps(meta)})


@pytest.mark.parametrize(
    ("key", "value"), [("moving_var", -1.0), ("moving_var", -1e-30), ("moving_var", math.nan),
                       ("moving_mean", math.inf)]
)  # fmt: skip
def test_batch_norm_state_out_of_range_in_a_loaded_checkpoint(key, value, copy, tmp_path, capsys):
    _tamper_state(copy / "checkpoint.safetensors", key, value)
    rows = tmp_path / "in.csv"
    rows.write_text("0.5,1\n")
    for argv in (["evaluate", copy], ["summary", copy], ["predict", copy, rows]):
        err = refused(capsys, *argv)
        assert repr(key) in err and ("must be >= 0" in err or "must be finite" in err)


def test_batch_norm_variance_below_zero_in_a_fit_checkpoint(tmp_path):
    resume = _resumable(tmp_path)
    _tamper_state(tmp_path / "checkpoint.safetensors", "moving_var", -1.0)
    with pytest.raises(ValueError, match=r"\['moving_var'\].*must be >= 0"):
        resume()


@pytest.fixture(scope="module")
def image_run(tmp_path_factory, shared_data):
    """A dense run on MNIST's pixels (first 64 images, one epoch): inputs 0..255."""
    run_dir = tmp_path_factory.mktemp("images") / "run"
    argv = ["train", "--dataset", "mnist", "--data-dir", str(shared_data / "mnist"), "--limit",
            "64", "--hidden-sizes", "8", "--epochs", "1", "--quiet", "--out", str(run_dir)]  # fmt: skip
    assert cli.main(argv) == 0
    return run_dir


@pytest.mark.integration  # `jaxnet train` on MNIST's pixels, once: one worker
@pytest.mark.xdist_group("mnist_image_run")
@pytest.mark.parametrize("pixel", ["1e30", "-1", "256", "255.5", "-1e-9"])
def test_predict_pixels_outside_0_to_255_are_refused(pixel, image_run, tmp_path, capsys):
    row = ["0"] * 784
    row[100] = pixel
    path = tmp_path / "in.csv"
    path.write_text(",".join(["0"] * 784) + "\n" + ",".join(row) + "\n")
    err = refused(capsys, "predict", image_run, path)
    assert "row 2, column 101" in err and "0..255" in err


@pytest.mark.integration  # `jaxnet train` on MNIST's pixels, once: one worker
@pytest.mark.xdist_group("mnist_image_run")
def test_predict_pixels_at_the_ends_of_the_range_are_read(image_run, tmp_path, capsys):
    path = tmp_path / "in.csv"
    path.write_text(",".join(["0"] * 784) + "\n" + ",".join(["255"] * 784) + "\n")
    code, out, err = jaxnet(capsys, "predict", image_run, path)
    assert code == 0, err
    assert len(out.split()) == 2
