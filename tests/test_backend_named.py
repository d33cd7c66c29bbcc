"""Named backends: "torch:cpu", "jax:cpu", "dask" work wherever a device name does.

Each library's cases skip, with the reason, where it is not installed (the ``backends`` extra
brings Dask; PyTorch and JAX come with the ``bench`` extra). ``pytest --backend NAME`` runs the
whole backend-parametrized suite on one of them.
"""

from __future__ import annotations

import importlib.util
import pickle
import subprocess
import sys

import numpy as np
import pytest

import multigrad as mg
from test_ci_scripts import ROOT

NAMED = {"torch:cpu": "torch", "jax:cpu": "jax", "dask": "dask"}


def _needs(library):
    return pytest.mark.skipif(importlib.util.find_spec(library) is None,
                              reason=f"{library} is not installed (pip install -e '.[backends]')")


PARAMS = [pytest.param(name, marks=_needs(lib), id=name) for name, lib in NAMED.items()]


def _native(name, values):
    """An array of the named backend's own library, made by that library."""
    if name == "torch:cpu":
        import torch
        return torch.asarray(np.asarray(values))
    if name == "jax:cpu":
        import jax.numpy as jnp
        return jnp.asarray(np.asarray(values))
    import dask.array as da
    return da.from_array(np.asarray(values), chunks=2)


@pytest.mark.parametrize("name", PARAMS)
def test_named_device_is_listed_and_resolves_every_spelling(name):
    device = mg.get_device(name)
    assert device.name == name
    assert device in mg.devices()
    assert mg.get_device(device.native) is device
    assert mg.backends.device_of(_native(name, [1.0, 2.0])) is device


@pytest.mark.parametrize("name", PARAMS)
def test_tensor_to_and_back_with_a_gradient(name):
    x = mg.tensor([1.0, 2.0, 3.0], dtype=mg.float64, device=name, requires_grad=True)
    assert x.device == name and x.device.library == NAMED[name]
    y = mg.sum(x.to("cpu") ** 2)  # a differentiable move: the cotangent moves back
    y.backward()
    assert x.grad.device is x.device
    np.testing.assert_allclose(mg.compute(x.grad)[0].numpy(), [2.0, 4.0, 6.0])


@pytest.mark.parametrize("name", PARAMS)
def test_asarray_of_a_foreign_array_lands_on_its_backend_without_conversion(name):
    native = _native(name, [1.0, 2.0, 3.0])
    t = mg.asarray(native)
    assert t.device is mg.get_device(name)
    assert type(t.data) is type(native)
    if name == "dask":  # not computed: the same graph
        assert t.data.name == native.name


@pytest.mark.parametrize("name", PARAMS)
def test_pickle_and_save_load_keep_the_device(name, tmp_path):
    x = mg.tensor([[1.0, -2.0], [3.0, 4.0]], dtype=mg.float64, device=name, requires_grad=True)
    back = pickle.loads(pickle.dumps(x))
    assert back.device is x.device and back.requires_grad
    np.testing.assert_array_equal(mg.compute(back)[0].numpy(), [[1.0, -2.0], [3.0, 4.0]])
    path = tmp_path / "x.mg"
    mg.save({"x": x}, path)
    loaded = mg.load(path)["x"]
    assert loaded.device is x.device and loaded.requires_grad  # once lost by a Dask compute
    moved = mg.load(path, device="cpu")["x"]
    np.testing.assert_array_equal(moved.numpy(), [[1.0, -2.0], [3.0, 4.0]])
    onto = mg.load(mg.save({"y": moved}, path) or path, device=name)["y"]
    assert onto.device is x.device


