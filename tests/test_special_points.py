"""First and second derivatives at every rule's special points: ties, kinks, zeros, infinities,
singular matrices.

One table of points. Each names a function, the point (float64 values, one array per argument)
and, for each order, what the derivative must be there:

- ``FD``: central differences (of the function for the gradient, of the gradient for the
  Hessian), where the function is smooth at the point even though a rule switches branch there
  (a tie of ``logaddexp``, ``pow`` at exponent 0, ``det`` at a singular matrix);
- an array: the documented convention where the function is not differentiable (a
  subgradient, and the second derivative that goes with it) or the derivative is infinite.

The loss is ``sum(fn(*args))``. The gradient is checked in reverse mode and, one unit direction
at a time, in forward mode; the Hessian row by row in reverse over reverse and column by
column in forward over reverse, so every rule's VJP and JVP, and both run on tensors, are
checked at each point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest

import multigrad as mg
from multigrad.numerical import directional, numerical_grad

# the points at infinities and edges of domains are meant: NumPy's warnings there are expected
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

FD = "central differences"
INF = np.inf


@dataclass(frozen=True)
class Point:
    """A function at one point and what its first and second derivatives must be there.

    ``grad``: FD, or the expected gradient of ``sum(fn(*args))``, one array per argument.
    ``hessian``: FD, or the expected Hessian over the arguments flattened and joined (a
    number broadcasts: 0 for a piecewise-linear function).
    """

    name: str
    fn: Callable
    args: tuple
    grad: object = FD
    hessian: object = FD


def _a(*values):
    return np.asarray(values, dtype=np.float64)



def _weighted(fn, n):
    """``fn`` times fixed distinct weights, so that a wrong split of a tie shows."""
    return lambda *xs: fn(*xs) * mg.asarray(np.arange(1.0, n + 1), dtype=xs[0].dtype,
                                            device=xs[0].device)


def _masked_finite(fn, keep):
    """``fn``'s outputs at the positions ``keep`` (to leave out outputs that are -inf)."""
    return lambda *xs: fn(*xs)[mg.asarray(keep, device=xs[0].device)]


def _sym(a):
    return (a + a.mT) * 0.5


SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])
# 100 R diag(1, 1e-12) R^T: det 1e-8, far below Hadamard's bound (1e4) times sqrt(eps), where
# the inverse's formulas lose their digits (its second derivative's terms of 1e12 cancel)
_R = np.array([[0.6, -0.8], [0.8, 0.6]])
NEARLY_SINGULAR_LARGE = 100.0 * _R @ np.diag([1.0, 1e-12]) @ _R.T
RANK_ONE = np.outer([1.0, 2.0, -1.0], [0.5, -1.0, 2.0])
RANK_TWO = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])

