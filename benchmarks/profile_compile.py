"""What ``mg.compile`` costs: the first call (recording) against an eager step, and what a
replayed program adds per op to the kernels it calls.

    python benchmarks/profile_compile.py             # both tables
    python benchmarks/profile_compile.py --rounds 21 --compiles 11

Recording: for the tape chain (2,000 small ops), the MLP and CNN training steps and the HVP's
gradient, the time of the first compiled call (recording; the passes and the build wait for
the first replay) against an eager step of the same kind timed just before it, in the same
process, and the same for the second call (the first replay, with its build; or a second
recording, where the step's state changed after its first call). Medians over ``--compiles``
fresh compiled steps, each call after a garbage collection.

Replay overhead per op: a chain of ``x * 1.05``, ``x + 0.01``, ``tanh(x)`` on a one-element
array, forward and backward, compiled, against the same kernels called by hand (the
hand-written reference of the tape workload): the difference per op is what the program's
own work costs (the generated function, the guards, the write-back). Medians over
interleaved rounds.
"""

from __future__ import annotations

import argparse
import gc
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


def _seconds(call) -> float:
    gc.collect()  # as the harness does: no call pays for another's garbage
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def recording(ctx, compiles: int) -> list[tuple[str, float, float]]:
    """(workload, first call / eager step, second call / eager step): medians over
    ``compiles`` fresh compiled steps, each against an eager step timed just before it."""
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
        eager_step = make()
        eager_step()  # warm
        firsts, seconds = [], []
        for _ in range(compiles):
            eager = _seconds(eager_step)
            compiled = mg.compile(make())
            firsts.append(_seconds(compiled) / eager)
            seconds.append(_seconds(compiled) / eager)
        rows.append((name, statistics.median(firsts), statistics.median(seconds)))
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
    parser.add_argument("--compiles", type=int, default=7,
                        help="fresh compiled steps whose first two calls are timed")
    args = parser.parse_args(argv)
    ctx = Context(mg.get_device("cpu"), 1, "quick", [], progress=lambda line: None)
    print("| workload | first call / eager step | second call / eager step |")
    print("| --- | --- | --- |")
    for name, first, second in recording(ctx, args.compiles):
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
