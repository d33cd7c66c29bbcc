"""Learning-rate schedules (values over steps against their formulas, state dicts, errors) and
gradient clipping by the total norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import multigrad as mg
from multigrad import optim


def _sgd(lr=1.0, groups=1):
    params = [mg.tensor([1.0, 2.0], requires_grad=True) for _ in range(groups)]
    return optim.SGD([{"params": [p], "lr": lr * (i + 1)} for i, p in enumerate(params)], lr=lr)


def _lrs(sched, steps):
    """The first group's learning rate at steps 0..steps."""
    seen = [sched.get_last_lr()[0]]
    for _ in range(steps):
        sched.step()
        seen.append(sched.get_last_lr()[0])
    return seen


def test_step_lr_decays_every_step_size_steps():
    sched = optim.StepLR(_sgd(2.0), step_size=2, gamma=0.5)
    assert _lrs(sched, 6) == [2.0, 2.0, 1.0, 1.0, 0.5, 0.5, 0.25]


def test_cosine_annealing_follows_half_a_cosine_then_stays_at_eta_min():
    sched = optim.CosineAnnealingLR(_sgd(1.0), T_max=4, eta_min=0.1)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 4)) / 2 for t in range(5)] + [0.1, 0.1]
    np.testing.assert_allclose(_lrs(sched, 6), expected, rtol=1e-15)
    assert expected[2] == pytest.approx(0.55)


def test_linear_warmup_then_the_schedule_after_it():
    opt = _sgd(1.0)
    after = optim.StepLR(opt, step_size=2, gamma=0.1)
    sched = optim.LinearWarmup(opt, warmup_steps=4, start_factor=0.2, after=after)
    np.testing.assert_allclose(_lrs(sched, 7), [0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.1, 0.1],
                               rtol=1e-15)


def test_each_group_is_scheduled_from_its_own_base_rate():
    opt = _sgd(1.0, groups=2)
    sched = optim.LinearWarmup(opt, warmup_steps=2)
    assert sched.get_last_lr() == [0.0, 0.0]
    sched.step()
    assert sched.get_last_lr() == [0.5, 1.0]
    assert [g["lr"] for g in opt.param_groups] == [0.5, 1.0]


def test_the_scheduled_rate_is_the_one_the_optimiser_uses():
    opt = _sgd(1.0)
    p = opt.param_groups[0]["params"][0]
    sched = optim.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    mg.sum(p * p).backward()
    opt.step()
    np.testing.assert_allclose(p.numpy(), [1.0 - 0.5 * 2.0, 2.0 - 0.5 * 4.0])


def test_state_dict_resumes_a_schedule(tmp_path):
    opt = _sgd(1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=10)
    _lrs(sched, 3)
    mg.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, tmp_path / "s")
    saved = mg.load(tmp_path / "s")
    opt2 = _sgd(1.0)
    opt2.load_state_dict(saved["optimizer"])
    sched2 = optim.CosineAnnealingLR(opt2, T_max=10)
    sched2.load_state_dict(saved["scheduler"])
    assert sched2.get_last_lr() == sched.get_last_lr()
    assert _lrs(sched2, 4) == _lrs(sched, 4)


@pytest.mark.parametrize("make, match", [
    (lambda opt: optim.StepLR(opt, step_size=0), "StepLR: step_size must be a positive integer"),
    (lambda opt: optim.CosineAnnealingLR(opt, T_max=2.5), "T_max must be a positive integer"),
    (lambda opt: optim.LinearWarmup(opt, 3, start_factor=2.0), r"start_factor must be in \[0, 1\]"),
    (lambda opt: optim.LinearWarmup(opt, 3, after=optim.StepLR(_sgd(), 1)),
     "'after' must drive the same optimiser"),
    (lambda opt: optim.StepLR(opt, 1).load_state_dict({"last_step": 1}),
     "expected a dict with the keys 'base_lrs', 'last_step'"),
    (lambda opt: optim.StepLR(opt, 1).load_state_dict({"last_step": 1, "base_lrs": [1.0, 2.0]}),
     "base learning rates for 2 parameter group"),
])
def test_bad_schedules_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make(_sgd())


def test_a_scheduler_needs_an_optimiser():
    with pytest.raises(TypeError, match="StepLR: expected an Optimizer, got list"):
        optim.StepLR([], step_size=1)


# -- clip_grad_norm_ ------------------------------------------------------------------------

G1 = np.array([3.0, -4.0])
G2 = np.array([[1.0, 2.0], [-2.0, 4.0]])


def _with_grads(backend):
    params = [backend.tensor(np.zeros_like(g), requires_grad=True) for g in (G1, G2)]
    for p, g in zip(params, (G1, G2)):
        mg.sum(p * backend.tensor(g)).backward()
    return params


@pytest.mark.parametrize("norm_type, total", [(2.0, math.sqrt(25 + 25)), (1.0, 7 + 9),
                                              (math.inf, 4.0)])
def test_clip_grad_norm_scales_to_max_norm_and_returns_the_total(backend, norm_type, total):
    params = _with_grads(backend)
    norm = optim.clip_grad_norm_(params, 2.0, norm_type=norm_type)
    assert norm.shape == () and norm.device == backend.device and norm.dtype == backend.dtype
    tol = 1e-12 if backend.precise else 1e-6
    assert norm.item() == pytest.approx(total, rel=tol)
    scale = 2.0 / (total + 1e-6)
    for p, g in zip(params, (G1, G2)):
        np.testing.assert_allclose(p.grad.numpy(), g * scale, rtol=tol)
        assert p.grad.device == backend.device


def test_clip_grad_norm_leaves_small_gradients_alone(backend64):
    params = _with_grads(backend64)
    optim.clip_grad_norm_(params, 100.0)
    np.testing.assert_array_equal(params[0].grad.numpy(), G1)
    np.testing.assert_array_equal(params[1].grad.numpy(), G2)


def test_clip_grad_norm_bad_input():
    p = mg.tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="none of the parameters has a gradient"):
        optim.clip_grad_norm_([p], 1.0)
    with pytest.raises(ValueError, match="max_norm must be a number >= 0, got -1"):
        optim.clip_grad_norm_(p, -1)
