"""Complex numbers end to end (the op table checks each op's complex rules: see
``tests/op_specs``): the convention (JAX's: the gradient of a real ``f`` of ``z = x + iy`` is
``df/dx - i df/dy``), ``holomorphic=True``, the errors for complex outputs and for ops without a
complex derivative, ``gradcheck`` and ``numerical`` in both parts, mixed real and complex values,
and whole programs checked against central differences."""

from __future__ import annotations

import cmath

import numpy as np
import pytest

import multigrad as mg
from multigrad.numerical import directional, numerical_grad
from op_specs import ALL_SPECS
from op_specs.real_only import REAL_ONLY


def _complex_dtype(backend):
    return mg.complex64 if backend.dtype_name == "float32" else mg.complex128


def _z(backend, rng, shape, requires_grad=False):
    values = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return backend.tensor(values, dtype=_complex_dtype(backend), requires_grad=requires_grad)


def _close(got, expected, tol=1e-8):
    np.testing.assert_allclose(np.asarray(got.numpy() if hasattr(got, "numpy") else got),
                               expected, rtol=tol, atol=tol)


# -- the convention --------------------------------------------------------------------------

def test_abs_and_its_parts_have_the_same_gradient(backend64, rng):
    """The issue's example: mg.abs gave the conjugate of the same function spelled with
    real and imag."""
    z = _z(backend64, rng, (4,))
    by_abs = mg.grad(lambda z: mg.sum(mg.abs(z)))(z)
    by_parts = mg.grad(lambda z: mg.sum(mg.sqrt(mg.real(z) ** 2 + mg.imag(z) ** 2)))(z)
    values = z.numpy()
    _close(by_abs, by_parts.numpy())
    _close(by_abs, np.conj(values) / np.abs(values))
    _close(by_abs, numerical_grad(lambda z: mg.sum(mg.abs(z)), [z])[0].numpy(), 1e-6)


def test_the_gradient_is_d_dx_minus_i_d_dy(backend64, rng):
    z = _z(backend64, rng, (3,))
    values = z.numpy()
    _close(mg.grad(lambda z: mg.sum(mg.abs(z) ** 2))(z), 2 * np.conj(values))
    _close(mg.grad(lambda z: mg.sum(mg.real(z) * 3.0 + mg.imag(z) * 5.0))(z), 3 - 5j)
    # a holomorphic f inside a real loss: Re(f(z)) has gradient conj-free f'(z)
    _close(mg.grad(lambda z: mg.sum(mg.real(mg.exp(z))))(z), np.exp(values))
    # and its vjp pulls a cotangent back by f'(z), not conj(f'(z))
    _, pullback = mg.vjp(mg.exp, z)
    v = _z(backend64, rng, (3,))
    _close(pullback(v)[0], v.numpy() * np.exp(values))


def test_gradients_keep_their_arguments_dtypes(backend, rng):
    z = _z(backend, rng, (3,))
    x = backend.tensor(rng.standard_normal(3))
    gz, gx = mg.grad(lambda z, x: mg.sum(mg.abs(z * x)), argnums=(0, 1))(z, x)
    assert gz.dtype == z.dtype and gx.dtype == x.dtype
    assert gz.device == z.device and gx.device == x.device


# -- complex outputs: holomorphic=True, or an error --------------------------------------------

HOLOMORPHIC = [
    (mg.sin, np.cos),
    (mg.exp, np.exp),
    (lambda z: z ** 3, lambda z: 3 * z ** 2),
    (mg.reciprocal, lambda z: -1 / z ** 2),
    (mg.log, lambda z: 1 / z),
    (mg.sqrt, lambda z: 0.5 / np.sqrt(z)),
    (mg.tanh, lambda z: 1 - np.tanh(z) ** 2),
]


@pytest.mark.parametrize("f, derivative", HOLOMORPHIC, ids=lambda v: getattr(v, "__name__", ""))
def test_holomorphic_grad_is_the_complex_derivative(backend64, rng, f, derivative):
    z = backend64.tensor(np.array(0.7 + 0.4j))
    _close(mg.grad(f, holomorphic=True)(z), derivative(0.7 + 0.4j))
    value, slope = mg.value_and_grad(f, holomorphic=True)(z)
    _close(slope, derivative(0.7 + 0.4j))
    _close(value, f(z).numpy())
    # the same by central differences along the real axis
    _close(mg.numerical.derivative(f, z), derivative(0.7 + 0.4j), 1e-6)
    # and to second order: grad of grad
    second = mg.grad(mg.grad(f, holomorphic=True), holomorphic=True)(z)
    _close(second, mg.numerical.derivative(mg.grad(f, holomorphic=True), z).numpy(), 1e-5)


