"""Linear algebra beyond the op table: matmul's shape rules and errors, det near singular
matrices, slogdet of negative determinants, and second derivatives through the linalg rules
(which then run on tensors in multigrad's own namespace)."""

import numpy as np
import pytest

import multigrad as mg
from multigrad.numerical import directional


# -- matmul shapes ----------------------------------------------------------------------------

@pytest.mark.parametrize("s1, s2, expected", [
    ((3,), (3,), ()),
    ((3,), (3, 4), (4,)),
    ((2, 3), (3,), (2,)),
    ((2, 3), (3, 4), (2, 4)),
    ((5, 2, 3), (3,), (5, 2)),
    ((3,), (5, 3, 4), (5, 4)),
    ((2, 1, 3, 4), (5, 4, 2), (2, 5, 3, 2)),
    ((3,), (1, 3, 4), (1, 4)),  # batch dimensions of one: the vector's cotangent keeps them
    ((1, 2, 3), (3,), (1, 2)),
])
def test_matmul_shapes_and_gradients(backend, rng, s1, s2, expected):
    a = backend.tensor(rng.standard_normal(s1), requires_grad=True)
    b = backend.tensor(rng.standard_normal(s2), requires_grad=True)
    out = mg.matmul(a, b)
    assert out.shape == expected
    np.testing.assert_allclose(out.numpy(), np.matmul(a.numpy(), b.numpy()), rtol=1e-5,
                               atol=1e-5)
    # gradients keep each operand's shape (batch dimensions summed back); their values are
    # checked against finite differences by the op table
    ga, gb = mg.autograd.grad(mg.sum(out), [a, b])
    assert ga.shape == s1 and gb.shape == s2
    assert ga.dtype == a.dtype and gb.device == b.device


@pytest.mark.parametrize("s1, s2", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                    ((4,), (3, 4))])
def test_matmul_mismatched_inner_dimensions_name_op_and_shapes(s1, s2):
    a, b = mg.ones(s1), mg.ones(s2)
    with pytest.raises(ValueError, match=r"matmul") as info:
        a @ b
    assert str(s1) in str(info.value) and str(s2) in str(info.value)


def test_matmul_rejects_scalars_and_unbroadcastable_batches():
    with pytest.raises(ValueError, match="matmul"):
        mg.matmul(mg.ones(()), mg.ones((2,)))
    # multigrad's own check, before the library's (which a lazy backend defers): it names the
    # batch shapes
    with pytest.raises(ValueError, match=r"matmul: batch shapes \(2,\) and \(3,\) do not"):
        mg.matmul(mg.ones((2, 3, 4)), mg.ones((3, 4, 5)))
    with pytest.raises(ValueError, match=r"solve: batch shapes \(2,\) and \(3,\) do not"):
        mg.linalg.solve(mg.ones((2, 3, 3)), mg.ones((3, 3, 1)))


# -- det near singular matrices, slogdet of negative determinants -----------------------------

def _cofactors(a):
    """The cofactor matrix (= d det / dA), by explicit minors."""
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=0), j, axis=1)
            out[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


@pytest.mark.parametrize("eps", [1e-4, 1e-8, 1e-12])
def test_det_gradient_near_singular_is_finite_and_right(backend64, eps):
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0 + eps], [1.0, 0.0, 1.0]])
    x = backend64.tensor(a, requires_grad=True)
    (g,) = mg.autograd.grad(mg.linalg.det(x), [x])
    np.testing.assert_allclose(g.numpy(), _cofactors(a), rtol=1e-6, atol=1e-6)
    _, tangent = mg.jvp(mg.linalg.det, [x.detach()], [mg.ones_like(x.detach())])
    assert tangent.item() == pytest.approx(np.sum(_cofactors(a)), rel=1e-6, abs=1e-6)