POINTS = [
    # -- elementwise: kinks and ties (subgradients; piecewise linear, so the Hessian is 0)
    Point("abs at 0", mg.abs, (_a(0.0, -0.0, 1.5),), [_a(0.0, 0.0, 1.0)], 0.0),
    Point("sign at 0", mg.sign, (_a(0.0, -1.5),), [_a(0.0, 0.0)], 0.0),
    Point("copysign at x1 = 0", mg.copysign, (_a(0.0, 0.0), _a(-1.0, 2.0)),
          [_a(0.0, 0.0), _a(0.0, 0.0)], 0.0),
    Point("copysign at x2 = -0", mg.copysign, (_a(2.0, -1.5), _a(-0.0, 0.0)),
          [_a(-1.0, -1.0), _a(0.0, 0.0)], 0.0),
    Point("maximum tie", _weighted(mg.maximum, 2), (_a(1.0, -2.0), _a(1.0, -2.0)),
          [_a(0.5, 1.0), _a(0.5, 1.0)], 0.0),
    Point("minimum tie", _weighted(mg.minimum, 2), (_a(1.0, 0.0), _a(1.0, 3.0)),
          [_a(0.5, 2.0), _a(0.5, 0.0)], 0.0),
    Point("maximum tie with a scalar", lambda x: mg.maximum(x, 0.0), (_a(0.0, -1.0),),
          [_a(0.5, 0.0)], 0.0),
    Point("clip at both bounds", mg.clip, (_a(-1.0, 1.0), _a(-1.0, -1.0), _a(1.0, 1.0)),
          [_a(0.5, 0.5), _a(0.5, 0.0), _a(0.0, 0.5)], 0.0),
    Point("remainder at a multiple", mg.remainder, (_a(3.0), _a(1.5)), [_a(1.0), _a(-2.0)],
          0.0),
    Point("floor at an integer", mg.floor, (_a(2.0, -1.0),), [_a(0.0, 0.0)], 0.0),
    Point("round at a half", mg.round, (_a(0.5, 1.5),), [_a(0.0, 0.0)], 0.0),
    Point("relu at 0", mg.relu, (_a(0.0, 1.0),), [_a(0.0, 1.0)], 0.0),
    # -- pow: exponent 0 and base 0
    Point("pow at exponent 0", mg.pow, (_a(2.0), _a(0.0))),
    Point("pow at exponent 0, base 1", mg.pow, (_a(1.0), _a(0.0))),
    Point("pow at exponent 1", mg.pow, (_a(3.0), _a(1.0))),
    Point("pow of a scalar at exponent 0", lambda e: mg.pow(2.0, e), (_a(0.0),)),
    # a Python-scalar base 0: 0**e is 0 for e > 0, so its derivative in e is 0, never log(0)
    Point("pow of a scalar base 0", lambda e: mg.pow(0.0, e), (_a(2.0, 0.5),), [_a(0.0, 0.0)],
          0.0),
    Point("pow at base 0, exponent 2", mg.pow, (_a(0.0), _a(2.0)), [_a(0.0), _a(0.0)],
          np.array([[2.0, 0.0], [0.0, 0.0]])),
    Point("pow at base 0, exponent 3", mg.pow, (_a(0.0), _a(3.0)), [_a(0.0), _a(0.0)], 0.0),
    Point("pow at base 0, exponent 0", mg.pow, (_a(0.0), _a(0.0)), [_a(0.0), _a(0.0)], 0.0),
    # x1**1 = x1 (second derivative 0); in x2, 0 to every order at x1 = 0, mixed terms too
    Point("pow at base 0, exponent 1", mg.pow, (_a(0.0), _a(1.0)), [_a(1.0), _a(0.0)], 0.0),
    # x**0.5 at 0: the true one-sided derivatives, +inf and -inf (the mixed second derivative
    # is not checked: forward over reverse meets 0 * inf in the exponent's zero tangent)
    Point("pow at base 0, exponent 1/2", mg.pow, (_a(0.0), _a(0.5)), [_a(INF), _a(0.0)], None),
    Point("scalar power 1/2 at 0", lambda x: x ** 0.5, (_a(0.0),), [_a(INF)], -INF),
    # a negative base: real powers have no derivative in the exponent, taken as 0 to every order
    Point("pow at a negative base", mg.pow, (_a(-2.0), _a(2.0)), [_a(-4.0), _a(0.0)],
          np.array([[2.0, 0.0], [0.0, 0.0]])),
    Point("scalar power at 0", lambda x: x ** 3.0, (_a(0.0, -1.0),)),
    Point("power 0 at 0", lambda x: x ** 0, (_a(0.0, 2.0),), [_a(0.0, 0.0)], 0.0),
    # -- infinite derivatives at the edge of the domain: the true one-sided values
    Point("sqrt at 0", mg.sqrt, (_a(0.0),), [_a(INF)], -INF),
    Point("log at 0", mg.log, (_a(0.0),), [_a(INF)], -INF),
    Point("log1p at -1", mg.log1p, (_a(-1.0),), [_a(INF)], -INF),
    Point("asin at 1", mg.asin, (_a(1.0),), [_a(INF)], INF),
    Point("acos at 1", mg.acos, (_a(1.0),), [_a(-INF)], -INF),
    Point("acosh at 1", mg.acosh, (_a(1.0),), [_a(INF)], -INF),
    # atanh'' = 2x / (1 - x**2)**2 is +inf at 1, but from the accurate (1 - x)(1 + x) the
    # product rule meets inf - inf: not checked
    Point("atanh at 1", mg.atanh, (_a(1.0),), [_a(INF)], None),
    Point("reciprocal at +0", mg.reciprocal, (_a(0.0),), [_a(-INF)], INF),
    # -- hypot and atan2 at the origin (subgradient 0), atan2 across its branch cut
    Point("hypot at the origin", mg.hypot, (_a(0.0), _a(0.0)), [_a(0.0), _a(0.0)], 0.0),
    Point("hypot on an axis", mg.hypot, (_a(2.0), _a(0.0))),
    Point("atan2 at the origin", mg.atan2, (_a(0.0), _a(0.0)), [_a(0.0), _a(0.0)], 0.0),
    # the angle jumps by 2 pi across x < 0, its gradient (x dy - y dx) / r**2 does not
    Point("atan2 on its branch cut", mg.atan2, (_a(0.0), _a(-2.0)), [_a(-0.5), _a(0.0)]),
    # -- logaddexp: ties are smooth points; infinities take the limits
    Point("logaddexp tie", mg.logaddexp, (_a(0.4), _a(0.4))),
    Point("logaddexp tie at 0", mg.logaddexp, (_a(0.0, -3.0), _a(0.0, -3.0))),
    Point("logaddexp tie at 1000", mg.logaddexp, (_a(1000.0), _a(1000.0))),
    Point("logaddexp far apart", mg.logaddexp, (_a(40.0), _a(-5.0))),
    Point("logaddexp with -inf", mg.logaddexp, (_a(-INF), _a(0.3)), [_a(0.0), _a(1.0)], 0.0),
    Point("logaddexp with +inf", mg.logaddexp, (_a(INF), _a(0.3)), [_a(1.0), _a(0.0)], 0.0),
    Point("logaddexp of two -inf", mg.logaddexp, (_a(-INF), _a(-INF)), [_a(0.5), _a(0.5)],
          0.0),
    Point("logaddexp of two +inf", mg.logaddexp, (_a(INF), _a(INF)), [_a(0.5), _a(0.5)], 0.0),
    # -- smooth activations at 0, and their saturated tails
    Point("sigmoid at 0", mg.sigmoid, (_a(0.0),)),
    Point("softplus at 0", mg.softplus, (_a(0.0),)),
    Point("gelu at 0", mg.gelu, (_a(0.0),)),
    Point("gelu (tanh) at 0", lambda x: mg.gelu(x, approximate="tanh"), (_a(0.0),)),
    Point("sigmoid at +-1000", mg.sigmoid, (_a(-1000.0, 1000.0),), [_a(0.0, 0.0)], 0.0),
    Point("softplus at +-1000", mg.softplus, (_a(-1000.0, 1000.0),), [_a(0.0, 1.0)], 0.0),
    Point("gelu at +-1000", mg.gelu, (_a(-1000.0, 1000.0),), [_a(0.0, 1.0)], 0.0),
    # -- softmax family with -inf entries (masked logits) and infinite slices
    Point("softmax with a -inf entry", _weighted(mg.softmax, 3), (_a(-INF, 0.5, 1.0),)),
    Point("log_softmax with a -inf entry", _masked_finite(mg.log_softmax, [1, 2]),
          (_a(-INF, 0.5, 1.0),)),
    Point("logsumexp with a -inf entry", mg.logsumexp, (_a(-INF, 0.5, 1.0),)),
    Point("logsumexp tie", mg.logsumexp, (_a(0.5, 0.5, -1.0),)),
    # an all -inf slice is a tie (as for logaddexp); +inf entries share the gradient
    Point("logsumexp of all -inf", mg.logsumexp, (_a(-INF, -INF),), [_a(0.5, 0.5)], 0.0),
    Point("logsumexp with +inf", mg.logsumexp, (_a(INF, 0.5, INF),), [_a(0.5, 0.0, 0.5)], 0.0),
    # over an empty axis: log(0) = -inf (found by tests/test_properties.py: max raised)
    Point("logsumexp over an empty axis", lambda x: mg.exp(mg.logsumexp(x, axis=1)),
          (np.zeros((2, 0)),), [np.zeros((2, 0))], 0.0),
    # -- reductions: ties split evenly; products and one-element variances are smooth
    Point("max ties", _weighted(lambda x: mg.max(x, axis=-1), 2),
          (np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]),),
          [np.array([[0.0, 0.5, 0.5], [2 / 3, 2 / 3, 2 / 3]])], 0.0),
    Point("min ties", mg.min, (_a(2.0, -1.0, 5.0, -1.0),), [_a(0.0, 0.5, 0.0, 0.5)], 0.0),
    Point("max_pool2d ties", lambda x: mg.nn.functional.max_pool2d(x, 2),
          (np.array([[[[1.0, 1.0], [1.0, 0.5]]]]),),
          [np.array([[[[1 / 3, 1 / 3], [1 / 3, 0.0]]]])], 0.0),
    Point("prod with a zero", mg.prod, (_a(2.0, 0.0, 3.0),)),
    Point("prod with two zeros", mg.prod, (_a(0.0, 0.0, 3.0),)),
    Point("cumulative_prod with zeros and negatives", _weighted(mg.cumulative_prod, 5),
          (_a(-2.0, 0.0, 3.0, -0.5, 0.0),)),
    Point("var of one element", mg.var, (_a(1.5),)),
    Point("std of one element", mg.std, (_a(1.5),), [_a(0.0)], 0.0),
    # std at a constant slice: subgradient 0 (central differences see |h| std(u): also 0)
    Point("std of a constant slice", mg.std, (_a(2.0, 2.0, 2.0),), FD, 0.0),
    # N - correction <= 0: the forward is nan, and so are the derivatives
    Point("var with correction = N", lambda x: mg.var(x, correction=1.0), (_a(1.5),),
          [_a(np.nan)], np.nan),
    # (std's gradient was 0 there: found by tests/test_properties.py)
    Point("std with correction = N", lambda x: mg.std(x, correction=1.0), (_a(1.5),),
          [_a(np.nan)], np.nan),
    # -- sort: the gradient follows the stable sort's permutation at ties
    Point("sort ties", _weighted(mg.sort, 4), (_a(1.0, 0.0, 1.0, 1.0),),
          [_a(2.0, 1.0, 3.0, 4.0)], 0.0),
    Point("sort ties, descending", _weighted(lambda x: mg.sort(x, descending=True), 3),
          (_a(1.0, 2.0, 1.0),), [_a(2.0, 1.0, 3.0)], 0.0),
    # -- setitem: with repeated indices the last write wins, on every backend
    Point("setitem with repeated indices",
          _weighted(lambda x, v: mg.setitem(x, mg.asarray([2, 0, 2], device=x.device), v), 3),
          (_a(0.5, -1.0, 2.0), _a(1.0, 2.0, 3.0)), FD, 0.0),
    # -- linalg: det is a polynomial, smooth at singular matrices
    Point("det at a singular matrix", mg.linalg.det, (SINGULAR,)),
    Point("det at a singular matrix, the adjugate", mg.linalg.det, (SINGULAR,),
          [np.array([[4.0, -2.0], [-2.0, 1.0]])]),
    Point("det at a rank-one 3x3", mg.linalg.det, (RANK_ONE,)),
    Point("det near a singular matrix with large entries", mg.linalg.det,
          (NEARLY_SINGULAR_LARGE,)),
    # a stack mixing both formulas: the identity (repeated singular values, where the SVD's
    # formula has no derivative) keeps the inverse's
    Point("det of the identity stacked with a singular matrix", mg.linalg.det,
          (np.stack([np.eye(2), SINGULAR]),)),
    Point("det at a rank-two 3x3", mg.linalg.det, (RANK_TWO,)),
    # singular, but LU's det is 2.7e-15, not 0: det * inv(A)^T's derivative would cancel to
    # noise (found by tests/test_properties.py)
    Point("det at a singular matrix with a rounded det", mg.linalg.det,
          (np.array([[3.0, 5.0, 7.0], [2.0, 4.0, 4.0], [1.0, 1.0, 3.0]]),)),
    Point("det at the zero 2x2", mg.linalg.det, (np.zeros((2, 2)),)),
    Point("det at the zero 3x3", mg.linalg.det, (np.zeros((3, 3)),)),
    Point("det at the identity", mg.linalg.det, (np.eye(3),)),
    Point("det of a batch, one singular", mg.linalg.det,
          (np.stack([RANK_TWO, np.eye(3) + 0.5 * RANK_ONE]),)),
    # log|det| -> -inf at a singular matrix: its gradient is infinite along the cofactors
    # (their signs), nan where a cofactor is 0 (0 / 0); second derivatives are not defined
    Point("slogdet at a singular matrix", lambda a: mg.linalg.slogdet(a).logabsdet,
          (SINGULAR,), [np.array([[INF, -INF], [-INF, INF]])], None),
    # -- norms: 0 at the zero vector (to both orders), ties split evenly
    Point("vector_norm at 0", mg.linalg.vector_norm, (np.zeros(3),), [np.zeros(3)], 0.0),
    Point("vector_norm 3 at 0", lambda x: mg.linalg.vector_norm(x, ord=3),
          (np.zeros(3),), [np.zeros(3)], 0.0),
    Point("vector_norm 3 with a zero entry", lambda x: mg.linalg.vector_norm(x, ord=3),
          (_a(0.0, 1.0, -2.0),)),
    # the 2-norm's second derivative along a zero entry is 1 / norm, not the p-norm's 0
    Point("vector_norm with a zero entry", mg.linalg.vector_norm, (_a(0.0, 1.0, -2.0),)),
    # only the zero entries are masked, not an entry of -1 (|x| = 1 there)
    Point("vector_norm 3 with an entry -1", lambda x: mg.linalg.vector_norm(x, ord=3),
          (_a(-1.0, 0.5, 2.0),)),
    Point("vector_norm 1 with a zero entry", lambda x: mg.linalg.vector_norm(x, ord=1),
          (_a(0.0, 1.0, -2.0),), [_a(0.0, 1.0, -1.0)], 0.0),
    Point("vector_norm inf ties", lambda x: mg.linalg.vector_norm(x, ord=INF),
          (_a(2.0, -2.0, 1.0),), [_a(0.5, -0.5, 0.0)], 0.0),
    Point("vector_norm -inf ties", lambda x: mg.linalg.vector_norm(x, ord=-INF),
          (_a(-1.0, 3.0, 1.0),), [_a(-0.5, 0.0, 0.5)], 0.0),
    Point("vector_norm -inf at a zero entry", lambda x: mg.linalg.vector_norm(x, ord=-INF),
          (_a(0.0, 3.0),), [_a(0.0, 0.0)], 0.0),
    Point("matrix_norm at 0", mg.linalg.matrix_norm, (np.zeros((2, 2)),), [np.zeros((2, 2))],
          0.0),
    Point("matrix_norm 1 ties", lambda x: mg.linalg.matrix_norm(x, ord=1),
          (np.array([[1.0, -2.0], [3.0, 2.0]]),), [np.array([[0.5, -0.5], [0.5, 0.5]])], 0.0),
    Point("matrix_norm -1 ties", lambda x: mg.linalg.matrix_norm(x, ord=-1),
          (np.array([[1.0, -2.0, 5.0], [3.0, 2.0, 0.0]]),),
          [np.array([[0.5, -0.5, 0.0], [0.5, 0.5, 0.0]])], 0.0),
    Point("matrix_norm inf ties", lambda x: mg.linalg.matrix_norm(x, ord=INF),
          (np.array([[1.0, -2.0], [3.0, 0.0]]),), [np.array([[0.5, -0.5], [0.5, 0.0]])], 0.0),
    Point("matrix_norm -inf ties", lambda x: mg.linalg.matrix_norm(x, ord=-INF),
          (np.array([[1.0, -2.0], [-3.0, 0.0], [4.0, 4.0]]),),
          [np.array([[0.5, -0.5], [-0.5, 0.0], [0.0, 0.0]])], 0.0),
    # -- eigenvalues at a repeated eigenvalue: the sum over the eigenspace is smooth
    # weights equal on the repeated pair: a function of the eigenspace, smooth there
    Point("eigh eigenvalues at a repeated eigenvalue",
          lambda a: mg.linalg.eigh(_sym(a)).eigenvalues * mg.asarray(
              [1.0, 1.0, 2.0], dtype=a.dtype, device=a.device),
          (np.diag([1.0, 1.0, 3.0]),), [np.diag([1.0, 1.0, 2.0])]),
    Point("eigvalsh at a repeated eigenvalue", mg.linalg.eigvalsh, (np.eye(3),), [np.eye(3)],
          0.0),
    Point("svd singular values at a repeated one", lambda a: mg.linalg.svd(a).S,
          (np.diag([2.0, 2.0]),), [np.eye(2)], None),
]


