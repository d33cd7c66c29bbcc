"""Workload 6, peak memory of one MLP training step (the network of workload 2).

Measured with ``tracemalloc`` for every system, the only method that sees all of them the same
way: NumPy reports its array buffers to it, so it counts every array a NumPy-based system
(the reference, multigrad on the CPU, HIPS autograd) allocates, and Python objects too.
PyTorch and XLA allocate outside Python's view, so they are left out rather than measured
another way; GPU memory is not measured.
"""

from __future__ import annotations

from .._timing import peak_bytes
from . import _network
from ._common import record, verify, warm_compiled

_LEFT_OUT = {
    "torch": "left out: its allocator is invisible to tracemalloc (the method used for all)",
    "jax": "left out: XLA's allocator is invisible to tracemalloc (the method used for all)",
}


def run(ctx) -> None:
    if not ctx.on_cpu:
        return  # tracemalloc sees host memory only
    sizes, batch = ctx.pick(((784, 512, 512, 10), 256), ((784, 512, 512, 10), 256),
                            ((12, 16, 16, 4), 8))
    repeats = ctx.pick(3, 1, 1)
    systems, skipped = _network.build(ctx, sizes, batch, exclude=_LEFT_OUT)
    errors, failed = verify(ctx, "peak memory", {n: s.step for n, s in systems.items()})
    skipped.update(failed)
    warm_compiled({n: s.step for n, s in systems.items() if n in errors})
    samples = {n: peak_bytes(s.step, s.reset, repeats) for n, s in systems.items()
               if n in errors}
    ctx.progress("peak memory: " + ", ".join(f"{n} {max(v) / 2**20:.2f} MiB"
                                             for n, v in samples.items()))
    record(ctx, "peak memory", "MLP step (tracemalloc)", "MiB", 2.0 ** -20, samples, errors,
           skipped, kind="memory")
