"""``multigrad.checkpoint``: same gradients as the plain run, nesting, create_graph, jvp."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg


def _layer(h, w, b):
    return mg.tanh(h @ w + b)


def _mlp_params(backend, rng, width=5, depth=4):
    return [(backend.tensor(rng.normal(size=(width, width)) / np.sqrt(width), requires_grad=True),
             backend.tensor(rng.normal(size=(width,)) * 0.1, requires_grad=True))
            for _ in range(depth)]


def _loss(x, params, checkpointed):
    h = x
    for w, b in params:
        h = mg.checkpoint(_layer, h, w, b) if checkpointed else _layer(h, w, b)
    return mg.sum(h ** 2)


def test_gradients_identical_to_the_plain_run(backend, rng):
    x = backend.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    params = _mlp_params(backend, rng)
    wrt = [x] + [p for pair in params for p in pair]
    plain = mg.autograd.grad(_loss(x, params, False), wrt)
    ckpt = mg.autograd.grad(_loss(x, params, True), wrt)
    for a, b in zip(plain, ckpt):
        assert b.device == a.device and b.dtype == a.dtype
        if backend.id == "numpy-cpu-float64":
            np.testing.assert_array_equal(b.numpy(), a.numpy())  # the same operations, exactly
        else:
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-6)


def test_keeps_only_the_inputs(backend, rng):
    x = backend.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    (w, b), = _mlp_params(backend, rng, depth=1)
    y = mg.checkpoint(_layer, x, w, b)
    node = y.node
    assert node.prim.name == "checkpoint"
    assert [e[1] for e in node.edges] == [x._node, w._node, b._node]  # leaves directly: no
    # matmul, add or tanh node was recorded in between


def test_backward_accumulates_into_leaves(backend, rng):
    x = backend.tensor(rng.normal(size=(3, 5)), requires_grad=True)
    params = _mlp_params(backend, rng, depth=2)
    _loss(x, params, True).backward()
    expected = mg.autograd.grad(_loss(x, params, False), [x])[0]
    np.testing.assert_allclose(x.grad.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_nested_checkpoints(backend64, rng):
    x = backend64.tensor(rng.normal(size=(4,)), requires_grad=True)

    def inner(z):
        return mg.sin(z) * z

    def outer(z):
        return mg.exp(mg.checkpoint(inner, z)) + mg.checkpoint(inner, z * 2)

    plain = mg.autograd.grad(mg.sum(mg.exp(inner(x)) + inner(x * 2)), [x])[0]
    nested = mg.autograd.grad(mg.sum(mg.checkpoint(outer, x)), [x])[0]
    np.testing.assert_allclose(nested.numpy(), plain.numpy(), rtol=1e-13)


def test_second_derivatives_through_a_checkpoint(backend64, rng):
    values = rng.normal(size=(4,))
    x = backend64.tensor(values, requires_grad=True)
    y = mg.sum(mg.checkpoint(lambda z: mg.sin(z) * 3.0, x) ** 2)  # 9 sin^2
    (g,) = mg.autograd.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(g.numpy(), 9 * np.sin(2 * values), rtol=1e-12)
    (h,) = mg.autograd.grad(mg.sum(g), [x])
    np.testing.assert_allclose(h.numpy(), 18 * np.cos(2 * values), rtol=1e-12)


def test_hessian_of_checkpointed_mlp_equals_plain(backend64, rng):
    x = backend64.tensor(rng.normal(size=(2, 3)))
    params = _mlp_params(backend64, rng, width=3, depth=2)
    plain = mg.hessian(lambda z: _loss(z, params, False))(x)
    ckpt = mg.hessian(lambda z: _loss(z, params, True))(x)
    np.testing.assert_allclose(ckpt.numpy(), plain.numpy(), rtol=1e-10, atol=1e-12)


def test_under_jvp(backend64, rng):
    values = rng.normal(size=(3,))
    x = backend64.tensor(values)
    v = backend64.tensor(rng.normal(size=(3,)))
    out, t = mg.jvp(lambda z: mg.checkpoint(lambda u, s: mg.exp(u) * s, z, 2.0), (x,), (v,))
    np.testing.assert_allclose(out.numpy(), 2 * np.exp(values), rtol=1e-13)
    np.testing.assert_allclose(t.numpy(), 2 * np.exp(values) * v.numpy(), rtol=1e-13)


def test_several_outputs_and_arguments(backend, rng):
    x = backend.tensor(rng.normal(size=(3,)), requires_grad=True)
    y = backend.tensor(rng.normal(size=(3,)), requires_grad=True)

    def both(a, b, scale):
        return a * b * scale, a + b

    p, s = mg.checkpoint(both, x, y, 3.0)
    gx, gy = mg.autograd.grad(mg.sum(p) + mg.sum(s * s), [x, y])
    sum_ = x.numpy() + y.numpy()
    np.testing.assert_allclose(gx.numpy(), 3 * y.numpy() + 2 * sum_, rtol=1e-5)
    np.testing.assert_allclose(gy.numpy(), 3 * x.numpy() + 2 * sum_, rtol=1e-5)


def test_errors():
    x = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(TypeError, match=r"checkpoint: the first argument must be a function"):
        mg.checkpoint(x, x)
    with pytest.raises(TypeError, match=r"checkpoint: <lambda> needs at least one tensor"):
        mg.checkpoint(lambda a: a, 1.0)
    with pytest.raises(TypeError, match=r"checkpoint: <lambda> returned a float as output 0"):
        mg.checkpoint(lambda a: 1.0, x)
