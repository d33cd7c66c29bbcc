"""``mg.vmap`` and the batched Jacobians: three workloads, each against its alternatives.

1. **Per-example gradients** of the 784-512-512-10 ReLU MLP (float32, softmax cross-entropy),
   batch 256: ``vmap(grad(loss))`` over the examples, against one batched gradient of the
   mean loss (the work of a training step: the floor), a Python loop of one gradient per
   example, and ``torch.func.vmap(torch.func.grad(...))`` where PyTorch is installed.
2. **Jacobians** of ``f(x) = tanh(A x) * sin(x)`` from 100 to 100 variables (float64):
   ``jacrev`` and ``jacfwd``, each one batched pass, against the row-by-row loop they ran
   before (one pullback per row of the same ``vjp``; one ``jvp`` per column).
3. **Hessian** of the Rosenbrock function of 1,000 variables (float64, the dense 1000x1000
   matrix): ``mg.hessian`` against ``jax.jit(jax.hessian(f))`` and
   ``torch.func.hessian(f)`` where installed.

Every system's result is checked against multigrad's (per-example gradients also against
the loop) before timing; the systems of a workload are then timed interleaved
(``benchmarks._timing.interleaved``), and each is reported as its median time and the median
over rounds of its time over the first system's in the same round.

    python benchmarks/bench_vmap.py                  # the sizes above (a few minutes)
    python benchmarks/bench_vmap.py --quick          # small sizes: proves it runs
    python benchmarks/bench_vmap.py --peers ''       # multigrad alone
    python benchmarks/bench_vmap.py --device cuda    # on a GPU (the peers too, where they
                                                     # have one; skipped where not)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: python benchmarks/bench_vmap.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import multigrad as mg  # noqa: E402
from benchmarks._timing import interleaved, median_ratio  # noqa: E402
from benchmarks.workloads.hvp import rosenbrock  # noqa: E402


#: the peers a run compares with, where installed (``--peers``)
PEERS = {"torch", "jax"}


def _optional(name: str):
    if name not in PEERS:
        return None
    try:
        return __import__(name)
    except ImportError:
        return None


def _torch_device(torch, device):
    """The torch device matching multigrad's ``device`` ("cpu" or a CUDA GPU), or None where
    PyTorch has none (a peer on another kind of device would not be a comparison)."""
    if device.name == "cpu":
        return torch.device("cpu")
    if device.name.startswith("cuda") and torch.cuda.is_available():
        return torch.device(device.name)
    return None


def _jax_device(jax, device):
    """The JAX device matching multigrad's ``device``, or None where JAX has none."""
    kind = "cpu" if device.name == "cpu" else "gpu" if device.name.startswith("cuda") else None
    try:
        return jax.devices(kind)[0] if kind else None
    except RuntimeError:  # no such backend in this JAX
        return None


# -- 1. per-example gradients ---------------------------------------------------------------------