def test_complex_outputs_need_holomorphic(backend64, rng):
    z = _z(backend64, rng, (), requires_grad=True)
    for transform in (mg.grad, mg.value_and_grad):
        with pytest.raises(TypeError, match="complex.*real-valued f"):
            transform(mg.sin)(z)
    with pytest.raises(TypeError, match="output 0 is complex"):
        mg.sin(z).backward()
    with pytest.raises(TypeError, match="output 0 is complex"):
        mg.autograd.grad(mg.sin(z), [z])
    # with a seed it is a vector-Jacobian product: cos(z) times the seed
    (g,) = mg.autograd.grad(mg.sin(z), [z], grad_outputs=[mg.ones_like(z)])
    _close(g, np.cos(z.numpy()))


def test_holomorphic_needs_complex_inputs_and_outputs(backend64, rng):
    z, x = _z(backend64, rng, ()), backend64.tensor(0.5)
    with pytest.raises(TypeError, match="holomorphic=True needs complex inputs"):
        mg.grad(mg.sin, holomorphic=True)(x)
    with pytest.raises(TypeError, match="holomorphic=True needs complex outputs"):
        mg.grad(mg.abs, holomorphic=True)(z)
    with pytest.raises(TypeError, match="holomorphic=True needs complex inputs"):
        mg.jacrev(mg.sin, holomorphic=True)(x)


# -- Jacobians, vjp and jvp ------------------------------------------------------------------

def _columns_by_differences(f, x):
    """The Jacobian of ``f`` at ``x`` (real or complex input), column by column along each
    element's real unit, then (complex input) its imaginary one: ``(d/dx, d/dy)``."""
    flat = x.numpy().reshape(-1)
    parts = [1.0, 1j] if np.iscomplexobj(flat) else [1.0]
    out = []
    for part in parts:
        cols = []
        for k in range(flat.size):
            unit = np.zeros(flat.size, dtype=flat.dtype)
            unit[k] = part
            u = mg.asarray(unit.reshape(x.shape), dtype=x.dtype, device=x.device)
            cols.append(directional(f, [x], [u]).numpy())
        out.append(np.stack(cols, axis=-1))
    return out


def test_jacobians_of_a_holomorphic_function(backend64, rng):
    z = _z(backend64, rng, (3,))

    def f(z):
        return mg.exp(z) * z[::-1] + z ** 2

    forward = mg.jacfwd(f, holomorphic=True)(z)
    reverse = mg.jacrev(f, holomorphic=True)(z)
    along_real, along_imag = _columns_by_differences(f, z)
    _close(forward, reverse.numpy())
    _close(forward, along_real, 1e-6)
    _close(1j * forward.numpy(), along_imag, 1e-6)  # Cauchy-Riemann: d/dy = i f'
    with pytest.raises(TypeError, match="holomorphic=True"):
        mg.jacfwd(f)(z)
    with pytest.raises(TypeError, match="holomorphic=True"):
        mg.jacrev(f)(z)


def test_jacobians_of_a_real_to_complex_function(backend64, rng):
    x = backend64.tensor(rng.standard_normal(3))

    def f(x):
        return mg.exp(1j * x) * mg.sum(x ** 2) + (2 - 1j) * x[::-1]

    (expected,) = _columns_by_differences(f, x)
    _close(mg.jacfwd(f)(x), expected, 1e-6)
    _close(mg.jacrev(f)(x), expected, 1e-6)


def test_jacobians_of_a_complex_to_real_function(backend64, rng):
    z = _z(backend64, rng, (3,))

    def f(z):
        return mg.stack([mg.sum(mg.abs(z) ** 2), mg.real(z[0] * z[1]), mg.imag(mg.exp(z[2]))])

    along_real, along_imag = _columns_by_differences(f, z)
    expected = along_real - 1j * along_imag  # rows: gradients df/dx - i df/dy
    _close(mg.jacrev(f)(z), expected, 1e-6)
    _close(mg.jacfwd(f)(z), expected, 1e-6)
    _close(mg.jacrev(f)(z)[0], mg.grad(lambda z: f(z)[0])(z).numpy())


