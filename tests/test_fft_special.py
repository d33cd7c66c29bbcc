"""The fft extension beyond the op table: values against numpy.fft on every device, round trips,
gradients of real losses of complex inputs against central differences, analytic derivatives
(Parseval), fftfreq and the shifts, and the error messages."""

import array_api_strict
import numpy as np
import pytest

import multigrad as mg
from multigrad.numerical import numerical_grad

NORMS = ("backward", "ortho", "forward")


def _complex_dtype(backend):
    return mg.complex64 if backend.dtype_name == "float32" else mg.complex128


def _tol(backend):
    return 1e-4 if backend.dtype_name == "float32" else 1e-10


def _complex_tensor(backend, rng, shape):
    """A complex tensor of the backend's precision, and the same values in NumPy."""
    values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return backend.tensor(values, dtype=_complex_dtype(backend)), values


def test_every_standard_fft_function_is_exported():
    missing = [n for n in array_api_strict.fft.__all__ if not hasattr(mg.fft, n)]
    assert not missing, f"multigrad.fft lacks {missing}"
    assert sorted(mg.fft.__all__) == sorted(array_api_strict.fft.__all__)
    assert "fft" in mg.__all__


# -- forward values ------------------------------------------------------------------------------

COMPLEX_IN = [("fft", {"n": 7}), ("ifft", {"axis": 0, "norm": "ortho"}),
              ("fftn", {"s": (2, 6), "axes": (0, 1)}),
              ("ifftn", {"axes": (1, 0), "norm": "forward"}), ("irfft", {"n": 9}),
              ("irfftn", {"s": (3, 4), "axes": (0, 1), "norm": "ortho"}),
              ("hfft", {"norm": "forward"}), ("hfft", {"n": 5, "axis": 0})]
REAL_IN = [("rfft", {"n": 6, "norm": "ortho"}), ("rfftn", {"axes": (1, 0)}),
           ("ihfft", {"n": 3}), ("ihfft", {"norm": "forward"})]


@pytest.mark.parametrize("name, params", COMPLEX_IN, ids=lambda v: str(v))
def test_complex_input_matches_numpy(backend, rng, name, params):
    x, values = _complex_tensor(backend, rng, (4, 5))
    out = getattr(mg.fft, name)(x, **params)
    expected = getattr(np.fft, name)(values, **params)
    assert out.device == x.device and out.shape == expected.shape
    assert out.dtype == (_complex_dtype(backend) if np.iscomplexobj(expected) else backend.dtype)
    np.testing.assert_allclose(out.numpy(), expected, rtol=_tol(backend), atol=_tol(backend))


@pytest.mark.parametrize("name, params", REAL_IN, ids=lambda v: str(v))
def test_real_input_matches_numpy(backend, rng, name, params):
    values = rng.standard_normal((4, 5))
    x = backend.tensor(values)
    out = getattr(mg.fft, name)(x, **params)
    expected = getattr(np.fft, name)(values, **params)
    assert out.device == x.device and out.dtype == _complex_dtype(backend)
    np.testing.assert_allclose(out.numpy(), expected, rtol=_tol(backend), atol=_tol(backend))


@pytest.mark.parametrize("name", ["fft", "ifft", "irfft", "hfft", "rfft", "ihfft"])
def test_one_axis_transforms_default_to_the_last_axis(backend, rng, name):
    # three axes of different sizes: the last axis is not axis 1
    if name in ("rfft", "ihfft"):
        values = rng.standard_normal((2, 3, 4))
        x = backend.tensor(values)
    else:
        x, values = _complex_tensor(backend, rng, (2, 3, 4))
    out = getattr(mg.fft, name)(x)
    expected = getattr(np.fft, name)(values)
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=_tol(backend), atol=_tol(backend))


# -- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("norm", NORMS)
def test_inverse_transforms_undo_the_forward_ones(backend, rng, norm):
    z, values = _complex_tensor(backend, rng, (3, 6))
    tol = _tol(backend)
    np.testing.assert_allclose(mg.fft.ifft(mg.fft.fft(z, norm=norm), norm=norm).numpy(), values,
                               rtol=tol, atol=tol)
    np.testing.assert_allclose(mg.fft.ifftn(mg.fft.fftn(z, norm=norm), norm=norm).numpy(),
                               values, rtol=tol, atol=tol)
    for n in (6, 5):  # even and odd lengths: with and without a Nyquist bin
        x = backend.tensor(rng.standard_normal((3, n)))
        back = mg.fft.irfft(mg.fft.rfft(x, norm=norm), n=n, norm=norm)
        np.testing.assert_allclose(back.numpy(), x.numpy(), rtol=tol, atol=tol)
        back = mg.fft.hfft(mg.fft.ihfft(x, norm=norm), n=n, norm=norm)
        np.testing.assert_allclose(back.numpy(), x.numpy(), rtol=tol, atol=tol)
        back = mg.fft.irfftn(mg.fft.rfftn(x, norm=norm), s=x.shape, norm=norm)
        np.testing.assert_allclose(back.numpy(), x.numpy(), rtol=tol, atol=tol)


