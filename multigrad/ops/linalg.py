"""Linear algebra: the standard's matmul, tensordot, vecdot, matrix_transpose and its ``linalg``
extension (``multigrad.linalg``), differentiable.

Primitives here: matmul, matrix_transpose, tensordot, vecdot, cross, outer, diagonal, trace,
inv, solve, pinv, matrix_norm, vector_norm, matrix_rank (no gradient). det and slogdet live in
``_linalg_determinants``, cholesky and qr in ``_linalg_decompositions``, eigh, eigvalsh, svd,
svdvals, eig and eigvals in ``_linalg_spectral``; matrix_power is composed from matmul and inv.

Complex inputs follow JAX's convention (see ``multigrad.transforms``): a cotangent is pulled
back by the transpose of the Jacobian, not its conjugate transpose. The holomorphic functions
(matmul, tensordot, outer, cross, diagonal, trace, inv, solve, det, matrix_power) keep their
real formulas, with transposes; the others conjugate where their derivative does: vecdot
conjugates ``x1`` (its gradient wrt ``x1`` is ``conj(g x2)``), pinv's terms that come from
``A^H``, the norms (real functions: ``d|x| = Re(conj(x) dx) / |x|``, through ``conj(U Vh)``
for the singular values), and the Hermitian decompositions (see their modules).

Conventions:

- Cotangents may have the broadcast batch shape; the engine sums them back to each input.
- det: ``d det = C(A)``, the cofactor matrix (the transposed adjugate): ``det * inv(A)^T``,
  and ``sign * U diag(prod of the other singular values) V^T`` (no division: right at every
  rank) where ``|det|`` is below ``sqrt(eps)`` times the product of the row norms (singular or
  nearly: each matrix of a batch chooses its own). Its derivative (det's second) is a rule of
  its own with the same split, so second derivatives are right at singular matrices too;
  third and higher derivatives there go through the SVD's rules and need distinct singular
  values.
- slogdet: only ``logabsdet`` has a derivative (``inv(A)^T``); ``sign`` is piecewise constant.
  At a singular matrix (``sign == 0``, ``logabsdet == -inf``) the derivative is infinite
  along the cofactors, on every backend: the gradient is ``C * inf`` (+-inf by the signs of the
  cofactors, nan where one is exactly 0; at rank < n - 1 the cofactors vanish and their signs
  are rounding noise), the tangent ``<C, T> * inf``; its second derivatives are not defined.
- solve: ``x2`` is a vector when it is 1-D (as the standard says), else a stack of matrices.
- pinv: the full-rank formula (Golub and Pereyra); ``rtol`` carries no gradient.
- vector_norm: at a zero vector the gradient is the subgradient 0, and so is the second
  derivative (ord 2 and p, with the inputs sanitised first); ord 1 uses ``sign(x)`` (0 at 0);
  ord +-inf and matrix_norm's 1/-1/inf/-inf split the cotangent evenly between tied maxima
  (minima) (central differences agree for two tied entries); piecewise linear, their second
  derivatives are 0. ord 0 counts non-zeros and has derivative 0. For ``p < 1`` the infinite
  derivative at a zero entry is returned as 0, and for ``1 < p < 2`` the infinite second
  derivative there as 0.
- matrix_norm 'fro' is the 2-norm of the entries (0 to both orders at the zero matrix);
  2/-2/'nuc' go through the SVD and assume distinct singular values where needed.
"""

from __future__ import annotations

import math

from ..autograd import LINEAR, defprimitive
from ..autograd._primitive import namespace
from ..backends import unknown_size
from ._helpers import array_device, conj_if, is_complex, native_dtype, normalize_axis, reshaped
from ._linalg_decompositions import (  # noqa: F401 (decompositions re-exported)
    QRResult, cholesky, col, constant, eye_like, mH, mT, qr, row, uncol)
from ._linalg_decompositions import LINALG_ALL as _DECOMPOSITIONS
from ._linalg_spectral import (  # noqa: F401 (re-exported)
    EigResult, EighResult, SVDResult, eig, eigh, eigvals, eigvalsh, svd, svdvals)
from ._linalg_spectral import LINALG_ALL as _SPECTRAL
from ._linalg_determinants import SlogdetResult, det, slogdet  # noqa: F401 (re-exported)

