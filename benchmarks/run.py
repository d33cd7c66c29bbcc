"""The benchmark harness: ``python -m benchmarks`` or ``python benchmarks/run.py``.

The parent process plans one worker process per (device, thread count), starts each with its
thread pools pinned through the environment (so the pools are sized before numpy loads), and
gathers what they measured into a table, a JSON file and a chart. Each worker runs the
workloads in ``benchmarks/workloads/`` for every system on its device.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(ROOT))

from benchmarks import _env, _report  # noqa: E402
from benchmarks.workloads import NAMES, workload  # noqa: E402

WORKLOAD_NAMES = NAMES


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time multigrad against a hand-written reference and its peers.")
    parser.add_argument("--device", action="append", default=None,
                        help="a device multigrad lists (cpu, cuda, cuda:1, strict:device1...); "
                             "repeat or separate with commas; default: the NumPy and CuPy "
                             "devices (array_api_strict's are for correctness, not speed; "
                             "PyTorch and JAX are peers; Dask has the scale workload)")
    parser.add_argument("--peers", default=",".join(_env.PEERS),
                        help="comma-separated peers among numpy (the hand-written reference, "
                             "always measured), torch, autograd, jax; missing ones are skipped "
                             "(default: all)")
    parser.add_argument("--workloads", default=",".join(WORKLOAD_NAMES),
                        help="comma-separated among " + ", ".join(WORKLOAD_NAMES))
    parser.add_argument("--threads", default="1,2",
                        help="thread counts for the MLP step on CPU devices (default 1,2); the "
                             "other workloads run at the first")
    parser.add_argument("--quick", action="store_true",
                        help="fewer rounds and a 50,000-op deep graph (a minute or two)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny sizes and two rounds: proves the harness works, measures "
                             "nothing (for the tests)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results",
                        help="folder for results.json, results.md and results.png "
                             "(default benchmarks/results)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one worker's job
    return parser.parse_args(argv)


def _split(values) -> list[str]:
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _devices(requested):
    import multigrad as mg

    if not requested:
        return [d for d in mg.devices() if d.library in ("numpy", "cupy")]
    try:
        return [mg.get_device(name) for name in _split(requested)]
    except mg.DeviceError as err:
        raise SystemExit(f"benchmarks: {err}") from None


def plan(devices, threads: list[int], workloads: list[str]) -> list[dict]:
    """One job per (device, thread count): every workload at the first thread count, and
    the MLP step at the others (CPU devices only: thread counts mean nothing to a GPU)."""
    jobs = []
    for device in devices:
        counts = threads if device.library != "cupy" else threads[:1]
        for k, count in enumerate(counts):
            chosen = workloads if k == 0 else [w for w in workloads if w == "mlp"]
            if chosen:
                jobs.append({"device": device.name, "threads": count, "workloads": chosen})
    return jobs


def main(argv=None) -> int:
    args = parse(argv)
    if args.worker:
        return _worker(json.loads(args.worker))
    profile = "smoke" if args.smoke else "quick" if args.quick else "full"
    peers, skipped_peers = _env.choose_peers(_split([args.peers]))
    workloads = _split([args.workloads])
    unknown = set(workloads) - set(WORKLOAD_NAMES)
    if unknown:
        raise SystemExit(f"benchmarks: unknown workload(s) {sorted(unknown)}; known: "
                         + ", ".join(WORKLOAD_NAMES))
    threads = [int(t) for t in _split([args.threads])]
    devices = _devices(args.device)
    jobs = plan(devices, threads, workloads)
    for name, why in skipped_peers.items():
        print(f"{name}: skipped, {why}", flush=True)

    run = {"date": datetime.date.today().isoformat(), "machine": _env.machine(),
           "command": "python -m benchmarks " + shlex.join(argv if argv is not None
                                                           else sys.argv[1:]),
           "profile": profile, "skipped_peers": skipped_peers, "workers": [], "cases": []}
    failures = []
    for job in jobs:
        print(f"== {job['device']}, {job['threads']} thread(s): {', '.join(job['workloads'])}",
              flush=True)
        result = _spawn({**job, "profile": profile, "peers": peers})
        if result is None:
            failures.append(f"the worker for {job['device']} at {job['threads']} thread(s) "
                            "failed (its error is above)")
            continue
        run["workers"].append(result["worker"])
        run["cases"] += result["cases"]
    libraries = {d.name: d.library for d in devices}
    run["targets"] = _report.targets(run["cases"], libraries)
    print(_report.markdown(run), flush=True)
    _report.write(run, args.out, lambda line: print(line, flush=True))
    failures += list(dict.fromkeys(  # a failed check is reported once per workload
        f"{c['workload']} on {c['device']}, {c['threads']} thread(s): {name} {why}"
        for c in run["cases"] for name, why in c["skipped"].items()
        if why.startswith("wrong result")))
    for line in failures:
        print(f"FAILED: {line}", file=sys.stderr)
    return 1 if failures else 0


def _spawn(job: dict) -> dict | None:
    """Run one job in a fresh interpreter whose thread pools are pinned from the start."""
    env = _env.thread_environment(job["threads"])
    # JAX would otherwise claim three quarters of the GPU's memory at start, starving the
    # reference and the other peers that share the device with it
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "benchmarks", "--worker",
                   json.dumps({**job, "result": str(out)})]
        if subprocess.run(command, env=env, cwd=ROOT).returncode != 0 or not out.exists():
            return None
        return json.loads(out.read_text())


def _worker(job: dict) -> int:
    """Inside a worker: pin threads, run the workloads, write what was measured."""
    info = _env.pin_threads(job["threads"], job["peers"])
    import multigrad as mg

    from benchmarks.workloads._common import Context

    info.pop("_controller")  # kept alive until here: it holds the threadpoolctl limits
    print(f"   threads pinned by {info['method']}; BLAS: {'; '.join(info['blas'])}", flush=True)
    ctx = Context(mg.get_device(job["device"]), job["threads"], job["profile"], job["peers"],
                  progress=lambda line: print(f"   {line}", flush=True))
    for name in job["workloads"]:
        workload(name).run(ctx)
    Path(job["result"]).write_text(json.dumps(
        {"worker": {"device": job["device"], **info}, "cases": ctx.cases}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
