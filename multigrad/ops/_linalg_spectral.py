"""The spectral decompositions of the ``linalg`` extension: eigh, eigvalsh, svd, svdvals, eig,
eigvals, each differentiable for real and complex input.

Conventions (complex inputs follow JAX's convention, as every rule does: see ``linalg``):

- eigh and eigvalsh read the lower triangle of a matrix meant to be symmetric (Hermitian):
  their gradients are symmetric (Hermitian) and their tangents use the symmetric (Hermitian)
  part of the input tangent, as cholesky's do.
- The gap matrix ``F_ij = 1 / (w_j - w_i)`` is zero where ``w_i == w_j``, on its diagonal and
  between repeated eigenvalues / singular values (the "double where" keeps ``1/0`` out).
- Gauges. Eigenvectors and singular vectors are defined up to a sign (real) or a phase
  ``e^{i phi}`` (complex), and at a repeated value up to a rotation of its eigenspace: only
  functions invariant to that choice have a derivative. The rules are those of that
  derivative (as in the literature: Seeger et al. 2017 for eigh, Wan and Zhang 2019 for the
  complex SVD): the tangents are taken in the gauge where each vector's phase does not move
  (``Im(v_i^H dv_i) = 0``; for svd the imaginary part of ``u_i^H dA v_i / s_i`` goes to
  ``u_i``), and the gradients are their transposes. A loss that depends on the phases has no
  derivative: the VJPs of eigh, svd and eig check, as PyTorch does, that the cotangents of the
  vectors do not turn their phases (``Im(diag(V^T V_bar)) = 0``, for svd
  ``Im(diag(U^T U_bar + conj(Vh) Vh_bar^H)) = 0``, within ``sqrt(eps)`` of their size), and
  raise ValueError otherwise (a read to the host). Projectors ``v_i v_i^H``, ``|v_i|**2``,
  eigenvalues and singular values are invariant.
- svd: gradients for ``full_matrices=False`` (or square inputs); the terms outside the span of
  ``U`` / ``V`` divide by the singular values, so they need ``s > 0`` when ``m != n``.
- eig, eigvals (a general matrix; complex results, also for real input): ``dw = diag(V^-1
  dA V)``, ``dV = V (F o (V^-1 dA V))`` with each column's change along its own direction
  removed in the real part (the vectors keep unit norm), ``F`` from the complex eigenvalues;
  they need distinct eigenvalues and an invertible ``V``.
"""

from __future__ import annotations

import math
from collections import namedtuple

from ..autograd import Tensor, _record, defprimitive
from ._helpers import conj_if, is_complex, is_tensor
from ._linalg_decompositions import (col, diag_embed, diag_part, inverse_gaps, mH, mT,
                                     row, sym)

__all__ = []
LINALG_ALL = ["eig", "eigh", "eigvals", "eigvalsh", "svd", "svdvals"]

EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def _require_phase_invariant(op, xp, turn, *cotangents):
    """Raise ValueError naming ``op`` unless ``Im(turn)`` (one entry per vector: how the loss
    changes as that vector's phase turns) is 0 within ``sqrt(eps)`` times the size of the
    vectors' cotangents (their column norms)."""
    def ok(b, raw_turn, *raw_cotangents):
        size = sum(b.linalg.vector_norm(c, axis=-2) for c in raw_cotangents)
        tolerance = math.sqrt(b.finfo(raw_turn.dtype).eps) * size
        return b.all(b.abs(b.imag(raw_turn)) <= tolerance)

    def fail(*_):
        return ValueError(
            f"{op}: the loss depends on the phases of the complex {_VECTORS[op]}, which {op} "
            "leaves arbitrary (each may be multiplied by e^(i phi)), so it has no derivative; "
            "differentiate a function invariant to them (the values, |v|**2, projectors "
            "v v^H, ...)")
    if is_tensor(turn):
        backend = turn.device.xp
        made = _record.derive(lambda *raw: ok(backend, *raw), turn.data,
                              *(c.data for c in cotangents))
        _record.require(Tensor(made, turn.device), fail)
    elif not bool(ok(xp, turn, *cotangents)):
        raise fail()


_VECTORS = {"eigh": "eigenvectors", "svd": "singular vectors", "eig": "eigenvectors"}


