"""Matrix decompositions of the ``linalg`` extension, and the helpers every linalg rule shares.

Primitives: cholesky, eigh, eigvalsh, qr, svd, svdvals (differentiable); eig, eigvals
(forward only: their results are complex, and their derivatives are left to a later version).

Conventions (real inputs):

- cholesky, eigh, eigvalsh read the lower triangle of a matrix that is meant to be symmetric
  (on NumPy, CuPy and array-api-strict alike); their gradients are symmetric (the input
  cotangent is symmetrised) and their tangents use the symmetric part of the input tangent, so
  they are the derivatives along symmetric directions, whatever the upper triangle holds.
- eigh and svd: the gap matrix ``F_ij = 1 / (w_j - w_i)`` is zero where ``w_i == w_j``, on
  its diagonal and between repeated eigenvalues / singular values (the "double where" keeps
  ``1/0`` out). Eigenvectors and singular vectors are defined up to sign, and at a repeated
  value up to a rotation of its eigenspace: only functions invariant to that choice have a
  derivative, and for those the zero gaps are exact (eigenvalues, projectors onto eigenspaces
  are right at repeated eigenvalues; eigvalsh and svdvals everywhere).
- qr: gradients for ``mode='reduced'`` with ``m >= n`` (``R`` invertible); other cases raise.
- svd: gradients for ``full_matrices=False`` (or square inputs); the terms outside the span of
  ``U`` / ``V`` divide by the singular values, so they need ``s > 0`` when ``m != n``.
"""

from __future__ import annotations

from collections import namedtuple

from ..autograd import Tensor, _record, defprimitive
from ._helpers import array_device, is_tensor, reshaped

