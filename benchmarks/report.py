"""Summaries of the benchmark runs: medians (min-max), ratios to jaxnet, targets, Markdown tables."""

from __future__ import annotations

import math
import statistics

import numpy as np

from benchmarks import common

REFERENCE = {
    "A": "jaxnet (autodiff)",
    "B": "jaxnet (cold cache)",
    "C": "jaxnet fit_ensemble",
    "E": "jaxnet (manual)",
    "F": "jaxnet (manual)",
    "train": "jaxnet train (cold cache)",
}
TRAIN_TARGETS = {"cold": 2.0, "warm": 1.5}  # seconds of `jaxnet train`, the whole command
D_NETS = ("mnist 784-512-10", "deep 10x64")


def brief(res: dict) -> str:
    """A one-line progress note for stderr."""
    if res.get("status") != "ok":
        return f"{res.get('status')}: {res.get('error', '')[:200]}"
    keys = (
        "total_s",
        "wall_s",
        "steady_epoch_s",
        "run_s",
        "test_acc",
        "floor_epoch_s",
        "median_s",
        "others_cpu_frac",
    )
    shown = [f"{k}={v:.4g}" for k, v in _numbers(res).items() if k.endswith(keys)]
    return f"ok ({', '.join(shown)}; process {res['process_s']:.1f} s)"


def _numbers(res: dict, prefix: str = "") -> dict[str, float]:
    out = {}
    for k, v in res.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}/"))
        elif isinstance(v, int | float) and not isinstance(v, bool):
            out[prefix + k] = float(v)
    return out


def summarise(results: dict) -> None:
    """Add ``status``, ``stats`` (median/min/max per metric) to every entry; add targets, fits."""
    for entries in results["workloads"].values():
        for e in entries:
            ok = [r for r in e["runs"] if r.get("status") == "ok"]
            statuses = {r.get("status") for r in e["runs"]}
            e["status"] = "ok" if ok else "missing" if "missing" in statuses else "error"
            e["errors"] = [r["error"] for r in e["runs"] if r.get("status") == "error"]
            values: dict[str, list[float]] = {}
            for r in ok:
                for k, v in _numbers(r).items():
                    values.setdefault(k, []).append(v)
            e["stats"] = {
                k: {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}
                for k, v in values.items()
            }
    results["fits"] = scaling_fits(results["workloads"].get("scaling", []))
    results["targets"] = targets(results)


def med(entries, label: str, metric: str) -> float:
    """The median of ``metric`` for the entry whose label starts with ``label`` (NaN if none)."""
    for e in entries:
        if e["label"].startswith(label) and metric in e.get("stats", {}):
            return e["stats"][metric]["median"]
    return math.nan


def scaling_fits(entries) -> dict:
    rows = [e["stats"] for e in entries if e.get("stats")]
    rows = [
        {k: s[k]["median"] for k in ("m", "width", "epochs", "steady_epoch_s", "compile_s")}
        for s in rows
    ]
    out = {}
    if not rows:
        return out
    top_m, width0 = max(r["m"] for r in rows), rows[0]["width"]
    epochs0 = rows[0]["epochs"]
    for name, x, pick in (
        ("m", "m", lambda r: r["width"] == width0 and r["epochs"] == epochs0),
        ("width", "width", lambda r: r["m"] == top_m and r["epochs"] == epochs0),
    ):
        pts = sorted({r[x]: r["steady_epoch_s"] for r in rows if pick(r)}.items())
        if len(pts) >= 2:
            slope = np.polyfit(np.log([p[0] for p in pts]), np.log([p[1] for p in pts]), 1)[0]
            out[f"exponent_in_{name}"] = {"points": pts, "slope": float(slope)}
    e_rows = [r for r in rows if r["m"] == rows[-1]["m"] and r["width"] == rows[-1]["width"]]
    out["compile_vs_epochs"] = sorted((r["epochs"], r["compile_s"]) for r in e_rows)
    return out


def _check(workload, text, value, met, fmt="{:.3g}"):
    known = not (isinstance(value, float) and math.isnan(value))
    return {
        "workload": workload,
        "target": text,
        "measured": fmt.format(value) if known else "n/a",
        "met": bool(met) if known else None,
    }


