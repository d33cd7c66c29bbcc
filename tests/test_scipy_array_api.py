"""SciPy's own code on multigrad tensors (``SCIPY_ARRAY_API=1``): results are tensors on the
graph, and their gradients agree with central differences.

``scipy.special``'s elementwise functions reach ``multigrad.special`` (SciPy looks for a
namespace's special functions in its ``special`` attribute); ``logsumexp``, ``softmax`` and
``scipy.stats``' moments are written against the array API and run on tensors as they are.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy
import scipy.special as sc
import scipy.stats as st

import multigrad as mg
from scipy._lib._array_api import SCIPY_ARRAY_API  # the flag SciPy read when imported

def _x(rng, shape=(4, 3), low=-1.5, high=1.5):
    return mg.tensor(rng.uniform(low, high, size=shape), requires_grad=True)


def test_scipy_reads_the_array_api_flag():
    # tests/conftest.py sets SCIPY_ARRAY_API=1 before anything imports SciPy
    assert SCIPY_ARRAY_API, f"SciPy {scipy.__version__} was imported without SCIPY_ARRAY_API=1"


# (name, function of one tensor, input domain)
SPECIAL = [
    ("erf", sc.erf, (-2, 2)), ("erfc", sc.erfc, (-2, 2)), ("erfinv", sc.erfinv, (-0.9, 0.9)),
    ("expit", sc.expit, (-4, 4)), ("logit", sc.logit, (0.1, 0.9)),
    ("gammaln", sc.gammaln, (0.2, 4)), ("digamma", sc.digamma, (0.2, 4)),
    ("polygamma", lambda x: sc.polygamma(1, x), (0.2, 4)), ("ndtr", sc.ndtr, (-3, 3)),
    ("log_ndtr", sc.log_ndtr, (-6, 3)), ("ndtri", sc.ndtri, (0.1, 0.9)),
    ("entr", sc.entr, (0.1, 2)), ("i0", sc.i0, (-3, 3)), ("i0e", sc.i0e, (-3, 3)),
    ("i1", sc.i1, (-3, 3)), ("i1e", sc.i1e, (-3, 3)),
    ("xlogy", lambda x: sc.xlogy(x, x * x + 0.5), (-2, 2)),
    ("xlog1py", lambda x: sc.xlog1py(x, x * x), (-2, 2)),
    ("rel_entr", lambda x: sc.rel_entr(x, 1.5 - x), (0.1, 1.4)),
    ("kl_div", lambda x: sc.kl_div(x, 1.5 - x), (0.1, 1.4)),
    ("betaln", lambda x: sc.betaln(x, 2 * x), (0.2, 3)),
]


@pytest.mark.parametrize("name, fn, domain", SPECIAL, ids=[s[0] for s in SPECIAL])
def test_scipy_special_on_tensors_is_multigrad_special(name, fn, domain, rng):
    x = _x(rng, (5,), *domain)
    out = fn(x)
    assert isinstance(out, mg.Tensor) and out.requires_grad, f"scipy.special.{name}"
    mg.gradcheck(fn, x)
    # second derivatives too (forward over reverse against reverse over reverse)
    d1 = mg.grad(lambda x: mg.sum(fn(x)))
    hess_rev = mg.grad(lambda x: mg.sum(d1(x)))(x)
    _, hess_fwd = mg.jvp(d1, (x,), (mg.ones_like(x),))
    np.testing.assert_allclose(hess_fwd.numpy(), hess_rev.numpy(), rtol=1e-10)
    mg.gradcheck(d1, x)


# functions SciPy writes against the array API, differentiated through SciPy's own code
STATS = [
    ("special.logsumexp", lambda x: sc.logsumexp(x, axis=1)),
    ("special.softmax", lambda x: sc.softmax(x, axis=0)),
    ("special.log_softmax", lambda x: sc.log_softmax(x, axis=1)),
    ("stats.skew", lambda x: st.skew(x, axis=0)),
    ("stats.kurtosis", lambda x: st.kurtosis(x, axis=0)),
    ("stats.moment", lambda x: st.moment(x, order=3, axis=0)),
    ("stats.zscore", lambda x: st.zscore(x, axis=0)),
    ("stats.variation", lambda x: st.variation(x + 3.0, axis=0)),
    ("stats.gmean", lambda x: st.gmean(x * x + 1, axis=0)),
    ("stats.hmean", lambda x: st.hmean(x * x + 1, axis=0)),
    ("stats.pmean", lambda x: st.pmean(x * x + 1, 2.5, axis=0)),
    ("stats.entropy", lambda x: st.entropy(x * x + 0.1, axis=0)),
    ("stats.sem", lambda x: st.sem(x, axis=1)),
]


@pytest.mark.parametrize("name, fn", STATS, ids=[s[0] for s in STATS])
def test_scipy_functions_written_for_the_array_api_differentiate(name, fn, rng):
    x = _x(rng)
    out = fn(x)
    assert isinstance(out, mg.Tensor) and out.requires_grad, name
    mg.gradcheck(fn, x)


def test_scipy_functions_on_device1_stay_there(rng):
    x = mg.tensor(rng.uniform(0.2, 0.8, size=(3, 4)), device="strict:device1",
                  requires_grad=True)
    for out in (sc.erf(x), sc.gammaln(x), sc.logsumexp(x, axis=0), st.skew(x, axis=1)):
        assert out.device == "strict:device1"
        (g,) = mg.autograd.grad(mg.sum(out), [x])
        assert g.device == "strict:device1"


def test_what_does_not_differentiate_says_so(rng):
    x = _x(rng, (5,))
    # scipy.stats' distributions convert with numpy.asarray: refused for a tensor on the graph
    with pytest.raises(TypeError, match="cannot convert a tensor that requires gradients"):
        st.norm.logpdf(x)
    # a NumPy ufunc called on a tensor names multigrad's function
    with pytest.raises(TypeError, match=r"the NumPy ufunc exp does not take multigrad "
                                        r"tensors.*mg\.exp\(x\)"):
        np.exp(x)
    with pytest.raises(TypeError, match=r"the NumPy ufunc add\.reduce .*mg\.sum\(x\)"):
        np.add.reduce(x)
