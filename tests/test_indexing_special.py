"""Indexing behaviour the op table cannot pin: accumulation of repeated indices, the portable
scatter-add, setitem's gradients and rules, errors, placement, and higher order."""

from __future__ import annotations

import math

import numpy as np
import pytest

import multigrad as mg
from multigrad.backends import _fallbacks


def _grad(f, *xs, create_graph=False):
    return mg.autograd.grad(f(*xs), list(xs), create_graph=create_graph)


def test_repeated_indices_accumulate(backend):
    x = backend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    g, = _grad(lambda x: mg.sum(x[[0, 0, 1]]), x)
    np.testing.assert_array_equal(g.numpy(), [2.0, 1.0, 0.0])
    assert g.dtype == x.dtype and g.device == x.device


@pytest.mark.parametrize("index", [[2, 2, 2, 0], np.array([[1, 1], [1, 2]]), [-1, 2]])
def test_repeated_indices_accumulate_in_take_and_getitem(backend, index):
    x = backend.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    expected = np.zeros((3, 2))
    np.add.at(expected, np.asarray(index), 1.0)
    for f in (lambda x: mg.sum(x[index]),
              lambda x: mg.sum(mg.take(x, np.ravel(index), axis=0))):
        g, = _grad(f, x)
        np.testing.assert_array_equal(g.numpy(), expected)


@pytest.mark.parametrize("m, width", [(0, 1), (7, 1), (2000, 3)])
def test_fallback_scatter_add_equals_add_at(m, width):
    rng = np.random.default_rng(1)
    n = 5
    indices = rng.integers(0, n, size=m)  # many repeats
    values = rng.standard_normal((m, width))
    expected = np.zeros((n, width))
    np.add.at(expected, indices, values)
    got = _fallbacks.scatter_add(mg.get_device("cpu").xp, n, indices, values)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    # and through the public function on every strict device, which uses the fallback
    for name in ("strict:CPU_DEVICE", "strict:device1"):
        out = mg.scatter_add(mg.tensor(values, device=name), mg.tensor(indices, device=name), n)
        assert out.device == mg.get_device(name)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_setitem_gradients(backend):
    x = backend.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    y = backend.tensor([10.0, 20.0], requires_grad=True)
    seed = backend.tensor(np.arange(1.0, 7.0).reshape(3, 2))
    z = mg.setitem(x, 1, y)
    np.testing.assert_array_equal(z.numpy(), [[0, 1], [10, 20], [4, 5]])
    gx, gy = mg.autograd.grad(mg.sum(z * seed), [x, y])
    np.testing.assert_array_equal(gx.numpy(), [[1, 2], [0, 0], [5, 6]])  # zero where written
    np.testing.assert_array_equal(gy.numpy(), [3, 4])  # the seed at x[1]
    assert gx.device == x.device and gy.device == y.device


def test_setitem_operator_rebinds_and_records(backend):
    x = backend.tensor(np.zeros(3), requires_grad=True)
    y = backend.tensor([2.0], requires_grad=True)
    z = x * 1.0
    z[np.array([0, 2])] = y * 3.0  # a non-leaf: recorded
    np.testing.assert_array_equal(z.numpy(), [6, 0, 6])
    gx, gy = mg.autograd.grad(mg.sum(z), [x, y])
    np.testing.assert_array_equal(gx.numpy(), [0, 1, 0])
    np.testing.assert_array_equal(gy.numpy(), [6])


def test_setitem_on_a_leaf_needing_gradients(backend):
    x = backend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x[0] = 5.0
    with mg.no_grad():
        x[0] = 5.0
        x[x > 2.5] = 0.0
    np.testing.assert_array_equal(x.numpy(), [0, 2, 0])
    assert x.requires_grad and x.is_leaf


def test_advanced_setitem_without_native_support():
    # array_api_strict has no integer-array assignment: the portable path must give NumPy's
    for name in ("cpu", "strict:device1"):
        x = mg.tensor(np.arange(12.0).reshape(3, 4), device=name)
        z = mg.setitem(x, (slice(None), [3, 0]), mg.tensor([[1.0, 2.0]], device=name))
        expected = np.arange(12.0).reshape(3, 4)
        expected[:, [3, 0]] = [[1.0, 2.0]]
        np.testing.assert_array_equal(z.numpy(), expected)
        i = mg.tensor(np.arange(12).reshape(3, 4), device=name)
        z = mg.setitem(i, ([0, 2], 1), 7)
        assert z.dtype == mg.int64 and z.numpy()[[0, 2], 1].tolist() == [7, 7]


