"""Fit a small multilayer perceptron with plain gradient descent, on any device.

A 2-32-32-1 network with tanh activations learns a smooth function of two variables from
points drawn with the device's own random generator; gradients come from multigrad's reverse
mode, and the update runs under ``no_grad`` (``w -= lr * w.grad`` rebinds ``w`` to new values).

    python examples/train_mlp.py                      # on the default device ("cpu")
    python examples/train_mlp.py --device cuda        # on a CUDA GPU (needs CuPy)
    python examples/train_mlp.py --device strict:device1 --quick
"""

from __future__ import annotations

import argparse
import math

import multigrad as mg
from _common import device_name, summary


def make_data(device, n, dtype, seed):
    """Points in [-2, 2]**2 and the target sin(1.5 x0) cos(x1) + x0 x1 / 4, on ``device``."""
    gen = device.random(seed)
    x = mg.asarray(gen.uniform((n, 2), device.native_dtype(dtype), -2.0, 2.0))
    x0, x1 = x[:, 0:1], x[:, 1:2]
    y = mg.sin(1.5 * x0) * mg.cos(x1) + 0.25 * x0 * x1
    return x, y


def init_params(device, sizes, dtype, seed):
    """Weights drawn from N(0, 1/fan_in) and zero biases, each a leaf that requires gradients."""
    gen = device.random(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        w = mg.asarray(gen.normal((fan_in, fan_out), device.native_dtype(dtype)))
        w = w * (1 / math.sqrt(fan_in))
        b = mg.zeros((fan_out,), dtype=dtype, device=device)
        params += [w.requires_grad_(), b.requires_grad_()]
    return params


def forward(params, x):
    """tanh hidden layers, a linear output layer."""
    h = x
    layers = list(zip(params[0::2], params[1::2]))
    for w, b in layers[:-1]:
        h = mg.tanh(h @ w + b)
    w, b = layers[-1]
    return h @ w + b


def mse(prediction, target):
    return mg.mean((prediction - target) ** 2)


def train(device_name="cpu", steps=1500, lr=0.05, n=256, dtype="float32", seed=0, every=None):
    """Train and return the list of (step, loss) pairs that were printed."""
    device = mg.get_device(device_name)
    dtype = getattr(mg, dtype)
    x, y = make_data(device, n, dtype, seed)
    params = init_params(device, (2, 32, 32, 1), dtype, seed + 1)
    every = every or max(steps // 10, 1)
    history = []
    for step in range(steps + 1):
        loss = mse(forward(params, x), y)
        if step % every == 0 or step == steps:
            history.append((step, loss.item()))
            print(f"step {step:5d}  loss {loss.item():.6f}", flush=True)
        if step == steps:
            break
        loss.backward()
        with mg.no_grad():
            for p in params:
                p -= lr * p.grad  # rebinds p to new values: the graph's saved arrays are untouched
                p.grad = None
    return history


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--device", default=None, type=device_name,
                        help="cpu, cuda, cuda:N, strict:device1... (default: $MULTIGRAD_DEVICE "
                             "or cpu)")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    parser.add_argument("--quick", action="store_true", help="a short run (for the tests)")
    args = parser.parse_args(argv)
    device = args.device or mg.get_default_device().name
    steps = 200 if args.quick else args.steps
    print(f"training a 2-32-32-1 tanh MLP on {device} ({args.dtype}) for {steps} steps")
    history = train(device, steps=steps, lr=args.lr, dtype=args.dtype)
    start, final = history[0][1], history[-1][1]
    print(f"initial loss {start:.6f}, final loss {final:.6f}")
    return history


if __name__ == "__main__":
    main()