# -- derivatives of the loss sum(fn(*args)), flattened over the arguments -------------------

def _loss(point, xs):
    return mg.sum(point.fn(*xs))


def _gradient(point, xs, create_graph):
    grads = mg.autograd.grad(_loss(point, xs), xs, create_graph=create_graph,
                             allow_unused=True)
    return [mg.zeros_like(x) if g is None else g for g, x in zip(grads, xs)]


def _host(ts):
    return np.concatenate([np.asarray(t.numpy(), dtype=np.float64).reshape(-1) for t in ts])


def _along_units(f, xs):
    """The tangent of ``f(*xs)`` along each flattened input element in turn (forward mode,
    only that argument moving: a zero tangent would meet an infinite derivative as nan)."""
    out = []
    for k, x in enumerate(xs):
        def f_k(a, k=k):
            return f(*xs[:k], a, *xs[k + 1:])
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1.0
            u = mg.reshape(mg.asarray(e, dtype=x.dtype, device=x.device), x.shape)
            out.append(mg.jvp(f_k, [x], [u])[1])
    return out


def _units(xs):
    """One list of directions per flattened input element: a one-hot in its argument."""
    out = []
    for k, x in enumerate(xs):
        for i in range(x.size):
            e = np.zeros(x.size)
            e[i] = 1.0
            out.append([mg.zeros_like(y) if j != k else
                        mg.reshape(mg.asarray(e, dtype=x.dtype, device=x.device), x.shape)
                        for j, y in enumerate(xs)])
    return out


