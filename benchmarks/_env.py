"""The environment a measurement runs in: thread counts, the BLAS kernel, the peers present.

Thread counts are pinned per worker process: the parent sets the usual environment variables
before the worker imports numpy (so every BLAS and OpenMP pool starts at that size), and the
worker then also limits the pools through threadpoolctl when it is installed, and torch's own.
"""

from __future__ import annotations

import importlib.util
import os
import platform

#: variables read by OpenBLAS, MKL, OpenMP, Accelerate and numexpr when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

#: every peer the harness knows; "numpy" names the hand-written reference, always measured
PEERS = ("numpy", "torch", "autograd", "jax")

# import name of each optional peer (HIPS autograd's distribution is also called autograd)
_MODULES = {"torch": "torch", "autograd": "autograd", "jax": "jax"}


def thread_environment(threads: int, base: dict | None = None) -> dict:
    """A copy of ``base`` (the current environment) with every thread pool pinned."""
    env = dict(os.environ if base is None else base)
    for name in THREAD_VARIABLES:
        env[name] = str(threads)
    if threads == 1:
        # XLA's CPU backend reads no OMP variable; these flags give it one intra-op thread
        flags = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " " + flags).strip()
    return env


def pin_threads(threads: int, peers) -> dict:
    """Limit this process's thread pools to ``threads``; say how, and which BLAS runs."""
    method = "environment variables " + ", ".join(THREAD_VARIABLES)
    controller = None
    if importlib.util.find_spec("threadpoolctl") is not None:
        import threadpoolctl
        controller = threadpoolctl.threadpool_limits(threads)
        method += " + threadpoolctl"
    if "torch" in peers:
        import torch
        torch.set_num_threads(threads)
        method += " + torch.set_num_threads"
    return {"threads": threads, "method": method, "blas": blas_kernels(),
            "_controller": controller}


def blas_kernels() -> list[str]:
    """The BLAS libraries loaded, with the kernel each runs and its thread count."""
    import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl can see it)

    if importlib.util.find_spec("threadpoolctl") is None:
        return ["unknown (install threadpoolctl to see the BLAS kernel)"]
    import threadpoolctl
    return [f"{p.get('internal_api')} {p.get('version')} kernel {p.get('architecture', '?')}, "
            f"{p.get('num_threads')} thread(s)"
            for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]


def choose_peers(requested) -> tuple[list[str], dict[str, str]]:
    """The requested peers that are installed, and why each other one is skipped."""
    chosen, skipped = [], {}
    for name in requested:
        if name not in PEERS:
            raise SystemExit(f"benchmarks: unknown peer {name!r}; known: {', '.join(PEERS)}")
        if name == "numpy" or importlib.util.find_spec(_MODULES[name]) is not None:
            chosen.append(name)
        else:
            skipped[name] = "not installed (pip install -e '.[bench]')"
    return chosen, skipped


def machine() -> dict:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas_env = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                if k in os.environ}
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "versions": versions(),
            "openblas_overrides": blas_env}


def versions() -> dict:
    from importlib import metadata
    found = {}
    for dist in ("numpy", "array-api-compat", "array-api-strict", "cupy-cuda12x",
                 "cupy-cuda13x", "torch", "autograd", "jax", "threadpoolctl"):
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return found
