"""The dispatcher: device resolution and caching, and the extension kernels (scatter-add,
where-or-zero, random numbers, host transfers, synchronisation) with their portable fallbacks.
"""

from __future__ import annotations

import numpy as np
import pytest

import array_api_strict
import multigrad as mg
from multigrad.backends import _fallbacks, device_of

STRICT = ("strict:CPU_DEVICE", "strict:device1", "strict:device2")


# -- resolution and caching ----------------------------------------------------------------------

@pytest.mark.parametrize("spec, name", [
    ("cpu", "cpu"), ("numpy", "cpu"),
    ("strict:device1", "strict:device1"),
    ("array_api_strict:device2", "strict:device2"),
    ("strict", "strict:CPU_DEVICE"),
])
def test_device_resolution_is_cached(spec, name):
    dev = mg.get_device(spec)
    assert dev.name == name
    assert mg.get_device(spec) is dev  # the same object twice: devices compare by identity
    assert mg.get_device(name) is dev
    assert mg.get_device(dev) is dev
    assert dev == spec and dev == name and hash(dev) == hash(mg.get_device(name))


def test_distinct_devices_differ():
    assert mg.get_device("strict:device1") is not mg.get_device("strict:device2")
    assert mg.get_device("strict:device1") != "strict:device2"
    assert mg.get_device("cpu") != "not a device"


def test_native_device_objects_resolve():
    native = array_api_strict.Device("device1")
    assert mg.get_device(native) is mg.get_device("strict:device1")
    assert mg.get_device("strict:device1").native == native


def test_device_of_numpy_and_strict_arrays():
    assert device_of(np.ones(3)) is mg.get_device("cpu")
    assert device_of(np.float64(1.0) * np.ones(())) is mg.get_device("cpu")
    for spec in STRICT:
        dev = mg.get_device(spec)
        arr = array_api_strict.asarray([1.0, 2.0], device=dev.native)
        assert device_of(arr) is dev
        assert device_of(arr) is dev  # cached path gives the same answer


def test_device_attributes():
    cpu = mg.get_device("cpu")
    assert cpu.library == "numpy" and str(cpu) == "cpu" and repr(cpu) == "Device('cpu')"
    d1 = mg.get_device("strict:device1")
    assert d1.library == "array_api_strict" and d1.xp is array_api_strict
    assert d1.default_dtype() == mg.float64
    assert d1.native_dtype(mg.float32) == array_api_strict.float32
    with pytest.raises(TypeError, match="not supported"):
        d1.native_dtype("float16")


def test_device_pickles_to_the_cached_object():
    import pickle
    dev = mg.get_device("strict:device2")
    assert pickle.loads(pickle.dumps(dev)) is dev


# -- scatter-add ---------------------------------------------------------------------------------

def _reference(n, idx, vals):
    out = np.zeros((n,) + vals.shape[1:], dtype=vals.dtype)
    np.add.at(out, idx, vals)
    return out


@pytest.mark.parametrize("value_shape", [(), (3,), (2, 2)])
@pytest.mark.parametrize("m", [1, 7, 2500])  # 2500 spans several chunks of the fallback
def test_scatter_add_native_and_fallback_match_add_at(value_shape, m):
    rng = np.random.default_rng(m)
    n = 6
    idx = rng.integers(0, n - 1, size=m)  # the last row never hit: it must stay zero
    idx[: min(m, 3)] = 2  # repeats are guaranteed
    # integer-valued floats make every summation order exact, so equality is exact
    vals = rng.integers(-50, 50, size=(m,) + value_shape).astype(np.float64)
    expected = _reference(n, idx, vals)
    cpu = mg.get_device("cpu")
    np.testing.assert_array_equal(cpu.scatter_add(n, idx, vals), expected)
    np.testing.assert_array_equal(_fallbacks.scatter_add(cpu.xp, n, idx, vals), expected)
    for spec in STRICT:
        dev = mg.get_device(spec)
        got = dev.scatter_add(n, dev.from_host(idx), dev.from_host(vals))  # strict: fallback
        assert device_of(got) is dev
        np.testing.assert_array_equal(dev.to_host(got), expected)


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-5)])
def test_scatter_add_fallback_on_random_values(dtype, rtol):
    rng = np.random.default_rng(1)
    idx = rng.integers(0, 4, size=3000)
    vals = rng.standard_normal((3000, 5)).astype(dtype)
    expected = _reference(4, idx, vals)
    got = _fallbacks.scatter_add(mg.get_device("cpu").xp, 4, idx, vals)
    assert got.dtype == vals.dtype
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=rtol * 10)


