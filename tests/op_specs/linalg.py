"""Op specs for linear algebra: matmul, tensordot, vecdot, matrix_transpose and ``linalg``.

Matrices come from ``make=`` builders: well-conditioned (``B + 3 I``), symmetric positive definite
(``B B^T + n I``), with well-separated eigenvalues or singular values (``Q diag(w) Q^T``), and
singular ones of every rank. cholesky, eigh and eigvalsh read the lower triangle: one spec each
symmetrises its input first (derivatives in every direction), and one hands them a matrix with
junk above the diagonal and checks the rules' own convention, derivatives along the symmetric
part of each direction (``projection``). eigh and svd specs check functions invariant to the
sign of each eigen/singular vector. Norm specs include ties between the entries (ord +-inf)
and between the column or row sums (matrix ord +-1, +-inf) that pick the norm.

Complex cases: the same builders with unitary factors (Hermitian positive definite matrices,
``Q diag(w) Q^H``, ``U diag(s) V^H``, Gaussian-integer singular ones), functions invariant to
the phase of each eigen/singular vector, Hermitian projections for the lower-triangle
conventions, mixed real and complex operands; eig and eigvals (complex results also for real
input) on matrices with separated eigenvalues, a complex pair among them.
"""

import math

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twin, complex_twins
from .statistical import make_ties

LOOSE = {"float32": 1e-4, "float64": 1e-10}


def _sym(a):
    """The symmetric part (Hermitian for complex ``a``)."""
    at = mg.matrix_transpose(a)
    return (a + (mg.conj(at) if a.dtype.kind == "complex floating" else at)) * 0.5


def _np_sym(a):
    return (a + np.conj(np.swapaxes(a, -1, -2))) / 2


def _orthogonal(rng, batch, n):
    q, _ = np.linalg.qr(rng.standard_normal(batch + (n, n)))
    return q


def _well_conditioned(rng, shape):
    return rng.standard_normal(shape) * 0.5 + 3 * np.eye(shape[-2], shape[-1])


def _general(rng, shapes, params):
    """The first argument a well-conditioned square matrix (stack); the others normal."""
    return [_well_conditioned(rng, shapes[0])] + [rng.standard_normal(s) for s in shapes[1:]]


def _negative_det(rng, shapes, params):
    """Well-conditioned matrices with their first two rows swapped: det < 0."""
    a = _well_conditioned(rng, shapes[0])
    return [a[..., [1, 0] + list(range(2, a.shape[-2])), :]]


def _spd(rng, shapes, params):
    shape = shapes[0]
    b = rng.standard_normal(shape)
    return [b @ np.swapaxes(b, -1, -2) + shape[-1] * np.eye(shape[-1])]


def _separated_eigenvalues(rng, shapes, params):
    """Symmetric matrices with eigenvalues 1, 2.5, 4, ... (gaps of 1.5), random eigenvectors."""
    shape = shapes[0]
    n = shape[-1]
    q = _orthogonal(rng, shape[:-2], n)
    w = 1.0 + 1.5 * np.arange(n) + rng.uniform(-0.2, 0.2, shape[:-1])
    return [(q * w[..., None, :]) @ np.swapaxes(q, -1, -2)]


def _separated_singular_values(rng, shapes, params):
    """Matrices U diag(s) V^T with singular values 1, 2, 3, ... (perturbed)."""
    shape = shapes[0]
    m, n = shape[-2:]
    k = min(m, n)
    u = _orthogonal(rng, shape[:-2], m)[..., :k]
    v = _orthogonal(rng, shape[:-2], n)[..., :k]
    s = 1.0 + np.arange(k)[::-1] + rng.uniform(-0.2, 0.2, shape[:-2] + (k,))
    return [(u * s[..., None, :]) @ np.swapaxes(v, -1, -2)]


def _junk_above(make):
    """``make``'s symmetric matrices with junk in the strict upper triangle, which cholesky, eigh
    and eigvalsh do not read."""
    def junk(rng, shapes, params):
        a = make(rng, shapes, params)[0]
        return [a + np.triu(rng.uniform(-5.0, 5.0, a.shape), 1)]
    return junk


