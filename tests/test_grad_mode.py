"""Grad mode as a plain switch, a context manager and a decorator, with PyTorch's semantics: a
decorator applies its mode during each call and restores what was on before, whatever that was
and however the call ends."""

from __future__ import annotations

import threading

import pytest

import multigrad as mg


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    yield
    assert mg.is_grad_enabled(), "a test left grad mode off"


def test_set_grad_enabled_as_a_decorator_leaves_the_mode_alone_at_definition():
    @mg.set_grad_enabled(False)
    def evaluate():
        return mg.is_grad_enabled()

    assert mg.is_grad_enabled()
    assert evaluate() is False
    assert mg.is_grad_enabled()


@pytest.mark.parametrize("make, inside", [(lambda: mg.set_grad_enabled(False), False),
                                          (mg.no_grad, False),
                                          (lambda: mg.set_grad_enabled(True), True),
                                          (mg.enable_grad, True)],
                         ids=["set_grad_enabled-False", "no_grad", "set_grad_enabled-True",
                              "enable_grad"])
@pytest.mark.parametrize("outer", [mg.no_grad, mg.enable_grad])
def test_a_decorated_call_restores_whatever_mode_it_was_called_in(make, inside, outer):
    fn = make()(lambda: mg.is_grad_enabled())
    assert mg.is_grad_enabled()
    with outer():
        before = mg.is_grad_enabled()
        assert fn() is inside
        assert mg.is_grad_enabled() is before


def test_set_grad_enabled_called_plainly_switches_until_switched_back():
    mg.set_grad_enabled(False)
    try:
        assert not mg.is_grad_enabled()
        assert not (mg.tensor([1.0], requires_grad=True) * 2.0).requires_grad
    finally:
        mg.set_grad_enabled(True)
    assert mg.is_grad_enabled()


def test_set_grad_enabled_as_a_context_manager_restores_the_mode_before_it():
    with mg.no_grad():
        with mg.set_grad_enabled(True):
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()


def test_a_decorated_call_restores_the_mode_when_it_raises():
    @mg.set_grad_enabled(False)
    def fails():
        raise KeyError("boom")

    with pytest.raises(KeyError):
        fails()
    assert mg.is_grad_enabled()


def test_recursive_and_nested_decorated_calls_unwind_in_order():
    @mg.no_grad()
    def down(n):
        assert not mg.is_grad_enabled()
        return up(n - 1) if n else []

    @mg.enable_grad()
    def up(n):
        assert mg.is_grad_enabled()
        return [n] + down(n)

    assert up(3) == [3, 2, 1, 0]
    assert mg.is_grad_enabled()


def test_one_decorated_function_called_from_two_threads_keeps_each_threads_mode():
    barrier = threading.Barrier(2)
    seen = {}

    @mg.no_grad()
    def evaluate(name):
        barrier.wait(10)  # both threads are inside the decorated call at once
        seen[name] = mg.is_grad_enabled()
        barrier.wait(10)

    def run(name, outer):
        with outer():
            evaluate(name)
            seen[name + " after"] = mg.is_grad_enabled()

    threads = [threading.Thread(target=run, args=("a", mg.enable_grad)),
               threading.Thread(target=run, args=("b", mg.no_grad))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert seen == {"a": False, "b": False, "a after": True, "b after": False}