def targets(results: dict) -> list[dict]:
    W = results["workloads"]
    out = []
    if "A" in W:
        a = W["A"]
        floor = med(a, "floor", "floor_epoch_s")
        for j in ("jaxnet (autodiff)", "jaxnet (manual)"):
            total = med(a, j, "total_s")
            peers = {
                e["label"]: e["stats"]["total_s"]["median"]
                for e in a
                if not e["label"].startswith(("jaxnet", "floor", "jax_scan"))
                and e["status"] == "ok"
            }
            best = min(peers.values(), default=math.nan)
            out.append(
                _check(
                    "A",
                    f"{j}: total below every peer's (best peer: "
                    f"{min(peers, key=peers.get, default='none')})",
                    total / best,
                    total < best,
                    "{:.2f}x the best peer",
                )
            )
            ref = med(a, "jax_scan", "total_s")
            out.append(
                _check(
                    "A",
                    f"{j}: (reference) total vs the raw-JAX lax.scan loop",
                    total / ref,
                    total <= ref,
                    "{:.2f}x jax_scan",
                )
            )
            steady = med(a, j, "steady_epoch_s")
            out.append(
                _check(
                    "A",
                    f"{j}: steady epoch <= 1.3x floor",
                    steady / floor,
                    steady <= 1.3 * floor,
                    "{:.2f}x floor",
                )
            )
            acc = med(a, j, "test_acc")
            out.append(_check("A", f"{j}: test accuracy >= 0.978", acc, acc >= 0.978, "{:.4f}"))
    if "B" in W:
        out += targets_b(W["B"])
    if "C" in W:
        out += targets_c(W["C"])
    if "D" in W:
        for net in D_NETS:
            ratio = med(W["D"], "manual", f"{net}/median_s") / med(
                W["D"], "autodiff", f"{net}/median_s"
            )
            out.append(
                _check("D", f"{net}: manual/autodiff <= 1.05", ratio, ratio <= 1.05, "{:.3f}")
            )
    if "E" in W:
        out += targets_e(W["E"])
    if "F" in W:
        out += targets_f(W["F"])
    if "train" in W:
        for cache, limit in TRAIN_TARGETS.items():
            wall = med(W["train"], f"jaxnet train ({cache} cache)", "wall_s")
            text = f"`jaxnet train` (planar default) <= {limit} s wall, {cache} compilation cache"
            out.append(_check("train", text, wall, wall <= limit, "{:.2f} s"))
    fits = results.get("fits", {})
    if "exponent_in_m" in fits:
        s = fits["exponent_in_m"]["slope"]
        out.append(
            _check("scaling", "(expectation) exponent in m ~1 (0.85..1.15)", s, 0.85 <= s <= 1.15)
        )
    cve = fits.get("compile_vs_epochs", [])
    if len(cve) >= 2:
        ratio = cve[-1][1] / cve[0][1]
        out.append(
            _check(
                "scaling",
                f"(expectation) compile constant in epochs: {cve[-1][0]:.0f} vs "
                f"{cve[0][0]:.0f} epochs within 1.25x",
                ratio,
                ratio <= 1.25,
                "{:.2f}x",
            )
        )
    return out


def ensemble_sizes(c) -> list[int]:
    """C: the model counts of the ``jaxnet fit_ensemble (N models)`` rows, in order."""
    return [
        int(e["label"].split("(")[1].split()[0])
        for e in c
        if e["label"].startswith("jaxnet fit_ensemble (")
    ]


def targets_c(c) -> list[dict]:
    """C: the ensemble against raw JAX's ``vmap`` (course layout), one model, sequential runs."""
    sizes = ensemble_sizes(c)
    if not sizes:
        return []
    n = sizes[0]

    def total(label):
        return med(c, label, "total_s")

    ens, one = total(f"jaxnet fit_ensemble ({n} models)"), total("jaxnet fit (")
    seq, npy = total(f"raw JAX ({n} sequential"), total("numpy")
    out = []
    for k in sizes:
        ens_k, raw_k = (
            total(f"jaxnet fit_ensemble ({k} models)"),
            total(f"raw JAX vmap, course layout ({k} models)"),
        )
        out.append(
            _check(
                "C",
                f"{k} models: ensemble <= 1.15x raw JAX vmap (course layout)",
                ens_k / raw_k,
                ens_k <= 1.15 * raw_k,
                "{:.2f}x raw vmap",
            )
        )
    out += [
        _check("C", f"{n} models: ensemble <= 4x one model", ens / one, ens <= 4 * one, "{:.2f}x one model"),
        _check("C", f"{n} models: ensemble faster than {n} sequential raw-JAX runs", seq / ens, ens < seq, "{:.2f}x faster"),
        _check("C", f"{n} models: ensemble >= 15x faster than sequential NumPy", npy / ens, npy / ens >= 15, "{:.1f}x faster"),
    ]  # fmt: skip
    big = sizes[-1]
    ens_big = total(f"jaxnet fit_ensemble ({big} models)")
    out.append(
        _check("C", f"(expectation) a sweep of {big} models in seconds (< 60 s)", ens_big, ens_big < 60, "{:.1f} s")
    )  # fmt: skip
    return out


