"""Run the jaxnet benchmark: every contender in its own process, alternating, several times.

    python benchmarks/run.py [--quick] [--repeats N] [--workloads A,B,C,D,E,F,scaling,train]
                             [--out benchmarks/results] [--data-dir PATH]

Workloads (see README.md): A MNIST 784-512-10 RMSprop, B planar 2-4-1 (cold and warm
compilation cache), C 64 planar models, D hand vs autodiff backprop, E an MNIST CNN (conv,
pool, dense; Adam; 2 epochs), F a character-level LSTM language model on the dinosaur names
(embedding 32, LSTM 128, dense per step; Adam; 4 epochs), scaling (jaxnet in m,
width and epochs), train (the whole ``jaxnet train`` command, cold and warm cache). Each
contender is ``python -m benchmarks.contenders.NAME --workload W ...`` and prints one JSON
line; a peer that is not installed reports ``missing``. The medians (min-max) and ratios
to jaxnet go to stdout and to ``results.json`` / ``results.md`` in ``--out``.

A cold-cache run gets an empty compilation cache folder (one per contender and round, in a
temporary folder of this invocation); the warm-cache run right after it is a second process
with the same folder.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import common, report  # noqa: E402

WORKLOADS = ("A", "B", "C", "D", "E", "F", "scaling", "train")


@dataclass
class Entry:
    """One contender of one workload: a label, the module to run and its extra arguments.

    ``cache``: ``"cold"`` (an empty compilation cache folder) or ``"warm"`` (the folder the
    cold entry just before it filled); None: no persistent cache.
    """

    label: str
    module: str
    args: list[str] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    cache: str | None = None


def contender(name: str, label: str | None = None, *args: str, cache: str | None = None) -> Entry:
    return Entry(label or name, f"benchmarks.contenders.{name}", list(args), cache=cache)


def cache_pair(name: str, label: str) -> list[Entry]:
    """``label (cold cache)`` then ``label (warm cache)``: two processes, one cache folder."""
    return [contender(name, f"{label} ({c} cache)", cache=c) for c in ("cold", "warm")]


def groups(entries: list[Entry]) -> list[list[Entry]]:
    """Entries that run one after the other: a warm-cache entry with its cold one, else alone."""
    out: list[list[Entry]] = []
    for e in entries:
        after_cold = out and out[-1][-1].cache == "cold" and out[-1][-1].module == e.module
        if e.cache == "warm" and after_cold:
            out[-1].append(e)
        else:
            out.append([e])
    return out


SCALING = {  # sweeps in m and width around "base" (m, width, epochs); epochs at "epoch_base"
    "full": {
        "m": [10_000, 20_000, 40_000, 60_000],
        "width": [128, 256, 512, 1024, 2048],
        "epochs": [1, 5, 20],
        "base": (60_000, 512, 4),
        "epoch_base": (10_000, 512),
    },
    "quick": {
        "m": [300, 600],
        "width": [16],
        "epochs": [2],
        "base": (600, 16, 2),
        "epoch_base": (300, 16),
    },
}


def scaling_configs(quick: bool) -> list[tuple[int, int, int]]:
    """``(m, width, epochs)`` of every scaling run, without duplicates."""
    s = SCALING["quick" if quick else "full"]
    m0, w0, e0 = s["base"]
    configs = [(m, w0, e0) for m in s["m"]] + [(m0, w, e0) for w in s["width"]]
    configs += [(*s["epoch_base"], e) for e in s["epochs"]]
    return list(dict.fromkeys(configs))


def ensemble_entries(n: int, checks: bool = True) -> list[Entry]:
    """C's programs that train ``n`` models at once: jaxnet's, and raw JAX's ``vmap(step)`` in a
    ``fori_loop`` (the reference) and (``checks``) in two independent forms (``lax.scan``;
    batch-first) that check the reference's time."""
    models = ("--models", str(n))
    return [
        contender("jaxnet", f"jaxnet fit_ensemble ({n} models)", "--variant", "ensemble", *models),
        contender("jax_scan", f"raw JAX vmap, course layout ({n} models)", "--variant", "course", *models),
    ] + ([
        contender("jax_scan", f"raw JAX vmap, course layout, lax.scan ({n} models)", "--variant", "course-scan", *models),
        contender("jax_scan", f"raw JAX vmap, batch-first ({n} models)", "--variant", "batch-first", *models),
    ] if checks else [])  # fmt: skip