def _np_from_lower(a):
    """The symmetric (Hermitian) matrix that the lower triangle of ``a`` defines."""
    return np.tril(a) + _np_h(np.tril(a, -1))


def _singular(rng, shapes, params):
    """Square matrices of rank n - 1 (then n - 2, ... across the batch), exactly singular in
    float64 arithmetic: integer factors."""
    shape = shapes[0]
    n = shape[-1]
    batch = shape[:-2]
    out = np.empty(shape)
    for i, index in enumerate(np.ndindex(*batch) if batch else [()]):
        rank = max(n - 1 - i, 0)
        left = rng.integers(-3, 4, size=(n, rank)).astype(np.float64)
        out[index] = left @ rng.integers(-3, 4, size=(rank, n)).astype(np.float64)
    return [out]


def _signs(rng, a):
    return a * rng.choice([-1.0, 1.0], size=a.shape)


def _vector_norm_ties(rng, shapes, params):
    """Distinct magnitudes but for exactly two tied largest (ord inf) or smallest (ord -inf)
    |x| per slice, of random signs: central differences of a tie of two see the even split."""
    magnitudes = make_ties(params["ord"] > 0)(rng, shapes, params)[0] + 2.0
    return [_signs(rng, magnitudes)]


def _matrix_norm_ties(rng, shapes, params):
    """Exactly two tied largest (ord 1, inf) or smallest (ord -1, -inf) column (ord +-1) or row
    (ord +-inf) sums of |x| per matrix, the other sums distinct (integers: the sums are exact);
    random signs."""
    shape, order = shapes[0], params["ord"]
    by_rows = order in (math.inf, -math.inf)
    magnitudes = rng.integers(1, 4, size=shape).astype(np.float64)
    if not by_rows:  # work on rows of the transpose
        magnitudes = np.swapaxes(magnitudes, -1, -2).copy()
    k, n = magnitudes.shape[-2:]
    sums = 4.0 * n + rng.permutation(k)  # distinct, and above every partial sum
    sums[sums == sums.max() - 1 if order > 0 else sums == sums.min() + 1] = (
        sums.max() if order > 0 else sums.min())
    magnitudes[..., -1] = sums - np.sum(magnitudes[..., :-1], axis=-1)
    if not by_rows:
        magnitudes = np.swapaxes(magnitudes, -1, -2)
    return [_signs(rng, magnitudes)]


def _rank_deficient(rng, shapes, params):
    shape = shapes[0]
    b = rng.standard_normal(shape[:-1] + (1,))
    return [b @ rng.standard_normal(shape[:-2] + (1, shape[-1]))]


def _with_zeros(rng, shapes, params):
    """Entries with exact zeros, and a whole zero row (the norm's singular point)."""
    x = rng.uniform(-2, 2, shapes[0])
    x[..., 0] = 0.0
    x[0] = 0.0
    return [x]


# -- gauge-invariant functions of eigh and svd (each sign or phase choice gives the same value) --

def _weights(a, n):
    return mg.arange(1, n + 1, dtype=a.dtype, device=a.device)


def _h(a):
    """The conjugate transpose (the transpose of a real matrix)."""
    return mg.conj(mg.matrix_transpose(a))


def _np_h(a):
    return np.conj(np.swapaxes(a, -1, -2))


def _eigh_invariants(a, symmetrise=True):
    w, v = mg.linalg.eigh(_sym(a) if symmetrise else a)
    # w, the squared moduli of the eigenvector entries, and sum_i c_i v_i v_i^H
    return w, mg.real(v * mg.conj(v)), (v * _weights(a, w.shape[-1])) @ _h(v)


def _np_eigh_invariants(a, symmetrise=True):
    w, v = np.linalg.eigh(_np_sym(a) if symmetrise else _np_from_lower(a))
    c = np.arange(1, w.shape[-1] + 1)
    return w, np.real(v * np.conj(v)), (v * c) @ _np_h(v)


def _svd_invariants(a):
    u, s, vh = mg.linalg.svd(a, full_matrices=False)
    c = _weights(a, s.shape[-1])
    # s, u_i u_i^H and v_i v_i^H weighted, and the polar factor U Vh
    return (s, (u * c) @ _h(u), (_h(vh) * c) @ vh, u @ vh)


