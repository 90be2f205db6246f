"""``jaxnet train`` with no arguments, the first and second run in a fresh home: wall, CPU, profile.

    python benchmarks/startup.py                   # 5 rounds: the whole command, wall and CPU
    python benchmarks/startup.py --profile         # + where the time goes, per phase and import
    python benchmarks/startup.py --rounds 3 --json out.json

Each round makes a fresh home (``HOME``, no ``XDG_CACHE_HOME``, no ``MPLCONFIGDIR``: empty
compilation and font caches) and a fresh working folder, then runs the command exactly as a
user types it, ``python -m jaxnet train``, twice there: the first run (nothing cached) and the
second (the caches the first one filled). Reported per run: wall seconds (the parent's clock
around the child process) and CPU seconds (user + system of the child, ``RUSAGE_CHILDREN``):
on a shared machine the wall time is inflated by other processes, the CPU time much less.

``--profile`` runs the same command through :func:`child` (``python benchmarks/startup.py
--child``), which times the command's phases in the process itself (imports, data, init,
compiles, training, evaluation, plots, files), then one ``python -X importtime -m jaxnet
train`` per run for the heaviest imports. Phases are wall and CPU seconds; "compile" is the
seconds JAX reports tracing, lowering and compiling within a phase (``jax.monitoring``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMAND = ["-m", "jaxnet", "train"]
COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
# (phase, module, function): the command's steps, timed by wrapping them (those that exist)
PHASES = (
    ("compilation cache on", "jaxnet", "enable_compilation_cache"),
    ("data", "jaxnet.cli.commands", "load_data"),
    ("init", "jaxnet", "init"),
    ("run folder, config.json", "jaxnet.cli.rundir", "write_config"),
    ("training (jn.fit)", "jaxnet", "fit"),
    ("evaluation", "jaxnet.cli.commands", "evaluate_splits"),
    ("history, metrics files", "jaxnet.cli.rundir", "write_results"),
    ("plots", "jaxnet.cli.plots", "write_plots"),
    ("figures started (grid; sent to the figure process)", "jaxnet.cli.plots", "begin"),
    ("figures written (waits for the figure process)", "jaxnet.cli.plots", "end"),
)
IMPORTS = ("jax", "numpy", "optax", "chex", "tqdm", "matplotlib", "jaxnet", "jaxnet.plotting")


def fresh_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home is ``home`` (nothing cached there yet)."""
    env = {k: v for k, v in os.environ.items() if k not in ("XDG_CACHE_HOME", "MPLCONFIGDIR")}
    env.pop("JAXNET_COMPILATION_CACHE", None)
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    )
    return env


def fresh_homes(rounds: int):
    """Yield ``(env, cwd)`` ``rounds`` times: a fresh home's environment and working folder,
    removed when the caller moves on."""
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="jaxnet-startup-") as tmp:
            home, cwd = Path(tmp) / "home", Path(tmp) / "work"
            home.mkdir(), cwd.mkdir()
            yield fresh_env(home), cwd


def run(argv: list[str], env: dict, cwd: Path) -> tuple[float, float, subprocess.CompletedProcess]:
    """Run ``python *argv``: (wall s, CPU s of the child, the completed process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, *argv], env=env, cwd=cwd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed (exit {p.returncode}):\n{p.stderr[-3000:]}")
    return wall, cpu, p


def check_outputs(cwd: Path) -> None:
    """The run folder holds the command's files: config, checkpoint, history, metrics, plots."""
    runs = sorted((cwd / "runs").iterdir())
    expected = {"config.json", "checkpoint.safetensors", "history.json", "history.csv",
                "metrics.json", "learning_curves.png", "decision_boundary.png"}  # fmt: skip
    for folder in runs:
        missing = expected - {p.name for p in folder.iterdir()}
        if missing:
            raise SystemExit(f"{folder} lacks {sorted(missing)}")


def measure(rounds: int) -> dict[str, list[tuple[float, float]]]:
    """``{"first": [(wall, cpu), ...], "second": [...]}`` over ``rounds`` fresh homes."""
    out = {"first": [], "second": []}
    for r, (env, cwd) in enumerate(fresh_homes(rounds)):
        for which in ("first", "second"):
            wall, cpu, _ = run(COMMAND, env, cwd)
            out[which].append((wall, cpu))
            print(f"round {r + 1} {which:6s} run: wall {wall:6.2f} s, CPU {cpu:5.2f} s", flush=True)
        check_outputs(cwd)
    return out


# ----------------------------------------------------------------------------- the profile


