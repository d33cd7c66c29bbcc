"""Op specs for indexing: ``x[key]`` (getitem), setitem, take, take_along_axis, scatter_add.

Integer index arrays hold repeated and negative entries, so the gradients' accumulation is
checked against central differences and the transpose identity on every backend.
"""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twins

GETITEM = ("getitem",)
SETITEM = ("setitem",)


def _basic(key):
    """A spec for one basic (slicing) key."""
    name = "getitem[" + repr(key).replace(" ", "") + "]"
    return OpSpec(name, lambda x: x[key], lambda x: x[key], [((3, 4, 2),)], covers=GETITEM)


def _float_and(*index_arrays, shape=None):
    """make=: a float array of the first case shape, then fixed index arrays."""
    def make(rng, shapes, params):
        return [rng.uniform(-2, 2, size=shape or shapes[0])] + [np.asarray(a)
                                                                 for a in index_arrays]
    return make


def _with_mask(rng, shapes, params):
    x = rng.uniform(-2, 2, size=shapes[0])
    mask = rng.uniform(size=shapes[1]) > 0.5
    mask.flat[0] = True  # never empty
    return [x, mask]


def _np_setitem(x, key, value):
    out = x.copy()
    out[key] = value
    return out


def _np_scatter_add(values, indices, n):
    out = np.zeros((n,) + values.shape[1:], dtype=values.dtype)
    np.add.at(out, indices, values)
    return out


REPEATS = [0, 2, 0, -1, 2]  # repeated and negative entries

