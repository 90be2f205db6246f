"""The accelerator check: jaxnet's fast tests and workloads A, C, E and F on a GPU, in minutes.

    PYTHONPATH=. python scripts/gpu_check.py [--platform gpu] [--precision highest]
    PYTHONPATH=. python scripts/gpu_check.py --platform cpu --smoke      # a CI smoke test

Needs only jax (with CUDA for a GPU), optax, chex, numpy, and optionally torch and pytest;
jaxnet and benchmarks/ come from this checkout (no install). Steps:

1. the fast tests (`pytest -m "not slow"`) on the chosen backend, without the tests that
   need fake CPU devices or run the CPU benchmark (skipped with --smoke or --no-tests);
2. workload A (MNIST 784-512-10, RMSprop 1e-3, batch 128, 5 epochs) and a wide variant
   (784-4096-4096-10, batch 1024) trained by jaxnet (`jn.fit`), raw JAX (an epoch is one
   jitted `lax.scan`, as benchmarks/contenders/jax_scan.py) and PyTorch when importable;
   MNIST from --data-dir, `$JAXNET_SHARED_DATA/mnist` or ../shared/data/mnist, else random
   data of the same shape;
3. workload E (the MNIST CNN of benchmarks/cnn.py, Adam, batch 128, 2 epochs) by jaxnet
   with the hand-derived backward and with `jax.grad` (through the conv and pooling custom
   VJPs), and PyTorch; and the `dW` form jaxnet's convolution lowers to on this platform
   (matrix products on CPU, one convolution on GPU), with both forms timed
   (scripts/gpu_workloads.py);
4. workload F (the character-level LSTM language model of benchmarks/lstm_lm.py: embedding
   32, LSTM 128, dense per step, Adam, batch 128, 4 epochs on the dinosaur names beside
   the MNIST folder, else random ids) by jaxnet hand-derived and autodiff, and PyTorch;
5. workload C: 64 planar 2-4-1 models, 10,000 full-batch GD iterations, `jn.fit_ensemble`
   against the plain raw-JAX `vmap` (course layout, `jax.grad`, `fori_loop`);
6. steps/s and achieved TFLOP/s (matrix-product and convolution FLOPs over the steady
   epochs 2..N: benchmarks/common.flops_per_example, benchmarks/cnn.flops_per_example,
   benchmarks/lstm_lm.flops_per_example)
   against the card's peak for the matmul precision used; for C, model-iterations per second.

Precision is an explicit choice (`--precision`): `highest` (the default: true float32
products, the same numbers as on a CPU; peak = the card's FP32 rate), `tensorfloat32`
(TF32 tensor cores, 10-bit mantissa inputs; peak = dense TF32 rate), or `default`
(each library's own default: XLA uses TF32 on NVIDIA GPUs, PyTorch float32).
jax_default_matmul_precision is set for JAX and torch.set_float32_matmul_precision for
PyTorch. The last stdout line is one JSON summary; a table precedes it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_workloads  # noqa: E402

# Dense peaks in TFLOP/s (vendor data sheets, no sparsity), by a name in jax's device_kind.
PEAKS = {
    "H100 PCIe": {"fp32": 51.0, "tf32": 378.0},
    "H100": {"fp32": 67.0, "tf32": 495.0},  # SXM (device_kind "NVIDIA H100 80GB HBM3")
    "H200": {"fp32": 67.0, "tf32": 495.0},
    "A100": {"fp32": 19.5, "tf32": 156.0},
}
PRECISIONS = {  # --precision -> (jax_default_matmul_precision, torch matmul precision, peak)
    "highest": ("highest", "highest", "fp32"),
    "tensorfloat32": ("tensorfloat32", "high", "tf32"),
    "default": (None, None, None),
}
# Tests that need several (fake CPU) devices or time the CPU benchmark harness.
NOT_ON_ACCELERATOR = (
    "tests/test_parallel.py",
    "tests/test_cli_devices.py",
    "tests/test_benchmarks.py",
    "tests/test_gpu_check.py",
)
WORKLOADS = {  # name -> (layer sizes, batch, epochs); --smoke shrinks them
    "A": ((784, 512, 10), 128, 5),
    "wide": ((784, 4096, 4096, 10), 1024, 5),
}
SMOKE = {"A": ((784, 32, 10), 32, 2), "wide": ((784, 64, 64, 10), 64, 2)}
SMOKE_M = 256
CNN = {"batch": 128, "epochs": 2, "m": None}  # workload E; None: every MNIST image
SMOKE_CNN = {"batch": 32, "epochs": 2, "m": 64}
SMOKE_LSTM_EPOCHS = 2  # workload F's smoke run: 2 batches of 128 windows
ENSEMBLE = {"models": 64, "iterations": 10_000}  # workload C
SMOKE_ENSEMBLE = {"models": 4, "iterations": 50}
LEARNING_RATE, RHO, EPS = 1e-3, 0.9, 1e-7  # RMSprop, Keras's defaults (benchmarks/README.md)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--platform", default="gpu", help="JAX platform: gpu (CUDA), cpu, ...")
    p.add_argument("--precision", choices=PRECISIONS, default="highest")
    p.add_argument("--smoke", action="store_true", help="tiny sizes, 2 epochs, no tests")
    p.add_argument("--no-tests", action="store_true", help="skip the pytest run")
    p.add_argument("--test-timeout", type=float, default=240.0, help="seconds for pytest")
    p.add_argument("--data-dir", type=Path, default=None, help="folder of the MNIST IDX files")
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


# ----------------------------------------------------------------------------- tests


def run_tests(platform: str, timeout: float) -> dict:
    """The fast tests on ``platform`` in a child process: counts and the summary line."""
    try:
        import pytest  # noqa: F401  (only to know whether the tests can run)
    except ImportError:
        return {"status": "skipped", "reason": "pytest is not installed"}
    env = {**os.environ, "JAX_PLATFORMS": _jax_platform(platform), "PYTHONPATH": str(REPO)}
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    ignores = [f"--ignore={t}" for t in NOT_ON_ACCELERATOR]
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider"]
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [*cmd, *ignores, "tests"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": timeout}
    lines = [ln for ln in p.stdout.strip().splitlines() if ln.strip()]
    summary = lines[-1].strip("= ") if lines else p.stderr.strip()[-300:]
    counts = {k: _count(summary, k) for k in ("passed", "failed", "error", "skipped")}
    failures = [ln[7:] for ln in lines if ln.startswith(("FAILED ", "ERROR "))][:20]
    status = "passed" if p.returncode == 0 else "failed"
    seconds = round(time.perf_counter() - t0, 1)
    return {
        "status": status,
        **counts,
        "seconds": seconds,
        "summary": summary,
        "failures": failures,
    }


def _count(summary: str, word: str) -> int:
    for part in summary.split(","):
        tokens = part.split()
        if len(tokens) >= 2 and tokens[1].startswith(word) and tokens[0].isdigit():
            return int(tokens[0])
    return 0


def _jax_platform(platform: str) -> str:
    return "cuda" if platform == "gpu" else platform


# ----------------------------------------------------------------------------- data


def mnist(data_dir: Path | None, m: int | None, seed: int):
    """``(X, y, X_test, y_test, source)``: float32 (m, 784) in [0, 1], int32 labels."""
    import numpy as np

    folder = (
        data_dir
        or Path(os.environ.get("JAXNET_SHARED_DATA", REPO.parent / "shared" / "data")) / "mnist"
    )
    if m is None:
        try:
            from jaxnet.datasets import load_mnist

            (X, y), (X_test, y_test) = load_mnist(folder)
            flat = lambda a: a.reshape(len(a), -1).astype(np.float32) / np.float32(255)  # noqa: E731
            return flat(X), y.astype(np.int32), flat(X_test), y_test.astype(np.int32), "mnist"
        except FileNotFoundError:
            m = 60_000
    rng = np.random.default_rng(seed)
    X = rng.random((m + m // 6, 784), dtype=np.float32)
    y = rng.integers(0, 10, m + m // 6).astype(np.int32)
    return X[:m], y[:m], X[m:], y[m:], "synthetic"


# ----------------------------------------------------------------------------- contenders


def train_jaxnet(sizes, batch, epochs, data, seed):
    import jax

    import jaxnet as jn

    X, y, X_test, y_test = data
    net = jn.Network(sizes, hidden_activation="relu", output_activation="softmax")
    k_init, k_fit = jax.random.split(jax.random.key(seed))
    t0 = time.perf_counter()
    params = jn.init(k_init, net, scheme="he")
    params, history = jn.fit(
        net,
        params,
        X,
        y,
        optimizer="rmsprop",
        learning_rate=LEARNING_RATE,
        epochs=epochs,
        batch_size=batch,
        key=k_fit,
        verbose=0,
    )
    jax.block_until_ready(params)
    total = time.perf_counter() - t0
    acc = float(jn.evaluate(net, params, X_test, y_test)["accuracy"])
    return total, list(history["time"]), acc


def train_jax_scan(sizes, batch, epochs, data, seed):
    import jax
    import jax.numpy as jnp
    import optax

    X, y, X_test, y_test = (jax.device_put(a) for a in data)
    tx = optax.rmsprop(LEARNING_RATE, decay=RHO, eps=EPS)

    def logits(params, x):
        for layer in params[:-1]:
            x = jax.nn.relu(x @ layer["W"].T + layer["b"])
        return x @ params[-1]["W"].T + params[-1]["b"]

    def step(state, xb, yb):
        params, opt_state = state
        loss_fn = lambda p: optax.softmax_cross_entropy_with_integer_labels(  # noqa: E731
            logits(p, xb), yb
        ).mean()
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss

    @jax.jit
    def epoch(state, X, y, key):
        def body(state, idx):  # the batch is gathered inside the scan: no shuffled copy
            return step(state, X[idx], y[idx])

        perm = jax.random.permutation(key, X.shape[0])
        n_full = X.shape[0] // batch * batch
        state, losses = jax.lax.scan(body, state, perm[:n_full].reshape(-1, batch))
        if n_full < X.shape[0]:
            state, _ = body(state, perm[n_full:])
        return state, losses.mean()

    @jax.jit
    def init(key):
        keys = jax.random.split(key, len(sizes) - 1)
        return [
            {"W": jax.random.normal(k, (n, n_in)) * jnp.sqrt(2 / n_in), "b": jnp.zeros(n)}
            for k, n_in, n in zip(keys, sizes, sizes[1:], strict=False)
        ]

    key = jax.random.key(seed)
    t0 = time.perf_counter()
    params = init(key)
    state = (params, tx.init(params))
    times = []
    for e in range(epochs):
        te = time.perf_counter()
        state, loss = epoch(state, X, y, jax.random.fold_in(key, e))
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - te)
    total = time.perf_counter() - t0
    acc = float((jnp.argmax(jax.jit(logits)(state[0], X_test), 1) == y_test).mean())
    return total, times, acc


def train_torch(sizes, batch, epochs, data, seed, device):
    import torch

    torch.manual_seed(seed)
    X, y, X_test, y_test = (torch.as_tensor(a, device=device) for a in data)
    y, y_test = y.long(), y_test.long()
    layers = []
    for n_in, n in zip(sizes, sizes[1:], strict=False):
        layers += [torch.nn.Linear(n_in, n), torch.nn.ReLU()]
    t0 = time.perf_counter()
    model = torch.nn.Sequential(*layers[:-1]).to(device)
    opt = torch.optim.RMSprop(model.parameters(), lr=LEARNING_RATE, alpha=RHO, eps=EPS)
    loss_fn = torch.nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        te = time.perf_counter()
        perm = torch.randperm(len(X), device=device)
        for i in range(0, len(X), batch):
            idx = perm[i : i + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(model(X[idx]), y[idx]).backward()
            opt.step()
        _sync(torch, device)
        times.append(time.perf_counter() - te)
    total = time.perf_counter() - t0
    with torch.no_grad():
        acc = float((model(X_test).argmax(1) == y_test).float().mean())
    return total, times, acc


def _sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


# ----------------------------------------------------------------------------- measuring


def measured(train, flops_per_example: int, batch, m, peak) -> dict:
    """Run ``train()`` -> ``(total_s, epoch_times, test_acc)``; steps/s and TFLOP/s."""
    try:
        total, times, acc = train()
    except ImportError as e:
        return {"status": "missing", "error": f"{type(e).__name__}: {e}"}
    steady = statistics.median(times[1:] or times)
    tflops = flops_per_example * m / steady / 1e12
    return {
        "status": "ok",
        "total_s": round(total, 3),
        "epoch_s": [round(t, 4) for t in times],
        "steady_epoch_s": round(steady, 4),
        "steps_per_s": round(math.ceil(m / batch) / steady, 1),
        "tflops": round(tflops, 3),
        "fraction_of_peak": None if peak is None else round(tflops / peak, 3),
        "test_acc": round(acc, 4),
    }


def peak_for(device_kind: str, precision: str) -> tuple[dict | None, float | None]:
    """(the card's known peaks, the peak for ``precision``), None where unknown."""
    peaks = next((v for name, v in PEAKS.items() if name in device_kind), None)
    kind = PRECISIONS[precision][2]
    return peaks, (peaks or {}).get(kind)


def set_precision(precision: str):
    import jax

    jax_value, torch_value, _ = PRECISIONS[precision]
    if jax_value is not None:
        jax.config.update("jax_default_matmul_precision", jax_value)
    try:
        import torch
    except ImportError:
        return
    if torch_value is not None:
        torch.set_float32_matmul_precision(torch_value)


def workloads(args, device_kind, torch_device) -> dict:
    from benchmarks.common import flops_per_example

    out = {}
    table = SMOKE if args.smoke else WORKLOADS
    _, peak = peak_for(device_kind, args.precision)
    X, y, X_test, y_test, source = mnist(args.data_dir, SMOKE_M if args.smoke else None, args.seed)
    data = (X, y, X_test, y_test)
    for name, (sizes, batch, epochs) in table.items():
        shape = (sizes, batch, epochs, data, args.seed)
        runs = {
            "jaxnet": lambda shape=shape: train_jaxnet(*shape),
            "jax_scan": lambda shape=shape: train_jax_scan(*shape),
            "torch": lambda shape=shape: train_torch(*shape, torch_device),
        }
        flops = flops_per_example(sizes)
        out[name] = {
            "sizes": list(sizes),
            "batch": batch,
            "epochs": epochs,
            "m": len(X),
            "data": source,
            "contenders": {k: measured(fn, flops, batch, len(X), peak) for k, fn in runs.items()},
        }
    out["E"] = cnn_workload(args, data, source, peak, torch_device)
    out["F"] = lstm_workload(args, peak, torch_device)
    out["C"] = ensemble_workload(args)
    return out


def cnn_workload(args, data, source, peak, torch_device) -> dict:
    """Workload E: jaxnet (hand-derived and autodiff) and PyTorch; the ``dW`` form chosen."""
    from benchmarks import cnn

    config = SMOKE_CNN if args.smoke else CNN
    batch, epochs, m = config["batch"], config["epochs"], config["m"]
    data = tuple(a[:m] for a in data)  # the smoke run: the first m of the train and test sets
    shape = (batch, epochs, data, args.seed)
    runs = {
        "jaxnet": lambda: gpu_workloads.train_cnn_jaxnet("manual", *shape),
        "jaxnet_autodiff": lambda: gpu_workloads.train_cnn_jaxnet("autodiff", *shape),
        "torch": lambda: gpu_workloads.train_cnn_torch(*shape, torch_device),
    }
    flops = cnn.flops_per_example()
    m_train = len(data[0])
    return {
        "network": "conv32k3-pool-conv64k3-pool-dense128-dense10, Adam",
        "batch": batch,
        "epochs": epochs,
        "m": m_train,
        "data": source,
        "conv_dW": gpu_workloads.conv_dW_forms(args.smoke),
        "contenders": {k: measured(fn, flops, batch, m_train, peak) for k, fn in runs.items()},
    }


def lstm_workload(args, peak, torch_device) -> dict:
    """Workload F: jaxnet (hand-derived and autodiff) and PyTorch's ``nn.LSTM``."""
    from benchmarks import lstm_lm

    folder = (
        args.data_dir
        or Path(os.environ.get("JAXNET_SHARED_DATA", REPO.parent / "shared" / "data")) / "mnist"
    )
    *data, source = gpu_workloads.lstm_data(folder, args.smoke, args.seed)
    epochs = SMOKE_LSTM_EPOCHS if args.smoke else lstm_lm.EPOCHS["full"]
    shape = (epochs, tuple(data), args.seed)
    runs = {
        "jaxnet": lambda: gpu_workloads.train_lstm_jaxnet("manual", *shape),
        "jaxnet_autodiff": lambda: gpu_workloads.train_lstm_jaxnet("autodiff", *shape),
        "torch": lambda: gpu_workloads.train_lstm_torch(*shape, torch_device),
    }
    flops = lstm_lm.flops_per_example(data[-1])
    m = len(data[0])
    return {
        "network": f"emb{lstm_lm.EMBED}-lstm{lstm_lm.UNITS}-dense{data[-1]} per step, Adam",
        "batch": 128,
        "epochs": epochs,
        "m": m,
        "data": source,
        "contenders": {k: measured(fn, flops, 128, m, peak) for k, fn in runs.items()},
    }


def ensemble_workload(args) -> dict:
    """Workload C: ``jn.fit_ensemble`` against the plain raw-JAX ``vmap``."""
    config = SMOKE_ENSEMBLE if args.smoke else ENSEMBLE
    K, iterations = config["models"], config["iterations"]
    runs = {
        "jaxnet": gpu_workloads.train_ensemble_jaxnet,
        "raw_vmap": gpu_workloads.train_ensemble_raw,
    }
    contenders = {}
    for who, train in runs.items():
        total, rerun, acc = train(K, iterations, args.seed)
        contenders[who] = {
            "status": "ok",
            "total_s": round(total, 3),
            "rerun_s": round(rerun, 3),
            "model_iterations_per_s": round(K * iterations / rerun, 1),
            "mean_train_acc": round(acc, 4),
        }
    contenders["jaxnet"]["rerun_vs_raw_vmap"] = round(
        contenders["jaxnet"]["rerun_s"] / contenders["raw_vmap"]["rerun_s"], 3
    )
    return {"models": K, "iterations": iterations, "contenders": contenders}


def print_table(summary: dict) -> None:
    peak = summary["peak_tflops"]
    print(
        f"{summary['device']} ({summary['platform']}), precision {summary['precision']}, "
        f"peak {peak if peak is not None else 'unknown'} TFLOP/s"
    )
    print(f"tests: {summary['tests'].get('summary', summary['tests']['status'])}")
    print(
        f"{'workload':10} {'contender':9} {'steps/s':>9} {'TFLOP/s':>8} {'of peak':>8} {'acc':>6}"
    )
    for name, w in summary["workloads"].items():
        if name == "C":
            continue
        for who, r in w["contenders"].items():
            if r["status"] != "ok":
                print(f"{name:10} {who:9} {r['status']}")
                continue
            frac = "unknown" if r["fraction_of_peak"] is None else f"{r['fraction_of_peak']:.1%}"
            print(
                f"{name:10} {who:9} {r['steps_per_s']:9.1f} {r['tflops']:8.3f} {frac:>8} "
                f"{r['test_acc']:6.3f}"
            )
    forms = summary["workloads"]["E"]["conv_dW"]
    print(
        f"E's conv dW here: {forms['chosen']} (matmul {forms['matmul_ms']} ms, "
        f"convolution {forms['convolution_ms']} ms)"
    )
    c = summary["workloads"]["C"]
    for who, r in c["contenders"].items():
        print(
            f"C {c['models']} models x {c['iterations']} iterations, {who}: total "
            f"{r['total_s']} s, rerun {r['rerun_s']} s ({r['model_iterations_per_s']:.3g} "
            "model-iterations/s)"
        )


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.perf_counter()
    tests = (
        {"status": "skipped", "reason": "--smoke" if args.smoke else "--no-tests"}
        if args.smoke or args.no_tests
        else run_tests(args.platform, args.test_timeout)
    )
    os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # share the GPU with torch
    os.environ["JAX_PLATFORMS"] = _jax_platform(args.platform)
    import jax

    summary = {"status": "ok", "platform": args.platform, "precision": args.precision}
    try:
        device = jax.devices()[0]
    except RuntimeError as e:  # no such backend: no GPU (or no CUDA jaxlib) here
        summary.update(status="error", error=f"no {args.platform} device: {e}", tests=tests)
        print(json.dumps(summary))
        return 1
    set_precision(args.precision)
    peaks, peak = peak_for(device.device_kind, args.precision)
    summary.update(
        device=device.device_kind,
        backend=jax.default_backend(),
        jax_default_matmul_precision=jax.config.jax_default_matmul_precision,
        peaks_tflops=peaks if peaks is not None else "unknown",
        peak_tflops=peak,
        versions=_versions(),
        tests=tests,
    )
    torch_device = "cuda" if args.platform == "gpu" else "cpu"
    summary["workloads"] = workloads(args, device.device_kind, torch_device)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    if tests["status"] not in ("passed", "skipped"):
        summary["status"] = "tests " + tests["status"]
    print_table(summary)
    print(json.dumps(summary))
    return 0 if summary["status"] == "ok" else 1


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("jax", "jaxlib", "jax-cuda12-plugin", "optax", "numpy", "torch"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


if __name__ == "__main__":
    sys.exit(main())
