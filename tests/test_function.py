"""User-defined ops: ``multigrad.Function`` and public ``defprimitive`` with user rules."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


class Softplus(mg.Function):
    """log(1 + exp(x)), stable for large |x|; its derivative is sigmoid(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return mg.logaddexp(x, 0.0)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * mg.sigmoid(x)


class SoftplusWithJvp(Softplus):
    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.saved_tensors
        return t * mg.sigmoid(x)


class ScaledProduct(mg.Function):
    """x * y * scale with a non-tensor argument; saves the output too."""

    @staticmethod
    def forward(ctx, x, y, scale):
        out = x * y * scale
        ctx.save_for_backward(x, y, out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, g):
        x, y, out = ctx.saved_tensors
        return g * y * ctx.scale, g * x * ctx.scale, None


class SortWithIndices(mg.Function):
    """Sorted values (differentiable) and the permutation (marked non-differentiable)."""

    @staticmethod
    def forward(ctx, x):
        idx = mg.argsort(x)
        ctx.idx = idx
        ctx.n = x.shape[0]
        values = mg.take(x, idx)
        ctx.mark_non_differentiable(idx)
        return values, idx

    @staticmethod
    def backward(ctx, g_values, g_idx):
        inverse = mg.argsort(ctx.idx)
        return mg.take(g_values, inverse)


def _sigmoid(v):
    return 1 / (1 + np.exp(-v))


def test_softplus_gradcheck(backend64):
    x = backend64.tensor([-30.0, -1.5, 0.0, 0.7, 40.0], requires_grad=True)
    assert mg.gradcheck(Softplus.apply, x)


def test_softplus_values_and_gradient_on_every_backend(backend):
    values = np.array([-3.0, -0.5, 0.0, 2.0])
    x = backend.tensor(values, requires_grad=True)
    y = Softplus.apply(x)
    assert y.device == x.device and y.dtype == x.dtype and y.requires_grad
    mg.sum(y).backward()
    tol = 1e-12 if backend.precise else 1e-6
    np.testing.assert_allclose(y.numpy(), np.logaddexp(values, 0.0), rtol=tol)
    np.testing.assert_allclose(x.grad.numpy(), _sigmoid(values), rtol=tol)
    assert x.grad.device == x.device and x.grad.dtype == x.dtype


def test_second_order_through_a_function(backend64):
    values = np.array([-2.0, 0.3, 1.7])
    x = backend64.tensor(values, requires_grad=True)
    (g,) = mg.autograd.grad(mg.sum(Softplus.apply(x)), [x], create_graph=True)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    s = _sigmoid(values)
    np.testing.assert_allclose(h.numpy(), s * (1 - s), rtol=1e-12)


def test_second_order_through_a_saved_output(backend64):
    x = backend64.tensor([1.5, -2.0], requires_grad=True)
    y = backend64.tensor([0.5, 3.0], requires_grad=True)
    out = mg.sum(ScaledProduct.apply(x, y, 2.0) ** 2)  # 4 x^2 y^2
    gx, gy = mg.autograd.grad(out, [x, y], create_graph=True)
    np.testing.assert_allclose(gx.numpy(), 8 * x.numpy() * y.numpy() ** 2, rtol=1e-12)
    (hxy,) = mg.autograd.grad(mg.sum(gx), [y])  # d/dy of 8 x y^2
    np.testing.assert_allclose(hxy.numpy(), 16 * x.numpy() * y.numpy(), rtol=1e-12)


def test_non_tensor_argument_and_needs_input_grad(backend):
    seen = []

    class Probe(ScaledProduct):
        @staticmethod
        def forward(ctx, x, y, scale):
            seen.append(ctx.needs_input_grad)
            return ScaledProduct.forward(ctx, x, y, scale)

    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = backend.tensor([3.0, 4.0])
    Probe.apply(x, y, 0.5).backward(backend.tensor([1.0, 1.0]))
    assert seen == [(True, False, False)]
    np.testing.assert_allclose(x.grad.numpy(), [1.5, 2.0], rtol=1e-6)
    assert y.grad is None


def test_mark_non_differentiable(backend):
    x = backend.tensor([3.0, 1.0, 2.0], requires_grad=True)
    values, idx = SortWithIndices.apply(x)
    assert values.requires_grad and not idx.requires_grad
    np.testing.assert_array_equal(idx.numpy(), [1, 2, 0])
    (values * backend.tensor([1.0, 10.0, 100.0])).backward(backend.tensor([1.0, 1.0, 1.0]))
    np.testing.assert_allclose(x.grad.numpy(), [100.0, 1.0, 10.0])


def test_under_jvp_with_a_jvp_method(backend64):
    values = np.array([-1.0, 0.5, 2.0])
    x = backend64.tensor(values)
    v = backend64.tensor([1.0, -2.0, 0.5])
    out, tangent = mg.jvp(SoftplusWithJvp.apply, (x,), (v,))
    np.testing.assert_allclose(out.numpy(), np.logaddexp(values, 0.0), rtol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), _sigmoid(values) * v.numpy(), rtol=1e-12)


def test_forward_over_reverse_through_a_function(backend64):
    values = np.array([-1.0, 0.5, 2.0])
    x = backend64.tensor(values)
    v = backend64.tensor([1.0, -2.0, 0.5])
    _, hv = mg.jvp(mg.grad(lambda z: mg.sum(SoftplusWithJvp.apply(z))), (x,), (v,))
    s = _sigmoid(values)
    np.testing.assert_allclose(hv.numpy(), s * (1 - s) * v.numpy(), rtol=1e-12)