__all__ = ["matmul", "matrix_transpose", "tensordot", "vecdot"]
LINALG_ALL = sorted(__all__ + _DECOMPOSITIONS + _SPECTRAL + [
    "cross", "det", "diagonal", "inv", "matrix_norm", "matrix_power", "matrix_rank", "outer",
    "pinv", "slogdet", "solve", "trace", "vector_norm"])



def _shape_of(a):
    return tuple(a.shape)


def _broadcast_shapes(op, *shapes):
    ndim = max(len(s) for s in shapes)
    out = []
    for dims in zip(*((1,) * (ndim - len(s)) + tuple(s) for s in shapes)):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ValueError(f"{op}: batch shapes {' and '.join(map(str, shapes))} do not "
                             "broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# -- matmul, matrix_transpose ---------------------------------------------------------------

def _matmul_out_shape(s1, s2):
    """The product's shape with 1-D operands promoted to matrices (1, n) and (n, 1)."""
    a = s1 if len(s1) > 1 else (1,) + s1
    b = s2 if len(s2) > 1 else s2 + (1,)
    return _broadcast_shapes("matmul", a[:-2], b[:-2]) + (a[-2], b[-1])


# the rules call xp.matmul, not @: PyTorch's operator refuses a complex cotangent times a
# real operand, where the namespace's matmul promotes as the standard says
def _matmul_vjp_x1(xp, g, ans, x1, x2):
    if x1.ndim > 1 and x2.ndim > 1:  # g has the product's shape: no vector axes to restore
        return xp.matmul(g, mT(xp, x2))
    b = x2 if x2.ndim > 1 else col(xp, x2)
    g = reshaped(xp, g, _matmul_out_shape(_shape_of(x1), _shape_of(x2)))
    ct = xp.matmul(g, mT(xp, b))
    return ct if x1.ndim > 1 else reshaped(xp, ct, tuple(ct.shape[:-2]) + (ct.shape[-1],))


def _matmul_vjp_x2(xp, g, ans, x1, x2):
    if x1.ndim > 1 and x2.ndim > 1:
        return xp.matmul(mT(xp, x1), g)
    a = x1 if x1.ndim > 1 else row(xp, x1)
    g = reshaped(xp, g, _matmul_out_shape(_shape_of(x1), _shape_of(x2)))
    ct = xp.matmul(mT(xp, a), g)
    return ct if x2.ndim > 1 else uncol(xp, ct)


matmul_p = defprimitive(
    "matmul",
    forward="matmul",
    vjp=(_matmul_vjp_x1, _matmul_vjp_x2),
    jvp=(LINEAR, LINEAR),
)


def matmul(x1, x2, /):
    """The matrix product ``x1 @ x2`` (1-D operands are vectors; batch dimensions broadcast)."""
    s1, s2 = _shape_of(x1), _shape_of(x2)
    if not s1 or not s2:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes {s1} "
                         f"and {s2}")
    inner1, inner2 = s1[-1], (s2[-2] if len(s2) > 1 else s2[0])
    if inner1 != inner2 and not (unknown_size(inner1) or unknown_size(inner2)):
        raise ValueError(f"matmul: shapes {s1} and {s2} do not match: inner dimensions {inner1} "
                         f"and {inner2} differ")
    if len(s1) > 2 or len(s2) > 2:
        _matmul_out_shape(s1, s2)  # raises if the batch dimensions do not broadcast
    return matmul_p(x1, x2)


matrix_transpose = defprimitive(
    "matrix_transpose",
    forward="matrix_transpose",
    vjp=(lambda xp, g, ans, x: xp.matrix_transpose(g),),
    jvp=(LINEAR,),
    doc="The transpose of the last two dimensions of ``x``.",
)


# -- tensordot, vecdot, outer, cross --------------------------------------------------------

def _tensordot_axes(axes, nd1, nd2):
    if isinstance(axes, int):
        if not 0 <= axes <= min(nd1, nd2):
            raise ValueError(f"tensordot: axes={axes} must be in [0, {min(nd1, nd2)}]")
        return tuple(range(nd1 - axes, nd1)), tuple(range(axes))
    a1, a2 = (tuple(int(a) for a in ax) for ax in axes)
    if len(a1) != len(a2):
        raise ValueError(f"tensordot: axes {a1} and {a2} differ in length")
    return tuple(a % nd1 for a in a1), tuple(a % nd2 for a in a2)


