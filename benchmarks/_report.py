"""Summaries of the measured cases: the markdown table, the targets, the JSON file, the chart."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from ._timing import median_ratio

REFERENCE = "reference"
COMPILED = "multigrad compiled"

# (what, workload, metric prefix, devices it applies to, system, against, at most)
TARGETS = (
    ("tape overhead, forward + backward, vs PyTorch eager", "tape overhead",
     "forward + backward", "numpy", "multigrad", "torch", 0.75),
    ("tape overhead, forward + backward, vs hand-written", "tape overhead",
     "forward + backward", "numpy", "multigrad", REFERENCE, 4.0),
    ("MLP step vs hand-written NumPy", "MLP step", "784-512-512-10", "numpy", "multigrad",
     REFERENCE, 1.05),
    ("MLP step (large) vs hand-written CuPy", "MLP step", "large", "cupy", "multigrad",
     REFERENCE, 1.05),
    ("MLP step (large) vs PyTorch eager CUDA", "MLP step", "large", "cupy", "multigrad",
     "torch", 1.0),
    ("deep graph, per op, vs PyTorch eager", "deep graph", "forward + backward", "numpy",
     "multigrad", "torch", 1.0),
    ("peak memory of the MLP step vs hand-written", "peak memory", "MLP step", "numpy",
     "multigrad", REFERENCE, 1.2),
    # compiled steps (mg.compile)
    ("tape overhead, compiled forward + backward, vs hand-written", "tape overhead",
     "forward + backward", "numpy", COMPILED, REFERENCE, 1.5),
    ("tape overhead, compiled forward + backward, vs PyTorch eager", "tape overhead",
     "forward + backward", "numpy", COMPILED, "torch", 0.3),
    ("MLP step, compiled, vs hand-written NumPy", "MLP step", "784-512-512-10", "numpy",
     COMPILED, REFERENCE, 1.0),
    ("CNN step, compiled, vs hand-written NumPy", "CNN step", "", "numpy", COMPILED,
     REFERENCE, 1.15),
    *((f"HVP {metric}, compiled, vs JAX jit", "Hessian-vector product", metric, "numpy",
       COMPILED, "jax", limit) for metric, limit in (("gradient", 2.0),
                                                     ("HVP, forward over reverse", 3.0),
                                                     ("HVP, reverse over reverse", 3.0))),
    *((f"HVP {metric}, compiled, vs multigrad eager", "Hessian-vector product", metric,
       "numpy", COMPILED, "multigrad", 0.25) for metric in (
           "gradient", "HVP, forward over reverse", "HVP, reverse over reverse")),
    *((f"ReLU as {name}, vs mg.relu, eager", "ReLU spellings", "", "numpy", name, REFERENCE,
       1.03) for name in ("maximum", "where", "clip")),
    *((f"ReLU as {name}, vs mg.relu, compiled", "ReLU spellings", "", "numpy",
       f"{name} compiled", "relu compiled", 1.03) for name in ("maximum", "where", "clip")),
    # on a GPU (see benchmarks/README.md for the H100 table these come from)
    ("small MLP step, compiled, vs JAX jit", "MLP step", "784-512-512-10", "cupy", COMPILED,
     "jax", 1.5),
    ("HVP, compiled, vs JAX jit", "Hessian-vector product", "", "cupy", COMPILED, "jax", 3.0),
    ("CNN step, compiled, vs PyTorch eager CUDA", "CNN step", "", "cupy", COMPILED, "torch",
     1.0),
    ("large MLP step, compiled, vs PyTorch eager CUDA", "MLP step", "large", "cupy",
     COMPILED, "torch", 0.9),
)


def summarize(case: dict) -> list[dict]:
    """Per system: the median value in the case's unit and the median per-round ratio."""
    ref = case["samples"].get(REFERENCE)
    rows = []
    for name, values in case["samples"].items():
        rows.append({
            "system": case["reference"] if name == REFERENCE else name,
            "median": statistics.median(values) * case["scale"],
            "ratio": median_ratio(values, ref) if ref else None,
            "error": case["errors"].get(name),
        })
    return rows