def targets_b(b) -> list[dict]:
    """B: cold and warm compilation cache against NumPy, the raw-JAX scan and PyTorch."""
    cold, warm = "jaxnet (cold cache)", "jaxnet (warm cache)"
    jc, jw = med(b, cold, "total_s"), med(b, warm, "total_s")
    jr, jcomp = med(b, cold, "run_s"), med(b, cold, "compile_s")
    sc = med(b, "jax_scan (cold cache)", "total_s")
    nt, tt = med(b, "numpy", "total_s"), med(b, "torch", "total_s")
    return [
        _check("B", "jaxnet warm-cache total below NumPy's", jw / nt, jw < nt, "{:.2f}x NumPy"),
        _check(
            "B",
            "jaxnet cold-cache total <= 1.1x the raw-JAX scan's (cold cache)",
            jc / sc,
            jc <= 1.1 * sc,
            "{:.2f}x jax_scan",
        ),
        _check(
            "B",
            "jaxnet cold-cache total >= 8x faster than torch eager",
            tt / jc,
            tt / jc >= 8,
            "{:.1f}x faster",
        ),
        _check("B", "jaxnet compile <= 0.5 s (cold cache)", jcomp, jcomp <= 0.5, "{:.2f} s"),
        _check(
            "B",
            "jaxnet excluding compile >= 5x faster than NumPy",
            nt / jr,
            nt / jr >= 5,
            "{:.1f}x faster",
        ),
    ]


# ----------------------------------------------------------------------------- Markdown


def cell(stats: dict, metric: str, fmt: str = "{:.3g}", scale: float = 1.0) -> str:
    s = stats.get(metric)
    if s is None:
        return ""
    text = fmt.format(s["median"] * scale)
    if s["n"] > 1 and s["max"] != s["min"]:
        text += f" ({fmt.format(s['min'] * scale)}–{fmt.format(s['max'] * scale)})"
    return text


def ratio(entries, e, workload: str, metric: str) -> str:
    ref = med(entries, REFERENCE[workload], metric)
    s = e["stats"].get(metric)
    return "" if s is None or not ref else f"{s['median'] / ref:.2f}x"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def entry_rows(entries, workload, columns, ratios) -> list[list[str]]:
    rows = []
    for e in entries:
        if e["status"] != "ok":
            note = e["status"] if e["status"] == "missing" else "error: " + e["errors"][0][:80]
            rows.append([e["label"], note] + [""] * (len(columns) + len(ratios) - 1))
            continue
        label = e["label"] + (f" ({len(e['errors'])} failed runs)" if e["errors"] else "")
        rows.append(
            [label]
            + [cell(e["stats"], m, f) for m, f in columns]
            + [ratio(entries, e, workload, m) for m in ratios]
        )
    return rows


