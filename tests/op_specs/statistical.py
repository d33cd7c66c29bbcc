"""Op specs for the statistical functions (reductions) and the utility functions.

Complex cases: sum, prod, mean, var and std (real results: the mean of ``|x - mean|**2``, which
the standard leaves to real input), the cumulative sum and product, diff.
"""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twins

SHAPES = [((2, 3),), ((2, 3, 2),)]
AXES = [{"axis": None}, {"axis": None, "keepdims": True}, {"axis": 0},
        {"axis": -1, "keepdims": True}, {"axis": (0, 1)}, {"axis": (0, -1), "keepdims": True}]
CORRECTIONS = [dict(p, correction=c) for p in (AXES[0], AXES[3], AXES[4]) for c in (0, 1)]
EMPTY = [((2, 0),), ((0, 3),)]
EMPTY_AXES = [{"axis": None}, {"axis": 0}, {"axis": 1}, {"axis": -1, "keepdims": True}]
CUMULATIVE = [{"axis": 0}, {"axis": -1}, {"axis": 0, "include_initial": True},
              {"axis": 1, "include_initial": True}]


def _np_axis(params):
    axis = params.get("axis")
    return tuple(axis) if isinstance(axis, list) else axis


def _top_two(x, params, largest=True):
    """Masks of the largest (or smallest) and second one in every reduced slice."""
    axis, sign = _np_axis(params), 1.0 if largest else -1.0
    y = sign * x
    first = y == np.max(y, axis=axis, keepdims=True)
    rest = np.where(first, -np.inf, y)
    second = rest == np.max(rest, axis=axis, keepdims=True)
    return first, second


def make_ties(largest):
    """Distinct values, then the runner-up of each slice raised to tie with the extremum (two
    tied elements per slice: central differences then see the average, as the rule splits)."""
    def make(rng, shapes, params):
        x = rng.permutation(np.prod(shapes[0])).reshape(shapes[0]) / 4.0 - 1.0
        _, second = _top_two(x, params, largest)
        extreme = np.max(x, axis=_np_axis(params), keepdims=True) if largest else \
            np.min(x, axis=_np_axis(params), keepdims=True)
        return [np.where(second, extreme, x)]
    return make


def make_zeros(count):
    """Values away from 0, then ``count`` zeros in every reduced slice."""
    def make(rng, shapes, params):
        x = rng.uniform(0.5, 1.5, size=shapes[0]) * rng.choice([-1.0, 1.0], size=shapes[0])
        first, second = _top_two(np.abs(x) + rng.uniform(0, 1e-3, size=x.shape), params)
        zero = first if count == 1 else first | second
        return [np.where(zero, 0.0, x)]
    return make


def make_cumulative_zeros(rng, shapes, params):
    """One zero early in every line along the axis and one later (the second masks the first)."""
    x = rng.uniform(0.5, 1.5, size=shapes[0])
    axis = params["axis"] % x.ndim
    x = np.moveaxis(x, axis, -1).copy()
    x[..., 1] = 0.0
    if x.shape[-1] > 2:
        x[..., -1] = 0.0
    return [np.moveaxis(x, -1, axis)]


def make_signed_cumulative_zeros(rng, shapes, params):
    """Both signs, and zeros (one early in every line along the axis, more at random)."""
    x = make_cumulative_zeros(rng, shapes, params)[0] * rng.choice([-1.0, 1.0], size=shapes[0])
    return [np.where(rng.uniform(size=x.shape) < 0.2, 0.0, x)]


def make_mixed_zeros(rng, shapes, params):
    x = rng.uniform(-2, 2, size=shapes[0])
    return [np.where(rng.uniform(size=x.shape) < 0.4, 0.0, x)]


def np_cumulative(fn, initial):
    def ref(x, axis, include_initial=False):
        out = fn(x, axis=axis)
        if include_initial:
            shape = list(x.shape)
            shape[axis] = 1
            out = np.concatenate([np.full(shape, initial, dtype=out.dtype), out], axis=axis)
        return out
    return ref


def np_reduce(fn):
    return lambda x, **p: fn(x, **{k: _np_axis(p) if k == "axis" else v for k, v in p.items()})


def np_var(fn):
    return lambda x, correction, **p: fn(x, ddof=correction, axis=_np_axis(p),
                                         keepdims=p.get("keepdims", False))


def diff_with_ends(x, prepend, append, **p):
    return mg.diff(x, prepend=prepend, append=append, **p)


def np_diff_with_ends(x, prepend, append, **p):
    return np.diff(x, prepend=prepend, append=append, **p)


