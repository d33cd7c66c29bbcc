"""The op table: one ``OpSpec`` per tested function, in the spirit of PyTorch's OpInfo.

Each family file (``elementwise.py``, ``linalg.py``...) defines ``SPECS``; ``ALL_SPECS`` joins
them. ``tests/test_op_gradients.py`` runs every spec on every backend: forward against the
NumPy reference, VJP and JVP against central differences (float64), the transpose identity
``<v, J u> = <J^T v, u>`` (every dtype), and the dtype and device of every gradient and tangent.
``tests/test_registry.py`` fails when a primitive is covered by no spec.
"""

from __future__ import annotations

import fnmatch
import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np


@dataclass
class OpSpec:
    """How to test one function.

    Attributes
    ----------
    name : str
        A readable name, unique in the table (``"sum-axis"``); used in test ids.
    fn : callable
        ``fn(*tensors, **params)`` calling multigrad; returns a tensor or a tuple of tensors.
    ref : callable or None
        ``ref(*numpy_arrays, **params)`` computing the same in NumPy (float64); None skips the
        forward check (when the result is not unique, say eigenvectors' signs).
    shapes : list of tuple of shape
        Input shape combinations (one shape per argument); include broadcasting pairs.
    params : list of dict
        Static keyword arguments; every combination with ``shapes`` is tested.
    domain : (low, high) or list of them, one per argument
        Interval the float inputs are drawn from (keep away from singular points).
    make : callable, optional
        ``make(rng, shapes, params) -> list of numpy arrays`` replacing the uniform draw (for
        SPD matrices, distinct values, index arrays...); float arrays are cast to the backend's
        dtype, others kept.
    grad_args : tuple of int or None
        Arguments differentiated (default: every floating argument).
    covers : tuple of str
        Names of the primitives this spec exercises (default: ``(name,)``).
    differentiable : bool
        False for functions whose results carry no gradient (comparisons, argmax...): the test
        checks that the result does not require gradients.
    rtol, atol : dict
        Forward tolerances per dtype name.
    grad_rtol : dict
        Tolerances for the derivative checks per dtype name.
    xfail : dict
        ``{backend id pattern: reason}``; matching cases are expected to fail.
    projection : callable or None
        For a function defined on a subspace (cholesky and eigh read one triangle of a matrix
        meant to be symmetric): ``projection(direction)`` (NumPy) is the part of an input
        direction its derivative sees. The VJP and JVP along any direction must then equal
        central differences along the projection (so the rule's own convention is tested).

    The property-based tests (``tests/test_properties.py``) also read:

    random : str or None
        How they may vary the shapes: ``"elementwise"`` (every argument any shape, 0-d and
        empty included, broadcast together), ``"reduction"`` (one argument of any shape, a random
        ``axis`` and ``keepdims``), or None (the spec's own shapes and params).
    special : tuple of lists or None
        Special values per argument (zeros, ties, 0 exponents), mixed into the draws: every
        derivative there must be finite, and VJP and JVP each other's transpose.
    smooth_at_special : bool
        The function is smooth at its special values (logaddexp's ties, pow's 0 exponent,
        prod's zeros): its first and second derivatives there must match central differences.
        Otherwise the conventions there are pinned by ``tests/test_special_points.py``.
    second_order : str
        What the second derivative is at the spec's own draws: ``"fd"`` (smooth there: central
        differences of the gradient), ``"zero"`` (piecewise linear: 0, at the special values
        too), or ``"skip"`` (a kink among the draws, so neither).
    """

    name: str
    fn: Callable
    ref: Callable | None
    shapes: list
    params: list = field(default_factory=lambda: [{}])
    domain: object = (-2.0, 2.0)
    make: Callable | None = None
    grad_args: tuple | None = None
    covers: tuple = ()
    differentiable: bool = True
    rtol: dict = field(default_factory=lambda: {"float32": 1e-5, "float64": 1e-12})
    atol: dict = field(default_factory=lambda: {"float32": 1e-5, "float64": 1e-12})
    grad_rtol: dict = field(default_factory=lambda: {"float32": 1e-3, "float64": 1e-6})
    xfail: dict = field(default_factory=dict)
    projection: Callable | None = None
    random: str | None = None
    special: tuple | None = None
    smooth_at_special: bool = False
    second_order: str = "fd"

    def __post_init__(self):
        if not self.covers:
            self.covers = (self.name,)

    def cases(self):
        """(shapes, params) combinations, each with a readable id."""
        for shapes, params in itertools.product(self.shapes, self.params):
            sid = "x".join("".join(map(str, s)) or "s" for s in shapes)
            pid = ",".join(f"{k}={v}" for k, v in params.items())
            yield shapes, params, f"{self.name}[{sid}{'|' + pid if pid else ''}]"

    def inputs(self, rng, shapes, params):
        """NumPy inputs for one case (float64; the test casts them to the backend's dtype)."""
        if self.make is not None:
            return [np.asarray(a) for a in self.make(rng, shapes, params)]
        domains = self.domain if isinstance(self.domain, list) else [self.domain] * len(shapes)
        return [rng.uniform(lo, hi, size=s) for s, (lo, hi) in zip(shapes, domains)]

    def xfail_reason(self, backend_id: str) -> str | None:
        for pattern, reason in self.xfail.items():
            if fnmatch.fnmatch(backend_id, pattern):
                return reason
        return None


def _collect():
    from . import (elementwise, fft, indexing, linalg, manipulation, nn, searching, special,
                   statistical)
    specs = []
    for module in (elementwise, fft, indexing, linalg, manipulation, nn, searching, special,
                   statistical):
        specs.extend(module.SPECS)
    names = [s.name for s in specs]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"op specs with the same name: {sorted(dupes)}")
    return specs


ALL_SPECS = _collect()
