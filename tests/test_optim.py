"""Optimisers: three steps of each against its published update equations, written here in
NumPy from the papers' algorithm definitions; state placement on device1; parameter groups;
state dicts; and the errors for bad parameters, options and state dicts.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad import optim
from test_placement import no_host_transfers

P0 = np.array([[0.5, -1.2, 2.0], [0.3, -0.7, 1.1]])
C = np.array([[1.0, -0.5, 0.2], [-2.0, 0.8, 0.1]])


def loss_fn(p, c):
    """A loss whose gradient, ``c + p**3``, changes from step to step."""
    return mg.sum(c * p + 0.25 * p ** 4)


def grad_fn(p):
    return C + p ** 3


# -- the published equations, in NumPy ------------------------------------------------------

def ref_sgd(p, steps, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    # Sutskever et al. (2013) heavy ball / Nesterov, with the buffer started at the gradient
    b = None
    for t in range(1, steps + 1):
        g = grad_fn(p) + weight_decay * p
        if momentum:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        p = p - lr * g
    return p


def ref_adam(p, steps, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
             decoupled=False):
    # Kingma and Ba (2015), Algorithm 1; AMSGrad (Reddi et al., 2018) keeps max of v;
    # AdamW (Loshchilov and Hutter, 2019) shrinks p by lr * weight_decay before the step
    b1, b2 = betas
    m = v = v_max = np.zeros_like(p)
    for t in range(1, steps + 1):
        g = grad_fn(p)
        if decoupled:
            p = p * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g ** 2
        v_max = np.maximum(v_max, v)
        v_used = v_max if amsgrad else v
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v_used / (1 - b2 ** t)) + eps)
    return p


def ref_rmsprop(p, steps, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                centered=False):
    # Hinton's lecture 6e; centred as in Graves (2013), eq. 38-41
    v = g_avg = b = np.zeros_like(p)
    for _ in range(steps):
        g = grad_fn(p) + weight_decay * p
        v = alpha * v + (1 - alpha) * g ** 2
        g_avg = alpha * g_avg + (1 - alpha) * g
        denom = np.sqrt(v - g_avg ** 2 if centered else v) + eps
        b = momentum * b + g / denom
        p = p - lr * (b if momentum else g / denom)
    return p


def ref_adagrad(p, steps, lr, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                eps=1e-10):
    # Duchi, Hazan and Singer (2011), diagonal form, with a decaying learning rate
    s = np.full_like(p, initial_accumulator_value)
    for t in range(1, steps + 1):
        g = grad_fn(p) + weight_decay * p
        s = s + g ** 2
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)
    return p


def ref_adamw(p, steps, **options):
    return ref_adam(p, steps, decoupled=True, **options)


CASES = {
    "sgd": (optim.SGD, ref_sgd, {"lr": 0.1}),
    "sgd-momentum": (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9}),
    "sgd-dampening-decay": (optim.SGD, ref_sgd,
                            {"lr": 0.1, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.1}),
    "sgd-nesterov": (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    "adam": (optim.Adam, ref_adam, {"lr": 0.1}),
    "adam-decay": (optim.Adam, ref_adam, {"lr": 0.1, "weight_decay": 0.3}),
    # a fast second-moment decay, so that v shrinks and the running maximum matters
    "adam-amsgrad": (optim.Adam, ref_adam, {"lr": 0.5, "betas": (0.9, 0.3), "amsgrad": True}),
    "adamw": (optim.AdamW, ref_adamw, {"lr": 0.1, "weight_decay": 0.3}),
    "rmsprop": (optim.RMSprop, ref_rmsprop, {"lr": 0.05}),
    "rmsprop-centered-momentum": (optim.RMSprop, ref_rmsprop,
                                  {"lr": 0.05, "alpha": 0.9, "centered": True, "momentum": 0.5,
                                   "weight_decay": 0.1}),
    "adagrad": (optim.Adagrad, ref_adagrad, {"lr": 0.3}),
    "adagrad-decay": (optim.Adagrad, ref_adagrad,
                      {"lr": 0.3, "lr_decay": 0.5, "weight_decay": 0.1,
                       "initial_accumulator_value": 0.2}),
}


def train(opt, p, c, steps=3):
    """``steps`` optimiser steps on ``loss_fn``; returns ``opt``."""
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(p, c).backward()
        opt.step()
    return opt


@pytest.mark.parametrize("case", list(CASES))
def test_three_steps_match_the_published_equations(backend, case):
    make, reference, options = CASES[case]
    p = backend.tensor(P0, requires_grad=True)
    opt = train(make([p], **options), p, backend.tensor(C))
    tol = {"rtol": 1e-12, "atol": 1e-14} if backend.precise else {"rtol": 1e-5, "atol": 1e-6}
    np.testing.assert_allclose(p.numpy(), reference(P0, 3, **options), **tol)
    assert p.device == backend.device and p.dtype == backend.dtype and p.is_leaf
    for value in opt.state[p].values():
        if isinstance(value, mg.Tensor):
            assert value.device == backend.device and value.dtype == backend.dtype


def test_the_references_tell_the_variants_apart():
    """Each variant's test would catch a method that ignored its option."""
    assert not np.allclose(ref_adam(P0, 3, lr=0.5, betas=(0.9, 0.3), amsgrad=True),
                           ref_adam(P0, 3, lr=0.5, betas=(0.9, 0.3)))
    assert not np.allclose(ref_adamw(P0, 3, lr=0.1, weight_decay=0.3),
                           ref_adam(P0, 3, lr=0.1, weight_decay=0.3))
    assert not np.allclose(ref_sgd(P0, 3, lr=0.1, momentum=0.9, nesterov=True),
                           ref_sgd(P0, 3, lr=0.1, momentum=0.9))