# -- eigh, eigvalsh -------------------------------------------------------------------------

def _eigh_forward(xp, x):
    w, v = xp.linalg.eigh(x)
    return w, v


def _eigh_vjp(xp, g, ans, x):
    w, v = ans
    g_w, g_v = g
    vt_gv = mT(xp, v) @ g_v
    if is_complex(v):
        _require_phase_invariant("eigh", xp, diag_part(xp, vt_gv), g_v)
    # A_bar = conj(V) (diag(w_bar) + F o (V^T V_bar)) V^T, symmetrised (Hermitian part)
    inner = diag_embed(xp, g_w) + inverse_gaps(xp, w) * vt_gv
    return sym(xp, conj_if(xp, v, is_complex(v)) @ inner @ mT(xp, v))


def _eigh_jvp(xp, t, ans, x):
    w, v = ans
    m = mH(xp, v) @ sym(xp, t) @ v
    dw = diag_part(xp, m)
    return (xp.real(dw) if is_complex(dw) else dw), v @ (inverse_gaps(xp, w) * m)


eigh_p = defprimitive(
    "eigh",
    forward=_eigh_forward,
    vjp=(_eigh_vjp,),
    jvp=(_eigh_jvp,),
    multi_output=True,
)


def eigh(x, /):
    """Eigenvalues (ascending) and eigenvectors of a symmetric (Hermitian) matrix."""
    return EighResult(*eigh_p(x))


def _eigvalsh_vjp(xp, g, ans, x):
    v = xp.linalg.eigh(x)[1]
    return (conj_if(xp, v, is_complex(v)) * row(xp, g)) @ mT(xp, v)


def _eigvalsh_jvp(xp, t, ans, x):
    v = xp.linalg.eigh(x)[1]
    # dw_i = v_i^H dA v_i (real for a Hermitian direction)
    dw = xp.sum(conj_if(xp, v, is_complex(v)) * (sym(xp, t) @ v), axis=-2)
    return xp.real(dw) if is_complex(dw) else dw


eigvalsh = defprimitive(
    "eigvalsh",
    forward=lambda xp, x: xp.linalg.eigvalsh(x),
    # its own primitive: well defined at repeated eigenvalues, where eigh's vectors are not
    vjp=(_eigvalsh_vjp,),
    jvp=(_eigvalsh_jvp,),
    doc="Eigenvalues (ascending) of a symmetric (Hermitian) matrix.",
)


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
    complex_ = is_complex(u)
    m, n, k = x.shape[-2], x.shape[-1], s.shape[-1]
    f = inverse_gaps(xp, s * s)
    uc, vhc = conj_if(xp, u, complex_), conj_if(xp, vh, complex_)
    ut_gu = mT(xp, u) @ g_u
    vt_gv = vhc @ mH(xp, g_vh)  # V^T V_bar, V_bar = Vh_bar^H the cotangent of V
    inner = (diag_embed(xp, g_s) + (f * (ut_gu - mH(xp, ut_gu))) * row(xp, s)
             + col(xp, s) * (f * (vt_gv - mH(xp, vt_gv))))
    if complex_:
        turn = diag_part(xp, ut_gu)
        _require_phase_invariant("svd", xp, turn + diag_part(xp, vt_gv), g_u, mH(xp, g_vh))
        # the transpose of dU's diagonal term i Im(u_i^H dA v_i) / s_i
        inner = inner + diag_embed(xp, (turn - xp.conj(turn)) / (2 * s))
    # A_bar = conj(U) inner conj(Vh)
    out = uc @ inner @ vhc
    # the parts of U_bar and V_bar outside span(U), span(V): only for non-square inputs
    if m > k:
        out = out + ((g_u - uc @ ut_gu) / row(xp, s)) @ vhc
    if n > k:
        out = out + (uc / row(xp, s)) @ (g_vh - mH(xp, vt_gv) @ vhc)
    return out


