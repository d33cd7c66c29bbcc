"""Where multigrad's time goes in the MLP training step (workload 2), on any device.

    python benchmarks/profile_mlp_step.py [--device cuda] [--steps 200] [--large]

Times ``--steps`` steps of the hand-written reference and of multigrad, the device
synchronised once at the end (so a step that waits on the device inside shows as slower), then
prints cProfile's table of multigrad's steps, by internal time. On a GPU, with the small
network, what multigrad adds to the reference is the host's work of issuing the kernels.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import multigrad as mg  # noqa: E402
from benchmarks.workloads import _network  # noqa: E402
from benchmarks.workloads._common import Context  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--large", action="store_true",
                        help="the large variant (4096 x 4 layers, batch 4096)")
    parser.add_argument("--rows", type=int, default=25, help="rows of the profile")
    args = parser.parse_args(argv)
    device = mg.get_device(args.device)
    sizes, batch = ((4096,) * 4 + (10,), 4096) if args.large else ((784, 512, 512, 10), 256)
    ctx = Context(device, 1, "quick", peers=[], progress=lambda line: None)
    systems, _ = _network.build(ctx, sizes, batch)

    def run(step):
        for _ in range(args.steps):
            step()
        device.synchronize()

    for name, system in systems.items():
        run(system.step)  # warm-up: kernels compiled, memory pools filled
        start = time.perf_counter()
        run(system.step)
        print(f"{name}: {(time.perf_counter() - start) / args.steps * 1e3:.3f} ms per step "
              f"({device.name}, sizes {sizes}, batch {batch})")
    profile = cProfile.Profile()
    profile.runcall(run, systems["multigrad"].step)
    pstats.Stats(profile).sort_stats("tottime").print_stats(args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