SPECS = [
    OpSpec("sum", mg.sum, np_reduce(np.sum), SHAPES, params=AXES, random="reduction"),
    # prod is a polynomial: smooth at zeros, where its rule has no division to break
    OpSpec("prod", mg.prod, np_reduce(np.prod), SHAPES, params=AXES, domain=(0.5, 1.5),
           random="reduction", special=([0.0],), smooth_at_special=True),
    OpSpec("prod-one-zero", mg.prod, np_reduce(np.prod), SHAPES, params=AXES,
           make=make_zeros(1), covers=("prod",)),
    OpSpec("prod-two-zeros", mg.prod, np_reduce(np.prod), SHAPES, params=AXES,
           make=make_zeros(2), covers=("prod",)),
    OpSpec("mean", mg.mean, np_reduce(np.mean), SHAPES, params=AXES, random="reduction"),
    OpSpec("var", mg.var, np_var(np.var), SHAPES, params=CORRECTIONS, random="reduction"),
    OpSpec("std", mg.std, np_var(np.std), SHAPES, params=CORRECTIONS, random="reduction"),
    # the defaults: the whole array, correction 0
    OpSpec("var-default", mg.var, np.var, [((2, 3),)], covers=("var",)),
    OpSpec("std-default", mg.std, np.std, [((2, 3),)], covers=("std",)),
    # max and min are piecewise linear; ties are their special points
    OpSpec("max", mg.max, np_reduce(np.max), SHAPES, params=AXES, random="reduction",
           special=([1.0, 0.5],), second_order="zero"),
    OpSpec("min", mg.min, np_reduce(np.min), SHAPES, params=AXES, random="reduction",
           special=([1.0, 0.5],), second_order="zero"),
    OpSpec("max-ties", mg.max, np_reduce(np.max), SHAPES, params=AXES, make=make_ties(True),
           covers=("max",), second_order="zero"),
    OpSpec("min-ties", mg.min, np_reduce(np.min), SHAPES, params=AXES, make=make_ties(False),
           covers=("min",), second_order="zero"),
    OpSpec("cumulative_sum", mg.cumulative_sum, np_cumulative(np.cumsum, 0), SHAPES,
           params=CUMULATIVE),
    OpSpec("cumulative_sum-1d", mg.cumulative_sum, lambda x, **p: np.cumsum(x), [((4,),)],
           covers=("cumulative_sum",)),
    OpSpec("cumulative_prod", mg.cumulative_prod, np_cumulative(np.cumprod, 1), SHAPES,
           params=CUMULATIVE, special=([0.0, -1.0],), smooth_at_special=True),
    OpSpec("cumulative_prod-zeros", mg.cumulative_prod, np_cumulative(np.cumprod, 1),
           [((2, 4),), ((3, 2, 2),)], params=CUMULATIVE, make=make_cumulative_zeros,
           covers=("cumulative_prod",)),
    OpSpec("cumulative_prod-signed-zeros", mg.cumulative_prod, np_cumulative(np.cumprod, 1),
           [((2, 4),), ((3, 2, 5),)], params=CUMULATIVE, make=make_signed_cumulative_zeros,
           covers=("cumulative_prod",)),
    OpSpec("cumulative_prod-signed", mg.cumulative_prod, np_cumulative(np.cumprod, 1), SHAPES,
           params=CUMULATIVE, domain=(-1.5, 1.5), covers=("cumulative_prod",)),
    # reductions over empty axes and of empty arrays: the identity (sum 0, prod 1), empty
    # gradients of the input's shape
    OpSpec("sum-empty", mg.sum, np_reduce(np.sum), EMPTY, params=EMPTY_AXES, covers=("sum",)),
    OpSpec("prod-empty", mg.prod, np_reduce(np.prod), EMPTY, params=EMPTY_AXES,
           covers=("prod",)),
    # (max over an empty axis has no value: an error, as in NumPy)
    OpSpec("max-of-empty", mg.max, np_reduce(np.max), [((0, 3),)],
           params=[{"axis": -1}, {"axis": 1, "keepdims": True}], covers=("max",)),
    OpSpec("cumulative-empty", lambda x, axis, include_initial: (
        mg.cumulative_sum(x, axis=axis, include_initial=include_initial),
        mg.cumulative_prod(x, axis=axis, include_initial=include_initial)),
        lambda x, axis, include_initial: (
            np_cumulative(np.cumsum, 0)(x, axis, include_initial),
            np_cumulative(np.cumprod, 1)(x, axis, include_initial)),
        EMPTY, params=[{"axis": a, "include_initial": i} for a in (0, 1) for i in (False, True)],
        covers=("cumulative_sum", "cumulative_prod")),
    OpSpec("all", mg.all, np_reduce(np.all), SHAPES, params=AXES, make=make_mixed_zeros,
           differentiable=False, random="reduction"),
    OpSpec("any", mg.any, np_reduce(np.any), SHAPES, params=AXES, make=make_mixed_zeros,
           differentiable=False, random="reduction"),
    OpSpec("diff", mg.diff, np.diff, [((2, 4),), ((3, 2, 4),)],
           params=[{}, {"axis": 0}, {"n": 2}, {"axis": 1, "n": 2}]),
    OpSpec("diff-ends", diff_with_ends, np_diff_with_ends,
           [((2, 3), (2, 1), (2, 2))], params=[{"axis": -1}, {"axis": 1, "n": 2}],
           covers=("diff",)),
    OpSpec("diff-ends-axis0", diff_with_ends, np_diff_with_ends,
           [((3, 2), (2, 2), (1, 2))], params=[{"axis": 0}, {"axis": 0, "n": 3}],
           covers=("diff",)),
]

SPECS += complex_twins(SPECS, [
    "sum", "prod", "prod-one-zero", "mean", "var", "std", "cumulative_sum", "cumulative_prod",
    "cumulative_prod-signed", "cumulative-empty", "diff", "diff-ends"])