def test_shifts_are_inverse_permutations(backend, rng):
    x = backend.tensor(rng.standard_normal((4, 5)))
    for axes in (None, 0, (1,), (0, 1)):
        shifted = mg.fft.fftshift(x, axes=axes)
        np.testing.assert_array_equal(shifted.numpy(), np.fft.fftshift(x.numpy(), axes=axes))
        np.testing.assert_array_equal(mg.fft.ifftshift(shifted, axes=axes).numpy(), x.numpy())


def test_fftshift_cotangent_is_shifted_back(backend, rng):
    x = backend.tensor(rng.standard_normal((4, 5)), requires_grad=True)
    weights = backend.tensor(rng.standard_normal((4, 5)))
    g, = mg.autograd.grad(mg.sum(mg.fft.fftshift(x) * weights), [x])
    np.testing.assert_array_equal(g.numpy(), np.fft.ifftshift(weights.numpy()))
    assert g.device == x.device


# -- gradients of real losses --------------------------------------------------------------------

def _readout_loss(transform, a, b):
    """A real loss of a complex (or real) result: sum(real(y) a + imag(y) b)."""
    def loss(re, im):
        z = mg.astype(re, mg.complex128) + 1j * mg.astype(im, mg.complex128)
        y = transform(z)
        if y.dtype == mg.complex128:
            return mg.sum(mg.real(y) * a + mg.imag(y) * b)
        return mg.sum(y * a)
    return loss


COMPLEX_TRANSFORMS = [
    ("fft-cut", lambda z: mg.fft.fft(z, n=3, norm="ortho")),
    ("ifft-pad", lambda z: mg.fft.ifft(z, n=7, axis=0)),
    ("fftn-pad-cut", lambda z: mg.fft.fftn(z, s=(6, 2), norm="forward")),
    ("ifftn-axes", lambda z: mg.fft.ifftn(z, axes=(1, 0), norm="ortho")),
    ("irfft-even", lambda z: mg.fft.irfft(z, n=6)),
    ("irfft-odd", lambda z: mg.fft.irfft(z, n=5, norm="forward")),
    ("irfftn", lambda z: mg.fft.irfftn(z, s=(3, 4), norm="ortho")),
    ("hfft", lambda z: mg.fft.hfft(z, axis=0)),
    ("fft-then-real-transforms", lambda z: mg.fft.rfft(mg.fft.irfft(mg.fft.fft(z), n=7))),
]


@pytest.mark.parametrize("name, transform", COMPLEX_TRANSFORMS,
                         ids=[name for name, _ in COMPLEX_TRANSFORMS])
