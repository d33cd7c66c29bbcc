"""Where the time of the large MLP step (workload 2 on a GPU) goes: each kind of kernel the step
launches, timed alone in CuPy (what the reference and multigrad run) and in PyTorch.

    python benchmarks/profile_gpu_mlp.py [--device cuda:0] [--repeats 30]

The step is batch 4096 through 4096-wide float32 layers. Per layer, the forward pass is one
product ``h @ W`` (NN); the backward pass is ``h.T @ g`` for the weight (TN) and ``g @ W.T`` for
the layer's input (NT); the bias's gradient is a sum over the batch; ReLU's backward zeroes the
cotangent where the pre-activation is not positive. Some kernels are also timed in another
form, one that multigrad could use instead.
Medians of ``--repeats`` synchronised calls each, the two libraries interleaved call by call;
full float32 in both (PyTorch's TF32 is switched off, as in the benchmarks).
"""

from __future__ import annotations

import argparse
import statistics
import time


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda:0")
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--size", type=int, default=4096, help="batch and width (default 4096)")
    args = parser.parse_args(argv)

    import cupy
    import numpy as np
    import torch

    index = int(args.device.partition(":")[2] or 0)
    cupy.cuda.Device(index).use()
    torch.backends.cuda.matmul.allow_tf32 = False
    n = args.size
    rng = np.random.default_rng(0)
    host = {name: rng.standard_normal((n, n), dtype=np.float32) for name in ("h", "w", "g")}
    c = {name: cupy.asarray(a) for name, a in host.items()}
    t = {name: torch.tensor(a, device=f"cuda:{index}") for name, a in host.items()}

    c["ones"], t["ones"] = cupy.ones(n, dtype=cupy.float32), torch.ones(n, device=t["h"].device)
    fused_relu_backward = cupy.ElementwiseKernel("T y, T g", "T out", "out = y > 0 ? g : (T)0",
                                                 "relu_backward")
    kernels = {
        "forward product h @ W (NN)": (lambda: c["h"] @ c["w"], lambda: t["h"] @ t["w"]),
        "weight gradient h.T @ g (TN)": (lambda: c["h"].T @ c["g"], lambda: t["h"].T @ t["g"]),
        "input gradient g @ W.T (NT)": (lambda: c["g"] @ c["w"].T, lambda: t["g"] @ t["w"].T),
        "bias gradient sum(g, axis=0)": (lambda: cupy.sum(c["g"], axis=0),
                                         lambda: torch.sum(t["g"], dim=0)),
        "bias gradient ones @ g (GEMV)": (lambda: c["ones"] @ c["g"],
                                          lambda: t["ones"] @ t["g"]),
        "ReLU backward g * (z > 0), the reference's": (
            lambda: c["g"] * (c["h"] > 0).astype(cupy.float32),
            lambda: t["g"] * (t["h"] > 0).to(torch.float32)),
        "ReLU backward where(z > 0, g, 0), multigrad's": (
            lambda: cupy.where(c["h"] > 0, c["g"], 0.0),
            lambda: torch.where(t["h"] > 0, t["g"], 0.0)),
        "ReLU backward in one kernel (PyTorch's threshold_backward)": (
            lambda: fused_relu_backward(c["h"], c["g"]),
            lambda: torch.ops.aten.threshold_backward(t["g"], t["h"], 0.0)),
        "bias add z + b": (lambda: c["h"] + c["ones"], lambda: t["h"] + t["ones"]),
        "SGD update W -= lr * gW": (lambda: c["w"].__isub__(0.0 * c["g"]),
                                    lambda: t["w"].sub_(0.0 * t["g"])),
    }

    def sync():
        cupy.cuda.Device(index).synchronize()  # the whole device: PyTorch's stream too

    print(f"{args.device}: {cupy.cuda.runtime.getDeviceProperties(index)['name'].decode()}, "
          f"CuPy {cupy.__version__}, PyTorch {torch.__version__}; n = {n}; "
          f"medians of {args.repeats}\n")
    print("| kernel | CuPy | PyTorch | CuPy / PyTorch |")
    print("|---|---|---|---|")
    for label, (in_cupy, in_torch) in kernels.items():
        times = {"cupy": [], "torch": []}
        for call in (in_cupy, in_torch):  # warm-up: kernels compiled, algorithms chosen
            call()
        for _ in range(args.repeats):
            for name, call in (("cupy", in_cupy), ("torch", in_torch)):
                sync()
                start = time.perf_counter()
                call()
                sync()
                times[name].append(time.perf_counter() - start)
        mc, mt = statistics.median(times["cupy"]), statistics.median(times["torch"])
        print(f"| {label} | {mc * 1e3:.3f} ms | {mt * 1e3:.3f} ms | {mc / mt:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
