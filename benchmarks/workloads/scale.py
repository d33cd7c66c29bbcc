"""Workload 8, scale: logistic regression's gradient over chunked data on Dask.

``X`` (rows x 64 float64: 2,000,000 rows make 1 GB) and the labels ``y`` are generated lazily
inside the graph, chunk by chunk, so no process ever holds them whole. Per gradient: the loss
and its gradient with respect to the weights ``w`` (64) and the bias ``b``, both host (NumPy)
arrays, which Dask broadcasts into the graph.

Systems: the hand-written Dask gradient (the floor: ``X.T @ (sigmoid(z) - y) / n``, written
by hand with ``dask.array``), multigrad (``mg.asarray(X)``, the loss written as usual,
``backward()`` and one ``mg.compute``) and, where the data fits in a quarter of this
machine's memory, NumPy on the data computed into memory. Schedulers: Dask's threads, and a
``dask.distributed`` LocalCluster of two worker processes of one thread on 127.0.0.1.
Measured: gradient time (graph building included), peak memory above the starting point of
the client and of each worker (resident set size sampled every 5 ms with psutil: Dask's
buffers are not visible to tracemalloc in worker processes), and the tasks of the optimized
graph.

Targets (``targets()``): multigrad's peak memory under 25% of the data's size; its time at
most 1.3x the hand-written gradient's; its task count at most 1.2x.

``python -m benchmarks.workloads.scale --rows 20000000`` runs the same outside the harness, at
any size (the 20,000,000-row run: 10 GB of data).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import threading
import time

import numpy as np

FEATURES = 64
WORKLOAD = "scale (Dask)"
SYSTEMS = ("reference", "multigrad", "numpy in memory")
LIMITS = {"memory": 0.25, "time": 1.3, "tasks": 1.2}


def make_data(rows: int, features: int, chunk_rows: int, seed: int = 0):
    """``X`` and ``y`` as Dask arrays generated inside the graph (nothing is computed)."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    truth = np.linspace(-1.0, 1.0, features)
    noise = rng.standard_normal(rows, chunks=chunk_rows)
    y = ((X @ truth + noise) > 0).astype(np.float64)
    return X, y


def reference_gradient(X, y, w, b):
    """The hand-written Dask gradient: lazy ``(loss, grad_w, grad_b)``."""
    import dask.array as da

    z = X @ w + b
    loss = da.mean(da.logaddexp(0.0, z) - y * z)
    residual = (1.0 / (1.0 + da.exp(-z)) - y) / X.shape[0]
    return loss, X.T @ residual, residual.sum()


def multigrad_gradient(X, y, w, b):
    """multigrad's gradient as a user writes it: lazy ``(loss, grad_w, grad_b)``, pending
    until ``mg.compute``."""
    import multigrad as mg

    wt = mg.tensor(w, requires_grad=True)
    bt = mg.tensor(b, requires_grad=True)
    Xt, yt = mg.asarray(X), mg.asarray(y)
    z = Xt @ wt + bt
    loss = mg.mean(mg.logaddexp(0.0, z) - yt * z)
    loss.backward()
    return loss, wt, bt


def run_multigrad(X, y, w, b):
    import multigrad as mg

    loss, wt, bt = multigrad_gradient(X, y, w, b)
    (value,) = mg.compute(loss)
    return [value.numpy(), wt.grad.numpy(), bt.grad.numpy()]


def run_reference(X, y, w, b):
    import dask
    return [np.asarray(v) for v in dask.compute(*reference_gradient(X, y, w, b))]


def run_numpy(Xn, yn, w, b):
    z = Xn @ w + b
    residual = (1.0 / (1.0 + np.exp(-z)) - yn) / Xn.shape[0]
    return [np.mean(np.logaddexp(0.0, z) - yn * z), Xn.T @ residual, residual.sum()]


def task_counts(X, y, w, b) -> dict:
    """Tasks of the optimized graph of each lazy system's loss and gradients."""
    import dask

    loss, wt, bt = multigrad_gradient(X, y, w, b)
    lazy = {"reference": reference_gradient(X, y, w, b),
            "multigrad": (loss.data, wt._grad.data, bt._grad.data)}
    wt._grad = bt._grad = None  # not computed: nothing pends
    return {name: len(dask.optimize(*arrays)[0].__dask_graph__()) for name, arrays in
            lazy.items()}