def child() -> None:
    """Run ``jaxnet train`` in this process with its phases timed; print them as JSON."""
    phases: list[dict] = []
    compile_s = [0.0]

    def clock():
        return time.perf_counter(), time.process_time(), compile_s[0]

    def record(name, start):
        wall, cpu, comp = clock()
        phases.append({"phase": name, "wall": wall - start[0], "cpu": cpu - start[1],
                       "compile": comp - start[2]})  # fmt: skip

    start = clock()
    import jax  # noqa: F401  (the first import of the command, timed alone)

    record("import jax", start)

    def listen(event, duration, **_):
        if event in COMPILE_EVENTS:
            compile_s[0] += duration

    jax.monitoring.register_event_duration_secs_listener(listen)
    start = clock()
    import jaxnet.cli  # noqa: F401

    record("import jaxnet and its CLI", start)
    import importlib

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                record(name, start)

        return wrapper

    for name, module, attr in PHASES:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, attr):
            setattr(mod, attr, timed(name, getattr(mod, attr)))
    sys.argv = ["jaxnet", "train"]
    start = clock()
    status = jaxnet.cli.main()
    record("the whole command (main)", start)
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # the figure process, if any
    phases.append({"phase": "this process until exit (CPU)", "wall": 0.0,
                   "cpu": own.ru_utime + own.ru_stime, "compile": compile_s[0]})  # fmt: skip
    phases.append({"phase": "figure process (CPU)", "wall": 0.0,
                   "cpu": children.ru_utime + children.ru_stime, "compile": 0.0})  # fmt: skip
    print("\nSTARTUP-PROFILE " + json.dumps(phases), flush=True)
    sys.stdout.flush()
    os._exit(status)  # as the command ends (jaxnet.cli.run)


def import_times(stderr: str, names=IMPORTS) -> dict[str, float]:
    """Cumulative seconds of the modules ``names`` from ``python -X importtime`` output."""
    out = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (x.strip() for x in line[len("import time:") :].split("|"))
        if name in names and name not in out:
            out[name] = int(cumulative) / 1e6
    return out


def profile(rounds: int) -> dict:
    """Per phase and per import, the first and second run's medians over ``rounds`` homes."""
    runs = {"first": [], "second": []}
    imports = {"first": [], "second": []}
    for env, cwd in fresh_homes(rounds):
        for which in ("first", "second"):
            wall, cpu, p = run([str(Path(__file__).resolve()), "--child"], env, cwd)
            line = next(ln for ln in p.stdout.splitlines() if ln.startswith("STARTUP-PROFILE "))
            phases = json.loads(line.split(" ", 1)[1])
            phases.append({"phase": "process", "wall": wall, "cpu": cpu, "compile": 0.0})
            runs[which].append(phases)
    for env, cwd in fresh_homes(rounds):
        for which in ("first", "second"):
            _, _, p = run(["-X", "importtime", *COMMAND], env, cwd)
            imports[which].append(import_times(p.stderr))
    return {"phases": runs, "imports": imports}


def phase_table(runs: dict) -> str:
    """Markdown: each phase's median wall / CPU / compile seconds, first and second run."""

    def medians(which):
        table: dict[str, dict[str, list[float]]] = {}
        for phases in runs[which]:
            seen: dict[str, dict[str, float]] = {}
            for ph in phases:  # a phase that ran twice (two evaluations) is summed
                acc = seen.setdefault(ph["phase"], {"wall": 0.0, "cpu": 0.0, "compile": 0.0})
                for k in acc:
                    acc[k] += ph[k]
            for name, v in seen.items():
                for k, x in v.items():
                    table.setdefault(name, {}).setdefault(k, []).append(x)
        return {n: {k: statistics.median(v) for k, v in d.items()} for n, d in table.items()}

    first, second = medians("first"), medians("second")
    order = ["process", "this process until exit (CPU)", "figure process (CPU)",
             "the whole command (main)", "import jax", "import jaxnet and its CLI",
             *(p for p, _, _ in PHASES)]  # fmt: skip
    rows = ["| phase | first: wall s | CPU s | compile s | second: wall s | CPU s | compile s |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for name in order:
        if name not in first:
            continue
        f, s = first[name], second.get(name, {})
        cells = [f"{f['wall']:.2f}", f"{f['cpu']:.2f}", f"{f['compile']:.2f}"]
        cells += [f"{s[k]:.2f}" if k in s else "" for k in ("wall", "cpu", "compile")]
        label = {"process": "whole process (parent's clock)"}.get(name, name)
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def import_table(imports: dict) -> str:
    rows = ["| module (cumulative, `-X importtime`, wall) | first run s | second run s |",
            "|---|---|---|"]  # fmt: skip
    for name in IMPORTS:
        cells = []
        for which in ("first", "second"):
            values = [d[name] for d in imports[which] if name in d]
            cells.append(f"{statistics.median(values):.2f}" if values else "not imported")
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def summary(results: dict) -> str:
    rows = ["| run | wall s median (min-max) | CPU s median (min-max) |", "|---|---|---|"]
    for which in ("first", "second"):
        walls = [w for w, _ in results[which]]
        cpus = [c for _, c in results[which]]
        rows.append(
            f"| {which} run | {statistics.median(walls):.2f} ({min(walls):.2f}-{max(walls):.2f}) "
            f"| {statistics.median(cpus):.2f} ({min(cpus):.2f}-{max(cpus):.2f}) |"
        )
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=5, help="fresh homes (default 5)")
    p.add_argument("--profile", action="store_true", help="also time the phases and imports")
    p.add_argument("--profile-rounds", type=int, default=3, help="fresh homes for --profile")
    p.add_argument("--json", type=Path, help="write the raw numbers here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        child()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{sys.executable} {' '.join(COMMAND)}; load average {load:.1f}, {os.cpu_count()} CPUs")
    results = {"measure": measure(args.rounds) if args.rounds else None}
    if results["measure"]:
        print("\n" + summary(results["measure"]))
    if args.profile:
        results["profile"] = profile(args.profile_rounds)
        print("\n" + phase_table(results["profile"]["phases"]))
        print("\n" + import_table(results["profile"]["imports"]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
