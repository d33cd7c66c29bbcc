"""What the training examples share: their command line, optional imports, data and batches.

Each example is run as a script (``python examples/mlp_digits.py``), which puts this folder on
``sys.path``, so ``from _common import ...`` finds this module.
"""

from __future__ import annotations

import argparse
import importlib
import random
import sys
from pathlib import Path
from typing import Iterator

import multigrad as mg

__all__ = ["example_parser", "device_name", "output_dir", "require", "pyplot", "progress",
           "minibatches",
           "accuracy"]

EXAMPLES = Path(__file__).resolve().parent
INSTALL_HINT = "python -m pip install -e '.[examples]' (or the 'test' extra)"


def summary(doc: str) -> str:
    """The first paragraph of a docstring, on one line (``--help``'s description)."""
    return " ".join(doc.strip().split("\n\n")[0].split())


def device_name(spec: str) -> str:
    """``--device``'s type: ``spec`` if this machine has that device, else argparse's error,
    which says what is missing and how to install it (and no traceback)."""
    try:
        mg.get_device(spec)
    except mg.DeviceError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def example_parser(doc: str, script: str) -> argparse.ArgumentParser:
    """The options every example takes: ``--device``, ``--quick``, ``--out``, ``--seed``."""
    parser = argparse.ArgumentParser(description=summary(doc), epilog=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", type=device_name,
                        help="cpu, cuda, cuda:N, strict:device1... (default: cpu)")
    parser.add_argument("--quick", action="store_true",
                        help="a run of a few seconds (what the tests run)")
    parser.add_argument("--out", type=Path, default=EXAMPLES / "output" / script,
                        help="folder for the plots (default: examples/output/<script>)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random choice")
    return parser


def output_dir(path: Path) -> Path:
    """``path``, created if it does not exist yet."""
    path.mkdir(parents=True, exist_ok=True)
    return path


def require(module: str, package: str, script: str):
    """Import ``module``, or fail with the command that installs the extra providing it."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise SystemExit(f"{script} needs {package}, which is not installed: install the "
                         f"examples' extra with {INSTALL_HINT}") from err


def pyplot(script: str, required: bool = True):
    """matplotlib's pyplot drawing to files only (no window, works without a display).

    Without matplotlib: an exit naming the extra to install, or, when the plot is not
    ``required``, that hint printed and None returned (the script goes on without it).
    """
    if not required:
        try:
            importlib.import_module("matplotlib")
        except ImportError:
            print(f"no plot: matplotlib is not installed ({INSTALL_HINT})")
            return None
    matplotlib = require("matplotlib", "matplotlib", script)
    matplotlib.use("Agg")
    return importlib.import_module("matplotlib.pyplot")


def progress(iterable, desc: str):
    """tqdm's progress bar over ``iterable`` on standard error, so that standard output keeps
    the results; ``bar.set_postfix(loss=..., refresh=False)`` shows values at the next redraw.

    On a terminal it redraws ten times a second; in a log or a pipe, every 5 seconds and at
    the end.
    """
    tqdm = require("tqdm", "tqdm", Path(sys.argv[0]).name)
    return tqdm.tqdm(iterable, desc=desc, mininterval=0.1 if sys.stderr.isatty() else 5.0)


def minibatches(n: int, batch_size: int, rng: random.Random, device) -> Iterator[mg.Tensor]:
    """Index tensors on ``device`` of one shuffled pass over ``n`` rows.

    The order comes from a Python ``random.Random``, not from the device's generator, so every
    device sees the same batches from the same seed.
    """
    order = list(range(n))
    rng.shuffle(order)
    for start in range(0, n, batch_size):
        yield mg.asarray(order[start:start + batch_size], dtype=mg.int64, device=device)


def accuracy(logits: mg.Tensor, labels: mg.Tensor) -> float:
    """The fraction of rows whose largest logit is at the label."""
    hits = mg.argmax(logits, axis=-1) == labels
    return mg.mean(mg.astype(hits, logits.dtype)).item()
