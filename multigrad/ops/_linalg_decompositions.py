"""The cholesky and qr decompositions of the ``linalg`` extension, and the helpers every
linalg rule shares (the spectral decompositions are in ``_linalg_spectral``).

Primitives: cholesky, qr.

Conventions (complex inputs follow JAX's convention, as every rule does: see ``linalg``):

- cholesky reads the lower triangle of a matrix that is meant to be symmetric (Hermitian for
  complex input; on NumPy, CuPy and array-api-strict alike); its gradient is symmetric
  (Hermitian: the input cotangent is symmetrised) and its tangent uses the symmetric
  (Hermitian) part of the input tangent, so they are the derivatives along symmetric
  (Hermitian) directions, whatever the upper triangle holds.
- qr: gradients for ``mode='reduced'`` with ``m >= n`` (``R`` invertible); other cases raise.
  For complex input ``R``'s diagonal is real (as LAPACK makes it), so ``Q^H dQ`` takes the
  imaginary part of ``Q^H dA R^-1``'s diagonal.
"""

from __future__ import annotations

from collections import namedtuple

from ..autograd import Tensor, _record, defprimitive
from ._helpers import array_device, conj_if, is_complex, is_tensor, reshaped

__all__ = []
LINALG_ALL = ["cholesky", "qr"]

QRResult = namedtuple("QRResult", ["Q", "R"])


# -- helpers shared by the linalg rules (they work on raw arrays and on tensors) ---------------

def constant(xp, like, make):
    """``make(backend_xp, raw_like)`` evaluated on raw arrays, as a constant of ``xp``.

    For masks, signs and one-hot matrices: values that carry no derivative. On tensors the
    result is a tensor outside the graph on ``like``'s device.
    """
    if is_tensor(like):
        backend = like.device.xp
        return Tensor(_record.derive(lambda raw: make(backend, raw), like.data), like.device)
    return make(xp, like)


def eye_like(xp, a, k=0):
    """The identity (``k``-th diagonal) of ``a``'s trailing matrix shape, dtype and device."""
    return constant(xp, a, lambda b, r: b.eye(r.shape[-2], r.shape[-1], k=k, dtype=r.dtype,
                                              device=array_device(r)))


def mT(xp, a):
    return xp.matrix_transpose(a)


def mH(xp, a):
    """The conjugate transpose (the transpose of a real matrix)."""
    return xp.conj(xp.matrix_transpose(a)) if is_complex(a) else xp.matrix_transpose(a)


def col(xp, v):
    """``v[..., :, None]``."""
    return reshaped(xp, v, tuple(v.shape) + (1,))


def row(xp, v):
    """``v[..., None, :]``."""
    return reshaped(xp, v, tuple(v.shape[:-1]) + (1, v.shape[-1]))


def uncol(xp, a):
    """``a[..., 0]`` for ``a`` with a trailing axis of one."""
    return reshaped(xp, a, tuple(a.shape[:-1]))


def sym(xp, a):
    """The symmetric part ``(a + a^T) / 2`` (the Hermitian part ``(a + a^H) / 2`` of a complex
    matrix)."""
    return (a + mH(xp, a)) * 0.5


def diag_embed(xp, v):
    """Square matrices with ``v`` on their diagonals."""
    n = v.shape[-1]
    eye = constant(xp, v, lambda b, r: b.eye(n, dtype=r.dtype, device=array_device(r)))
    return row(xp, v) * eye


def diag_part(xp, a):
    return xp.linalg.diagonal(a)


def solve_right(xp, x, a):
    """``x @ inv(a)``, as ``solve(a^T, x^T)^T``."""
    return mT(xp, xp.linalg.solve(mT(xp, a), mT(xp, x)))


def inverse_gaps(xp, w):
    """``F_ij = 1 / (w_j - w_i)`` where ``w_i != w_j``, and 0 where they are equal: on the
    diagonal and between repeated values (double where: no 1/0).

    At a repeated value the terms ``F_ij`` multiply the antisymmetric part of ``V^T V_bar``
    within its eigenspace, which is 0 for every function invariant to the basis of that
    eigenspace: 0 is their exact value there.
    """
    gaps = row(xp, w) - col(xp, w)
    distinct = constant(xp, gaps, lambda b, r: r != 0)
    return xp.where(distinct, 1.0 / xp.where(distinct, gaps, 1.0), 0.0)


