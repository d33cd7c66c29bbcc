"""The full gradient of f: R^n -> R three ways, as n grows: forward mode, reverse mode, and
central differences.

Forward mode pushes one direction through f per pass, so the whole gradient takes n passes (one
``jvp`` per coordinate); reverse mode pulls the single output back once and gets all n partial
derivatives from one pass; central differences evaluate f twice per coordinate and lose about
half the digits to the step. The script prints each method's time and its error against the
exact gradient (written out by hand), and saves a log-log plot of both.

    python examples/forward_vs_reverse.py                        # n = 1 ... 4096 on the cpu
    python examples/forward_vs_reverse.py --device cuda          # on a CUDA GPU (needs CuPy)
    python examples/forward_vs_reverse.py --quick --device strict:device1 --out /tmp/fvr

The plot, ``forward_vs_reverse.png``, goes to ``--out`` (default
``examples/output/forward_vs_reverse/``, as for the other examples). It needs matplotlib
(``pip install matplotlib``, or ``pip install -e '.[examples]'``); without it the table still
prints.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import multigrad as mg
from _common import device_name, output_dir, summary

FULL_SIZES = (1, 4, 16, 64, 256, 1024, 4096)
QUICK_SIZES = (1, 4, 16, 64)
METHODS = ("forward", "reverse", "central")


def f(x):
    """A chain that couples neighbours: sum(tanh(x_i x_{i+1})) + sum(sin x_i)."""
    return mg.sum(mg.tanh(x[:-1] * x[1:])) + mg.sum(mg.sin(x))


def exact_gradient(x):
    """f's gradient by hand: cos x_i plus x_{i+1} s_i from the right pair and x_{i-1} s_{i-1}
    from the left, with s_i = 1 - tanh(x_i x_{i+1})**2."""
    s = 1.0 - mg.tanh(x[:-1] * x[1:]) ** 2
    edge = mg.zeros((1,), dtype=x.dtype, device=x.device)
    return mg.cos(x) + mg.concat([x[1:] * s, edge]) + mg.concat([edge, x[:-1] * s])


def forward_mode(x):
    """n forward passes, each along one coordinate direction."""
    index = mg.arange(x.shape[0], device=x.device)
    parts = [mg.jvp(f, (x,), (mg.astype(index == i, x.dtype),))[1] for i in range(x.shape[0])]
    return mg.stack(parts)


def reverse_mode(x):
    """One reverse pass."""
    return mg.grad(f)(x)


def central_differences(x):
    """Two evaluations of f per coordinate."""
    return mg.numerical.numerical_grad(f, [x])[0]


GRADIENTS = {"forward": forward_mode, "reverse": reverse_mode, "central": central_differences}


def measure(method, x, device, repeats):
    """The best time of ``repeats`` runs (seconds) and the gradient of the last."""
    best = float("inf")
    for _ in range(repeats):
        device.synchronize()
        start = time.perf_counter()
        g = GRADIENTS[method](x)
        device.synchronize()
        best = min(best, time.perf_counter() - start)
    return best, g


def compare(device_name, sizes, seed=0):
    """Rows ``(n, {method: (seconds, relative error)})`` for each size."""
    device = mg.get_device(device_name)
    rows = []
    for n in sizes:
        gen = device.random(seed + n)
        x = mg.asarray(gen.normal((n,), device.native_dtype(mg.float64)))
        exact = exact_gradient(x)
        scale = float(mg.max(mg.abs(exact)))
        repeats = max(1, min(5, 256 // n))  # small sizes run in microseconds: take the best
        results = {}
        for method in METHODS:
            seconds, g = measure(method, x, device, repeats)
            results[method] = (seconds, float(mg.max(mg.abs(g - exact))) / scale)
        rows.append((n, results))
        print(format_row(n, results), flush=True)
    return rows


def format_header():
    cells = "".join(f" | {m + ' time':>13} {m + ' error':>14}" for m in METHODS)
    return f"{'n':>5}{cells}"


def format_row(n, results):
    cells = "".join(f" | {t * 1e3:>10.3f} ms {e:>14.2e}" for t, e in
                    (results[m] for m in METHODS))
    return f"{n:>5}{cells}"


def plot(rows, path):
    """Save time and error against n, log-log; say how to get matplotlib if it is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("no plot: matplotlib is not installed (pip install matplotlib, or "
              "pip install -e '.[examples]')")
        return None
    output_dir(path.parent)
    sizes = [n for n, _ in rows]
    fig, (ax_time, ax_err) = plt.subplots(1, 2, figsize=(11, 4.2))
    for method in METHODS:
        ax_time.loglog(sizes, [r[method][0] for _, r in rows], "o-", label=method)
        # an exact zero error has no place on a log axis: draw it at the floor of float64
        ax_err.loglog(sizes, [max(r[method][1], 1e-17) for _, r in rows], "o-", label=method)
    ax_time.set(xlabel="n (inputs)", ylabel="seconds for the full gradient",
                title="time: forward grows with n, reverse does not")
    ax_err.set(xlabel="n (inputs)", ylabel="max error / max |gradient|",
               title="error against the exact gradient")
    for ax in (ax_time, ax_err):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot saved to {path}")
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--device", default=None, type=device_name,
                        help="cpu, cuda, cuda:N, strict:device1... (default: $MULTIGRAD_DEVICE "
                             "or cpu)")
    parser.add_argument("--quick", action="store_true",
                        help=f"sizes up to {QUICK_SIZES[-1]} only (for the tests)")
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent / "output" / "forward_vs_reverse",
                        help="folder for the plot (default: examples/output/forward_vs_reverse)")
    args = parser.parse_args(argv)
    device = args.device or mg.get_default_device().name
    sizes = QUICK_SIZES if args.quick else FULL_SIZES
    print(f"the gradient of f: R^n -> R on {device} (float64), n = {sizes[0]} ... {sizes[-1]}")
    print(format_header())
    rows = compare(device, sizes)
    plot(rows, args.out / "forward_vs_reverse.png")
    return rows


if __name__ == "__main__":
    main()