def _np_svd_invariants(a):
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    c = np.arange(1, s.shape[-1] + 1)
    return s, (u * c) @ _np_h(u), (_np_h(vh) * c) @ vh, u @ vh


def _eig_invariants(a):
    w, v = mg.linalg.eig(a)
    # w, and the squared moduli of the (unit) eigenvectors' entries
    return w, mg.real(v * mg.conj(v))


def _np_eig_invariants(a):
    w, v = np.linalg.eig(a)
    return w.astype(complex), np.real(v * np.conj(v))


# -- complex builders --------------------------------------------------------------------------

def _complex_normal(rng, shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def _unitary(rng, batch, n):
    q, _ = np.linalg.qr(_complex_normal(rng, batch + (n, n)))
    return q


def _general_complex(rng, shapes, params):
    """A well-conditioned complex square matrix (stack), the other arguments complex normal."""
    first = _complex_normal(rng, shapes[0]) * 0.5 + 3 * np.eye(shapes[0][-2], shapes[0][-1])
    return [first] + [_complex_normal(rng, s) for s in shapes[1:]]


def _hpd(rng, shapes, params):
    shape = shapes[0]
    b = _complex_normal(rng, shape)
    return [b @ _np_h(b) + shape[-1] * np.eye(shape[-1])]


def _separated_eigenvalues_complex(rng, shapes, params):
    """Hermitian ``Q diag(w) Q^H`` with the real eigenvalues of ``_separated_eigenvalues``."""
    shape = shapes[0]
    n = shape[-1]
    q = _unitary(rng, shape[:-2], n)
    w = 1.0 + 1.5 * np.arange(n) + rng.uniform(-0.2, 0.2, shape[:-1])
    return [(q * w[..., None, :]) @ _np_h(q)]


def _separated_singular_values_complex(rng, shapes, params):
    shape = shapes[0]
    m, n = shape[-2:]
    k = min(m, n)
    u = _unitary(rng, shape[:-2], m)[..., :k]
    v = _unitary(rng, shape[:-2], n)[..., :k]
    s = 1.0 + np.arange(k)[::-1] + rng.uniform(-0.2, 0.2, shape[:-2] + (k,))
    return [(u * s[..., None, :]) @ _np_h(v)]


def _singular_complex(rng, shapes, params):
    """Square complex matrices of rank n - 1 (then n - 2, ...), exactly singular: products of
    Gaussian integers."""
    def gaussian(size):
        return rng.integers(-2, 3, size=size) + 1j * rng.integers(-2, 3, size=size)
    shape = shapes[0]
    n = shape[-1]
    out = np.empty(shape, dtype=complex)
    for i, index in enumerate(np.ndindex(*shape[:-2]) if shape[:-2] else [()]):
        rank = max(n - 1 - i, 0)
        out[index] = gaussian((n, rank)) @ gaussian((rank, n))
    return [out]


def _separated_general(complex_):
    """``V diag(w) V^-1`` with a well-conditioned ``V`` and separated eigenvalues: real
    matrices with a complex pair among them (eigenvalues 1, 3 +- 1.5i, ...), or complex ones."""
    def make(rng, shapes, params):
        shape = shapes[0]
        n = shape[-1]
        noise = _complex_normal(rng, shape) if complex_ else rng.standard_normal(shape)
        v = np.eye(n) + 0.3 * noise
        if complex_:
            w = (1.0 + 1.5 * np.arange(n)) * np.exp(0.5j * np.arange(n))
            return [(v * w[..., None, :]) @ np.linalg.inv(v)]
        block = np.diag(1.0 + 1.5 * np.arange(n))
        if n >= 3:  # the rotation block [[3, -1.5], [1.5, 3]]: eigenvalues 3 +- 1.5i
            block[1:3, 1:3] = [[3.0, -1.5], [1.5, 3.0]]
        return [v @ block @ np.linalg.inv(v)]
    return make


def _junk_above_complex(make):
    def junk(rng, shapes, params):
        a = make(rng, shapes, params)[0]
        return [a + np.triu(_complex_normal(rng, a.shape) * 3.0, 1)]
    return junk


def _np_matrix_power(a, n):
    return np.linalg.matrix_power(a, n)


def _np_cholesky(a, upper, symmetrise=True):
    low = np.linalg.cholesky(_np_sym(a) if symmetrise else _np_from_lower(a))
    return _np_h(low) if upper else low


def _np_trace(x, offset):
    return np.trace(x, offset=offset, axis1=-2, axis2=-1)


def _np_diagonal(x, offset):
    return np.diagonal(x, offset=offset, axis1=-2, axis2=-1)


def _np_vector_norm(x, axis, keepdims, ord):
    return np.linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)


