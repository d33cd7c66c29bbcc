"""Op specs for the network functions (``multigrad.ops.nn``)."""

import math

import numpy as np

import multigrad as mg
from . import OpSpec

UNARY_SHAPES = [((),), ((3,),), ((2, 3),)]
MATRIX = [((2, 3),), ((2, 3, 4),)]
LAST_AXES = [{}, {"axis": 0}, {"axis": -2}]
REDUCTION_AXES = [{"axis": None}, {"axis": 0}, {"axis": -1, "keepdims": True},
                  {"axis": (0, 1)}, {"axis": (0, 1), "keepdims": True}]


def _np_logsumexp(x, axis=None, keepdims=False):
    # a reduction by logaddexp: right with infinities and over empty axes (-inf)
    return np.logaddexp.reduce(x, axis=axis, keepdims=keepdims)


def _np_softmax(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_log_softmax(x, axis=-1):
    return x - _np_logsumexp(x, axis=axis, keepdims=True)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _np_gelu(x, approximate="none"):
    if approximate == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    return (x * 0.5 * _erfc(-np.asarray(x, dtype=np.float64) / math.sqrt(2))).astype(x.dtype)


def _ties(rng, shapes, params):
    """Rows with repeated maxima: the shift by the maximum must not break the gradient."""
    x = rng.uniform(-2, 2, size=shapes[0])
    x[..., 0] = x[..., 1] = np.max(x) + 0.5
    return [x]


def _relu_away_from_kink(rng, shapes, params):
    """Values at least 0.1 from 0, where central differences are well defined."""
    x = rng.uniform(0.1, 2.0, size=shapes[0])
    return [np.where(rng.uniform(size=shapes[0]) < 0.5, -x, x)]


def _wide(rng, shapes, params):
    """Both erf branches (|x / sqrt 2| below and above 2) and the far tails."""
    x = rng.uniform(-7.0, 7.0, size=shapes[0])
    x.flat[:4] = [-6.5, -2.9, 2.9, 6.5][: x.size]
    return [x]


SPECS = [
    OpSpec("softmax", mg.softmax, _np_softmax, MATRIX, params=LAST_AXES),
    OpSpec("softmax-ties", mg.softmax, _np_softmax, [((2, 3),)], make=_ties, covers=("softmax",)),
    OpSpec("softmax-large", mg.softmax, _np_softmax, [((2, 3),)], domain=(-60.0, 60.0),
           covers=("softmax",), grad_rtol={"float32": 1e-3, "float64": 1e-5}),
    OpSpec("log_softmax", mg.log_softmax, _np_log_softmax, MATRIX, params=LAST_AXES),
    OpSpec("log_softmax-ties", mg.log_softmax, _np_log_softmax, [((2, 3),)], make=_ties,
           covers=("log_softmax",)),
    OpSpec("logsumexp", mg.logsumexp, _np_logsumexp, [((2, 3),)], params=REDUCTION_AXES,
           random="reduction", special=([0.5, -1.0],), smooth_at_special=True),
    OpSpec("logsumexp-scalar", mg.logsumexp, _np_logsumexp, [((),)], covers=("logsumexp",)),
    OpSpec("logsumexp-ties", mg.logsumexp, _np_logsumexp, [((2, 3),)], make=_ties,
           params=[{"axis": -1}], covers=("logsumexp",)),
    # over empty axes: logsumexp is log(0) = -inf (exp of it here, 0, to differentiate a
    # finite result), softmax and log_softmax are empty
    OpSpec("logsumexp-empty", lambda x, **p: mg.exp(mg.logsumexp(x, **p)),
           lambda x, **p: np.exp(_np_logsumexp(x, **p)), [((2, 0),), ((0, 3),)],
           params=[{"axis": 1}, {"axis": (0, 1), "keepdims": True}, {"axis": 0}],
           covers=("logsumexp",)),
    OpSpec("softmax-empty", lambda x, axis: (mg.softmax(x, axis=axis),
                                             mg.log_softmax(x, axis=axis)),
           lambda x, axis: (x, x), [((2, 0),), ((0, 3),)], params=[{"axis": 0}, {"axis": -1}],
           covers=("softmax", "log_softmax")),
    OpSpec("relu", mg.relu, lambda x: np.maximum(x, 0), UNARY_SHAPES + [((4, 5),)],
           make=_relu_away_from_kink, random="elementwise", special=([0.0],),
           second_order="zero"),
    # smooth at 0, where their forwards reflect to reach the negative half
    OpSpec("sigmoid", mg.sigmoid, lambda x: 1 / (1 + np.exp(-x)), UNARY_SHAPES,
           domain=(-8.0, 8.0), random="elementwise", special=([0.0],), smooth_at_special=True),
    OpSpec("softplus", mg.softplus, lambda x: np.logaddexp(0, x), UNARY_SHAPES,
           domain=(-8.0, 8.0), random="elementwise", special=([0.0],), smooth_at_special=True),
    OpSpec("gelu", mg.gelu, _np_gelu, UNARY_SHAPES + [((4, 5),)], make=_wide,
           params=[{}, {"approximate": "tanh"}], random="elementwise", special=([0.0],),
           smooth_at_special=True),
]
