"""Workload 1, tape overhead: a chain of small elementwise ops on a 16-element float64 vector.

Per-op microseconds for the forward without recording, the forward with recording, and the
forward plus backward, each against the hand-written reference doing the same work (its
"recording" keeps the tanh outputs that its backward needs).
"""

from __future__ import annotations

import numpy as np

from . import _chain
from ._common import time_systems, verify

MODES = (("forward", "forward, no recording"), ("record", "forward with recording"),
         ("grad", "forward + backward"))


def run(ctx) -> None:
    n_ops = ctx.pick(2000, 2000, 60)
    rounds = ctx.pick(21, 7, 2)
    values = np.linspace(-1.0, 1.0, 16)
    systems, skipped = _chain.build(ctx, values, n_ops)
    errors, failed = verify(ctx, "tape overhead", {n: s["grad"] for n, s in systems.items()})
    skipped.update(failed)
    for mode, metric in MODES:
        calls = {n: s[mode] for n, s in systems.items() if n in errors and mode in s}
        unable = {n: "cannot run this mode separately" for n in systems
                  if n in errors and mode not in systems[n]}
        time_systems(ctx, "tape overhead", metric, "us/op", 1e6 / n_ops, calls, errors,
                     {**skipped, **unable}, rounds)
