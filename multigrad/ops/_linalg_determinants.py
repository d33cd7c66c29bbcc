"""det and slogdet of the ``linalg`` extension, and det's cofactor matrix (internal).

Conventions (``multigrad.ops.linalg`` lists them with the rest of the family): ``d det =
C(A)``, the cofactor matrix, right at every rank and differentiable again (its own rule);
``d logabsdet = inv(A)^T``, infinite along the cofactors at a singular matrix. det is
holomorphic, so complex input takes the same formulas (JAX's convention), with ``conj(U)``
and ``conj(Vh)`` in the SVD's form of ``C``. For complex input slogdet's ``sign`` is
``det / |det|``, which turns with ``Im(log det)``: ``d sign = i sign Im(<inv(A)^T, dA>)``
(0 at a singular matrix).
"""

from __future__ import annotations

import math
from collections import namedtuple

from ..autograd import Tensor, _record, defprimitive
from ._helpers import array_device, conj_if, held, is_complex, is_tensor, run
from ._linalg_decompositions import col, constant, diag_embed, diag_part, eye_like, mT, row, uncol
from .statistical import exclusive_prod

__all__ = []

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])


# -- det and its cofactor matrix ------------------------------------------------------------
#
# d det(A) = <C(A), dA> with C the cofactor matrix (the transposed adjugate), a polynomial in A:
# det(A) inv(A)^T, and sign U diag(prod of the other singular values) V^T (A = U diag(s) V^T,
# sign = det(U) det(V)) at any rank. The second divides by nothing, and serves the matrices that
# are singular or nearly (_nearly_singular); the first is cheaper, and differentiable at every
# invertible matrix (the identity included, where the SVD's derivatives are not).
# C's derivative (det's second derivative) is a primitive's rule too, self-adjoint:
#   invertible:  dC[E] = tr(inv(A) E) C - C E^T inv(A)^T
#   any rank:    dC[E] = sign U D(U^T E V) V^T, with D(F)_ii = sum_{k != i} p_ik F_kk and
#                D(F)_ik = -p_ik F_ki, p_ik the product of the singular values other than i, k.

def _split(xp, mask):
    """A mask over the matrices (raw, or a tensor off the graph), and whether any and all of
    them are set (a host sync, so that the SVD runs only when some matrix needs it)."""
    if _record.active() is not None:
        # a compiled step cannot branch on values: both formulas, picked by the mask
        return mask, True, False
    raw = mask.data if is_tensor(mask) else mask
    backend = mask.device.xp if is_tensor(mask) else xp
    any_set = bool(backend.any(raw))
    return mask, any_set, any_set and bool(backend.all(raw))


def _nearly_singular(xp, x, det):
    """Where ``|det|`` is below ``sqrt(eps)`` times Hadamard's bound (the product of the row
    norms, which ``|det|`` never exceeds): there ``det(A) inv(A)^T``, and more so its
    derivative, whose two terms of size ``1 / s_min`` cancel, lose their digits; the SVD's
    formulas do not. Exactly singular matrices are among them."""
    def mask(b, raw_x, raw_det):
        bound = b.prod(b.linalg.vector_norm(raw_x, axis=-1), axis=-1)
        return b.abs(raw_det) <= math.sqrt(b.finfo(raw_x.dtype).eps) * bound
    if is_tensor(x):
        backend = x.device.xp
        made = _record.derive(lambda raw_x, raw_det: mask(backend, raw_x, raw_det), x.data,
                              det.data if is_tensor(det) else det)
        return _split(xp, Tensor(made, x.device))
    return _split(xp, mask(xp, x, det))


def _choose(xp, singular, x, by_svd, by_inverse):
    """``by_svd(x)`` for the singular matrices, ``by_inverse(x)`` for the others (the identity
    in place of the singular ones, so inv never sees them: double where). The results are one
    number or one matrix per matrix of ``x``."""
    mask, any_singular, all_singular = singular
    if not any_singular:
        return by_inverse(x)
    if all_singular:
        return by_svd(x)
    matrices = col(xp, col(xp, mask))
    svd_part = by_svd(x)
    inverse_part = by_inverse(xp.where(matrices, eye_like(xp, x), x))
    return xp.where(matrices if svd_part.ndim > mask.ndim else mask, svd_part, inverse_part)


def _svd_frame(xp, x):
    """``U``, ``s``, ``V^T`` of ``x`` (conjugated, complex) and the sign ``det(U) det(V^H)``
    (a constant): ``C(A) = sign conj(U) diag(p) conj(V^H)``, p the products of the others."""
    u, s, vh = xp.linalg.svd(x)
    sign = constant(xp, u, lambda b, r: b.linalg.det(r)) * constant(
        xp, vh, lambda b, r: b.linalg.det(r))
    complex_ = is_complex(u)
    return conj_if(xp, u, complex_), s, conj_if(xp, vh, complex_), col(xp, col(xp, sign))