def _reorder(xp, ct, current):
    """Permute ``ct`` whose axis ``k`` is the argument's axis ``current[k]`` into order."""
    perm = tuple(current.index(k) for k in range(len(current)))
    return ct if perm == tuple(range(len(perm))) else xp.permute_dims(ct, perm)


def _tensordot_vjp_x1(xp, g, ans, x1, x2, axes):
    a1, a2 = axes
    free1 = [k for k in range(x1.ndim) if k not in a1]
    free2 = tuple(k for k in range(x2.ndim) if k not in a2)
    ct = xp.tensordot(g, x2, axes=(tuple(range(len(free1), g.ndim)), free2))
    # ct's axes: x1's free axes, then x2's contracted axes in increasing order
    return _reorder(xp, ct, free1 + [a1[a2.index(j)] for j in sorted(a2)])


def _tensordot_vjp_x2(xp, g, ans, x1, x2, axes):
    a1, a2 = axes
    free1 = tuple(k for k in range(x1.ndim) if k not in a1)
    free2 = [k for k in range(x2.ndim) if k not in a2]
    ct = xp.tensordot(x1, g, axes=(free1, tuple(range(len(free1)))))
    return _reorder(xp, ct, [a2[a1.index(i)] for i in sorted(a1)] + free2)


tensordot_p = defprimitive(
    "tensordot",
    forward=lambda xp, x1, x2, axes: xp.tensordot(x1, x2, axes=axes),
    vjp=(_tensordot_vjp_x1, _tensordot_vjp_x2),
    jvp=(LINEAR, LINEAR),
)


def tensordot(x1, x2, /, *, axes=2):
    """Contraction of ``x1`` and ``x2`` over ``axes`` (an int: the last/first ``axes`` axes)."""
    return tensordot_p(x1, x2, axes=_tensordot_axes(axes, x1.ndim, x2.ndim))


def _negative_axis(op, x1, x2, axis):
    """``axis`` counted from the end of the broadcast shape (the form every backend takes)."""
    ndim = max(x1.ndim, x2.ndim)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{op}: axis {axis} is out of range for shapes {_shape_of(x1)} and "
                         f"{_shape_of(x2)}")
    return axis - ndim if axis >= 0 else axis


def _expand_at(xp, g, axis):
    """``g`` with a new axis of one at the negative position ``axis`` of the result."""
    pos = g.ndim + 1 + axis
    return xp.reshape(g, tuple(g.shape[:pos]) + (1,) + tuple(g.shape[pos:]))


def _vecdot_vjp_x1(xp, g, ans, x1, x2, axis):
    # vecdot conjugates x1: sum(conj(x1) x2) is antiholomorphic in x1, its cotangent conj(g x2)
    return conj_if(xp, _expand_at(xp, g, axis) * x2, is_complex(x1))


def _vecdot_vjp_x2(xp, g, ans, x1, x2, axis):
    return _expand_at(xp, g, axis) * conj_if(xp, x1, is_complex(x1))


vecdot_p = defprimitive(
    "vecdot",
    forward=lambda xp, x1, x2, axis: xp.vecdot(x1, x2, axis=axis),
    vjp=(_vecdot_vjp_x1, _vecdot_vjp_x2),
    jvp=(LINEAR, LINEAR),
)


def vecdot(x1, x2, /, *, axis=-1):
    """Dot products of the vectors along ``axis`` (other dimensions broadcast)."""
    return vecdot_p(x1, x2, axis=_negative_axis("vecdot", x1, x2, axis))


outer = defprimitive(
    "outer",
    forward=lambda xp, x1, x2: xp.linalg.outer(x1, x2),
    vjp=(lambda xp, g, ans, x1, x2: g @ x2,
         lambda xp, g, ans, x1, x2: x1 @ g),
    jvp=(LINEAR, LINEAR),
    doc="The outer product of two vectors.",
)

# <g, a x b> = <a, b x g> = <b, g x a>
cross_p = defprimitive(
    "cross",
    forward=lambda xp, x1, x2, axis: xp.linalg.cross(x1, x2, axis=axis),
    vjp=(lambda xp, g, ans, x1, x2, axis: xp.linalg.cross(x2, g, axis=axis),
         lambda xp, g, ans, x1, x2, axis: xp.linalg.cross(g, x1, axis=axis)),
    jvp=(LINEAR, LINEAR),
)


