"""One model, one seed, two devices: the training runs agree step for step.

A small classifier (2-64-64-3: Linear, BatchNorm1d, tanh, Linear, tanh, Linear) learns three
interleaved spirals, in float64, with Adam, a learning rate warmed up linearly then decayed
along a cosine, and gradient clipping. The same code runs it twice: on the first device
(``--device``, default "cpu") and on a second one (``--other``, default "cuda" where CuPy sees
a GPU, else array-api-strict's "strict:device1", which refuses implicit NumPy conversion like
a GPU does).

Each device has its own random generator, so both runs take their starting point from the
first device: the data and the model are drawn there from the seed, and the second run's copies
are moved with ``.to(other)``. Minibatches come from one Python ``random.Random(seed)``. The
script then compares the two runs' losses at every step and every entry of the final state
dicts (weights, biases and BatchNorm's running statistics), prints the largest differences,
and fails if one exceeds ``--tol``.

    python examples/two_devices.py                            # cpu against cuda or device1
    python examples/two_devices.py --other strict:device2 --quick
"""

from __future__ import annotations

import math
import random

import multigrad as mg
from multigrad import nn
from multigrad.nn import functional as F
from _common import accuracy, example_parser, minibatches, output_dir, progress, pyplot

CLASSES = 3


def default_other(first) -> str:
    """"cuda" where a CUDA GPU is available, else array-api-strict's "strict:device1" (or
    "cpu" when ``first`` is already that one)."""
    if any(d.library == "cupy" for d in mg.devices()) and first.library != "cupy":
        return "cuda"
    return "cpu" if first == "strict:device1" else "strict:device1"


def spirals(device, per_class: int, seed: int):
    """Points of ``CLASSES`` spiral arms (radius t, angle 4t + arm offset, jittered) and labels."""
    gen = device.random(seed)
    dtype = device.native_dtype(mg.float64)
    points, labels = [], []
    for arm in range(CLASSES):
        t = mg.asarray(gen.uniform((per_class,), dtype, 0.05, 1.0))
        angle = 4 * t + 2 * math.pi * arm / CLASSES + 0.2 * mg.asarray(
            gen.normal((per_class,), dtype))
        points.append(mg.stack([t * mg.cos(angle), t * mg.sin(angle)], axis=1))
        labels.append(mg.full((per_class,), arm, dtype=mg.int64, device=device))
    return mg.concat(points, axis=0), mg.concat(labels, axis=0)


def make_model(device, seed: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(2, 64, device=device, dtype=mg.float64, seed=seed),
        nn.BatchNorm1d(64, device=device, dtype=mg.float64), nn.Tanh(),
        nn.Linear(64, 64, device=device, dtype=mg.float64, seed=seed + 1), nn.Tanh(),
        nn.Linear(64, CLASSES, device=device, dtype=mg.float64, seed=seed + 2))


def train(model, x, y, epochs: int, seed: int, desc: str) -> list[float]:
    """Adam (a linear warm-up, then a cosine decay; clipped gradients) on minibatches of 32.

    Returns the loss of every step.
    """
    optimizer = mg.optim.Adam(model.parameters(), lr=0.01)
    steps = epochs * math.ceil(x.shape[0] / 32)
    schedule = mg.optim.LinearWarmup(
        optimizer, warmup_steps=20, start_factor=0.1,
        after=mg.optim.CosineAnnealingLR(optimizer, T_max=max(steps - 20, 1)))
    rng = random.Random(seed)
    losses = []
    bar = progress(range(epochs), desc)
    for _ in bar:
        model.train()
        for batch in minibatches(x.shape[0], 32, rng, x.device):
            loss = F.cross_entropy(model(mg.take(x, batch, axis=0)), mg.take(y, batch, axis=0))
            optimizer.zero_grad()
            loss.backward()
            mg.optim.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            schedule.step()
            losses.append(loss.item())
        bar.set_postfix(loss=losses[-1], refresh=False)
    return losses


def largest_state_difference(model_a, model_b) -> tuple[float, str]:
    """The largest difference between the two models' state-dict entries, and where it is.

    Entries are compared on ``model_a``'s device.
    """
    state_b = model_b.state_dict()
    gaps = []
    for name, value_a in model_a.state_dict().items():
        value_b = state_b[name].to(value_a.device)
        diff = mg.max(mg.abs(mg.astype(value_a, mg.float64) - mg.astype(value_b, mg.float64)))
        gaps.append((diff.item(), name))
    return max(gaps)


def plot(losses_a, losses_b, names, path):
    plt = pyplot("two_devices.py")
    fig, (ax_loss, ax_diff) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.semilogy(losses_a, label=names[0])
    ax_loss.semilogy(losses_b, "--", label=names[1])
    ax_loss.set(title="training loss per step", xlabel="step", ylabel="cross-entropy")
    ax_loss.legend()
    ax_diff.plot([abs(a - b) for a, b in zip(losses_a, losses_b)])
    ax_diff.set(title=f"|loss on {names[0]} - loss on {names[1]}|", xlabel="step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = example_parser(__doc__, "two_devices")
    parser.add_argument("--other", default=None,
                        help="the second device (default: cuda if available, else "
                             "strict:device1, or cpu if --device is strict:device1)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--tol", type=float, default=1e-6,
                        help="largest difference of a loss or a final state entry allowed")
    args = parser.parse_args(argv)
    first = mg.get_device(args.device)
    other = mg.get_device(args.other or default_other(first))
    if first is other:
        raise SystemExit(f"two_devices.py: --device and --other are both {first.name}; "
                         "choose two different devices")
    epochs = 3 if args.quick else args.epochs
    print(f"training the same model on {first.name} and {other.name} (float64), "
          f"{epochs} epochs each")

    x, y = spirals(first, per_class=200, seed=args.seed)
    model_a = make_model(first, args.seed + 1)
    model_b = make_model(first, args.seed + 1).to(other)  # the same draws, then moved
    losses_a = train(model_a, x, y, epochs, args.seed + 2, first.name)
    losses_b = train(model_b, x.to(other), y.to(other), epochs, args.seed + 2, other.name)

    with mg.no_grad():
        model_a.eval()
        model_b.eval()
        acc_a = accuracy(model_a(x), y)
        acc_b = accuracy(model_b(x.to(other)), y.to(other))
    path = output_dir(args.out) / "two_devices.png"
    plot(losses_a, losses_b, (first.name, other.name), path)
    print(f"plot saved to {path}")
    loss_gap = max(abs(a - b) for a, b in zip(losses_a, losses_b))
    state_gap, name = largest_state_difference(model_a, model_b)
    print(f"final loss {losses_a[-1]:.6f} on {first.name}, {losses_b[-1]:.6f} on {other.name}; "
          f"training accuracy {acc_a:.4f} and {acc_b:.4f}")
    print(f"max loss difference {loss_gap:.3e} over {len(losses_a)} steps")
    print(f"max parameter difference {state_gap:.3e} (at {name})")
    if max(loss_gap, state_gap) > args.tol:
        raise SystemExit(f"two_devices.py: the runs on {first.name} and {other.name} differ by "
                         f"more than --tol={args.tol:g}")
    print(f"the two devices agree within {args.tol:g}")
    return loss_gap, state_gap


if __name__ == "__main__":
    main()