def _cofactors_by_svd(xp, x):
    u, s, vh, sign = _svd_frame(xp, x)
    return sign * ((u * row(xp, exclusive_prod(xp, s, (s.ndim - 1,)))) @ vh)


def _cofactors_forward(xp, x, det):
    return _choose(xp, _nearly_singular(xp, x, det), x, lambda a: _cofactors_by_svd(xp, a),
                   lambda a: col(xp, col(xp, det)) * mT(xp, xp.linalg.inv(a)))


def _cofactors_derivative(xp, e, ans, x, det):
    """dC[E] at ``x``: the JVP along a tangent ``E`` and, being self-adjoint, the VJP of a
    cotangent ``E``."""
    def by_inverse(a):
        inv_t = mT(xp, xp.linalg.inv(a))
        trace = xp.sum(inv_t * e, axis=(-2, -1))
        return col(xp, col(xp, trace)) * ans - ans @ mT(xp, e) @ inv_t

    def by_svd(a):
        u, s, vh, sign = _svd_frame(xp, a)
        f = mT(xp, u) @ e @ mT(xp, vh)
        n = s.shape[-1]
        # p_ik: the product of s without s_i and s_k (row i: s with s_i replaced by 1, then
        # the product of the others along it), 0 on the diagonal
        eye = constant(xp, s, lambda b, r: b.eye(n, dtype=b.bool, device=array_device(r)))
        p = xp.where(eye, 0.0, exclusive_prod(xp, xp.where(eye, 1.0, row(xp, s)), (s.ndim,)))
        d = diag_embed(xp, uncol(xp, p @ col(xp, diag_part(xp, f)))) - p * mT(xp, f)
        return sign * (u @ d @ vh)

    return _choose(xp, _nearly_singular(xp, x, det), x, by_svd, by_inverse)


# internal: its rules are det's second derivative; det's spec tests it (register=False)
_cofactors_p = defprimitive(
    "cofactors",
    forward=_cofactors_forward,
    # det is a hint (the mask, and the value det(A) inv(A)^T needs); the rule is the whole
    # derivative in x
    vjp=(_cofactors_derivative, None),
    jvp=(_cofactors_derivative, None),
    register=False,
)


det = defprimitive(
    "det",
    forward=lambda xp, x: xp.linalg.det(x),
    vjp=(lambda xp, g, ans, x: col(xp, col(xp, g)) * run(_cofactors_p, xp, x, ans),),
    jvp=(lambda xp, t, ans, x: xp.sum(run(_cofactors_p, xp, x, ans) * t, axis=(-2, -1)),),
    doc="The determinant of each square matrix in ``x``.",
)


def _slogdet_forward(xp, x):
    sign, logabsdet = xp.linalg.slogdet(x)
    return sign, logabsdet


def _exactly_singular(xp, sign):
    return _split(xp, constant(xp, sign, lambda b, r: r == 0))


def _slogdet_vjp(xp, g, ans, x):
    # d log|det A| = Re(<inv(A)^T, dA>). At a singular matrix (sign 0) log|det| is -inf and its
    # derivative infinite along the cofactors C: C * inf there, a constant (nan where a cofactor
    # is 0, as 0 / 0 is)
    def by_svd(a):
        return held(_cofactors_by_svd(xp, a)) * math.inf
    sign = ans[0]
    direction = _choose(xp, _exactly_singular(xp, sign), x, by_svd,
                        lambda a: mT(xp, xp.linalg.inv(a)))
    weight = g[1]
    if is_complex(sign):  # d sign = i sign Im(<inv(A)^T, dA>): cotangent i Im(g_sign sign)
        weight = weight + 1j * xp.imag(g[0] * sign)
    return col(xp, col(xp, weight)) * direction


def _slogdet_jvp(xp, t, ans, x):
    # <C, T> * inf at a singular matrix: infinite unless T keeps det at 0 to first order
    def by_svd(a):
        return held(xp.sum(_cofactors_by_svd(xp, a) * t, axis=(-2, -1))) * math.inf
    sign = ans[0]
    singular = _exactly_singular(xp, sign)
    turn = _choose(xp, singular, x, by_svd,
                   lambda a: xp.sum(mT(xp, xp.linalg.inv(a)) * t, axis=(-2, -1)))
    if not is_complex(turn):  # real: the sign is piecewise constant
        return None, turn
    # the sign's tangent, 0 where it is 0 (double where: the infinite turn stays out)
    safe = xp.where(singular[0], 0.0, turn)
    return sign * (1j * xp.imag(safe)), xp.real(turn)


slogdet_p = defprimitive(
    "slogdet",
    forward=_slogdet_forward,
    # real input: the sign is piecewise constant, only logabsdet has a derivative
    vjp=(_slogdet_vjp,),
    jvp=(_slogdet_jvp,),
    multi_output=True,
)


def slogdet(x, /):
    """Sign and natural logarithm of the absolute value of the determinant."""
    return SlogdetResult(*slogdet_p(x))