def cross(x1, x2, /, *, axis=-1):
    """Cross products of 3-vectors along ``axis`` (other dimensions broadcast)."""
    return cross_p(x1, x2, axis=_negative_axis("cross", x1, x2, axis))


# -- diagonal, trace ------------------------------------------------------------------------

def _diagonal_vjp(xp, g, ans, x, offset):
    # scatter g onto the diagonal: R diag(g) C^T with one-hot R (rows) and C (columns)
    m, n, d = x.shape[-2], x.shape[-1], g.shape[-1]

    def one_hot(size, start):
        return lambda b, r: b.astype(
            b.arange(size, device=array_device(r))[:, None]
            == b.arange(d, device=array_device(r))[None, :] + start, r.dtype)
    rows = constant(xp, g, one_hot(m, max(-offset, 0)))
    cols = constant(xp, g, one_hot(n, max(offset, 0)))
    return (rows * row(xp, g)) @ mT(xp, cols)


diagonal_p = defprimitive(
    "diagonal",
    forward=lambda xp, x, offset: xp.linalg.diagonal(x, offset=offset),
    vjp=(_diagonal_vjp,),
    jvp=(LINEAR,),
)


def diagonal(x, /, *, offset=0):
    """The ``offset``-th diagonal of each matrix in ``x``."""
    return diagonal_p(x, offset=offset)


trace_p = defprimitive(
    "trace",
    forward=lambda xp, x, offset, dtype: xp.linalg.trace(x, offset=offset,
                                                         dtype=native_dtype(xp, dtype)),
    vjp=(lambda xp, g, ans, x, offset, dtype:
         col(xp, col(xp, g)) * eye_like(xp, x, k=offset),),
    jvp=(LINEAR,),
)


def trace(x, /, *, offset=0, dtype=None):
    """The sum of the ``offset``-th diagonal of each matrix in ``x``."""
    return trace_p(x, offset=offset, dtype=dtype)


# -- inv, solve, pinv (det and slogdet: _linalg_determinants) ---------------------------------------------------------

inv = defprimitive(
    "inv",
    forward=lambda xp, x: xp.linalg.inv(x),
    # d inv(A) = -inv(A) dA inv(A)
    vjp=(lambda xp, g, ans, x: -(mT(xp, ans) @ g @ mT(xp, ans)),),
    jvp=(lambda xp, t, ans, x: -(ans @ t @ ans),),
    doc="The inverse of each square matrix in ``x``.",
)


def _solve(xp, a, b):
    """``xp.linalg.solve(a, b)`` with the batch dimensions broadcast first, as the standard
    says; CuPy's solve requires them equal."""
    if b.ndim > 1 and a.shape[:-2] != b.shape[:-2]:
        batch = _broadcast_shapes("solve", _shape_of(a)[:-2], _shape_of(b)[:-2])
        a = xp.broadcast_to(a, batch + _shape_of(a)[-2:])
        b = xp.broadcast_to(b, batch + _shape_of(b)[-2:])
    return xp.linalg.solve(a, b)


def _solve_vjp_x1(xp, g, ans, x1, x2):
    # A_bar = -B_bar X^T with B_bar = solve(A^T, g)
    if x2.ndim == 1:
        return -(col(xp, _solve_vjp_x2(xp, g, ans, x1, x2)) * row(xp, ans))
    return -(_solve(xp, mT(xp, x1), g) @ mT(xp, ans))


def _solve_vjp_x2(xp, g, ans, x1, x2):
    if x2.ndim == 1:
        return uncol(xp, _solve(xp, mT(xp, x1), col(xp, g)))
    return _solve(xp, mT(xp, x1), g)


def _solve_jvp_x1(xp, t, ans, x1, x2):
    # dX = -inv(A) dA X
    if x2.ndim == 1:
        return -uncol(xp, _solve(xp, x1, t @ col(xp, ans)))
    return -_solve(xp, x1, t @ ans)


solve = defprimitive(
    "solve",
    forward=_solve,
    vjp=(_solve_vjp_x1, _solve_vjp_x2),
    jvp=(_solve_jvp_x1, LINEAR),
    doc="The solution ``X`` of ``x1 @ X = x2`` (``x2`` 1-D: a vector; else matrices).",
)


