"""Per-layer checkpointing of a deep tanh MLP: peak memory and time of forward + backward.

Each of ``--layers`` layers is ``tanh(h @ W + b)``. The plain run keeps three arrays per layer
for the backward pass (``h @ W``, ``h @ W + b`` and the tanh output); with
``multigrad.checkpoint`` around each layer only the layer's input stays, and the backward pass
computes the layer again. So the activation memory drops by up to 3x and the time grows by
about one forward pass (roughly a third).

Memory: ``tracemalloc`` on the NumPy device (NumPy reports its data buffers to tracemalloc),
the peak from the start of the forward pass to the end of the backward pass, counting what was
allocated after the parameters (so activations, the backward pass's temporaries and the
gradients). Time: wall clock of forward + backward without tracing, medians over interleaved
repeats (plain, checkpointed, plain, ...) after a warm-up.

    python benchmarks/bench_checkpoint.py                     # the recorded run
    python benchmarks/bench_checkpoint.py --quick             # a short smoke run
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
import tracemalloc

import multigrad as mg


def make_model(device, width, layers, batch, seed=0):
    gen = device.random(seed)
    dtype = device.native_dtype("float64")
    params = []
    for _ in range(layers):
        w = mg.asarray(gen.normal((width, width), dtype)) * (1.0 / width ** 0.5)
        b = mg.asarray(gen.normal((width,), dtype)) * 0.1
        params.append((w.requires_grad_(), b.requires_grad_()))
    x = mg.asarray(gen.normal((batch, width), dtype))
    return params, x


def layer(h, w, b):
    return mg.tanh(h @ w + b)


def forward_backward(params, x, checkpointed):
    """Gradients of a scalar loss with respect to every parameter."""
    h = x
    for w, b in params:
        h = mg.checkpoint(layer, h, w, b) if checkpointed else layer(h, w, b)
    loss = mg.sum(h * h)
    return mg.autograd.grad(loss, [p for pair in params for p in pair])


def peak_bytes(params, x, checkpointed) -> int:
    tracemalloc.start()
    try:
        grads = forward_backward(params, x, checkpointed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del grads
    return peak


def seconds(params, x, checkpointed, device) -> float:
    start = time.perf_counter()
    forward_backward(params, x, checkpointed)
    device.synchronize()
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=64)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="a small, fast smoke run")
    args = parser.parse_args(argv)
    if args.quick:
        args.layers, args.width, args.batch, args.repeats = 8, 32, 64, 3
    device = mg.get_device("cpu")  # tracemalloc sees NumPy's allocations only
    params, x = make_model(device, args.width, args.layers, args.batch)

    plain, ckpt = forward_backward(params, x, False), forward_backward(params, x, True)
    same = all(bool(mg.all(a == b)) for a, b in zip(plain, ckpt))
    del plain, ckpt

    memory = {flag: peak_bytes(params, x, flag) for flag in (False, True)}
    times = {False: [], True: []}
    seconds(params, x, False, device)  # warm-up
    for _ in range(args.repeats):
        for flag in (False, True):  # interleaved, so drifts hit both alike
            times[flag].append(seconds(params, x, flag, device))
    median = {flag: statistics.median(ts) for flag, ts in times.items()}

    print(f"{args.layers}-layer tanh MLP, width {args.width}, batch {args.batch}, float64, "
          f"numpy on {platform.processor() or platform.machine()}; "
          f"median of {args.repeats} interleaved repeats")
    print("| run | peak memory (MiB) | time (ms) |")
    print("| --- | --- | --- |")
    for flag, name in ((False, "plain"), (True, "per-layer checkpoint")):
        print(f"| {name} | {memory[flag] / 2 ** 20:.1f} | {median[flag] * 1e3:.1f} |")
    print(f"| ratio | memory cut {memory[False] / memory[True]:.2f}x | "
          f"time {median[True] / median[False]:.2f}x |")
    print(f"gradients bit-identical: {same}")
    return memory, median, same


if __name__ == "__main__":
    main()