@pytest.mark.parametrize("name", PARAMS)
def test_a_pickled_tensor_loads_on_its_backend_in_a_fresh_process(name, tmp_path):
    x = mg.tensor([1.5, 2.5], dtype=mg.float64, device=name)
    path = tmp_path / "x.pickle"
    path.write_bytes(pickle.dumps(x))
    code = ("import pickle, sys, multigrad as mg; x = pickle.load(open(sys.argv[1], 'rb')); "
            "print(x.device.name, mg.compute(x)[0].numpy().tolist())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(None, 1) == [name, "[1.5, 2.5]\n"]


@pytest.mark.parametrize("name", PARAMS)
def test_native_scatter_add_accumulates_repeats_like_the_fallback(name):
    from multigrad.backends import _fallbacks
    device = mg.get_device(name)
    values = device.from_host(np.arange(12.0).reshape(6, 2))
    indices = device.from_host(np.array([0, 2, 0, 3, 2, 0]))
    native = device.scatter_add(4, indices, values)
    portable = _fallbacks.scatter_add(device.xp, 4, indices, values)
    expected = np.zeros((4, 2))
    np.add.at(expected, [0, 2, 0, 3, 2, 0], np.arange(12.0).reshape(6, 2))
    np.testing.assert_array_equal(device.to_host(native), expected)
    np.testing.assert_array_equal(device.to_host(portable), expected)


@pytest.mark.parametrize("name", PARAMS)
def test_native_random_generator_replays_from_a_state(name):
    gen = mg.get_device(name).random(7)
    state = gen.get_state()
    first = mg.get_device(name).to_host(gen.normal((5,), "float64"))
    gen.set_state(state)
    again = mg.get_device(name).to_host(gen.normal((5,), "float64"))
    np.testing.assert_array_equal(first, again)
    ints = mg.get_device(name).to_host(gen.integers(0, 10, (50,), "int64"))
    assert ints.min() >= 0 and ints.max() < 10
    assert type(gen).__module__.endswith(f"_{NAMED[name]}")  # the library's own generator


@pytest.mark.parametrize("name", PARAMS)
def test_negative_step_slices_and_assignment(name):
    x = mg.tensor(np.arange(6.0), device=name, requires_grad=True)
    y = x[::-2] * mg.asarray([1.0, 2.0, 3.0], device=name)
    mg.sum(y).backward()
    np.testing.assert_array_equal(mg.compute(x.grad)[0].numpy(), [0, 3, 0, 2, 0, 1])
    z = mg.asarray(x.detach())
    z[4:1:-1] = mg.asarray([7.0, 8.0, 9.0], device=name)
    np.testing.assert_array_equal(mg.compute(z)[0].numpy(), [0, 1, 9, 8, 7, 5])
    np.testing.assert_array_equal(mg.compute(x)[0].numpy(), np.arange(6.0))  # x untouched


def test_unknown_backend_names_say_which_exist():
    with pytest.raises(mg.DeviceError, match="'torch:cpu'"):
        mg.get_device("torch:tpu")
    with pytest.raises(mg.DeviceError, match="'dask:cuda'"):
        mg.get_device("dask:gpu")


@pytest.mark.parametrize("name", PARAMS)
def test_convolution_gradients_match_numpy(name):
    # col2im adds each kernel offset's cotangent into one array: in place where arrays allow
    # it, functionally where they are immutable (JAX)
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    grads = {}
    for device in ("cpu", name):
        x = mg.tensor(xs, device=device, requires_grad=True)
        w = mg.tensor(ws, device=device, requires_grad=True)
        y = mg.nn.functional.conv2d(x, w, padding=1, stride=2)
        mg.sum(y * y).backward()
        grads[device] = [t.numpy() for t in mg.compute(x.grad, w.grad)]
    for got, expected in zip(grads[name], grads["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", PARAMS)
def test_raw_arrays_of_the_backend_are_taken_wherever_arrays_are(name):
    # PyTorch tensors and Dask arrays have no __array_namespace__: every place that takes a
    # raw array must still know them as arrays (operators once raised "unsupported operand
    # type(s) for *: 'Tensor' and 'Tensor'" for a torch tensor, and compile and vmap refused it)
    raw = _native(name, [1.0, 2.0])
    x = mg.tensor([3.0, 5.0], dtype=mg.float64, device=name, requires_grad=True)
    expected = [3.0, 10.0]

    def value(t):
        return mg.compute(t)[0].numpy()

    for got in (x * raw, raw * x, mg.multiply(x, raw),
                mg.checkpoint(lambda a, b: a * b, x, raw),
                mg.vmap(lambda a, b: a * b)(x, raw)):
        np.testing.assert_allclose(value(got), expected)
    step = mg.compile(lambda a, b: a * b)
    for _ in range(2):  # recorded, then replayed
        np.testing.assert_allclose(value(step(x, raw)), expected)
    np.testing.assert_allclose(value(mg.grad(lambda a: mg.sum(a * raw))(x)), [1.0, 2.0])
    assert mg.result_type(raw, x) == mg.float64
    np.testing.assert_allclose(value(x[_native(name, [1, 0])]), [5.0, 3.0])
    y = mg.tensor([0.0, 0.0], dtype=mg.float64, device=name)
    y[0] = _native(name, 7.0)
    np.testing.assert_allclose(value(y), [7.0, 0.0])
    np.testing.assert_allclose(value(mg.nn.functional.mse_loss(x, raw)), (4.0 + 9.0) / 2)


@pytest.mark.parametrize("name", PARAMS)
def test_a_complex_matrix_times_a_real_one_and_its_gradients(name):
    # the standard promotes complex128 @ float64; PyTorch's @ operator refused it in the
    # gradient (complex cotangent times the real operand)
    rng = np.random.default_rng(3)
    zs = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    rs = rng.standard_normal((4, 2))
    grads = {}
    for device in ("cpu", name):
        z = mg.tensor(zs, device=device, requires_grad=True)
        r = mg.tensor(rs, device=device, requires_grad=True)
        mg.sum(mg.abs(z @ r) ** 2).backward()
        grads[device] = [t.numpy() for t in mg.compute(z.grad, r.grad)]
    for got, expected in zip(grads[name], grads["cpu"]):
        np.testing.assert_allclose(got, expected, rtol=1e-12)