class PeakRSS:
    """The peak resident set size of this process above its size at ``start()``, sampled
    every 5 ms by a thread."""

    def __init__(self):
        import psutil
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.base = self.peak = 0

    def start(self):
        self.base = self.peak = self._process.memory_info().rss
        self._stop.clear()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)
        return self.peak - self.base


def _worker_start(dask_worker):
    """On a worker (``Client.run`` passes it): start sampling its memory. The sampler lives
    on the worker object, since a function sent from ``__main__`` brings its own copy of this
    module's globals."""
    dask_worker.multigrad_peak_rss = PeakRSS().start()


def _worker_stop(dask_worker) -> int:
    """On a worker: the peak above the start, in bytes."""
    return dask_worker.multigrad_peak_rss.stop()


@contextlib.contextmanager
def local_cluster():
    """A two-process LocalCluster on 127.0.0.1 and its client, closed whatever happens."""
    import distributed

    cluster = client = None
    try:
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=40)
        client = distributed.Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def measure(rows, chunk_rows, rounds, scheduler, with_numpy, progress=print, features=FEATURES):
    """Gradient times, peak memories and task counts of the systems on one scheduler
    ("threads" or "cluster"). Returns ``{"time": {...}, "client": {...}, "workers": {...},
    "tasks": {...}, "results": {...}}`` with lists of samples per system."""
    X, y = make_data(rows, features, chunk_rows)
    w = np.linspace(0.5, -0.5, features)
    b = np.float64(0.1)
    calls = {"reference": lambda: run_reference(X, y, w, b),
             "multigrad": lambda: run_multigrad(X, y, w, b)}
    Xn = yn = None
    if with_numpy and scheduler == "threads":
        import dask
        Xn, yn = dask.compute(X, y)
        calls["numpy in memory"] = lambda: run_numpy(Xn, yn, w, b)
    out = {"time": {n: [] for n in calls}, "client": {n: [] for n in calls},
           "workers": {n: [] for n in calls}, "results": {}}
    with local_cluster() if scheduler == "cluster" else contextlib.nullcontext() as client:
        for r in range(rounds):
            names = list(calls)
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                if client is not None:
                    client.run(_worker_start)
                sampler = PeakRSS().start()
                start = time.perf_counter()
                result = calls[name]()
                out["time"][name].append(time.perf_counter() - start)
                out["client"][name].append(sampler.stop())
                if client is not None:
                    out["workers"][name].append(max(client.run(_worker_stop).values()))
                out["results"][name] = result
            progress(f"{WORKLOAD} [{scheduler}, {rows:,} rows]: round {r + 1}/{rounds}: "
                     + ", ".join(f"{n} {out['time'][n][-1]:.2f} s" for n in names))
    out["tasks"] = {n: [v] for n, v in task_counts(X, y, w, b).items()}
    return out


def targets(figures: dict, data_bytes: int) -> list[str]:
    """The targets' verdicts for one scheduler's figures, one line each."""
    lines = []
    t = figures["time"]
    ratio = statistics.median(m / r for m, r in zip(t["multigrad"], t["reference"]))
    lines.append(f"time: {ratio:.2f}x the hand-written Dask gradient (target <= "
                 f"{LIMITS['time']}x): {'met' if ratio <= LIMITS['time'] else 'MISSED'}")
    tasks = figures["tasks"]["multigrad"][0] / figures["tasks"]["reference"][0]
    lines.append(f"tasks: {figures['tasks']['multigrad'][0]} against "
                 f"{figures['tasks']['reference'][0]} ({tasks:.2f}x, target <= "
                 f"{LIMITS['tasks']}x): {'met' if tasks <= LIMITS['tasks'] else 'MISSED'}")
    for where in ("client", "workers"):
        peaks = figures[where]["multigrad"]
        if peaks:
            share = max(peaks) / data_bytes
            lines.append(f"peak memory ({where}): {max(peaks) / 2**20:.0f} MiB = "
                         f"{100 * share:.1f}% of the data (target < "
                         f"{100 * LIMITS['memory']:.0f}%): "
                         f"{'met' if share < LIMITS['memory'] else 'MISSED'}")
    return lines