@pytest.mark.parametrize("case", ["sgd-nesterov", "adam-amsgrad", "adamw",
                                  "rmsprop-centered-momentum", "adagrad-decay"])
def test_steps_and_state_stay_on_device1_without_host_transfers(case):
    make, _, options = CASES[case]
    p = mg.tensor(P0, device="strict:device1", requires_grad=True)
    c = mg.tensor(C, device="strict:device1")
    with no_host_transfers():
        opt = train(make([p], **options), p, c)
        sched = optim.StepLR(opt, step_size=1, gamma=0.5)
        sched.step()
        optim.clip_grad_norm_([p], 0.5)
        opt.step()
    tensors = [v for v in opt.state[p].values() if isinstance(v, mg.Tensor)]
    assert tensors and all(t.device == "strict:device1" for t in tensors)
    assert p.device == "strict:device1" and p.grad.device == "strict:device1"


def test_param_groups_take_their_own_options():
    a = mg.tensor(P0, requires_grad=True)
    b = mg.tensor(P0, requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1)
    mg.sum(loss_fn(a, C) + loss_fn(b, C)).backward()
    opt.step()
    np.testing.assert_allclose(a.numpy(), P0 - 0.1 * grad_fn(P0), rtol=1e-13)
    np.testing.assert_allclose(b.numpy(), P0 - 0.01 * grad_fn(P0), rtol=1e-13)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]


