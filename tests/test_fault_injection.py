"""Fault injection: an exception or a KeyboardInterrupt from every place where users' code runs
inside multigrad (hooks, a ``defprimitive``'s forward and rules, a ``Function``'s forward,
backward and jvp, a checkpoint's recomputation, an optimiser's closure and update), and the
state it leaves.

After each fault: grad mode, anomaly mode, the default device, the live forward-mode levels and
the random-draw observers are what they were, inside and outside ``no_grad``,
``detect_anomaly`` and another default device; every ``.grad`` is untouched (a backward pass
cut short updates no ``.grad``: the engine commits them once its walk is through), and so are
the parameters and state of an optimiser whose step failed; and a fresh forward and backward
pass afterwards gives the gradients of a run that never failed.

The walk reaches leaves from the newest to the oldest; a leaf made after the op where the fault
fires (a parameter made lazily, as layers that infer their input size do) is reached before
it. That is the leaf a cut-short walk used to update alone.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import multigrad as mg
from multigrad import optim
from multigrad.autograd import _forward
from multigrad.backends import _random

A = np.array([0.5, -1.0, 2.0])
C = np.array([1.5, 0.3, -0.7])


class Injected(Exception):
    """The exception the faults raise (a KeyboardInterrupt is the other kind)."""


class Fault:
    """Called at the place under test; raises once armed, after ``skip`` armed calls."""

    def __init__(self, kind: str, skip: int = 0):
        self.kind, self.skip, self.armed, self.calls = kind, skip, False, 0

    def __call__(self):
        if not self.armed:
            return
        self.calls += 1
        if self.calls > self.skip:
            raise (Injected if self.kind == "exception" else KeyboardInterrupt)("injected")


KINDS = ["exception", "interrupt"]
RAISED = {"exception": Injected, "interrupt": KeyboardInterrupt}


# -- the places a fault is injected: h = site(a, fault), a recorded function of a -------------

def _leaf_hook(a, fault):
    a.register_hook(lambda g: fault())
    return a * 2.0


def _tensor_hook(a, fault):
    h = a * 2.0
    h.register_hook(lambda g: fault())
    return h


_user_op = mg.defprimitive(
    "faulty_op",
    forward=lambda xp, x, fault: (fault(), x * 2.0)[1],
    vjp=(lambda xp, g, ans, x, fault: g * 2.0,),
    jvp=(lambda xp, t, ans, x, fault: t * 2.0,))
_user_rules = mg.defprimitive(
    "faulty_rules",
    forward=lambda xp, x, fault: x * 2.0,
    vjp=(lambda xp, g, ans, x, fault: (fault(), g * 2.0)[1],),
    jvp=(lambda xp, t, ans, x, fault: (fault(), t * 2.0)[1],))


def _function(where):
    class Faulty(mg.Function):
        @staticmethod
        def forward(ctx, x, fault):
            ctx.fault = fault
            if where == "forward":
                fault()
            return x * 2.0

        @staticmethod
        def backward(ctx, g):
            if where == "backward":
                ctx.fault()
            return g * 2.0, None

        @staticmethod
        def jvp(ctx, t, _):
            if where == "jvp":
                ctx.fault()
            return t * 2.0

    Faulty.__name__ = f"Faulty_{where}"
    return Faulty


_FUNCTIONS = {where: _function(where) for where in ("forward", "backward", "jvp")}


def _checkpointed(a, fault):
    def block(h):
        fault()  # armed after the forward pass: it fires in the recomputation
        return mg.nn.functional.dropout(h * 2.0, 0.5, seed=3) + h
    return mg.checkpoint(block, a)


# name: (site, when the fault is armed, how many armed calls pass first)
SITES = {
    "hook on a leaf": (_leaf_hook, "backward", 0),
    "hook on a tensor": (_tensor_hook, "backward", 0),
    "defprimitive forward": (lambda a, f: _user_op(a, fault=f), "forward", 0),
    "defprimitive vjp rule": (lambda a, f: _user_rules(a, fault=f), "backward", 0),
    "defprimitive jvp rule": (lambda a, f: _user_rules(a, fault=f), "jvp", 0),
    "Function.forward": (lambda a, f: _FUNCTIONS["forward"].apply(a, f), "forward", 0),
    "Function.backward": (lambda a, f: _FUNCTIONS["backward"].apply(a, f), "backward", 0),
    "Function.jvp": (lambda a, f: _FUNCTIONS["jvp"].apply(a, f), "jvp", 0),
    "checkpoint recomputation": (_checkpointed, "backward", 0),
    # under jvp the checkpoint's forward runs fn once, its JVP rule again: fault the second
    "checkpoint recomputation under jvp": (_checkpointed, "jvp", 1),
}


def _sites(phase):
    return [name for name, (_, armed_in, _) in SITES.items() if armed_in == phase]


@contextlib.contextmanager
def _other_default_device():
    before = mg.get_default_device()
    mg.set_default_device("strict:CPU_DEVICE")
    try:
        yield
    finally:
        mg.set_default_device(before)


CONTEXTS = {"plain": contextlib.nullcontext, "no_grad": mg.no_grad,
            "detect_anomaly": mg.detect_anomaly, "default device": _other_default_device}


def _modes():
    return (mg.is_grad_enabled(), mg.is_anomaly_enabled(), mg.get_default_device(),
            _forward._live.levels, _random._observers.active)


def _loss(site, a, c, fault):
    """sum((site(a) * c)**2), with ``c`` joining after the site's op; returns it and the
    product, whose gradient is retained."""
    h = site(a, fault)
    if not c.requires_grad:
        c.requires_grad_()  # made a parameter only now: the walk reaches it before h's node
    m = h * c
    m.retain_grad()
    return mg.sum(m * m), m


def _assert_the_next_pass_is_clean(site, a, c, fault):
    """A forward and backward pass on ``a`` and ``c`` (without gradients yet) gives the
    gradients of a run that never met a fault, on tensors of its own."""
    loss, m = _loss(site, a, c, fault)
    loss.backward()
    a_clean, c_clean = mg.tensor(A, requires_grad=True), mg.tensor(C)
    loss, m_clean = _loss(site, a_clean, c_clean, Fault("exception"))
    loss.backward()
    for got, want in zip((a, c, m), (a_clean, c_clean, m_clean)):
        np.testing.assert_array_equal(got.grad.numpy(), want.grad.numpy())


def _inject(fault, run, kind, context):
    """Run ``run`` in ``context`` (``fault`` armed); it must raise the fault, leaving every
    mode as it was inside the context and outside it."""
    outside = _modes()
    with CONTEXTS[context]():
        inside = _modes()
        with pytest.raises(RAISED[kind], match="injected"):
            run()
        assert _modes() == inside
    assert _modes() == outside
    assert fault.calls == fault.skip + 1  # the fault fired, where it was meant to
    fault.armed = False


@pytest.mark.parametrize("context", list(CONTEXTS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("create_graph", [False, True], ids=["backward", "create_graph"])
@pytest.mark.parametrize("name", _sites("backward"))
def test_a_fault_in_the_backward_pass_leaves_every_grad_untouched(name, create_graph, kind,
                                                                   context):
    site, _, skip = SITES[name]
    a, c = mg.tensor(A, requires_grad=True), mg.tensor(C)
    a.grad, c.grad = mg.full_like(a, 7.0), mg.full_like(c, 5.0)  # from earlier passes
    grads_before = (a.grad, c.grad)
    fault = Fault(kind, skip)
    loss, m = _loss(site, a, c, fault)
    fault.armed = True
    _inject(fault, lambda: loss.backward(create_graph=create_graph), kind, context)
    assert (a.grad, c.grad) == grads_before and m.grad is None  # the same objects, untouched

    a.grad = c.grad = None
    _assert_the_next_pass_is_clean(site, a, c, fault)


@pytest.mark.parametrize("context", list(CONTEXTS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", _sites("forward"))
def test_a_fault_in_a_forward_leaves_the_modes_and_the_next_pass_right(name, kind, context):
    site, _, skip = SITES[name]
    a, c = mg.tensor(A, requires_grad=True), mg.tensor(C)
    fault = Fault(kind, skip)
    fault.armed = True
    _inject(fault, lambda: _loss(site, a, c, fault), kind, context)
    assert a.grad is None and not c.requires_grad
    _assert_the_next_pass_is_clean(site, a, c, fault)


@pytest.mark.parametrize("context", list(CONTEXTS))
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", _sites("jvp"))
def test_a_fault_in_forward_mode_leaves_the_modes_and_the_next_pass_right(name, kind, context):
    site, _, skip = SITES[name]
    x, v = mg.tensor(A), mg.tensor(C)
    fault = Fault(kind, skip)

    def f(z):
        return site(z, fault) * 3.0

    fault.armed = True
    _inject(fault, lambda: mg.jvp(f, (x,), (v,)), kind, context)
    out, tangent = mg.jvp(f, (x,), (v,))
    clean_out, clean_tangent = mg.jvp(lambda z: site(z, Fault(kind)) * 3.0, (x,), (v,))
    np.testing.assert_array_equal(out.numpy(), clean_out.numpy())
    np.testing.assert_array_equal(tangent.numpy(), clean_tangent.numpy())


@pytest.mark.parametrize("kind", KINDS)
def test_a_fault_in_a_recomputation_puts_the_generators_back(kind):
    gen = mg.get_device("cpu").random(21)
    fault = Fault(kind)

    def block(h):
        fault()
        return mg.nn.functional.dropout(h, 0.5, generator=gen)

    x = mg.tensor(A, requires_grad=True)
    y = mg.checkpoint(block, x)
    gen.uniform((2,), mg.float64)  # a draw between the forward and the backward pass
    state = gen.get_state()
    fault.armed = True
    _inject(fault, lambda: mg.sum(y).backward(), kind, "plain")
    assert gen.get_state() == state
    assert x.grad is None


# -- optimisers ---------------------------------------------------------------------------------

OPTIMISERS = {
    "sgd-momentum": (optim.SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    "sgd-nesterov": (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": (optim.Adam, {"lr": 0.1, "amsgrad": True}),
    "adamw": (optim.AdamW, {"lr": 0.1, "weight_decay": 0.3}),
    "rmsprop": (optim.RMSprop, {"lr": 0.05, "centered": True, "momentum": 0.5}),
    "adagrad": (optim.Adagrad, {"lr": 0.3, "lr_decay": 0.1}),
}


def _model_and_optimiser(case):
    make, options = OPTIMISERS[case]
    ps = [mg.tensor(A, requires_grad=True), mg.tensor(C, requires_grad=True),
          mg.tensor(A * C, requires_grad=True)]
    return ps, make(ps, **options)


def _backward(ps):
    for p in ps:
        p.grad = None
    mg.sum(mg.sin(ps[0]) * ps[1] + ps[2] ** 2).backward()


def _after_two_steps(case, injected):
    """The parameters and state after two steps, ``injected(opt, ps)`` before the second."""
    ps, opt = _model_and_optimiser(case)
    for step in range(2):
        _backward(ps)
        if step == 1:
            injected(opt, ps)
        opt.step()
    return ps, opt


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("where", ["closure", "update of the second parameter"])
@pytest.mark.parametrize("case", list(OPTIMISERS))
def test_a_fault_in_a_step_leaves_the_model_and_the_optimiser_untouched(case, where, kind):
    fault = Fault(kind)

    def inject(opt, ps):
        values = [p.numpy().copy() for p in ps]
        states = [dict(opt.state[p]) for p in ps]
        if where == "closure":
            def closure():
                _backward(ps)
                fault()
            run = lambda: opt.step(closure)  # noqa: E731
        else:
            update = type(opt)._update
            calls = []

            def faulty_update(p, g, state, group):
                calls.append(p)
                if len(calls) == 2:
                    fault()
                return update(opt, p, g, state, group)

            opt._update = faulty_update
            run = opt.step
        fault.armed = True
        _inject(fault, run, kind, "plain")
        opt.__dict__.pop("_update", None)
        for p, value, state in zip(ps, values, states):
            np.testing.assert_array_equal(p.numpy(), value)
            assert opt.state[p].keys() == state.keys()
            assert all(opt.state[p][k] is v for k, v in state.items())

    faulted, _ = _after_two_steps(case, inject)
    clean, _ = _after_two_steps(case, lambda opt, ps: None)
    for p, q in zip(faulted, clean):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
