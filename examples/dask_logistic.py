"""Logistic regression on data larger than memory: chunks on a Dask LocalCluster.

The data ``X`` (rows x features float64; the default 50,000,000 x 64 is 25.6 GB, more than the
memory of the machine it was written on) and its labels are generated chunk by chunk by the
cluster's worker processes, inside Dask's task graph: no process ever holds them whole. The
weights stay small NumPy arrays on the host ("cpu"), which Dask broadcasts into the graph, so
the code is the one written for data in memory:

    X, y = mg.asarray(X_dask), mg.asarray(y_dask)   # the recipe's two lines: lazy, chunked
    loss = mg.mean(mg.logaddexp(0.0, X @ w + b) - y * (X @ w + b)); loss.backward()

Each step builds the loss and its gradient as one task graph, runs it on the cluster under
Dask's own progress bar (standard error), reads the loss and the gradients (host arrays), and
takes a gradient-descent step (``mg.optim.SGD``) on the host, which builds no graph. The loss curve is
saved as ``dask_logistic.png``.

    python examples/dask_logistic.py                       # 50,000,000 rows on 2 workers
    python examples/dask_logistic.py --rows 2000000 --steps 30
    python examples/dask_logistic.py --quick               # seconds (what the tests run)
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path

import numpy as np

import multigrad as mg
from _common import EXAMPLES, output_dir, pyplot, require, summary

SCRIPT = "dask_logistic.py"


def make_data(rows: int, features: int, chunk_rows: int, seed: int):
    """``X`` (standard normal) and labels ``y`` from a known direction plus noise, as Dask
    arrays computed by whoever computes them, chunk by chunk."""
    import dask.array as da

    rng = da.random.default_rng(seed)
    X = rng.standard_normal((rows, features), chunks=(chunk_rows, features))
    truth = np.linspace(-1.0, 1.0, features)
    y = ((X @ truth + rng.standard_normal(rows, chunks=chunk_rows)) > 0).astype(np.float64)
    return X, y, truth


def logistic_loss(X, y, w, b):
    """The mean logistic loss of the labels ``y`` in {0, 1} under the scores ``X @ w + b``."""
    z = X @ w + b
    return mg.mean(mg.logaddexp(0.0, z) - y * z)


@contextlib.contextmanager
def local_cluster(workers: int):
    """A LocalCluster of ``workers`` processes of one thread on 127.0.0.1, and its client
    (Dask's default scheduler while it lives), closed whatever happens."""
    distributed = require("distributed", "dask.distributed", SCRIPT)
    cluster = client = None
    try:
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1,
                                           processes=True, host="127.0.0.1",
                                           dashboard_address=None, silence_logs=40)
        client = distributed.Client(cluster)
        yield client
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


def step_on_cluster(X, y, w, b):
    """The loss and the gradients of ``w`` and ``b`` (set on them), computed by the cluster
    under Dask's progress bar; returns the loss as a float."""
    import distributed

    loss = logistic_loss(X, y, w, b)
    loss.backward()  # builds the gradient's graph; computes nothing
    (loss,) = mg.persist(loss)  # the loss and the pending gradients start running
    with contextlib.redirect_stdout(sys.stderr):  # the bar on stderr, results on stdout
        distributed.progress(loss.data)
    return float(mg.compute(loss)[0])  # from the workers' memory; w.grad is a host array now


def fit(X, y, features, steps, lr, report):
    """Plain gradient descent from zero weights; returns the losses (one per step) and
    ``(w, b)``."""
    w = mg.nn.Parameter(mg.zeros(features, dtype=mg.float64))
    b = mg.nn.Parameter(mg.zeros((), dtype=mg.float64))
    optimizer = mg.optim.SGD([w, b], lr=lr)
    losses = []
    for step in range(steps):
        optimizer.zero_grad()
        start = time.perf_counter()
        losses.append(step_on_cluster(X, y, w, b))
        optimizer.step()  # on host arrays: no graph grows from step to step
        report(f"step {step + 1}/{steps}: loss {losses[-1]:.6f} "
               f"({time.perf_counter() - start:.1f} s)")
    return losses, (w, b)


def plot(losses, rows, path: Path) -> None:
    plt = pyplot(SCRIPT, required=False)
    if plt is None:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(losses) + 1), losses, marker="o")
    ax.set_xlabel("gradient-descent step")
    ax.set_ylabel("mean logistic loss")
    ax.set_title(f"logistic regression on {rows:,} rows (Dask LocalCluster)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"plot saved to {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=summary(__doc__), epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--lr", type=float, default=2.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="10,000 rows of 8 features, 4 steps (what the tests run)")
    parser.add_argument("--out", type=Path, default=EXAMPLES / "output" / "dask_logistic")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.features, args.chunk_rows, args.steps = 10_000, 8, 5_000, 4
    require("dask.array", "Dask", SCRIPT)

    X, y, truth = make_data(args.rows, args.features, args.chunk_rows, args.seed)
    size = args.rows * args.features * 8
    print(f"data: {args.rows:,} x {args.features} float64 = {size / 1e9:.2f} GB in "
          f"{X.numblocks[0]} chunks, generated on {args.workers} worker processes")
    with local_cluster(args.workers):
        losses, (w, b) = fit(mg.asarray(X), mg.asarray(y), args.features, args.steps,
                             args.lr, print)
    direction = w.numpy() / np.linalg.norm(w.numpy())
    print(f"initial loss {losses[0]:.6f}, final loss {losses[-1]:.6f}")
    print(f"cosine between the fitted weights and the true direction "
          f"{float(direction @ truth / np.linalg.norm(truth)):.4f}")
    plot(losses, args.rows, output_dir(args.out) / "dask_logistic.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