def _leaves(point, backend):
    return [backend.tensor(a, requires_grad=True) for a in point.args]


def _expected(spec, n, numeric):
    if isinstance(spec, str):
        return numeric()
    if isinstance(spec, float):
        return np.full((n, n), spec)
    if isinstance(spec, np.ndarray) and spec.ndim == 2 and spec.shape == (n, n):
        return spec
    return np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in spec])


def _matrix(rows, n):
    return np.stack(rows) if rows else np.zeros((0, n))


def _check(got, expected, what, numeric):
    # central differences of a function that is only twice differentiable lose an order
    tol = dict(rtol=1e-5, atol=1e-5) if numeric else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got, expected, err_msg=what, **tol)


@pytest.mark.parametrize("point", [pytest.param(p, id=p.name) for p in POINTS])
def test_first_derivative(point, backend64):
    xs = _leaves(point, backend64)
    n = sum(x.size for x in xs)
    expected = _expected(point.grad, n, lambda: _host(numerical_grad(
        lambda *a: _loss(point, a), xs)))
    numeric = isinstance(point.grad, str)
    _check(_host(_gradient(point, xs, False)), expected, f"{point.name}: reverse mode", numeric)
    forward = [t.item() for t in _along_units(lambda *a: _loss(point, a),
                                              [x.detach() for x in xs])]
    _check(np.array(forward), expected, f"{point.name}: forward mode", numeric)


