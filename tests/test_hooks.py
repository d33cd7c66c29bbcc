"""``Tensor.register_hook`` and ``Tensor.retain_grad``."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


def test_leaf_hook_sees_and_replaces_the_gradient(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    seen = []

    def double(g):
        seen.append(g.numpy())
        assert g.device == x.device and g.dtype == x.dtype
        return g * 2

    x.register_hook(double)
    mg.sum(x * x).backward()
    np.testing.assert_allclose(seen[0], [2.0, 4.0])
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_non_leaf_hook_changes_what_flows_on(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.register_hook(lambda g: g * 0 + 1)  # pretend dL/dy = 1
    mg.sum(y * y).backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])


def test_hooks_run_in_order_and_none_keeps_the_gradient(backend):
    x = backend.tensor([1.0], requires_grad=True)
    order = []
    x.register_hook(lambda g: order.append("a"))
    x.register_hook(lambda g: order.append("b") or g + 1)
    x.register_hook(lambda g: order.append("c") or g * 10)
    (x * 2).backward()
    assert order == ["a", "b", "c"]
    np.testing.assert_allclose(x.grad.numpy(), [30.0])


def test_handle_removes_the_hook(backend):
    x = backend.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    handle.remove()
    handle.remove()  # harmless
    assert x._node.hooks is None  # back on the path without hook handling
    (x * 2).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_hooks_run_under_autograd_grad_and_leave_grad_alone(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * 2)
    (gx,) = mg.autograd.grad(mg.sum(y), [x])
    np.testing.assert_allclose(gx.numpy(), [4.0, 8.0])
    assert x.grad is None


def test_hook_on_an_output_of_a_multi_output_op(backend):
    x = backend.tensor([3.0, 1.0, 2.0], requires_grad=True)
    a, b = mg.broadcast_arrays(x, backend.tensor([1.0, 1.0, 1.0], requires_grad=True))
    a.register_hook(lambda g: g * 5)
    mg.sum(a + b).backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0, 5.0])


def test_hook_with_create_graph_is_differentiable(backend64):
    x = backend64.tensor([1.5, -0.5], requires_grad=True)
    y = x ** 3
    y.register_hook(lambda g: g * x)  # dL/dy becomes x, so dL/dx = 3 x^3
    (g,) = mg.autograd.grad(mg.sum(y), [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 3, rtol=1e-12)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    np.testing.assert_allclose(h.numpy(), 9 * x.numpy() ** 2, rtol=1e-12)


def test_retain_grad_keeps_and_accumulates_non_leaf_gradients(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.retain_grad()  # once is enough
    y.register_hook(lambda g: g * 2)  # registered later, yet .grad sees its result
    z = mg.sum(y * y)
    z.backward(retain_graph=True)
    np.testing.assert_allclose(y.grad.numpy(), [12.0, 24.0])
    assert y.grad.device == y.device
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), [24.0, 48.0])
    mg.autograd.grad(mg.sum(x * 3), [x])  # grad() never writes .grad
    np.testing.assert_allclose(y.grad.numpy(), [24.0, 48.0])


def test_retain_grad_on_a_leaf_changes_nothing(backend):
    x = backend.tensor([1.0], requires_grad=True)
    x.retain_grad()
    assert x._node.hooks is None
    (x * 2).backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0])


def test_hook_errors(backend):
    x = backend.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"register_hook: this tensor does not require "
                                           r"gradients"):
        x.register_hook(lambda g: g)
    with pytest.raises(RuntimeError, match=r"retain_grad: this tensor does not require"):
        x.retain_grad()
    with pytest.raises(TypeError, match=r"register_hook: expected a callable, got int"):
        x.register_hook(3)
    w = backend.tensor([1.0, 2.0], requires_grad=True)

    def wrong_shape(g):
        return mg.sum(g)

    handle = w.register_hook(wrong_shape)
    with pytest.raises(ValueError, match=r"hook .*wrong_shape returned a gradient of shape \(\) "
                                         r"for a tensor of shape \(2,\)"):
        mg.sum(w * 2).backward()
    handle.remove()
    w.register_hook(lambda g: g.numpy())
    with pytest.raises(TypeError, match=r"returned a ndarray; return a Tensor"):
        mg.sum(w * 2).backward()
