"""Soak: long runs of small steps must not grow memory.

Each kind of step (a training step with Adam, a transform, a second-order backward, a
checkpointed step, a forward-mode pass) runs for a warm-up, then for measured rounds of
1,000 steps; between rounds, the live objects the garbage collector tracks (tensors, nodes,
closures) and the bytes NumPy and Python hold (tracemalloc) must stay flat. The normal run
does one round of 500 steps per kind; ``pytest -m slow`` runs 10,000 steps and also watches
the process's resident memory.
"""

from __future__ import annotations

import gc
import os
import tracemalloc

import numpy as np
import pytest

import multigrad as mg

#: growth allowed per 1,000 steps: objects tracked by the collector, and traced bytes
OBJECTS_PER_1000 = 50
BYTES_PER_1000 = 64 * 1024
#: resident memory growth allowed per 1,000 steps in the long run (the allocator's caching
#: makes it coarser than tracemalloc)
RSS_PER_1000 = 1 << 20


def _mlp_step():
    model = mg.nn.Sequential(mg.nn.Linear(8, 16, seed=0, dtype=mg.float64), mg.nn.ReLU(),
                             mg.nn.Linear(16, 2, seed=1, dtype=mg.float64))
    opt = mg.optim.Adam(model.parameters(), lr=1e-3)
    x = mg.asarray(np.random.default_rng(0).standard_normal((4, 8)))
    labels = mg.asarray(np.array([0, 1, 1, 0]))

    def step():
        opt.zero_grad()
        mg.nn.functional.cross_entropy(model(x), labels).backward()
        opt.step()
    return step


def _transform_step():
    f = lambda a: mg.sum(mg.tanh(a) ** 2)  # noqa: E731
    x, v = mg.tensor([0.1, 0.2, 0.3]), mg.tensor([1.0, 0.0, -1.0])
    return lambda: (mg.grad(f)(x), mg.hvp(f, (x,), (v,)))


def _second_order_step():
    w = mg.tensor([0.5, -0.5], requires_grad=True)

    def step():
        (g,) = mg.autograd.grad(mg.sum(mg.exp(w) * w), [w], create_graph=True)
        mg.sum(g * g).backward()
        w.grad = None
    return step


def _checkpoint_step():
    w = mg.tensor([[0.1, 0.2], [0.3, 0.4]], requires_grad=True)
    x = mg.tensor([[1.0, -1.0]])

    def step():
        h = mg.checkpoint(lambda a, b: mg.tanh(a @ b), x, w)
        mg.sum(h).backward()
        w.grad = None
    return step


def _forward_mode_step():
    x, v = mg.tensor([0.5, 1.5]), mg.tensor([1.0, 1.0])
    return lambda: mg.jvp(lambda a: mg.sin(a) * mg.exp(a), (x,), (v,))


STEPS = {"mlp-adam": _mlp_step, "grad-and-hvp": _transform_step,
         "second-order": _second_order_step, "checkpoint": _checkpoint_step,
         "jvp": _forward_mode_step}


def _live_objects() -> int:
    gc.collect()
    return len(gc.get_objects())


def _resident_bytes() -> int:
    with open(f"/proc/{os.getpid()}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _soak(step, rounds: int, steps: int = 1000, watch_rss: bool = False) -> None:
    """``rounds`` rounds of ``steps`` steps after a warm-up; growth is judged per 1,000."""
    for _ in range(100):  # warm-up: caches of kernels, devices and dtypes fill here
        step()
    tracemalloc.start()
    try:
        objects, traced = [_live_objects()], [tracemalloc.get_traced_memory()[0]]
        rss = [_resident_bytes()]
        for _ in range(rounds):
            for _ in range(steps):
                step()
            objects.append(_live_objects())
            traced.append(tracemalloc.get_traced_memory()[0])
            rss.append(_resident_bytes())
    finally:
        tracemalloc.stop()
    # the growth of the last round, and the average over all of them
    for name, series, bound in (("live objects", objects, OBJECTS_PER_1000),
                                ("traced bytes", traced, BYTES_PER_1000)):
        per_1000 = (series[-1] - series[0]) / rounds * 1000 / steps
        assert per_1000 <= bound, f"{name} grew by {per_1000:.0f} per 1,000 steps: {series}"
    if watch_rss:  # from the end of the first round: the allocator settles during it
        per_1000 = (rss[-1] - rss[1]) / max(rounds - 1, 1) * 1000 / steps
        assert per_1000 <= RSS_PER_1000, f"resident memory grew {per_1000:.0f} B per 1,000 " \
                                         f"steps: {rss}"


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_five_hundred_steps_hold_memory_flat(kind):
    _soak(STEPS[kind](), rounds=1, steps=500)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(STEPS))
def test_ten_thousand_steps_hold_memory_flat(kind):
    _soak(STEPS[kind](), rounds=10, watch_rss=True)