def test_under_jvp_without_a_jvp_method_names_the_function_and_mode(backend):
    x = backend.tensor([1.0, 2.0])
    with pytest.raises(NotImplementedError, match=r"Softplus: .*no forward-mode \(JVP\) rule"):
        mg.jvp(Softplus.apply, (x,), (mg.ones_like(x),))


class _Bad(mg.Function):
    """backward returns whatever ``ctx.bad(x, g)`` makes."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x)
        return x * y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return ctx.bad(x, g)


def _run_bad(backend, make_bad):
    class Bad(_Bad):
        @staticmethod
        def forward(ctx, x, y):
            ctx.bad = make_bad
            return _Bad.forward(ctx, x, y)

    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = backend.tensor([3.0, 4.0], requires_grad=True)
    mg.sum(Bad.apply(x, y)).backward()


def test_wrong_number_of_gradients(backend):
    with pytest.raises(ValueError, match=r"Bad.backward returned 1 gradient\(s\) but apply got "
                                         r"2 argument\(s\)"):
        _run_bad(backend, lambda x, g: g)


def test_gradient_of_wrong_shape(backend):
    with pytest.raises(ValueError, match=r"Bad.backward: the gradient for input 1 has shape "
                                         r"\(3,\) but the input has shape \(2,\)"):
        _run_bad(backend, lambda x, g: (g, mg.concat([g, g[:1]])))


def test_gradient_of_wrong_dtype(backend):
    other = mg.float32 if backend.dtype == mg.float64 else mg.float64
    with pytest.raises(ValueError, match=r"Bad.backward: the gradient for input 0 has dtype "
                                         rf"{other.name} but the input has dtype "
                                         rf"{backend.dtype.name}"):
        _run_bad(backend, lambda x, g: (mg.astype(g, other), g))


def test_gradient_on_wrong_device(backend):
    other = "strict:device2" if backend.device_name != "strict:device2" else "cpu"
    with pytest.raises(ValueError, match=r"Bad.backward: the gradient for input 0 has device "
                                         rf"{mg.get_device(other).name} but the input has "
                                         "device"):
        _run_bad(backend, lambda x, g: (g.to(other), g))


def test_gradient_not_a_tensor(backend):
    with pytest.raises(TypeError, match=r"Bad.backward: the gradient for input 0 is a float"):
        _run_bad(backend, lambda x, g: (1.0, g))


def test_apply_without_tensors():
    with pytest.raises(TypeError, match=r"Softplus.apply: needs at least one tensor argument"):
        Softplus.apply(1.0)


def test_forward_must_return_tensors():
    class ReturnsFloat(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return 1.0

    with pytest.raises(TypeError, match=r"ReturnsFloat.forward: output 0 is a float"):
        ReturnsFloat.apply(mg.tensor([1.0]))


def test_saved_tensors_outside_backward():
    class Peek(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return ctx.saved_tensors[0]

    with pytest.raises(RuntimeError, match=r"Peek: saved_tensors is available inside backward"):
        Peek.apply(mg.tensor([1.0]))


def test_each_subclass_gets_its_own_primitive():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert Softplus.apply(x).node.prim.name == "Softplus"
    assert SoftplusWithJvp.apply(x).node.prim.name == "SoftplusWithJvp"
    assert "Softplus" not in mg.autograd.REGISTRY


# -- defprimitive for users --------------------------------------------------------------------

def _user_softplus(jvp=True):
    return mg.defprimitive(
        "my_softplus",
        forward=lambda xp, x: xp.logaddexp(x, xp.zeros_like(x)),
        vjp=(lambda xp, g, ans, x: g * (1 - xp.exp(-ans)),),  # sigmoid(x) = 1 - exp(-softplus)
        jvp=(lambda xp, t, ans, x: t * (1 - xp.exp(-ans)),) if jvp else None,
    )


def test_user_defprimitive_stays_out_of_the_registry_and_differentiates(backend64):
    op = _user_softplus()
    assert "my_softplus" not in mg.autograd.REGISTRY
    x = backend64.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    assert mg.gradcheck(op, x)
    (g,) = mg.autograd.grad(mg.sum(op(x)), [x], create_graph=True)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    s = _sigmoid(x.numpy())
    np.testing.assert_allclose(h.numpy(), s * (1 - s), rtol=1e-10)
    _, t = mg.jvp(op, (x.detach(),), (mg.ones_like(x),))
    np.testing.assert_allclose(t.numpy(), s, rtol=1e-12)


def test_user_defprimitive_without_jvp_names_op_and_mode(backend):
    op = _user_softplus(jvp=False)
    x = backend.tensor([1.0])
    with pytest.raises(NotImplementedError, match=r"my_softplus: .*no forward-mode \(JVP\)"):
        mg.jvp(op, (x,), (mg.ones_like(x),))


def test_own_ops_still_need_both_modes():
    with pytest.raises(ValueError, match=r"'strict_op' has a VJP but no JVP rule"):
        mg.defprimitive("strict_op", lambda xp, x: x, vjp=(lambda xp, g, ans, x: g,),
                        register=True)