def test_zero_grad_frozen_parameters_and_closure():
    p = mg.tensor(P0, requires_grad=True)
    frozen = mg.tensor(P0)  # a leaf without gradients (a frozen parameter) is left alone
    opt = optim.SGD([p, frozen], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = loss_fn(p, C)
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(np.sum(C * P0 + 0.25 * P0 ** 4))
    np.testing.assert_allclose(p.numpy(), P0 - 0.1 * grad_fn(P0), rtol=1e-13)
    np.testing.assert_array_equal(frozen.numpy(), P0)
    opt.zero_grad()
    assert p.grad is None


def test_state_dict_resumes_on_another_device():
    p = mg.tensor(P0, requires_grad=True)
    opt = train(optim.Adam([p], lr=0.1, amsgrad=True), p, C, steps=2)
    q = mg.tensor(p.numpy(), device="strict:device1", requires_grad=True)
    resumed = optim.Adam([q], lr=0.5)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.param_groups[0]["lr"] == 0.1 and resumed.state[q]["step"] == 2
    assert resumed.state[q]["exp_avg"].device == "strict:device1"
    train(opt, p, C, steps=1)
    train(resumed, q, mg.tensor(C, device=q.device), steps=1)
    np.testing.assert_allclose(q.numpy(), p.numpy(), rtol=1e-13)
    np.testing.assert_allclose(p.numpy(), ref_adam(P0, 3, lr=0.1, amsgrad=True), rtol=1e-12)


# -- bad input ------------------------------------------------------------------------------

def _leaf():
    return mg.tensor(P0, requires_grad=True)


@pytest.mark.parametrize("make, error, match", [
    (lambda: optim.SGD(_leaf()), TypeError, "single Tensor"),
    (lambda: optim.SGD([]), ValueError, "empty list of parameters"),
    (lambda: optim.SGD([_leaf() * 2.0]), ValueError, r"parameter 0: is the result of an "
                                                     r"operation \(multiply\)"),
    (lambda: optim.SGD([3.0]), TypeError, "parameter 0: expected a Tensor, got float"),
    (lambda: optim.SGD([mg.tensor([1, 2])]), TypeError, "dtype int64.*real floating"),
    (lambda: optim.SGD([_leaf()], lr=-1.0), ValueError, "invalid lr -1.0"),
    (lambda: optim.SGD([_leaf()], nesterov=True), ValueError, "nesterov momentum needs"),
    (lambda: optim.Adam([_leaf()], betas=(0.9, 1.0)), ValueError, r"invalid betas\[1\] 1.0"),
    (lambda: optim.RMSprop([_leaf()], alpha=1.5), ValueError, r"invalid alpha 1.5 \(must be "
                                                              r"in \[0.0, 1.0\]\)"),
    (lambda: optim.SGD([{"params": [_leaf()], "momentun": 0.9}]), ValueError,
     "group 0: unknown option.*'momentun'"),
])
def test_bad_parameters_and_options_are_named(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_a_parameter_listed_twice_is_refused():
    p = _leaf()
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="group 1, parameter 0: appears more than once"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1


def _trained_adam():
    p = _leaf()
    return train(optim.Adam([p], lr=0.1), p, C, steps=1), p


@pytest.mark.parametrize("edit, match", [
    (lambda sd: sd.pop("state"), "expected a dict with the keys 'param_groups' and 'state'"),
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])),
     "2 parameter group.*this optimiser 1"),
    (lambda sd: sd["param_groups"][0].update(params=[0, 1]), "group 0 has 2 parameter"),
    (lambda sd: sd["param_groups"][0].pop("betas"), "group 0 lacks the option.*'betas'"),
    (lambda sd: sd["param_groups"][0].pop("params"), "group 0 is not a dict with a 'params'"),
    (lambda sd: sd["state"].update({5: {}}), "state for parameter 5, which no parameter group"),
    (lambda sd: sd["state"][0].update(momentum_buffer=sd["state"][0]["exp_avg"]),
     r"state of parameter 0: unknown entr.*'momentum_buffer'"),
    (lambda sd: sd["state"][0].update(exp_avg=mg.zeros((3,))),
     r"state of parameter 0, 'exp_avg': expected shape \(2, 3\).*got \(3,\)"),
])
def test_mismatching_state_dicts_are_named_and_change_nothing(edit, match):
    source, _ = _trained_adam()
    state_dict = source.state_dict()
    edit(state_dict)
    target, q = _trained_adam()
    before = dict(target.state[q])
    with pytest.raises(ValueError, match=match):
        target.load_state_dict(state_dict)
    assert all(target.state[q][key] is value for key, value in before.items())
    assert target.param_groups[0]["params"][0] is q


# -- .grad is checked when assigned, and a step is all or nothing ----------------------------

@pytest.mark.parametrize("make_value, error, match", [
    (lambda p: mg.ones((1,)), ValueError, r"Tensor.grad: the assigned gradient has shape \(1,\) "
                                          r"but its tensor has shape \(2, 3\)"),
    (lambda p: mg.ones((2, 3), dtype=mg.float32), TypeError,
     "the assigned gradient has dtype float32 but its tensor has dtype float64"),
    (lambda p: mg.ones((2, 3), device="strict:device1"), mg.MixedDeviceError,
     "the assigned gradient is on strict:device1 but its tensor is on cpu"),
    (lambda p: np.ones((2, 3)), TypeError, "the assigned gradient is a ndarray, not a Tensor"),
    (lambda p: p, ValueError, "a tensor cannot be its own gradient"),
], ids=["shape", "dtype", "device", "numpy", "itself"])
def test_assigning_a_bad_grad_is_refused_and_changes_nothing(make_value, error, match):
    p = _leaf()
    before = mg.full_like(p, 0.5)
    p.grad = before
    with pytest.raises(error, match=match):
        p.grad = make_value(p)
    assert p.grad is before


