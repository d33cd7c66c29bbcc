"""What every workload shares: the run's context, each system's arrays, recording results."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from .._timing import check, interleaved

REFERENCE = "reference"
#: multigrad with the step compiled by ``mg.compile`` (recorded once, replayed as a program)
COMPILED = "multigrad compiled"
#: calls of a compiled system before it is measured: a program is optimized and built on its
#: first replay, runs as generated source from its second, and has its guard written as code
#: once a walk has found it 8 times; ten calls reach all three
COMPILED_WARM_CALLS = 10


@dataclass
class Context:
    """One worker's settings: a device, a thread count, the size profile and the peers."""

    device: object  # a multigrad Device
    threads: int
    profile: str  # "full", "quick" or "smoke"
    peers: list
    progress: Callable[[str], None] = print
    cases: list = field(default_factory=list)

    def pick(self, full, quick, smoke):
        """The value for this run's size profile."""
        return {"full": full, "quick": quick, "smoke": smoke}[self.profile]

    @property
    def on_cpu(self) -> bool:
        return self.device.library in ("numpy", "array_api_strict")


def reference_module(device):
    """The array library the hand-written reference is written in, for this device."""
    return importlib.import_module({"numpy": "numpy", "cupy": "cupy"}.get(device.library,
                                                                          device.library))


def standard_module(device):
    """The device's library as a namespace of the array API standard, for a reference written
    against the standard: NumPy 2 and array_api_strict are one; CuPy's own namespace lacks
    parts of it (``device=``, ``astype``), so its array-api-compat wrapper stands in."""
    if device.library == "cupy":
        return device.xp
    return reference_module(device)


def reference_label(device) -> str:
    return f"{device.library} (hand-written)"


def torch_device(device) -> str | None:
    """The torch device matching a multigrad device, or None where torch cannot run there."""
    if device.library == "numpy":
        return "cpu"
    if device.library == "cupy":
        import torch
        if not torch.cuda.is_available():
            return None
        # full float32, as every other system computes: PyTorch's convolutions default to
        # TF32 on GPUs that have it (10 mantissa bits), which would fail the check
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        return device.name
    return None


def jax_device(device):
    """The jax device matching a multigrad device, or None."""
    import jax
    # full float32 products, as every other system computes: on GPUs XLA's default is TF32
    jax.config.update("jax_default_matmul_precision", "highest")
    if device.library == "numpy":
        return jax.devices("cpu")[0]
    if device.library == "cupy":
        try:
            return jax.devices("gpu")[int(device.name.partition(":")[2] or 0)]
        except (RuntimeError, IndexError):
            return None
    return None


def host(x):
    """A NumPy copy of an array of any of the systems (for checking results)."""
    import numpy as np

    module = type(x).__module__.split(".")[0]
    if module == "multigrad":
        return x.numpy()
    if module == "torch":
        return x.detach().cpu().numpy()
    if module == "cupy":
        return x.get()
    if module == "array_api_strict":
        import array_api_strict as xps
        return np.asarray(xps.asarray(x, device=xps.Device("CPU_DEVICE"), copy=True))
    return np.asarray(x)


def verify(ctx: Context, label: str, runs: dict) -> tuple[dict, dict]:
    """Run each system once (its warm-up) and check its loss and gradients.

    ``runs`` maps a system to a callable returning ``[loss, *gradients]``; the reference must
    be among them. Returns the errors of the systems that agree and why each other one fails.
    """
    results = {name: [host(v) for v in run()] for name, run in runs.items()}
    ctx.device.synchronize()
    errors, failed = check(results, REFERENCE)
    ctx.progress(f"{label}: checked against the reference: " + ", ".join(
        [f"{n} ok ({e:.1e})" for n, e in errors.items() if n != REFERENCE]
        + [f"{n} FAILED" for n in failed]))
    return errors, failed


