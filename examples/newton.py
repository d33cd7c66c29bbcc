"""Newton's method without the Hessian: conjugate gradients on Hessian-vector products.

Each Newton step solves H p = -g only approximately, by conjugate gradients, which needs the
Hessian H only through products H v. ``multigrad.hvp`` gives those by forward over reverse (a
``jvp`` of the gradient), at the cost of a few gradients and without ever forming the n x n
matrix. A backtracking line search keeps the steps safe far from the minimum; near it, full
steps and ever tighter CG solves give the fast local convergence of Newton's method. The test
problem is the n-dimensional Rosenbrock function, whose minimum is at (1, ..., 1).

    python examples/newton.py                          # n = 100 on the cpu
    python examples/newton.py --device cuda            # on a CUDA GPU (needs CuPy)
    python examples/newton.py --quick --device strict:device1
"""

from __future__ import annotations

import argparse
import math

import multigrad as mg
from _common import device_name, summary


def rosenbrock(x):
    """sum over i of 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2."""
    return mg.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def dot(a, b) -> float:
    return float(mg.vecdot(a, b))


def conjugate_gradients(hessian_times, g, tolerance, max_steps):
    """An approximate solution of H p = -g, and the number of products H v it took.

    Stops when the residual falls under ``tolerance``, or at a direction of non-positive
    curvature (H is not positive definite there): then it returns the progress so far, or the
    steepest descent direction if there is none yet.
    """
    p = mg.zeros_like(g)
    r = g  # the residual H p + g
    d = -r
    rr = dot(r, r)
    for step in range(1, max_steps + 1):
        hd = hessian_times(d)
        curvature = dot(d, hd)
        if curvature <= 0:
            return (p if step > 1 else -g), step
        alpha = rr / curvature
        p = p + alpha * d
        r = r + alpha * hd
        rr_next = dot(r, r)
        if math.sqrt(rr_next) < tolerance:
            return p, step
        d = -r + (rr_next / rr) * d
        rr = rr_next
    return p, max_steps


def newton_cg(f, x, tolerance=1e-10, max_iterations=200):
    """Minimise ``f`` from ``x`` until the gradient norm is under ``tolerance``.

    Returns the point and the history ``[(iteration, f, |g|, CG steps), ...]``.
    """
    history = []
    value_and_grad = mg.value_and_grad(f)
    for iteration in range(max_iterations + 1):
        value, g = value_and_grad(x)
        g_norm = math.sqrt(dot(g, g))
        if g_norm < tolerance or iteration == max_iterations:
            history.append((iteration, float(value), g_norm, 0))
            print(f"iteration {iteration:3d}  f {float(value):.6e}  |grad| {g_norm:.3e}")
            return x, history

        def hessian_times(v, x=x):
            return mg.hvp(f, (x,), (v,))[1][0]

        # forcing term min(0.5, sqrt|g|) |g|: loose solves far away, superlinear steps near
        p, cg_steps = conjugate_gradients(hessian_times, g, min(0.5, math.sqrt(g_norm)) * g_norm,
                                          max_steps=2 * x.shape[0])
        history.append((iteration, float(value), g_norm, cg_steps))
        print(f"iteration {iteration:3d}  f {float(value):.6e}  |grad| {g_norm:.3e}  "
              f"CG steps {cg_steps}", flush=True)
        # backtracking (Armijo) line search along p
        slope, t = dot(g, p), 1.0
        while float(f(x + t * p)) > float(value) + 1e-4 * t * slope and t > 1e-12:
            t *= 0.5
        x = x + t * p
    return x, history


def starting_point(n, device):
    """(1.3, 0.7, 0.8, 1.9, 1.2) repeated: a start away from the minimum, across the valley."""
    pattern = mg.asarray([1.3, 0.7, 0.8, 1.9, 1.2], dtype=mg.float64, device=device)
    return mg.take(pattern, mg.arange(n, device=device) % 5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=summary(__doc__))
    parser.add_argument("--device", default=None, type=device_name,
                        help="cpu, cuda, cuda:N, strict:device1... (default: $MULTIGRAD_DEVICE "
                             "or cpu)")
    parser.add_argument("--n", type=int, default=100, help="the dimension (default 100)")
    parser.add_argument("--quick", action="store_true", help="n = 10 (for the tests)")
    parser.add_argument("--tolerance", type=float, default=1e-10)
    args = parser.parse_args(argv)
    device = mg.get_device(args.device or mg.get_default_device().name)
    n = 10 if args.quick else args.n
    print(f"Newton-CG on the {n}-dimensional Rosenbrock function on {device.name} (float64)")
    x, history = newton_cg(rosenbrock, starting_point(n, device), args.tolerance)
    hvps = sum(h[3] for h in history)
    distance = float(mg.max(mg.abs(x - 1.0)))
    print(f"done: {len(history) - 1} Newton steps, {hvps} Hessian-vector products, "
          f"|grad| {history[-1][2]:.3e}, max |x - 1| {distance:.3e}")
    return x, history


if __name__ == "__main__":
    main()
