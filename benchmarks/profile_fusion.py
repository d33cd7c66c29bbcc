"""Would fusing elementwise chains pay on the CPU? NumPy op by op against numexpr, one thread.

A compiled program on NumPy runs each elementwise op as its own ufunc call, writing into a
reused buffer (``out=``). numexpr evaluates a whole expression in one pass over blocks that fit
in cache, which is what fusion would give. This times both on the chains that compiled steps
are made of, at several sizes, interleaved, with every thread pool pinned to one thread:

- ``affine tanh``: ``tanh(x * 1.05 + 0.01)`` (the tape chain's three ops);
- ``tanh backward``: ``g * (1 - y * y)`` (tanh's rule);
- ``relu backward``: ``where(h > 0, g, 0)`` (ReLU's rule; on NumPy multigrad's bit mask);
- ``adam``: ``m / (sqrt(v) + 1e-8) * lr`` (the optimizer's update, float32).

    python benchmarks/profile_fusion.py               # float64 and float32, four sizes
    python benchmarks/profile_fusion.py --rounds 41

numexpr reads a Python float in an expression as float64, so its float32 rows compute in
float64 and cast the result: read the float64 rows for the comparison of the two loops.
numexpr is not a dependency of multigrad; this script needs it (``pip install numexpr``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # before numpy and numexpr load

if __package__ in (None, ""):  # run as a script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import multigrad as mg  # noqa: E402
from benchmarks._timing import interleaved  # noqa: E402


def _chains(rng, n, dtype):
    """(name -> (NumPy op by op into buffers, the numexpr expression, the names it reads),
    the arrays by name)."""
    x, g, y, h, m = (rng.standard_normal(n).astype(dtype) for _ in range(5))
    v = np.abs(rng.standard_normal(n)).astype(dtype)
    a = np.empty_like(x)
    device = mg.get_device("cpu")

    def affine_tanh():
        np.multiply(x, 1.05, out=a)
        np.add(a, 0.01, out=a)
        return np.tanh(a, out=a)

    def tanh_backward():
        np.multiply(y, y, out=a)
        np.subtract(1, a, out=a)
        return np.multiply(g, a, out=a)

    def relu_backward():  # what ReLU's rule runs on NumPy (a bit mask, not where)
        return device.where_positive(h, g)

    def adam():
        np.sqrt(v, out=a)
        np.add(a, 1e-8, out=a)
        np.divide(m, a, out=a)
        return np.multiply(a, 1e-3, out=a)

    env = {"x": x, "g": g, "y": y, "h": h, "m": m, "v": v}
    return {
        "affine tanh": (affine_tanh, "tanh(x * 1.05 + 0.01)", "x"),
        "tanh backward": (tanh_backward, "g * (1 - y * y)", "gy"),
        "relu backward": (relu_backward, "where(h > 0, g, 0)", "gh"),
        "adam": (adam, "m / (sqrt(v) + 1e-8) * 1e-3", "mv"),
    }, env


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--sizes", default="16,4096,262144,4194304")
    args = parser.parse_args(argv)
    import numexpr

    numexpr.set_num_threads(1)
    rng = np.random.default_rng(0)
    print(f"numpy {np.__version__}, numexpr {numexpr.__version__}, one thread\n")
    print("| chain | dtype | elements | NumPy op by op | numexpr | numexpr / NumPy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for dtype in (np.float64, np.float32):
        for n in (int(s) for s in args.sizes.split(",")):
            chains, env = _chains(rng, n, dtype)
            for name, (by_ops, expression, names) in chains.items():
                out = np.empty(n, dtype=dtype)
                local = {k: env[k] for k in names}
                fused = lambda: numexpr.evaluate(  # noqa: E731 (parsed once, then cached)
                    expression, local_dict=local, out=out)
                np.testing.assert_allclose(fused(), by_ops(), rtol=1e-5, atol=1e-6)
                calls = max(1, 2_000_000 // n)  # about a millisecond per sample
                samples = interleaved(
                    {"numpy": lambda: [by_ops() for _ in range(calls)],
                     "numexpr": lambda: [fused() for _ in range(calls)]},
                    args.rounds, lambda: None, lambda line: None, name)
                ratio = statistics.median(e / n_ for e, n_ in zip(samples["numexpr"],
                                                                   samples["numpy"]))
                per = {k: statistics.median(v) / calls * 1e6 for k, v in samples.items()}
                print(f"| {name} | {np.dtype(dtype).name} | {n:,} | {per['numpy']:.3g} us | "
                      f"{per['numexpr']:.3g} us | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
