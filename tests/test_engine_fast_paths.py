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
        for _, parent, _ in node.edges:
            assert position[node] < position[parent]
    assert {a._node, late._node, b._node} <= set(order)
