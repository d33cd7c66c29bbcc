"""Timing and checking: the same protocol for every workload and system.

Each system is first run once and its loss and gradients compared with the reference's (that
call is also the warm-up), then all systems are timed in rounds, one call each per round in a
rotating order, so that a slow spell of the machine hits every system alike; the device is
synchronised before the clock is read. Ratios are taken round by round against the reference.
Long runs on a terminal show their rounds as tqdm bars (where tqdm is installed: the bench
extra); otherwise each round is a line, which reads well in logs.
"""

from __future__ import annotations

import gc
import importlib.util
import statistics
import sys
import time
import tracemalloc

#: relative error allowed between a system's results and the reference's (float32 work)
CHECK_RTOL = 1e-4


def max_relative_error(values, reference) -> float:
    """The largest deviation over all arrays, relative to each reference array's largest entry."""
    import numpy as np

    worst = 0.0
    for a, b in zip(values, reference, strict=True):
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if a.shape != b.shape:
            return float("inf")
        scale = max(float(np.max(np.abs(b), initial=0.0)), np.finfo(np.float64).tiny)
        worst = max(worst, float(np.max(np.abs(a - b), initial=0.0)) / scale)
    return worst


def check(results: dict, reference: str, rtol: float = CHECK_RTOL) -> tuple[dict, dict]:
    """Compare every system's ``[loss, *gradients]`` (host arrays) with the reference's.

    Returns the error of each system that agrees, and the reason for each that does not.
    """
    errors, failed = {}, {}
    for name, values in results.items():
        err = max_relative_error(values, results[reference])
        if err <= rtol:
            errors[name] = err
        else:
            failed[name] = (f"wrong result: relative error {err:.2e} against the reference "
                            f"(allowed {rtol:g})")
    return errors, failed


def _rounds_bar(rounds: int, label: str):
    """A tqdm bar over the rounds, where standard error is a terminal and tqdm is installed;
    otherwise None."""
    if not sys.stderr.isatty() or importlib.util.find_spec("tqdm") is None:
        return None
    import tqdm

    tqdm.tqdm.monitor_interval = 0  # no monitor thread waking up between the timings
    return tqdm.tqdm(range(rounds), desc=label, unit="round")


def interleaved(calls: dict, rounds: int, synchronize, progress, label: str,
                long_run: bool = False) -> dict:
    """Seconds per call of each system, ``rounds`` times, the systems interleaved.

    ``progress(line)`` gets a line per round, unless ``long_run`` draws the rounds as a tqdm
    bar (on a terminal, where tqdm is installed), which redraws between rounds, never inside
    a timed call.

    What exists before timing starts (the libraries, the data) is frozen out of the garbage
    collector: otherwise the collections a system's own garbage triggers would also walk the
    objects of every other library loaded for comparison (torch and jax hold millions), a
    cost that a program using one system alone does not pay. Each call starts after a
    collection, so no system inherits another's garbage; its own still counts.
    """
    names = list(calls)
    times = {name: [] for name in names}
    bar = _rounds_bar(rounds, label) if long_run else None
    gc.collect()
    gc.freeze()
    try:
        for r in range(rounds) if bar is None else bar:
            shift = r % len(names)
            for name in names[shift:] + names[:shift]:
                call = calls[name]
                gc.collect()
                synchronize()
                start = time.perf_counter()
                call()
                synchronize()
                times[name].append(time.perf_counter() - start)
            summary = ", ".join(f"{name} {_short(times[name][-1])}" for name in names)
            if bar is None:
                progress(f"{label}: round {r + 1}/{rounds}: {summary}")
            else:
                bar.set_postfix_str(summary, refresh=False)
    finally:
        if bar is not None:
            bar.close()
        gc.unfreeze()
    return times


def peak_bytes(step, reset, repeats: int) -> list[int]:
    """Peak host memory allocated above the starting point during ``step()`` (tracemalloc).

    ``reset()`` first drops whatever a system keeps between steps (old gradients), so that
    every system starts from the same state: its parameters and the data.
    """
    peaks = []
    for _ in range(repeats):
        reset()
        gc.collect()
        tracemalloc.start()
        try:
            base = tracemalloc.get_traced_memory()[0]
            step()
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        finally:
            tracemalloc.stop()
    return peaks


def median_ratio(times, reference) -> float:
    """The median over rounds of ``times[r] / reference[r]``."""
    return statistics.median(t / r for t, r in zip(times, reference, strict=True))


def _short(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.1f} us"