def _np_matrix_norm(x, keepdims, ord):
    return np.linalg.matrix_norm(x, keepdims=keepdims, ord=ord)


def _np_solve(a, b):
    """The standard's solve in NumPy: a 1-D ``b`` is a vector, broadcast over ``a``'s batch."""
    if b.ndim == 1:
        return np.linalg.solve(a, np.broadcast_to(b[:, None], a.shape[:-1] + (1,)))[..., 0]
    return np.linalg.solve(a, b)


VECTOR_ORDS = [2, 1, math.inf, -math.inf, 0, 3, 0.5, -1.5]
# the smooth norms, and those that pick an extreme entry or line (piecewise linear: their second
# derivative is 0, and central differences of the gradient break on a near-tie)
SMOOTH_VECTOR_ORDS = (2, 1, 0, 3, 0.5, -1.5)
VECTOR_NORM_PARAMS = (
    [{"axis": None, "keepdims": False, "ord": o} for o in SMOOTH_VECTOR_ORDS]
    + [{"axis": -1, "keepdims": True, "ord": o} for o in (2, 1, 3)]
    + [{"axis": (0, 2), "keepdims": False, "ord": o} for o in (2, 0.5)])
EXTREME_VECTOR_NORM_PARAMS = (
    [{"axis": None, "keepdims": False, "ord": o} for o in (math.inf, -math.inf)]
    + [{"axis": -1, "keepdims": True, "ord": math.inf},
       {"axis": (0, 2), "keepdims": False, "ord": -math.inf}])
MATRIX_ORDS = ["fro", "nuc", 2, -2]
EXTREME_MATRIX_ORDS = [1, -1, math.inf, -math.inf]

