"""The multilayer perceptron behind workloads 2 (training step) and 6 (peak memory).

ReLU hidden layers, a linear output, the softmax cross-entropy against one-hot labels averaged
over the batch, and one step of plain SGD. Every system starts from the same weights (drawn on
the host, then moved), and ``step()`` returns ``[loss, *gradients]`` of that step, so the first
call of each system can be checked against the reference's. ``reset()`` drops what a system
keeps between steps (gradients stored on its parameters), for the memory measurement.
"""

from __future__ import annotations

import numpy as np

import multigrad as mg

from ._common import (COMPILED, REFERENCE, AutogradTrainingStep, JaxTrainingStep, Unavailable,
                      build_systems, reference_module, torch_device)

LEARNING_RATE = 0.01


def problem(sizes, batch: int, seed: int = 0):
    """Host data: inputs, one-hot labels, and He-initialised weights with zero biases."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0]), dtype=np.float32)
    onehot = np.eye(sizes[-1], dtype=np.float32)[rng.integers(0, sizes[-1], batch)]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = rng.standard_normal((fan_in, fan_out), dtype=np.float32) * np.float32(
            np.sqrt(2 / fan_in))
        params += [w, np.zeros(fan_out, dtype=np.float32)]
    return x, onehot, params


class Reference:
    """Forward and backward written by hand against the device's own array library."""

    def __init__(self, ctx, x, onehot, params):
        self.xp = reference_module(ctx.device)
        put = ctx.device.from_host
        self.x, self.onehot = put(x), put(onehot)
        self.params = [put(p) for p in params]

    def step(self):
        xp, batch = self.xp, self.x.shape[0]
        weights, biases = self.params[0::2], self.params[1::2]
        inputs, pre = [self.x], []
        for w, b in zip(weights[:-1], biases[:-1]):
            z = inputs[-1] @ w + b
            pre.append(z)
            inputs.append(xp.maximum(z, 0.0))
        logits = inputs[-1] @ weights[-1] + biases[-1]
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=1, keepdims=True)
        loss = -xp.sum(self.onehot * (shifted - xp.log(total))) / batch
        g = (e / total - self.onehot) / batch  # d loss / d logits
        grads = []
        for k in reversed(range(len(weights))):
            grads[:0] = [inputs[k].T @ g, xp.sum(g, axis=0)]
            if k:
                # a product with the mask: NumPy's where branches on every element and is
                # about 12x slower on ReLU's unpredictable mask
                g = (g @ weights[k].T) * xp.astype(pre[k - 1] > 0, g.dtype)
        for p, gp in zip(self.params, grads):
            p -= LEARNING_RATE * gp
        return [loss, *grads]

    def reset(self):
        pass


class Multigrad:
    activation = staticmethod(mg.relu)

    def __init__(self, ctx, x, onehot, params):
        dev = ctx.device
        self.x, self.onehot = mg.tensor(x, device=dev), mg.tensor(onehot, device=dev)
        self.params = [mg.tensor(p, device=dev, requires_grad=True) for p in params]

    def step(self):
        weights, biases = self.params[0::2], self.params[1::2]
        h = self.x
        for w, b in zip(weights[:-1], biases[:-1]):
            h = self.activation(h @ w + b)
        logits = h @ weights[-1] + biases[-1]
        loss = -mg.sum(self.onehot * mg.log_softmax(logits, axis=1)) / self.x.shape[0]
        self.reset()
        loss.backward()
        with mg.no_grad():
            for p in self.params:
                p -= LEARNING_RATE * p.grad
        return [loss, *(p.grad for p in self.params)]

    def reset(self):
        for p in self.params:
            p.grad = None


class MultigradCompiled(Multigrad):
    """The same step, compiled: recorded on its first call, replayed as a program after."""

    def __init__(self, ctx, x, onehot, params):
        super().__init__(ctx, x, onehot, params)
        self.step = mg.compile(super().step)


class Torch:
    def __init__(self, ctx, x, onehot, params):
        import torch

        where = torch_device(ctx.device)
        if where is None:
            raise Unavailable(f"torch has no device matching {ctx.device.name}")
        self.torch = torch
        self.x = torch.tensor(x, device=where)
        self.onehot = torch.tensor(onehot, device=where)
        self.params = [torch.tensor(p, device=where, requires_grad=True) for p in params]

    def step(self):
        torch = self.torch
        weights, biases = self.params[0::2], self.params[1::2]
        h = self.x
        for w, b in zip(weights[:-1], biases[:-1]):
            h = torch.relu(h @ w + b)
        logits = h @ weights[-1] + biases[-1]
        loss = -torch.sum(self.onehot * torch.log_softmax(logits, dim=1)) / self.x.shape[0]
        self.reset()
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= LEARNING_RATE * p.grad
        return [loss, *(p.grad for p in self.params)]

    def reset(self):
        for p in self.params:
            p.grad = None


def _loss(np_, params, x, onehot, log_softmax):
    weights, biases = params[0::2], params[1::2]
    h = x
    for w, b in zip(weights[:-1], biases[:-1]):
        h = np_.maximum(h @ w + b, 0.0)
    logits = h @ weights[-1] + biases[-1]
    return -np_.sum(onehot * log_softmax(logits)) / x.shape[0]


class Autograd(AutogradTrainingStep):
    """HIPS autograd: numpy code differentiated by tracing."""

    def __init__(self, ctx, x, onehot, params):
        import autograd.numpy as anp

        def log_softmax(z):
            shifted = z - anp.max(z, axis=1, keepdims=True)
            return shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))

        super().__init__(ctx, lambda ps: _loss(anp, ps, x, onehot, log_softmax), params,
                         LEARNING_RATE)


class Jax(JaxTrainingStep):
    """JAX with the whole step (loss, gradients, update) compiled by jit."""

    def __init__(self, ctx, x, onehot, params):
        import jax
        import jax.numpy as jnp

        super().__init__(ctx, lambda ps, x, y: _loss(
            jnp, ps, x, y, lambda z: jax.nn.log_softmax(z, axis=1)), x, onehot, params,
            LEARNING_RATE)


SYSTEMS = {REFERENCE: Reference, "multigrad": Multigrad, COMPILED: MultigradCompiled,
           "torch": Torch, "autograd": Autograd, "jax": Jax}


def build(ctx, sizes, batch, exclude: dict | None = None) -> tuple[dict, dict]:
    """One network per available system, all from the same starting point, and the reason for
    each system left out (``exclude`` maps systems left out on purpose to the reason)."""
    # fresh host arrays for each: the reference updates its weights in place, and some
    # libraries share memory with the NumPy array they were made from
    return build_systems(ctx, lambda name: SYSTEMS[name](ctx, *problem(sizes, batch)), exclude)