@pytest.mark.parametrize("shape, key", [
    ((3, 4), [0, 0, 2]),
    ((3, 4), (slice(None), [1, 1])),
    ((3, 2, 4), (np.array([[0], [2]]), 0, [1, 1, 3])),
    ((3, 4), (Ellipsis, None, [1])),
    ((3, 4), (slice(None, None, -1), np.array([True, False, True, True]))),
])
def test_index_stays_on_device1(shape, key):
    host = np.arange(float(np.prod(shape))).reshape(shape)
    x = mg.tensor(host, device="strict:device1", requires_grad=True)
    y = x[key]
    assert y.device == x.device
    numpy_key = tuple(np.asarray(k) if isinstance(k, list) else k for k in key) \
        if isinstance(key, tuple) else np.asarray(key)
    np.testing.assert_array_equal(y.numpy(), host[numpy_key])
    g, = mg.autograd.grad(mg.sum(y), [x])
    assert g.device == x.device
    expected = np.zeros(shape)
    np.add.at(expected, numpy_key, 1.0)
    np.testing.assert_array_equal(g.numpy(), expected)


@pytest.mark.parametrize("key, message", [
    (5, "getitem: index 5 is out of bounds for axis 0 of size 3"),
    ((0, -5), "getitem: index -5 is out of bounds for axis 1 of size 4"),
    ([1, 3], "getitem: index 3 is out of bounds for axis 0 of size 3"),
    ((0, 0, 0), "too many indices"),
    ((Ellipsis, Ellipsis), "single ellipsis"),
    (np.array([True, False]), "does not match"),
    (np.array([0.5]), "integer or boolean dtype"),
    ("a", "not a valid index"),
])
def test_index_errors_name_op_index_and_shape(key, message):
    x = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match=message.replace("(", r"\(")):
        x[key]


@pytest.mark.parametrize("key, axis", [(slice(None, None, 0), 0),
                                       ((slice(None), slice(1, None, 0)), 1)])
def test_a_slice_of_step_zero_names_the_op_and_the_axis(key, axis, backend64):
    # it said only "slice step cannot be zero" (Python's), and on Dask's rows of unknown
    # number it failed in Dask's chunk arithmetic
    x = backend64.tensor(np.zeros((3, 4)))
    for op, index in (("getitem", lambda: x[key]), ("setitem", lambda: mg.setitem(x, key, 1.0))):
        with pytest.raises(ValueError, match=rf"{op}: the slice .* along axis {axis} has step 0"):
            index()


def test_take_errors():
    x = mg.tensor(np.zeros((3, 4)))
    with pytest.raises(IndexError, match="take: index 4 is out of bounds for axis 1 of size 4"):
        mg.take(x, [0, 4], axis=1)
    with pytest.raises(ValueError, match="axis is required"):
        mg.take(x, [0])
    with pytest.raises(IndexError, match="take_along_axis: index -4"):
        mg.take_along_axis(x, np.full((3, 1), -4), axis=0)


def test_second_order_through_indexing(backend64):
    """grad of grad: the scatter of a gather's backward is itself differentiable."""
    a = np.arange(1.0, 7.0).reshape(2, 3)
    x = backend64.tensor(a, requires_grad=True)
    idx = [2, 0, 2]
    for f, expected in [
        (lambda x: mg.sum(x[:, idx] ** 3), lambda: _hess_diag(a, (slice(None), idx))),
        (lambda x: mg.sum(mg.take(x, idx, axis=1) ** 3), lambda: _hess_diag(a, (slice(None), idx))),
        (lambda x: mg.sum(x[1:, ::2] ** 3), lambda: _hess_diag(a, (slice(1, None), slice(None, None, 2)))),
    ]:
        g, = _grad(f, x, create_graph=True)
        h, = mg.autograd.grad(mg.sum(g), [x])
        np.testing.assert_allclose(h.numpy(), expected(), rtol=1e-12)


def _hess_diag(a, key):
    """Row sums of the Hessian of sum(a[key] ** 3): 6 a, once per time an element is picked."""
    out = np.zeros_like(a)
    np.add.at(out, key, 6 * a[key])
    return out


def test_broadcast_shapes():
    assert mg.broadcast_shapes((3, 1), (1, 4), (2, 1, 1)) == (2, 3, 4)
    assert mg.broadcast_shapes() == ()
    assert mg.broadcast_shapes((0,), (1,)) == (0,)
    assert mg.broadcast_shapes((1, 3), (1, 1, 3)) == (1, 1, 3)  # size 1 everywhere stays 1
    with pytest.raises(ValueError, match="do not broadcast"):
        mg.broadcast_shapes((3,), (4,))
    # the dimension is counted from the end, as NumPy does
    with pytest.raises(ValueError, match=r"sizes \[2, 4\] in dimension -2"):
        mg.broadcast_shapes((2, 3), (4, 3))