def section_a(entries) -> str:
    floor = next((e for e in entries if e["label"].startswith("floor")), None)
    runs = [e for e in entries if e is not floor]
    cols = [
        ("total_s", "{:.2f}"),
        ("steady_epoch_s", "{:.3f}"),
        ("compile_s", "{:.2f}"),
        ("test_acc", "{:.4f}"),
        ("maxrss_mb", "{:.0f}"),
        ("process_s", "{:.1f}"),
    ]
    text = table(
        [
            "contender",
            "total s",
            "steady s/epoch",
            "compile s",
            "test acc",
            "peak RSS MiB",
            "process s",
            "total / jaxnet",
            "steady / jaxnet",
        ],
        entry_rows(runs, "A", cols, ["total_s", "steady_epoch_s"]),
    )
    if floor and floor["status"] == "ok":
        r = floor["runs"][-1]
        s = floor["stats"]
        jax_steady = med(entries, REFERENCE["A"], "steady_epoch_s")
        text += (
            f"\n\nFloor: {r['flops_per_example']:,} FLOP per example (forward 2·Σ n_in·n_out, "
            f"dW 2·Σ n_in·n_out, dA_prev 2·Σ over layers ≥ 2) = "
            f"{r['flops_per_step'] / 1e6:.1f} MFLOP per step of {common.BATCH}, "
            f"{r['flops_per_epoch'] / 1e9:.1f} GFLOP per epoch of 60,000. fp32 matmul rate "
            f"measured now (jitted jnp.dot at the step's shapes, median): "
            f"{cell(s, 'rate_gflops', '{:.0f}')} GFLOP/s → floor "
            f"{cell(s, 'floor_epoch_s', '{:.3f}')} s/epoch; jaxnet (autodiff) steady epoch = "
            f"{jax_steady / s['floor_epoch_s']['median']:.2f}x floor.\n\n"
            + table(
                ["product", "shape", "MFLOP", "median GFLOP/s", "best GFLOP/s"],
                [
                    [
                        p["product"],
                        p["shape"],
                        f"{p['flops'] / 1e6:.1f}",
                        f"{p['gflops']:.0f}",
                        f"{p['best_gflops']:.0f}",
                    ]
                    for p in r["products"]
                ],
            )
        )
    return text


def section_b(entries) -> str:
    cols = [
        ("total_s", "{:.3f}"),
        ("compile_s", "{:.3f}"),
        ("run_s", "{:.3f}"),
        ("compile_clock_s", "{:.3f}"),
        ("final_cost", "{:.4f}"),
        ("train_acc", "{:.3f}"),
        ("process_s", "{:.1f}"),
    ]
    return table(
        [
            "contender",
            "total s",
            "compile s",
            "excl. compile s",
            "JAX compile clock s",
            "final cost",
            "train acc",
            "process s",
            "total / jaxnet",
            "excl. / jaxnet",
        ],
        entry_rows(entries, "B", cols, ["total_s", "run_s"]),
    )


def section_train(entries) -> str:
    cols = [
        ("wall_s", "{:.2f}"),
        ("train_s", "{:.2f}"),
        ("other_s", "{:.2f}"),
        ("cache_entries", "{:.0f}"),
        ("train_acc", "{:.3f}"),
        ("val_acc", "{:.3f}"),
    ]
    text = table(
        [
            "command",
            "wall s",
            "training s",
            "rest s",
            "cache entries after",
            "train acc",
            "validation acc",
            "wall / cold",
        ],
        entry_rows(entries, "train", cols, ["wall_s"]),
    )
    return text + (
        "\n\nwall = the whole `python -m jaxnet train --quiet` process as a user runs it; "
        "training = the time it reports in metrics.json; rest = imports, data, compiles "
        "outside training, evaluation, plots and files. Cold: an empty compilation cache "
        "folder (`JAXNET_COMPILATION_CACHE`); warm: a second command with the same folder."
    )


def section_c(entries) -> str:
    sizes = ensemble_sizes(entries)
    scale = {f"({k} models)" for k in sizes[1:]}
    first = [e for e in entries if not any(t in e["label"] for t in scale)]
    cols = [
        ("total_s", "{:.2f}"),
        ("measured_s", "{:.2f}"),
        ("timed_models", "{:.0f}"),
        ("compile_s", "{:.2f}"),
        ("run_s", "{:.2f}"),
        ("mean_train_acc", "{:.3f}"),
    ]
    text = table(
        [
            "contender",
            "total s (all models)",
            "measured s",
            "models timed",
            "compile s",
            "warm rerun s",
            "mean train acc",
            "total / ensemble",
        ],
        entry_rows(first, "C", cols, ["total_s"]),
    )
    text += (
        "\n\nNumPy and PyTorch: a few sequential runs are timed and the time is "
        'scaled to all models ("models timed"); jaxnet and raw-JAX rows time every model.'
    )
    return text + "\n\n" + section_c_scale(entries, sizes) if len(sizes) > 1 else text


