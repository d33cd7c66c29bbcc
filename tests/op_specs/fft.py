"""Op specs for the ``fft`` extension.

Complex inputs are built from two real arguments (real and imaginary parts, both
differentiated) and complex results are read out as ``(real(y), imag(y))``, so the checks
against central differences test the complex cotangent convention end to end. Complex dtypes
follow the inputs' precision (complex64 on float32 backends). The params cover cutting and
padding (``n``, ``s``), other axes and the three norms. The ``-complex`` cases hand the
transforms complex tensors and read complex results directly.
"""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twin

FFT_TOL = {"float32": 1e-4, "float64": 1e-10}


def _complex(re, im):
    dtype = mg.complex64 if re.dtype == mg.float32 else mg.complex128
    return mg.astype(re, dtype) + 1j * mg.astype(im, dtype)


def _parts(y):
    return mg.real(y), mg.imag(y)


def _np_parts(y):
    return np.real(y), np.imag(y)


def _np_axes(s, axes):
    """NumPy 2 deprecates ``axes=None`` with ``s``; the standard means the last len(s) axes."""
    if axes is None and s is not None:
        return tuple(range(-len(s), 0))
    return axes


def _np_nd(name):
    return lambda x, s=None, axes=None, norm="backward": getattr(np.fft, name)(
        x, s=s, axes=_np_axes(s, axes), norm=norm)


def _spec(name, fn, ref, shapes, params, covers):
    return OpSpec(f"fft.{name}", fn, ref, shapes, params=params, covers=covers, rtol=FFT_TOL,
                  atol=FFT_TOL)


def _complex_in(name, ref, complex_out, shapes, params, covers):
    """A transform of complex input, from two real arguments."""
    public = getattr(mg.fft, name)
    if complex_out:
        return _spec(name, lambda re, im, **p: _parts(public(_complex(re, im), **p)),
                     lambda re, im, **p: _np_parts(ref(re + 1j * im, **p)), shapes, params,
                     covers)
    return _spec(name, lambda re, im, **p: public(_complex(re, im), **p),
                 lambda re, im, **p: ref(re + 1j * im, **p), shapes, params, covers)


def _real_in(name, ref, shapes, params, covers):
    """A transform of real input with a complex result."""
    public = getattr(mg.fft, name)
    return _spec(name, lambda x, **p: _parts(public(x, **p)),
                 lambda x, **p: _np_parts(ref(x, **p)), shapes, params, covers)


ONE_AXIS = [{}, {"n": 4, "norm": "ortho"}, {"n": 9, "axis": 0, "norm": "forward"},
            {"n": 6, "axis": -2, "norm": "backward"}]
MANY_AXES = [{}, {"s": (2, 7), "norm": "ortho"}, {"s": (5, 3), "axes": (2, 0), "norm": "forward"},
             {"axes": (1,)}, {"s": (4, -1, 3)}]
# the inverses of real transforms: even and odd output lengths (Nyquist bin or none)
HALVED_ONE_AXIS = [{}, {"n": 7, "norm": "ortho"}, {"n": 4, "axis": 0, "norm": "forward"},
                   {"n": 12}]
HALVED_MANY_AXES = [{}, {"s": (3, 5), "norm": "ortho"}, {"s": (4, 2), "axes": (2, 1)},
                    {"axes": (0,), "norm": "forward"}]

PAIR_2D = [((3, 5), (3, 5))]
PAIR_3D = [((3, 4, 5), (3, 4, 5))]

SPECS = [
    _complex_in("fft", np.fft.fft, True, PAIR_2D, ONE_AXIS, ("fftn",)),
    _complex_in("ifft", np.fft.ifft, True, PAIR_2D, ONE_AXIS, ("ifftn",)),
    _complex_in("fftn", _np_nd("fftn"), True, PAIR_3D, MANY_AXES, ("fftn",)),
    _complex_in("ifftn", _np_nd("ifftn"), True, PAIR_3D, MANY_AXES, ("ifftn",)),
    _real_in("rfft", np.fft.rfft, [((3, 5),)], ONE_AXIS, ("rfftn",)),
    _real_in("rfftn", _np_nd("rfftn"), [((3, 4, 5),)], MANY_AXES, ("rfftn",)),
    _complex_in("irfft", np.fft.irfft, False, PAIR_2D, HALVED_ONE_AXIS, ("irfftn",)),
    _complex_in("irfftn", _np_nd("irfftn"), False, PAIR_3D, HALVED_MANY_AXES, ("irfftn",)),
    _complex_in("hfft", np.fft.hfft, False, PAIR_2D, HALVED_ONE_AXIS, ("irfftn", "conj")),
    _real_in("ihfft", np.fft.ihfft, [((3, 5),)], ONE_AXIS, ("rfftn", "conj")),
    _spec("fftshift", mg.fft.fftshift, np.fft.fftshift, [((3, 4),), ((5,),)],
          [{}, {"axes": 0}, {"axes": (-1,)}], ("roll",)),
    _spec("ifftshift", mg.fft.ifftshift, np.fft.ifftshift, [((3, 4),), ((5,),)],
          [{}, {"axes": -1}], ("roll",)),
]


def _direct(name, ref, shapes, params, covers, complex_in=True):
    """A transform on a complex tensor (``complex_in``) or a real one, its result as it is."""
    public = getattr(mg.fft, name)
    spec = _spec(name, lambda x, **p: public(x, **p), ref, shapes, params, covers)
    return complex_twin(spec, args=(0,) if complex_in else ())


SPECS += [
    _direct("fft", np.fft.fft, [((3, 5),)], ONE_AXIS, ("fftn",)),
    _direct("ifftn", _np_nd("ifftn"), [((3, 4, 5),)], MANY_AXES[:3], ("ifftn",)),
    _direct("irfft", np.fft.irfft, [((3, 5),)], HALVED_ONE_AXIS, ("irfftn",)),
    _direct("hfft", np.fft.hfft, [((3, 5),)], HALVED_ONE_AXIS[:2], ("irfftn", "conj")),
    _direct("rfft", np.fft.rfft, [((3, 5),)], ONE_AXIS, ("rfftn",), complex_in=False),
    _direct("ihfft", np.fft.ihfft, [((3, 5),)], ONE_AXIS[:2], ("rfftn", "conj"),
            complex_in=False),
]
