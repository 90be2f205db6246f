"""Shared helpers for the benchmark contenders: arguments, data, timing, FLOPs, result output.

Every contender is a module run in its own process (``python -m benchmarks.contenders.NAME``)
that prints exactly one JSON object on its last stdout line (:func:`emit`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO.parent / "shared" / "data" / "mnist"

# Workload sizes: (full, --quick).
MNIST_M = {"full": None, "quick": 1000}  # None: all 60000 (468 batches of 128 + one of 96)
MNIST_TEST_M = {"full": None, "quick": 1000}
MNIST_EPOCHS = {"full": 5, "quick": 1}
BATCH = 128
PLANAR_ITERS = {"full": 10_000, "quick": 100}
PLANAR_LR = 1.2
ENSEMBLE = {"full": 64, "quick": 4}
ENSEMBLE_SCALE = {"full": (256, 1024), "quick": (8,)}  # C's scale check: more models at once
SEQUENTIAL_TIMED = {"full": 4, "quick": 1}  # sequential NumPy/PyTorch runs timed, then extrapolated
RMSPROP = {"learning_rate": 1e-3, "rho": 0.9, "eps": 1e-7}


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="one benchmark contender; prints one JSON line")
    p.add_argument(
        "--workload", required=True, choices=["A", "B", "C", "D", "E", "F", "scaling", "train"]
    )
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke test")
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--backprop", choices=["autodiff", "manual"], default="autodiff")
    p.add_argument(
        "--variant",
        default=None,
        help="C: 'ensemble' or 'single' (jaxnet); 'course', 'batch-first', 'sequential' (jax_scan)",
    )
    p.add_argument("--models", type=int, default=None, help="C: models (default ENSEMBLE)")
    p.add_argument("--m", type=int, default=None, help="scaling: training examples")
    p.add_argument("--width", type=int, default=512, help="scaling: hidden units")
    p.add_argument("--epochs", type=int, default=None, help="scaling: epochs")
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="B, train: JAX's persistent compilation cache folder (empty: cold; filled: warm)",
    )
    a = p.parse_args(argv)
    a.size = "quick" if a.quick else "full"
    return a


# ----------------------------------------------------------------------------- data


def mnist(data_dir: Path, m: int | None = None, m_test: int | None = None):
    """``(X, y, X_test, y_test)``: float32 ``(m, 784)`` in [0, 1] and int32 labels, via jaxnet."""
    import numpy as np

    from jaxnet.datasets import load_mnist

    (X, y), (X_test, y_test) = load_mnist(data_dir)
    X, y, X_test, y_test = X[:m], y[:m], X_test[:m_test], y_test[:m_test]

    def flat(images):
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255)

    return flat(X), y.astype(np.int32), flat(X_test), y_test.astype(np.int32)


def mnist_for(args):
    """The MNIST arrays for workload A at ``args.size``."""
    return mnist(args.data_dir, MNIST_M[args.size], MNIST_TEST_M[args.size])


def flower(seed: int = 0):
    """The course's planar flower: ``X`` float32 ``(400, 2)``, ``y`` int32 ``(400,)``, as NumPy."""
    import jax
    import numpy as np

    from jaxnet.datasets import planar_flower

    X, y = planar_flower(jax.random.key(seed), m=400)
    return np.array(X, np.float32), np.array(y, np.int32)  # writable copies


def batches(perm, batch: int = BATCH):
    """Index slices of a permutation: full batches, then the partial last one (kept)."""
    return [perm[i : i + batch] for i in range(0, len(perm), batch)]


# ----------------------------------------------------------------------------- timing


def now() -> float:
    return time.perf_counter()


def cpu_now() -> float:
    """CPU seconds of this process (all threads): beside wall time on a shared machine."""
    return time.process_time()


def steady(epoch_times: list[float]) -> float:
    """Median of the epochs after the first (the first pays compilation); the only one if 1."""
    rest = epoch_times[1:] or epoch_times
    return statistics.median(rest)


