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


# -- randomness inside a checkpoint is replayed -------------------------------------------------

def _dropout_net(backend, rng, seed):
    """Parameters, and a function of (x, w1, w2) with a dropout between two layers whose
    generator is the layer's own, seeded with ``seed``."""
    w1 = backend.tensor(rng.normal(size=(6, 6)) / 3, requires_grad=True)
    w2 = backend.tensor(rng.normal(size=(6, 6)) / 3, requires_grad=True)
    drop = mg.nn.Dropout(0.5, device=backend.device, seed=seed)

    def block(h, a, b):
        return mg.tanh(drop(mg.tanh(h @ a)) @ b)

    return (w1, w2), block, drop.generator


def _grads_with_dropout(backend, checkpointed, **options):
    rng = np.random.default_rng(1)
    x = backend.tensor(rng.normal(size=(4, 6)), requires_grad=True)
    (w1, w2), block, generator = _dropout_net(backend, rng, seed=7)
    y = mg.checkpoint(block, x, w1, w2, **options) if checkpointed else block(x, w1, w2)
    mg.sum(y * y).backward()
    after = generator.uniform((8,), backend.dtype)  # the next draw after the backward pass
    return [t.grad.numpy() for t in (x, w1, w2)], backend.device.to_host(after)


def test_dropout_inside_a_checkpoint_gives_the_plain_gradients(backend):
    plain, plain_next = _grads_with_dropout(backend, False)
    ckpt, ckpt_next = _grads_with_dropout(backend, True)
    for a, b in zip(plain, ckpt):
        np.testing.assert_array_equal(b, a)  # the same mask, the same operations: bit for bit
    np.testing.assert_array_equal(ckpt_next, plain_next)  # the generator ends where it would


def test_without_preserve_rng_state_the_recomputation_draws_anew(backend64):
    plain, plain_next = _grads_with_dropout(backend64, False)
    fresh, fresh_next = _grads_with_dropout(backend64, True, preserve_rng_state=False)
    assert not np.array_equal(fresh[1], plain[1])  # another mask: 24 coins all alike, 2**-24
    assert not np.array_equal(fresh_next, plain_next)  # and the generator moved on


def test_nested_checkpoints_replay_their_draws(backend64):
    grads = []
    for checkpointed in (False, True):
        rng = np.random.default_rng(2)  # the same values and seeds both times
        x = backend64.tensor(rng.normal(size=(3, 6)), requires_grad=True)
        (w1, w2), block, _ = _dropout_net(backend64, rng, seed=3)
        outer_drop = mg.nn.Dropout(0.3, device=backend64.device, seed=4)

        def outer(h, a, b):
            inner = mg.checkpoint(block, h, a, b) if checkpointed else block(h, a, b)
            return outer_drop(inner) * 2.0

        y = mg.checkpoint(outer, x, w1, w2) if checkpointed else outer(x, w1, w2)
        grads.append(mg.autograd.grad(mg.sum(y ** 2), [x, w1, w2]))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(b.numpy(), a.numpy())


def test_dropout_inside_a_checkpoint_under_jvp(backend64):
    rng = np.random.default_rng(3)
    x = backend64.tensor(rng.normal(size=(4, 6)))
    v = backend64.tensor(rng.normal(size=(4, 6)))
    results = []
    for checkpointed in (False, True):
        (w1, w2), block, _ = _dropout_net(backend64, np.random.default_rng(4), seed=5)
        f = (lambda h: mg.checkpoint(block, h, w1, w2)) if checkpointed else (
            lambda h: block(h, w1, w2))
        results.append(mg.jvp(f, (x,), (v,)))
    for a, b in zip(*results):
        np.testing.assert_array_equal(b.numpy(), a.numpy())


def test_a_generator_drawn_only_by_the_recomputation_is_put_back(backend):
    gen = backend.device.random(11)
    start = backend.device.to_host(backend.device.random(11).uniform((4,), backend.dtype))
    calls = []

    def fn(h):
        calls.append(None)
        if len(calls) == 2:
            gen.uniform((4,), backend.dtype)  # a draw the forward pass did not make
        return h * 2.0

    x = backend.tensor([1.0, 2.0], requires_grad=True)
    mg.sum(mg.checkpoint(fn, x)).backward()
    assert len(calls) == 2
    np.testing.assert_array_equal(backend.device.to_host(gen.uniform((4,), backend.dtype)),
                                  start)


def test_a_recomputation_of_another_shape_says_so():
    calls = []

    def changing(h):
        calls.append(None)
        return h[:2] if len(calls) == 1 else h

    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = mg.checkpoint(changing, x)
    with pytest.raises(RuntimeError, match=r"checkpoint: changing returned output 0 with shape "
                                           r"\(3,\) and dtype float64 when recomputed, but shape "
                                           r"\(2,\) and dtype float64 in the forward pass: the "
                                           "function changed behaviour"):
        mg.sum(y).backward()
    assert x.grad is None


@pytest.mark.parametrize("draw", ["uniform", "normal", "integers"])
def test_generator_state_round_trip(backend, draw):
    gen = backend.device.random(5)
    take = {"uniform": lambda: gen.uniform((5,), backend.dtype),
            "normal": lambda: gen.normal((5,), backend.dtype),
            "integers": lambda: gen.integers(0, 100, (5,), mg.int64)}[draw]
    take()
    state = gen.get_state()
    first = backend.device.to_host(take())
    assert not np.array_equal(backend.device.to_host(take()), first)
    gen.set_state(state)
    np.testing.assert_array_equal(backend.device.to_host(take()), first)


def test_counter_generator_refuses_a_foreign_state():
    gen = mg.get_device("strict:device1").random(0)
    with pytest.raises(TypeError, match="Counter64Generator.set_state: expected the dict"):
        gen.set_state(np.random.default_rng(0).bit_generator.state)
