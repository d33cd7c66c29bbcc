"""Workload 5, deep graph: a chain of a million elementwise ops on a one-element array.

Forward plus backward, per op; that it completes at all shows the reverse pass needs no
recursion and the tape no more memory than the saved values.
"""

from __future__ import annotations

import numpy as np

from . import _chain
from ._common import time_systems, verify

_LEFT_OUT = {
    # both are timed per op in the tape-overhead workload; a million ops take them minutes
    "autograd": "left out: HIPS autograd needs about 30 us per op (see tape overhead), half a "
                "minute per million-op call",
    "jax": "left out: eager JAX dispatches each op separately (see tape overhead), and jit "
           "would compile a million-op program",
    "multigrad compiled": "left out: tape overhead measures a compiled chain per op; recording "
                          "a million ops keeps every intermediate array until the program is "
                          "built (minutes)",
}


def run(ctx) -> None:
    n_ops = ctx.pick(1_000_000, 50_000, 300)  # quick: within ci/gpu.sh's 90 s on a GPU
    rounds = ctx.pick(3, 1, 1)
    values = np.array([0.5])
    systems, skipped = _chain.build(ctx, values, n_ops, exclude=_LEFT_OUT)
    errors, failed = verify(ctx, f"deep graph ({n_ops:,} ops)",
                            {n: s["grad"] for n, s in systems.items()})
    skipped.update(failed)
    calls = {n: s["grad"] for n, s in systems.items() if n in errors}
    time_systems(ctx, "deep graph", f"forward + backward, {n_ops:,} ops", "us/op",
                 1e6 / n_ops, calls, errors, skipped, rounds)