def record(ctx: Context, workload: str, metric: str, unit: str, scale: float, samples: dict,
           errors: dict, skipped: dict, kind: str = "time", reference: str | None = None) -> None:
    """Add one measured case (one table row group) to the context's results; ``reference``
    names the reference system (default: the hand-written one of the device)."""
    ctx.cases.append({
        "workload": workload, "metric": metric, "device": ctx.device.name,
        "threads": ctx.threads, "unit": unit, "scale": scale, "kind": kind,
        "reference": reference or reference_label(ctx.device), "samples": samples,
        "errors": {n: e for n, e in errors.items() if n in samples},
        "skipped": skipped,
    })


def warm_compiled(calls: dict) -> None:
    """Bring each compiled system (``COMPILED``, or a label ending in " compiled") to the
    program it will run from then on; what the first calls cost is ``profile_compile.py``'s
    measure."""
    for name, call in calls.items():
        if name == COMPILED or name.endswith(" compiled"):
            for _ in range(COMPILED_WARM_CALLS):
                call()


def time_systems(ctx: Context, workload: str, metric: str, unit: str, scale: float,
                 calls: dict, errors: dict, skipped: dict, rounds: int) -> None:
    """Time the systems that passed the check, interleaved, and record the case."""
    warm_compiled(calls)
    samples = interleaved(calls, rounds, ctx.device.synchronize, ctx.progress,
                          f"{workload} / {metric} [{ctx.device.name}, {ctx.threads} thr]",
                          long_run=ctx.profile != "smoke")
    record(ctx, workload, metric, unit, scale, samples, errors, skipped)


class Unavailable(Exception):
    """A system cannot run this workload here; the message says why."""


def build_systems(ctx: Context, make: Callable, exclude: dict | None = None) -> tuple[dict, dict]:
    """``make(name)`` for the reference, multigrad and each requested peer, and the reason for
    each system left out: on purpose (``exclude`` maps it to the reason) or ``Unavailable``."""
    exclude = exclude or {}
    built, skipped = {}, {}
    for name in [REFERENCE, "multigrad", COMPILED] + [p for p in ctx.peers if p != "numpy"]:
        if name in exclude:
            skipped[name] = exclude[name]
            continue
        try:
            built[name] = make(name)
        except Unavailable as why:
            skipped[name] = str(why)
    return built, skipped


class JaxTrainingStep:
    """A training step compiled whole with ``jax.jit``: the loss and its gradients, then plain
    SGD. ``loss(params, x, y)`` is written with ``jax.numpy``; ``step()`` returns
    ``[loss, *gradients]`` like every system's."""

    def __init__(self, ctx, loss, x, y, params, learning_rate):
        import jax

        where = jax_device(ctx.device)
        if where is None:
            raise Unavailable(f"jax has no device matching {ctx.device.name}")
        value_and_grad = jax.value_and_grad(loss)

        @jax.jit
        def step(ps, x, y):
            value, grads = value_and_grad(ps, x, y)
            return value, grads, [p - learning_rate * g for p, g in zip(ps, grads)]

        self.jit_step = step
        self.x, self.y = jax.device_put(x, where), jax.device_put(y, where)
        self.params = [jax.device_put(p, where) for p in params]

    def step(self):
        loss, grads, self.params = self.jit_step(self.params, self.x, self.y)
        loss.block_until_ready()
        return [loss, *grads]

    def reset(self):
        pass


class AutogradTrainingStep:
    """A training step of HIPS autograd (NumPy only): ``loss(params)`` written with
    ``autograd.numpy`` and differentiated by tracing, then plain SGD in place."""

    def __init__(self, ctx, loss, params, learning_rate):
        if ctx.device.library != "numpy":
            raise Unavailable("HIPS autograd runs on NumPy (cpu) only")
        import autograd

        self.value_and_grad = autograd.value_and_grad(loss)
        self.params = [p.copy() for p in params]
        self.learning_rate = learning_rate

    def step(self):
        loss, grads = self.value_and_grad(self.params)
        for p, g in zip(self.params, grads):
            p -= self.learning_rate * g
        return [loss, *grads]

    def reset(self):
        pass