def test_vjp_and_jvp_of_a_non_holomorphic_function(backend64, rng):
    z, u, v = (_z(backend64, rng, (4,)) for _ in range(3))

    def f(z):
        return z * mg.conj(z) * mg.exp(z) + mg.abs(z) * 1j

    out, tangent = mg.jvp(f, (z,), (u,))
    _close(tangent, directional(f, [z], [u]).numpy(), 1e-6)
    _, pullback = mg.vjp(f, z)
    (cotangent,) = pullback(v)
    # Re <v, J u> = Re <J^T v, u>: the pairing of JAX's convention
    lhs = np.real(np.sum(v.numpy() * tangent.numpy()))
    rhs = np.real(np.sum(cotangent.numpy() * u.numpy()))
    assert lhs == pytest.approx(rhs, rel=1e-10)


def test_hvp_of_a_real_function_of_complex_inputs(backend64, rng):
    z, u = _z(backend64, rng, (3,)), _z(backend64, rng, (3,))

    def f(z):
        return mg.sum(mg.abs(mg.sin(z)) ** 2) + mg.real(mg.prod(z))

    gradient, (hu,) = mg.hvp(f, (z,), (u,))
    expected = directional(mg.grad(f), [z], [u])
    _close(hu, expected.numpy(), 1e-6)


def test_hessian_of_a_real_function_of_complex_inputs_points_to_hvp(backend64, rng):
    z = _z(backend64, rng, (3,))
    with pytest.raises(TypeError, match=r"hessian\(.*\): a real function of complex arguments"
                                        r".*mg\.hvp"):
        mg.hessian(lambda z: mg.sum(mg.abs(z) ** 4))(z)
    # a holomorphic f has one: the second complex derivative, diag(6 z) for sum(z**3)
    h = mg.hessian(lambda z: mg.sum(z ** 3), holomorphic=True)(z)
    _close(h, np.diag(6 * z.numpy()))


# -- gradcheck and numerical in both parts -----------------------------------------------------

def test_numerical_grad_moves_both_parts(backend64, rng):
    z = _z(backend64, rng, (2, 2))
    (g,) = numerical_grad(lambda z: mg.sum(mg.real(z) * 3.0 - mg.imag(z) ** 2), [z])
    _close(g, 3.0 + 2j * np.imag(z.numpy()), 1e-6)
    (g,) = numerical_grad(lambda z: mg.sum(mg.exp(z)), [z], holomorphic=True)
    _close(g, np.exp(z.numpy()), 1e-6)
    with pytest.raises(TypeError, match="complex value"):
        numerical_grad(lambda z: mg.sum(mg.exp(z)), [z])


def test_gradcheck_checks_complex_inputs_and_outputs(backend64, rng):
    z = _z(backend64, rng, (2, 3), requires_grad=True)
    w = _z(backend64, rng, (3,), requires_grad=True)
    x = backend64.tensor(rng.standard_normal(3), requires_grad=True)
    assert mg.gradcheck(lambda z, w, x: mg.exp(z) * w * x + mg.abs(z)[:, :1], z, w, x)


def test_gradcheck_catches_a_conjugated_rule(backend64, rng):
    """A rule written in PyTorch's convention (or for real numbers) is wrong here, and
    gradcheck must see it in the imaginary parts."""
    wrong = mg.defprimitive(
        "abs_by_sign", forward=lambda xp, x: xp.abs(x),
        vjp=(lambda xp, g, ans, x: g * xp.sign(x),),
        jvp=(lambda xp, t, ans, x: xp.real(t * xp.conj(xp.sign(x))),))
    z = _z(backend64, rng, (3,), requires_grad=True)
    assert not mg.gradcheck(wrong, z, raise_exception=False)
    with pytest.raises(mg.GradcheckError, match="input 0"):
        mg.gradcheck(wrong, z)
    assert mg.gradcheck(mg.abs, z)


# -- mixed real and complex --------------------------------------------------------------------