def section_c_scale(entries, sizes) -> str:
    """The programs that train N models at once, per N: time per model-iteration."""
    rows = []
    for k in sizes:
        raw = med(entries, f"raw JAX vmap, course layout ({k} models)", "total_s")
        for e in entries:
            st = e.get("stats", {})
            if not e["label"].endswith(f"({k} models)") or "total_s" not in st:
                continue
            its = k * st["iterations"]["median"]
            per = [
                f"{st[m]['median'] / its * 1e9:.0f}" if m in st else ""
                for m in ("total_s", "run_s")
            ]
            rows.append(
                [e["label"], cell(st, "total_s", "{:.2f}"), cell(st, "run_s", "{:.2f}"), *per,
                 f"{st['total_s']['median'] / raw:.2f}x"]
            )  # fmt: skip
    header = [
        "contender",
        "total s",
        "warm rerun s",
        "ns per model-iteration (total)",
        "ns per model-iteration (warm)",
        "total / raw vmap (course)",
    ]
    return "Scale: the same run with more models at once.\n\n" + table(header, rows)


def section_d(entries) -> str:
    rows = []
    for net in D_NETS:
        key = f"{net}/median_s"
        man, auto = med(entries, "manual", key), med(entries, "autodiff", key)
        cells = [
            cell(e["stats"], key, "{:.3f}", 1e3) if e["status"] == "ok" else e["status"]
            for e in entries
        ]
        rows.append([net, *cells, f"{man / auto:.3f}"])
    header = [f"{e['label']} step ms" for e in entries]
    return table(["network (batch 128)", *header, "manual / autodiff"], rows)


def targets_e(entries) -> list[dict]:
    """E: jaxnet's total below every peer's and steady epoch <= 1.5x the floor (both
    backprops); the hand-derived step <= 1.05x the autodiff one."""
    floor = med(entries, "floor", "floor_epoch_s")
    peers = {
        e["label"]: e["stats"]["total_s"]["median"]
        for e in entries
        if not e["label"].startswith(("jaxnet", "floor")) and e["status"] == "ok"
    }
    best, name = min(peers.values(), default=math.nan), min(peers, key=peers.get, default="none")
    out = []
    for j in ("jaxnet (manual)", "jaxnet (autodiff)"):
        total, steady = med(entries, j, "total_s"), med(entries, j, "steady_epoch_s")
        text = f"{j}: total below every peer's (best peer: {name})"
        out.append(_check("E", text, total / best, total < best, "{:.2f}x the best peer"))
        text = f"{j}: steady epoch <= 1.5x floor"
        out.append(_check("E", text, steady / floor, steady <= 1.5 * floor, "{:.2f}x floor"))
    step = [med(entries, f"jaxnet ({b})", "step/median_s") for b in ("manual", "autodiff")]
    text = "hand-derived step <= 1.05x autodiff's (one jitted Adam step, batch 128)"
    out.append(_check("E", text, step[0] / step[1], step[0] <= 1.05 * step[1], "{:.3f}"))
    return out