def entries(workload: str, quick: bool) -> list[Entry]:
    size = "quick" if quick else "full"
    n = common.ENSEMBLE[size]
    return {
        "A": [
            contender("jaxnet", "jaxnet (autodiff)", "--backprop", "autodiff"),
            contender("jaxnet", "jaxnet (manual)", "--backprop", "manual"),
            contender("numpy"),
            contender("torch"),
            contender("keras"),
            contender("flax"),
            contender("jax_scan"),
            Entry("floor (matmul rate)", "benchmarks.floor"),
        ],
        "B": [
            *cache_pair("jaxnet", "jaxnet"),
            *cache_pair("jax_scan", "jax_scan"),
            contender("numpy"),
            contender("torch"),
        ],
        "C": [
            *ensemble_entries(n),
            contender("jax_scan", f"raw JAX ({n} sequential runs)", "--variant", "sequential"),
            contender("jaxnet", "jaxnet fit (1 model)", "--variant", "single"),
            contender("numpy", f"numpy ({n} sequential runs)"),
            contender("torch", f"torch ({n} sequential runs)"),
            *(
                e
                for k in common.ENSEMBLE_SCALE[size]
                for e in ensemble_entries(k, checks=not quick)
            ),
        ],
        "D": [
            contender("jaxnet", "manual", "--backprop", "manual"),
            contender("jaxnet", "autodiff", "--backprop", "autodiff"),
        ],
        "E": [
            contender("cnn_jaxnet", "jaxnet (manual)", "--backprop", "manual"),
            contender("cnn_jaxnet", "jaxnet (autodiff)", "--backprop", "autodiff"),
            contender("cnn_keras", "keras"),
            contender("cnn_flax", "flax"),
            contender("cnn_torch", "torch"),
            Entry("floor (conv rate)", "benchmarks.floor_cnn"),
        ],
        "F": [
            contender("lstm_jaxnet", "jaxnet (manual)", "--backprop", "manual"),
            contender("lstm_jaxnet", "jaxnet (autodiff)", "--backprop", "autodiff"),
            contender("lstm_keras", "keras"),
            contender("lstm_flax", "flax"),
            contender("lstm_torch", "torch"),
        ],
        "scaling": [
            contender(
                "jaxnet",
                f"m={m} width={w} epochs={e}",
                "--m",
                str(m),
                "--width",
                str(w),
                "--epochs",
                str(e),
            )
            for m, w, e in scaling_configs(quick)
        ],
        "train": cache_pair("cli", "jaxnet train"),
    }[workload]


def system_cpu() -> tuple[float, float]:
    """``(busy, total)`` CPU seconds of the whole machine since boot (/proc/stat; NaN if unknown)."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]  # user .. steal
    except OSError:
        return math.nan, math.nan
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / hz, sum(v) / hz


def cpu_busy(interval: float = 0.5) -> float:
    """Fraction of the machine's CPUs busy over the next ``interval`` seconds."""
    b0, t0 = system_cpu()
    time.sleep(interval)
    b1, t1 = system_cpu()
    return (b1 - b0) / max(t1 - t0, 1e-9)


def children_cpu() -> float:
    """User + system CPU seconds of all finished child processes so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def wait_quiet(max_wait: float, threshold: float = 0.2) -> float:
    """Wait (up to ``max_wait`` s) until other processes leave the CPUs idle; return busy fraction."""
    deadline = time.monotonic() + max_wait
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(1.0)
    return busy


def last_error(stderr: str) -> str:
    """The exception line of a traceback (JAX appends a note after it), else the last line."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if re.match(r"^[\w.]*(Error|Exception|Exit)\b", ln)]
    return (errors or lines or ["no output"])[-1][:300]