def targets(cases: list[dict], libraries: dict) -> list[dict]:
    """Every target that this run measured, with its ratio and whether it is met."""
    found = []
    for what, workload, prefix, library, system, against, limit in TARGETS:
        for case in cases:
            if (case["workload"] != workload or not case["metric"].startswith(prefix)
                    or libraries.get(case["device"]) != library):
                continue
            samples = case["samples"]
            if system not in samples or against not in samples:
                missing = system if system not in samples else against
                status = f"not measured ({missing}: {case['skipped'].get(missing, 'absent')})"
                ratio = None
            else:
                ratio = median_ratio(samples[system], samples[against])
                status = "met" if ratio <= limit else "MISSED"
            found.append({"target": what, "device": case["device"], "threads": case["threads"],
                          "ratio": ratio, "limit": limit, "status": status})
    return found


def markdown(run: dict) -> str:
    """The results as markdown: the settings, one table of cases, the targets."""
    m = run["machine"]
    lines = [f"Measured {run['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
             + ", ".join(f"{k} {v}" for k, v in m["versions"].items()) + ".", "",
             f"Command: `{run['command']}`", ""]
    for w in run["workers"]:
        lines.append(f"- {w['device']}, {w['threads']} thread(s): pinned by {w['method']}; "
                     f"BLAS: {'; '.join(w['blas'])}")
    if m["openblas_overrides"]:
        lines.append(f"- set in the environment (they may slow OpenBLAS): "
                     f"{m['openblas_overrides']}")
    for name, why in run["skipped_peers"].items():
        lines.append(f"- {name}: skipped, {why}")
    lines += ["", "| workload | metric | device | threads | system | median | ratio to "
              "reference | check |", "|---|---|---|---|---|---|---|---|"]
    for case in run["cases"]:
        head = f"| {case['workload']} | {case['metric']} | {case['device']} | {case['threads']} |"
        for row in summarize(case):
            ratio = "" if row["ratio"] is None else f"{row['ratio']:.2f}x"
            check = ("reference" if row["system"] == case["reference"]
                     else f"ok ({row['error']:.0e})")
            lines.append(f"{head} {row['system']} | {_value(row['median'], case['unit'])} | "
                         f"{ratio} | {check} |")
        for name, why in case["skipped"].items():
            if name not in run["skipped_peers"]:
                lines.append(f"{head} {name} | | | {why} |")
    if run["targets"]:
        lines += ["", "| target | device | threads | measured | at most | status |",
                  "|---|---|---|---|---|---|"]
        for t in run["targets"]:
            ratio = "" if t["ratio"] is None else f"{t['ratio']:.2f}x"
            lines.append(f"| {t['target']} | {t['device']} | {t['threads']} | {ratio} | "
                         f"{t['limit']}x | {t['status']} |")
    return "\n".join(lines) + "\n"


def _value(value: float, unit: str) -> str:
    return f"{value:.3g} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def write(run: dict, out: Path, progress) -> None:
    """Write results.json, results.md and (with matplotlib) results.png into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(run, indent=1) + "\n")
    (out / "results.md").write_text(markdown(run))
    progress(f"wrote {out / 'results.json'} and {out / 'results.md'}")
    try:
        import matplotlib
    except ImportError:
        progress("matplotlib is not installed: no chart (pip install matplotlib)")
        return
    matplotlib.use("Agg")
    chart(run, out / "results.png")
    progress(f"wrote {out / 'results.png'}")


def chart(run: dict, path: Path) -> None:
    """Horizontal bars: each system's time (or memory) as a multiple of the reference's."""
    import matplotlib.pyplot as plt

    labels, ratios = [], []
    for case in run["cases"]:
        for row in summarize(case):
            if row["ratio"] is None or row["system"] == case["reference"]:
                continue
            labels.append(f"{case['workload']}: {case['metric']} [{case['device']}, "
                          f"{case['threads']} thr] {row['system']}")
            ratios.append(row["ratio"])
    fig, ax = plt.subplots(figsize=(11, 0.3 * len(labels) + 1.5))
    colors = ["tab:blue" if " multigrad" in label else "tab:gray" for label in labels]
    ax.barh(range(len(labels)), ratios, color=colors)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.axvline(1.0, color="black", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_xlabel("time (or peak memory) / hand-written reference, median of per-round ratios")
    ax.set_title(f"multigrad benchmarks, {run['date']}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
