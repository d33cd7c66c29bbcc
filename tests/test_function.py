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
    with pytest.raises(TypeError, match=r"Bad.backward: the gradient for input 0 has dtype "
                                         rf"{other.name} but the input has dtype "
                                         rf"{backend.dtype.name}"):
        _run_bad(backend, lambda x, g: (mg.astype(g, other), g))


def test_gradient_on_wrong_device(backend):
    other = "strict:device2" if backend.device_name != "strict:device2" else "cpu"
    with pytest.raises(ValueError, match=r"Bad.backward: the gradient for input 0 is on "
                                         rf"{mg.get_device(other).name}, not on "
                                         rf"{backend.device.name} like the input"):
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


# -- what users' own ops hand the engine is checked --------------------------------------------

def _twice(name="user_op", vjp=None, jvp=None, forward=None, **options):
    """A user op doubling its argument, with the given (possibly broken) parts."""
    return mg.defprimitive(
        name, forward or (lambda xp, x: x * 2.0),
        vjp=(vjp or (lambda xp, g, ans, x: g * 2.0),),
        jvp=(jvp or (lambda xp, t, ans, x: t * 2.0),), **options)


def _other_library(xp, g):
    """A NumPy array where the op runs on array_api_strict (or a Python list on NumPy)."""
    return np.ones(tuple(g.shape)) if "strict" in type(g).__module__ else [1.0, 1.0]


BAD_COTANGENTS = {
    "none": (lambda xp, g, ans, x: None, TypeError,
             r"user_op: the VJP rule for argument 0 \(x\) returned None; return zeros"),
    "a float": (lambda xp, g, ans, x: 1.0, TypeError,
                r"user_op: the cotangent from the VJP rule for argument 0 \(x\) is a float, "
                "not (an array|a multigrad Tensor)"),
    "another library": (lambda xp, g, ans, x: _other_library(xp, g), TypeError,
                        r"the VJP rule for argument 0 \(x\) is a (numpy.ndarray|list)"),
    "a shape that does not sum back": (
        lambda xp, g, ans, x: xp.concat([g, g]), ValueError,
        r"argument 0 \(x\) has shape \(4,\), which cannot be summed back to the argument's "
        r"shape \(2,\)"),
    "integers": (lambda xp, g, ans, x: xp.astype(g, xp.int64), TypeError,
                 r"argument 0 \(x\) has dtype int64; a derivative must be floating-point"),
}


@pytest.mark.parametrize("create_graph", [False, True], ids=["raw", "create_graph"])
@pytest.mark.parametrize("case", list(BAD_COTANGENTS))
def test_a_bad_cotangent_names_op_argument_and_expectation(backend, case, create_graph):
    rule, error, match = BAD_COTANGENTS[case]
    op = _twice(vjp=rule)
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = mg.sum(op(x))
    with pytest.raises(error, match=match):
        mg.autograd.grad(y, [x], create_graph=create_graph)


def test_a_cotangent_on_another_device_is_named(backend):
    other = "strict:device2" if backend.device_name != "strict:device2" else "strict:device1"
    other_native = mg.get_device(other).native

    def moved(xp, g, ans, x):
        return g.to(other) if isinstance(g, mg.Tensor) else xp.asarray(g, device=other_native)

    if not backend.device_name.startswith("strict"):
        pytest.skip("moving a raw array between libraries is not what this test is about")
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    for create_graph in (False, True):
        with pytest.raises(mg.MixedDeviceError, match=rf"user_op: the cotangent from the VJP "
                           rf"rule for argument 0 \(x\) is on {mg.get_device(other).name}, "
                           rf"not on {backend.device.name} like the argument"):
            mg.autograd.grad(mg.sum(_twice(vjp=moved)(x)), [x], create_graph=create_graph)


@pytest.mark.parametrize("rule, expected", [
    (lambda xp, g, ans, x: xp.broadcast_to(g, (4, 2)), 4.0),  # summed over the new axis
    (lambda xp, g, ans, x: xp.sum(g), 2.0),  # a 0-d cotangent broadcast to the argument
], ids=["leading axis", "0-d"])
def test_broadcast_cotangents_are_still_reduced_by_the_engine(backend, rule, expected):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    mg.sum(_twice(vjp=rule)(x)).backward()
    np.testing.assert_allclose(x.grad.numpy(), [expected, expected])


BAD_TANGENTS = {
    "none": (lambda xp, t, ans, x: None, TypeError,
             r"user_op: the JVP rule for argument 0 \(x\) returned None; return zeros"),
    "a float": (lambda xp, t, ans, x: 1.0, TypeError,
                r"the tangent from the JVP rule for argument 0 \(x\) is a float, not a "
                "multigrad Tensor"),
    "a shape that does not broadcast": (
        lambda xp, t, ans, x: xp.concat([t, t]), ValueError,
        r"argument 0 \(x\) has shape \(4,\), which does not broadcast to the output's shape "
        r"\(2,\)"),
    "integers": (lambda xp, t, ans, x: xp.astype(t, xp.int64), TypeError,
                 "has dtype int64; a derivative must be floating-point"),
}


