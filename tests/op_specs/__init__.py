"""The op table: one ``OpSpec`` per tested function, in the spirit of PyTorch's OpInfo.

Each family file (``elementwise.py``, ``linalg.py``...) defines ``SPECS``; ``ALL_SPECS`` joins
them. ``tests/test_op_gradients.py`` runs every spec on every backend: forward against the
NumPy reference, VJP and JVP against central differences (float64), the transpose identity
``<v, J u> = <J^T v, u>`` (every dtype), and the dtype and device of every gradient and tangent.
``tests/test_registry.py`` fails when a primitive is covered by no spec.

Complex cases are specs of their own, named ``<name>-complex`` (``complex_twin`` makes one from
a real spec): their inputs are complex128 on the float64 backends, where the derivatives are
checked against central differences in the real and the imaginary parts of every input, and
complex64 on the float32 ones, where the transpose identity runs (pairings are real parts,
``Re sum(a * b)``: JAX's convention, in which a cotangent pairs with a tangent without
conjugation).
"""

from __future__ import annotations

import dataclasses
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

    Complex cases:

    complex : bool
        The inputs are complex (a ``complex_twin``); the property tests leave such specs out,
        and ``second_order="fd"`` asks ``tests/test_op_gradients.py`` for the second
        derivatives against central differences.
    complex_args : tuple of int
        The arguments given an imaginary part after drawing (from the same domain, or
        standard normal after ``make``); a floating argument only.
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
    complex: bool = False
    complex_args: tuple = ()

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
        """NumPy inputs for one case (float64 or complex128; the test casts them to the
        backend's precision)."""
        domains = self.domain if isinstance(self.domain, list) else [self.domain] * len(shapes)
        if self.make is not None:
            arrays = [np.asarray(a) for a in self.make(rng, shapes, params)]
        else:
            arrays = [rng.uniform(lo, hi, size=s) for s, (lo, hi) in zip(shapes, domains)]
        for k in self.complex_args:
            if k >= len(arrays) or arrays[k].dtype.kind != "f":
                continue
            a = arrays[k]
            imag = (rng.standard_normal(a.shape) if self.make is not None
                    else rng.uniform(*domains[k], size=a.shape))
            arrays[k] = a + 1j * imag
        return arrays

    def xfail_reason(self, backend_id: str) -> str | None:
        for pattern, reason in self.xfail.items():
            if fnmatch.fnmatch(backend_id, pattern):
                return reason
        return None


def complex_twin(spec: OpSpec, *, args=None, second_order="skip", **changes) -> OpSpec:
    """``spec`` with complex inputs: named ``<name>-complex``, the arguments ``args`` (default:
    every argument its shapes name) given an imaginary part, unless ``changes`` bring a
    ``make`` of complex inputs; the property tests' annotations dropped."""
    if args is None:
        args = () if "make" in changes else tuple(range(max(len(s) for s in spec.shapes)))
    name = changes.pop("name", f"{spec.name}-complex")
    return dataclasses.replace(spec, name=name, complex=True, complex_args=tuple(args),
                               random=None, special=None, smooth_at_special=False,
                               second_order=second_order, **changes)


def complex_twins(specs, names, **changes) -> list:
    """The ``complex_twin`` of each spec of ``specs`` named in ``names``, in that order."""
    by_name = {s.name: s for s in specs}
    return [complex_twin(by_name[n], **changes) for n in names]


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