def run_one(entry: Entry, workload: str, args, seed: int, cache_dir: Path | None = None) -> dict:
    cmd = [
        sys.executable,
        "-m",
        entry.module,
        "--workload",
        workload,
        "--seed",
        str(seed),
        "--data-dir",
        str(args.data_dir),
        *entry.args,
    ] + (["--quick"] if args.quick else [])
    if entry.cache is not None:
        if entry.cache == "cold":  # also on a rerun of a contended cold run
            shutil.rmtree(cache_dir, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        cmd += ["--cache-dir", str(cache_dir)]
    busy = wait_quiet(args.quiet_wait) if args.quiet_wait else cpu_busy(0.1)
    t0, cpu0, busy0 = time.perf_counter(), children_cpu(), system_cpu()[0]
    try:
        p = subprocess.run(
            cmd, cwd=common.REPO, capture_output=True, text=True, timeout=args.timeout
        )
    except subprocess.TimeoutExpired:
        return {"status": "error", "error": f"timed out after {args.timeout} s"}
    wall, cpu = time.perf_counter() - t0, children_cpu() - cpu0
    others = max(system_cpu()[0] - busy0 - cpu, 0.0)  # CPU seconds of other processes
    result = None
    for line in reversed(p.stdout.strip().splitlines()):
        try:
            result = json.loads(line)
            break
        except json.JSONDecodeError:
            continue
    if p.returncode != 0 or not isinstance(result, dict):
        result = {
            "status": "error",
            "error": f"exit {p.returncode}: {last_error(p.stderr)}",
            "stderr_tail": p.stderr[-3000:],
        }
    extra = {"process_s": wall, "cpu_busy_before": round(busy, 3), "seed": seed}
    if entry.cache is not None:
        extra["cache"] = entry.cache
    if args.jobs == 1:  # with overlapping children the CPU time cannot be told apart
        extra["process_cpu_s"] = cpu
        extra["others_cpu_frac"] = round(others / (wall * (os.cpu_count() or 1)), 3)
    return {**result, **extra}


def machine() -> dict:
    info = {"cpu": "unknown", "logical_cpus": os.cpu_count()}
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.splitlines()
            if ln.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text().split()
        info["memory_gib"] = round(int(meminfo[meminfo.index("MemTotal:") + 1]) / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
    info["usable_cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    info["platform"] = platform.platform()
    info["load_avg_at_start"] = os.getloadavg()
    git = ["git", "-C", str(common.REPO)]
    try:
        info["git_commit"] = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--", "jaxnet"], capture_output=True, text=True
        ).stdout.strip()
        info["jaxnet_uncommitted_changes"] = bool(dirty)
    except OSError:
        pass
    info["versions"] = common.library_versions()
    return info


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smoke test: tiny sizes, 1 repeat")
    p.add_argument("--repeats", type=int, default=None, help="runs per contender (default 3)")
    p.add_argument("--workloads", default=",".join(WORKLOADS))
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="LABEL",
        help="leave out the contenders whose label starts with LABEL (repeatable)",
    )
    p.add_argument("--out", type=Path, default=common.REPO / "benchmarks" / "results")
    p.add_argument("--data-dir", type=Path, default=common.DEFAULT_DATA_DIR)
    p.add_argument("--timeout", type=float, default=None, help="seconds per process")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="processes at once (default 1; --quick: up to 4; >1 overlaps timings)",
    )
    p.add_argument(
        "--contended",
        type=float,
        default=0.1,
        help="rerun a run in which other processes used more than this fraction of the CPUs",
    )
    p.add_argument("--retries", type=int, default=None, help="reruns of a contended run (2)")
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=None,
        help="wait up to this many s before each run for the CPUs to be idle",
    )
    args = p.parse_args(argv)
    args.repeats = args.repeats or (1 if args.quick else 3)
    args.retries = (0 if args.quick else 2) if args.retries is None else args.retries
    args.jobs = args.jobs or (min(os.cpu_count() or 1, 4) if args.quick else 1)
    args.timeout = args.timeout or (300 if args.quick else 1800)
    args.quiet_wait = (0 if args.quick else 30) if args.quiet_wait is None else args.quiet_wait
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workloads {sorted(unknown)}; choose from {','.join(WORKLOADS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = {
        "machine": machine(),
        "started": started,
        "workloads": {},
        "config": {
            "quick": args.quick,
            "repeats": args.repeats,
            "jobs": args.jobs,
            "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        },
    }
    todo = {
        w: [e for e in entries(w, args.quick) if not e.label.startswith(tuple(args.skip))]
        for w in args.workloads
    }
    # Alternate: A B C, A B C, ... within each workload; --jobs > 1 overlaps runs (smoke tests).
    # A task is a group of entries run in order (a cold-cache run, then its warm-cache run).
    tasks = [(w, r, g) for w in todo for r in range(args.repeats) for g in groups(todo[w])]
    cache_root = Path(tempfile.mkdtemp(prefix="jaxnet-bench-xla-"))

    def run_entry(w, r, e, cache_dir):
        for attempt in range(1, args.retries + 2):
            res = {**run_one(e, w, args, r, cache_dir), "attempts": attempt}
            print(f"[{w} {r + 1}/{args.repeats}] {e.label}: {report.brief(res)}", file=sys.stderr)
            if res.get("others_cpu_frac", 0) <= args.contended:
                break
        return res

    def task(t):
        w, r, group = t
        cache_dir = cache_root / f"{w}-{r}-{group[0].label}".replace(" ", "_")
        return [run_entry(w, r, e, cache_dir) for e in group]

    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for (_, _, group), results_ in zip(tasks, pool.map(task, tasks), strict=True):
                for e, res in zip(group, results_, strict=True):
                    e.runs.append(res)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)
    for w, es in todo.items():
        results["workloads"][w] = [
            {"label": e.label, "module": e.module, "args": e.args, "cache": e.cache, "runs": e.runs}
            for e in es
        ]
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    report.summarise(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    markdown = report.markdown(results)
    (args.out / "results.md").write_text(markdown)
    print(markdown)
    failed = [e["label"] for es in results["workloads"].values() for e in es if e["errors"]]
    if failed:
        print(f"contenders with failed runs: {failed}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