def _svd_jvp(xp, t, ans, x, full_matrices):
    _svd_check(x, full_matrices)
    u, s, vh = ans
    m, n, k = x.shape[-2], x.shape[-1], s.shape[-1]
    v = mH(xp, vh)
    f = inverse_gaps(xp, s * s)
    tv = t @ v
    dp = mH(xp, u) @ tv  # U^H dA V
    dph = mH(xp, dp)
    du = u @ (f * (dp * row(xp, s) + col(xp, s) * dph))
    dv = v @ (f * (col(xp, s) * dp + dph * row(xp, s)))
    ds = diag_part(xp, dp)
    if is_complex(ds):
        # the phase gauge: u_i takes the imaginary part of u_i^H dA v_i / s_i, v_i none
        du = du + u * row(xp, (ds - xp.real(ds)) / s)
        ds = xp.real(ds)
    if m > k:
        du = du + (tv - u @ dp) / row(xp, s)
    if n > k:
        dv = dv + (mH(xp, t) @ u - v @ dph) / row(xp, s)
    return du, ds, mH(xp, dv)


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
    return conj_if(xp, (u * row(xp, g)) @ vh, is_complex(u))


def _svdvals_jvp(xp, t, ans, x):
    u, _, vh = xp.linalg.svd(x, full_matrices=False)
    # ds_i = Re(u_i^H dA v_i)
    ds = xp.sum(conj_if(xp, u, is_complex(u)) * (t @ mH(xp, vh)), axis=-2)
    return xp.real(ds) if is_complex(ds) else ds


svdvals = defprimitive(
    "svdvals",
    forward=lambda xp, x: xp.linalg.svdvals(x),
    # its own primitive: well defined at repeated singular values, unlike svd's vectors
    vjp=(_svdvals_vjp,),
    jvp=(_svdvals_jvp,),
    doc="Singular values (descending) of a matrix.",
)


# -- eig, eigvals ---------------------------------------------------------------------------

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


def _eigenbasis(xp, x):
    """The (complex) eigenvectors of ``x``, differentiable under ``create_graph``."""
    if is_tensor(x):
        return eig_p(x)[1]
    return _eig_forward(xp, x)[1]


def _similar(xp, v, a):
    """``V^-1 a V`` (``a`` cast to ``V``'s complex dtype)."""
    if not is_complex(a):
        a = xp.astype(a, v.dtype)
    return xp.linalg.solve(v, a @ v)


def _eig_vjp(xp, g, ans, x):
    w, v = ans
    g_w, g_v = g
    vt_gv = mT(xp, v) @ g_v
    _require_phase_invariant("eig", xp, diag_part(xp, vt_gv), g_v)
    # dV = V Y - V diag(Re(diag(V^H V Y))), Y = F o (V^-1 dA V): its transpose, then
    # A_bar = V^-T K V^T
    keep_norm = xp.real(diag_part(xp, vt_gv))
    corrected = vt_gv - (mT(xp, v) @ xp.conj(v)) * row(xp, keep_norm)
    k = diag_embed(xp, g_w) + inverse_gaps(xp, w) * corrected
    return xp.linalg.solve(mT(xp, v), k @ mT(xp, v))


def _eig_jvp(xp, t, ans, x):
    w, v = ans
    m = _similar(xp, v, t)
    dv = v @ (inverse_gaps(xp, w) * m)
    # each vector keeps its unit norm: no change along itself in the real part
    dv = dv - v * row(xp, xp.real(xp.sum(xp.conj(v) * dv, axis=-2)))
    return diag_part(xp, m), dv


eig_p = defprimitive(
    "eig",
    forward=_eig_forward,
    vjp=(_eig_vjp,),
    jvp=(_eig_jvp,),
    multi_output=True,
)


def eig(x, /):
    """Eigenvalues and eigenvectors (unit norm) of a general square matrix, complex."""
    return EigResult(*eig_p(x))


def _eigvals_vjp(xp, g, ans, x):
    v = _eigenbasis(xp, x)
    # A_bar = V^-T diag(w_bar) V^T
    return xp.linalg.solve(mT(xp, v), mT(xp, v * row(xp, g)))


def _eigvals_jvp(xp, t, ans, x):
    return diag_part(xp, _similar(xp, _eigenbasis(xp, x), t))


eigvals = defprimitive(
    "eigvals",
    forward=lambda xp, x: _as_complex(xp, _general_eig(xp, "eigvals")(x)),
    vjp=(_eigvals_vjp,),
    jvp=(_eigvals_jvp,),
    doc="Eigenvalues of a general square matrix, complex.",
)
