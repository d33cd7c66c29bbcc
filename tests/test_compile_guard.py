"""Generated guards (``multigrad.compile._guard``) against the walk they stand in for.

A guard may refuse a call that ``walk`` would match (the call then goes through ``walk``), but it
must never accept one that ``walk`` keys differently, and what it accepts it must number as
``walk`` does. Each case records a step, lets ``walk`` find it until its guard is written, changes
one thing the key holds, and checks the guard against ``walk`` on the changed call, then checks
the compiled step's results against the eager step's.
"""

import math
import sys

import numpy as np
import pytest

import multigrad as mg
from multigrad.compile._guard import write_guard
from multigrad.compile._walk import walk

compile_module = sys.modules["multigrad.compile"]


@pytest.fixture(autouse=True)
def guards_at_once(monkeypatch):
    monkeypatch.setattr(compile_module, "GUARD_AFTER", 1)


def _guarded(step, *args):
    """``step`` compiled, called until the program's guard is written."""
    compiled = mg.compile(step)
    for _ in range(4):  # a step that leaves gradients records twice: without, then with them
        compiled(*args)
    entry = next(reversed(compiled._cache.values()))
    assert entry.guard is not None, "the guard was not written"
    return compiled, entry


def _agrees(entry, fn, args, kwargs=None):
    """Whether the guard accepts the call; asserting that when it does, walk agrees."""
    kwargs = kwargs or {}
    objects = entry.guard(fn, args, kwargs)
    w = walk(fn, args, kwargs)
    if objects is not None:
        assert tuple(w.key) == entry.key, "the guard accepted a call walk keys differently"
        assert len(objects) == len(w.objects)
        assert all(a is b for a, b in zip(objects, w.objects)), "objects numbered differently"
    return objects is not None


class Model:
    def __init__(self):
        self.w = mg.tensor([[0.5, -0.25], [0.75, 1.0]], requires_grad=True)
        self.scale = 2.0
        self.flags = {"relu": True, "eps": 1e-3}
        self.extra = [mg.tensor([1.0, 2.0]), mg.tensor([3.0, -1.0])]
        self.tags = {"a", "b"}


def _loss(model, x):
    h = x @ model.w * model.scale
    if model.flags["relu"]:
        h = mg.relu(h)
    return (mg.sum(h + model.extra[0] * model.extra[1])
            + model.flags["eps"] * len(model.tags))


def _step_of(model):
    def step(x):
        model.w.grad = None
        loss = _loss(model, x)
        loss.backward()
        return loss, model.w.grad
    return step


X = np.array([[1.0, -2.0], [0.5, 3.0]])


def test_the_same_state_with_new_arguments_is_accepted_and_numbered_as_walk_numbers_it():
    model = Model()
    step = _step_of(model)
    _, entry = _guarded(step, mg.tensor(X))
    assert _agrees(entry, step, (mg.tensor(X * 2.0),))


CHANGES = {
    "a parameter's shape": lambda m, a: setattr(m, "w", mg.tensor(np.ones((2, 1)),
                                                                  requires_grad=True)),
    "a parameter's dtype": lambda m, a: setattr(m, "w", mg.tensor(np.ones((2, 2), np.float32),
                                                                  requires_grad=True)),
    "requires_grad": lambda m, a: m.w.requires_grad_(False),
    "the gradient goes": lambda m, a: setattr(m.w, "grad", None),
    "a float option": lambda m, a: setattr(m, "scale", 3.0),
    "an int for a float": lambda m, a: setattr(m, "scale", 2),
    "a NaN option": lambda m, a: setattr(m, "scale", math.nan),
    "a flag in a dict": lambda m, a: m.flags.__setitem__("relu", False),
    "a key added": lambda m, a: m.flags.__setitem__("new", 1),
    "keys reordered": lambda m, a: setattr(m, "flags", {"eps": 1e-3, "relu": True}),
    "a list shrinks": lambda m, a: m.extra.pop(),
    "a set's contents": lambda m, a: setattr(m, "tags", {"a", "c"}),
    "an attribute added": lambda m, a: setattr(m, "more", 1),
    "an attribute removed": lambda m, a: delattr(m, "tags"),
    "a tensor for a number": lambda m, a: setattr(m, "scale", mg.tensor(2.0)),
    "two tensors become one": lambda m, a: m.extra.__setitem__(1, m.extra[0]),
    "two arrays become one": lambda m, a: setattr(m.extra[1], "data", m.extra[0].data),
}


