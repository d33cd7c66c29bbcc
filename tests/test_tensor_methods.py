"""Tensor methods: each is the namespace's function of the same name on ``self`` (same values,
same gradients, seen by ``multigrad.compile``); other names get an AttributeError that says what
to call; NumPy's ufuncs refuse tensors, naming multigrad's function, except behind operators."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad import _tensor_methods

DEVICES = ["cpu", "strict:device1"]


def _x(device):
    values = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
    return mg.tensor(values, device=device, requires_grad=True)


# (method call, the same through the namespace)
CALLS = [
    (lambda x: x.sum(), lambda x: mg.sum(x)),
    (lambda x: x.sum(0), lambda x: mg.sum(x, axis=0)),
    (lambda x: x.mean(axis=1, keepdims=True), lambda x: mg.mean(x, axis=1, keepdims=True)),
    (lambda x: x.var(correction=1), lambda x: mg.var(x, correction=1)),
    (lambda x: x.std(1), lambda x: mg.std(x, axis=1)),
    (lambda x: x.prod(), lambda x: mg.prod(x)),
    (lambda x: x.max(axis=0), lambda x: mg.max(x, axis=0)),
    (lambda x: x.min(1), lambda x: mg.min(x, axis=1)),
    (lambda x: x.cumulative_sum(axis=1), lambda x: mg.cumulative_sum(x, axis=1)),
    (lambda x: x.logsumexp(axis=1), lambda x: mg.logsumexp(x, axis=1)),
    (lambda x: x.softmax(0), lambda x: mg.softmax(x, axis=0)),
    (lambda x: x.log_softmax(), lambda x: mg.log_softmax(x)),
    (lambda x: x.reshape(3, 2), lambda x: mg.reshape(x, (3, 2))),
    (lambda x: x.reshape((-1,)), lambda x: mg.reshape(x, (-1,))),
    (lambda x: x.permute_dims(1, 0), lambda x: mg.permute_dims(x, (1, 0))),
    (lambda x: x.expand_dims(axis=0), lambda x: mg.expand_dims(x, axis=0)),
    (lambda x: x.reshape(1, 2, 3).squeeze(axis=0), lambda x: x),
    (lambda x: x.flip(axis=1), lambda x: mg.flip(x, axis=1)),
    (lambda x: x.roll(1, axis=0), lambda x: mg.roll(x, 1, axis=0)),
    (lambda x: x.astype(mg.float32), lambda x: mg.astype(x, mg.float32)),
    (lambda x: x.take(mg.asarray([2, 0], device=x.device), axis=1),
     lambda x: mg.take(x, mg.asarray([2, 0], device=x.device), axis=1)),
    (lambda x: x.exp(), mg.exp),
    (lambda x: (x + 2).log1p().abs(), lambda x: mg.abs(mg.log1p(x + 2))),
    (lambda x: x.tanh(), mg.tanh), (lambda x: x.square().sqrt(), lambda x: mg.sqrt(x * x)),
    (lambda x: x.clip(-0.5, 0.5), lambda x: mg.clip(x, -0.5, 0.5)),
    (lambda x: x.maximum(0.3), lambda x: mg.maximum(x, 0.3)),
    (lambda x: x.relu(), mg.relu), (lambda x: x.sigmoid(), mg.sigmoid),
    (lambda x: x.matmul(x.mT), lambda x: x @ x.mT),
    (lambda x: x.argmax(axis=1), lambda x: mg.argmax(x, axis=1)),
    (lambda x: x.argsort(1), lambda x: mg.argsort(x, axis=1)),
    (lambda x: (x > 0).any(axis=0), lambda x: mg.any(x > 0, axis=0)),
    (lambda x: x.isnan().all(), lambda x: mg.all(mg.isnan(x))),
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("k", range(len(CALLS)))
def test_a_method_is_the_namespace_function(k, device):
    method, function = CALLS[k]
    x = _x(device)
    got, want = method(x), function(x)
    assert got.device == want.device and got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert got.requires_grad == want.requires_grad
    if got.requires_grad:
        (g1,) = mg.autograd.grad(mg.sum(got), [x])
        (g2,) = mg.autograd.grad(mg.sum(want), [x])
        np.testing.assert_array_equal(g1.numpy(), g2.numpy())


def test_methods_differentiate_to_higher_order_and_in_forward_mode():
    x = mg.tensor([0.3, -0.4, 1.1])
    def f(x):
        return x.exp().sum() + (x * x).mean()
    np.testing.assert_allclose(mg.hessian(f)(x).numpy(),
                               np.diag(np.exp([0.3, -0.4, 1.1])) + 2 / 3 * np.eye(3))
    _, t = mg.jvp(f, (x,), (mg.ones_like(x),))
    np.testing.assert_allclose(t.item(), np.sum(np.exp([0.3, -0.4, 1.1])) + 2 / 3 * 1.0)


def test_a_compiled_step_sees_the_methods():
    w = mg.tensor([0.5, -0.25, 1.0], requires_grad=True)

    def step(x):
        loss = ((x * w).sum(axis=1) - 1.0).square().mean()
        (g,) = mg.autograd.grad(loss, [w])
        return loss, g

    compiled = mg.compile(step)
    for seed in range(3):
        x = mg.asarray(np.random.default_rng(seed).standard_normal((4, 3)))
        (l1, g1), (l2, g2) = step(x), compiled(x)
        np.testing.assert_array_equal(l1.numpy(), l2.numpy())
        np.testing.assert_array_equal(g1.numpy(), g2.numpy())
    assert compiled.cache_info().hits == 2


def test_method_arguments_follow_the_namespace():
    x = _x("cpu")
    with pytest.raises(TypeError, match=r"Tensor\.sum: multigrad calls it axis= \(the array "
                                        r"API's name\), not dim="):
        x.sum(dim=0)
    with pytest.raises(TypeError, match=r"Tensor\.mean: takes at most one positional argument"):
        x.mean(0, True)
    assert x.sum.__doc__ and x.reshape.__doc__


@pytest.mark.parametrize("name, hint", [
    ("vector_norm", r"mg\.linalg\.vector_norm\(x\) \(with import multigrad as mg\)"),
    ("cholesky", r"mg\.linalg\.cholesky\(x\)"),
    ("erf", r"mg\.special\.erf\(x\)"),
    ("rfft", r"mg\.fft\.rfft\(x\)"),
    ("where", r"mg\.where\(x\)"),
    ("view", r"multigrad calls it x\.reshape\(\.\.\.\)"),
    ("transpose", r"x\.permute_dims\(\.\.\.\) or x\.mT"),
    ("unsqueeze", r"x\.expand_dims\(axis=\.\.\.\)"),
    ("float", r"x\.astype\(mg\.float32\)"),
    ("cpu", r"x\.to\('cpu'\)"),
])
def test_a_missing_method_names_what_to_call(name, hint):
    x = _x("cpu")
    with pytest.raises(AttributeError, match=rf"'Tensor' object has no attribute '{name}'; .*"
                                             + hint):
        getattr(x, name)


def test_other_missing_attributes_are_plain_attribute_errors():
    x = _x("cpu")
    with pytest.raises(AttributeError, match=r"^'Tensor' object has no attribute 'nonsense'$"):
        x.nonsense
    # protocols probed with hasattr answer as before
    assert not hasattr(x, "__cuda_array_interface__") and not hasattr(x, "__array_interface__")
    assert hasattr(x, "__dlpack__") and hasattr(x, "__array_namespace__")


def test_ndarray_operators_with_a_tensor_give_tensors():
    t = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a = np.array([0.5, 0.5, 2.0])
    for out in (a + t, a - t, a * t, a / t, a ** t, a @ t, a < t, np.float64(2.0) * t):
        assert isinstance(out, mg.Tensor)
    (g,) = mg.autograd.grad(mg.sum(a * t + a / t), [t])
    np.testing.assert_allclose(g.numpy(), a - a / t.numpy() ** 2)


def test_numpy_ufuncs_on_tensors_name_multigrads_function():
    t = mg.tensor([0.5, 1.0])
    with pytest.raises(TypeError, match=r"the NumPy ufunc exp does not take multigrad tensors "
                                        r"\(NumPy would leave the graph\): call "
                                        r"mg\.exp\(x\) instead"):
        np.exp(t)
    with pytest.raises(TypeError, match=r"ufunc arctan2 .*mg\.atan2\(x\)"):
        np.arctan2(t, t)
    with pytest.raises(TypeError, match=r"ufunc maximum\.reduce .*mg\.max\(x\)"):
        np.maximum.reduce(t)
    with pytest.raises(TypeError, match=r"ufunc add .*convert explicitly with x\.numpy\(\)"):
        np.add(t, t, out=np.empty(2))
    scipy_erf = pytest.importorskip("scipy.special._ufuncs").erf  # the ufunc, not the wrapper
    with pytest.raises(TypeError, match=r"ufunc erf .*mg\.special\.erf\(x\)"):
        scipy_erf(t)


def test_numpys_functions_that_call_methods_give_tensors_on_the_graph():
    t = mg.tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    for np_fn, mg_fn in ((np.sum, mg.sum), (np.mean, mg.mean), (np.std, mg.std),
                         (lambda x: np.var(x, ddof=1), lambda x: mg.var(x, correction=1)),
                         (lambda x: np.max(x, axis=0), lambda x: mg.max(x, axis=0)),
                         (lambda x: np.reshape(x, (4,)), lambda x: mg.reshape(x, (4,))),
                         (lambda x: np.clip(x, 1.5, 3.0), lambda x: mg.clip(x, 1.5, 3.0))):
        got = np_fn(t)
        assert isinstance(got, mg.Tensor) and got.requires_grad
        np.testing.assert_array_equal(got.numpy(), mg_fn(t).numpy())
    with pytest.raises(TypeError, match=r"Tensor\.sum: multigrad functions take no out="):
        np.sum(t, out=np.empty(()))


def test_every_method_names_a_function_of_the_namespace():
    for name in list(_tensor_methods._REDUCTIONS) + list(_tensor_methods._OTHERS):
        assert callable(getattr(mg, name)), name
        assert getattr(mg.Tensor, name).__name__ == name
