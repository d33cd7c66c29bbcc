"""Threads: what multigrad guarantees when several run at once.

- Gradients accumulated into a shared leaf's ``.grad`` add up exactly (the engine sums under a
  lock), whether the threads build their own graphs or run backward through one graph kept
  with ``retain_graph=True``.
- Grad mode, anomaly mode, the default device and forward-mode levels are per thread.
- Threads that train models of their own get the results a single thread gets.

The tests shorten the interpreter's switch interval so that threads interleave within an op.
"""

from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

import multigrad as mg

THREADS = 4


@pytest.fixture(autouse=True)
def _frequent_switches():
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def run_threads(target, n=THREADS):
    """Run ``target(k)`` in ``n`` threads started together; re-raise the first failure."""
    start = threading.Barrier(n)
    errors = []

    def body(k):
        try:
            start.wait(30)
            target(k)
        except BaseException as err:  # noqa: BLE001 - reported in the main thread
            errors.append(err)

    threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    if errors:
        raise errors[0]


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_backward_from_many_threads_into_one_leaf_adds_up_exactly(device):
    w = mg.tensor([0.0, 0.0], device=device, requires_grad=True)
    steps = 250

    def work(k):
        for _ in range(steps):
            mg.sum(w * 1.0 + w * 2.0).backward()  # two cotangents meet at the leaf each time

    run_threads(work)
    np.testing.assert_array_equal(w.grad.numpy(), [3.0 * steps * THREADS] * 2)


def test_backward_through_one_retained_graph_from_many_threads_adds_up_exactly():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = mg.sum(mg.exp(w) * w)
    steps = 100

    def work(k):
        for _ in range(steps):
            loss.backward(retain_graph=True)

    run_threads(work)
    once = (np.exp([1.0, 2.0]) * (1.0 + np.array([1.0, 2.0])))
    np.testing.assert_allclose(w.grad.numpy(), once * steps * THREADS, rtol=1e-12)


def test_create_graph_accumulation_from_many_threads_stays_differentiable():
    w = mg.tensor([0.5], requires_grad=True)
    steps = 50

    def work(k):
        for _ in range(steps):
            mg.sum(w ** 3).backward(create_graph=True)

    run_threads(work)
    # .grad = n * 3 w**2, and its own derivative is n * 6 w
    n = steps * THREADS
    np.testing.assert_allclose(w.grad.numpy(), [n * 3 * 0.25], rtol=1e-12)
    (second,) = mg.autograd.grad(mg.sum(w.grad), [w])
    np.testing.assert_allclose(second.numpy(), [n * 6 * 0.5], rtol=1e-12)


def _train(seed: int, steps: int = 20) -> list[np.ndarray]:
    model = mg.nn.Sequential(mg.nn.Linear(4, 8, seed=seed, dtype=mg.float64), mg.nn.Tanh(),
                             mg.nn.Linear(8, 1, seed=seed + 1, dtype=mg.float64))
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    x = mg.asarray(np.random.default_rng(seed).standard_normal((16, 4)))
    y = mg.sum(x, axis=1, keepdims=True)
    for _ in range(steps):
        opt.zero_grad()
        loss = mg.mean((model(x) - y) ** 2)
        loss.backward()
        opt.step()
    return [p.numpy() for p in model.parameters()]


def test_threads_training_their_own_models_match_a_single_thread():
    expected = {k: _train(k) for k in range(THREADS)}
    got = {}
    run_threads(lambda k: got.__setitem__(k, _train(k)))
    for k in range(THREADS):
        for a, b in zip(got[k], expected[k]):
            np.testing.assert_array_equal(a, b)


def test_no_grad_in_one_thread_does_not_stop_recording_in_others():
    recorded = {}

    def work(k):
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        flags = []
        for _ in range(200):
            if k == 0:
                with mg.no_grad():
                    flags.append((x * x).requires_grad)
            else:
                flags.append((x * x).requires_grad)
        recorded[k] = set(flags)

    run_threads(work)
    assert recorded[0] == {False}
    assert all(recorded[k] == {True} for k in range(1, THREADS))


def test_default_device_and_anomaly_mode_are_per_thread():
    seen = {}

    def work(k):
        device = "strict:device1" if k % 2 else "cpu"
        mg.set_default_device(device)
        for _ in range(50):
            if k % 2:
                with mg.detect_anomaly():
                    seen.setdefault(k, set()).add((mg.ones(1).device.name,
                                                   mg.is_anomaly_enabled()))
            else:
                seen.setdefault(k, set()).add((mg.ones(1).device.name, mg.is_anomaly_enabled()))

    run_threads(work)
    for k in range(THREADS):
        expected = ("strict:device1", True) if k % 2 else ("cpu", False)
        assert seen[k] == {expected}
    assert mg.get_default_device() == "cpu" and not mg.is_anomaly_enabled()


def test_forward_mode_in_many_threads_keeps_each_threads_tangents():
    results = {}

    def work(k):
        x = mg.tensor([0.3 + k, 0.7])
        v = mg.tensor([1.0, float(k)])
        outs = []
        for _ in range(50):
            _, t = mg.jvp(lambda a: mg.sin(a) * a, (x,), (v,))
            outs.append(t.numpy())
        results[k] = outs

    run_threads(work)
    for k in range(THREADS):
        x, v = np.array([0.3 + k, 0.7]), np.array([1.0, float(k)])
        expected = (np.cos(x) * x + np.sin(x)) * v
        for t in results[k]:
            np.testing.assert_allclose(t, expected, rtol=1e-12)
