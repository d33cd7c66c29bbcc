"""The layered network of the backpropagation article, differentiated two ways that agree.

The closing section of "Backpropagation: a modern explanation" comes back to the layered
network it started from. With column vectors, layer ``l`` computes

    a^l = W^l z^(l-1) + b^l,        z^l = sigma(a^l),        z^0 = x,

and the loss here is ``L = sum((z^L - y)**2) / (2 n)`` over a batch of ``n`` columns. The general
engine (``loss.backward()``) knows nothing about layers: it walks the graph of elementary ops.
The textbook route writes the adjoints of the pre-activations, ``delta^l = dL/da^l``, by hand:

    delta^L = sigma'(a^L) * (z^L - y) / n,
    delta^l = sigma'(a^l) * (W^(l+1))^T delta^(l+1),
    dL/dW^l = delta^l (z^(l-1))^T,        dL/db^l = delta^l summed over the batch.

This script trains a 2-16-16-1 tanh network (sigma = tanh, sigma'(a) = 1 - z**2) to fit a smooth
surface, and at every step computes both: the engine's gradients drive the update, and the
hand-derived ones, computed with plain multigrad array ops under ``no_grad``, are compared with
them. In float64 they agree to rounding (well under 1e-12) at every layer and every step.

    python examples/layered_network.py                        # on the CPU
    python examples/layered_network.py --device cuda          # on a CUDA GPU (needs CuPy)
    python examples/layered_network.py --device strict:device1 --quick
"""

from __future__ import annotations

import math

import multigrad as mg
from _common import example_parser, output_dir, progress, pyplot

SIZES = (2, 16, 16, 1)


def make_data(device, n: int, seed: int):
    """``n`` columns x in [-1, 1]^2 and targets y = 0.8 sin(2 x_0) x_1 (inside tanh's range)."""
    gen = device.random(seed)
    x = mg.asarray(gen.uniform((SIZES[0], n), device.native_dtype(mg.float64), -1.0, 1.0))
    y = 0.8 * mg.sin(2 * x[0:1, :]) * x[1:2, :]
    return x, y


def init_layers(device, seed: int) -> list[tuple[mg.Tensor, mg.Tensor]]:
    """``(W^l, b^l)`` for each layer: W from N(0, 1/fan_in), b zero; leaves requiring grads."""
    gen = device.random(seed)
    layers = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        w = mg.asarray(gen.normal((fan_out, fan_in), device.native_dtype(mg.float64)))
        w = (w / math.sqrt(fan_in)).requires_grad_()
        b = mg.zeros((fan_out, 1), dtype=mg.float64, device=device).requires_grad_()
        layers.append((w, b))
    return layers


def forward(layers, x):
    """The activations ``[z^0, z^1, ..., z^L]`` (every layer applies sigma = tanh)."""
    zs = [x]
    for w, b in layers:
        zs.append(mg.tanh(w @ zs[-1] + b))
    return zs


def squared_error(z_out, y):
    return mg.sum((z_out - y) ** 2) / (2 * y.shape[1])


def hand_derived_gradients(layers, zs, y):
    """``[(dL/dW^l, dL/db^l), ...]`` from the layered backprop equations, without the tape."""
    with mg.no_grad():
        zs = [z.detach() for z in zs]
        n = y.shape[1]
        delta = (1 - zs[-1] ** 2) * (zs[-1] - y) / n  # sigma'(a^L) * dL/dz^L
        grads = []
        for l in range(len(layers) - 1, -1, -1):
            grads.append((delta @ zs[l].T, mg.sum(delta, axis=1, keepdims=True)))
            if l > 0:
                w_above = layers[l][0].detach()
                delta = (1 - zs[l] ** 2) * (w_above.T @ delta)  # sigma'(a^l) * W^T delta
        return grads[::-1]


def train(device_name: str, steps: int, lr: float, n: int, seed: int):
    """Gradient descent (``mg.optim.SGD``, the engine's gradients); returns the run's history.

    The history has ``"loss"`` per step and, per layer ``l`` and step, ``"difference"`` (the
    largest ``|engine - hand|`` over the layer's weights and bias), ``"engine"`` and ``"hand"``
    (the norm of dL/dW^l by each route).
    """
    device = mg.get_device(device_name)
    x, y = make_data(device, n, seed)
    layers = init_layers(device, seed + 1)
    optimizer = mg.optim.SGD([p for layer in layers for p in layer], lr=lr)
    history = {"loss": [], "difference": [[] for _ in layers], "engine": [[] for _ in layers],
               "hand": [[] for _ in layers]}
    bar = progress(range(steps), "train")
    for _ in bar:
        zs = forward(layers, x)
        loss = squared_error(zs[-1], y)
        optimizer.zero_grad()
        loss.backward()
        for l, ((w, b), (gw, gb)) in enumerate(zip(layers, hand_derived_gradients(layers, zs, y))):
            history["difference"][l].append(max(mg.max(mg.abs(w.grad - gw)).item(),
                                                mg.max(mg.abs(b.grad - gb)).item()))
            history["engine"][l].append(mg.linalg.matrix_norm(w.grad).item())
            history["hand"][l].append(mg.linalg.matrix_norm(gw).item())
        history["loss"].append(loss.item())
        optimizer.step()
        bar.set_postfix(loss=history["loss"][-1], refresh=False)
    return history


def plot(history, path) -> bool:
    """Loss and gradient norms per step; False (after saying why) without matplotlib."""
    plt = pyplot("layered_network.py", required=False)
    if plt is None:
        return False
    fig, (ax_loss, ax_norm) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.semilogy(history["loss"])
    ax_loss.set(title="training loss", xlabel="step", ylabel="L")
    for l, (engine, hand) in enumerate(zip(history["engine"], history["hand"]), start=1):
        line, = ax_norm.semilogy(engine, label=f"layer {l}, engine")
        every = max(len(hand) // 25, 1)  # sparse markers, so the line under them stays visible
        ax_norm.semilogy(range(0, len(hand), every), hand[::every], "o", fillstyle="none",
                         color=line.get_color(), label=f"layer {l}, hand-derived")
    worst = max(max(diff) for diff in history["difference"])
    ax_norm.set(title=f"||dL/dW|| (largest difference {worst:.1e})", xlabel="step",
                ylabel="Frobenius norm")
    ax_norm.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def main(argv=None):
    parser = example_parser(__doc__, "layered_network")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=0.3)
    args = parser.parse_args(argv)
    steps = 100 if args.quick else args.steps
    print(f"layered network {'-'.join(map(str, SIZES))} (tanh, float64) on {args.device}, "
          f"{steps} steps of gradient descent")
    history = train(args.device, steps, args.lr, n=128, seed=args.seed)
    losses = history["loss"]
    print(f"loss {losses[0]:.6f} -> {losses[-1]:.6f}")
    # the check is the point: it prints whether or not matplotlib can draw the plot
    for l, (diff, norms) in enumerate(zip(history["difference"], history["engine"]), start=1):
        print(f"layer {l}: max |engine - hand-derived| over all steps = {max(diff):.3e} "
              f"(smallest ||dL/dW|| {min(norms):.3e})")
    worst = max(max(diff) for diff in history["difference"])
    print(f"max gradient difference {worst:.3e}")
    path = output_dir(args.out) / "layered_network.png"
    if plot(history, path):
        print(f"plot saved to {path}")
    return worst


if __name__ == "__main__":
    main()
