"""The workloads, each a module with ``run(context)`` that appends its result cases."""

import importlib

#: the workloads' module names, in the order they are run and reported
NAMES = ("tape", "mlp", "cnn", "hvp", "deep", "memory", "relu", "scale")


def workload(name: str):
    """The module of workload ``name``, imported on first use: importing them all here would
    make ``python -m benchmarks.workloads.scale`` import its own module twice."""
    return importlib.import_module(f"{__name__}.{name}")
