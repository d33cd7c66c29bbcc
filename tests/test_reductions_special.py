"""Reductions, sorting, sets and dtype functions at their special points.

Pinned behaviour: ties in max/min split the gradient evenly; prod and cumulative_prod are exact
with zeros (to second order); std's gradient is finite; index, count and set results carry no
gradient; the data type functions follow the standard on multigrad's dtypes (checked against
array_api_strict, the reference implementation).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import multigrad as mg


def _grad(y, x, create_graph=False):
    return mg.autograd.grad(y, x, create_graph=create_graph)[0]


def _host(t):
    return np.asarray(t.numpy(), dtype=np.float64)


# -- max / min ties ----------------------------------------------------------------------------

@pytest.mark.parametrize("reduce, values, expected", [
    (mg.max, [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    (mg.min, [2.0, -1.0, 5.0, -1.0], [0.0, 0.5, 0.0, 0.5]),
    (mg.max, [4.0, 4.0, 4.0], [1 / 3, 1 / 3, 1 / 3]),
])
def test_ties_split_evenly(backend, reduce, values, expected):
    x = backend.tensor(values, requires_grad=True)
    g = _grad(reduce(x), x)
    assert g.dtype == x.dtype and g.device == x.device
    np.testing.assert_allclose(_host(g), expected, rtol=1e-6)


def test_ties_split_per_slice_and_forward_mode_agrees(backend):
    x = backend.tensor([[1.0, 3.0, 3.0], [5.0, 2.0, 5.0]], requires_grad=True)
    g = _grad(mg.sum(mg.max(x, axis=1)), x)
    np.testing.assert_allclose(_host(g), [[0, 0.5, 0.5], [0.5, 0, 0.5]], rtol=1e-6)
    # the JVP is the transpose: the mean of the tied tangents
    u = backend.tensor([[9.0, 2.0, 4.0], [1.0, 7.0, 3.0]])
    _, t = mg.jvp(lambda a: mg.max(a, axis=1), [x], [u])
    np.testing.assert_allclose(_host(t), [3.0, 2.0], rtol=1e-6)


# -- prod with zeros ---------------------------------------------------------------------------

def test_prod_gradient_without_zeros(backend):
    x = backend.tensor([2.0, -3.0, 0.5], requires_grad=True)
    np.testing.assert_allclose(_host(_grad(mg.prod(x), x)), [-1.5, 1.0, -6.0], rtol=1e-6)


def test_prod_gradient_with_one_zero(backend):
    x = backend.tensor([2.0, 0.0, 3.0, -0.5], requires_grad=True)
    g = _grad(mg.prod(x), x)
    # the product of the others at the zero, and 0 elsewhere
    np.testing.assert_array_equal(_host(g), [0.0, -3.0, 0.0, 0.0])


def test_prod_gradient_with_two_zeros(backend):
    x = backend.tensor([[2.0, 0.0, 0.0], [1.0, 0.0, 4.0]], requires_grad=True)
    g = _grad(mg.sum(mg.prod(x, axis=1)), x)
    np.testing.assert_array_equal(_host(g), [[0.0, 0.0, 0.0], [0.0, 4.0, 0.0]])
    assert not np.isnan(_host(_grad(mg.prod(x), x))).any()


def test_prod_over_several_axes_with_zero(backend):
    values = np.array([[[1.0, 2.0], [0.0, 3.0]], [[-1.0, 0.5], [2.0, 4.0]]])
    x = backend.tensor(values, requires_grad=True)
    g = _grad(mg.sum(mg.prod(x, axis=(0, 2))), x)
    expected = np.zeros_like(values)
    for i, j, k in itertools.product(range(2), range(2), range(2)):
        others = [values[a, j, b] for a in range(2) for b in range(2) if (a, b) != (i, k)]
        expected[i, j, k] = math.prod(others)
    np.testing.assert_allclose(_host(g), expected, rtol=1e-6)


def test_prod_hessian_with_a_zero(backend64):
    # d2 prod / dx_i dx_j = product of the factors other than i and j (0 unless it skips the zero)
    x = backend64.tensor([2.0, 0.0, 3.0], requires_grad=True)
    g = _grad(mg.prod(x), x, create_graph=True)
    hessian = np.stack([_host(mg.autograd.grad(g[i], x, retain_graph=True, allow_unused=True)[0])
                        for i in range(3)])
    np.testing.assert_allclose(hessian, [[0, 3, 0], [3, 0, 2], [0, 2, 0]], atol=1e-12)


def test_prod_jvp_with_a_zero(backend):
    x = backend.tensor([2.0, 0.0, 3.0])
    u = backend.tensor([1.0, 1.0, 1.0])
    _, t = mg.jvp(mg.prod, [x], [u])
    np.testing.assert_allclose(_host(t), 6.0, rtol=1e-6)


# -- cumulative_prod with zeros ----------------------------------------------------------------

def _cumprod_jacobian(values, include_initial):
    n = len(values)
    rows = []
    for k in range(n):
        rows.append([math.prod(values[i] for i in range(k + 1) if i != j) if j <= k else 0.0
                     for j in range(n)])
    if include_initial:
        rows.insert(0, [0.0] * n)
    return np.array(rows)


@pytest.mark.parametrize("include_initial", [False, True])
def test_cumulative_prod_gradient_with_zeros(backend, include_initial):
    values = [2.0, 0.0, 3.0, 0.0, 0.5]
    x = backend.tensor(values, requires_grad=True)
    y = mg.cumulative_prod(x, include_initial=include_initial)
    seed = np.arange(1.0, y.shape[0] + 1)
    g = mg.autograd.grad(y, x, grad_outputs=backend.tensor(seed))[0]
    jac = _cumprod_jacobian(values, include_initial)
    np.testing.assert_allclose(_host(g), seed @ jac, rtol=1e-6)
    _, t = mg.jvp(lambda a: mg.cumulative_prod(a, include_initial=include_initial), [x],
                  [backend.tensor(seed[:5])])
    np.testing.assert_allclose(_host(t), jac @ seed[:5], rtol=1e-6)


def test_cumulative_prod_second_order_with_zero(backend64):
    # y = sum(cumprod(x)) = x0 + x0 x1 + x0 x1 x2: d2y/dx0dx2 = x1 = 0, d2y/dx1dx2 = x0
    x = backend64.tensor([2.0, 0.0, 3.0], requires_grad=True)
    g = _grad(mg.sum(mg.cumulative_prod(x)), x, create_graph=True)
    hessian = np.stack([_host(mg.autograd.grad(g[i], x, retain_graph=True, allow_unused=True)[0])
                        for i in range(3)])
    np.testing.assert_allclose(hessian, [[0, 4, 0], [4, 0, 2], [0, 2, 0]], atol=1e-12)


# -- var / std ---------------------------------------------------------------------------------

@pytest.mark.parametrize("correction", [0, 1])
def test_std_gradient_finite_and_right(backend, correction):
    values = np.array([1.0, 4.0, 2.0, 2.5])
    x = backend.tensor(values, requires_grad=True)
    g = _host(_grad(mg.std(x, correction=correction), x))
    expected = (values - values.mean()) / ((len(values) - correction)
                                          * values.std(ddof=correction))
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, expected, rtol=1e-5)


def test_std_of_constant_slice_has_zero_gradient(backend):
    x = backend.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], requires_grad=True)
    g = _host(_grad(mg.sum(mg.std(x, axis=1)), x))
    assert np.isfinite(g).all()
    np.testing.assert_array_equal(g[0], 0.0)
    assert np.abs(g[1]).sum() > 0


def test_std_second_order(backend64):
    # d2 std / dx2 = (I - 1/n - c c^T) / (n std), with c = (x - mean) / (n std) the gradient
    values = np.array([1.0, 4.0, 2.0])
    x = backend64.tensor(values, requires_grad=True)
    g = _grad(mg.std(x), x, create_graph=True)
    u = np.array([0.5, -1.0, 2.0])
    h = _host(_grad(mg.sum(g * backend64.tensor(u)), x))
    n, s = values.size, values.std()
    c = (values - values.mean()) / (n * s)
    hessian = (np.eye(n) - 1.0 / n) / (n * s) - np.outer(c, c) / s
    np.testing.assert_allclose(h, hessian @ u, rtol=1e-12, atol=1e-14)


# -- sort --------------------------------------------------------------------------------------

@pytest.mark.parametrize("descending", [False, True])
def test_sort_gradient_follows_the_permutation(backend, descending):
    values = np.array([0.3, -1.0, 2.0, 0.1])
    x = backend.tensor(values, requires_grad=True)
    y = mg.sort(x, descending=descending)
    seed = np.array([10.0, 20.0, 30.0, 40.0])
    g = _host(mg.autograd.grad(y, x, grad_outputs=backend.tensor(seed))[0])
    order = np.argsort(-values if descending else values)
    expected = np.empty(4)
    expected[order] = seed
    np.testing.assert_allclose(g, expected)


def test_sort_gradient_at_ties_is_a_permutation(backend):
    x = backend.tensor([1.0, 0.0, 1.0, 1.0], requires_grad=True)
    y = mg.sort(x)
    np.testing.assert_array_equal(_host(y), [0.0, 1.0, 1.0, 1.0])
    g = _host(mg.autograd.grad(y, x, grad_outputs=backend.tensor([1.0, 2.0, 3.0, 4.0]))[0])
    assert g[1] == 1.0 and sorted(g) == [1.0, 2.0, 3.0, 4.0]


@pytest.mark.parametrize("descending", [False, True])
def test_sort_at_ties_is_the_one_sided_derivative_that_keeps_the_stable_order(backend64,
                                                                             descending):
    # along a direction that keeps tied values in their stable order, the forward difference
    # is the derivative the rule gives (central differences would average the two orders)
    values = np.array([1.0, 0.0, 1.0, 1.0, 0.0])
    order = np.argsort(-values if descending else values, stable=True)
    u = np.empty(5)
    u[order] = np.linspace(-1.0, 1.0, 5) * (-1.0 if descending else 1.0)
    x = backend64.tensor(values)
    _, tangent = mg.jvp(lambda a: mg.sort(a, descending=descending), [x], [backend64.tensor(u)])
    h = 1e-6
    forward = (np.sort(values + h * u)[::-1 if descending else 1]
               - np.sort(values)[::-1 if descending else 1]) / h
    np.testing.assert_allclose(_host(tangent), forward, rtol=1e-6, atol=1e-6)
    w = np.arange(1.0, 6.0)
    (g,) = mg.autograd.grad(mg.sum(mg.sort(x.requires_grad_(), descending=descending)
                                   * backend64.tensor(w)), [x])
    assert float(np.dot(_host(g), u)) == pytest.approx(float(np.dot(forward, w)), rel=1e-6)


@pytest.mark.parametrize("fn", [mg.sort, mg.argsort])
def test_sort_and_argsort_are_stable_by_default(backend, fn):
    # as the standard says; many ties in a long array, where NumPy's unstable sort reorders them
    values = np.random.default_rng(1).integers(0, 2, 64).astype(np.float64)
    x = backend.tensor(values, requires_grad=fn is mg.sort)
    if fn is mg.argsort:
        np.testing.assert_array_equal(_host(mg.argsort(x)), np.argsort(values, stable=True))
        return
    # sort: the stable order decides which tied element's cotangent lands where
    g = _host(mg.autograd.grad(mg.sort(x), x, grad_outputs=backend.tensor(np.arange(64.0)))[0])
    np.testing.assert_array_equal(g[np.argsort(values, stable=True)], np.arange(64.0))


# -- results off the graph ---------------------------------------------------------------------

def test_index_count_and_set_results_do_not_require_grad(backend):
    x = backend.tensor([[3.0, 1.0, 3.0], [0.0, 2.0, 1.0]], requires_grad=True)
    results = [mg.argmax(x), mg.argmin(x, axis=1), mg.argsort(x), mg.count_nonzero(x),
               mg.searchsorted(mg.sort(x[0]), x[1]), mg.all(x), mg.any(x),
               mg.unique_values(x), *mg.nonzero(x), *mg.unique_all(x),
               *mg.unique_counts(x), *mg.unique_inverse(x)]
    for r in results:
        assert not r.requires_grad
        assert r.device == x.device


def test_unique_results_are_named_tuples(backend):
    x = backend.tensor([2.0, 1.0, 2.0, 5.0])
    u = mg.unique_all(x)
    np.testing.assert_array_equal(_host(u.values), [1.0, 2.0, 5.0])
    np.testing.assert_array_equal(u.indices.numpy(), [1, 0, 3])
    np.testing.assert_array_equal(u.inverse_indices.numpy(), [1, 0, 1, 2])
    np.testing.assert_array_equal(u.counts.numpy(), [1, 2, 1])
    assert mg.unique_counts(x)._fields == ("values", "counts")
    assert mg.unique_inverse(x)._fields == ("values", "inverse_indices")


def test_cumulative_axis_is_required_beyond_one_dimension():
    with pytest.raises(ValueError, match="axis"):
        mg.cumulative_sum(mg.ones((2, 3)))


# -- a 0-d array's axis -------------------------------------------------------------------------

@pytest.mark.parametrize("axis", [0, -1])
@pytest.mark.parametrize("op", [mg.sum, mg.prod, mg.max, mg.min, mg.logsumexp, mg.softmax,
                                mg.log_softmax, mg.squeeze], ids=lambda op: op.__name__)
def test_a_0d_array_reduces_over_axis_0_like_its_one_element_copy(backend, op, axis):
    # axis 0 or -1 of a 0-d array names the array itself, as in NumPy's reductions and SciPy's
    # logsumexp: the value and gradient of the same op over a 1-element 1-d array
    x = backend.tensor(0.75, requires_grad=True)
    y = op(x, axis=axis)
    copy = backend.tensor([0.75], requires_grad=True)
    expected = op(copy, axis=0)
    assert y.shape == () and y.dtype == x.dtype
    np.testing.assert_allclose(_host(y), _host(expected).reshape(()), rtol=1e-6)
    np.testing.assert_allclose(_host(_grad(y, x)), _host(_grad(mg.sum(expected), copy))[0],
                               rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op", [mg.argmax, mg.argmin, mg.any, mg.all, mg.count_nonzero],
                         ids=lambda op: op.__name__)
def test_a_0d_array_takes_axis_0_in_index_and_truth_reductions(backend, op):
    x = backend.tensor(0.75)
    for axis in (0, -1):
        np.testing.assert_array_equal(op(x, axis=axis).numpy(), op(x).numpy())


@pytest.mark.parametrize("op", [mg.sum, mg.prod, mg.max, mg.min, mg.mean, mg.any, mg.all,
                                mg.count_nonzero], ids=lambda op: op.__name__)
def test_a_reduction_over_no_axis_reduces_nothing(backend, op):
    # axis=() keeps every element (the standard's rule); PyTorch's count_nonzero counted all
    values = np.array([[0.0, 1.5], [-2.0, 0.0]])
    x = backend.tensor(values)
    expected = op(backend.tensor(values[..., None]), axis=-1)
    got = op(x, axis=())
    assert got.shape == (2, 2) and got.dtype == expected.dtype
    np.testing.assert_array_equal(got.numpy(), expected.numpy())


@pytest.mark.parametrize("op", [mg.cumulative_sum, mg.cumulative_prod],
                         ids=lambda op: op.__name__)
def test_cumulative_ops_refuse_a_0d_array_as_the_standard_does(backend, op):
    # NumPy's cumsum gives one element and array-api-strict's cumulative_prod refuses: one rule
    for axis in (None, 0, -1):
        with pytest.raises(ValueError, match=f"{op.__name__}: expected an array of one or more"):
            op(backend.tensor(0.75), axis=axis)
    with pytest.raises(ValueError, match=f"^{op.__name__}: axis 2 is out of range"):
        op(backend.tensor([[0.75]]), axis=2)


@pytest.mark.parametrize("op", [mg.logsumexp, mg.softmax, mg.log_softmax, mg.squeeze],
                         ids=lambda op: op.__name__)
def test_an_axis_out_of_range_names_the_op(op):
    for shape, axis in (((2, 3), 2), ((2, 3), -3), ((), 1), ((), -2)):
        with pytest.raises(ValueError, match=f"^{op.__name__}: axis {axis} is out of range"):
            op(mg.ones(shape), axis=axis)


# -- data type functions -----------------------------------------------------------------------

xps = pytest.importorskip("array_api_strict")
DTYPE_NAMES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float32", "float64", "complex64", "complex128"]


def _strict_or_error(fn, *args):
    try:
        return fn(*args)
    except (TypeError, ValueError, OverflowError) as err:
        return type(err)


def test_result_type_and_can_cast_match_the_standard():
    for a, b in itertools.product(DTYPE_NAMES, repeat=2):
        ma, mb = getattr(mg, a), getattr(mg, b)
        expected = _strict_or_error(xps.result_type, getattr(xps, a), getattr(xps, b))
        got = _strict_or_error(mg.result_type, ma, mb)
        if isinstance(expected, type):
            assert got is TypeError, f"result_type({a}, {b}) should raise"
        else:
            assert got is getattr(mg, str(expected).rsplit(".", 1)[-1]), (a, b)
            assert isinstance(got, mg.DType)
        assert mg.can_cast(ma, mb) == xps.can_cast(getattr(xps, a), getattr(xps, b)), (a, b)


@pytest.mark.parametrize("scalar", [True, 3, -200, 2.5, 1j, 127, 128, -128, -129, 255, 256,
                                    2 ** 63 - 1, 2 ** 64 - 1])
def test_result_type_with_python_scalars_matches_the_standard(scalar):
    for name in DTYPE_NAMES:
        expected = _strict_or_error(xps.result_type, getattr(xps, name), scalar)
        got = _strict_or_error(mg.result_type, getattr(mg, name), scalar)
        if isinstance(expected, type):
            assert isinstance(got, type), f"result_type({name}, {scalar!r}) should raise"
        else:
            assert got is getattr(mg, str(expected).rsplit(".", 1)[-1]), (name, scalar)
    with pytest.raises(ValueError):
        mg.result_type(1, 2.0)


def test_dtype_functions_take_tensors_and_backend_dtypes(backend):
    x = backend.tensor([1.0, 2.0])
    assert mg.result_type(x, mg.float32) is backend.dtype
    assert mg.result_type(x, 1.0) is backend.dtype
    assert mg.can_cast(x, mg.float64) and not mg.can_cast(x, mg.int64)
    assert mg.finfo(x).dtype is backend.dtype
    assert mg.isdtype(x.dtype, "real floating")
    assert mg.result_type(np.float32, np.dtype("float64")) is mg.float64
    # the library's own arrays (not tensors) are taken for their dtype too
    raw = backend.device.from_host(np.ones(2, dtype=np.float32))
    assert mg.result_type(raw, mg.float64) is mg.float64
    assert mg.finfo(raw).dtype is mg.float32 and mg.can_cast(raw, mg.float64)
    with pytest.raises(TypeError, match="result_type: expected a dtype or an array, got list"):
        mg.result_type([1.0], mg.float32)


def test_finfo_and_iinfo_match_numpy():
    for name in ("float32", "float64", "complex64", "complex128"):
        info, ref = mg.finfo(getattr(mg, name)), np.finfo(np.dtype(name))
        assert info.bits == ref.bits and type(info.bits) is int
        assert isinstance(info.dtype, mg.DType)
        assert info.dtype.name == ref.dtype.name
        for field in ("eps", "max", "min", "smallest_normal"):
            assert getattr(info, field) == float(getattr(ref, field)), (name, field)
            assert type(getattr(info, field)) is float
    for name in DTYPE_NAMES[1:9]:
        info, ref = mg.iinfo(getattr(mg, name)), np.iinfo(np.dtype(name))
        assert (info.bits, info.min, info.max) == (ref.bits, int(ref.min), int(ref.max))
        assert info.dtype is getattr(mg, name)
    # values, not identities: equal and hashable (cache keys), as dtypes are
    assert mg.finfo(mg.float32) == mg.finfo(mg.complex64)
    assert len({mg.finfo(mg.float64), mg.finfo(mg.float64), mg.iinfo(mg.int8),
                mg.iinfo(mg.int8)}) == 2
    with pytest.raises(TypeError):
        mg.finfo(mg.int32)
    with pytest.raises(TypeError):
        mg.iinfo(mg.float32)


def test_isdtype_kinds():
    kinds = ["bool", "signed integer", "unsigned integer", "integral", "real floating",
             "complex floating", "numeric"]
    for name, kind in itertools.product(DTYPE_NAMES, kinds):
        assert mg.isdtype(getattr(mg, name), kind) == xps.isdtype(getattr(xps, name), kind)
    assert mg.isdtype(mg.int8, (mg.float32, "integral"))
    assert mg.isdtype(mg.float32, mg.float32) and not mg.isdtype(mg.float32, mg.float64)
    # a dtype as a kind in any spelling: a name, a library's dtype
    assert mg.isdtype(mg.float32, "float32") and mg.isdtype(mg.float32, np.float32)
    assert mg.isdtype(mg.float64, np.dtype("float64")) and not mg.isdtype(mg.int8, np.float32)
    with pytest.raises(ValueError):
        mg.isdtype(mg.float32, "floating")


# -- second order: rules re-run on tensors -----------------------------------------------------

SECOND_ORDER = {
    "prod": lambda a: mg.prod(a, axis=1),
    "prod-axes": lambda a: mg.prod(a, axis=(0, 1), keepdims=True),
    "cumulative_prod": lambda a: mg.cumulative_prod(a, axis=1, include_initial=True),
    "cumulative_sum": lambda a: mg.cumulative_sum(a * a, axis=0, include_initial=True),
    "var": lambda a: mg.var(a, axis=0, correction=1),
    "std": lambda a: mg.std(a, axis=1),
    "max": lambda a: mg.max(a * a, axis=0),
    "sort": lambda a: mg.sort(a, axis=0) * mg.sort(a, axis=0),
    "diff": lambda a: mg.diff(a * a, n=2, axis=0),
}
WITH_ZEROS = np.array([[1.0, 0.0, 2.0, 3.0], [0.0, 0.0, 1.0, 2.0], [2.0, 0.5, 3.0, 0.0]])


@pytest.mark.parametrize("name", list(SECOND_ORDER))
@pytest.mark.parametrize("zeros", [False, True], ids=["generic", "zeros"])
def test_hessian_vector_product_matches_differences(backend64, rng, name, zeros):
    if zeros and not name.startswith(("prod", "cumulative_prod")):
        pytest.skip("zeros matter for products only")
    f = SECOND_ORDER[name]
    x0 = WITH_ZEROS if zeros else rng.uniform(0.5, 1.5, size=(3, 4))
    w = backend64.tensor(rng.standard_normal(f(backend64.tensor(x0)).shape))
    u = rng.standard_normal(x0.shape)

    def gradient(values, create_graph):
        x = backend64.tensor(values, requires_grad=True)
        return x, _grad(mg.sum(f(x) * w), x, create_graph=create_graph)

    x, g = gradient(x0, True)
    hvp = _host(_grad(mg.sum(g * backend64.tensor(u)), x))
    h = 1e-5
    numeric = (_host(gradient(x0 + h * u, False)[1])
               - _host(gradient(x0 - h * u, False)[1])) / (2 * h)
    np.testing.assert_allclose(hvp, numeric, atol=1e-7, rtol=1e-6)
