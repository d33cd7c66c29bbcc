"""Workload 2, MLP training step: batch 256, float32, layers 784-512-512-10, ReLU, softmax
cross-entropy, plain SGD; and on a GPU also a large variant (batch 4096, 4096 wide, 4 layers).
"""

from __future__ import annotations

from . import _network
from ._common import time_systems, verify


def variants(ctx):
    """(name, layer sizes, batch) of each network measured on this device."""
    small = ctx.pick(((784, 512, 512, 10), 256), ((784, 512, 512, 10), 256),
                     ((12, 16, 16, 4), 8))
    found = [("784-512-512-10, batch 256" if ctx.profile != "smoke" else "smoke", *small)]
    if ctx.device.library == "cupy":
        found.append(("large: 4096 x 4 layers, batch 4096", (4096,) * 4 + (10,), 4096))
    return found


def run(ctx) -> None:
    rounds = ctx.pick(21, 7, 2)
    for name, sizes, batch in variants(ctx):
        systems, skipped = _network.build(ctx, sizes, batch)
        errors, failed = verify(ctx, f"MLP step {name}",
                                {n: s.step for n, s in systems.items()})
        skipped.update(failed)
        calls = {n: s.step for n, s in systems.items() if n in errors}
        time_systems(ctx, "MLP step", name, "ms", 1e3, calls, errors, skipped, rounds)