# -- where_or_zero --------------------------------------------------------------------------------

def test_where_or_zero_is_where_with_zero(backend):
    # NumPy's kernel ands the values' bits with a mask; it must equal where exactly, with
    # where's +0.0 where the mask is false, and inf and nan dropped there
    rng = np.random.default_rng(0)
    values = rng.standard_normal((64, 33)).astype(backend.dtype_name)
    mask = rng.standard_normal((64, 33)) > 0
    dev = backend.device
    bad = values.copy()
    bad[0, :4] = [np.inf, -np.inf, np.nan, 1.0]
    mask[0, :4] = [False, True, False, True]
    # the last three broadcast the mask, broadcast the values, and take 0-d ones
    for v, m in ((values, mask), (bad, mask), (values, mask[:1]), (bad[:1], mask),
                 (bad[0, 0], mask[0, 0])):
        got = dev.to_host(dev.where_or_zero(dev.from_host(m), dev.from_host(v)))
        want = np.where(m, v, 0.0).astype(v.dtype)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert not np.signbit(got[~np.broadcast_to(m, got.shape)]).any()


def test_where_positive_is_where_with_zero(backend):
    # CuPy's kernel is one pass of its own; it must equal where exactly, nan and -0.0 included
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 33)).astype(backend.dtype_name)
    x[0, :4] = [np.nan, -0.0, 0.0, np.inf]
    values = rng.standard_normal((64, 33)).astype(backend.dtype_name)
    values[1, :2] = [-0.0, np.inf]
    dev = backend.device
    for a, v in ((x, values), (x[:1], values), (x, values[:1])):  # the last two broadcast
        got = dev.to_host(dev.where_positive(dev.from_host(a), dev.from_host(v)))
        want = np.where(a > 0, v, 0.0).astype(v.dtype)
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)
        assert (np.signbit(got) == np.signbit(want)).all()


@pytest.mark.parametrize("shape, n", [((5, 7), 1), ((2, 3, 4), 2), ((2, 3, 4), 1),
                                      ((4, 6), 2), ((0, 3), 1), ((3, 1, 5), 1),
                                      ((1100, 1000), 1), ((1024, 2, 512), 1)])
def test_sum_leading_is_sum(backend, shape, n):
    # CuPy's is a matrix-vector product with a vector of ones from a million elements on
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(backend.dtype_name)
    want = np.sum(x.astype(np.float64), axis=tuple(range(n))).astype(x.dtype)
    tol = {"rtol": 1e-5, "atol": 2e-3} if x.dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-9}
    dev = backend.device
    transposed = dev.xp.permute_dims(dev.from_host(np.swapaxes(x, 0, -1).copy()),
                                     tuple(range(x.ndim))[::-1])  # not contiguous
    for array in (dev.from_host(x), transposed):
        got = dev.to_host(dev.sum_leading(array, n))
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_allclose(got, want, **tol)


def test_negative_zero_keeps_its_sign_on_the_way_to_the_device(backend):
    # CuPy 14.2 turns -0.0 into 0.0 when it makes a 0-d array from a NumPy one or a float
    made = {"a 0-d NumPy array": backend.tensor(np.array(-0.0)),
            "a NumPy array": backend.tensor(np.array([1.0, -0.0])),
            "a Python float": mg.asarray(-0.0, device=backend.device),
            "a Python complex": mg.asarray(complex(-0.0, -0.0), device=backend.device),
            "a list": mg.asarray([1.0, -0.0], device=backend.device),
            "mg.tensor of a float": mg.tensor(-0.0, device=backend.device)}
    for how, t in made.items():
        zero = np.asarray(t.numpy()).reshape(-1)[-1]
        assert zero == 0 and np.signbit(zero.real), f"-0.0 from {how} lost its sign"
    assert mg.asarray(2.5, device=backend.device).shape == ()