def mlp_problem(sizes, batch: int, seed: int = 0):
    """Host data: inputs, labels, and He-initialised weights with small biases."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    y = rng.integers(0, sizes[-1], batch)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((fan_in, fan_out), dtype=np.float32)
                      * np.float32(np.sqrt(2 / fan_in)))
        params.append(0.1 * rng.standard_normal(fan_out, dtype=np.float32))
    return x, y, params


def _mlp_loss(params, x, y):
    """Mean softmax cross-entropy of the ReLU MLP on a batch ``x`` (rows) with labels ``y``."""
    h = x
    for w, b in zip(params[0:-2:2], params[1:-2:2]):
        h = mg.relu(h @ w + b)
    logits = h @ params[-2] + params[-1]
    return mg.nn.functional.cross_entropy(logits, y)


def per_example_systems(x, y, params, device) -> dict:
    """name -> callable returning the per-example gradients (or, for the batched gradient,
    the gradients of the mean loss), on ``device``."""
    xs, ys = mg.asarray(x, device=device), mg.asarray(y, device=device)
    ps = [mg.asarray(p, device=device) for p in params]

    def one_example(p, xi, yi):  # a batch of one
        return _mlp_loss(p, mg.expand_dims(xi, axis=0), mg.expand_dims(yi, axis=0))

    per_example = mg.vmap(mg.grad(one_example), in_axes=(None, 0, 0))
    gradient = mg.grad(_mlp_loss)
    one = mg.grad(one_example)

    def looped():
        grads = [one(ps, xs[i], ys[i]) for i in range(xs.shape[0])]
        return [mg.stack([g[k] for g in grads]) for k in range(len(ps))]

    systems = {"multigrad vmap(grad)": lambda: per_example(ps, xs, ys),
               "multigrad one batched gradient": lambda: gradient(ps, xs, ys),
               "multigrad loop of gradients": looped}
    torch = _optional("torch")
    where = None if torch is None else _torch_device(torch, device)
    if where is not None:
        from torch.func import grad, vmap

        tx, ty = torch.from_numpy(x).to(where), torch.from_numpy(y).to(where)
        tp = [torch.from_numpy(p).to(where) for p in params]

        def torch_loss(p, xi, yi):
            h = xi[None]
            for w, b in zip(p[0:-2:2], p[1:-2:2]):
                h = torch.relu(h @ w + b)
            return torch.nn.functional.cross_entropy(h @ p[-2] + p[-1], yi[None])

        torch_per_example = vmap(grad(torch_loss), in_dims=(None, 0, 0))
        systems["torch.func vmap(grad)"] = lambda: torch_per_example(tp, tx, ty)
    return systems


# -- 2. Jacobians ---------------------------------------------------------------------------------

def jacobian_systems(n: int, device, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    a = mg.asarray(rng.standard_normal((n, n)) / np.sqrt(n), device=device)
    x = mg.asarray(rng.standard_normal(n), device=device)
    basis = [mg.asarray(row, device=device) for row in np.eye(n)]

    def f(x):
        return mg.tanh(a @ x) * mg.sin(x)

    def rows():  # the old jacrev: one forward, one pullback per row
        _, pullback = mg.vjp(f, x)
        return mg.stack([pullback(e)[0] for e in basis])

    def columns():  # the old jacfwd: one jvp per column
        return mg.stack([mg.jvp(f, (x,), (e,))[1] for e in basis], axis=-1)

    jacrev, jacfwd = mg.jacrev(f), mg.jacfwd(f)
    return {"jacrev (batched)": lambda: jacrev(x), "jacrev row by row": rows,
            "jacfwd (batched)": lambda: jacfwd(x), "jacfwd column by column": columns}


# -- 3. Hessian -----------------------------------------------------------------------------------

def hessian_systems(n: int, device, seed: int = 0) -> dict:
    x = np.random.default_rng(seed).standard_normal(n)
    point = mg.asarray(x, device=device)
    hessian = mg.hessian(lambda v: rosenbrock(v, mg.sum))
    systems = {"multigrad hessian": lambda: hessian(point)}
    jax = _optional("jax")
    where = None if jax is None else _jax_device(jax, device)
    if where is not None:
        import jax.numpy as jnp

        jax.config.update("jax_enable_x64", True)
        jitted = jax.jit(jax.hessian(lambda v: rosenbrock(v, jnp.sum)))
        jx = jax.device_put(x, where)
        systems["jax jit(hessian)"] = lambda: jitted(jx).block_until_ready()
    torch = _optional("torch")
    where = None if torch is None else _torch_device(torch, device)
    if where is not None:
        import torch.func

        tx = torch.from_numpy(x).to(where)
        torch_hessian = torch.func.hessian(lambda v: rosenbrock(v, torch.sum))
        systems["torch.func hessian"] = lambda: torch_hessian(tx)
    return systems


# -- running --------------------------------------------------------------------------------------

def _host(result) -> list:
    items = result if isinstance(result, (list, tuple)) else [result]
    out = []
    for r in items:
        if isinstance(r, mg.Tensor):
            r = r.numpy()
        elif hasattr(r, "detach"):  # torch
            r = r.detach().cpu().numpy()
        out.append(np.asarray(r, dtype=np.float64))
    return out


def largest_difference(got: list, want: list) -> float:
    """The largest deviation relative to the largest entry, over every array."""
    return max(float(np.max(np.abs(g - w))) / max(float(np.max(np.abs(w))), 1e-30)
               for g, w in zip(got, want, strict=True))


def measure(title: str, systems: dict, rounds: int, checks: dict, synchronize) -> dict:
    """Check, time interleaved, and print a table; returns {system: (median s, ratio)}.

    ``checks`` maps a system to the system whose result it must equal (within 1e-4 of the
    largest entry); the first system is the one the ratios are to.
    """
    results = {name: _host(run()) for name, run in systems.items()}
    for name, against in checks.items():
        diff = largest_difference(results[name], results[against])
        print(f"{title}: {name} against {against}: largest relative difference {diff:.1e}")
        if diff > 1e-4:
            raise SystemExit(f"{title}: {name} disagrees with {against} ({diff:.1e})")
    times = interleaved(systems, rounds, synchronize, lambda line: None, title)
    first = next(iter(systems))
    table = {name: (statistics.median(t), median_ratio(t, times[first]))
             for name, t in times.items()}
    print(f"\n{title}\n\n| system | median | time / {first} |\n| --- | --- | --- |")
    for name, (median, ratio) in table.items():
        print(f"| {name} | {median * 1e3:.2f} ms | {ratio:.3g} |")
    print()
    return table


def main(argv=None) -> dict:
    """Run the three workloads; returns {workload: {system: (median seconds, ratio)}}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="small sizes, two rounds")
    parser.add_argument("--peers", default="torch,jax",
                        help="comma-separated, among torch and jax (default both; '' none)")
    parser.add_argument("--device", default="cpu", help="multigrad's device (default cpu)")
    args = parser.parse_args(argv)
    device = mg.get_device(args.device)
    PEERS.clear()
    PEERS.update(p for p in args.peers.split(",") if p)
    sizes, batch, n_jac, n_hess = (784, 512, 512, 10), 256, 100, 1000
    if args.quick:
        sizes, batch, n_jac, n_hess, args.rounds = (16, 12, 12, 4), 8, 12, 20, 2
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, "
          f"{platform.processor() or platform.machine()}, multigrad on {device.name}")
    out = {}
    systems = per_example_systems(*mlp_problem(sizes, batch), device)
    checks = {"multigrad loop of gradients": "multigrad vmap(grad)"}
    if "torch.func vmap(grad)" in systems:
        checks["torch.func vmap(grad)"] = "multigrad vmap(grad)"
    out["per-example gradients"] = measure(
        f"Per-example gradients, MLP {'-'.join(map(str, sizes))}, batch {batch}, float32",
        systems, args.rounds, checks, device.synchronize)
    systems = jacobian_systems(n_jac, device)
    out["jacobians"] = measure(
        f"Jacobian of tanh(A x) * sin(x), {n_jac} -> {n_jac}, float64", systems, args.rounds,
        {"jacrev row by row": "jacrev (batched)", "jacfwd (batched)": "jacrev (batched)",
         "jacfwd column by column": "jacrev (batched)"}, device.synchronize)
    systems = hessian_systems(n_hess, device)
    out["hessian"] = measure(
        f"Hessian of the Rosenbrock function, {n_hess} variables, dense, float64", systems,
        args.rounds, {name: "multigrad hessian" for name in list(systems)[1:]},
        device.synchronize)
    return out


if __name__ == "__main__":
    main()
