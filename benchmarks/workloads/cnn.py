"""Workload 3, CNN training step: a small Conv2d/BatchNorm/MaxPool network on 28x28 inputs.

Batch 64, float32: conv 1->16 (3x3, padding 1) -> batch norm -> ReLU -> 2x2 max pool ->
conv 16->32 -> batch norm -> ReLU -> max pool -> flatten -> linear 32*7*7 -> 10, softmax
cross-entropy against class labels (mean over the batch), one step of plain SGD. Batch norm
runs in training mode (the batch's own statistics); its scale and shift are parameters, its
running statistics are not checked. The convolutions have no bias: the batch norm after each
subtracts the channel's mean, so a bias's gradient would be zero, rounding noise that no
relative check can compare. Every system starts from the same host weights, and ``step()``
returns ``[loss, *gradients]`` in the order of ``problem``'s parameters.
"""

from __future__ import annotations

import numpy as np

import multigrad as mg

from . import _conv_reference as ref
from ._common import (COMPILED, REFERENCE, AutogradTrainingStep, JaxTrainingStep, Unavailable,
                      build_systems, standard_module, time_systems, torch_device, verify)

LEARNING_RATE = 0.01
EPS = 1e-5  # batch norm's, the default of every system
CHANNELS = (1, 16, 32)
CLASSES = 10