SPECS = [
    _basic(1),
    _basic(-1),
    _basic((slice(1, None), slice(None, None, 2))),
    _basic((Ellipsis, 0)),
    _basic((None, slice(None, None, -1), Ellipsis, None)),
    _basic((slice(2, 0, -1), 1, slice(None))),
    _basic((0, -1, 1)),
    _basic((slice(5, 7),)),  # empty, stops past the end
    # integer arrays, with repeats
    OpSpec("getitem-int", lambda x, i: x[i], lambda x, i: x[i], [((3, 2),)],
           make=_float_and(REPEATS), covers=GETITEM),
    OpSpec("getitem-int-slice", lambda x, i: x[1:, i], lambda x, i: x[1:, i], [((3, 4),)],
           make=_float_and([[1, 1], [3, 0]]), covers=GETITEM),
    OpSpec("getitem-int-pair", lambda x, i, j: x[i, :, j], lambda x, i, j: x[i, :, j],
           [((3, 2, 4),)], make=_float_and([[0], [2], [0]], [3, 3, -4]), covers=GETITEM),
    OpSpec("getitem-int-adjacent", lambda x, i, j: x[:, i, j], lambda x, i, j: x[:, i, j],
           [((2, 3, 4),)], make=_float_and([1, 1, 2], [0, 0, 3]), covers=GETITEM),
    OpSpec("getitem-int-scalar", lambda x, i: x[i, 1, ..., None],
           lambda x, i: x[i, 1, ..., None], [((3, 4, 2),)], make=_float_and([2, 2]),
           covers=GETITEM),
    OpSpec("getitem-list", lambda x: x[[1, 1, 0]], lambda x: x[[1, 1, 0]], [((2, 3),)],
           covers=GETITEM),
    # boolean masks
    OpSpec("getitem-mask", lambda x, m: x[m], lambda x, m: x[m],
           [((3, 4), (3, 4)), ((3, 4), (3,))], make=_with_mask, covers=GETITEM),
    OpSpec("getitem-mask-after", lambda x, m: x[:, m], lambda x, m: x[:, m],
           [((2, 3), (3,))], make=_with_mask, covers=GETITEM),
    # setitem: x and value both differentiated
    OpSpec("setitem", lambda x, v: mg.setitem(x, 1, v), lambda x, v: _np_setitem(x, 1, v),
           [((3, 4), (4,)), ((3, 4), ()), ((3, 4), (1,))], covers=SETITEM),
    OpSpec("setitem-slice", lambda x, v: mg.setitem(x, (slice(None), slice(None, None, 2)), v),
           lambda x, v: _np_setitem(x, (slice(None), slice(None, None, 2)), v),
           [((3, 4), (3, 2)), ((3, 4), (3, 1))], covers=SETITEM),
    OpSpec("setitem-int", lambda x, v, i: mg.setitem(x, (i, 0), v),
           lambda x, v, i: _np_setitem(x, (i, 0), v), [((3, 4), (2,))],
           make=lambda rng, shapes, p: [rng.uniform(-2, 2, size=s) for s in shapes]
           + [np.array([2, -3])], covers=SETITEM),
    # repeated indices: the last write wins (on every backend), only it gets value's cotangent
    OpSpec("setitem-repeated", lambda x, v, i: mg.setitem(x, i, v),
           lambda x, v, i: _np_setitem(x, i, v), [((4,), (5,)), ((4, 2), (5, 2)), ((4, 2), (5, 1))],
           make=lambda rng, shapes, p: [rng.uniform(-2, 2, size=s) for s in shapes]
           + [np.array(REPEATS)], covers=SETITEM),
    OpSpec("setitem-repeated-pairs", lambda x, v, i, j: mg.setitem(x, (i, j), v),
           lambda x, v, i, j: _np_setitem(x, (i, j), v), [((3, 4), (4,)), ((3, 4), ())],
           make=lambda rng, shapes, p: [rng.uniform(-2, 2, size=s) for s in shapes]
           + [np.array([1, 1, 0, 1]), np.array([2, 2, 3, -2])], covers=SETITEM),
    OpSpec("setitem-mask", lambda x, m: mg.setitem(x, m, 0.5),
           lambda x, m: _np_setitem(x, m, 0.5), [((3, 4), (3, 4))], make=_with_mask,
           covers=SETITEM),
    # a mask of the leading axis, the value broadcast over the rows it picks (a full-shape
    # mask with a scalar is the where above; this one finds the positions)
    OpSpec("setitem-mask-rows", lambda x, v, m: mg.setitem(x, m, v),
           lambda x, v, m: _np_setitem(x, m, v), [((3, 4), (4,), (3,))],
           make=lambda rng, shapes, p: [rng.uniform(-2, 2, size=s) for s in shapes[:2]]
           + [np.array([True, False, True])], covers=SETITEM),
    # take, take_along_axis, scatter_add
    OpSpec("take", lambda x, i, axis: mg.take(x, i, axis=axis),
           lambda x, i, axis: np.take(x, i, axis=axis), [((3, 4),)], make=_float_and([2, 0, 2, -1]),
           params=[{"axis": 0}, {"axis": 1}, {"axis": -1}]),
    OpSpec("take-1d", lambda x, i: mg.take(x, i), lambda x, i: np.take(x, i), [((4,),)],
           make=_float_and([3, 3, 3, 0, 1]), covers=("take",)),
    OpSpec("take_along_axis", lambda x, i, axis: mg.take_along_axis(x, i, axis=axis),
           lambda x, i, axis: np.take_along_axis(x, i, axis=axis), [((3, 4),)],
           make=_float_and([[0, 0, 2, 1], [1, -1, 1, 0], [2, 2, 2, -3]]),
           params=[{"axis": 0}, {"axis": 1}, {"axis": -1}]),
    OpSpec("take_along_axis-3d", lambda x, i: mg.take_along_axis(x, i, axis=1),
           lambda x, i: np.take_along_axis(x, i, axis=1), [((2, 3, 2),)],
           make=_float_and(np.array([[[2, 2]], [[0, 1]]])), covers=("take_along_axis",)),
    OpSpec("scatter_add", lambda v, i: mg.scatter_add(v, i, 4),
           lambda v, i: _np_scatter_add(v, i, 4), [((5,),), ((5, 2),)],
           make=lambda rng, shapes, p: [rng.uniform(-2, 2, size=shapes[0]),
                                        np.array([3, 0, 3, -1, 1])]),
]

# complex values gathered, written and accumulated (linear: the VJPs are the transposes)
SPECS += complex_twins(SPECS, [
    "getitem[1]", "getitem[(slice(1,None,None),slice(None,None,2))]", "getitem-int",
    "getitem-int-pair", "getitem-mask", "setitem", "setitem-slice", "setitem-repeated",
    "setitem-mask", "setitem-mask-rows", "take", "take_along_axis", "scatter_add"])
