"""Checkpointing a deep MLP: peak memory (and time) of forward + backward, by depth.

Two kinds of layer (``--layer``; by default both):

- ``dense``: ``tanh(h @ W + b)``. Nodes keep only what their rules read, so the plain run
  already keeps about one array of shape (batch, width) per layer (the layer's input, which
  the product needs; the tanh output is the next layer's input): checkpointing each layer has
  nothing to save, and costs its recomputation.
- ``residual``: ``h + tanh(h @ W1 + b1) @ W2 + b2``, the feed-forward block of a residual
  network or a transformer, with a hidden width (``--hidden``) equal to the width by default.
  The plain run keeps two arrays per layer (its input, and the tanh output of shape
  (batch, hidden)); checkpointed, one.

Three runs of each: ``plain``; ``per-layer checkpoint`` (``multigrad.checkpoint`` around each
layer: the layers' inputs stay, each layer is computed again during backward); and
``sqrt(n) segments`` (a checkpoint around each run of about sqrt(n) layers: the segments'
inputs stay, and during backward one segment's activations at a time), whose memory grows as
the square root of the depth where the others grow linearly. Gradients of all three must be
bit-identical.

Memory: ``tracemalloc`` on the NumPy device (NumPy reports its data buffers to tracemalloc),
the peak from the start of the forward pass to the end of the backward pass, counting what was
allocated after the parameters (so activations, the backward pass's temporaries and the
gradients). The gradients are as large as the parameters and the same in every run; the sizes
measured make the activations (batch x width per array) far larger than a layer's
parameters (width x width), so the peak is theirs. Time: wall clock of forward + backward without tracing, the runs interleaved
(``benchmarks._timing.interleaved``) after the gradient check, which is also the warm-up;
medians, and the median over rounds of each time ratio to the plain run.

    python benchmarks/bench_checkpoint.py --repeats 5              # one depth (64), both kinds
    python benchmarks/bench_checkpoint.py --depths 16,32,64,128,256 --width 32 \
        --batch 4096 --plot curve.png                              # memory against depth
    python benchmarks/bench_checkpoint.py --quick                  # a short smoke run
"""

from __future__ import annotations

import argparse
import math
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


def segments(n: int, size: int) -> list[range]:
    """The layers 0..n-1 in runs of ``size`` (the last may be shorter)."""
    return [range(k, min(k + size, n)) for k in range(0, n, size)]


def forward_backward(layer, params, x, segment: int):
    """Gradients of a scalar loss with respect to every parameter; ``segment`` layers per
    checkpoint (0: none)."""
    h = x
    if not segment:
        for p in params:
            h = layer(h, *p)
    else:
        for run in segments(len(params), segment):
            def block(h, *flat, run=run):
                per = len(flat) // len(run)
                for k in range(len(run)):
                    h = layer(h, *flat[k * per:(k + 1) * per])
                return h
            h = mg.checkpoint(block, h, *(t for k in run for t in params[k]))
    loss = mg.sum(h * h)
    return mg.autograd.grad(loss, [t for p in params for t in p])


def runs(layers: int) -> dict:
    """The runs compared: name -> layers per checkpoint (0: no checkpoint)."""
    return {"plain": 0, "per-layer checkpoint": 1,
            "sqrt(n) segments": max(1, round(math.sqrt(layers)))}


def measure(kind, device, args, layers, timed=True):
    """Peak bytes and median seconds of each run (keyed as ``runs``), and whether their
    gradients are bit-identical."""
    layer = KINDS[kind][0]
    params, x = make_model(kind, device, args.width, args.hidden, layers, args.batch)
    calls = {run: lambda size=size: forward_backward(layer, params, x, size)
             for run, size in runs(layers).items()}

    grads = [call() for call in calls.values()]
    same = all(bool(mg.all(a == b)) for other in grads[1:]
               for a, b in zip(grads[0], other, strict=True))
    del grads

    memory = {run: peak_bytes(call, lambda: None, 1)[0] for run, call in calls.items()}
    times = (interleaved(calls, args.repeats, device.synchronize,
                         lambda line: print(line, file=sys.stderr), kind) if timed else None)
    return memory, times, same


def report(kind, args, layers, memory, times, same) -> None:
    hidden = f", hidden {args.hidden}" if kind == "residual" else ""
    print(f"{layers}-layer {KINDS[kind][2]}, width {args.width}{hidden}, batch {args.batch}, "
          f"float64, numpy on {platform.processor() or platform.machine()}; "
          f"median of {args.repeats} interleaved repeats")
    print("| run | peak memory (MiB) | memory vs plain | time (ms) | time vs plain |")
    print("| --- | --- | --- | --- | --- |")
    plain = next(iter(memory))
    for run in memory:
        print(f"| {run} | {memory[run] / 2 ** 20:.1f} | {memory[run] / memory[plain]:.2f}x | "
              f"{statistics.median(times[run]) * 1e3:.1f} | "
              f"{median_ratio(times[run], times[plain]):.2f}x |")
    print(f"gradients bit-identical: {same}")


def curve(kind, device, args) -> dict:
    """Peak memory of each run at each depth of ``--depths``; prints a table."""
    found = {}
    for layers in args.depths:
        found[layers], _, same = measure(kind, device, args, layers, timed=False)
        if not same:
            raise AssertionError(f"{kind}, {layers} layers: the runs' gradients differ")
    names = list(runs(args.depths[0]))
    print(f"{KINDS[kind][2]}, width {args.width}, batch {args.batch}, float64: peak memory "
          "(MiB) by depth; gradients bit-identical at every depth")
    print("| layers | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for layers, memory in found.items():
        print(f"| {layers} | " + " | ".join(f"{memory[n] / 2 ** 20:.1f}" for n in names) + " |")
    return found


def plot(curves: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, len(curves), figsize=(5.5 * len(curves), 4), squeeze=False)
    for ax, (kind, found) in zip(axes[0], curves.items()):
        depths = list(found)
        for run in found[depths[0]]:
            ax.plot(depths, [found[d][run] / 2 ** 20 for d in depths], marker="o", label=run)
        ax.set(xscale="log", yscale="log", xlabel="layers", ylabel="peak memory (MiB)",
               title=KINDS[kind][2])
        ax.set_xticks(depths, [str(d) for d in depths])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    """Run the chosen kinds; returns {kind: (peak bytes, times, gradients identical)} at one
    depth, or {kind: {depth: peak bytes}} with ``--depths``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layer", choices=sorted(KINDS), help="one kind only (default: both)")
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--depths", type=lambda text: [int(d) for d in text.split(",")],
                        help="memory of each run at these depths (comma-separated), no timing")
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--hidden", type=int, help="hidden width of a residual layer "
                        "(default: the width)")
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--plot", help="with --depths: save the curves to this PNG file")
    parser.add_argument("--quick", action="store_true", help="a small, fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.layers, args.width, args.batch, args.repeats = 16, 16, 512, 3
    if args.hidden is None:
        args.hidden = args.width
    device = mg.get_device("cpu")  # tracemalloc sees NumPy's allocations only
    kinds = [args.layer] if args.layer else list(KINDS)
    if args.depths:
        curves = {kind: curve(kind, device, args) for kind in kinds}
        if args.plot:
            plot(curves, args.plot)
        return curves
    results = {}
    for kind in kinds:
        results[kind] = measure(kind, device, args, args.layers)
        report(kind, args, args.layers, *results[kind])
        print()
    return results


if __name__ == "__main__":
    main()