def test_where_or_zero_of_integers_is_where():
    dev = mg.get_device("cpu")
    values, mask = np.arange(-3, 3), np.array([True, False] * 3)
    got = dev.where_or_zero(mask, values)
    np.testing.assert_array_equal(got, np.where(mask, values, 0))


# -- random numbers ------------------------------------------------------------------------------

def _generators():
    cpu = mg.get_device("cpu")
    d1 = mg.get_device("strict:device1")
    return [
        pytest.param(lambda seed: (_fallbacks.Counter64Generator(cpu.xp, cpu.native, seed), cpu),
                     id="fallback-numpy"),
        pytest.param(lambda seed: (d1.random(seed), d1), id="fallback-strict-device1"),
        pytest.param(lambda seed: (cpu.random(seed), cpu), id="native-numpy"),
    ]


@pytest.mark.parametrize("make", _generators())
def test_random_is_reproducible_per_seed(make):
    gen_a, dev = make(7)
    gen_b, _ = make(7)
    gen_c, _ = make(8)
    f64 = dev.native_dtype(mg.float64)
    a = dev.to_host(gen_a.normal((50,), f64))
    b = dev.to_host(gen_b.normal((50,), f64))
    c = dev.to_host(gen_c.normal((50,), f64))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    # a stream moves on: the next draw differs from the first
    assert not np.array_equal(a, dev.to_host(gen_a.normal((50,), f64)))


@pytest.mark.parametrize("make", _generators())
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_distributions(make, dtype):
    gen, dev = make(123)
    native = dev.native_dtype(dtype)
    n = 20000
    normal = gen.normal((n,), native, mean=2.0, std=3.0)
    uniform = gen.uniform((n,), native, -1.0, 4.0)
    assert device_of(normal) is dev and device_of(uniform) is dev
    normal, uniform = dev.to_host(normal), dev.to_host(uniform)
    assert normal.dtype == dtype and uniform.dtype == dtype and normal.shape == (n,)
    # the standard error of the mean is 3 / sqrt(n) ~ 0.02; five of them is a safe bound
    assert abs(normal.mean() - 2.0) < 0.11 and abs(normal.std() - 3.0) < 0.08
    assert np.all(np.isfinite(normal))
    assert uniform.min() >= -1.0 and uniform.max() < 4.0
    assert abs(uniform.mean() - 1.5) < 0.06 and abs(uniform.std() - 5 / np.sqrt(12)) < 0.04
    # the quartiles of a normal sit at mean -+ 0.674 std
    q1, q3 = np.quantile(normal, [0.25, 0.75])
    assert abs(q1 - (2.0 - 0.674 * 3)) < 0.12 and abs(q3 - (2.0 + 0.674 * 3)) < 0.12


@pytest.mark.parametrize("make", _generators())
def test_random_integers_in_range(make):
    gen, dev = make(5)
    ints = dev.to_host(gen.integers(3, 9, (6000,), dev.native_dtype(mg.int64)))
    assert ints.dtype == np.int64 and ints.min() >= 3 and ints.max() <= 8
    counts = np.bincount(ints - 3, minlength=6)
    assert len(counts) == 6 and np.all(np.abs(counts - 1000) < 150)  # every value, evenly


@pytest.mark.parametrize("make", _generators())
def test_random_shapes(make):
    gen, dev = make(0)
    f32 = dev.native_dtype(mg.float32)
    assert tuple(gen.normal((2, 3), f32).shape) == (2, 3)
    assert tuple(gen.normal((3,), f32).shape) == (3,)  # an odd count for Box-Muller
    assert tuple(gen.uniform((), f32).shape) == ()


# -- host transfers and synchronisation ----------------------------------------------------------

@pytest.mark.parametrize("spec", ("cpu",) + STRICT)
def test_host_round_trip(spec):
    dev = mg.get_device(spec)
    host = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    on_device = dev.from_host(host)
    assert device_of(on_device) is dev
    back = dev.to_host(on_device)
    assert isinstance(back, np.ndarray) and back.dtype == np.float32
    np.testing.assert_array_equal(back, host)
    np.testing.assert_array_equal(dev.to_host(dev.from_host([[1, 2], [3, 4]])), [[1, 2], [3, 4]])


@pytest.mark.parametrize("spec", ("cpu",) + STRICT)
def test_synchronize_is_callable(spec):
    assert mg.get_device(spec).synchronize() is None
