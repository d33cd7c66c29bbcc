"""Op specs for the special functions (``multigrad.special``), against ``scipy.special``.

On NumPy the forwards are SciPy's own, so the forward check there is a check of dtypes and
placement; on array-api-strict they are multigrad's standard-function fallbacks, checked
against SciPy to 1e-11. Points near some special points have specs of their own (``-near-zero``,
``-poles``, ``-tails``...), as near as the table's fixed difference step allows;
``tests/test_special.py`` goes nearer, for every function, with steps scaled to the distance
(the inverse error functions' ends and the Bessel functions' far tails are only there: their
fallbacks are the table's slowest).
"""

import numpy as np
import scipy.special as sc

import multigrad as mg
from . import OpSpec

S = mg.special
# one shape each (0-d and broadcasting are the engine's, tested with the other families): the
# table runs every spec on every backend, and the special points have specs of their own
UNARY_SHAPES = [((2, 3),)]
BINARY_SHAPES = [((2, 3), (3,)), ((), (2, 2))]
# the fallbacks (Newton steps, series) are not SciPy's algorithms: a few ulps more
TOL = {"float32": 2e-5, "float64": 1e-11}
ATOL = {"float32": 2e-6, "float64": 1e-13}


def _values(*values):
    """``make`` for one argument: these values, in shape (len(values),) (shape ignored)."""
    def make(rng, shapes, params):
        return [np.asarray(values, dtype=np.float64)]
    return make


def _unary(name, domain, shapes=UNARY_SHAPES, ref=None, **kw):
    return OpSpec(name, getattr(S, name), ref or getattr(sc, name), shapes, domain=domain,
                  rtol=TOL, atol=ATOL, **kw)


def _xlogy_at_zero(rng, shapes, params):
    """x = 0 in half the places: the function is 0 there, its derivative wrt y is 0 and wrt
    x is log(y)."""
    x = rng.uniform(-2, 2, size=(2, 3))
    x[0] = 0.0
    return [x, rng.uniform(0.2, 3.0, size=(2, 3))]


SPECS = [
    _unary("erf", (-3.0, 3.0)),
    OpSpec("erf-near-zero", S.erf, sc.erf, [((5,),)], make=_values(-1e-3, -1e-8, 0.0, 1e-8, 1e-3),
           rtol=TOL, atol=ATOL, covers=("erf",)),
    OpSpec("erf-tails", S.erf, sc.erf, [((4,),)], make=_values(-5.5, -3.0, 3.0, 5.5),
           rtol=TOL, atol=ATOL, covers=("erf",)),
    _unary("erfc", (-3.0, 3.0)),
    OpSpec("erfc-tails", S.erfc, sc.erfc, [((4,),)], make=_values(-4.0, 2.5, 6.0, 9.0),
           rtol=TOL, atol={"float32": 1e-30, "float64": 1e-300}, covers=("erfc",)),
    _unary("erfinv", (-0.9, 0.9)),
    _unary("erfcinv", (0.1, 1.9)),
    _unary("expit", (-8.0, 8.0), covers=("sigmoid",)),
    _unary("logit", (0.05, 0.95)),
    OpSpec("logit-edges", S.logit, sc.logit, [((4,),)], make=_values(0.01, 0.2, 0.8, 0.99),
           rtol=TOL, atol=ATOL, covers=("logit",), grad_rtol={"float32": 1e-2, "float64": 1e-5}),
    _unary("log_expit", (-8.0, 8.0), covers=("softplus",)),
    _unary("gammaln", (0.2, 6.0)),
    OpSpec("gammaln-poles", S.gammaln, sc.gammaln, [((6,),)],
           make=_values(-2.9, -1.01, -0.99, -0.2, 0.01, 2.0), rtol=TOL, atol=ATOL,
           covers=("gammaln",), grad_rtol={"float32": 1e-2, "float64": 1e-5}),
    OpSpec("polygamma", lambda x, n: S.polygamma(n, x), lambda x, n: sc.polygamma(n, x),
           UNARY_SHAPES, params=[{"n": 0}, {"n": 3}], domain=(0.3, 5.0), rtol=TOL,
           atol=ATOL),
    OpSpec("polygamma-negative", lambda x, n: S.polygamma(n, x), lambda x, n: sc.polygamma(n, x),
           [((4,),)], params=[{"n": 0}, {"n": 2}], make=_values(-2.6, -1.3, -0.7, 0.1),
           rtol=TOL, atol=ATOL, covers=("polygamma",),
           grad_rtol={"float32": 1e-2, "float64": 1e-5}),
    _unary("digamma", (0.3, 5.0), covers=("polygamma",)),
    OpSpec("betaln", S.betaln, sc.betaln, BINARY_SHAPES, domain=[(0.2, 5.0), (0.2, 5.0)],
           rtol=TOL, atol=ATOL),
    _unary("ndtr", (-4.0, 4.0)),
    _unary("log_ndtr", (-6.0, 4.0)),
    OpSpec("log_ndtr-tail", S.log_ndtr, sc.log_ndtr, [((3,),)], make=_values(-40.0, -12.0, 9.0),
           rtol=TOL, atol=ATOL, covers=("log_ndtr",)),
    _unary("ndtri", (0.05, 0.95)),
    OpSpec("xlogy", S.xlogy, sc.xlogy, BINARY_SHAPES, domain=[(-2.0, 2.0), (0.2, 3.0)],
           rtol=TOL, atol=ATOL),
    OpSpec("xlogy-zero", S.xlogy, sc.xlogy, [((2, 3), (2, 3))], make=_xlogy_at_zero, rtol=TOL,
           atol=ATOL, covers=("xlogy",)),
    OpSpec("xlog1py", S.xlog1py, sc.xlog1py, BINARY_SHAPES, domain=[(-2.0, 2.0), (-0.5, 2.0)],
           rtol=TOL, atol=ATOL),
    _unary("entr", (0.1, 3.0)),
    OpSpec("rel_entr", S.rel_entr, sc.rel_entr, BINARY_SHAPES, domain=[(0.1, 3.0), (0.1, 3.0)],
           rtol=TOL, atol=ATOL),
    OpSpec("kl_div", S.kl_div, sc.kl_div, BINARY_SHAPES, domain=[(0.1, 3.0), (0.1, 3.0)],
           rtol=TOL, atol=ATOL),
    _unary("i0", (-4.0, 4.0)),
    _unary("i0e", (-4.0, 4.0)),
    _unary("i1", (-4.0, 4.0)),
    _unary("i1e", (-4.0, 4.0)),
    # (i1e has a kink in its second derivative at 0: central differences there are only
    # O(h); tests/test_special.py checks i1e'(0) = 1/2 with a smaller step)
    OpSpec("i1-at-zero", S.i1, sc.i1, [((3,),)], make=_values(-1e-3, 0.0, 1e-3), rtol=TOL,
           atol=ATOL, covers=("i1",)),
    _unary("sinc", (-3.0, 3.0), ref=np.sinc),
    OpSpec("sinc-near-zero", S.sinc, np.sinc, [((6,),)],
           make=_values(-0.3, -0.2, -1e-4, 0.0, 1e-6, 0.25), rtol=TOL, atol=ATOL,
           covers=("sinc",)),
]