def test_sgd_no_longer_broadcasts_a_one_element_gradient():
    """The bug: a (1,) gradient on a (3,) parameter was accepted and broadcast by SGD."""
    p = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"shape \(1,\) but its tensor has shape \(3,\)"):
        p.grad = mg.tensor([1.0])
    optim.SGD([p], lr=0.1).step()  # no gradient: nothing to do
    np.testing.assert_array_equal(p.numpy(), [1.0, 2.0, 3.0])


def _two_parameters(case):
    """An optimiser of ``case`` over two parameters, after one step (so it holds state)."""
    make, _, options = CASES[case]
    ps = [mg.tensor(P0, requires_grad=True), mg.tensor(P0 * 2, requires_grad=True)]
    opt = make(ps, **options)
    for p in ps:
        loss_fn(p, C).backward()
    opt.step()
    for p in ps:
        p.grad = None
        loss_fn(p, C).backward()
    return opt, ps


def _snapshot(opt, ps):
    return ([p.numpy().copy() for p in ps],
            [{k: v for k, v in opt.state.get(p, {}).items()} for p in ps],
            [dict(g) for g in opt.param_groups])


def _assert_unchanged(opt, ps, snapshot):
    values, states, groups = snapshot
    for p, value, state in zip(ps, values, states):
        np.testing.assert_array_equal(p.numpy(), value)
        assert opt.state.get(p, {}).keys() == state.keys()
        assert all(opt.state[p][k] is v for k, v in state.items())
    assert [dict(g) for g in opt.param_groups] == groups


@pytest.mark.parametrize("case", list(CASES))
def test_a_gradient_gone_stale_stops_the_step_before_any_update(case):
    opt, ps = _two_parameters(case)
    snapshot = _snapshot(opt, ps)
    ps[1].data = ps[1].data[:1]  # the parameter was rebound after its gradient was computed
    name = type(opt).__name__
    with pytest.raises(ValueError, match=rf"{name}.step: the gradient of parameter 1 of group 0 "
                                         r"has shape \(2, 3\) but its parameter has shape "
                                         r"\(1, 3\)"):
        opt.step()
    values, states, _ = snapshot
    np.testing.assert_array_equal(ps[0].numpy(), values[0])
    for p, state in zip(ps, states):
        assert all(opt.state[p][k] is v for k, v in state.items())


@pytest.mark.parametrize("case", list(CASES))
def test_an_option_gone_bad_stops_the_step_before_any_update(case):
    opt, ps = _two_parameters(case)
    opt.add_param_group({"params": [mg.tensor(P0, requires_grad=True)]})
    snapshot = _snapshot(opt, ps)
    opt.param_groups[1]["lr"] = -0.1  # a schedule or a hand gone wrong
    with pytest.raises(ValueError, match=rf"{type(opt).__name__}.step: parameter group 1: "
                                         r"invalid lr -0.1"):
        opt.step()
    opt.param_groups[1]["lr"] = snapshot[2][1]["lr"]
    _assert_unchanged(opt, ps, snapshot)


@pytest.mark.parametrize("case", list(CASES))
def test_step_results_do_not_depend_on_parameter_order(case):
    """The update of each parameter reads only its own old values, as before the commit."""
    opt, ps = _two_parameters(case)
    opt.step()
    alone = []
    for p0 in (P0, P0 * 2):
        q = mg.tensor(p0, requires_grad=True)
        make, _, options = CASES[case]
        train(make([q], **options), q, C, steps=2)
        alone.append(q.numpy())
    for p, expected in zip(ps, alone):
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-13)


def test_zero_grad_set_to_none_false_writes_zeros(backend):
    p = backend.tensor(P0, requires_grad=True)
    untouched = backend.tensor(P0, requires_grad=True)
    opt = optim.SGD([p, untouched], lr=0.1)
    loss_fn(p, backend.tensor(C)).backward()
    opt.zero_grad(set_to_none=False)
    assert p.grad.shape == p.shape and p.grad.dtype == p.dtype and p.grad.device == p.device
    np.testing.assert_array_equal(p.grad.numpy(), np.zeros_like(P0))
    assert untouched.grad is None
    opt.zero_grad()
    assert p.grad is None
