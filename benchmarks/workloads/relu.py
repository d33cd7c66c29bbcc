"""Workload 7, ReLU spellings: the MLP step of workload 2 with its ReLU written four ways.

``mg.relu(h)``, ``mg.maximum(h, 0.0)``, ``mg.where(h > 0, h, 0.0)`` and ``mg.clip(h, 0.0)``
compute the same thing; a natural spelling must not cost more than the idiomatic one. Each is
timed eager and compiled, against ``mg.relu`` eager in the same rounds (the "reference" row of
this workload). At a tie (``h == 0``) ``maximum`` and ``clip`` split the gradient evenly
(documented), ``relu`` and ``where`` give it to neither side; the random data has no ties, so
every spelling's gradients equal the reference's.
"""

from __future__ import annotations

import multigrad as mg

from . import _network
from ._common import REFERENCE, record, verify, warm_compiled
from .._timing import interleaved

SPELLINGS = {
    "relu": mg.relu,
    "maximum": lambda h: mg.maximum(h, 0.0),
    "where": lambda h: mg.where(h > 0, h, 0.0),
    "clip": lambda h: mg.clip(h, 0.0),
}


class Spelled(_network.Multigrad):
    """The multigrad MLP step with ``activation`` in place of ``mg.relu``."""

    def __init__(self, ctx, x, onehot, params, activation, compiled):
        super().__init__(ctx, x, onehot, params)
        self.activation = activation
        if compiled:
            self.step = mg.compile(self.step)


def run(ctx) -> None:
    if not ctx.on_cpu and ctx.device.library != "cupy":
        return
    sizes, batch = ctx.pick(((784, 512, 512, 10), 256), ((784, 512, 512, 10), 256),
                            ((12, 16, 16, 4), 8))
    rounds = ctx.pick(21, 7, 2)
    systems = {}
    for name, activation in SPELLINGS.items():
        for compiled in (False, True):
            label = REFERENCE if (name, compiled) == ("relu", False) else (
                f"{name}{' compiled' if compiled else ''}")
            systems[label] = Spelled(ctx, *_network.problem(sizes, batch), activation,
                                     compiled).step
    errors, failed = verify(ctx, "ReLU spellings", systems)
    calls = {n: s for n, s in systems.items() if n in errors}
    warm_compiled(calls)
    samples = interleaved(calls, rounds, ctx.device.synchronize, ctx.progress,
                          f"ReLU spellings [{ctx.device.name}, {ctx.threads} thr]",
                          long_run=ctx.profile != "smoke")
    record(ctx, "ReLU spellings", "MLP step, ReLU spelled as", "ms", 1e3, samples, errors,
           failed, reference="mg.relu eager")