SPECS = [
    OpSpec("matmul", mg.matmul, np.matmul,
           [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 3), (3, 4)),
            ((2, 1, 2, 3), (3, 3, 2)), ((3,), (2, 3, 4)), ((2, 2, 3), (3,)),
            ((1, 2, 3), (4, 3, 2))]),
    OpSpec("matmul-operator", lambda a, b: a @ b, np.matmul, [((2, 3), (3, 2))],
           covers=("matmul",)),
    OpSpec("matrix_transpose", mg.matrix_transpose, lambda x: np.swapaxes(x, -1, -2),
           [((2, 3),), ((2, 3, 4),)]),
    OpSpec("matrix_transpose-mT", lambda x: x.mT, lambda x: np.swapaxes(x, -1, -2),
           [((2, 3, 4),)], covers=("matrix_transpose",)),
    OpSpec("tensordot", mg.tensordot, np.tensordot, [((2, 3, 4), (3, 4, 2))],
           params=[{"axes": 2}], rtol=LOOSE),
    OpSpec("tensordot-axes1", mg.tensordot, np.tensordot, [((2, 3), (3, 4))],
           params=[{"axes": 1}], covers=("tensordot",)),
    OpSpec("tensordot-axes0", mg.tensordot, np.tensordot, [((2,), (3,)), ((2, 2), (3,))],
           params=[{"axes": 0}], covers=("tensordot",)),
    OpSpec("tensordot-pairs", mg.tensordot, np.tensordot, [((2, 3, 4), (4, 2, 3))],
           params=[{"axes": ((1, 0), (2, 1))}, {"axes": ((2,), (0,))}], covers=("tensordot",),
           rtol=LOOSE),
    OpSpec("vecdot", mg.vecdot, lambda a, b, axis: np.vecdot(a, b, axis=axis),
           [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 3))], params=[{"axis": -1}]),
    OpSpec("vecdot-axis", mg.vecdot, lambda a, b, axis: np.vecdot(a, b, axis=axis),
           [((3, 2), (3, 2))], params=[{"axis": 0}, {"axis": -2}], covers=("vecdot",)),
    OpSpec("outer", mg.linalg.outer, np.outer, [((3,), (4,))]),
    OpSpec("cross", mg.linalg.cross, lambda a, b, axis: np.cross(a, b, axis=axis),
           [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 3))], params=[{"axis": -1}]),
    OpSpec("cross-axis", mg.linalg.cross, lambda a, b, axis: np.cross(a, b, axis=axis),
           [((3, 2), (3, 2))], params=[{"axis": 0}], covers=("cross",)),
    OpSpec("diagonal", mg.linalg.diagonal, _np_diagonal, [((3, 3),), ((2, 3, 4),)],
           params=[{"offset": 0}, {"offset": 1}, {"offset": -2}, {"offset": 5}]),
    OpSpec("trace", mg.linalg.trace, _np_trace, [((3, 3),), ((2, 3, 4),)],
           params=[{"offset": 0}, {"offset": 1}, {"offset": -1}]),
    OpSpec("inv", mg.linalg.inv, np.linalg.inv, [((3, 3),), ((2, 3, 3),)], make=_general,
           rtol=LOOSE),
    OpSpec("solve", mg.linalg.solve, _np_solve,
           [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 1)),
            ((2, 3, 3), (1, 3, 2)), ((3, 3), (2, 3, 2))], make=_general, rtol=LOOSE),
    OpSpec("det", mg.linalg.det, np.linalg.det, [((1, 1),), ((3, 3),), ((2, 3, 3),)],
           make=_general, rtol=LOOSE),
    # det is a polynomial: smooth at singular matrices, whose gradient is the adjugate
    OpSpec("det-singular", mg.linalg.det, np.linalg.det,
           [((2, 2),), ((3, 3),), ((3, 4, 4),)], make=_singular, covers=("det",),
           rtol=LOOSE, atol=LOOSE),
    OpSpec("slogdet", lambda a: tuple(mg.linalg.slogdet(a)), lambda a: tuple(np.linalg.slogdet(a)),
           [((3, 3),), ((2, 3, 3),)], make=_general, rtol=LOOSE),
    OpSpec("slogdet-negative", lambda a: tuple(mg.linalg.slogdet(a)),
           lambda a: tuple(np.linalg.slogdet(a)), [((3, 3),), ((2, 4, 4),)], make=_negative_det,
           covers=("slogdet",), rtol=LOOSE),
    OpSpec("pinv", mg.linalg.pinv, np.linalg.pinv, [((3, 3),), ((4, 2),), ((2, 4),), ((2, 4, 3),)],
           make=_separated_singular_values, rtol=LOOSE, atol=LOOSE),
    OpSpec("matrix_rank", mg.linalg.matrix_rank, np.linalg.matrix_rank,
           [((3, 3),), ((2, 4, 3),)], make=_rank_deficient, differentiable=False),
    OpSpec("matrix_power", lambda x, n: mg.linalg.matrix_power(x, n), _np_matrix_power,
           [((3, 3),), ((2, 3, 3),)],
           params=[{"n": 1}, {"n": 2}, {"n": 5}, {"n": -1}, {"n": -3}], make=_general,
           covers=("matmul", "inv"), rtol=LOOSE, atol=LOOSE),
    # x**0 is the identity, a constant
    OpSpec("matrix_power-zero", lambda x, n: mg.linalg.matrix_power(x, n), _np_matrix_power,
           [((3, 3),), ((2, 3, 3),)], params=[{"n": 0}], differentiable=False,
           covers=("broadcast_to",)),
    OpSpec("matrix_norm", mg.linalg.matrix_norm, _np_matrix_norm, [((3, 4),), ((2, 3, 3),)],
           params=[{"keepdims": k, "ord": o} for o in MATRIX_ORDS for k in (False, True)],
           rtol=LOOSE, atol=LOOSE),
    OpSpec("matrix_norm-extremes", mg.linalg.matrix_norm, _np_matrix_norm,
           [((3, 4),), ((2, 3, 3),)],
           params=[{"keepdims": k, "ord": o} for o in EXTREME_MATRIX_ORDS for k in (False, True)],
           covers=("matrix_norm",), rtol=LOOSE, atol=LOOSE, second_order="zero"),
    # ties between the largest (smallest) |x| split evenly: central differences agree
    OpSpec("vector_norm-ties", mg.linalg.vector_norm, _np_vector_norm, [((3, 4),), ((2, 3, 4),)],
           params=[{"axis": -1, "keepdims": False, "ord": o} for o in (math.inf, -math.inf)]
           + [{"axis": None, "keepdims": False, "ord": o} for o in (math.inf, -math.inf)],
           make=_vector_norm_ties, covers=("vector_norm",), rtol=LOOSE, second_order="zero"),
    OpSpec("matrix_norm-ties", mg.linalg.matrix_norm,
           _np_matrix_norm, [((3, 3),), ((2, 2, 4),)],
           params=[{"keepdims": False, "ord": o} for o in (1, -1, math.inf, -math.inf)],
           make=_matrix_norm_ties, covers=("matrix_norm",), rtol=LOOSE, atol=LOOSE,
           second_order="zero"),
    OpSpec("vector_norm", mg.linalg.vector_norm, _np_vector_norm, [((2, 3, 4),)],
           params=VECTOR_NORM_PARAMS, domain=(0.2, 2.0), rtol=LOOSE),
    OpSpec("vector_norm-extremes", mg.linalg.vector_norm, _np_vector_norm, [((2, 3, 4),)],
           params=EXTREME_VECTOR_NORM_PARAMS, domain=(0.2, 2.0), covers=("vector_norm",),
           rtol=LOOSE, second_order="zero"),
    OpSpec("vector_norm-signs", mg.linalg.vector_norm, _np_vector_norm, [((3, 4),)],
           params=[{"axis": -1, "keepdims": False, "ord": o} for o in VECTOR_ORDS],
           covers=("vector_norm",), rtol=LOOSE, second_order="skip",
           # ord 0.5 near a zero entry: derivatives of |x|**-0.5, central differences 1e-6 off
           grad_rtol={"float32": 1e-3, "float64": 1e-5}),
    # exact zeros and a zero row: the subgradient 0 must match central differences
    OpSpec("vector_norm-zeros", mg.linalg.vector_norm, _np_vector_norm, [((3, 4),)],
           params=[{"axis": -1, "keepdims": False, "ord": o} for o in (2, 1, 3)],
           make=_with_zeros, covers=("vector_norm",), rtol=LOOSE, second_order="skip"),
    # (2, 2, 3, 3): two batch axes, the second of another length than the matrices'
    OpSpec("cholesky", lambda a, upper: mg.linalg.cholesky(_sym(a), upper=upper), _np_cholesky,
           [((3, 3),), ((2, 4, 4),), ((2, 2, 3, 3),)], params=[{"upper": False}, {"upper": True}],
           make=_spd,
           rtol=LOOSE, atol=LOOSE),
    OpSpec("cholesky-lower-triangle", lambda a, upper: mg.linalg.cholesky(a, upper=upper),
           lambda a, upper: _np_cholesky(a, upper, symmetrise=False),
           [((3, 3),), ((2, 4, 4),)], params=[{"upper": False}, {"upper": True}],
           make=_junk_above(_spd), projection=_np_sym, covers=("cholesky",),
           rtol=LOOSE, atol=LOOSE),
    OpSpec("eigh", _eigh_invariants, _np_eigh_invariants, [((3, 3),), ((2, 4, 4),)],
           make=_separated_eigenvalues, rtol=LOOSE, atol=LOOSE),
    OpSpec("eigh-lower-triangle", lambda a: _eigh_invariants(a, symmetrise=False),
           lambda a: _np_eigh_invariants(a, symmetrise=False), [((3, 3),), ((2, 4, 4),)],
           make=_junk_above(_separated_eigenvalues), projection=_np_sym, covers=("eigh",),
           rtol=LOOSE, atol=LOOSE),
    OpSpec("eigvalsh", lambda a: mg.linalg.eigvalsh(_sym(a)),
           lambda a: np.linalg.eigvalsh(_np_sym(a)), [((3, 3),), ((2, 4, 4),)],
           make=_separated_eigenvalues, rtol=LOOSE, atol=LOOSE),
    OpSpec("eigvalsh-lower-triangle", mg.linalg.eigvalsh,
           lambda a: np.linalg.eigvalsh(_np_from_lower(a)), [((3, 3),), ((2, 4, 4),)],
           make=_junk_above(_separated_eigenvalues), projection=_np_sym, covers=("eigvalsh",),
           rtol=LOOSE, atol=LOOSE),
    OpSpec("qr", lambda a: tuple(mg.linalg.qr(a)), lambda a: tuple(np.linalg.qr(a)),
           [((3, 3),), ((4, 3),), ((2, 4, 3),)], make=_separated_singular_values,
           rtol=LOOSE, atol=LOOSE),
    # (4, 4, 3), (4, 3, 4): more matrices than singular values, so a rule that reads the
    # number of singular values off the wrong axis takes the wrong branch
    OpSpec("svd", _svd_invariants, _np_svd_invariants,
           [((3, 3),), ((4, 3),), ((3, 4),), ((2, 4, 3),), ((4, 4, 3),), ((4, 3, 4),)],
           make=_separated_singular_values,
           rtol=LOOSE, atol=LOOSE),
    OpSpec("svdvals", mg.linalg.svdvals, np.linalg.svdvals,
           [((3, 3),), ((4, 3),), ((2, 3, 4),)], make=_separated_singular_values,
           rtol=LOOSE, atol=LOOSE),
    # general matrices: complex eigenvalues (a pair) and unit eigenvectors of real input
    OpSpec("eigvals", mg.linalg.eigvals, lambda a: np.linalg.eigvals(a).astype(complex),
           [((3, 3),), ((2, 4, 4),)], make=_separated_general(False), rtol=LOOSE, atol=LOOSE),
    OpSpec("eig", _eig_invariants, _np_eig_invariants, [((3, 3),), ((2, 4, 4),)],
           make=_separated_general(False), rtol=LOOSE, atol=LOOSE),
]