def test_expand_dims_and_squeeze_errors():
    x = mg.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError, match="out of range"):
        mg.expand_dims(x, 3)
    with pytest.raises(ValueError, match="repeats"):
        mg.expand_dims(x, (0, -4))
    with pytest.raises(ValueError, match="not 1"):
        mg.squeeze(x, 0)


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
def test_setitem_with_an_empty_index_array_writes_nothing(device):
    x = mg.tensor([[1.0, 2.0, 3.0, 4.0]], device=device, requires_grad=True)
    y = x * 1.0
    empty = mg.zeros((0,), dtype=mg.int64, device=device)
    y[empty, empty] = 7.0
    np.testing.assert_array_equal(y.numpy(), [[1.0, 2.0, 3.0, 4.0]])
    (g,) = mg.autograd.grad(mg.sum(y * 2.0), [x])
    np.testing.assert_array_equal(g.numpy(), [[2.0, 2.0, 2.0, 2.0]])


_A = np.arange(1.0, 13.0).reshape(3, 4)  # distinct and nonzero: a gradient of x says where
_ROWS = np.array([True, False, True])
_COLUMNS = np.array([True, False, True, True])


@pytest.mark.parametrize("key", [
    pytest.param([True, False, True], id="list-of-bools"),  # a mask, not the indices 1, 0, 1
    pytest.param(True, id="True"),  # a 0-d boolean: a new axis of length 1 or 0
    pytest.param(False, id="False"),
    pytest.param(np.array(True), id="0-d-bool-array"),
    pytest.param(np.array(1), id="0-d-int-array"),  # one row, as the int 1 picks it
    pytest.param([], id="empty-list"),  # picks nothing (it has no dtype to go by)
    pytest.param((slice(None), []), id="columns-empty-list"),
    pytest.param((Ellipsis, _COLUMNS), id="ellipsis-mask"),
    pytest.param((1, Ellipsis, _COLUMNS), id="int-empty-ellipsis-mask"),
    pytest.param((_ROWS, Ellipsis), id="mask-ellipsis"),
    pytest.param((Ellipsis, 1, None), id="ellipsis-int-none"),
    pytest.param((-3, 3), id="ints-at-minus-n-and-n-minus-1"),  # the bounds, both in
])
def test_keys_pick_and_differentiate_as_numpy(backend, key):
    x = backend.tensor(_A, requires_grad=True)
    expected = _A[key]
    np.testing.assert_array_equal(x[key].numpy(), expected)  # the shape too
    # sum(y**2 / 2) sends x's own value to each element picked (no weights of y's shape: on
    # Dask it is unknown)
    g, = _grad(lambda x: mg.sum(x[key] ** 2) / 2, x)
    expected_g = np.zeros_like(_A)
    np.add.at(expected_g, key, expected)
    np.testing.assert_array_equal(g.numpy(), expected_g)


@pytest.mark.parametrize("key, value", [
    # a key of one item, as `x[mask,] = 7` passes it
    pytest.param((_A % 3 == 1,), 7.0, id="tuple-of-a-mask-scalar"),
    pytest.param((np.array([2, 0]),), np.arange(1.0, 9.0).reshape(2, 4), id="tuple-of-ints-rows"),
    # a mask of x's shape and a scalar: where(mask, 7, x)
    pytest.param(_A % 3 == 1, 7.0, id="mask-scalar"),
    # the same mask, one value per element it picks
    pytest.param(_A % 3 == 1, np.arange(1.0, 5.0), id="mask-values"),
    pytest.param(_ROWS, 7.0, id="mask-rows-scalar"),  # whole rows written
    pytest.param(np.array([[2, 0, 2, 2], [0, 0, 0, 0], [2, 2, 2, 2]]), 7.0,
                 id="ints-of-x-shape-scalar"),  # not a mask: rows 0 and 2, many times over
])
def test_setitem_keys_write_and_differentiate_as_numpy(backend, key, value):
    x = backend.tensor(_A, requires_grad=True)
    v = backend.tensor(value, requires_grad=True)
    seed = np.arange(1.0, 13.0).reshape(3, 4)
    z = mg.setitem(x, key, v)
    expected = _A.copy()
    expected[key] = value
    np.testing.assert_array_equal(z.numpy(), expected)
    gx, gv = mg.autograd.grad(mg.sum(z * backend.tensor(seed)), [x, v])
    written = np.zeros(_A.shape, dtype=bool)
    written[key] = True
    np.testing.assert_array_equal(gx.numpy(), np.where(written, 0.0, seed))
    # the distinct places written: each gives its cotangent to the value that stays there
    np.testing.assert_array_equal(gv.numpy(), seed[written].sum() if np.ndim(value) == 0
                                  else seed[key])


