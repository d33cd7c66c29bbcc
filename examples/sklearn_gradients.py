"""Tune a ridge regression's alpha by gradient descent, differentiating through scikit-learn.

scikit-learn's ``Ridge`` is written against the array API: with ``array_api_dispatch`` on, it
runs its own ``fit`` (an SVD of the data, then a solve) on multigrad tensors, so the fitted
coefficients, and a validation loss computed from them, are functions multigrad can
differentiate, with respect to the data or to ``alpha`` itself. This script fits one-hot
targets of scikit-learn's bundled 8x8 digits (a ridge classifier) on half of them, measures
the mean squared error on the other half, and walks ``log(alpha)`` downhill with Adam, each
gradient taken straight through ``Ridge(solver="svd").fit``. It checks that gradient against
a central difference, and plots the validation loss and its derivative against ``alpha``, with
the path the descent took.

    python examples/sklearn_gradients.py                       # on the CPU (about ten seconds)
    python examples/sklearn_gradients.py --device strict:device1 --quick

Two things make it work: ``SCIPY_ARRAY_API=1`` set before SciPy or scikit-learn is imported
(done below), and ``alpha`` given as one penalty per target: given one number for several
targets, ``Ridge`` repeats it through ``float(alpha)``, a Python float that leaves the graph
(its derivative would silently be 0). Needs scikit-learn, SciPy and matplotlib:
``python -m pip install -e '.[examples]'``.
"""

from __future__ import annotations

import math
import os

os.environ.setdefault("SCIPY_ARRAY_API", "1")  # before anything imports SciPy

import multigrad as mg  # noqa: E402
from _common import example_parser, output_dir, progress, pyplot, require  # noqa: E402

SCRIPT = "sklearn_gradients.py"
CLASSES = 10


def load_split(device, script: str = SCRIPT):
    """Digits pixels scaled to [0, 1] and one-hot labels, split in half (stratified, always the
    same split), as float64 tensors on ``device``."""
    datasets = require("sklearn.datasets", "scikit-learn", script)
    model_selection = require("sklearn.model_selection", "scikit-learn", script)
    pixels, labels = datasets.load_digits(return_X_y=True)
    x_fit, x_val, y_fit, y_val = model_selection.train_test_split(
        pixels / 16.0, labels, test_size=0.5, random_state=0, stratify=labels)

    def one_hot(y):
        y = mg.asarray(y, device=device)
        return mg.astype(y[:, None] == mg.arange(CLASSES, device=device), mg.float64)

    return (mg.asarray(x_fit, device=device), one_hot(y_fit), mg.asarray(x_val, device=device),
            one_hot(y_val))


def validation_loss(log_alpha, data, linear_model):
    """Mean squared error on the validation half of a ridge fitted on the other half."""
    x_fit, y_fit, x_val, y_val = data
    # one penalty per target keeps alpha a tensor inside Ridge (see the module docstring)
    alpha = mg.exp(log_alpha) * mg.ones((CLASSES,), dtype=x_fit.dtype, device=x_fit.device)
    model = linear_model.Ridge(alpha=alpha, solver="svd").fit(x_fit, y_fit)
    return mg.mean((model.predict(x_val) - y_val) ** 2)


def descend(data, linear_model, start: float, steps: int, lr: float):
    """Adam on log(alpha); returns the path as (log_alpha, loss) pairs."""
    device = data[0].device
    log_alpha = mg.tensor(start, dtype=mg.float64, device=device, requires_grad=True)
    optimizer = mg.optim.Adam([log_alpha], lr=lr)
    path = []
    bar = progress(range(steps), "alpha")
    for _ in bar:
        optimizer.zero_grad()
        loss = validation_loss(log_alpha, data, linear_model)
        loss.backward()
        path.append((log_alpha.item(), loss.item()))
        optimizer.step()
        bar.set_postfix(alpha=math.exp(log_alpha.item()), val_loss=loss.item(), refresh=False)
    with mg.no_grad():
        path.append((log_alpha.item(), validation_loss(log_alpha, data, linear_model).item()))
    return path