def section_e(entries) -> str:
    floor = next((e for e in entries if e["label"].startswith("floor")), None)
    runs = [e for e in entries if e is not floor]
    cols = [
        ("total_s", "{:.1f}"),
        ("steady_epoch_s", "{:.2f}"),
        ("compile_s", "{:.2f}"),
        ("test_acc", "{:.4f}"),
        ("maxrss_mb", "{:.0f}"),
        ("process_s", "{:.1f}"),
    ]
    header = ["contender", "total s", "steady s/epoch", "compile s", "test acc"]
    header += ["peak RSS MiB", "process s", "total / jaxnet", "steady / jaxnet"]
    rows = entry_rows(runs, "E", cols, ["total_s", "steady_epoch_s"])
    steps = [cell(e["stats"], "step/median_s", "{:.1f}", 1e3) for e in runs]
    text = table([*header, "one step ms"], [[*r, s] for r, s in zip(rows, steps, strict=True)])
    text += (
        "\n\nSame start for all: Keras's glorot-uniform drawn once with NumPy per seed (the "
        "run's index), loaded into each framework. one step = one jitted Adam step on a "
        "batch of 128 (`jn.grads` with that backprop), median of many calls, after training."
    )
    if floor and floor["status"] == "ok":
        r, s = floor["runs"][-1], floor["stats"]
        f = s["floor_epoch_s"]["median"]
        ratios = ", ".join(
            f"{e['label']} {e['stats']['steady_epoch_s']['median'] / f:.2f}x"
            for e in runs
            if e["status"] == "ok"
        )
        text += (
            f"\n\nFloor: {r['flops_per_example']:,} FLOP per example (each conv's forward and "
            f"dW, dA_prev but the first's; each dense product, forward, dW and dA_prev) = "
            f"{r['flops_per_step'] / 1e6:.0f} MFLOP per step of {common.BATCH}, "
            f"{r['flops_per_epoch'] / 1e12:.2f} TFLOP per epoch of 60,000. Rate measured now "
            f"(jitted lax.conv_general_dilated at the step's shapes, its vjp for dW and dA_prev; "
            f"jnp.dot for the dense products; medians): {cell(s, 'rate_gflops', '{:.0f}')} "
            f"GFLOP/s → floor {cell(s, 'floor_epoch_s', '{:.1f}')} s/epoch. Steady epoch / "
            f"floor: {ratios}. At the dense products' rate "
            f"({cell(s, 'matmul_rate_gflops', '{:.0f}')} GFLOP/s) the same FLOPs would take "
            f"{cell(s, 'matmul_floor_epoch_s', '{:.1f}')} s/epoch.\n\n"
            + table(
                [
                    "product",
                    "shape (conv: m, n_H, n_C_prev, n_C, f)",
                    "MFLOP",
                    "ms",
                    "median GFLOP/s",
                    "best GFLOP/s",
                ],
                [
                    [
                        p["product"],
                        p["shape"],
                        f"{p['flops'] / 1e6:.1f}",
                        f"{p['median_s'] * 1e3:.2f}",
                        f"{p['gflops']:.0f}",
                        f"{p['best_gflops']:.0f}",
                    ]
                    for p in r["products"]
                ],
            )
        )
    return text


def targets_f(entries) -> list[dict]:
    """F: jaxnet's total below every peer's (both backprops); the hand-derived step <= 1.1x
    the autodiff one."""
    peers = {
        e["label"]: e["stats"]["total_s"]["median"]
        for e in entries
        if not e["label"].startswith("jaxnet") and e["status"] == "ok"
    }
    best, name = min(peers.values(), default=math.nan), min(peers, key=peers.get, default="none")
    out = []
    for j in ("jaxnet (manual)", "jaxnet (autodiff)"):
        total = med(entries, j, "total_s")
        text = f"{j}: total below every peer's (best peer: {name})"
        out.append(_check("F", text, total / best, total < best, "{:.2f}x the best peer"))
    step = [med(entries, f"jaxnet ({b})", "step/median_s") for b in ("manual", "autodiff")]
    text = "hand-derived step <= 1.1x autodiff's (one jitted Adam step, batch 128)"
    out.append(_check("F", text, step[0] / step[1], step[0] <= 1.1 * step[1], "{:.3f}"))
    return out


def section_f(entries) -> str:
    cols = [
        ("total_s", "{:.1f}"),
        ("steady_epoch_s", "{:.2f}"),
        ("compile_s", "{:.2f}"),
        ("train_loss", "{:.3f}"),
        ("test_loss", "{:.3f}"),
        ("test_acc", "{:.3f}"),
        ("maxrss_mb", "{:.0f}"),
        ("process_s", "{:.1f}"),
    ]
    header = ["contender", "total s", "steady s/epoch", "compile s", "train loss", "test loss"]
    header += ["test acc", "peak RSS MiB", "process s", "total / jaxnet", "steady / jaxnet"]
    rows = entry_rows(entries, "F", cols, ["total_s", "steady_epoch_s"])
    steps = [cell(e["stats"], "step/median_s", "{:.1f}", 1e3) for e in entries]
    text = table([*header, "one step ms"], [[*r, s] for r, s in zip(rows, steps, strict=True)])
    return text + (
        "\n\nSame start for all: Keras's defaults drawn once with NumPy per seed (the run's "
        "index), loaded into each framework. Losses: mean per-character cross-entropy in nats "
        "(train: the last epoch's, Keras's the epoch mean; test: the held-out names' windows); "
        "test acc: next-character accuracy. one step = one jitted Adam step on a batch of "
        "128, median of many calls, after training."
    )