@pytest.mark.parametrize("a", [
    np.array([[1.0, 2.0], [2.0, 4.0]]),
    np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),  # rank 2
    np.outer([1.0, -2.0, 3.0], [2.0, 1.0, -1.0]),  # rank 1: adjugate 0
    np.zeros((3, 3)),
], ids=["2x2", "rank-2", "rank-1", "zero"])
def test_det_gradient_at_an_exactly_singular_matrix_is_the_adjugate(backend64, a):
    x = backend64.tensor(a, requires_grad=True)
    (g,) = mg.autograd.grad(mg.linalg.det(x), [x])
    np.testing.assert_allclose(g.numpy(), _cofactors(a), rtol=1e-12, atol=1e-12)
    u = np.linspace(-1.0, 1.0, a.size).reshape(a.shape)
    _, tangent = mg.jvp(mg.linalg.det, [x.detach()], [backend64.tensor(u)])
    assert tangent.item() == pytest.approx(np.sum(_cofactors(a) * u), abs=1e-12)


def test_det_gradient_of_a_batch_with_singular_and_regular_matrices(backend64, rng):
    a = np.stack([np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]]),
                  rng.standard_normal((3, 3)) + 2 * np.eye(3), np.zeros((3, 3))])
    x = backend64.tensor(a, requires_grad=True)
    (g,) = mg.autograd.grad(mg.sum(mg.linalg.det(x)), [x])
    np.testing.assert_allclose(g.numpy(), np.stack([_cofactors(m) for m in a]), rtol=1e-10,
                               atol=1e-12)


def test_slogdet_at_a_singular_matrix_is_infinite_along_the_cofactors(backend64):
    # log|det| is -inf; its gradient is C / det: +-inf with the signs of the cofactors C, on
    # every backend (no LinAlgError from inv); the tangent <C, T> / det likewise
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    x = backend64.tensor(a, requires_grad=True)
    sign, logabsdet = mg.linalg.slogdet(x)
    assert sign.item() == 0.0 and logabsdet.item() == -np.inf
    (g,) = mg.autograd.grad(logabsdet, [x])
    np.testing.assert_array_equal(g.numpy(), np.sign(_cofactors(a)) * np.inf)
    _, tangent = mg.jvp(lambda m: mg.linalg.slogdet(m).logabsdet, [x.detach()],
                        [backend64.tensor(np.eye(2))])
    assert tangent.item() == np.inf  # <C, I> = 5 > 0
    # a stack: one tangent per matrix, <C(2a), -I> = -10 < 0, and <inv(I)^T, I> = 2 for the
    # invertible one among them
    stack = backend64.tensor(np.stack([a, 2 * a, np.eye(2)]))
    _, tangents = mg.jvp(lambda m: mg.linalg.slogdet(m).logabsdet, [stack],
                         [backend64.tensor(np.stack([np.eye(2), -np.eye(2), np.eye(2)]))])
    np.testing.assert_array_equal(tangents.numpy(), [np.inf, -np.inf, 2.0])


# -- second derivatives: the VJP rules run on tensors under create_graph ----------------------

def _hvp_check(fn, xs, rng, backend, tol=1e-6):
    """grad of <grad f(x), v> along u against central differences of the gradient."""
    vs = [backend.tensor(rng.standard_normal(x.shape)) for x in xs]
    us = [backend.tensor(rng.standard_normal(x.shape)) for x in xs]
    grads = mg.autograd.grad(fn(*xs), xs, create_graph=True)
    inner = sum(mg.sum(g * v) for g, v in zip(grads, vs))
    second = mg.autograd.grad(inner, xs, allow_unused=True)
    reverse = sum(float(mg.sum(h * u).item()) for h, u in zip(second, us) if h is not None)

    def gradient_dot_v(*ys):
        with mg.enable_grad():
            ys = [y.detach().requires_grad_() for y in ys]
            gs = mg.autograd.grad(fn(*ys), ys)
        return sum(mg.sum(g * v) for g, v in zip(gs, vs))
    numeric = directional(gradient_dot_v, xs, us).item()
    assert reverse == pytest.approx(numeric, rel=tol, abs=tol)


def test_second_derivative_of_a_matmul_tanh_network(backend64, rng):
    x = backend64.tensor(rng.standard_normal((5, 3)))
    w1 = backend64.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    w2 = backend64.tensor(rng.standard_normal((4,)), requires_grad=True)

    def loss(w1, w2):
        return mg.sum(mg.tanh(mg.tanh(x @ w1) @ w2))
    _hvp_check(loss, [w1, w2], rng, backend64)