def check_gradient(data, linear_model, at: float, step: float = 1e-4):
    """d loss / d log(alpha) at ``at``: (reverse mode through scikit-learn, central difference)."""
    device = data[0].device
    point = mg.tensor(at, dtype=mg.float64, device=device)
    exact = mg.grad(lambda a: validation_loss(a, data, linear_model))(point).item()
    with mg.no_grad():
        up = validation_loss(point + step, data, linear_model).item()
        down = validation_loss(point - step, data, linear_model).item()
    return exact, (up - down) / (2 * step)


def scan(data, linear_model, log_alphas):
    """The loss and its derivative over a grid of log(alpha)."""
    grad = mg.value_and_grad(lambda a: validation_loss(a, data, linear_model))
    device = data[0].device
    rows = []
    for a in log_alphas:
        loss, slope = grad(mg.tensor(a, dtype=mg.float64, device=device))
        rows.append((a, loss.item(), slope.item()))
    return rows


def plot(grid, path_taken, check, out, script: str = SCRIPT):
    """The validation loss against alpha with the descent's path, and its derivative with the
    central-difference check."""
    plt = pyplot(script)
    alphas = [math.exp(a) for a, _, _ in grid]
    fig, (ax_loss, ax_slope) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax_loss.semilogx(alphas, [loss for _, loss, _ in grid], "-", label="validation loss")
    ax_loss.semilogx([math.exp(a) for a, _ in path_taken], [loss for _, loss in path_taken],
                     "o-", ms=4, label="gradient descent on log(alpha)")
    ax_loss.set(xlabel="alpha", ylabel="mean squared error (validation half)",
                title="Ridge on the digits, fitted by scikit-learn")
    ax_loss.legend()
    ax_slope.semilogx(alphas, [slope for _, _, slope in grid], "-",
                      label="d loss / d log(alpha), through Ridge.fit")
    at, exact, central = check
    ax_slope.semilogx([math.exp(at)], [central], "x", ms=10, label="central difference")
    ax_slope.axhline(0.0, color="grey", lw=0.8)
    ax_slope.set(xlabel="alpha", ylabel="derivative",
                 title="its derivative, 0 at the best alpha")
    ax_slope.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = example_parser(__doc__, "sklearn_gradients")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--lr", type=float, default=0.4, help="Adam's step on log(alpha)")
    parser.add_argument("--start", type=float, default=1e-2, help="the first alpha")
    args = parser.parse_args(argv)
    sklearn = require("sklearn", "scikit-learn", SCRIPT)
    linear_model = require("sklearn.linear_model", "scikit-learn", SCRIPT)
    steps, points = (4, 5) if args.quick else (args.steps, 25)
    device = mg.get_device(args.device)
    with sklearn.config_context(array_api_dispatch=True):
        data = load_split(device)
        print(f"Ridge on the digits ({data[0].shape[0]} to fit, {data[2].shape[0]} to "
              f"validate) on {args.device}: {steps} steps of Adam on log(alpha)")
        start = math.log(args.start)
        exact, central = check_gradient(data, linear_model, start)
        print(f"d loss / d log(alpha) at alpha={args.start:.3g}: reverse mode {exact:.9e}, "
              f"central difference {central:.9e}, relative difference "
              f"{abs(exact - central) / abs(central):.1e}")
        path_taken = descend(data, linear_model, start, steps, args.lr)
        # alpha from 1e-3 to 1e2 (further out the loss only grows)
        grid = scan(data, linear_model, [math.log(1e-3) + k * math.log(1e5) / (points - 1)
                                         for k in range(points)])
    (first_a, first_loss), (last_a, last_loss) = path_taken[0], path_taken[-1]
    print(f"validation loss {first_loss:.6f} -> {last_loss:.6f}, alpha {math.exp(first_a):.3g} "
          f"-> {math.exp(last_a):.3g}")
    best = min(grid, key=lambda row: row[1])
    print(f"best alpha on the grid {math.exp(best[0]):.3g} (loss {best[1]:.6f})")
    out = output_dir(args.out) / "sklearn_gradients.png"
    plot(grid, path_taken, (start, exact, central), out)
    print(f"plot saved to {out}")
    return path_taken


if __name__ == "__main__":
    main()
