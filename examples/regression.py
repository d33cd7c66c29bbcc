"""Regression two ways: a straight line (closed form and gradient descent agree), then a curve.

1. Linear regression of noisy points ``y = 1.5 x - 0.5 + noise``. The least-squares line has a
   closed form, the solution of the normal equations ``(A^T A) theta = A^T y`` with the design
   matrix ``A = [x, 1]`` (``mg.linalg.solve``); gradient descent on the mean squared error
   (``mg.optim.SGD``, gradients from ``backward``) converges to the same slope and intercept,
   to rounding in float64.
2. A nonlinear curve, ``y = sin(3 x) exp(-x**2 / 2) + noise``, fitted by a 1-64-64-1 tanh
   network (``mg.nn``) with Adam.

The plot (``regression.png``) shows both fits over the data.

    python examples/regression.py                        # on the CPU
    python examples/regression.py --device cuda          # on a CUDA GPU (needs CuPy)
    python examples/regression.py --device strict:device1 --quick
"""

from __future__ import annotations

import multigrad as mg
from multigrad import nn
from multigrad.nn import functional as F
from _common import example_parser, output_dir, progress, pyplot

SLOPE, INTERCEPT, NOISE = 1.5, -0.5, 0.3


def noisy_points(device, n: int, seed: int, curve, noise: float):
    """``n`` points ``(x, curve(x) + noise * N(0, 1))`` with x uniform in [-2, 2], as columns."""
    gen = device.random(seed)
    dtype = device.native_dtype(mg.float64)
    x = mg.asarray(gen.uniform((n, 1), dtype, -2.0, 2.0))
    return x, curve(x) + noise * mg.asarray(gen.normal((n, 1), dtype))


def line(x):
    return SLOPE * x + INTERCEPT


def bump(x):
    return mg.sin(3 * x) * mg.exp(-x ** 2 / 2)


def closed_form_line(x, y):
    """Slope and intercept minimising the squared error: the normal equations, solved."""
    design = mg.concat([x, mg.ones_like(x)], axis=1)
    theta = mg.linalg.solve(design.T @ design, design.T @ y)
    return theta[0, 0], theta[1, 0]


def descend_line(x, y, steps: int, lr: float):
    """Slope and intercept after ``steps`` of full-batch gradient descent from zero."""
    slope = mg.zeros((), dtype=x.dtype, device=x.device).requires_grad_()
    intercept = mg.zeros((), dtype=x.dtype, device=x.device).requires_grad_()
    optimizer = mg.optim.SGD([slope, intercept], lr=lr)
    for _ in progress(range(steps), "line"):
        optimizer.zero_grad()
        F.mse_loss(slope * x + intercept, y).backward()
        optimizer.step()
    return slope.detach(), intercept.detach()


def fit_curve(x, y, steps: int, lr: float, seed: int):
    """A 1-64-64-1 tanh network trained with Adam on all points; returns it and its losses."""
    device, dtype = x.device, x.dtype
    model = nn.Sequential(nn.Linear(1, 64, device=device, dtype=dtype, seed=seed), nn.Tanh(),
                          nn.Linear(64, 64, device=device, dtype=dtype, seed=seed + 1), nn.Tanh(),
                          nn.Linear(64, 1, device=device, dtype=dtype, seed=seed + 2))
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    losses = []
    bar = progress(range(steps), "curve")
    for _ in bar:
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.set_postfix(loss=losses[-1], refresh=False)
    return model, losses


def plot(points_line, fits_line, points_curve, model, path):
    plt = pyplot("regression.py")
    fig, (ax_line, ax_curve) = plt.subplots(1, 2, figsize=(10, 4))
    x, y = points_line
    grid = mg.linspace(-2.0, 2.0, 200, dtype=x.dtype, device=x.device)
    ax_line.plot(x.numpy(), y.numpy(), ".", alpha=0.5, label="data")
    for (slope, intercept), style, name in zip(fits_line, ("-", "--"),
                                                ("closed form", "gradient descent")):
        ax_line.plot(grid.numpy(), (slope * grid + intercept).numpy(), style, label=name)
    ax_line.set(title="linear regression", xlabel="x", ylabel="y")
    ax_line.legend()
    x, y = points_curve
    with mg.no_grad():
        fitted = model(grid[:, None])[:, 0]
    ax_curve.plot(x.numpy(), y.numpy(), ".", alpha=0.5, label="data")
    ax_curve.plot(grid.numpy(), bump(grid).numpy(), "k:", label="true curve")
    ax_curve.plot(grid.numpy(), fitted.numpy(), label="MLP fit")
    ax_curve.set(title="nonlinear regression (1-64-64-1 MLP)", xlabel="x", ylabel="y")
    ax_curve.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = example_parser(__doc__, "regression")
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps for the curve")
    args = parser.parse_args(argv)
    device = mg.get_device(args.device)
    print(f"regression on {args.device} (float64)")

    x, y = noisy_points(device, 100, args.seed, line, NOISE)
    exact = closed_form_line(x, y)
    descended = descend_line(x, y, steps=300, lr=0.2)
    gap = max(abs(a - b).item() for a, b in zip(exact, descended))
    print(f"closed form: slope {exact[0].item():.6f}, intercept {exact[1].item():.6f}")
    print(f"gradient descent: slope {descended[0].item():.6f}, "
          f"intercept {descended[1].item():.6f}")
    print(f"linear fit difference {gap:.3e}")

    steps = 150 if args.quick else args.steps
    xc, yc = noisy_points(device, 200, args.seed + 1, bump, 0.1)
    model, losses = fit_curve(xc, yc, steps, lr=0.01, seed=args.seed + 2)
    with mg.no_grad():
        grid = mg.linspace(-2.0, 2.0, 401, dtype=xc.dtype, device=device)[:, None]
        rms = mg.sqrt(F.mse_loss(model(grid), bump(grid))).item()
    path = output_dir(args.out) / "regression.png"
    plot((x, y), (exact, descended), (xc, yc), model, path)
    print(f"plot saved to {path}")
    print(f"curve: initial loss {losses[0]:.6f}, final loss {losses[-1]:.6f}, "
          f"rms error against the true curve {rms:.4f}")
    return gap, losses, rms


if __name__ == "__main__":
    main()