def _pinv_vjp(xp, g, ans, x, rtol):
    # -P^T G P^T + (I - A* P*) G^H P* P^T + P^T P* G^H (I - P* A*), without forming I (* the
    # conjugate: those two terms come from dA^H in dP, below)
    complex_ = is_complex(x)
    p, pt = ans, mT(xp, ans)
    pc, xc, gh = conj_if(xp, p, complex_), conj_if(xp, x, complex_), mH(xp, g)
    pgp = pt @ g @ pt
    left = gh @ pc @ pt
    right = pt @ pc @ gh
    return -pgp + left - xc @ (pc @ left) + right - (right @ pc) @ xc


def _pinv_jvp(xp, t, ans, x, rtol):
    p, ph, th = ans, mH(xp, ans), mH(xp, t)
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P
    left = p @ ph @ th
    right = th @ ph @ p
    return -(p @ t @ p) + left - (left @ x) @ p + right - p @ (x @ right)


pinv_p = defprimitive(
    "pinv",
    forward=lambda xp, x, rtol: xp.linalg.pinv(x, rtol=rtol),
    vjp=(_pinv_vjp, None),
    jvp=(_pinv_jvp, None),
)


def pinv(x, /, *, rtol=None):
    """The Moore-Penrose pseudo-inverse (gradients for full-rank ``x``)."""
    return pinv_p(x, rtol)


matrix_rank_p = defprimitive(
    "matrix_rank",
    forward=lambda xp, x, rtol: xp.linalg.matrix_rank(x, rtol=rtol),
)


def matrix_rank(x, /, *, rtol=None):
    """The number of singular values above ``rtol`` times the largest (no gradient)."""
    return matrix_rank_p(x, rtol)


def matrix_power(x, n, /):
    """``x`` multiplied by itself ``n`` times (``n < 0``: powers of the inverse; 0: identity)."""
    if n < 0:
        x, n = inv(x), -n
    if n == 0:
        xp = namespace()
        return xp.broadcast_to(eye_like(xp, xp.asarray(x)), x.shape)
    result, base = None, x
    while True:  # binary exponentiation: O(log n) matmuls
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if not n:
            return result
        base = matmul(base, base)


# -- norms ----------------------------------------------------------------------------------

def _keep(xp, a, ndim, axes, keepdims):
    """A reduction's result ``a`` reshaped to keep the reduced ``axes`` as ones."""
    if keepdims:
        return a
    shape, it = [], iter(a.shape)
    for k in range(ndim):
        shape.append(1 if k in axes else next(it))
    return xp.reshape(a, tuple(shape))


def _sign(b, r):
    return b.sign(r)


def _peak_share(b, r, axes, lowest, scale_axes=None):
    """1 / (number of ties) on the entries whose |x| (or reduced |x|) ties the max (min)."""
    a = b.abs(r)
    sums = a if scale_axes is None else b.sum(a, axis=scale_axes, keepdims=True)
    peak = (b.min if lowest else b.max)(sums, axis=axes, keepdims=True)
    hit = b.astype(sums == peak, a.dtype)
    return hit / b.sum(hit, axis=axes, keepdims=True)


def _modulus_direction(xp, x):
    """``D`` with ``d|x| = Re(D dx)``: sign(x), a constant for real ``x``; for complex ``x``
    ``conj(sign(x))``, which has a derivative (both 0 at 0, the subgradient)."""
    if is_complex(x):
        return xp.conj(xp.sign(x))
    return constant(xp, x, _sign)


def _peak_direction(xp, x, axes, lowest, scale_axes=None):
    """d|x| on the entries whose |x| (or reduced |x|) ties the max (min), split evenly."""
    return _modulus_direction(xp, x) * constant(
        xp, x, lambda b, r: _peak_share(b, r, axes, lowest, scale_axes))


def _unit_direction(xp, x, norm):
    """``conj(x) / norm``, the derivative of the 2-norm; at a zero norm the subgradient 0,
    whose own derivative is 0 too (double where: no 0 / 0)."""
    zero = constant(xp, norm, lambda b, r: r == 0)
    return xp.where(zero, 0.0, conj_if(xp, x, is_complex(x)) / xp.where(zero, 1.0, norm))


