"""The array API standard's ``fft`` extension (``multigrad.fft``), differentiable.

Primitives: fftn, ifftn, rfftn, irfftn. Composed from them: fft, ifft, rfft, irfft (the n-D
transforms over one axis), hfft and ihfft (irfft and rfft of the conjugate with the opposite
normalisation, which is how the standard defines them); fftshift and ifftshift are rolls, so
their cotangent rolls back; fftfreq and rfftfreq create leaves.

Conventions. Every transform is linear, so its JVP is the transform of the tangent. Complex
cotangents follow the convention of ``real``, ``imag`` and ``conj`` (see ``elementwise``): for
a real loss ``L`` of ``z = u + i v`` the cotangent is ``dL/du - i dL/dv``, so a linear map's
VJP is its transpose, not its conjugate transpose. The DFT matrix is symmetric, hence:

- fftn and ifftn: the VJP is the same transform with the same ``norm``;
- cutting the input to ``s`` (or padding it with zeros) transposes to padding the cotangent with
  zeros (or cutting it) back to the input's shape;
- rfftn keeps the first ``s[-1] // 2 + 1`` bins of the full transform of a real input: its VJP
  pads the dropped bins with zeros, applies fftn and keeps the real part;
- irfftn reads each interior bin of the last axis twice (the bin and its mirror image) and the
  zero and Nyquist bins once, ignoring their imaginary parts: its VJP is the conjugate of rfftn
  with the opposite normalisation, interior bins doubled (the zero and Nyquist bins come out
  real, so their ignored imaginary parts get no gradient).

Inputs must have the dtypes the standard asks for (complex for fft, ifft, fftn, ifftn, irfft,
irfftn, hfft; real floating for rfft, rfftn, ihfft), on every backend alike: cast with
``astype`` first.
"""

from __future__ import annotations

import operator
from typing import Literal, Sequence

from ..autograd import LINEAR, Tensor, _record, defprimitive
from ..backends import as_dtype, get_device
from .elementwise import conj
from .manipulation import roll
from ._helpers import array_device

