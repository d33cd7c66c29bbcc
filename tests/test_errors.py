"""Error messages: each names the op, the inputs and the fix, and is raised before any state
changes (a failed backward leaves ``.grad`` and the graph as they were).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import multigrad as mg
from multigrad import autograd


def _leaf(values, device="cpu", dtype=None):
    return mg.tensor(np.asarray(values, dtype=np.float64), dtype=dtype, device=device,
                     requires_grad=True)


# -- shapes --------------------------------------------------------------------------------------

@pytest.mark.parametrize("device", ["cpu", "strict:CPU_DEVICE", "strict:device1"])
def test_non_broadcastable_shapes_name_the_op_and_both_shapes(device):
    x = _leaf(np.ones((2, 3)), device)
    y = mg.tensor(np.ones(4), device=device)
    with pytest.raises(ValueError, match=r"add.*\(2, 3\).*\(4,\)"):
        x + y
    with pytest.raises(ValueError, match=r"multiply.*\(2, 3\).*\(4,\)"):
        mg.multiply(x, y)
    # nothing was recorded or changed: x still works as before
    mg.sum(x * 2.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.full((2, 3), 2.0))


# -- devices and array libraries ----------------------------------------------------------------

def test_a_library_error_in_a_derivative_names_the_op_and_the_argument():
    # a derivative rule failing inside the array library raised the library's bare message
    # (NumPy's "operands could not be broadcast together"), which names no op
    bad = mg.defprimitive("scaled_rows", lambda xp, x, w: x * w,
                          vjp=(lambda xp, g, ans, x, w: g @ xp.ones((5, 2)), None),
                          jvp=(lambda xp, t, ans, x, w: t * w, None))
    x = mg.tensor(np.ones((3, 4)), requires_grad=True)
    with pytest.raises(ValueError, match=r"^scaled_rows: its derivative for argument 0 \(of "
                                         r"shape \(3, 4\)\) failed: matmul"):
        mg.sum(bad(x, 2.0)).backward()
    assert x.grad is None  # nothing written
    mg.sum(x * 2.0).backward()  # and the next backward runs
    np.testing.assert_array_equal(x.grad.numpy(), 2.0)


def test_mixing_devices_names_the_op_and_both_devices():
    x = _leaf([1.0, 2.0], "strict:device1")
    y = mg.tensor([3.0, 4.0], device="strict:device2")
    with pytest.raises(mg.MixedDeviceError,
                       match=r"multiply.*strict:device1.*strict:device2"):
        x * y
    with pytest.raises(mg.MixedDeviceError, match=r"\.to\("):  # says how to fix it
        mg.add(x, y)
    assert x.grad is None


@pytest.mark.parametrize("order", ["tensor first", "array first", "function"])
def test_mixing_array_libraries_names_both(order):
    x = _leaf([1.0, 2.0], "strict:device1")
    raw = np.array([3.0, 4.0])
    ops = {"tensor first": lambda: x * raw, "array first": lambda: raw * x,
           "function": lambda: mg.multiply(x, raw)}
    with pytest.raises(mg.MixedDeviceError, match=r"multiply.*(device1.*cpu|cpu.*device1)"):
        ops[order]()


def test_cuda_without_cupy_says_how_to_install():
    if importlib.util.find_spec("cupy") is not None:
        pytest.skip("CuPy is installed here; see test_cuda_index_out_of_range")
    for spec in ("cuda", "cuda:0"):
        with pytest.raises(mg.DeviceError, match=r"CuPy.*pip install"):
            mg.get_device(spec)
    with pytest.raises(mg.DeviceError, match=r"CuPy.*pip install"):
        mg.tensor([1.0], device="cuda")


def test_cuda_index_out_of_range():
    if importlib.util.find_spec("cupy") is None:
        pytest.skip("CuPy is not installed")
    with pytest.raises(mg.DeviceError, match=r"cuda:99"):
        mg.get_device("cuda:99")


@pytest.mark.parametrize("spec", ["tpu", "gpu:0", "strict:device3", "cuda:x"])
def test_unknown_device_string(spec):
    with pytest.raises(mg.DeviceError, match=r"unknown device"):
        mg.get_device(spec)
    with pytest.raises(mg.DeviceError, match=repr(spec).replace("(", r"\(")):
        mg.tensor([1.0], device=spec)


def test_unknown_device_lists_the_valid_ones():
    with pytest.raises(mg.DeviceError, match=r"'cpu'.*'cuda'.*devices\(\)"):
        mg.get_device("tpu")


# -- seeds for backward --------------------------------------------------------------------------

def test_backward_on_non_scalar_needs_a_seed():
    x = _leaf([1.0, 2.0])
    y = mg.exp(x)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*seed"):
        y.backward()
    assert x.grad is None
    y.backward(mg.tensor([1.0, 1.0]))  # the graph was not freed by the failed call
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]))


@pytest.mark.parametrize("bad, pattern, error", [
    (lambda: mg.tensor(np.ones(3)), r"shape \(3,\).*shape \(2, 2\)", ValueError),
    (lambda: mg.tensor(np.ones((2, 2)), dtype=mg.float32), r"dtype float32.*float64", TypeError),
    (lambda: mg.tensor(np.ones((2, 2)), device="strict:CPU_DEVICE"),
     r"strict:CPU_DEVICE.*cpu", mg.MixedDeviceError),
    (lambda: np.ones((2, 2)), r"Tensor", TypeError),
], ids=["shape", "dtype", "device", "not-a-tensor"])
def test_bad_seed_is_refused_before_anything_changes(bad, pattern, error):
    x = _leaf(np.full((2, 2), 0.5))
    mg.sum(x * 3.0).backward()  # an earlier gradient that must survive the failed call
    before = x.grad.numpy().copy()
    y = x * x
    with pytest.raises(error, match=pattern):
        y.backward(bad())
    np.testing.assert_array_equal(x.grad.numpy(), before)
    y.backward(mg.ones((2, 2), dtype=mg.float64))  # and the graph is intact
    np.testing.assert_allclose(x.grad.numpy(), before + 2 * 0.5)


def test_grad_seed_of_wrong_shape():
    x = _leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"seed 0 has shape \(3,\)"):
        autograd.grad(x * x, [x], [mg.tensor([1.0, 1.0, 1.0])])


def test_output_that_does_not_require_grad():
    x = mg.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"does not require gradients"):
        mg.sum(x * x).backward()


# -- gradients of integer and boolean tensors ----------------------------------------------------

@pytest.mark.parametrize("values, dtype", [([1, 2, 3], "int64"), ([True, False], "bool")])
def test_requires_grad_on_integer_or_boolean(values, dtype):
    t = mg.tensor(values)
    assert t.dtype == getattr(mg, dtype)
    with pytest.raises(TypeError, match=rf"floating-point.*{dtype}"):
        t.requires_grad_()
    assert not t.requires_grad and t.is_leaf  # unchanged by the failed call
    with pytest.raises(TypeError, match=r"floating-point"):
        mg.tensor(values, requires_grad=True)


def test_grad_with_respect_to_an_integer_tensor():
    x = _leaf([1.0, 2.0])
    n = mg.tensor([1, 2])
    y = mg.sum(x * x)
    with pytest.raises(ValueError, match=r"input 1 does not require gradients.*int64.*floating"):
        autograd.grad(y, [x, n])
    (g,) = autograd.grad(y, [x])  # the failed call freed nothing
    np.testing.assert_allclose(g.numpy(), [2.0, 4.0])


def test_grad_with_respect_to_a_float_tensor_without_requires_grad():
    x = _leaf([1.0])
    c = mg.tensor([2.0])
    with pytest.raises(ValueError, match=r"input 1 .*requires_grad_\(\)"):
        autograd.grad(mg.sum(x * c), [x, c])


# -- in-place updates ----------------------------------------------------------------------------

def test_setitem_on_a_leaf_that_requires_grad():
    x = _leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"__setitem__.*requires gradients.*no_grad"):
        x[0] = 5.0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0, 3.0])
    assert x.is_leaf and x.requires_grad


def test_inplace_operator_on_a_leaf_that_requires_grad():
    x = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"in-place.*no_grad"):
        x += 1.0
    np.testing.assert_array_equal(x.numpy(), [1.0, 2.0])
    with mg.no_grad():
        x += 1.0  # the documented way: allowed, and x stays a leaf
    np.testing.assert_array_equal(x.numpy(), [2.0, 3.0])
    assert x.is_leaf and x.requires_grad


def test_roll_takes_numpy_integer_shifts_and_refuses_float_ones():
    # a float shift in a tuple was truncated by NumPy, silently; a NumPy integer was refused
    x = mg.arange(5.0)
    np.testing.assert_array_equal(mg.roll(x, np.int64(2)).numpy(), np.roll(np.arange(5.0), 2))
    for shift in (1.5, (1.5,)):
        with pytest.raises(TypeError, match=r"roll: shift must be an int or a tuple of ints, "
                                            r"got \(?1\.5"):
            mg.roll(x, shift)
