"""``jaxnet train`` (the planar default) as a user types it: the whole command's wall time.

The command runs in a fresh process of its own (``python -m jaxnet train --quiet``, a temporary
run directory), with ``JAXNET_COMPILATION_CACHE`` set to ``--cache-dir`` (an empty folder:
cold; one a first command filled: warm) or to ``off`` without it. Reported: the command's
wall time, the training time it wrote to ``metrics.json``, and the rest (imports, data,
compiles outside training, evaluation, plots, files).
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import common


def workload_train(args) -> dict:
    with tempfile.TemporaryDirectory(prefix="jaxnet-bench-train-") as tmp:
        run_dir = Path(tmp) / "run"
        cmd = [sys.executable, "-m", "jaxnet", "train", "--quiet", "--out", str(run_dir)]
        if args.quick:
            cmd += ["--epochs", str(common.PLANAR_ITERS["quick"])]
        cache = "off" if args.cache_dir is None else str(args.cache_dir)
        env = {**os.environ, "JAXNET_COMPILATION_CACHE": cache}
        t0 = common.now()
        p = subprocess.run(cmd, cwd=common.REPO, env=env, capture_output=True, text=True)
        wall = common.now() - t0
        if p.returncode != 0:
            raise SystemExit(f"jaxnet train failed (exit {p.returncode}): {p.stderr[-2000:]}")
        metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "wall_s": wall,
        "train_s": metrics["wall_time_s"],
        "other_s": wall - metrics["wall_time_s"],
        "epochs": metrics["epochs"],
        "train_acc": metrics["train"]["accuracy"],
        "val_acc": metrics["validation"]["accuracy"],
        "cache_entries": 0 if args.cache_dir is None else len(list(args.cache_dir.iterdir())),
    }


if __name__ == "__main__":
    args = common.parse_args()
    if args.workload != "train":
        raise SystemExit(f"cli runs the train workload only, not {args.workload}")
    common.emit(workload_train(args))