def _vector_norm_direction(xp, ans, x, axis, keepdims, ord):
    """``D`` with ``d norm = Re(sum(D * dx))`` over the reduced axes."""
    axes = normalize_axis(axis, x.ndim)
    if ord == 0:
        return xp.zeros_like(x)
    if ord == 1:
        return _modulus_direction(xp, x)
    if ord in (math.inf, -math.inf):
        return _peak_direction(xp, x, axes, ord < 0)
    norm = _keep(xp, ans, x.ndim, axes, keepdims)
    if ord == 2:
        return _unit_direction(xp, x, norm)
    safe_norm = xp.where(constant(xp, norm, lambda b, r: r == 0), 1.0, norm)
    # d ||x||_p = d|x| |x|^(p-1) / ||x||^(p-1)
    direction = _modulus_direction(xp, x)
    zero = constant(xp, x, lambda b, r: r == 0)
    safe_abs = xp.where(zero, 1.0, xp.abs(x) if is_complex(x) else x * direction)
    term = xp.where(zero, 0.0, direction * xp.pow(safe_abs, ord - 1.0))
    return term / xp.pow(safe_norm, ord - 1.0)


def _vector_norm_vjp(xp, g, ans, x, axis, keepdims, ord):
    axes = normalize_axis(axis, x.ndim)
    return (_keep(xp, g, x.ndim, axes, keepdims)
            * _vector_norm_direction(xp, ans, x, axis, keepdims, ord))


def _real_part(xp, a, complex_):
    return xp.real(a) if complex_ else a


def _vector_norm_jvp(xp, t, ans, x, axis, keepdims, ord):
    direction = _vector_norm_direction(xp, ans, x, axis, keepdims, ord)
    return _real_part(xp, xp.sum(direction * t, axis=axis, keepdims=keepdims), is_complex(x))


vector_norm_p = defprimitive(
    "vector_norm",
    forward=lambda xp, x, axis, keepdims, ord: xp.linalg.vector_norm(
        x, axis=axis, keepdims=keepdims, ord=ord),
    vjp=(_vector_norm_vjp,),
    jvp=(_vector_norm_jvp,),
)


def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    """The ``ord``-norm of the vectors along ``axis`` (all elements if None)."""
    if isinstance(axis, list):
        axis = tuple(axis)
    return vector_norm_p(x, axis=axis, keepdims=keepdims, ord=ord)


def _unit(k, index):
    """A one-hot vector of length ``k`` selecting ``index`` (which singular value)."""
    return lambda b, r: b.astype(b.arange(k, device=array_device(r)) == index % k, r.dtype)


def _matrix_norm_direction(xp, ans, x, keepdims, ord):
    """``D`` with ``d norm = Re(sum(D * dA))`` over each matrix."""
    if ord in ("fro", None):
        return _unit_direction(xp, x, ans if keepdims else col(xp, col(xp, ans)))
    if ord in ("nuc", 2, -2):
        # d s_i = Re(u_i^H dA v_i): D = conj(u_i vh_i), summed (nuc) or for the largest (2)
        # or smallest (-2) singular value
        u, s, vh = xp.linalg.svd(x, full_matrices=False)
        if ord != "nuc":
            u = u * constant(xp, s, _unit(s.shape[-1], 0 if ord == 2 else -1))
        return conj_if(xp, u @ vh, is_complex(x))
    if ord in (1, -1):  # max / min column sum of |x|
        return _peak_direction(xp, x, -1, ord < 0, -2)
    if ord in (math.inf, -math.inf):  # max / min row sum of |x|
        return _peak_direction(xp, x, -2, ord < 0, -1)
    raise ValueError(f"matrix_norm: ord={ord!r} is not one of 'fro', 'nuc', 1, -1, 2, -2, inf, "
                     "-inf")


matrix_norm_p = defprimitive(
    "matrix_norm",
    forward=lambda xp, x, keepdims, ord: xp.linalg.matrix_norm(x, keepdims=keepdims, ord=ord),
    vjp=(lambda xp, g, ans, x, keepdims, ord:
         (g if keepdims else col(xp, col(xp, g)))
         * _matrix_norm_direction(xp, ans, x, keepdims, ord),),
    jvp=(lambda xp, t, ans, x, keepdims, ord: _real_part(xp, xp.sum(
        _matrix_norm_direction(xp, ans, x, keepdims, ord) * t, axis=(-2, -1),
        keepdims=keepdims), is_complex(x)),),
)


def matrix_norm(x, /, *, keepdims=False, ord="fro"):
    """The ``ord``-norm of each matrix in ``x``."""
    return matrix_norm_p(x, keepdims=keepdims, ord=ord)