_BY_NAME = {s.name: s for s in SPECS}


def _twin(spec_name, make=None, **changes):
    if make is not None:
        changes["make"] = make
    return complex_twin(_BY_NAME[spec_name], **changes)


SPECS += [
    *complex_twins(SPECS, [
        "matmul-operator", "matrix_transpose", "tensordot", "tensordot-pairs", "vecdot",
        "vecdot-axis", "outer", "cross", "diagonal", "trace", "matrix_norm",
        "matrix_norm-extremes", "vector_norm", "vector_norm-extremes", "vector_norm-signs"]),
    _twin("matmul", second_order="fd"),
    _twin("matmul", args=(0,), name="matmul-complex-real"),
    _twin("vecdot", args=(1,), name="vecdot-real-complex"),
    _twin("inv", _general_complex),
    _twin("solve", _general_complex, second_order="fd"),
    # a real matrix and a complex right-hand side
    _twin("solve", args=(1,), name="solve-real-complex"),
    _twin("det", _general_complex, second_order="fd"),
    _twin("det-singular", _singular_complex),
    _twin("slogdet", _general_complex),
    _twin("pinv", _separated_singular_values_complex),
    _twin("matrix_power", _general_complex),
    _twin("cholesky", _hpd, second_order="fd"),
    _twin("cholesky-lower-triangle", _junk_above_complex(_hpd), projection=_np_sym),
    _twin("eigh", _separated_eigenvalues_complex, second_order="fd"),
    _twin("eigh-lower-triangle", _junk_above_complex(_separated_eigenvalues_complex),
          projection=_np_sym),
    _twin("eigvalsh", _separated_eigenvalues_complex),
    _twin("eigvalsh-lower-triangle", _junk_above_complex(_separated_eigenvalues_complex),
          projection=_np_sym),
    _twin("qr", _separated_singular_values_complex, second_order="fd"),
    _twin("svd", _separated_singular_values_complex, second_order="fd"),
    _twin("svdvals", _separated_singular_values_complex),
    _twin("eigvals", _separated_general(True)),
    _twin("eig", _separated_general(True), second_order="fd"),
]