@pytest.mark.parametrize("case", list(BAD_TANGENTS))
def test_a_bad_tangent_names_op_argument_and_expectation(backend, case):
    rule, error, match = BAD_TANGENTS[case]
    x = backend.tensor([1.0, 2.0])
    with pytest.raises(error, match=match):
        mg.jvp(_twice(jvp=rule), (x,), (mg.ones_like(x),))


BAD_FORWARDS = {
    "a list": (lambda xp, x: [x * 2.0], {}, "user_op: forward returned a list; an op returns "
                                            "one array"),
    "a tuple for one output": (lambda xp, x: (x * 2.0,), {}, "forward returned a tuple; an "
                                                             "op returns one array"),
    "a float": (lambda xp, x: 2.0, {}, "user_op: the result of forward is a float, not an "
                                       "array of"),
    "a multigrad tensor": (lambda xp, x: mg.ones((2,)), {}, "the result of forward is a "
                                                           "multigrad Tensor, not an array"),
    "a list for several outputs": (lambda xp, x: [x, x], {"multi_output": True},
                                   "forward returned a list; an op declared with "
                                   r"multi_output=True returns a tuple"),
}


@pytest.mark.parametrize("case", list(BAD_FORWARDS))
def test_a_bad_forward_result_is_named(backend, case):
    forward, options, match = BAD_FORWARDS[case]
    vjp = (lambda xp, g, ans, x: g[0]) if options else None
    op = _twice(forward=forward, vjp=vjp, jvp=(lambda xp, t, ans, x: (t, t)) if options
                else None, **options)
    with pytest.raises(TypeError, match=match):
        op(backend.tensor([1.0, 2.0], requires_grad=True))


def test_a_forward_returning_numpy_on_device1_is_named():
    op = _twice(forward=lambda xp, x: np.ones(2))
    with pytest.raises(TypeError, match="user_op: the result of forward is a numpy.ndarray on "
                                        "cpu, not an array of array_api_strict on "
                                        "strict:device1"):
        op(mg.tensor([1.0, 2.0], device="strict:device1"))


def test_rules_tuples_must_cover_the_array_arguments(backend):
    short = mg.defprimitive("short_op", lambda xp, x, y: x * y,
                            vjp=(lambda xp, g, ans, x, y: g * y,))
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"short_op: called with an array as argument 1 \(y\), "
                                        r"but the op declares 1 rule\(s\), one per array"):
        short(x, x)
    with pytest.raises(TypeError, match=r"short_op: called with an array as argument 1"):
        short(x, mg.sum(x))  # a 0-d array (NumPy's is a numpy.float64, a float subclass)
    np.testing.assert_allclose(short(x, 3.0).numpy(), [3.0, 6.0])  # a scalar needs no rule
    long = mg.defprimitive("long_op", lambda xp, *xs: xs[0] * 2.0,
                           vjp=(lambda xp, g, ans, *xs: g * 2.0, None))
    with pytest.raises(TypeError, match=r"long_op: called with 1 positional argument\(s\), but "
                                        r"the op declares 2 rule\(s\)"):
        long(x)


def test_a_multi_output_jvp_rule_returns_one_tangent_per_output(backend):
    op = mg.defprimitive("pair", lambda xp, x: (x * 2.0, x * 3.0),
                         vjp=(lambda xp, g, ans, x: g[0] * 2.0 + g[1] * 3.0,),
                         jvp=(lambda xp, t, ans, x: t * 2.0,), multi_output=True)
    x = backend.tensor([1.0, 2.0])
    with pytest.raises(TypeError, match=r"pair: the JVP rule for argument 0 \(x\) returned a "
                                        "multigrad Tensor.*expected a tuple of 2 tangents"):
        mg.jvp(op, (x,), (mg.ones_like(x),))


def test_multigrads_own_ops_are_not_wrapped():
    """The checks cost users' ops only: the registry's forwards and rules are the ones written
    in multigrad/ops, called directly by the engine."""
    wrapped = [name for name, prim in mg.autograd.REGISTRY.items()
               for f in (prim.forward, *(prim.vjp or ()), *(prim.jvp or ()))
               if "checked" in getattr(f, "__qualname__", "")]
    assert not wrapped
    assert "checked" in _twice().vjp[0].__qualname__  # what the assertion above looks for


def test_a_function_jvp_of_the_wrong_shape_is_named(backend):
    class BadJvp(Softplus):
        @staticmethod
        def jvp(ctx, t):
            return mg.concat([t, t])

    x = backend.tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"BadJvp.jvp: the tangent of output 0 has shape \(4,\) "
                                         r"but the output has shape \(2,\)"):
        mg.jvp(BadJvp.apply, (x,), (mg.ones_like(x),))