@pytest.mark.parametrize("point", [pytest.param(p, id=p.name) for p in POINTS
                                   if p.hessian is not None])
def test_second_derivative(point, backend64):
    xs = _leaves(point, backend64)
    n = sum(x.size for x in xs)

    def gradient(*ys):
        return _gradient(point, list(ys), True)

    def numeric():
        return _matrix([_host(directional(lambda *a: mg.concat(
            [mg.reshape(g, (-1,)) for g in gradient(*a)]), xs, u)) for u in _units(xs)], n).T
    expected = _expected(point.hessian, n, numeric)
    is_numeric = isinstance(point.hessian, str)
    rows = []
    for g in gradient(*xs):
        # row by row of each argument's gradient (not of their concatenation: a zero cotangent
        # meeting an infinite gradient elsewhere would make nan)
        flat = mg.reshape(g, (-1,))
        for i in range(flat.size):
            if not flat.requires_grad:
                rows.append(np.zeros(n))
                continue
            rows.append(_host([mg.zeros_like(x) if h is None else h for h, x in zip(
                mg.autograd.grad(flat[i], xs, retain_graph=True, allow_unused=True), xs)]))
    _check(_matrix(rows, n), expected, f"{point.name}: reverse over reverse", is_numeric)
    columns = [_host([t]) for t in _along_units(
        lambda *a: mg.concat([mg.reshape(g, (-1,)) for g in gradient(*a)]), xs)]
    _check(_matrix(columns, n).T, expected, f"{point.name}: forward over reverse",
           is_numeric)
    if n and np.all(np.isfinite(expected)):
        # and along dense directions: one-hot ones can hide a cancellation inside a rule
        rng = np.random.default_rng(0)
        u, w = rng.standard_normal(n), rng.standard_normal(n)
        pieces = np.split(u, np.cumsum([x.size for x in xs])[:-1])
        slope = sum(mg.sum(g * backend64.tensor(p.reshape(x.shape)))
                    for g, p, x in zip(gradient(*xs), pieces, xs))
        second = ([None] * len(xs) if not slope.requires_grad else
                  mg.autograd.grad(slope, xs, allow_unused=True))
        got = _host([mg.zeros_like(x) if h is None else h for h, x in zip(second, xs)]) @ w
        _check(np.array([got]), np.array([u @ expected @ w]),
               f"{point.name}: along dense directions", is_numeric)


