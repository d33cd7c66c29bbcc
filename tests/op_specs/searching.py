"""Op specs for the searching, sorting and set functions."""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twins

SHAPES = [((2, 3),), ((2, 3, 2),)]
ARG_AXES = [{"axis": None}, {"axis": 0}, {"axis": -1, "keepdims": True},
            {"axis": None, "keepdims": True}]
SORT_PARAMS = [{}, {"axis": 0}, {"descending": True}, {"axis": 0, "descending": True,
                                                        "stable": False}]


def make_distinct(rng, shapes, params):
    """Distinct values (a shuffled grid), so sorting and argmax have one answer."""
    return [rng.permutation(np.prod(s)).reshape(s) / 3.0 - 1.0 for s in shapes]


def make_with_ties(rng, shapes, params):
    """Values from a small set, so every slice has ties."""
    return [rng.integers(0, 3, size=s).astype(np.float64) for s in shapes]


def make_mixed_zeros(rng, shapes, params):
    x = rng.uniform(-2, 2, size=shapes[0])
    return [np.where(rng.uniform(size=x.shape) < 0.4, 0.0, x)]


def make_signed(rng, shapes, params):
    """Values away from 0 of both signs (the negative ones are the masked singular points)."""
    return [rng.uniform(0.5, 2.0, size=s) * rng.choice([-1.0, 1.0], size=s) for s in shapes]


def make_where(rng, shapes, params):
    condition = rng.uniform(size=shapes[0]) < 0.5
    return [condition] + [rng.uniform(-2, 2, size=s) for s in shapes[1:]]


def make_searchsorted(rng, shapes, params):
    x1 = np.sort(rng.integers(0, 4, size=shapes[0])).astype(np.float64)
    x2 = rng.integers(-1, 5, size=shapes[1]).astype(np.float64)
    return [x1, x2]


def make_unsorted_and_sorter(rng, shapes, params):
    """A descending array with ties, values to place, and the permutation that sorts it (the
    reversal: the same for every draw, so that vmap may batch either alone)."""
    x1 = np.sort(rng.integers(0, 4, size=shapes[0])).astype(np.float64)[::-1].copy()
    x2 = rng.integers(-1, 5, size=shapes[1]).astype(np.float64)
    return [x1, x2, np.arange(shapes[0][0])[::-1].copy()]


def masked_log(x):
    """log(x) where x > 0, else 0: the double where keeps the masked branch finite."""
    positive = x > 0
    return mg.where(positive, mg.log(mg.where(positive, x, 1.0)), 0.0)


def np_masked_log(x):
    return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), 0.0)


def np_sort(x, axis=-1, descending=False, stable=True):
    return -np.sort(-x, axis=axis, stable=True) if descending else np.sort(x, axis=axis)


def np_argsort(x, axis=-1, descending=False, stable=True):
    # numpy's stable descending order: sort -x stably (ties keep their original order)
    return np.argsort(-x if descending else x, axis=axis, stable=True)


SPECS = [
    OpSpec("where", mg.where, np.where, [((3,), (3,), (3,)), ((2, 3), (2, 1), (3,)),
                                         ((2, 3), (), (2, 3))], make=make_where),
    OpSpec("where-masked-singular", masked_log, np_masked_log, [((3,),), ((2, 3),)],
           make=make_signed, covers=("where",)),
    OpSpec("argmax", mg.argmax, np.argmax, SHAPES, params=ARG_AXES, make=make_with_ties,
           differentiable=False),
    OpSpec("argmin", mg.argmin, np.argmin, SHAPES, params=ARG_AXES, make=make_with_ties,
           differentiable=False),
    OpSpec("nonzero", mg.nonzero, np.nonzero, [((5,),), ((2, 3),), ((2, 3, 2),)],
           make=make_mixed_zeros, differentiable=False),
    OpSpec("count_nonzero", mg.count_nonzero, np.count_nonzero, SHAPES,
           params=ARG_AXES + [{"axis": (0, 1)}], make=make_mixed_zeros, differentiable=False),
    OpSpec("searchsorted", mg.searchsorted, np.searchsorted, [((6,), (4,)), ((6,), (2, 3))],
           params=[{}, {"side": "right"}], make=make_searchsorted, differentiable=False),
    OpSpec("searchsorted-sorter",
           lambda x1, x2, s, **kw: mg.searchsorted(x1, x2, sorter=s, **kw),
           lambda x1, x2, s, **kw: np.searchsorted(x1, x2, sorter=s, **kw),
           [((6,), (4,))], params=[{}, {"side": "right"}], make=make_unsorted_and_sorter,
           differentiable=False, covers=("searchsorted",)),
    # piecewise linear; ties follow the stable order (tests/test_special_points.py)
    OpSpec("sort", mg.sort, np_sort, SHAPES, params=SORT_PARAMS, make=make_distinct,
           special=([0.0, 1.0],), second_order="zero"),
    OpSpec("argsort", mg.argsort, np_argsort, SHAPES, params=SORT_PARAMS[:3],
           make=make_with_ties, differentiable=False),
    OpSpec("isin", mg.isin, np.isin, [((2, 3), (4,)), ((5,), (2, 2))],
           params=[{}, {"invert": True}], differentiable=False,
           # the standard defines isin for integer arrays only
           make=lambda rng, shapes, params: [rng.integers(0, 4, size=s) for s in shapes]),
    OpSpec("unique_values", mg.unique_values, np.unique_values, [((7,),), ((2, 3),)],
           make=make_with_ties, differentiable=False),
    OpSpec("unique_counts", mg.unique_counts, np.unique_counts, [((7,),), ((2, 3),)],
           make=make_with_ties, differentiable=False),
    OpSpec("unique_inverse", mg.unique_inverse, np.unique_inverse, [((7,),), ((2, 3),)],
           make=make_with_ties, differentiable=False),
    OpSpec("unique_all", mg.unique_all, np.unique_all, [((7,),), ((2, 3),)],
           make=make_with_ties, differentiable=False),
]

# where routes complex values as it routes real ones (the condition stays boolean)
SPECS += complex_twins(SPECS, ["where"], args=(1, 2))