def epoch_result(
    total_s: float, epoch_times: list[float], compile_s: float, test_acc: float, **extra
) -> dict:
    """Workload A's result line: total, per-epoch and steady times, compile time, test accuracy."""
    return {
        "total_s": total_s,
        "epoch_s": epoch_times,
        "steady_epoch_s": steady(epoch_times),
        "compile_s": compile_s,
        "test_acc": test_acc,
        **extra,
    }


def ensemble_size(args) -> int:
    """C: the number of models, ``--models`` or :data:`ENSEMBLE` at the run's size."""
    return args.models or ENSEMBLE[args.size]


def sequential_result(n: int, k: int, measured_s: float, accuracies) -> dict:
    """Workload C for sequential peers: ``k`` of ``n`` runs timed, the total scaled to ``n``."""
    return {
        "n_models": n,
        "timed_models": k,
        "measured_s": measured_s,
        "total_s": measured_s * n / k,
        "extrapolated": k < n,
        "mean_train_acc": float(sum(accuracies) / k),
    }


def time_calls(fn, n: int, *, warmup: int = 3) -> dict:
    """Median/min seconds of ``n`` calls of ``fn()`` (which must block until its result is ready)."""
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(n):
        t0 = now()
        fn()
        ts.append(now() - t0)
    return {"median_s": statistics.median(ts), "min_s": min(ts), "calls": n}


class CompileClock:
    """Seconds JAX spends tracing, lowering and compiling (``jax.monitoring`` events), summed."""

    EVENTS = (
        "/jax/core/compile/jaxpr_trace_duration",
        "/jax/core/compile/jaxpr_to_mlir_module_duration",
        "/jax/core/compile/backend_compile_duration",
    )

    def __init__(self):
        import jax

        self.seconds = 0.0
        self.count = 0
        jax.monitoring.register_event_duration_secs_listener(self._listen)

    def _listen(self, event, duration, **_):
        if event in self.EVENTS:
            self.seconds += duration
            self.count += event == self.EVENTS[-1]


def enable_jax_cache(folder: Path | None) -> None:
    """Turn on JAX's persistent compilation cache in ``folder`` for every program (None: off).

    The plain JAX settings, as a raw-JAX user would write them; jaxnet's contender calls
    ``jn.enable_compilation_cache`` instead, which sets the same options.
    """
    if folder is None:
        return
    import jax

    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)


# ----------------------------------------------------------------------------- FLOPs


def flops_per_example(sizes) -> int:
    """Matmul FLOPs of one training example through dense layers ``sizes``, forward + backward.

    Forward ``Z = A W^T``: 2 n_in n_out per layer. Backward ``dW = dZ^T A``: 2 n_in n_out per
    layer, and ``dA_prev = dZ W``: 2 n_in n_out per layer except the first (no gradient is
    needed for the inputs). Elementwise work (bias, activations, optimiser) is left out.
    """
    pairs = [a * b for a, b in zip(sizes, sizes[1:], strict=False)]
    return 2 * sum(pairs) + 2 * sum(pairs) + 2 * sum(pairs[1:])


# ----------------------------------------------------------------------------- output


def maxrss_mb() -> float:
    """Peak resident memory of this process in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def emit(result: dict) -> None:
    """Print the contender's result as one JSON line (the parent reads the last line)."""
    out = {"status": "ok", "maxrss_mb": round(maxrss_mb(), 1), **result}
    sys.stdout.flush()
    print(json.dumps(out), flush=True)


def missing(library: str, error: BaseException) -> None:
    """Report that a peer library is not installed, then exit 0."""
    emit({"status": "missing", "library": library, "error": f"{type(error).__name__}: {error}"})
    raise SystemExit(0)


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries benchmarked, ``"missing"`` where absent."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": sys.version.split()[0]}
    for name in ("jax", "jaxlib", "numpy", "optax", "torch", "keras", "flax"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    out["KERAS_BACKEND"] = os.environ.get("KERAS_BACKEND", "jax (set by the keras contender)")
    return out