# -- complex points: zeros and branch cuts, where the standard defines the forward ---------------
#
# The loss is Re(sum(W * fn(z))) with W = 1 - 0.5i (sum(fn(z)) for a real fn), and the gradient
# follows JAX's convention: c = dL/dx - i dL/dy, which is W * f'(z) for a holomorphic fn. On a
# branch cut the forward is the limit from the side of the imaginary part's signed zero (sqrt(-4
# + 0i) = 2i, sqrt(-4 - 0i) = -2i), and the derivative is that side's: continuous along the
# real axis, which central differences then see; across the cut they see the jump.

W = 1 - 0.5j


@dataclass(frozen=True)
class ComplexPoint:
    """``fn`` at complex ``z``: ``grad`` the expected gradient of the loss (FD: central
    differences), ``along`` the parts in which central differences see a smooth function
    ("both", "real"), or None where they see none (a derivative infinite or a kink)."""

    name: str
    fn: Callable
    z: np.ndarray
    grad: object = FD
    along: str | None = "both"


def _c(*values):
    return np.asarray(values, dtype=np.complex128)


COMPLEX_POINTS = [
    # |z| at 0: the subgradient 0 (central differences see |h u| - |-h u| = 0 too)
    ComplexPoint("abs at complex 0", mg.abs, _c(0j, complex(-0.0, -0.0), 1.5 - 2j),
                 _c(0j, 0j, (1.5 + 2j) / 2.5)),
    # sign(z) = z / |z| at 0: 0, as for real numbers (it jumps there)
    ComplexPoint("sign at complex 0", mg.sign, _c(0j, complex(-0.0, 0.0)), _c(0j, 0j), None),
    # sqrt and log at 0: infinite, each part of W times infinity (as 1 / +0 for real input)
    ComplexPoint("sqrt at complex 0", mg.sqrt, _c(0j), _c(complex(INF, -INF)), None),
    ComplexPoint("log at complex 0", mg.log, _c(0j), _c(complex(INF, -INF)), None),
    # the negative real axis: the side of the signed zero
    ComplexPoint("sqrt on the cut, +0i", mg.sqrt, _c(complex(-4.0, 0.0)), _c(W / 4j), "real"),
    ComplexPoint("sqrt on the cut, -0i", mg.sqrt, _c(complex(-4.0, -0.0)), _c(W / -4j), "real"),
    ComplexPoint("log on the cut, +0i", mg.log, _c(complex(-4.0, 0.0)), _c(W / -4), "real"),
    ComplexPoint("log on the cut, -0i", mg.log, _c(complex(-4.0, -0.0)), _c(W / -4), "real"),
    ComplexPoint("pow of a complex base on the cut", lambda z: z ** 0.5,
                 _c(complex(-4.0, -0.0)), _c(W * 0.5 / -2j), "real"),
    # smooth points, checked by central differences in both parts
    ComplexPoint("sqrt near the cut", mg.sqrt, _c(complex(-4.0, 0.5))),
    ComplexPoint("log near 0", mg.log, _c(0.01 + 0.02j)),
]


