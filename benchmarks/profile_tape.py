"""Profile the tape-overhead chain: cProfile's table, or a fixed workload to count instructions.

    python benchmarks/profile_tape.py --cprofile            # where the time goes, per function
    python benchmarks/profile_tape.py --cprofile --device cuda   # the same on a GPU
    valgrind --tool=cachegrind --cache-sim=no python benchmarks/profile_tape.py --calls 200
    valgrind --tool=cachegrind --cache-sim=no python benchmarks/profile_tape.py --calls 0

The difference of the two cachegrind totals ("I refs"), divided by calls x ops, is the number
of instructions per op of forward plus backward: unlike a time, it does not change when other
programs load the machine, so it shows the effect of an engine change on a busy machine.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import multigrad as mg  # noqa: E402
from benchmarks.workloads._chain import chain  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--device", default="cpu", help="a device multigrad lists (default cpu)")
    args = parser.parse_args(argv)
    x = mg.tensor(np.linspace(-1.0, 1.0, 16), device=args.device, requires_grad=True)

    def forward_backward():
        for _ in range(args.calls):
            x.grad = None
            mg.sum(chain(x, args.ops, mg.tanh)).backward()

    if args.cprofile:
        profile = cProfile.Profile()
        profile.runcall(forward_backward)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)
    else:
        forward_backward()


if __name__ == "__main__":
    main()