__all__ = ["fft", "ifft", "fftn", "ifftn", "rfft", "irfft", "rfftn", "irfftn", "hfft", "ihfft",
           "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

Norm = Literal["backward", "ortho", "forward"]

#: the normalisation whose scale the inverse transform has: irfft(norm) scales as rfft(dual)
_DUAL = {"backward": "forward", "ortho": "ortho", "forward": "backward"}


# -- derivative rules ----------------------------------------------------------------------------

def _fit(xp, a, sizes, axes):
    """``a`` cut, or padded with zeros, at the end of each of ``axes`` to ``sizes``."""
    for axis, size in zip(axes, sizes):
        have = a.shape[axis]
        if have > size:
            a = a[tuple(slice(None, size) if d == axis else slice(None) for d in range(a.ndim))]
        elif have < size:
            shape = tuple(size - have if d == axis else n for d, n in enumerate(a.shape))
            a = xp.concat([a, xp.zeros(shape, dtype=a.dtype, device=array_device(a))], axis=axis)
    return a


def _sizes(x, axes):
    return [x.shape[axis] for axis in axes]


def _fftn_vjp(xp, g, ans, x, s, axes, norm):
    return _fit(xp, xp.fft.fftn(g, axes=axes, norm=norm), _sizes(x, axes), axes)


def _ifftn_vjp(xp, g, ans, x, s, axes, norm):
    return _fit(xp, xp.fft.ifftn(g, axes=axes, norm=norm), _sizes(x, axes), axes)


def _rfftn_vjp(xp, g, ans, x, s, axes, norm):
    full = xp.fft.fftn(_fit(xp, g, s[-1:], axes[-1:]), axes=axes, norm=norm)
    return _fit(xp, xp.real(full), _sizes(x, axes), axes)


def _irfftn_vjp(xp, g, ans, x, s, axes, norm):
    half = xp.conj(xp.fft.rfftn(g, axes=axes, norm=_DUAL[norm]))
    last, bins = axes[-1], half.shape[axes[-1]]
    reads = [1.0] + [2.0] * (bins - 1)
    if s[-1] % 2 == 0 and bins > 1:
        reads[-1] = 1.0  # the Nyquist bin has no mirror image
    reads = xp.reshape(xp.asarray(reads, dtype=half.dtype, device=array_device(half)),
                       tuple(bins if d == last else 1 for d in range(half.ndim)))
    return _fit(xp, half * reads, _sizes(x, axes), axes)


def _declare(name, rule, doc):
    return defprimitive(
        name,
        forward=lambda xp, x, s, axes, norm: getattr(xp.fft, name)(x, s=s, axes=axes, norm=norm),
        vjp=(rule,),
        jvp=(LINEAR,),
        doc=doc,
    )


fftn_p = _declare("fftn", _fftn_vjp, "n-D discrete Fourier transform (resolved s and axes).")
ifftn_p = _declare("ifftn", _ifftn_vjp, "n-D inverse DFT (resolved s and axes).")
rfftn_p = _declare("rfftn", _rfftn_vjp, "n-D DFT of real input, half spectrum (resolved s, axes).")
irfftn_p = _declare("irfftn", _irfftn_vjp, "n-D inverse of rfftn (resolved s and axes).")


# -- argument checks -----------------------------------------------------------------------------

def _is_positive_integer(n) -> bool:
    """An int (or NumPy integer: anything with ``__index__``) of at least 1, not a bool."""
    return not isinstance(n, bool) and hasattr(n, "__index__") and operator.index(n) >= 1


def _plan(fname, x, s, axes, norm, want, halved=False):
    """Check the arguments of ``fft.<fname>`` and resolve ``s`` and ``axes`` to tuples of ints.

    ``want`` is the dtype kind the input must have; ``halved`` marks the inverses of real
    transforms, whose default last size is ``2 * (m - 1)`` for ``m`` input bins.
    """
    where = f"fft.{fname}"
    kind = as_dtype(x.dtype).kind
    if kind != want:
        fix = ("cast it with astype(x, complex64) or astype(x, complex128)"
               if want == "complex floating" else
               "cast integers with astype(x, float64); complex input takes fft.fft or fft.fftn")
        raise TypeError(f"{where}: x must have a {want} dtype, got {as_dtype(x.dtype).name}; "
                        f"{fix}")
    if norm not in _DUAL:
        raise ValueError(f"{where}: norm must be 'backward', 'ortho' or 'forward', not {norm!r}")
    ndim = x.ndim
    if ndim == 0:
        raise ValueError(f"{where}: x must have at least one dimension, got a 0-d array")
    if s is not None:
        s = tuple(s)
    if axes is None:
        axes = tuple(range(ndim - len(s), ndim)) if s is not None else tuple(range(ndim))
    axes = tuple(axes)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{where}: axis {a} is out of range for x of shape {x.shape}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{where}: axes {axes} repeat an axis")
    if not axes:
        raise ValueError(f"{where}: axes must name at least one axis")
    if s is None:
        s = (-1,) * len(axes)
    if len(s) != len(axes):
        raise ValueError(f"{where}: s has {len(s)} entries but axes {axes} has {len(axes)}")
    sizes = []
    for k, (n, a) in enumerate(zip(s, axes)):
        if n == -1:  # the whole input along that axis
            n = 2 * (x.shape[a] - 1) if halved and k == len(axes) - 1 else x.shape[a]
        if not _is_positive_integer(n):
            raise ValueError(f"{where}: the transform length along axis {a} must be a positive "
                             f"integer, got {n!r}")
        sizes.append(operator.index(n))
    return tuple(sizes), axes


def _one_axis(n, axis):
    return None if n is None else (n,), (axis,)


# -- complex-to-complex --------------------------------------------------------------------------

def fftn(x: Tensor, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: Norm = "backward") -> Tensor:
    """n-dimensional discrete Fourier transform.

    Parameters
    ----------
    x : Tensor
        Complex input.
    s : sequence of int, optional
        Transform length along each of ``axes``: the input is cut or padded with zeros at the
        end to it; -1 keeps the input's size. Default: the input's sizes.
    axes : sequence of int, optional
        Axes to transform. Default: the last ``len(s)`` axes, or all axes without ``s``.
    norm : {"backward", "ortho", "forward"}
        Scale ``1``, ``1/sqrt(n)`` or ``1/n`` on this transform (``n = prod(s)``).

    Returns
    -------
    Tensor
        The transform, of ``x``'s dtype, with ``s[i]`` entries along ``axes[i]``.
    """
    s, axes = _plan("fftn", x, s, axes, norm, "complex floating")
    return fftn_p(x, s=s, axes=axes, norm=norm)


def ifftn(x: Tensor, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: Norm = "backward") -> Tensor:
    """n-dimensional inverse discrete Fourier transform.

    Parameters and result as in ``fftn``; ``norm`` puts ``1/n``, ``1/sqrt(n)`` or ``1`` on
    this inverse transform ("backward", "ortho", "forward").
    """
    s, axes = _plan("ifftn", x, s, axes, norm, "complex floating")
    return ifftn_p(x, s=s, axes=axes, norm=norm)


def fft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: Norm = "backward") -> Tensor:
    """One-dimensional discrete Fourier transform along ``axis``.

    Parameters
    ----------
    x : Tensor
        Complex input.
    n : int, optional
        Transform length: the input is cut or padded with zeros at the end to ``n``.
    axis : int
        The axis to transform.
    norm : {"backward", "ortho", "forward"}
        Scale ``1``, ``1/sqrt(n)`` or ``1/n`` on this transform.

    Returns
    -------
    Tensor
        The transform, of ``x``'s dtype, with ``n`` entries along ``axis``.
    """
    s, axes = _plan("fft", x, *_one_axis(n, axis), norm, "complex floating")
    return fftn_p(x, s=s, axes=axes, norm=norm)