def strictly_lower(xp, a):
    """The part of ``a`` below its diagonal (a constant 0/1 mask times ``a``)."""
    def mask(b, r):
        i = b.arange(r.shape[-1], device=array_device(r))
        return b.astype(i[:, None] > i[None, :], r.dtype)
    return a * constant(xp, a, mask)


# -- cholesky -------------------------------------------------------------------------------

def _phi(xp, a):
    """The lower triangle of ``a`` with its diagonal halved."""
    return strictly_lower(xp, a) + a * (eye_like(xp, a) * 0.5)


def _cholesky_vjp(xp, g, ans, x, upper):
    low, g_low = (mH(xp, ans), mH(xp, g)) if upper else (ans, g)
    # A_bar = L^-T phi(L^T L_bar) conj(L)^-1, symmetrised (Hermitian part)
    inner = _phi(xp, mT(xp, low) @ g_low)
    s = solve_right(xp, xp.linalg.solve(mT(xp, low), inner), conj_if(xp, low, is_complex(low)))
    return sym(xp, s)


def _cholesky_jvp(xp, t, ans, x, upper):
    low = mH(xp, ans) if upper else ans
    # dL = L phi(L^-1 dA L^-H)
    y = xp.linalg.solve(low, sym(xp, t))
    inner = xp.linalg.solve(low, mH(xp, y))
    d_low = low @ _phi(xp, inner)
    return mH(xp, d_low) if upper else d_low


cholesky_p = defprimitive(
    "cholesky",
    # the upper factor as the lower one's conjugate transpose: every library then reads the
    # lower triangle (PyTorch's upper=True reads the upper one)
    forward=lambda xp, x, upper: (mH(xp, xp.linalg.cholesky(x)) if upper
                                  else xp.linalg.cholesky(x)),
    vjp=(_cholesky_vjp,),
    jvp=(_cholesky_jvp,),
)


def cholesky(x, /, *, upper=False):
    """The Cholesky factor of a symmetric positive-definite matrix (lower unless ``upper``)."""
    return cholesky_p(x, upper=upper)


# -- qr -------------------------------------------------------------------------------------

def _qr_check(x, mode):
    m, n = x.shape[-2:]
    if m < n or (mode == "complete" and m != n):
        raise NotImplementedError(f"qr: gradients need mode='reduced' and m >= n; got shape "
                                  f"{tuple(x.shape)} with mode={mode!r}")


def _qr_forward(xp, x, mode):
    q, r = xp.linalg.qr(x, mode=mode)
    return q, r


def _qr_vjp(xp, g, ans, x, mode):
    _qr_check(x, mode)
    q, r = ans
    g_q, g_r = g
    complex_ = is_complex(q)
    m = r @ mT(xp, g_r) - mT(xp, g_q) @ q
    low = strictly_lower(xp, m)
    # copy the lower triangle of M to the upper one (conjugated), keep the real part of the
    # diagonal (R's is real), then A_bar = (Q_bar + conj(Q) M') R^-T
    diagonal = (xp.real(m) if complex_ else m) * eye_like(xp, m)
    m_sym = conj_if(xp, low, complex_) + mT(xp, low) + diagonal
    return solve_right(xp, g_q + conj_if(xp, q, complex_) @ m_sym, mT(xp, r))


def _qr_jvp(xp, t, ans, x, mode):
    _qr_check(x, mode)
    q, r = ans
    b = solve_right(xp, t, r)
    c = mH(xp, q) @ b
    # Q^H dQ is antihermitian and dR R^-1 upper triangular with a real diagonal (LAPACK's R has
    # one): split C = Q^H dA R^-1 between them, the imaginary part of its diagonal to dQ
    low = strictly_lower(xp, c)
    upper_part = c - low + mH(xp, low)
    if is_complex(c):
        upper_part = upper_part - (c - xp.real(c)) * eye_like(xp, c)
    return b - q @ upper_part, upper_part @ r


qr_p = defprimitive(
    "qr",
    forward=_qr_forward,
    vjp=(_qr_vjp,),
    jvp=(_qr_jvp,),
    multi_output=True,
)


def qr(x, /, *, mode="reduced"):
    """The QR decomposition ``x = Q R`` (``mode`` 'reduced' or 'complete')."""
    return QRResult(*qr_p(x, mode=mode))