def section_scaling(entries, fits) -> str:
    cols = [("steady_epoch_s", "{:.3f}"), ("compile_s", "{:.2f}"), ("total_s", "{:.2f}")]
    text = table(
        ["config", "steady s/epoch", "compile s", "total s"],
        entry_rows(entries, "scaling", cols, []),
    )
    for name in ("m", "width"):
        f = fits.get(f"exponent_in_{name}")
        if f:
            text += f"\n\nlog-log slope of steady epoch time in {name}: **{f['slope']:.2f}**"
    if fits.get("compile_vs_epochs"):
        pts = ", ".join(f"{e:.0f} epochs: {c:.2f} s" for e, c in fits["compile_vs_epochs"])
        text += f"\n\nCompile time by epochs: {pts}"
    return text


def contention(entries, jobs: int) -> str:
    """How much CPU other processes took while this workload ran."""
    if jobs > 1:
        return f"Runs overlapped (--jobs {jobs}): these timings are not comparable."
    fracs = [r["others_cpu_frac"] for e in entries for r in e["runs"] if "others_cpu_frac" in r]
    if not fracs:
        return ""
    retried = sum(r.get("attempts", 1) - 1 for e in entries for r in e["runs"])
    text = (
        f"Other processes used a median {statistics.median(fracs):.0%} (max {max(fracs):.0%}) "
        f"of the CPUs during these runs ({retried} contended runs were rerun)."
    )
    return text + (" **Timings are contended.**" if statistics.median(fracs) > 0.1 else "")


def markdown(results: dict) -> str:
    m = results["machine"]
    v = m["versions"]
    W = results["workloads"]
    quick, jobs = results["config"]["quick"], results["config"]["jobs"]
    out = [
        "# jaxnet benchmark results"
        + (" (QUICK smoke run: timings mean nothing)" if quick else ""),
        "",
        f"`{results['config']['command']}` — {results['started']} to {results['finished']}, "
        f"{results['config']['repeats']} runs per contender, each a fresh process, alternating.",
        "",
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs ({m.get('usable_cpus')} usable), "
        f"{m.get('memory_gib', '?')} GiB, {m['platform']}; load average at start "
        f"{', '.join(f'{x:.2f}' for x in m['load_avg_at_start'])}. jaxnet at "
        f"{m.get('git_commit', '?')}"
        + (" + uncommitted changes" if m.get("jaxnet_uncommitted_changes") else "")
        + ".",
        "",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "Cells: median (min–max) over the runs. Ratios: contender median / jaxnet median "
        "(> 1: jaxnet is faster). total = training time in the process, compilation "
        "included, imports and data loading excluded; process = the whole process, "
        "as the parent timed it.",
    ]
    sections = {
        "A": ("A · MNIST 784-512-10, RMSprop, batch 128, 5 epochs", section_a),
        "B": (
            "B · planar flower 2-4-1, 10,000 iterations, cold and warm compilation cache",
            section_b,
        ),
        "C": ("C · planar models at once (64, then 256 and 1024)", section_c),
        "D": ("D · one training step: hand-derived vs autodiff gradients", section_d),
        "E": ("E · MNIST CNN, Adam, batch 128, 2 epochs", section_e),
        "F": (
            "F · character-level LSTM language model (dinosaur names), Adam, batch 128, 4 epochs",
            section_f,
        ),
        "train": ("train · `jaxnet train` (planar default), the whole command", section_train),
    }
    for w, (title, fn) in sections.items():
        if w in W:
            out += ["", f"## {title}", "", fn(W[w]), "", contention(W[w], jobs)]
    if "scaling" in W:
        out += [
            "",
            "## Scaling (jaxnet, MNIST, RMSprop, batch 128)",
            "",
            section_scaling(W["scaling"], results["fits"]),
        ]
    met = {True: "met", False: "**missed**", None: "n/a"}
    out += [
        "",
        "## Targets",
        "",
        table(
            ["workload", "target", "measured", ""],
            [
                [t["workload"], t["target"], t["measured"], met[t["met"]]]
                for t in results["targets"]
            ],
        ),
    ]
    return "\n".join(out) + "\n"
