"""Workload 4, Hessian-vector product: the Rosenbrock function of 1,000 float64 variables.

Three metrics, each against the hand-written reference: the gradient, the Hessian-vector
product by forward over reverse (``jvp`` of the gradient) and by reverse over reverse (the
gradient of ``<gradient, v>``). The reference writes the gradient and the product with the
tridiagonal Hessian by hand, without forming it; it is the floor of both products. The point
and the vector are drawn on the host with a fixed seed, and every system's gradient and
product are checked against the reference's before timing.
"""

from __future__ import annotations

import numpy as np

import multigrad as mg

from ._common import (COMPILED, REFERENCE, Unavailable, build_systems, jax_device,
                      reference_module, time_systems, torch_device, verify)

WORKLOAD = "Hessian-vector product"
#: mode -> metric; the reference's one product serves both product metrics
MODES = (("grad", "gradient"), ("fwd_rev", "HVP, forward over reverse"),
         ("rev_rev", "HVP, reverse over reverse"))


def rosenbrock(x, sum):
    """sum_i 100 (x[i+1] - x[i]**2)**2 + (1 - x[i])**2, written once for any array type."""
    head, tail = x[:-1], x[1:]
    return sum(100 * (tail - head ** 2) ** 2 + (1 - head) ** 2)


def problem(n: int, seed: int = 0):
    """Host data: the point and the direction, float64."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(n), rng.standard_normal(n)


def _reference(ctx, x, v):
    xp = reference_module(ctx.device)
    x, v = ctx.device.from_host(x), ctx.device.from_host(v)
    head, tail, v_head, v_tail = x[:-1], x[1:], v[:-1], v[1:]

    def gather(on_head, on_tail):
        """Sum each term's derivatives with respect to its x[i] (head) and x[i+1] (tail)."""
        out = xp.zeros_like(x)
        out[:-1] = on_head
        out[1:] += on_tail
        return out

    def grad():
        r = tail - head * head
        return [gather(-400 * head * r - 2 * (1 - head), 200 * r)]

    def hvp():
        # each term's Hessian block: [[1200 a**2 - 400 b + 2, -400 a], [-400 a, 200]]
        cross = -400 * head
        return [gather((1200 * head * head - 400 * tail + 2) * v_head + cross * v_tail,
                       cross * v_head + 200 * v_tail)]

    return {"grad": grad, "fwd_rev": hvp, "rev_rev": hvp}


def _multigrad(ctx, x, v):
    def f(x):
        return rosenbrock(x, mg.sum)

    point, vector = mg.tensor(x, device=ctx.device), mg.tensor(v, device=ctx.device)
    leaf = mg.tensor(x, device=ctx.device, requires_grad=True)
    gradient = mg.grad(f)

    def fwd_rev():
        _, (hv,) = mg.hvp(f, (point,), (vector,))
        return [hv]

    def rev_rev():
        (g,) = mg.autograd.grad(f(leaf), leaf, create_graph=True)
        return list(mg.autograd.grad(g, leaf, grad_outputs=vector))

    return {"grad": lambda: [gradient(point)], "fwd_rev": fwd_rev, "rev_rev": rev_rev}


def _compiled(ctx, x, v):
    # the eager system's callables, each recorded on its first call and replayed after
    return {mode: mg.compile(run) for mode, run in _multigrad(ctx, x, v).items()}


def _torch(ctx, x, v):
    import torch

    where = torch_device(ctx.device)
    if where is None:
        raise Unavailable(f"torch has no device matching {ctx.device.name}")

    def f(x):
        return rosenbrock(x, torch.sum)

    point, vector = torch.tensor(x, device=where), torch.tensor(v, device=where)
    leaf = torch.tensor(x, device=where, requires_grad=True)
    gradient = torch.func.grad(f)

    def fwd_rev():
        _, hv = torch.func.jvp(gradient, (point,), (vector,))
        return [hv]

    def rev_rev():
        (g,) = torch.autograd.grad(f(leaf), leaf, create_graph=True)
        return list(torch.autograd.grad(g, leaf, grad_outputs=vector))

    return {"grad": lambda: list(torch.autograd.grad(f(leaf), leaf)), "fwd_rev": fwd_rev,
            "rev_rev": rev_rev}


def _autograd(ctx, x, v):
    if ctx.device.library != "numpy":
        raise Unavailable("HIPS autograd runs on NumPy (cpu) only")
    import autograd
    import autograd.numpy as anp

    def f(x):
        return rosenbrock(x, anp.sum)

    gradient = autograd.grad(f)
    jvp_of_gradient = autograd.make_jvp(gradient)
    # hessian_vector_product is the gradient of <gradient, v>: reverse over reverse
    rev_rev = autograd.hessian_vector_product(f)
    return {"grad": lambda: [gradient(x)], "fwd_rev": lambda: [jvp_of_gradient(x)(v)[1]],
            "rev_rev": lambda: [rev_rev(x, v)]}


def _jax(ctx, x, v):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # the problem is float64; jax defaults to float32
    where = jax_device(ctx.device)
    if where is None:
        raise Unavailable(f"jax has no device matching {ctx.device.name}")

    def f(x):
        return rosenbrock(x, jnp.sum)

    gradient = jax.grad(f)
    grad = jax.jit(gradient)
    fwd_rev = jax.jit(lambda x, v: jax.jvp(gradient, (x,), (v,))[1])
    rev_rev = jax.jit(lambda x, v: jax.grad(lambda y: jnp.vdot(gradient(y), v))(x))
    point, vector = jax.device_put(x, where), jax.device_put(v, where)
    return {"grad": lambda: [grad(point).block_until_ready()],
            "fwd_rev": lambda: [fwd_rev(point, vector).block_until_ready()],
            "rev_rev": lambda: [rev_rev(point, vector).block_until_ready()]}


_SYSTEMS = {REFERENCE: _reference, "multigrad": _multigrad, COMPILED: _compiled,
            "torch": _torch, "autograd": _autograd, "jax": _jax}


def repeated(call, times: int):
    """``call`` made ``times`` times, timed as one sample. A call takes tens of microseconds;
    timed alone, right after the collection that precedes each sample, it measured about
    twice its time in a loop, the reference and the peers alike."""
    def calls():
        for _ in range(times):
            call()

    return calls


def run(ctx) -> None:
    n = ctx.pick(1000, 1000, 8)
    rounds = ctx.pick(21, 7, 2)
    calls_per_sample = ctx.pick(50, 20, 1)
    x, v = problem(n)
    systems, skipped = build_systems(ctx, lambda name: _SYSTEMS[name](ctx, x, v))
    for mode, metric in MODES:
        errors, failed = verify(ctx, f"{WORKLOAD} / {metric}",
                                {s: c[mode] for s, c in systems.items()})
        calls = {s: repeated(c[mode], calls_per_sample) for s, c in systems.items()
                 if s in errors}
        time_systems(ctx, WORKLOAD, metric, "us", 1e6 / calls_per_sample, calls, errors,
                     {**skipped, **failed}, rounds)