def test_gradient_of_real_loss_of_complex_input(backend64, rng, name, transform):
    shape = (4, 3)
    re = backend64.tensor(rng.standard_normal(shape), requires_grad=True)
    im = backend64.tensor(rng.standard_normal(shape), requires_grad=True)
    probe = transform(mg.astype(re, mg.complex128))
    a = backend64.tensor(rng.standard_normal(probe.shape))
    b = backend64.tensor(rng.standard_normal(probe.shape))
    loss = _readout_loss(transform, a, b)
    grads = mg.autograd.grad(loss(re, im), [re, im])
    numeric = numerical_grad(loss, [re, im])
    for g, n in zip(grads, numeric):
        assert g.device == re.device
        np.testing.assert_allclose(g.numpy(), n.numpy(), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("norm", NORMS)
def test_parseval_gives_analytic_first_and_second_derivatives(backend64, rng, norm):
    # sum |fft(x)|^2 = c * sum x^2 with c = n, 1 or 1/n: gradient 2 c x, Hessian 2 c I
    n = 6
    c = {"backward": n, "ortho": 1.0, "forward": 1.0 / n}[norm]
    x = backend64.tensor(rng.standard_normal(n))

    def energy(x):
        y = mg.fft.rfft(x, norm=norm)
        weights = mg.asarray([1.0] + [2.0] * (n // 2 - 1) + [1.0], device=x.device)
        return mg.sum((mg.real(y) ** 2 + mg.imag(y) ** 2) * weights)

    np.testing.assert_allclose(mg.grad(energy)(x).numpy(), 2 * c * x.numpy(), rtol=1e-10)
    hessian = mg.hessian(energy)(x)
    assert hessian.device == x.device
    np.testing.assert_allclose(hessian.numpy(), 2 * c * np.eye(n), atol=1e-10)


def test_forward_mode_is_the_transform_of_the_tangent(backend, rng):
    z, _ = _complex_tensor(backend, rng, (3, 4))
    t, _ = _complex_tensor(backend, rng, (3, 4))
    _, tangent = mg.jvp(lambda z: mg.fft.irfftn(z, s=(2, 5), norm="ortho"), [z], [t])
    expected = mg.fft.irfftn(t, s=(2, 5), norm="ortho")
    np.testing.assert_allclose(tangent.numpy(), expected.numpy(), rtol=_tol(backend),
                               atol=_tol(backend))


# -- frequencies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n, d", [(1, 1.0), (6, 0.5), (7, 2.0)])
def test_frequencies_match_numpy_on_the_device(backend, n, d):
    for name in ("fftfreq", "rfftfreq"):
        f = getattr(mg.fft, name)(n, d=d, dtype=backend.dtype, device=backend.device)
        assert f.device == backend.device and f.dtype == backend.dtype
        assert not f.requires_grad
        np.testing.assert_allclose(f.numpy(), getattr(np.fft, name)(n, d=d), rtol=1e-6)


def test_numpy_integers_are_accepted_as_lengths(backend):
    z = backend.tensor(np.ones((2, 3)), dtype=_complex_dtype(backend))
    assert mg.fft.fft(z, n=np.int64(5)).shape == (2, 5)
    assert mg.fft.rfftfreq(np.int32(6), device=backend.device).shape == (4,)


def test_frequencies_default_to_the_default_device_and_float():
    f = mg.fft.fftfreq(4)
    assert f.device == mg.get_default_device() and f.dtype == mg.float64
    # and to samples spaced 1 apart
    np.testing.assert_allclose(f.numpy(), np.fft.fftfreq(4))
    np.testing.assert_allclose(mg.fft.rfftfreq(4).numpy(), np.fft.rfftfreq(4))


# -- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda x, z: mg.fft.fft(x), TypeError, r"fft\.fft: x must have a complex floating dtype, "
                                            r"got float64; cast it with astype"),
    (lambda x, z: mg.fft.irfftn(x), TypeError, r"fft\.irfftn: x must have a complex floating"),
    (lambda x, z: mg.fft.rfft(z), TypeError, r"fft\.rfft: x must have a real floating dtype, "
                                             r"got complex128"),
    (lambda x, z: mg.fft.ihfft(mg.astype(x, mg.int64)), TypeError,
     r"fft\.ihfft: x must have a real floating dtype, got int64"),
    (lambda x, z: mg.fft.fft(z, norm="none"), ValueError,
     r"fft\.fft: norm must be 'backward', 'ortho' or 'forward', not 'none'"),
    (lambda x, z: mg.fft.ifft(z, axis=2), ValueError,
     r"fft\.ifft: axis 2 is out of range for x of shape \(3, 4\)"),
    (lambda x, z: mg.fft.fftn(z, axes=(0, -2)), ValueError, r"fft\.fftn: axes \(0, 0\) repeat"),
    (lambda x, z: mg.fft.ifftn(z, s=(2, 3), axes=(1,)), ValueError,
     r"fft\.ifftn: s has 2 entries but axes \(1,\) has 1"),
    (lambda x, z: mg.fft.rfftn(x, axes=()), ValueError, r"fft\.rfftn: axes must name at least"),
    (lambda x, z: mg.fft.fft(z, n=0), ValueError,
     r"fft\.fft: the transform length along axis 1 must be a positive integer, got 0"),
    (lambda x, z: mg.fft.fft(z, n=True), ValueError,
     r"fft\.fft: the transform length along axis 1 must be a positive integer, got True"),
    (lambda x, z: mg.fft.irfft(z[:, :1]), ValueError,
     r"fft\.irfft: the transform length along axis 1 must be a positive integer, got 0"),
    (lambda x, z: mg.fft.hfft(z[0, 0]), ValueError, r"fft\.hfft: x must have at least one dim"),
    (lambda x, z: mg.fft.fftfreq(0), ValueError, r"fft\.fftfreq: n must be a positive integer"),
    (lambda x, z: mg.fft.rfftfreq(4, dtype=mg.complex64), TypeError,
     r"fft\.rfftfreq: dtype must be a real floating dtype, got complex64"),
    (lambda x, z: mg.fft.fftshift(x, axes=(0, 5)), ValueError,
     r"fft\.fftshift: axis 5 is out of range for x of shape \(3, 4\)"),
    # an axis of ndim is out of range too, not axis 0 again
    (lambda x, z: mg.fft.ifftshift(x, axes=2), ValueError,
     r"fft\.ifftshift: axis 2 is out of range for x of shape \(3, 4\)"),
])
def test_bad_arguments_raise_clear_errors(call, error, match):
    x = mg.ones((3, 4), dtype=mg.float64)
    z = mg.astype(x, mg.complex128)
    with pytest.raises(error, match=match):
        call(x, z)