def _spd(rng, n):
    b = rng.standard_normal((n, n))
    return b @ b.T + n * np.eye(n)


def _sym(a):
    return (a + a.mT) * 0.5


SECOND_ORDER = {
    "det": lambda a: mg.linalg.det(a),
    "inv": lambda a: mg.sum(mg.tanh(mg.linalg.inv(a))),
    "slogdet": lambda a: mg.linalg.slogdet(a).logabsdet,
    "solve": lambda a: mg.sum(mg.tanh(mg.linalg.solve(a, a[0]))),
    "cholesky": lambda a: mg.sum(mg.tanh(mg.linalg.cholesky(_sym(a)))),
    "eigvalsh": lambda a: mg.sum(mg.tanh(mg.linalg.eigvalsh(_sym(a)))),
    "eigh": lambda a: mg.sum(mg.tanh(mg.linalg.eigh(_sym(a)).eigenvectors ** 2)),
    "svdvals": lambda a: mg.sum(mg.tanh(mg.linalg.svdvals(a))),
    "svd": lambda a: mg.sum(mg.tanh(mg.matmul(*mg.linalg.svd(a, full_matrices=False)[::2]))),
    "qr": lambda a: mg.sum(mg.tanh(mg.linalg.qr(a).R)),
    "pinv": lambda a: mg.sum(mg.tanh(mg.linalg.pinv(a))),
    "matrix_norm-nuc": lambda a: mg.linalg.matrix_norm(a, ord="nuc"),
    "matrix_norm-fro": lambda a: mg.tanh(mg.linalg.matrix_norm(a)),
    "vector_norm-3": lambda a: mg.linalg.vector_norm(a, ord=3, axis=0)[1],
    "trace-diagonal": lambda a: mg.sum(mg.tanh(mg.linalg.diagonal(a @ a, offset=1)))
    + mg.linalg.trace(a @ a),
    "tensordot": lambda a: mg.sum(mg.tanh(mg.tensordot(a, a, axes=((0,), (1,))))),
    "vecdot-cross": lambda a: mg.sum(mg.tanh(mg.vecdot(mg.linalg.cross(a, a * a), a + 1.0))),
}


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives_through_linalg_rules(backend64, rng, name):
    a = backend64.tensor(_spd(rng, 3) / 3, requires_grad=True)
    _hvp_check(SECOND_ORDER[name], [a], rng, backend64, tol=1e-5)


@pytest.mark.parametrize("ord", [2, 3, 1])
def test_vector_norm_at_zero_has_zero_first_and_second_derivatives(backend64, ord):
    x = backend64.tensor(np.zeros((2, 3)), requires_grad=True)
    # the subgradient 0, and the second derivative of that constant: 0
    (g,) = mg.autograd.grad(mg.linalg.vector_norm(x, ord=ord), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), np.zeros((2, 3)))
    if g.requires_grad:  # ord 1: sign(x) is constant, so there is no second derivative to take
        u = backend64.tensor(np.arange(6.0).reshape(2, 3))
        (h,) = mg.autograd.grad(mg.sum(g * u), [x], allow_unused=True)
        assert h is None or np.array_equal(h.numpy(), np.zeros((2, 3)))


# -- what has no gradient says so -------------------------------------------------------------

def test_decomposition_gradients_outside_their_domain_raise(backend64, rng):
    wide = backend64.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="qr"):
        mg.autograd.grad(mg.sum(mg.linalg.qr(wide).R), [wide])
    # complete mode: Q's columns beyond n are not determined by x
    tall = backend64.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="mode='reduced'"):
        mg.autograd.grad(mg.sum(mg.linalg.qr(tall, mode="complete").R), [tall])
    tall = backend64.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        mg.autograd.grad(mg.sum(mg.linalg.svd(tall).S), [tall])
    # a stack of them: the matrices' shape is the last two axes, whatever the batch
    stack = backend64.tensor(rng.standard_normal((3, 4, 2)), requires_grad=True)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        mg.autograd.grad(mg.sum(mg.linalg.svd(stack).S), [stack])


