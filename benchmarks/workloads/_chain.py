"""The chain of small elementwise ops behind workloads 1 (tape overhead) and 5 (deep graph).

Multiply by a constant, add a constant, tanh, in turn; then the sum and its gradient. Each
system builds three callables: ``forward`` (no recording), ``record`` (forward with recording)
and ``grad`` (forward plus backward, returning ``[loss, gradient]``); a system that cannot
separate a mode leaves it out.
"""

from __future__ import annotations

import multigrad as mg

from ._common import (COMPILED, REFERENCE, Unavailable, build_systems, jax_device,
                      reference_module, torch_device)

SCALE, SHIFT = 1.05, 0.01


def chain(x, n_ops: int, tanh):
    """The chain of ``n_ops`` ops written once for any array type with operators."""
    for i in range(n_ops):
        step = i % 3
        if step == 0:
            x = x * SCALE
        elif step == 1:
            x = x + SHIFT
        else:
            x = tanh(x)
    return x


def _reference(ctx, values, n_ops):
    xp = reference_module(ctx.device)
    x = ctx.device.from_host(values)

    def record():
        saved, y = [], x
        for i in range(n_ops):
            step = i % 3
            if step == 0:
                y = y * SCALE
            elif step == 1:
                y = y + SHIFT
            else:
                y = xp.tanh(y)
                saved.append(y)  # what the backward pass needs: d tanh = 1 - tanh**2
        return xp.sum(y), saved

    def grad():
        loss, saved = record()
        g = xp.ones_like(x)
        for i in reversed(range(n_ops)):
            step = i % 3
            if step == 0:
                g = g * SCALE
            elif step == 2:
                y = saved.pop()
                g = g * (1 - y * y)
        return [loss, g]

    return {"forward": lambda: xp.sum(chain(x, n_ops, xp.tanh)), "record": record,
            "grad": grad}


def _multigrad(ctx, values, n_ops):
    const = mg.tensor(values, device=ctx.device)
    leaf = mg.tensor(values, device=ctx.device, requires_grad=True)

    def grad():
        leaf.grad = None
        loss = mg.sum(chain(leaf, n_ops, mg.tanh))
        loss.backward()
        return [loss, leaf.grad]

    return {"forward": lambda: mg.sum(chain(const, n_ops, mg.tanh)),
            "record": lambda: mg.sum(chain(leaf, n_ops, mg.tanh)), "grad": grad}


def _compiled(ctx, values, n_ops):
    # the eager system's callables, each recorded on its first call and replayed after
    eager = _multigrad(ctx, values, n_ops)
    return {"forward": mg.compile(eager["forward"]), "grad": mg.compile(eager["grad"])}


def _torch(ctx, values, n_ops):
    import torch

    where = torch_device(ctx.device)
    if where is None:
        raise Unavailable(f"torch has no device matching {ctx.device.name}")
    const = torch.tensor(values, device=where)
    leaf = torch.tensor(values, device=where, requires_grad=True)

    def grad():
        leaf.grad = None
        loss = torch.sum(chain(leaf, n_ops, torch.tanh))
        loss.backward()
        return [loss, leaf.grad]

    return {"forward": lambda: torch.sum(chain(const, n_ops, torch.tanh)),
            "record": lambda: torch.sum(chain(leaf, n_ops, torch.tanh)), "grad": grad}


def _autograd(ctx, values, n_ops):
    if ctx.device.library != "numpy":
        raise Unavailable("HIPS autograd runs on NumPy (cpu) only")
    import autograd
    import autograd.numpy as anp

    value_and_grad = autograd.value_and_grad(lambda x: anp.sum(chain(x, n_ops, anp.tanh)))
    # HIPS autograd records only inside its grad: there is no separate recording forward
    return {"forward": lambda: anp.sum(chain(values, n_ops, anp.tanh)),
            "grad": lambda: list(value_and_grad(values))}


def _jax(ctx, values, n_ops):
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)  # the chain is float64; jax defaults to float32
    where = jax_device(ctx.device)
    if where is None:
        raise Unavailable(f"jax has no device matching {ctx.device.name}")
    x = jax.device_put(jnp.asarray(values), where)
    # eager (op by op, no jit): jit would fuse the chain into one kernel and measure no tape
    value_and_grad = jax.value_and_grad(lambda x: jnp.sum(chain(x, n_ops, jnp.tanh)))

    def grad():
        loss, g = value_and_grad(x)
        return [loss, g.block_until_ready()]

    return {"forward": lambda: jnp.sum(chain(x, n_ops, jnp.tanh)).block_until_ready(),
            "grad": grad}


_SYSTEMS = {REFERENCE: _reference, "multigrad": _multigrad, COMPILED: _compiled,
            "torch": _torch, "autograd": _autograd, "jax": _jax}


def build(ctx, values, n_ops: int, exclude: dict | None = None) -> tuple[dict, dict]:
    """Each available system's callables, and the reason for each system left out.

    ``exclude`` maps systems this workload leaves out on purpose to the reason.
    """
    return build_systems(ctx, lambda name: _SYSTEMS[name](ctx, values, n_ops), exclude)