def problem(batch: int, side: int, seed: int = 0):
    """Host data: images ``(batch, 1, side, side)``, class labels, and the parameters
    ``[conv1, gamma1, beta1, conv2, gamma2, beta2, linear weight (out, in), linear bias]``."""
    rng = np.random.default_rng(seed)

    def normal(shape, scale):
        return rng.standard_normal(shape, dtype=np.float32) * np.float32(scale)

    x = normal((batch, 1, side, side), 1.0)
    labels = rng.integers(0, CLASSES, batch)
    params = []
    for c_in, c_out in zip(CHANNELS[:-1], CHANNELS[1:]):
        # He-initialised kernels; scales and shifts away from 1 and 0, so their gradients
        # are checked at a generic point
        fan_in = c_in * ref.KERNEL**2
        params += [normal((c_out, c_in, ref.KERNEL, ref.KERNEL), np.sqrt(2 / fan_in)),
                   1 + normal(c_out, 0.1), normal(c_out, 0.1)]
    features = CHANNELS[-1] * (side // 4) ** 2
    params += [normal((CLASSES, features), np.sqrt(1 / features)),
               np.zeros(CLASSES, dtype=np.float32)]
    return x, labels, params


class Reference:
    """Forward and backward written by hand (``_conv_reference``) in the device's library."""

    def __init__(self, ctx, x, labels, params):
        self.xp = standard_module(ctx.device)
        put = ctx.device.from_host
        self.x = put(x)
        self.onehot = put(np.eye(CLASSES, dtype=np.float32)[labels])
        self.params = [put(p) for p in params]

    def step(self):
        xp, batch = self.xp, self.x.shape[0]
        blocks = [self.params[0:3], self.params[3:6]]
        weight, bias = self.params[6:]
        h, saved = self.x, []
        for kernel, gamma, beta in blocks:
            z, cols = ref.conv_forward(xp, h, kernel)
            a, norm = ref.batch_norm_forward(xp, z, gamma, beta, EPS)
            h, pool = ref.relu_pool_forward(xp, a)
            saved.append((cols, norm, pool))
        features = xp.reshape(h, (batch, -1))
        logits = features @ weight.T + bias
        shifted = logits - xp.max(logits, axis=1, keepdims=True)
        e = xp.exp(shifted)
        total = xp.sum(e, axis=1, keepdims=True)
        loss = -xp.sum(self.onehot * (shifted - xp.log(total))) / batch
        g = (e / total - self.onehot) / batch  # d loss / d logits
        grads = [g.T @ features, xp.sum(g, axis=0)]
        g = xp.reshape(g @ weight, h.shape)
        for k in reversed(range(len(blocks))):
            (kernel, gamma, _), (cols, norm, pool) = blocks[k], saved[k]
            g = ref.relu_pool_backward(xp, g, pool)
            g, grad_gamma, grad_beta = ref.batch_norm_backward(xp, g, norm, gamma)
            grad_kernel, g = ref.conv_backward(xp, g, cols, kernel, input_grad=k > 0)
            grads[:0] = [grad_kernel, grad_gamma, grad_beta]
        for p, gp in zip(self.params, grads):
            p -= LEARNING_RATE * gp
        return [loss, *grads]


class Multigrad:
    """What a user writes: ``mg.nn`` modules, ``cross_entropy``, ``backward``, an SGD loop."""

    def __init__(self, ctx, x, labels, params):
        dev, nn = ctx.device, mg.nn
        layers = []
        for c_in, c_out in zip(CHANNELS[:-1], CHANNELS[1:]):
            layers += [nn.Conv2d(c_in, c_out, ref.KERNEL, padding=1, bias=False, device=dev,
                                 dtype=mg.float32),
                       nn.BatchNorm2d(c_out, eps=EPS, device=dev, dtype=mg.float32),
                       nn.ReLU(), nn.MaxPool2d(2)]
        self.model = nn.Sequential(*layers, nn.Flatten(),
                                   nn.Linear(params[-2].shape[1], CLASSES, device=dev,
                                             dtype=mg.float32))
        names = [name for name, _ in self.model.named_parameters()]
        self.model.load_state_dict({name: mg.tensor(p, device=dev)
                                    for name, p in zip(names, params, strict=True)},
                                   strict=False)  # the running statistics keep their start
        self.params = list(self.model.parameters())
        self.x, self.labels = mg.tensor(x, device=dev), mg.tensor(labels, device=dev)

    def step(self):
        self.model.zero_grad()
        loss = mg.nn.functional.cross_entropy(self.model(self.x), self.labels)
        loss.backward()
        with mg.no_grad():
            for p in self.params:
                p -= LEARNING_RATE * p.grad
        return [loss, *(p.grad for p in self.params)]


class MultigradCompiled(Multigrad):
    """The same step, compiled: recorded on its first call, replayed as a program after."""

    def __init__(self, ctx, x, labels, params):
        super().__init__(ctx, x, labels, params)
        self.step = mg.compile(super().step)


class Torch:
    """PyTorch eager, ``torch.nn.functional``."""

    def __init__(self, ctx, x, labels, params):
        import torch

        where = torch_device(ctx.device)
        if where is None:
            raise Unavailable(f"torch has no device matching {ctx.device.name}")
        # cuDNN runs float32 convolutions in TF32 (a 10-bit mantissa) unless told not to:
        # different work, and it fails the check (matmuls already default to float32)
        torch.backends.cudnn.allow_tf32 = False
        self.torch = torch
        self.x = torch.tensor(x, device=where)
        self.labels = torch.tensor(labels, device=where)
        self.params = [torch.tensor(p, device=where, requires_grad=True) for p in params]

    def step(self):
        torch, F = self.torch, self.torch.nn.functional
        h = self.x
        for kernel, gamma, beta in (self.params[0:3], self.params[3:6]):
            h = F.conv2d(h, kernel, padding=1)
            h = F.batch_norm(h, None, None, gamma, beta, training=True, eps=EPS)
            h = F.max_pool2d(F.relu(h), 2)
        loss = F.cross_entropy(F.linear(torch.flatten(h, 1), *self.params[6:]), self.labels)
        for p in self.params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in self.params:
                p -= LEARNING_RATE * p.grad
        return [loss, *(p.grad for p in self.params)]


class Autograd(AutogradTrainingStep):
    """HIPS autograd: the reference's forward (im2col by slicing, a matmul) in
    ``autograd.numpy``, differentiated by tracing."""

    def __init__(self, ctx, x, labels, params):
        import autograd.numpy as anp

        def conv(h, kernel):
            n, c, height, width = h.shape
            padded = anp.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)), mode="constant")
            cols = anp.stack([padded[:, :, i:i + height, j:j + width]
                              for i, j in ref.OFFSETS], axis=2)
            out = anp.reshape(kernel, (kernel.shape[0], -1)) @ anp.reshape(
                cols, (n, c * len(ref.OFFSETS), height * width))
            return anp.reshape(out, (n, kernel.shape[0], height, width))

        def loss(ps):
            h = x
            for kernel, gamma, beta in (ps[0:3], ps[3:6]):
                z = conv(h, kernel)
                centred = z - anp.mean(z, axis=(0, 2, 3), keepdims=True)
                variance = anp.mean(centred * centred, axis=(0, 2, 3), keepdims=True)
                a = (centred / anp.sqrt(variance + EPS) * anp.reshape(gamma, (1, -1, 1, 1))
                     + anp.reshape(beta, (1, -1, 1, 1)))
                n, c, height, width = a.shape
                windows = anp.reshape(anp.maximum(a, 0.0),
                                      (n, c, height // 2, 2, width // 2, 2))
                h = anp.max(windows, axis=(3, 5))
            logits = anp.reshape(h, (h.shape[0], -1)) @ ps[6].T + ps[7]
            shifted = logits - anp.max(logits, axis=1, keepdims=True)
            log_probs = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            return -anp.sum(onehot * log_probs) / x.shape[0]

        onehot = np.eye(CLASSES, dtype=np.float32)[labels]
        super().__init__(ctx, loss, params, LEARNING_RATE)


class Jax(JaxTrainingStep):
    """JAX with the whole step (loss, gradients, update) compiled by ``jit``."""

    def __init__(self, ctx, x, labels, params):
        import jax
        import jax.numpy as jnp
        from jax import lax

        # on a GPU, XLA's default precision for float32 convolutions and products is TF32:
        # different work, and it fails the check
        full = lax.Precision.HIGHEST

        def loss(ps, x, labels):
            h = x
            for kernel, gamma, beta in (ps[0:3], ps[3:6]):
                z = lax.conv_general_dilated(h, kernel, (1, 1), ((1, 1), (1, 1)),
                                             precision=full)
                mean = jnp.mean(z, axis=(0, 2, 3), keepdims=True)
                variance = jnp.var(z, axis=(0, 2, 3), keepdims=True)
                a = ((z - mean) * lax.rsqrt(variance + EPS) * gamma[None, :, None, None]
                     + beta[None, :, None, None])
                h = lax.reduce_window(jax.nn.relu(a), -jnp.inf, lax.max, (1, 1, 2, 2),
                                      (1, 1, 2, 2), "VALID")
            logits = jnp.matmul(h.reshape(h.shape[0], -1), ps[6].T, precision=full) + ps[7]
            log_probs = jax.nn.log_softmax(logits, axis=1)
            return -jnp.mean(jnp.take_along_axis(log_probs, labels[:, None], axis=1))

        super().__init__(ctx, loss, x, labels, params, LEARNING_RATE)


SYSTEMS = {REFERENCE: Reference, "multigrad": Multigrad, COMPILED: MultigradCompiled,
           "torch": Torch, "autograd": Autograd, "jax": Jax}


def run(ctx) -> None:
    batch, side = ctx.pick((64, 28), (64, 28), (4, 8))
    rounds = ctx.pick(21, 7, 2)
    name = f"batch {batch}, {side}x{side}, float32" if ctx.profile != "smoke" else "smoke"
    # fresh host arrays for each: the reference updates its weights in place, and some
    # libraries share memory with the NumPy array they were made from
    systems, skipped = build_systems(ctx, lambda s: SYSTEMS[s](ctx, *problem(batch, side)))
    errors, failed = verify(ctx, f"CNN step {name}", {n: s.step for n, s in systems.items()})
    skipped.update(failed)
    calls = {n: s.step for n, s in systems.items() if n in errors}
    time_systems(ctx, "CNN step", name, "ms", 1e3, calls, errors, skipped, rounds)