def test_det_gradient_in_a_compiled_step_follows_each_matrix(backend64):
    # the step is recorded at an invertible matrix and replayed at a singular one: the program
    # holds both formulas, picked per call, not the branch the first call took
    def det_gradient(a):
        return mg.autograd.grad(mg.linalg.det(a), [a])[0]

    step = mg.compile(det_gradient)
    invertible = backend64.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    singular = backend64.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    step(invertible)  # records
    np.testing.assert_allclose(step(invertible).numpy(), [[3.0, -1.0], [-1.0, 2.0]], atol=1e-12)
    np.testing.assert_allclose(step(singular).numpy(), [[4.0, -2.0], [-2.0, 1.0]], atol=1e-12)
    assert step.cache_info().hits == 2


def test_det_second_derivative_in_a_compiled_step_follows_each_matrix(backend64):
    # det's second derivative runs its rule on tensors while the step records: it must hold
    # both formulas too (the branch is chosen inside the rule, not inside a kernel)
    direction = backend64.tensor([[0.3, -1.0], [0.5, 2.0]])

    def det_hvp(a):
        (g,) = mg.autograd.grad(mg.linalg.det(a), [a], create_graph=True)
        return mg.autograd.grad(mg.sum(g * direction), [a])[0]

    step = mg.compile(det_hvp)
    invertible = backend64.tensor([[2.0, 1.0], [1.0, 3.0]], requires_grad=True)
    singular = backend64.tensor([[1.0, 2.0], [2.0, 4.0]], requires_grad=True)
    for a in (invertible, invertible, singular, invertible):
        np.testing.assert_allclose(step(a).numpy(), det_hvp(a).numpy(), atol=1e-12)
    assert step.cache_info().misses == 1
    # the second derivative of a 2 x 2 determinant is linear: d/dA <C(A), E> = C(E)
    np.testing.assert_allclose(step(singular).numpy(), [[2.0, -0.5], [1.0, 0.3]], atol=1e-12)


def test_cholesky_is_lower_by_default(backend, rng):
    b = rng.standard_normal((3, 3))
    a = b @ b.T + 3.0 * np.eye(3)
    np.testing.assert_allclose(mg.linalg.cholesky(backend.tensor(a)).numpy(),
                               np.linalg.cholesky(a), rtol=1e-5, atol=1e-5)


def test_the_defaults_are_the_standards(rng):
    # each function called without its optional arguments, against NumPy's (whose defaults
    # agree with the standard's on one matrix and on vectors)
    a, b = rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    x, y = mg.asarray(a), mg.asarray(b)
    close = np.testing.assert_allclose
    close(mg.linalg.trace(x).numpy(), np.trace(a))
    close(mg.linalg.diagonal(x).numpy(), np.diagonal(a))
    close(mg.vecdot(x, y).numpy(), np.sum(a * b, axis=-1))
    close(mg.linalg.vecdot(x, y).numpy(), np.sum(a * b, axis=-1))
    close(mg.linalg.cross(x, y).numpy(), np.cross(a, b))
    # on a stack of 3 x 3 matrices: the last axis, not the rows (axis 1), whatever the size
    p, q = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 3))
    close(mg.linalg.cross(mg.asarray(p), mg.asarray(q)).numpy(), np.cross(p, q))
    close(mg.tensordot(x, y).numpy(), np.tensordot(a, b))
    close(mg.linalg.vector_norm(x).numpy(), np.linalg.norm(a.ravel()))
    close(mg.linalg.matrix_norm(x).numpy(), np.linalg.norm(a, "fro"))
    assert mg.linalg.vector_norm(x).shape == mg.linalg.matrix_norm(x).shape == ()
    u, s, vh = mg.linalg.svd(x[:, :2])  # full_matrices: U square
    assert (u.shape, s.shape, vh.shape) == ((3, 3), (2,), (2, 2))
    close(mg.linalg.pinv(x).numpy(), np.linalg.pinv(a), atol=1e-12)