def _complex_loss(point, z):
    out = point.fn(z)
    if out.dtype.kind == "complex floating":
        return mg.sum(mg.real(out * W))
    return mg.sum(out)


def _along_real_axis(point, z, backend, h=1e-5):
    """dL/dx at each element by central differences that keep the sign of each imaginary
    zero (z + h would turn -0i into +0i, onto the other side of a cut)."""
    values = z.numpy()
    out = np.empty(values.shape)
    for k in range(values.size):
        def at(shift):
            moved = np.array(values, copy=True)
            moved.real.reshape(-1)[k] += shift
            return _complex_loss(point, backend.tensor(moved, dtype=mg.complex128)).item()
        out.reshape(-1)[k] = (at(h) - at(-h)) / (2 * h)
    return out


@pytest.mark.parametrize("point", [pytest.param(p, id=p.name) for p in COMPLEX_POINTS])
def test_complex_first_derivative(point, backend64):
    z = backend64.tensor(point.z, dtype=mg.complex128, requires_grad=True)
    (reverse,) = mg.autograd.grad(_complex_loss(point, z), [z])
    reverse = reverse.numpy()
    if not isinstance(point.grad, str):
        np.testing.assert_allclose(reverse, point.grad, rtol=1e-12, atol=1e-12,
                                   err_msg=f"{point.name}: reverse mode")
    if point.along == "both":
        (numeric,) = numerical_grad(lambda a: _complex_loss(point, a), [z.detach()])
        np.testing.assert_allclose(reverse, numeric.numpy(), rtol=1e-6, atol=1e-6,
                                   err_msg=f"{point.name}: central differences")
    if point.along == "real":  # dL/dx = Re(c)
        np.testing.assert_allclose(np.real(reverse), _along_real_axis(point, z, backend64),
                                   rtol=1e-6, atol=1e-6,
                                   err_msg=f"{point.name}: central differences along x")
    if np.all(np.isfinite(reverse)):
        # forward mode along each element's real and imaginary unit: dL/dx = Re(c), dL/dy =
        # -Im(c) (a unit direction's zero part keeps each signed zero of z as it is)
        for part, expected in ((1.0, np.real(reverse)), (1j, -np.imag(reverse))):
            for k in range(z.size):
                unit = np.zeros(z.shape, dtype=np.complex128)
                unit.reshape(-1)[k] = part
                u = backend64.tensor(unit, dtype=mg.complex128)
                tangent = mg.jvp(lambda a: _complex_loss(point, a), [z.detach()], [u])[1]
                assert tangent.item() == pytest.approx(expected.reshape(-1)[k], abs=1e-12), (
                    f"{point.name}: forward mode along {part} at element {k}")
