"""Per-layer checkpointing of a deep MLP: peak memory and time of forward + backward.

Two kinds of layer (``--layer``; by default both, one table each):

- ``dense``: ``tanh(h @ W + b)``. The plain run keeps three arrays of shape (batch, width) per
  layer for the backward pass (``h @ W``, ``h @ W + b`` and the tanh output, the next layer's
  input).
- ``residual``: ``h + tanh(h @ W1 + b1) @ W2 + b2``, the feed-forward block of a residual
  network or a transformer, with a hidden width (``--hidden``) equal to the width by default.
  The plain run keeps six arrays per layer: three of shape (batch, hidden) (``h @ W1``,
  ``h @ W1 + b1``, the tanh output) and three of shape (batch, width) (the product with
  ``W2``, the sum with ``h`` and the output).

With ``multigrad.checkpoint`` around each layer only the layer's input stays (one array of
shape (batch, width)), and the backward pass computes the layer again. So the activation
memory drops by up to 3x for ``dense`` and up to ``3 + 3 * hidden / width`` (6x at the default
width) for ``residual``, before the gradients and temporaries both runs need, and the time
grows by about one forward pass (roughly a third). The gradients of both runs must be
bit-identical.

Memory: ``tracemalloc`` on the NumPy device (NumPy reports its data buffers to tracemalloc),
the peak from the start of the forward pass to the end of the backward pass, counting what was
allocated after the parameters (so activations, the backward pass's temporaries and the
gradients). Time: wall clock of forward + backward without tracing, plain and checkpointed
interleaved (``benchmarks._timing.interleaved``) after the gradient check, which is also the
warm-up; medians, and the median over rounds of the time ratio.

    python benchmarks/bench_checkpoint.py --repeats 5         # the recorded run (both kinds)
    python benchmarks/bench_checkpoint.py --layer residual    # one kind
    python benchmarks/bench_checkpoint.py --quick             # a short smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: python benchmarks/bench_checkpoint.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import multigrad as mg  # noqa: E402
from benchmarks._timing import interleaved, median_ratio, peak_bytes  # noqa: E402


def dense_layer(h, w, b):
    return mg.tanh(h @ w + b)


def residual_layer(h, w1, b1, w2, b2):
    return h + mg.tanh(h @ w1 + b1) @ w2 + b2


def dense_params(gen, dtype, width, hidden, layers):
    w = mg.asarray(gen.normal((width, width), dtype)) * (1.0 / width ** 0.5)
    b = mg.asarray(gen.normal((width,), dtype)) * 0.1
    return w, b


def residual_params(gen, dtype, width, hidden, layers):
    w1 = mg.asarray(gen.normal((width, hidden), dtype)) * (1.0 / width ** 0.5)
    b1 = mg.asarray(gen.normal((hidden,), dtype)) * 0.1
    # each block adds at most 1 / (2 * layers) to the variance of h, so all of them keep it O(1);
    # b2 starts at zero for the same reason (random biases would add up over the blocks)
    w2 = mg.asarray(gen.normal((hidden, width), dtype)) * (1.0 / (2 * layers * hidden) ** 0.5)
    b2 = mg.zeros((width,), dtype=dtype)
    return w1, b1, w2, b2


#: each kind's layer function, the initialiser of one layer's parameters, and the table title
KINDS = {
    "dense": (dense_layer, dense_params, "tanh MLP, layer tanh(h @ W + b)"),
    "residual": (residual_layer, residual_params,
                 "residual MLP, layer h + tanh(h @ W1 + b1) @ W2 + b2"),
}


def make_model(kind, device, width, hidden, layers, batch, seed=0):
    """Each layer's parameters (a tuple, requiring gradients) and the input batch."""
    gen = device.random(seed)
    dtype = device.native_dtype("float64")
    make_layer = KINDS[kind][1]
    params = [tuple(p.requires_grad_() for p in make_layer(gen, dtype, width, hidden, layers))
              for _ in range(layers)]
    x = mg.asarray(gen.normal((batch, width), dtype))
    return params, x


def forward_backward(layer, params, x, checkpointed):
    """Gradients of a scalar loss with respect to every parameter."""
    h = x
    for p in params:
        h = mg.checkpoint(layer, h, *p) if checkpointed else layer(h, *p)
    loss = mg.sum(h * h)
    return mg.autograd.grad(loss, [t for p in params for t in p])


#: the two runs compared: name -> whether each layer is checkpointed
RUNS = {"plain": False, "per-layer checkpoint": True}


def measure(kind, device, args):
    """Peak bytes and median seconds of each run (keyed as ``RUNS``), and whether their
    gradients are bit-identical; prints the table."""
    layer = KINDS[kind][0]
    params, x = make_model(kind, device, args.width, args.hidden, args.layers, args.batch)
    calls = {run: lambda flag=flag: forward_backward(layer, params, x, flag)
             for run, flag in RUNS.items()}

    plain_grads, ckpt_grads = (call() for call in calls.values())
    same = all(bool(mg.all(a == b)) for a, b in zip(plain_grads, ckpt_grads, strict=True))
    del plain_grads, ckpt_grads

    memory = {run: peak_bytes(call, lambda: None, 1)[0] for run, call in calls.items()}
    times = interleaved(calls, args.repeats, device.synchronize,
                        lambda line: print(line, file=sys.stderr), kind)
    median = {run: statistics.median(ts) for run, ts in times.items()}

    hidden = f", hidden {args.hidden}" if kind == "residual" else ""
    print(f"{args.layers}-layer {KINDS[kind][2]}, width {args.width}{hidden}, batch {args.batch}, "
          f"float64, numpy on {platform.processor() or platform.machine()}; "
          f"median of {args.repeats} interleaved repeats")
    print("| run | peak memory (MiB) | time (ms) |")
    print("| --- | --- | --- |")
    for run in RUNS:
        print(f"| {run} | {memory[run] / 2 ** 20:.1f} | {median[run] * 1e3:.1f} |")
    plain, ckpt = RUNS
    print(f"| ratio | memory cut {memory[plain] / memory[ckpt]:.2f}x | "
          f"time {median_ratio(times[ckpt], times[plain]):.2f}x |")
    print(f"gradients bit-identical: {same}")
    return memory, median, same


def main(argv=None):
    """Run the chosen kinds; returns {kind: (peak bytes, median seconds, gradients identical)}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=sorted(KINDS), help="one kind only (default: both)")
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--hidden", type=int, help="hidden width of a residual layer "
                        "(default: the width)")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a small, fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.layers, args.width, args.batch, args.repeats = 8, 32, 64, 3
    if args.hidden is None:
        args.hidden = args.width
    device = mg.get_device("cpu")  # tracemalloc sees NumPy's allocations only
    results = {}
    for kind in [args.layer] if args.layer else list(KINDS):
        results[kind] = measure(kind, device, args)
        print()
    return results


if __name__ == "__main__":
    main()