@pytest.mark.parametrize("a_shape, b_shape", [((3, 3, 3), (3, 2)), ((3, 3), (3, 3, 2))])
def test_solve_broadcasts_a_batch_as_long_as_the_other_operands_rows(backend, rng, a_shape,
                                                                     b_shape):
    # one operand's batch shape equals the other's shape without its last axis: only the batch
    # shapes (() and (3,)) say whether to broadcast, which CuPy's solve does not do itself
    a = rng.standard_normal(a_shape) + 3.0 * np.eye(3)
    b = rng.standard_normal(b_shape)
    x = mg.linalg.solve(backend.tensor(a), backend.tensor(b))
    a_full, b_full = np.broadcast_to(a, (3, 3, 3)), np.broadcast_to(b, (3, 3, 2))
    np.testing.assert_allclose(x.numpy(), np.linalg.solve(a_full, b_full), rtol=1e-4,
                               atol=1e-4)


class _SolveOfEqualBatches:
    """NumPy's namespace but for a ``linalg.solve`` that takes only batch shapes already
    equal, as CuPy's does: what multigrad's solve must hand such a library."""

    def __init__(self):
        import array_api_compat.numpy as xp
        self._xp = xp
        self.linalg = self

    def __getattr__(self, name):
        return getattr(self._xp, name)

    def solve(self, a, b):
        if b.ndim > 1:
            assert a.shape[:-2] == b.shape[:-2], f"batch shapes {a.shape} and {b.shape}"
        return self._xp.linalg.solve(a, b)


@pytest.mark.parametrize("a_shape, b_shape", [
    ((3, 3, 3), (3, 2)), ((3, 3), (3, 3, 2)),  # a batch as long as the other's rows
    ((3, 3), (3, 3, 3, 2)), ((4, 3, 3), (3, 2)), ((3, 3, 3, 3), (3, 3, 2)), ((3, 3), (4, 3, 2)),
    ((2, 1, 3, 3), (4, 3, 2)), ((2, 3, 3), (2, 3, 2)), ((2, 3, 3), (3,))])
def test_solve_hands_the_library_equal_batch_shapes(rng, a_shape, b_shape):
    # on CPU the libraries broadcast the batches themselves, so only a solve that does not
    # (CuPy's) tells whether multigrad broadcast them first
    from multigrad.ops.linalg import _solve
    a = rng.standard_normal(a_shape) + 3.0 * np.eye(3)
    b = rng.standard_normal(b_shape)
    np.testing.assert_allclose(_solve(_SolveOfEqualBatches(), a, b), np.linalg.solve(a, b),
                               rtol=1e-12)


@pytest.mark.parametrize("axes", [-1, 3])
def test_tensordot_refuses_a_count_of_axes_out_of_range(axes):
    with pytest.raises(ValueError, match=rf"tensordot: axes={axes} must be in \[0, 2\]"):
        mg.tensordot(mg.ones((2, 3)), mg.ones((3, 2, 4)), axes=axes)


@pytest.mark.parametrize("name, op", [("vecdot", mg.vecdot), ("cross", mg.linalg.cross)])
@pytest.mark.parametrize("axis", [-3, 2])
def test_vecdot_and_cross_refuse_an_axis_out_of_range(name, op, axis):
    # the broadcast shape has two axes: -2 to 1; an axis of 2 is not axis 0 again
    with pytest.raises(ValueError, match=rf"{name}: axis {axis} is out of range for shapes"):
        op(mg.ones((2, 3)), mg.ones((2, 3)), axis=axis)


def test_matrix_power_zero_is_the_identity_also_of_singular_matrices(backend):
    # the 0th power inverts nothing: a stack with a singular matrix gives identities
    x = backend.tensor([[[1.0, 2.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]])
    np.testing.assert_array_equal(mg.linalg.matrix_power(x, 0).numpy(), [np.eye(2)] * 2)


def test_eig_and_eigvals_are_complex_in_the_input_precision(backend, rng):
    # a symmetric matrix: real eigenvalues, which NumPy returns as a real array
    a = rng.standard_normal((3, 3))
    x = backend.tensor(a + a.T)
    expected = mg.complex64 if backend.dtype == mg.float32 else mg.complex128
    w, v = mg.linalg.eig(x)
    assert (mg.linalg.eigvals(x).dtype, w.dtype, v.dtype) == (expected,) * 3


def test_matrix_rank_carries_no_gradient(backend, rng):
    x = backend.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    assert not mg.linalg.matrix_rank(x).requires_grad
