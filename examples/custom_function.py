"""A user-defined op with a hand-written derivative, checked, then trained inside a model.

The op is the "squareplus" activation, ``(x + sqrt(x**2 + c)) / 2``: smooth like softplus but
with no exp or log. Its derivative ``(1 + x / sqrt(x**2 + c)) / 2`` is written by hand in a
``multigrad.Function``; backward uses multigrad functions, so it is itself differentiable and
second derivatives come for free. The script

1. checks the hand-written gradient against central differences (``mg.gradcheck``, float64),
   and its second derivative against the analytic ``c / (2 (x**2 + c)**1.5)``;
2. trains a 1-16-1 network using squareplus as its activation to fit sin(2x) with plain
   gradient descent, printing the loss.

    python examples/custom_function.py                      # on the default device ("cpu")
    python examples/custom_function.py --device cuda        # on a CUDA GPU (needs CuPy)
    python examples/custom_function.py --device strict:device1 --quick
"""

from __future__ import annotations

import argparse
import math

import multigrad as mg
from _common import device_name, summary


class Squareplus(mg.Function):
    """(x + sqrt(x**2 + c)) / 2, with c a Python float (no gradient)."""

    @staticmethod
    def forward(ctx, x, c):
        root = mg.sqrt(x * x + c)
        ctx.save_for_backward(x)
        ctx.c = c
        return (x + root) / 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        # d/dx = (1 + x / sqrt(x**2 + c)) / 2; recomputing the root from x (rather than saving
        # it) keeps the rule differentiable in x for higher derivatives
        return g * (1 + x / mg.sqrt(x * x + ctx.c)) / 2, None

    @staticmethod
    def jvp(ctx, t, _):
        (x,) = ctx.saved_tensors
        return t * (1 + x / mg.sqrt(x * x + ctx.c)) / 2


def squareplus(x, c=4.0):
    return Squareplus.apply(x, c)


def check(device):
    """gradcheck of the first derivative, and the second derivative against its formula."""
    x = mg.asarray(mg.linspace(-3.0, 3.0, 7, dtype=mg.float64, device=device))
    x = x.requires_grad_()
    mg.gradcheck(squareplus, x)
    (g,) = mg.autograd.grad(mg.sum(squareplus(x)), [x], create_graph=True)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    exact = 4.0 / (2 * (x.detach() ** 2 + 4.0) ** 1.5)
    error = float(mg.max(mg.abs(h - exact)))
    print(f"gradcheck passed; second derivative max error {error:.1e}")
    return error


def train(device, steps, lr=0.1, n=128, hidden=16, seed=0):
    gen = device.random(seed)
    dtype = device.native_dtype("float32")
    x = mg.reshape(mg.linspace(-2.0, 2.0, n, dtype=mg.float32, device=device), (n, 1))
    y = mg.sin(2 * x)
    w1 = mg.asarray(gen.normal((1, hidden), dtype)).requires_grad_()
    b1 = mg.zeros((hidden,), dtype=mg.float32, device=device).requires_grad_()
    w2 = (mg.asarray(gen.normal((hidden, 1), dtype)) * (1 / math.sqrt(hidden))).requires_grad_()
    b2 = mg.zeros((1,), dtype=mg.float32, device=device).requires_grad_()
    params = [w1, b1, w2, b2]
    losses = []
    for step in range(steps + 1):
        prediction = squareplus(x @ w1 + b1) @ w2 + b2
        loss = mg.mean((prediction - y) ** 2)
        losses.append(float(loss))
        if step % max(1, steps // 10) == 0:
            print(f"step {step:4d}  loss {losses[-1]:.5f}")
        if step == steps:
            break
        grads = mg.autograd.grad(loss, params)
        with mg.no_grad():
            for p, g in zip(params, grads):
                p -= lr * g
    print(f"initial loss {losses[0]:.5f}, final loss {losses[-1]:.5f}")
    return losses


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--device", default=None, type=device_name,
                        help="cpu, cuda, strict:device1, ...")
    parser.add_argument("--quick", action="store_true", help="a short run (for the tests)")
    args = parser.parse_args(argv)
    device = mg.get_device(args.device)
    print(f"squareplus on {device.name}")
    check(device)
    return train(device, steps=150 if args.quick else 2000)


if __name__ == "__main__":
    main()