#: changes after which the eager step fails too
BREAK_THE_STEP = {"requires_grad", "an attribute removed", "a list shrinks"}


@pytest.mark.parametrize("change", list(CHANGES))
def test_a_change_the_key_holds_is_refused_and_the_step_stays_right(change):
    model, twin = Model(), Model()
    step, eager = _step_of(model), _step_of(twin)
    compiled, entry = _guarded(step, mg.tensor(X))
    x = mg.tensor(X * 2.0)
    CHANGES[change](model, (x,))
    CHANGES[change](twin, (mg.tensor(X * 2.0),))
    assert not _agrees(entry, step, (x,))
    if change not in BREAK_THE_STEP:
        got, want = compiled(x), eager(mg.tensor(X * 2.0))
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g.numpy(), w.numpy())


def test_grad_mode_and_the_default_device_are_guarded():
    model = Model()
    step = _step_of(model)
    _, entry = _guarded(step, mg.tensor(X))
    with mg.no_grad():
        assert not _agrees(entry, step, (mg.tensor(X),))
    mg.set_default_device("strict:device1")
    try:
        assert not _agrees(entry, step, (mg.tensor(X, device="cpu"),))
    finally:
        mg.set_default_device("cpu")


def test_the_same_tensor_passed_twice_is_refused_where_two_were_recorded():
    def step(a, b):
        return mg.sum(a * b)

    _, entry = _guarded(step, mg.tensor([1.0]), mg.tensor([2.0]))
    t = mg.tensor([3.0])
    assert not _agrees(entry, step, (t, t))
    assert _agrees(entry, step, (t, mg.tensor([4.0])))


def test_globals_closures_and_defaults_are_guarded():
    namespace = {"mg": mg, "factor": 2.0}
    exec("def step(x, power=2):\n    return mg.sum(x ** power) * factor\n", namespace)
    step = namespace["step"]
    _, entry = _guarded(step, mg.tensor([1.0, 2.0]))
    namespace["factor"] = 3.0
    assert not _agrees(entry, step, (mg.tensor([1.0, 2.0]),))
    namespace["factor"] = 2.0
    step.__defaults__ = (3,)
    assert not _agrees(entry, step, (mg.tensor([1.0, 2.0]),))
    step.__defaults__ = (2,)
    assert _agrees(entry, step, (mg.tensor([1.0, 2.0]),))

    scale = 1.5

    def closed(x):
        return mg.sum(x) * scale

    _, entry = _guarded(closed, mg.tensor([1.0]))
    scale = 2.5
    assert not _agrees(entry, closed, (mg.tensor([1.0]),))
    assert mg.compile(closed)(mg.tensor([1.0])).item() == 2.5


def test_a_global_that_appears_after_recording_is_refused():
    namespace = {"mg": mg}
    exec("def step(x):\n    return mg.sum(x) * (late if 'late' in globals() else 1.0)\n",
         namespace)
    step = namespace["step"]
    _, entry = _guarded(step, mg.tensor([1.0]))
    namespace["late"] = 4.0
    assert not _agrees(entry, step, (mg.tensor([1.0]),))


def test_a_training_step_with_a_module_and_adam_takes_its_guard_and_matches_eager():
    def make():
        model = mg.nn.Sequential(mg.nn.Linear(4, 8, seed=1, dtype=mg.float64), mg.nn.Tanh(),
                                 mg.nn.Linear(8, 2, seed=2, dtype=mg.float64))
        opt = mg.optim.Adam(model.parameters(), lr=0.05)

        def step(x, y):
            opt.zero_grad()
            loss = mg.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            return loss
        return model, step

    (m1, eager), (m2, step) = make(), make()
    compiled = mg.compile(step)
    rng = np.random.default_rng(0)
    for i in range(12):
        x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 2))
        if i == 8:
            m1.eval(), m2.eval()  # a flag deep in the model: the guard refuses, walk records
        a = eager(mg.tensor(x), mg.tensor(y))
        b = compiled(mg.tensor(x), mg.tensor(y))
        assert a.item() == b.item()
    for p, q in zip(m1.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
    assert any(e.guard is not None for e in compiled._cache.values())


def test_write_guard_refuses_a_call_whose_state_is_not_the_key():
    model = Model()
    step = _step_of(model)
    key = walk(step, (mg.tensor(X),), {}).key
    model.scale = 5.0
    assert write_guard(step, (mg.tensor(X),), {}, key) is None
