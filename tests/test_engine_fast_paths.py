"""The engine's shortcuts keep its guarantees: topological order by creation number, and a
leaf's first gradient taken without a copy only when no one else holds that array."""

from __future__ import annotations

import numpy as np

import multigrad as mg
from multigrad.autograd._backward import _toposort


def _shares(a, b) -> bool:
    return a is b or (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                      and np.shares_memory(a, b))


def test_a_rule_returning_a_saved_value_does_not_alias_the_gradient(backend):
    # a user op whose VJP hands back its saved output: .grad must still be its own array
    echo = mg.defprimitive("echo_output", forward=lambda xp, x: x * 2.0,
                           vjp=(lambda xp, g, ans, x: ans,),
                           jvp=(lambda xp, t, ans, x: t * 2.0,))
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = echo(x)
    mg.sum(y * 1.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    assert not _shares(x.grad.data, y.data)


def test_a_hook_result_kept_by_the_caller_is_copied_into_grad(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    kept = backend.tensor([5.0, 6.0])
    x.register_hook(lambda g: kept)
    mg.sum(x * 3.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [5.0, 6.0])
    assert not _shares(x.grad.data, kept.data)


def test_views_of_the_seed_are_copied(backend):
    x = backend.tensor([[1.0, 2.0]], requires_grad=True)
    seed = backend.tensor([1.0, 10.0])
    mg.reshape(x, (2,)).backward(seed)  # reshape's VJP returns a view of the seed
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 10.0]])
    assert not _shares(x.grad.data, seed.data)


def test_new_gradients_are_right_after_several_steps(backend):
    # the uncopied first gradient is a fresh product: later steps must not see it change
    w = backend.tensor([1.0, -2.0], requires_grad=True)
    first = None
    for step in range(3):
        w.grad = None
        mg.sum(w * w).backward()
        if first is None:
            first = w.grad
    np.testing.assert_array_equal(first.numpy(), [2.0, -4.0])


def test_toposort_puts_every_node_before_its_parents(backend):
    a = backend.tensor([1.0], requires_grad=True)
    late = backend.tensor([2.0])
    b = a * 2.0
    late.requires_grad_()  # its leaf node is made after b's node
    d = (b + late) * (b - a)  # a diamond through b, and a reused leaf
    order = _toposort([d._node])
    position = {node: k for k, node in enumerate(order)}
    for node in order:
        for _, parent, *_ in node.edges:
            assert position[node] < position[parent]
    assert {a._node, late._node, b._node} <= set(order)


# -- in-place operators write into an array only when nothing else can see it -------------------

def test_update_under_no_grad_writes_into_an_unshared_array():
    p = mg.tensor(np.ones(3), requires_grad=True)
    mg.sum(p * p).backward()
    before = id(p.data)
    with mg.no_grad():
        p -= 0.25 * p.grad
    assert id(p.data) == before  # the optimiser step made no copy of the parameter
    np.testing.assert_array_equal(p.numpy(), [0.5, 0.5, 0.5])
    assert p.requires_grad and p.is_leaf


def test_in_place_operator_on_a_value_the_graph_saved_copies():
    q = mg.tensor(np.ones(3))
    w = mg.tensor(np.full(3, 2.0), requires_grad=True)
    y = mg.sum(w * q)  # multiply saved q's array for w's gradient
    q += 1.0
    np.testing.assert_array_equal(q.numpy(), [2.0, 2.0, 2.0])
    y.backward()
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])  # the old q


def test_in_place_operator_never_writes_into_an_array_another_tensor_shares():
    a = mg.tensor(np.ones(3))
    b = a.detach()
    a += 1.0
    np.testing.assert_array_equal(b.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(a.numpy(), [2.0, 2.0, 2.0])


def test_in_place_operator_that_records_rebinds_and_differentiates():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 1.0
    y *= x  # recorded: y = x * x
    g, = mg.autograd.grad(mg.sum(y), [x])
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])


def test_a_bias_gradient_is_taken_without_a_copy(monkeypatch):
    # the sum over the batch is a new array; reshaping it to the shape it already has would
    # make it a view, which .grad would then have to copy
    x = mg.tensor(np.ones((4, 3)))
    w = mg.tensor(np.eye(3), requires_grad=True)
    b = mg.tensor(np.zeros(3), requires_grad=True)
    xp, copies = mg.get_device("cpu").xp, []
    real = xp.asarray
    monkeypatch.setattr(xp, "asarray", lambda *a, **k: copies.append(k) or real(*a, **k))
    mg.sum((x @ w + b) * 2.0).backward()
    assert copies == []
    np.testing.assert_array_equal(b.grad.numpy(), [8.0, 8.0, 8.0])
    np.testing.assert_array_equal(w.grad.numpy(), np.full((3, 3), 8.0))