def test_take_along_axis_takes_along_the_last_axis_by_default(backend):
    a = np.arange(1.0, 25.0).reshape(2, 3, 4)  # three axes: the last is not the second either
    x = backend.tensor(a, requires_grad=True)
    indices = np.array([[[3, 3], [0, -1], [1, 2]], [[-4, 0], [2, 2], [3, 1]]])
    np.testing.assert_array_equal(mg.take_along_axis(x, indices).numpy(),
                                  np.take_along_axis(a, indices, axis=-1))
    g, = _grad(lambda x: mg.sum(mg.take_along_axis(x, indices)), x)
    expected = np.zeros_like(a)
    for row in np.ndindex(indices.shape[:-1]):
        np.add.at(expected[row], indices[row], 1.0)
    np.testing.assert_array_equal(g.numpy(), expected)


@pytest.mark.parametrize("key, value", [
    pytest.param(1, [5.0, 6.0, 7.0, 8.0], id="list"),
    pytest.param(1, np.arange(5.0, 9.0), id="numpy-array"),  # moved to x's device
    pytest.param((slice(None), 0), np.array([7, 8, 9]), id="numpy-int-array"),  # cast to x's dtype
    pytest.param((slice(None), 1), [1, 2, 3], id="list-of-ints"),
    pytest.param(_A % 3 == 1, 7, id="python-int-at-a-mask"),
])
def test_setitem_values_of_every_kind_take_x_dtype_and_device(backend, key, value):
    x = backend.tensor(_A)
    z = mg.setitem(x, key, value)
    assert z.dtype == x.dtype and z.device == x.device
    expected = _A.copy()
    expected[key] = value
    np.testing.assert_array_equal(z.numpy(), expected)


@pytest.mark.parametrize("shape, indices, axis", [
    pytest.param((1, 4), [[3, 0], [1, 1], [-1, 2]], 1, id="x-broadcast-along-rows"),
    pytest.param((3, 4), [[3, 0]], 1, id="indices-broadcast-along-rows"),
    pytest.param((2, 1, 3), [[[2], [0]]], 2, id="both-broadcast-3d"),
    pytest.param((3, 1), [[0, 0, -1]], 0, id="x-broadcast-along-columns"),
])
def test_take_along_axis_broadcasts_as_numpy(backend, shape, indices, axis):
    # x and the indices broadcast against each other on every axis but `axis`: the gradient
    # sums what each element of x gave to the result
    a = np.arange(1.0, 1.0 + math.prod(shape)).reshape(shape)
    indices = np.array(indices)
    x = backend.tensor(a, requires_grad=True)
    expected = np.take_along_axis(a, indices, axis=axis)
    np.testing.assert_array_equal(mg.take_along_axis(x, indices, axis=axis).numpy(), expected)
    weights = np.arange(1.0, expected.size + 1).reshape(expected.shape)
    g, = _grad(lambda x: mg.sum(mg.take_along_axis(x, indices, axis=axis)
                                * backend.tensor(weights)), x)
    # d result / d x[k], one basis vector at a time (the op is linear)
    expected_g = [np.sum(weights * np.take_along_axis(basis.reshape(shape), indices, axis=axis))
                  for basis in np.eye(a.size)]
    np.testing.assert_array_equal(g.numpy(), np.reshape(expected_g, shape))


@pytest.mark.parametrize("values_shape, indices, error, message", [
    ((), [0], ValueError, "scatter_add: values needs a first dimension to scatter"),
    ((2, 3), [[0, 1]], ValueError, "indices must be 1-D with one entry per row of values"),
    ((2, 3), [0, 1, 2], ValueError, "indices must be 1-D with one entry per row of values"),
    ((2, 3), [0, 3], IndexError, "scatter_add: index 3 is out of bounds for axis 0 of size 3"),
    ((2, 3), [-4, 0], IndexError, "scatter_add: index -4 is out of bounds for axis 0 of size 3"),
], ids=["0-d-values", "2-d-indices", "an-index-too-many", "index-n", "index-minus-n-minus-1"])
def test_scatter_add_errors(values_shape, indices, error, message):
    with pytest.raises(error, match=message):
        mg.scatter_add(mg.tensor(np.ones(values_shape)), indices, 3)