__all__ = []
LINALG_ALL = ["cholesky", "eig", "eigh", "eigvals", "eigvalsh", "qr", "svd", "svdvals"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
QRResult = namedtuple("QRResult", ["Q", "R"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


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
    """The symmetric part ``(a + a^T) / 2``."""
    return (a + mT(xp, a)) * 0.5


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
    low, g_low = (mT(xp, ans), mT(xp, g)) if upper else (ans, g)
    # A_bar = L^-T phi(L^T L_bar) L^-1, symmetrised
    inner = _phi(xp, mT(xp, low) @ g_low)
    s = solve_right(xp, xp.linalg.solve(mT(xp, low), inner), low)
    return sym(xp, s)


def _cholesky_jvp(xp, t, ans, x, upper):
    low = mT(xp, ans) if upper else ans
    # dL = L phi(L^-1 dA L^-T)
    y = xp.linalg.solve(low, sym(xp, t))
    inner = xp.linalg.solve(low, mT(xp, y))
    d_low = low @ _phi(xp, inner)
    return mT(xp, d_low) if upper else d_low


cholesky_p = defprimitive(
    "cholesky",
    # the upper factor as the lower one's transpose: every library then reads the lower
    # triangle (PyTorch's upper=True reads the upper one)
    forward=lambda xp, x, upper: (mT(xp, xp.linalg.cholesky(x)) if upper
                                  else xp.linalg.cholesky(x)),
    vjp=(_cholesky_vjp,),
    jvp=(_cholesky_jvp,),
)


def cholesky(x, /, *, upper=False):
    """The Cholesky factor of a symmetric positive-definite matrix (lower unless ``upper``)."""
    return cholesky_p(x, upper=upper)


# -- eigh, eigvalsh -------------------------------------------------------------------------

def _eigh_forward(xp, x):
    w, v = xp.linalg.eigh(x)
    return w, v


def _eigh_vjp(xp, g, ans, x):
    w, v = ans
    g_w, g_v = g
    # A_bar = V (diag(w_bar) + F o (V^T V_bar)) V^T, symmetrised
    inner = diag_embed(xp, g_w) + inverse_gaps(xp, w) * (mT(xp, v) @ g_v)
    return sym(xp, v @ inner @ mT(xp, v))


def _eigh_jvp(xp, t, ans, x):
    w, v = ans
    m = mT(xp, v) @ sym(xp, t) @ v
    return diag_part(xp, m), v @ (inverse_gaps(xp, w) * m)


eigh_p = defprimitive(
    "eigh",
    forward=_eigh_forward,
    vjp=(_eigh_vjp,),
    jvp=(_eigh_jvp,),
    multi_output=True,
)


def eigh(x, /):
    """Eigenvalues (ascending) and eigenvectors of a symmetric matrix."""
    return EighResult(*eigh_p(x))


def _eigvalsh_vjp(xp, g, ans, x):
    v = xp.linalg.eigh(x)[1]
    return (v * row(xp, g)) @ mT(xp, v)


def _eigvalsh_jvp(xp, t, ans, x):
    v = xp.linalg.eigh(x)[1]
    # dw_i = v_i^T dA v_i
    return xp.sum(v * (sym(xp, t) @ v), axis=-2)


eigvalsh = defprimitive(
    "eigvalsh",
    forward=lambda xp, x: xp.linalg.eigvalsh(x),
    # its own primitive: well defined at repeated eigenvalues, where eigh's vectors are not
    vjp=(_eigvalsh_vjp,),
    jvp=(_eigvalsh_jvp,),
    doc="Eigenvalues (ascending) of a symmetric matrix.",
)


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
    m = r @ mT(xp, g_r) - mT(xp, g_q) @ q
    low = strictly_lower(xp, m)
    # copy the lower triangle of M to the upper one, then A_bar = (Q_bar + Q M') R^-T
    m_sym = low + mT(xp, low) + m * eye_like(xp, m)
    return solve_right(xp, g_q + q @ m_sym, mT(xp, r))


def _qr_jvp(xp, t, ans, x, mode):
    _qr_check(x, mode)
    q, r = ans
    b = solve_right(xp, t, r)
    c = mT(xp, q) @ b
    # Q^T dQ is antisymmetric and dR R^-1 upper triangular: split C = Q^T dA R^-1 between them
    low = strictly_lower(xp, c)
    upper_part = c - low + mT(xp, low)
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


# -- svd, svdvals ---------------------------------------------------------------------------

def _svd_check(x, full_matrices):
    if full_matrices and x.shape[-2] != x.shape[-1]:
        raise NotImplementedError(f"svd: gradients need full_matrices=False for a non-square "
                                  f"input (shape {tuple(x.shape)})")


def _svd_forward(xp, x, full_matrices):
    u, s, vh = xp.linalg.svd(x, full_matrices=full_matrices)
    return u, s, vh


def _svd_vjp(xp, g, ans, x, full_matrices):
    _svd_check(x, full_matrices)
    u, s, vh = ans
    g_u, g_s, g_vh = g
    m, n, k = x.shape[-2], x.shape[-1], s.shape[-1]
    f = inverse_gaps(xp, s * s)
    utgu = mT(xp, u) @ g_u
    vtgv = vh @ mT(xp, g_vh)
    inner = (diag_embed(xp, g_s) + (f * (utgu - mT(xp, utgu))) * row(xp, s)
             + col(xp, s) * (f * (vtgv - mT(xp, vtgv))))
    out = u @ inner @ vh
    # the parts of U_bar and V_bar outside span(U), span(V): only for non-square inputs
    if m > k:
        out = out + ((g_u - u @ utgu) / row(xp, s)) @ vh
    if n > k:
        out = out + (u / row(xp, s)) @ (g_vh - mT(xp, vtgv) @ vh)
    return out


def _svd_jvp(xp, t, ans, x, full_matrices):
    _svd_check(x, full_matrices)
    u, s, vh = ans
    m, n, k = x.shape[-2], x.shape[-1], s.shape[-1]
    v = mT(xp, vh)
    f = inverse_gaps(xp, s * s)
    tv = t @ v
    dp = mT(xp, u) @ tv
    dpt = mT(xp, dp)
    du = u @ (f * (dp * row(xp, s) + col(xp, s) * dpt))
    dv = v @ (f * (col(xp, s) * dp + dpt * row(xp, s)))
    if m > k:
        du = du + (tv - u @ dp) / row(xp, s)
    if n > k:
        dv = dv + (mT(xp, t) @ u - v @ dpt) / row(xp, s)
    return du, diag_part(xp, dp), mT(xp, dv)


svd_p = defprimitive(
    "svd",
    forward=_svd_forward,
    vjp=(_svd_vjp,),
    jvp=(_svd_jvp,),
    multi_output=True,
)


def svd(x, /, *, full_matrices=True):
    """The singular value decomposition ``x = U diag(S) Vh`` (singular values descending)."""
    return SVDResult(*svd_p(x, full_matrices=full_matrices))


def _svdvals_vjp(xp, g, ans, x):
    u, _, vh = xp.linalg.svd(x, full_matrices=False)
    return (u * row(xp, g)) @ vh


def _svdvals_jvp(xp, t, ans, x):
    u, _, vh = xp.linalg.svd(x, full_matrices=False)
    # ds_i = u_i^T dA v_i
    return xp.sum(u * (t @ mT(xp, vh)), axis=-2)


svdvals = defprimitive(
    "svdvals",
    forward=lambda xp, x: xp.linalg.svdvals(x),
    # its own primitive: well defined at repeated singular values, unlike svd's vectors
    vjp=(_svdvals_vjp,),
    jvp=(_svdvals_jvp,),
    doc="Singular values (descending) of a matrix.",
)


# -- eig, eigvals (forward only) --------------------------------------------------------------

def _as_complex(xp, a):
    if xp.isdtype(a.dtype, "complex floating"):
        return a
    return xp.astype(a, xp.complex64 if a.dtype == xp.float32 else xp.complex128)


def _general_eig(xp, name):
    fn = getattr(xp.linalg, name, None)
    if fn is None:
        raise NotImplementedError(f"{name}: this array library's linalg has no {name} (CuPy "
                                  "before v14, for one); compute it on the CPU with .to('cpu')")
    return fn


def _eig_forward(xp, x):
    w, v = _general_eig(xp, "eig")(x)
    return _as_complex(xp, w), _as_complex(xp, v)


eig_p = defprimitive("eig", forward=_eig_forward, multi_output=True)


def eig(x, /):
    """Eigenvalues and eigenvectors of a general square matrix (complex; no gradient yet)."""
    return EigResult(*eig_p(x))


eigvals = defprimitive(
    "eigvals",
    forward=lambda xp, x: _as_complex(xp, _general_eig(xp, "eigvals")(x)),
    doc="Eigenvalues of a general square matrix (complex; no gradient yet).",
)
