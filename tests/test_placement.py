"""Placement on array_api_strict's fake devices: results and gradients stay where their inputs
live, moves are explicit and differentiable, and nothing goes through the host behind our back.

array_api_strict refuses to turn a "device1" array into NumPy, just as CuPy refuses implicit
host copies, so a computation that succeeds on device1 made no hidden host round trip.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import multigrad as mg
from multigrad import autograd

D1, D2 = "strict:device1", "strict:device2"


@contextlib.contextmanager
def no_host_transfers():
    """Make the explicit host path of device1 and device2 fail too, so that a block proves no
    transfer happened at all (the strict tripwire alone catches only implicit ones)."""
    def refuse(*args):
        raise AssertionError("a host transfer happened inside the computation")

    with pytest.MonkeyPatch.context() as patch:
        for name in (D1, D2):
            dev = mg.get_device(name)
            patch.setitem(dev._ext, "to_host", refuse)
            patch.setitem(dev._ext, "from_host", refuse)
        yield


@pytest.fixture
def default_device_reset():
    yield
    mg.set_default_device(None)


def test_strict_tripwire_refuses_numpy_conversion():
    t = mg.tensor([1.0, 2.0], device=D1)
    with pytest.raises((RuntimeError, TypeError, ValueError)):
        np.asarray(t.data)
    # the explicit path works: .numpy() moves to the host on purpose
    np.testing.assert_array_equal(t.numpy(), [1.0, 2.0])
    with no_host_transfers(), pytest.raises(AssertionError, match="host transfer"):
        t.numpy()  # and no_host_transfers() below really catches explicit transfers


def test_same_device_results_and_gradients_stay():
    xv, yv = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    x = mg.tensor(xv, device=D1, requires_grad=True)
    y = mg.tensor(yv, device=D1, requires_grad=True)
    with no_host_transfers():
        z = x * y
        assert z.device == D1 and z.device is mg.get_device(D1)
        mg.sum(mg.exp(z) + z).backward()
        assert x.grad.device == D1 and y.grad.device == D1
    np.testing.assert_allclose(x.grad.numpy(), (np.exp(xv * yv) + 1) * yv)
    np.testing.assert_allclose(y.grad.numpy(), (np.exp(xv * yv) + 1) * xv)


def test_python_scalar_keeps_device_and_float32():
    x = mg.tensor([1.0, 2.0], dtype=mg.float32, device=D1, requires_grad=True)
    with no_host_transfers():
        y = x * 2.0 + 1.5
        assert y.device == D1 and y.dtype == mg.float32
        mg.sum(2.0 / y).backward()
        assert x.grad.device == D1 and x.grad.dtype == mg.float32
    # d/dx 2 / (2x + 1.5) = -4 / (2x + 1.5)**2
    np.testing.assert_allclose(x.grad.numpy(), -4 / (2 * np.array([1.0, 2.0]) + 1.5) ** 2,
                               rtol=1e-6)


def test_higher_order_stays_on_device():
    x = mg.tensor([0.5, 1.5], device=D1, requires_grad=True)
    with no_host_transfers():
        (g,) = autograd.grad(mg.sum(mg.exp(x) * x), [x], create_graph=True)
        (h,) = autograd.grad(mg.sum(g), [x])
        _, t = mg.jvp(lambda a: mg.tanh(a) * a, [x.detach()], [mg.ones_like(x)])
        assert g.device == D1 and h.device == D1 and t.device == D1


def test_devices_must_not_mix():
    x = mg.tensor([1.0], device=D1, requires_grad=True)
    y = mg.tensor([1.0], device=D2)
    with pytest.raises(mg.MixedDeviceError, match=r"multiply.*device1.*device2"):
        x * y


def test_move_is_differentiable_and_gradient_comes_back():
    values = np.array([1.0, -2.0, 3.0])
    x = mg.tensor(values, device=D1, requires_grad=True)
    y = x.to(D2)
    assert y.device == D2 and y.requires_grad
    mg.sum(y * y).backward()
    assert x.grad.device == D1
    np.testing.assert_allclose(x.grad.numpy(), 2 * values)


def test_move_under_higher_order():
    values = np.array([0.5, 1.5])
    x = mg.tensor(values, device=D1, requires_grad=True)
    y = x.to(D2)
    (g,) = autograd.grad(mg.sum(y * y * y), [x], create_graph=True)
    assert g.device == D1
    np.testing.assert_allclose(g.numpy(), 3 * values ** 2)
    (h,) = autograd.grad(mg.sum(g), [x])
    assert h.device == D1
    np.testing.assert_allclose(h.numpy(), 6 * values)


def test_move_under_forward_mode():
    values = np.array([0.5, 1.5])
    x = mg.tensor(values, device=D1)
    t = mg.tensor([1.0, 2.0], device=D1)
    out, tangent = mg.jvp(lambda a: a.to(D2) * a.to(D2), [x], [t])
    assert out.device == D2 and tangent.device == D2
    np.testing.assert_allclose(tangent.numpy(), 2 * values * np.array([1.0, 2.0]))


def test_move_across_libraries():
    values = np.array([1.0, 2.0])
    x = mg.tensor(values, device="cpu", requires_grad=True)
    y = x.to(D1)
    assert y.device == D1
    mg.sum(y * y).backward()
    assert x.grad.device == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * values)


def test_devices_lists_cpu_and_strict_devices():
    found = mg.devices()
    names = [d.name for d in found]
    assert names[0] == "cpu"
    for name in ("strict:CPU_DEVICE", "strict:device1", "strict:device2"):
        assert name in names
    assert all(isinstance(d, mg.Device) for d in found)


@pytest.mark.parametrize("device", mg.devices(), ids=lambda d: d.name)
def test_tensor_on_every_listed_device(device):
    x = mg.tensor([1.0, 2.0], device=device, requires_grad=True)
    assert x.device is device
    for spelling in (device, device.name, device.native):
        assert mg.tensor([1.0], device=spelling).device is device
    mg.sum(x * x).backward()
    assert x.grad.device is device
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])


def test_set_default_device(default_device_reset):
    assert mg.get_default_device() == "cpu" or os.environ.get("MULTIGRAD_DEVICE")
    returned = mg.set_default_device(D1)
    assert returned is mg.get_device(D1)
    assert mg.tensor([1.0]).device == D1
    assert mg.zeros((2,)).device == D1
    mg.set_default_device(None)
    assert mg.tensor([1.0]).device == mg.get_default_device()


def test_multigrad_device_environment_variable(monkeypatch, default_device_reset):
    mg.set_default_device(None)
    monkeypatch.setenv("MULTIGRAD_DEVICE", D2)
    assert mg.get_default_device() == D2
    assert mg.ones((1,)).device == D2
    mg.set_default_device(D1)  # an explicit default wins over the environment
    assert mg.ones((1,)).device == D1


def test_multigrad_device_in_a_fresh_process():
    root = pathlib.Path(mg.__file__).resolve().parent.parent
    env = dict(os.environ, MULTIGRAD_DEVICE=D1,
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    code = "import multigrad as mg; print(mg.zeros((2,)).device.name)"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "strict:device1"