def _fits(data_bytes: int) -> bool:
    import psutil
    return data_bytes <= 0.25 * psutil.virtual_memory().total


def run(ctx) -> None:
    """The harness's entry: on the CPU device only, and where Dask is installed."""
    import importlib.util

    from ._common import REFERENCE, record
    from .._timing import check

    if ctx.device.library != "numpy":
        return
    if importlib.util.find_spec("dask") is None:
        ctx.progress(f"{WORKLOAD}: skipped: Dask is not installed (pip install -e "
                     "'.[backends]')")
        return
    rows, chunk_rows, features = ctx.pick((2_000_000, 50_000, FEATURES),
                                          (200_000, 20_000, FEATURES), (4_000, 1_000, 8))
    rounds = ctx.pick(5, 3, 2)
    data_bytes = rows * features * 8
    schedulers = ("threads",) if ctx.profile == "smoke" else ("threads", "cluster")
    label = "dask (hand-written)"
    for scheduler in schedulers:
        figures = measure(rows, chunk_rows, rounds, scheduler, _fits(data_bytes), ctx.progress,
                          features)
        errors, failed = check({n: [np.asarray(v) for v in r]
                                for n, r in figures["results"].items()}, REFERENCE)
        skipped = dict.fromkeys(failed, "FAILED the check against the reference")
        if "numpy in memory" not in figures["time"]:
            skipped["numpy in memory"] = ("in memory on the threads scheduler only, where the "
                                          "data fits in a quarter of the memory")
        size = f"{rows:,} x {features} float64, {scheduler}"
        timed = {n: v for n, v in figures["time"].items() if n in errors}
        record(ctx, WORKLOAD, f"gradient, {size}", "s", 1.0, timed, errors, skipped,
               reference=label)
        # the smoke run's data (256 KB) is below what sampling the resident set resolves:
        # its peaks may read 0, so they are not recorded
        for where in ("client", "workers") if ctx.profile != "smoke" else ():
            peaks = {n: v for n, v in figures[where].items() if v and n in errors}
            if peaks:
                record(ctx, WORKLOAD, f"peak memory ({where}), {size}", "MiB", 2.0 ** -20,
                       peaks, errors, skipped, kind="memory", reference=label)
        record(ctx, WORKLOAD, f"tasks, {size}", "tasks", 1.0, figures["tasks"], errors,
               skipped, kind="count", reference=label)
        for line in targets(figures, data_bytes):
            ctx.progress(f"{WORKLOAD} [{scheduler}]: {line}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workloads.scale",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--chunk-rows", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--scheduler", choices=("threads", "cluster", "both"), default="both")
    args = parser.parse_args(argv)
    data_bytes = args.rows * FEATURES * 8
    print(f"data: {args.rows:,} x {FEATURES} float64 = {data_bytes / 2**30:.2f} GiB in chunks "
          f"of {args.chunk_rows:,} rows")
    for scheduler in (("threads", "cluster") if args.scheduler == "both"
                      else (args.scheduler,)):
        figures = measure(args.rows, args.chunk_rows, args.rounds, scheduler,
                          _fits(data_bytes))
        for name in figures["time"]:
            workers = figures["workers"][name]
            print(f"{scheduler} {name}: time median {statistics.median(figures['time'][name]):.2f}"
                  f" s, client peak {max(figures['client'][name]) / 2**20:.0f} MiB"
                  + (f", worker peak {max(workers) / 2**20:.0f} MiB" if workers else "")
                  + (f", {figures['tasks'][name][0]} tasks" if name in figures["tasks"] else ""))
        ref = figures["results"]["reference"]
        got = figures["results"]["multigrad"]
        deviation = max(float(np.max(np.abs(a - r))) for a, r in zip(got, ref))
        print(f"{scheduler}: multigrad against the hand-written gradient: largest deviation "
              f"{deviation:.1e}")
        for line in targets(figures, data_bytes):
            print(f"{scheduler}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