def test_real_input_through_complex_operations(backend64, rng):
    x = backend64.tensor(rng.standard_normal(6), requires_grad=True)

    def f(x):
        spectrum = mg.fft.fft(mg.astype(x, mg.complex128)) * (1 + 2j)
        return mg.sum(mg.real(mg.fft.ifft(spectrum * mg.conj(spectrum))) * x)

    g = mg.grad(f)(x)
    assert g.dtype == mg.float64
    _close(g, numerical_grad(f, [x])[0].numpy(), 1e-6)
    # real(fft(x)) and Python complex scalars
    for h in (lambda x: mg.sum(mg.real(mg.fft.fft(mg.astype(x, mg.complex128))) ** 2),
              lambda x: mg.sum(mg.abs(x * 1j + (2 - 1j) / (x + 3.0)) ** 2),
              lambda x: mg.sum(mg.imag((1 + 2j) ** x))):
        g = mg.grad(h)(x)
        assert g.dtype == mg.float64
        _close(g, numerical_grad(h, [x])[0].numpy(), 1e-6)


@pytest.mark.parametrize("target", ["float32", "float64", "int64"])
def test_astype_from_complex_to_real_is_refused(backend, rng, target):
    """The standard forbids the cast (NumPy dropped the imaginary part with a warning,
    array-api-strict refused it in its own words): an error naming astype on every backend."""
    z = _z(backend, rng, (3,))
    with pytest.raises(TypeError, match=rf"astype: .*complex.*{target}.*mg.real"):
        mg.astype(z, getattr(mg, target))


def test_complex_python_scalars_with_complex_tensors(backend64, rng):
    z = _z(backend64, rng, (3,))

    def f(z):
        return mg.sum(mg.abs((2j * z - 1) / (1 + 1j) + 1j ** z + z ** (0.5 + 0.5j)) ** 2)

    _close(mg.grad(f)(z), numerical_grad(f, [z])[0].numpy(), 1e-6)


# -- whole programs -----------------------------------------------------------------------------

def test_least_squares_fit_of_a_complex_linear_model(backend64, rng):
    a = _z(backend64, rng, (8, 3))
    b = _z(backend64, rng, (8,))

    def loss(w):
        return mg.sum(mg.abs(a @ w - b) ** 2)

    w = _z(backend64, rng, (3,))
    g = mg.grad(loss)(w)
    _close(g, numerical_grad(loss, [w])[0].numpy(), 1e-6)
    # 2 conj(A^H (A w - b)): its conjugate is the steepest ascent direction
    av, bv, wv = a.numpy(), b.numpy(), w.numpy()
    _close(g, 2 * np.conj(np.conj(av.T) @ (av @ wv - bv)))
    # descend along conj(g) (the steepest descent in this convention) to the least-squares fit
    step = float(1.0 / (2 * np.linalg.norm(av, 2) ** 2))
    for _ in range(300):
        w = w - step * mg.conj(mg.grad(loss)(w))
    _close(w, np.linalg.lstsq(av, bv, rcond=None)[0], 1e-6)


