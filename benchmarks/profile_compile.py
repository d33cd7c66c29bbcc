"""What ``mg.compile`` costs: the first call (recording) against an eager step, and what a
replayed program adds per op to the kernels it calls.

    python benchmarks/profile_compile.py             # both tables
    python benchmarks/profile_compile.py --rounds 21

Recording: for the tape chain (2,000 small ops), the MLP and CNN training steps and the HVP's
gradient, the time of the first compiled call (recording, passes and building the program)
against the median of eager steps of the same kind, in the same process. A step that
records on its second call too (the optimizer's state appears after its first step) shows
that one as well.

Replay overhead per op: a chain of ``x * 1.05``, ``x + 0.01``, ``tanh(x)`` on a one-element
array, forward and backward, compiled, against the same kernels called by hand (the
hand-written reference of the tape workload): the difference per op is what the program's
own work costs (the generated function, the guards, the write-back). Medians over
interleaved rounds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import multigrad as mg  # noqa: E402
from benchmarks._timing import interleaved  # noqa: E402
from benchmarks.workloads import _chain, _network, cnn, hvp  # noqa: E402
from benchmarks.workloads._common import Context  # noqa: E402


def _eager_median(step, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def recording(ctx, rounds: int) -> list[tuple[str, float, float]]:
    """(workload, first call / eager step, second call / eager step)."""
    chain_values = np.linspace(-1.0, 1.0, 16)
    x, v = hvp.problem(1000)
    makers = {
        "tape chain, 2,000 ops": lambda: _chain._multigrad(ctx, chain_values, 2000)["grad"],
        "MLP step 784-512-512-10": lambda: _network.Multigrad(
            ctx, *_network.problem((784, 512, 512, 10), 256)).step,
        "CNN step": lambda: cnn.Multigrad(ctx, *cnn.problem(64, 28)).step,
        "HVP gradient": lambda: hvp._multigrad(ctx, x, v)["grad"],
    }
    rows = []
    for name, make in makers.items():
        eager = _eager_median(make(), rounds)
        compiled = mg.compile(make())
        firsts = []
        for _ in range(2):
            start = time.perf_counter()
            compiled()
            firsts.append(time.perf_counter() - start)
        rows.append((name, firsts[0] / eager, firsts[1] / eager))
    return rows


def replay_overhead(ctx, rounds: int, n_ops: int = 2000) -> tuple[float, float]:
    """Microseconds per op of the compiled chain and of the hand-written one."""
    values = np.array([0.5])
    calls = {"hand-written": _chain._reference(ctx, values, n_ops)["grad"],
             "compiled": mg.compile(_chain._multigrad(ctx, values, n_ops)["grad"])}
    for call in calls.values():
        call(), call(), call()  # records, records with a gradient present, replays
    times = interleaved(calls, rounds, ctx.device.synchronize, lambda line: None, "replay")
    return tuple(statistics.median(times[name]) / n_ops * 1e6 for name in calls)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args(argv)
    ctx = Context(mg.get_device("cpu"), 1, "quick", [], progress=lambda line: None)
    print("| workload | first call / eager step | second call / eager step |")
    print("| --- | --- | --- |")
    for name, first, second in recording(ctx, args.rounds):
        print(f"| {name} | {first:.2f}x | {second:.2f}x |")
    hand, compiled = replay_overhead(ctx, args.rounds)
    print()
    print("| chain on a one-element array, forward + backward | us per op |")
    print("| --- | --- |")
    print(f"| hand-written NumPy | {hand:.2f} |")
    print(f"| compiled | {compiled:.2f} |")
    print(f"| program's own work per op | {compiled - hand:.2f} |")


if __name__ == "__main__":
    main()