def ifft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: Norm = "backward") -> Tensor:
    """One-dimensional inverse discrete Fourier transform along ``axis``.

    Parameters and result as in ``fft``; ``norm`` puts ``1/n``, ``1/sqrt(n)`` or ``1`` on
    this inverse transform ("backward", "ortho", "forward").
    """
    s, axes = _plan("ifft", x, *_one_axis(n, axis), norm, "complex floating")
    return ifftn_p(x, s=s, axes=axes, norm=norm)


# -- real input, Hermitian output ----------------------------------------------------------------

def rfftn(x: Tensor, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: Norm = "backward") -> Tensor:
    """n-dimensional discrete Fourier transform of a real input, half of the last axis.

    Parameters as in ``fftn``, with a real floating ``x``.

    Returns
    -------
    Tensor
        The transform (complex, of ``x``'s precision): ``s[i]`` entries along ``axes[i]``,
        ``s[-1] // 2 + 1`` along the last of ``axes`` (the other bins mirror these).
    """
    s, axes = _plan("rfftn", x, s, axes, norm, "real floating")
    return rfftn_p(x, s=s, axes=axes, norm=norm)


def irfftn(x: Tensor, /, *, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: Norm = "backward") -> Tensor:
    """The inverse of ``rfftn``: a real signal from half of its spectrum.

    Parameters
    ----------
    x : Tensor
        Complex input: along the last of ``axes``, bins ``0 .. s[-1] // 2`` of a Hermitian
        spectrum (the imaginary parts of bin 0 and, for even lengths, the last are ignored).
    s : sequence of int, optional
        Output length along each of ``axes``; the input is cut or padded with zeros to it
        (to ``s[-1] // 2 + 1`` along the last). Default: the input's sizes, but
        ``2 * (m - 1)`` along the last axis for ``m`` input bins.
    axes, norm
        As in ``ifftn``.

    Returns
    -------
    Tensor
        The real signal (of ``x``'s precision), with ``s[i]`` entries along ``axes[i]``.
    """
    s, axes = _plan("irfftn", x, s, axes, norm, "complex floating", halved=True)
    return irfftn_p(x, s=s, axes=axes, norm=norm)


def rfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: Norm = "backward") -> Tensor:
    """One-dimensional discrete Fourier transform of a real input: bins ``0 .. n // 2``.

    Parameters as in ``fft``, with a real floating ``x``; the result is complex, with
    ``n // 2 + 1`` entries along ``axis``.
    """
    s, axes = _plan("rfft", x, *_one_axis(n, axis), norm, "real floating")
    return rfftn_p(x, s=s, axes=axes, norm=norm)


def irfft(x: Tensor, /, *, n: int | None = None, axis: int = -1,
          norm: Norm = "backward") -> Tensor:
    """The inverse of ``rfft``: a real signal of length ``n`` from bins ``0 .. n // 2``.

    Parameters as in ``ifft``, with a complex ``x``; ``n`` defaults to ``2 * (m - 1)`` for
    ``m`` input bins. The result is real, with ``n`` entries along ``axis``.
    """
    s, axes = _plan("irfft", x, *_one_axis(n, axis), norm, "complex floating", halved=True)
    return irfftn_p(x, s=s, axes=axes, norm=norm)