def test_power_of_an_fft_filtered_signal_wrt_the_filter(backend64, rng):
    n = 16
    x = backend64.tensor(rng.standard_normal(n))
    spectrum = mg.fft.fft(mg.astype(x, mg.complex128))

    def power(h):  # a complex filter on every bin
        return mg.sum(mg.abs(mg.fft.ifft(spectrum * h)) ** 2)

    def real_power(h):  # the half-spectrum filter of a real signal
        return mg.sum(mg.fft.irfft(mg.fft.rfft(x) * h, n=n) ** 2)

    h = _z(backend64, rng, (n,))
    g = mg.grad(power)(h)
    _close(g, numerical_grad(power, [h])[0].numpy(), 1e-6)
    # Parseval: P = sum |X h|**2 / n, whose gradient is 2 conj(X h) X / n
    xs = spectrum.numpy()
    _close(g, 2 * np.conj(xs * h.numpy()) * xs / n)
    half = _z(backend64, rng, (n // 2 + 1,))
    _close(mg.grad(real_power)(half), numerical_grad(real_power, [half])[0].numpy(), 1e-6)


def _hermitian(m):
    return (m + mg.conj(m.mT)) * 0.5


def test_lowest_eigenvalue_of_a_hermitian_matrix_wrt_its_entries(backend64, rng):
    m = _z(backend64, rng, (4, 4))

    def lowest(m):
        return mg.linalg.eigvalsh(_hermitian(m))[0]

    def lowest_by_eigh(m):
        w, v = mg.linalg.eigh(_hermitian(m))
        # the Rayleigh quotient of its eigenvector: the same value, through the vectors too
        v0 = v[:, 0]
        return mg.real(mg.vecdot(v0, _hermitian(m) @ v0)) + 0 * w[0]

    g = mg.grad(lowest)(m)
    _close(g, numerical_grad(lowest, [m])[0].numpy(), 1e-6)
    _close(mg.grad(lowest_by_eigh)(m), g.numpy(), 1e-8)
    # d lambda = v^H dA v along Hermitian directions: the gradient conj(v v^H) (Hermitian)
    w, v = np.linalg.eigh(_hermitian(m).numpy())
    _close(g, np.conj(np.outer(v[:, 0], np.conj(v[:, 0]))))


def test_unitary_evolution_by_repeated_matrix_products(backend64, rng):
    """A state evolved by a Taylor step ``U = sum_k (-i H dt)**k / k!`` applied by matrix
    powers (no expm), ``H = H0 + theta_1 H1 + theta_2 H2``; the fidelity with a target state
    differentiated in the real controls theta and the complex initial state."""
    n, dt, steps = 3, 0.05, 16
    hs = [_hermitian(_z(backend64, rng, (n, n))) for _ in range(3)]
    psi0 = _z(backend64, rng, (n,))
    target = _z(backend64, rng, (n,))
    eye = mg.eye(n, dtype=mg.complex128, device=psi0.device)

    def fidelity(theta, psi):
        h = hs[0] + theta[0] * hs[1] + theta[1] * hs[2]
        a = h * (-1j * dt)
        step = eye + a @ (eye + a @ (eye + a @ (eye + a / 4) / 3) / 2)
        final = mg.linalg.matrix_power(step, steps) @ (psi / mg.linalg.vector_norm(psi))
        overlap = mg.vecdot(target / mg.linalg.vector_norm(target), final)
        return mg.abs(overlap) ** 2

    theta = backend64.tensor(np.array([0.3, -0.7]))
    g_theta, g_psi = mg.grad(fidelity, argnums=(0, 1))(theta, psi0)
    assert g_theta.dtype == mg.float64 and g_psi.dtype == mg.complex128
    _close(g_theta, numerical_grad(lambda t: fidelity(t, psi0), [theta])[0].numpy(), 1e-6)
    _close(g_psi, numerical_grad(lambda p: fidelity(theta, p), [psi0])[0].numpy(), 1e-6)
    # the fidelity does not depend on the global phase of psi: Re(i psi * grad) = 0
    assert abs(np.real(np.sum(1j * psi0.numpy() * g_psi.numpy()))) < 1e-10


# -- ops without a complex derivative -----------------------------------------------------------

def test_every_differentiable_primitive_has_complex_cases_or_refuses_complex():
    """No primitive is left to give a gradient for complex input that nothing checked."""
    checked = {name for spec in ALL_SPECS if spec.complex for name in spec.covers}
    differentiable = {name for name, p in mg.autograd.REGISTRY.items() if p.differentiable}
    assert not checked & set(REAL_ONLY), "an op is both checked on and refusing complex input"
    assert set(REAL_ONLY) <= differentiable, (
        f"not differentiable primitives: {sorted(set(REAL_ONLY) - differentiable)}")
    unchecked = sorted(differentiable - checked - set(REAL_ONLY))
    assert not unchecked, (
        f"primitives with neither complex specs (tests/op_specs, complex_twin) nor a refusal "
        f"of complex input (tests/op_specs/real_only.py): {unchecked}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name, f", REAL_ONLY.items(), ids=list(REAL_ONLY))
def test_ops_without_a_complex_derivative_say_so(backend64, rng, name, f):
    z = _z(backend64, rng, (3,))

    def loss(z):
        y = f(z)
        return mg.sum(mg.real(y) if y.dtype.kind == "complex floating" else y)

    with pytest.raises(TypeError, match=rf"{name}.*complex"):
        mg.grad(loss)(z)
    with pytest.raises(TypeError, match=rf"{name}.*complex"):
        mg.jvp(loss, (z,), (z,))
    # the value too: NumPy computes some of them on complex numbers (softplus(1+2j) gave
    # 1.10+2j, not log(1 + e**z); maximum ordered lexicographically), which would be silent
    with pytest.raises(TypeError, match=rf"{name}.*complex"):
        f(z)


@pytest.mark.parametrize("op", ["eigh", "svd", "eig"])
def test_losses_that_depend_on_the_vectors_phases_have_no_derivative(backend64, rng, op):
    m = _z(backend64, rng, (3, 3))

    def vectors(m):
        if op == "eigh":
            return mg.linalg.eigh(_hermitian(m)).eigenvectors
        if op == "svd":
            return mg.linalg.svd(m).U
        return mg.linalg.eig(m + 3 * mg.eye(3, dtype=m.dtype, device=m.device)).eigenvectors

    with pytest.raises(ValueError, match=rf"{op}: the loss depends on the phases"):
        mg.grad(lambda m: mg.sum(mg.real(vectors(m))))(m)
    # |v|**2 does not: its gradient matches central differences
    def invariant(m):
        return mg.sum(mg.abs(vectors(m)) ** 2 * mg.arange(9.0, device=m.device).reshape(3, 3))
    g = mg.grad(invariant)(m)
    _close(g, numerical_grad(invariant, [m])[0].numpy(), 1e-6)
    # the check is relative to the size of the vectors' cotangents: a small loss that depends
    # on the phases is refused all the same, a large invariant one is not taken for one
    with pytest.raises(ValueError, match=rf"{op}: the loss depends on the phases"):
        mg.grad(lambda m: 1e-6 * mg.sum(mg.real(vectors(m))))(m)
    _close(mg.grad(lambda m: 1e6 * invariant(m))(m), 1e6 * g.numpy(), 1e-6)


# -- the standard's special cases that NumPy misses ------------------------------------------------

INF, NAN = np.inf, np.nan


def _same(got, expected):
    """Equal, nan where nan, and zeros of the same sign (parts of complex numbers apart)."""
    got, expected = np.asarray(got), np.asarray(expected)
    for part in ((np.real, np.imag) if np.iscomplexobj(expected) else (lambda a: a,)):
        g, e = part(got), part(expected)
        np.testing.assert_array_equal(g, e)
        number = ~np.isnan(e)
        np.testing.assert_array_equal(np.signbit(g[number]), np.signbit(e[number]))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_floor_divide_at_infinite_operands(backend):
    x1 = backend.tensor([INF, INF, -INF, -INF, 3.0, -3.0, 3.0, -3.0, 7.0, INF])
    x2 = backend.tensor([2.0, -2.0, 2.0, -2.0, -INF, INF, INF, -INF, 2.0, INF])
    expected = [INF, -INF, -INF, INF, -0.0, -0.0, 0.0, 0.0, 3.0, NAN]
    _same((x1 // x2).numpy(), expected)
    _same(mg.floor_divide(x1, x2).numpy(), expected)
    _same(mg.floor_divide(x1, -INF).numpy(), [NAN, NAN, NAN, NAN, -1.0 * 0, 0.0, -0.0, 0.0,
                                              -0.0, NAN])
    _same(mg.floor_divide(INF, x2[:4]).numpy(), [INF, -INF, INF, -INF])
    y = backend.tensor([5.0, -1.0])
    y //= backend.tensor([INF, 2.0])
    _same(y.numpy(), [0.0, -1.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_complex_expm1_and_tanh_special_cases(backend):
    ctype = _complex_dtype(backend)
    z = backend.tensor(np.array([complex(0.0, 0.0), complex(-0.0, 0.0), complex(INF, 0.0),
                                 complex(-INF, INF), complex(-INF, NAN), complex(NAN, 0.0),
                                 complex(0.5, -1.0)]), dtype=ctype)
    got = mg.expm1(z).numpy()
    _same(got[:3], [0j, 0j, complex(INF, 0.0)])
    assert np.real(got[3]) == -1.0 and np.imag(got[3]) == 0.0
    assert np.real(got[4]) == -1.0 and np.imag(got[4]) == 0.0
    assert np.isnan(np.real(got[5])) and np.imag(got[5]) == 0.0
    np.testing.assert_allclose(got[6], cmath.exp(0.5 - 1j) - 1, rtol=1e-6)
    z = backend.tensor(np.array([complex(INF, 2.0), complex(INF, -2.0), complex(-INF, 2.0),
                                 complex(INF, 0.5), complex(0.3, 0.2)]), dtype=ctype)
    got = mg.tanh(z).numpy()
    _same(got[:4], [complex(1.0, 0.0), complex(1.0, -0.0), complex(-1.0, 0.0),
                    complex(1.0, 0.0)])
    np.testing.assert_allclose(got[4], cmath.tanh(0.3 + 0.2j), rtol=1e-6)