def test_scatter_add_accepts_the_bounds_minus_n_and_n_minus_1():
    out = mg.scatter_add(mg.tensor([[1.0], [2.0], [4.0]]), [2, -3, -1], 3)
    np.testing.assert_array_equal(out.numpy(), [[2.0], [0.0], [5.0]])


@pytest.mark.parametrize("as_tuple", [False, True], ids=["mask", "tuple-of-a-mask"])
def test_a_scalar_written_at_a_mask_of_x_shape_compiles(as_tuple):
    # it is where(mask, 0, y), of y's shape whatever the mask holds: a program can replay it
    # (positions of the mask's True elements would be of a number known only from the values)
    def clip_negative(x):
        y = x * 1.0
        negative = y < 0
        y[(negative,) if as_tuple else negative] = 0.0
        return y

    step = mg.compile(clip_negative)
    for sign in (1.0, -1.0, 1.0):  # new masks every call
        a = sign * np.array([[1.0, -2.0], [-3.0, 4.0]])
        np.testing.assert_array_equal(step(mg.tensor(a)).numpy(), np.maximum(a, 0.0))
    assert step.cache_info().hits == 2


@pytest.mark.parametrize("device", ["cpu", "strict:device1"])
@pytest.mark.parametrize("x, value", [
    pytest.param(np.arange(6.0).reshape(2, 3), [-1.5, 0.25], id="fractional"),
    pytest.param(np.zeros((2, 3), dtype=bool), [True, False], id="bool"),
    pytest.param(np.arange(6.0).reshape(2, 3) * (1 + 1j), [0.5 - 2j, 1j], id="complex"),
])
def test_advanced_setitem_keeps_values_of_every_dtype_without_native_support(device, x, value):
    # array_api_strict writes through a scatter-add, which must not round the values (only
    # booleans are counted as integers there)
    z = mg.setitem(mg.tensor(x, device=device), (slice(None), [2, 0]),
                   mg.tensor(np.array(value), device=device))
    expected = x.copy()
    expected[:, [2, 0]] = value
    assert z.numpy().dtype == x.dtype
    np.testing.assert_array_equal(z.numpy(), expected)


@pytest.mark.parametrize("shape, key", [
    pytest.param((0, 3), slice(1, None), id="rows-of-none"),
    pytest.param((0, 3), (slice(None), [0, 2]), id="columns-of-no-rows"),
    pytest.param((2, 0), (slice(None, None, -1), slice(None, None, -1)), id="reversed-no-columns"),
    pytest.param((3, 4), (slice(3, 1), Ellipsis), id="an-empty-slice"),
])
def test_selections_from_empty_axes_as_numpy(backend, shape, key):
    # an empty slice becomes slice(0, 0, 1), in bounds even on an axis of length 0 (where
    # array_api_strict refuses a start of -1); a cotangent of no rows is not reshaped to
    # (-1, 0), which no library can infer
    a = np.arange(1.0, 1.0 + math.prod(shape)).reshape(shape)
    x = backend.tensor(a, requires_grad=True)
    np.testing.assert_array_equal(x[key].numpy(), a[key])
    g, = _grad(lambda x: mg.sum(x[key] ** 2), x)
    np.testing.assert_array_equal(g.numpy(), np.zeros(shape))
    written = a.copy()
    written[key] = 7.0
    np.testing.assert_array_equal(mg.setitem(x, key, 7.0).numpy(), written)


@pytest.mark.parametrize("key", [
    pytest.param((slice(None), [2, 0]), id="middle-then-whole-axis"),
    pytest.param((slice(None), [2, 0], slice(1, 3)), id="middle-then-slice"),
    pytest.param((slice(None), np.array([[0], [2]]), [1, 3]), id="adjacent-broadcast-in-the-middle"),
    pytest.param((slice(None), 1, [0, 3]), id="int-and-array-in-the-middle"),
    pytest.param(([1, 0], slice(None), [3, 1]), id="apart-go-first"),
])
def test_index_dimensions_take_numpy_placement(backend, key):
    # adjacent index arrays put their dimensions where they stand, apart ones put them first;
    # the other axes keep their order on both sides
    a = np.arange(1.0, 25.0).reshape(2, 3, 4)
    x = backend.tensor(a, requires_grad=True)
    expected = a[key]
    np.testing.assert_array_equal(x[key].numpy(), expected)
    weights = np.arange(1.0, expected.size + 1).reshape(expected.shape)
    g, = _grad(lambda x: mg.sum(x[key] * backend.tensor(weights)), x)
    expected_g = np.zeros_like(a)
    np.add.at(expected_g, key, weights)
    np.testing.assert_array_equal(g.numpy(), expected_g)