def hfft(x: Tensor, /, *, n: int | None = None, axis: int = -1, norm: Norm = "backward") -> Tensor:
    """The real transform of a Hermitian signal given by its first half.

    ``hfft(x, n, norm)`` is ``irfft(conj(x), n)`` scaled as a forward transform under
    ``norm``. Parameters as in ``irfft``: a complex ``x``, a real result of length ``n``
    (default ``2 * (m - 1)``) along ``axis``.
    """
    s, axes = _plan("hfft", x, *_one_axis(n, axis), norm, "complex floating", halved=True)
    return irfftn_p(conj(x), s=s, axes=axes, norm=_DUAL[norm])


def ihfft(x: Tensor, /, *, n: int | None = None, axis: int = -1,
          norm: Norm = "backward") -> Tensor:
    """The inverse of ``hfft``: half of the Hermitian spectrum of a real signal.

    ``ihfft(x, n, norm)`` is ``conj(rfft(x, n))`` scaled as an inverse transform under
    ``norm``. Parameters as in ``rfft``: a real ``x``, a complex result with ``n // 2 + 1``
    entries along ``axis``.
    """
    s, axes = _plan("ihfft", x, *_one_axis(n, axis), norm, "real floating")
    return conj(rfftn_p(x, s=s, axes=axes, norm=_DUAL[norm]))


# -- frequencies and shifts ----------------------------------------------------------------------

def _frequencies(fname, n, d, dtype, device) -> Tensor:
    if not _is_positive_integer(n):
        raise ValueError(f"fft.{fname}: n must be a positive integer, got {n!r}")
    if dtype is not None and as_dtype(dtype).kind != "real floating":
        raise TypeError(f"fft.{fname}: dtype must be a real floating dtype, got "
                        f"{as_dtype(dtype).name}")
    n = operator.index(n)
    target = get_device(device)
    xp = target.xp
    # built from arange rather than xp.fft's own: array-api-compat's fftfreq for CuPy refuses
    # every device but the CPU
    if fname == "fftfreq":
        steps = xp.concat([xp.arange((n - 1) // 2 + 1, device=target.native),
                           xp.arange(-(n // 2), 0, device=target.native)])
    else:
        steps = xp.arange(n // 2 + 1, device=target.native)
    dtype = target.default_dtype() if dtype is None else dtype
    freqs = xp.astype(steps, target.native_dtype(dtype)) * (1.0 / (n * d))
    return Tensor(_record.created(freqs), target)


def fftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """The sample frequencies of ``fft`` for ``n`` samples spaced ``d`` apart.

    ``[0, 1, ..., ceil(n/2) - 1, -floor(n/2), ..., -1] / (d * n)``: a new leaf of the real
    floating ``dtype`` (default: the device's default float) on ``device`` (default: the
    default device).
    """
    return _frequencies("fftfreq", n, d, dtype, device)


def rfftfreq(n: int, /, *, d: float = 1.0, dtype=None, device=None) -> Tensor:
    """The sample frequencies of ``rfft`` for ``n`` samples spaced ``d`` apart.

    ``[0, 1, ..., n // 2] / (d * n)``: a new leaf, with ``dtype`` and ``device`` as in
    ``fftfreq``.
    """
    return _frequencies("rfftfreq", n, d, dtype, device)


def _shift(fname, x, axes, direction):
    ndim = x.ndim
    if axes is None:
        axes = tuple(range(ndim))
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"fft.{fname}: axis {a} is out of range for x of shape {x.shape}")
    if not axes:
        return x
    axes = tuple(a % ndim for a in axes)
    return roll(x, tuple(direction * (x.shape[a] // 2) for a in axes), axis=axes)


def fftshift(x: Tensor, /, *, axes: int | Sequence[int] | None = None) -> Tensor:
    """Move the zero-frequency bin to the middle of each of ``axes`` (default: all axes).

    A roll by ``size // 2`` along each axis, so its cotangent rolls back.
    """
    return _shift("fftshift", x, axes, 1)


def ifftshift(x: Tensor, /, *, axes: int | Sequence[int] | None = None) -> Tensor:
    """The inverse of ``fftshift``: a roll by ``-(size // 2)`` along each of ``axes``."""
    return _shift("ifftshift", x, axes, -1)
