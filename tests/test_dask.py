"""Dask, lazily: forward and backward compute nothing, ``mg.compute`` evaluates a loss and its
gradients in one pass, host parameters meet chunked data, unknown sizes, what Dask's namespace
lacks. A callback counts Dask's computes; chunks are several and uneven throughout."""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg

da = pytest.importorskip("dask.array", reason="Dask is not installed (pip install -e "
                                              "'.[backends]')")
from dask.callbacks import Callback  # noqa: E402


class Computes(Callback):
    """Counts the graphs Dask executes (one per compute, persist or value read)."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def _start(self, dsk):
        self.count += 1


def _data(n=103, d=4, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = (rng.random(n) > 0.5).astype(np.float64)
    # uneven chunks: 103 rows in chunks of 30, 30, 30, 13
    return X, y, da.from_array(X, chunks=(30, 2)), da.from_array(y, chunks=30)


def _logistic(X, y, w, b):
    z = X @ w + b
    return mg.mean(mg.logaddexp(0.0, z) - y * z)


def test_forward_and_backward_compute_nothing_and_compute_is_one_pass():
    Xn, yn, Xd, yd = _data()
    w = mg.tensor(np.linspace(-0.5, 0.5, 4), requires_grad=True)
    b = mg.tensor(0.1, requires_grad=True)
    with Computes() as counter:
        X, y = mg.asarray(Xd), mg.asarray(yd)
        loss = _logistic(X, y, w, b) + 0.01 * mg.sum(w * w)  # a host term joins the graph
        loss.backward()
        assert counter.count == 0
        assert loss.device == "dask" and repr(loss).startswith("tensor(<lazy")
        (value,) = mg.compute(loss)
        assert counter.count == 1
        assert w.grad.device == "cpu" and b.grad.device == "cpu"
        assert counter.count == 1  # the gradients came with the loss
    z = Xn @ w.numpy() + 0.1
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(float(value), np.mean(np.logaddexp(0, z) - yn * z)
                               + 0.01 * np.sum(w.numpy() ** 2), rtol=1e-14)
    np.testing.assert_allclose(w.grad.numpy(), Xn.T @ (p - yn) / len(yn) + 0.02 * w.numpy(),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(float(b.grad), np.mean(p - yn), rtol=1e-12, atol=1e-15)


def test_floor_divide_fixes_infinite_operands_without_a_compute():
    # the standard's result at an infinite operand is selected per element, never by reading
    # whether any operand is infinite (which would compute the array)
    x = np.array([np.inf, 1.0, -3.0, 7.0, 5.0])
    d = mg.asarray(da.from_array(x, chunks=2))
    with Computes() as counter:
        q = mg.floor_divide(d, mg.asarray(da.from_array(np.array([2.0, -np.inf, 2.0, 0.5,
                                                                     3.0]), chunks=2)))
        assert counter.count == 0
        (got,) = mg.compute(q)
    np.testing.assert_array_equal(got.numpy(), [np.inf, -0.0, -2.0, 14.0, 1.0])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_complex_expm1_and_tanh_fix_their_special_cases_without_a_compute():
    z = np.array([complex(-np.inf, np.inf), complex(np.inf, -2.0), 0.5 - 1j, -0.0 + 0j])
    d = mg.asarray(da.from_array(z, chunks=2))
    with Computes() as counter:
        e, t = mg.expm1(d), mg.tanh(d)
        assert counter.count == 0
        got = mg.compute(e, t)
    host = mg.tensor(z)
    for lazy, eager in zip(got, (mg.expm1(host), mg.tanh(host))):
        np.testing.assert_array_equal(lazy.numpy(), eager.numpy())


def test_a_host_gradient_added_to_a_pending_lazy_one_stays_pending_and_computes():
    # backward through Dask leaves w.grad pending; a second backward on host data adds to it:
    # the sum must still be computed when read, not kept as a lazy array labelled "cpu"
    Xn, yn, Xd, yd = _data()
    w = mg.tensor(np.linspace(-0.5, 0.5, 4), requires_grad=True)
    b = mg.tensor(0.1, requires_grad=True)
    _logistic(mg.asarray(Xd), mg.asarray(yd), w, b).backward()
    mg.sum(w * w).backward()
    g = w.grad
    assert g.device == "cpu" and isinstance(g.data, np.ndarray)
    z = Xn @ np.linspace(-0.5, 0.5, 4) + 0.1
    p = 1 / (1 + np.exp(-z))
    np.testing.assert_allclose(g.numpy(), Xn.T @ (p - yn) / len(yn)
                               + 2 * np.linspace(-0.5, 0.5, 4), rtol=1e-12, atol=1e-15)


def test_gradient_matches_central_differences_on_dask():
    _, _, Xd, yd = _data(n=41, d=3)
    X, y = mg.asarray(Xd), mg.asarray(yd)
    w = mg.tensor([0.3, -0.2, 0.1], requires_grad=True)

    def loss_of(v):
        return mg.compute(_logistic(X, y, v, 0.0))[0]
    _logistic(X, y, w, 0.0).backward()
    direction = np.array([1.0, -2.0, 0.5])
    numeric = mg.numerical.directional(loss_of, (mg.tensor(w.numpy()),),
                                       (mg.tensor(direction),))
    np.testing.assert_allclose(float(mg.vecdot(w.grad, mg.asarray(direction))), float(numeric),
                               rtol=1e-7)


def test_an_optimizer_step_on_host_parameters_never_grows_a_graph():
    _, _, Xd, yd = _data()
    X, y = mg.asarray(Xd), mg.asarray(yd)
    w = mg.nn.Parameter(mg.zeros(4, dtype=mg.float64))
    opt = mg.optim.SGD([w], lr=0.5)
    with Computes() as counter:
        for step in range(3):
            opt.zero_grad()
            loss = _logistic(X, y, w, 0.0)
            loss.backward()
            mg.compute(loss)
            opt.step()
            assert w.device == "cpu" and type(w.data) is np.ndarray
        assert counter.count == 3
    # the graph of a step's loss does not hold the earlier steps: its size stays put
    sizes = [len(mg.asarray(_logistic(X, y, w, 0.0)).data.__dask_graph__()) for _ in range(2)]
    assert sizes[0] == sizes[1]


def test_reading_grad_without_compute_computes_all_pending_gradients_once():
    _, _, Xd, yd = _data()
    X, y = mg.asarray(Xd), mg.asarray(yd)
    w = mg.tensor(np.ones(4), requires_grad=True)
    b = mg.tensor(0.0, requires_grad=True)
    _logistic(X, y, w, b).backward()
    with Computes() as counter:
        assert w.grad.device == "cpu"
        assert b.grad.device == "cpu"
        assert counter.count == 1


@pytest.mark.parametrize("read", [float, repr, lambda t: t.item(), lambda t: t.numpy(),
                                  lambda t: t.tolist()], ids=["float", "repr", "item", "numpy",
                                                              "tolist"])
def test_reading_the_loss_after_backward_computes_the_gradients_with_it(read):
    # printing the loss, then stepping the optimizer, reads the data once, not twice
    _, _, Xd, yd = _data()
    X, y = mg.asarray(Xd), mg.asarray(yd)
    w = mg.tensor(np.ones(4), requires_grad=True)
    loss = _logistic(X, y, w, 0.0)
    loss.backward()
    with Computes() as counter:
        read(loss)
        assert counter.count == (0 if read is repr else 1)  # a lazy repr shows no values
        w.grad.numpy()
        assert counter.count == 1


def test_unknown_sizes_from_a_mask_go_through_backward_without_a_compute():
    Xn, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    w = mg.tensor([1.0, -1.0, 0.5, 2.0], requires_grad=True)
    with Computes() as counter:
        rows = X[X[:, 0] > 0.2]  # a data-dependent number of rows
        assert np.isnan(rows.shape[0]) and rows.size is None
        loss = mg.sum(mg.tanh(rows @ w) * rows[:, 1])
        loss.backward()
        assert counter.count == 0
        mg.compute(loss)
    kept = Xn[Xn[:, 0] > 0.2]
    t = np.tanh(kept @ w.numpy())
    np.testing.assert_allclose(w.grad.numpy(), kept.T @ ((1 - t ** 2) * kept[:, 1]), rtol=1e-12)


_OF_ROWS = {  # functions of rows of unknown number (nan), each to a scalar
    "max": lambda r: mg.max(r),
    "min-rows": lambda r: mg.sum(mg.min(r, axis=1) ** 2),
    "gram": lambda r: mg.sum((r.T @ r) ** 2),
    "vector_norm": lambda r: mg.linalg.vector_norm(r),
    "vector_norm-1": lambda r: mg.linalg.vector_norm(r, ord=1),
    "last-column": lambda r: mg.sum(r[:, -1] ** 3),
    "every-other-column": lambda r: mg.sum(r[..., ::-2] ** 3),
    "flatten-and-back": lambda r: mg.sum(mg.reshape(mg.reshape(r, (-1,)) ** 3, (-1, 4))[:, 1]),
    "rows-reshaped": lambda r: mg.sum(mg.reshape(r, (-1, 2, 2))[:, 1, 0] ** 3),
    "sorted-rows": lambda r: mg.sum(mg.sort(r, axis=1)[:, 0] ** 3),
    "zeros_like": lambda r: mg.sum(r ** 2 + mg.zeros_like(r)),
    "vector-times-rows": lambda r: mg.sum((r[:, 0] @ r) ** 2),
    # a gather from the columns moves the unknown rows behind the columns picked and back
    "columns-picked": lambda r: mg.sum(r[:, [3, 0, 3]] ** 3),
    "columns-picked-2d": lambda r: mg.sum(r[:, [[1], [2]]] ** 3),
    "columns-masked": lambda r: mg.sum(r[:, np.array([True, False, False, True])] ** 3),
    "new-axis-then-columns": lambda r: mg.sum(r[None, :, [1, 1]] ** 3),
    # each failed on the nan: array-api-compat's clip reads the shape, the losses compared
    # shapes with ==, and the gradient of take_along_axis (cross_entropy's pick of each row's
    # class) found flat positions
    "clip": lambda r: mg.sum(mg.clip(r, -0.5, 0.5) ** 2),
    "mse_loss": lambda r: mg.nn.functional.mse_loss(r[:, 0], r[:, 1]),
    "cross_entropy": lambda r: mg.nn.functional.cross_entropy(r, mg.astype(r[:, 0] > 0,
                                                                            mg.int64)),
    "take_along_axis": lambda r: mg.sum(mg.take_along_axis(r, mg.argsort(r, axis=1)[:, :2],
                                                           axis=1) ** 3),
}


@pytest.mark.parametrize("f", list(_OF_ROWS.values()), ids=list(_OF_ROWS))
def test_ops_on_rows_of_unknown_number_and_their_gradients(f):
    # each once failed: a shape with nan broadcast or reshaped, a matmul whose inner sizes
    # (nan and nan) were called different, Dask's setitem and reshape refusing unknown sizes
    Xn, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    w = mg.tensor([1.0, -1.0, 0.5, 2.0], requires_grad=True)
    with Computes() as counter:
        out = f(X[X[:, 0] > 0.2] * w)
        out.backward()
        _, tangent = mg.jvp(lambda v: f(X[X[:, 0] > 0.2] * v), (w.detach(),),
                            (mg.tensor([0.5, 1.0, -2.0, 1.5]),))
        assert counter.count == 0
    value, tangent = mg.compute(out, tangent)
    wn = mg.tensor(w.numpy(), requires_grad=True)
    expected = f(mg.tensor(Xn[Xn[:, 0] > 0.2]) * wn)
    expected.backward()
    _, expected_tangent = mg.jvp(lambda v: f(mg.tensor(Xn[Xn[:, 0] > 0.2]) * v), (wn.detach(),),
                                 (mg.tensor([0.5, 1.0, -2.0, 1.5]),))
    np.testing.assert_allclose(value.numpy(), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), wn.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tangent.numpy(), expected_tangent.numpy(), rtol=1e-12)


@pytest.mark.parametrize("key, index", [
    (-1, "integer index -1"),  # it said "index 0 is out of bounds for axis 0 of size nan"
    # these said "a reshape ... that regroups its rows needs them", of a reshape never asked
    ([0, 2], r"an index array of shape \(2,\)"),
    ((slice(None), [0, 1]), None),  # the rows whole: no refusal
    # this one too: Dask's nonzero cannot count a mask's own unknown rows
    ("mask-of-rows", r"a boolean index of shape \(nan,\)"),
])
def test_picking_among_rows_of_unknown_number_says_it_needs_their_number(key, index):
    X = mg.asarray(_data()[2])
    rows = X[X[:, 0] > 0.2]
    key = rows[:, 1] > 0 if key == "mask-of-rows" else key
    if index is None:
        assert rows[key].shape[1] == 2
        return
    with pytest.raises(ValueError, match=rf"getitem: {index} into axis 0 of shape \(nan, 4\), "
                                         r"whose size is unknown until computed .*"
                                         r"multigrad\.persist"):
        rows[key]
    (counted,) = mg.persist(rows)  # what the message advises: the rows counted, then picked
    Xn = _data()[0]
    kept = Xn[Xn[:, 0] > 0.2]
    if not isinstance(key, (int, list)):
        key = kept[:, 1] > 0
    np.testing.assert_array_equal(mg.compute(counted[key])[0].numpy(), kept[key])


def test_writing_through_index_arrays_into_rows_of_unknown_number_names_setitem():
    # it failed inside Dask's arange ("cannot convert float NaN to integer")
    X = mg.asarray(_data()[2])
    rows = X[X[:, 0] > 0.2]
    with pytest.raises(ValueError, match=r"setitem: index arrays \(or a mask\) into an array of "
                                         r"shape \(nan, 4\), whose sizes are unknown"):
        mg.setitem(rows, (slice(None), [0, 2]), 1.0)
    (counted,) = mg.persist(rows)  # as the message advises
    Xn = _data()[0]
    want = Xn[Xn[:, 0] > 0.2].copy()
    want[:, [0, 2]] = 1.0
    np.testing.assert_array_equal(
        mg.compute(mg.setitem(counted, (slice(None), [0, 2]), 1.0))[0].numpy(), want)


def test_vmap_over_rows_of_unknown_number():
    # its check of the batch axis read nan != nan as a rule's mistake
    Xn, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    rows = X[X[:, 0] > 0.2]
    kept = Xn[Xn[:, 0] > 0.2]
    got = mg.vmap(mg.grad(lambda r: mg.sum(mg.sin(r[[0, 2]]))))(rows)
    want = np.zeros_like(kept)
    want[:, [0, 2]] = np.cos(kept[:, [0, 2]])
    np.testing.assert_allclose(mg.compute(got)[0].numpy(), want, rtol=1e-14)


def test_per_example_gradients_of_shared_parameters_over_rows_of_unknown_number():
    Xn, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    w = mg.tensor(np.ones((4, 2)) * [[0.5, -0.5]])
    per_example = mg.grad(lambda w, r: mg.sum(mg.tanh(r @ w) ** 2))
    got = mg.vmap(per_example, in_axes=(None, 0))(w, X[X[:, 0] > 0.2])
    want = np.stack([per_example(w, mg.asarray(r)).numpy() for r in Xn[Xn[:, 0] > 0.2]])
    np.testing.assert_allclose(mg.compute(got)[0].numpy(), want, rtol=1e-12)


def test_broadcasting_into_a_size_unknown_until_computed_is_refused_when_built():
    # Dask built the graph, which then failed when it computed, inside NumPy's broadcast_to
    # ("'float' object cannot be interpreted as an integer")
    X = mg.asarray(_data()[2])
    rows = X[X[:, 0] > 0.2]
    with pytest.raises(ValueError, match=r"broadcast_to: .* cannot broadcast shape \(4,\) to "
                                         r"\(nan, 4\): the size of axis 0 is unknown"):
        mg.broadcast_to(X[0], rows.shape)
    assert mg.broadcast_to(X[0], (3, 4)).shape == (3, 4)


def test_a_slice_of_step_zero_over_rows_of_unknown_number_names_getitem():
    # Dask failed in its chunk arithmetic ("cannot convert float NaN to integer")
    X = mg.asarray(_data()[2])
    with pytest.raises(ValueError, match=r"getitem: the slice .* along axis 0 has step 0"):
        X[X[:, 0] > 0.2][::0]


def test_a_reshape_that_regroups_rows_of_unknown_number_says_it_needs_their_number():
    _, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    with pytest.raises(ValueError, match=r"reshape: .* sizes unknown until computed .* a "
                                         r"reshape to \(-1, 3\) that regroups its rows"):
        mg.reshape(X[X[:, 0] > 0.2], (-1, 3))


def test_integer_indexing_has_no_eager_bounds_check_and_fails_at_compute():
    _, _, Xd, _ = _data()
    X = mg.asarray(Xd)
    with Computes() as counter:
        picked = X[mg.asarray(da.from_array(np.array([0, 5, 102, 5]), chunks=2))]
        assert counter.count == 0
    np.testing.assert_array_equal(mg.compute(picked)[0].numpy(), Xd.compute()[[0, 5, 102, 5]])
    bad = X[mg.asarray(da.from_array(np.array([0, 500]), chunks=1))]
    with pytest.raises(IndexError, match="getitem: index 500 is out of bounds for axis 0 of "
                                         "size 103"):
        mg.compute(bad)


@pytest.mark.parametrize("pick", [
    lambda X, i: X[mg.arange(4, device="dask"), i],  # flat positions row * 4 + column
    lambda X, i: mg.take(X, i, axis=1),
    lambda X, i: mg.scatter_add(X, i, 5),
], ids=["getitem-pair", "take", "scatter_add"])
def test_an_index_out_of_bounds_of_one_axis_raises_at_compute_not_another_row(pick):
    # column 5 of a 4 x 4 matrix, made a flat position, once read row 1's second element
    X = mg.asarray(da.from_array(np.arange(16.0).reshape(4, 4), chunks=2))
    i = mg.asarray(da.from_array(np.array([0, 5, 1, 2]), chunks=2))
    out = pick(X, i)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis . of size"):
        mg.compute(out)


def test_empty_arrays_in_several_chunks_reduce_as_on_numpy():
    # Dask's max of a (0, 3) array along the columns raised at compute; along the empty axis
    # it computed a (0,) array for a (3,) result
    x = mg.asarray(da.from_array(np.zeros((0, 3)), chunks=2))
    assert x.data.numblocks == (1, 2)
    for reduce in (mg.max, mg.min):
        assert mg.compute(reduce(x, axis=1))[0].shape == (0,)
        assert mg.compute(reduce(x, axis=-1, keepdims=True))[0].shape == (0, 1)
        for axis in (0, None):
            with pytest.raises(ValueError, match=f"{reduce.__name__}: .*zero-size array"):
                reduce(x, axis=axis)
    # a running product with its initial value over an empty axis, times a tangent: a chunk
    # of size zero beside the initial value's made a graph that failed to compute
    y = mg.asarray(da.from_array(np.zeros((2, 0)), chunks=1))
    u = mg.asarray(da.ones((2, 0), chunks=1))
    _, tangent = mg.jvp(lambda a: mg.cumulative_prod(a, axis=1, include_initial=True), (y,), (u,))
    np.testing.assert_array_equal(mg.compute(tangent)[0].numpy(), np.zeros((2, 1)))
    # the gradient of a slice past the end writes an empty cotangent
    z = mg.asarray(da.from_array(np.ones((3, 4)), chunks=2)).requires_grad_()
    mg.sum(z[5:7]).backward()
    np.testing.assert_array_equal(mg.compute(z.grad)[0].numpy(), np.zeros((3, 4)))


def test_an_index_out_of_bounds_in_one_example_under_vmap_raises_at_compute():
    # the check covers the whole batch of indices, which a batched tensor's array holds
    X = mg.asarray(da.from_array(np.arange(12.0).reshape(3, 4), chunks=2))
    i = mg.asarray(da.from_array(np.array([[0, 1], [3, 4], [2, 2]]), chunks=2))
    out = mg.vmap(lambda row, idx: row[idx])(X, i)
    assert out.shape == (3, 2)
    with pytest.raises(IndexError, match="index 4 is out of bounds for axis 0 of size 4"):
        mg.compute(out)
    ok = mg.vmap(lambda row, idx: row[idx])(X, i % 4)
    np.testing.assert_array_equal(mg.compute(ok)[0].numpy(), [[0, 1], [7, 4], [10, 10]])


def test_a_label_out_of_range_raises_when_the_gradient_computes():
    # the gradient of cross_entropy compares labels with the classes and reads no element
    # at a label: a label 7 of 3 classes once gave a gradient, silently
    rng = np.random.default_rng(5)
    w = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    X = mg.asarray(da.from_array(rng.standard_normal((6, 4)), chunks=2))
    y = mg.asarray(da.from_array(np.array([0, 1, 2, 7, 0, 1]), chunks=2))
    mg.nn.functional.cross_entropy(X @ w, y).backward()
    with pytest.raises(IndexError, match=r"cross_entropy: class indices must be in \[0, 3\); "
                                         "got 7"):
        w.grad.numpy()
    table = mg.tensor(rng.standard_normal((3, 2)), device="dask", requires_grad=True)
    mg.sum(mg.nn.functional.embedding(y, table)).backward()
    with pytest.raises(IndexError, match=r"embedding: indices must be in \[0, 3\); got 7"):
        mg.compute(table.grad)


def test_gradient_of_integer_indexing_adds_repeats_across_index_chunks():
    # the cotangent of X[idx] is a scatter-add per chunk of the indices, summed as a tree
    Xs, _, Xd, _ = _data()
    picks = np.array([0, 5, 102, 5, 31, 0, 64])
    for chunks in (2, 7):
        X = mg.asarray(Xd).requires_grad_()
        y = X[mg.asarray(da.from_array(picks, chunks=chunks))]
        mg.sum(y * y).backward()
        expected = np.zeros_like(Xs)
        np.add.at(expected, picks, 2 * Xs[picks])
        np.testing.assert_allclose(mg.compute(X.grad)[0].numpy(), expected, rtol=1e-15)


def test_host_and_dask_meet_only_through_the_host():
    X = mg.asarray(da.ones((4, 2), chunks=2))
    with pytest.raises(mg.MixedDeviceError, match="a Dask array meets only arrays of its host"):
        X + mg.ones(2, device="strict:device1")


def test_what_dask_lacks_runs_by_blocks():
    rng = np.random.default_rng(1)
    stack = rng.standard_normal((5, 3, 3))
    spd = stack @ np.swapaxes(stack, -1, -2) + 3 * np.eye(3)
    A = mg.asarray(da.from_array(spd, chunks=(2, 3, 3)))
    np.testing.assert_allclose(mg.compute(mg.linalg.det(A))[0].numpy(), np.linalg.det(spd))
    sign, logabs = mg.linalg.slogdet(A)
    np.testing.assert_allclose(mg.compute(logabs)[0].numpy(), np.linalg.slogdet(spd)[1])
    values, _ = mg.linalg.eigh(A)
    np.testing.assert_allclose(mg.compute(values)[0].numpy(), np.linalg.eigvalsh(spd))
    np.testing.assert_allclose(mg.compute(mg.linalg.pinv(A))[0].numpy(), np.linalg.pinv(spd),
                               atol=1e-12)
    x = rng.standard_normal((6, 4))
    idx = rng.integers(0, 4, (6, 3))
    t = mg.take_along_axis(mg.asarray(da.from_array(x, chunks=(4, 2))),
                           mg.asarray(da.from_array(idx, chunks=(4, 3))), axis=1)
    np.testing.assert_array_equal(mg.compute(t)[0].numpy(), np.take_along_axis(x, idx, axis=1))
    v = mg.take(mg.asarray(da.from_array(x[:, 0], chunks=4)), [5, 0, 5])
    np.testing.assert_array_equal(mg.compute(v)[0].numpy(), x[[5, 0, 5], 0])


def test_stacks_for_solve_svd_qr_eig_norms_and_cross_run_by_blocks():
    # Dask's own take one matrix (solve, svd without full matrices, qr), or none at all
    # (eig, eigvals, cross, SVD-based norms and the rank of a stack); several chunks each
    xp = mg.get_device("dask").xp
    rng = np.random.default_rng(4)
    a = rng.standard_normal((5, 3, 3)) + 3 * np.eye(3)
    b = rng.standard_normal((5, 3, 2))
    A, B = da.from_array(a, chunks=(2, 2, 3)), da.from_array(b, chunks=(3, 1, 1))
    close = dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xp.linalg.solve(A, B).compute(), np.linalg.solve(a, b), **close)
    v = rng.standard_normal(3)  # the standard's vector right-hand side, broadcast
    np.testing.assert_allclose(xp.linalg.solve(A, da.from_array(v, chunks=2)).compute(),
                               np.linalg.solve(a, v), **close)
    np.testing.assert_allclose(xp.linalg.solve(A[0], B).compute(), np.linalg.solve(a[0], b),
                               **close)
    tall = rng.standard_normal((4, 5, 3))
    T = da.from_array(tall, chunks=(3, 2, 2))
    for full in (True, False):
        u, s, vh = xp.linalg.svd(T, full_matrices=full)
        nu, ns, nvh = np.linalg.svd(tall, full_matrices=full)
        assert u.shape == nu.shape and vh.shape == nvh.shape
        np.testing.assert_allclose(s.compute(), ns, **close)
        np.testing.assert_allclose((u[..., :3] * s[..., None, :]) @ vh[..., :3, :], tall,
                                   **close)
    for mode in ("reduced", "complete"):
        q, r = xp.linalg.qr(T, mode=mode)
        assert q.shape == np.linalg.qr(tall, mode=mode)[0].shape
        np.testing.assert_allclose((q @ r).compute(), tall, **close)
    w = xp.linalg.eigvals(A).compute()
    assert w.dtype == np.complex128  # complex even where every eigenvalue is real
    np.testing.assert_allclose(np.sort_complex(w), np.sort_complex(np.linalg.eigvals(a)),
                               **close)
    for ord in (2, -2, "nuc"):
        np.testing.assert_allclose(xp.linalg.matrix_norm(T, ord=ord, keepdims=True).compute(),
                                   np.linalg.norm(tall, ord=ord, axis=(-2, -1), keepdims=True),
                                   **close)
    low_rank = tall[..., :2] @ rng.standard_normal((4, 2, 3))
    np.testing.assert_array_equal(
        xp.linalg.matrix_rank(da.from_array(low_rank, chunks=(3, 2, 2))).compute(), [2] * 4)
    p, q = rng.standard_normal((4, 3)), rng.standard_normal((3, 4))
    np.testing.assert_allclose(
        xp.linalg.cross(da.from_array(p, chunks=2), da.from_array(q.T, chunks=1),
                        axis=-1).compute(), np.cross(p, q.T), **close)


def test_eye_and_repeat_where_dask_gets_them_wrong_or_lacks_them():
    xp = mg.get_device("dask").xp
    # Dask's eye with more columns than rows misses a block (dask/dask#11937)
    for n, m, k in ((3, 4, 1), (2, 5, 0), (4, 3, -1)):
        np.testing.assert_array_equal(xp.eye(n, m, k=k).compute(), np.eye(n, m, k=k))
    x = np.arange(6.0).reshape(2, 3)
    X = mg.asarray(da.from_array(x, chunks=(1, 2)))
    np.testing.assert_array_equal(mg.compute(mg.repeat(X, 2))[0].numpy(), np.repeat(x, 2))
    with pytest.raises(NotImplementedError, match="repeat with an array of counts is not "
                                                  "available on Dask"):
        mg.repeat(X, mg.asarray(da.from_array(np.array([1, 2]), chunks=1)), axis=0)


def test_det_gradient_on_a_stack_of_matrices_by_blocks():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 3, 3)) + 3 * np.eye(3)
    A = mg.asarray(da.from_array(a, chunks=(2, 3, 3)))
    w = mg.tensor(np.ones((3, 3)), requires_grad=True)
    mg.sum(mg.linalg.det(A * w)).backward()
    expected = sum(np.linalg.det(m) * np.linalg.inv(m).T * m for m in a)  # d det(m * w)/dw
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-10)


def test_cholesky_of_a_chunked_matrix_reads_its_lower_triangle_only():
    # Dask's own blocked cholesky reads the upper blocks too: junk there must not count
    a = np.array([[4.0, 9.0, -7.0], [2.0, 3.0, 5.0], [1.0, 0.5, 2.0]])
    sym = np.tril(a) + np.tril(a, -1).T
    x = mg.asarray(da.from_array(a, chunks=2)).requires_grad_()
    low = mg.linalg.cholesky(x)
    np.testing.assert_allclose(mg.compute(low)[0].numpy(), np.linalg.cholesky(sym), rtol=1e-14)
    mg.sum(low).backward()
    host = mg.tensor(a, requires_grad=True)
    mg.sum(mg.linalg.cholesky(host)).backward()
    np.testing.assert_allclose(mg.compute(x.grad)[0].numpy(), host.grad.numpy(), rtol=1e-12)


def test_fft_along_axes_in_several_chunks():
    # Dask transforms only an axis held in one chunk: those axes are rechunked first
    rng = np.random.default_rng(3)
    a = rng.standard_normal((5, 6))
    grads = []
    for data in (a, da.from_array(a, chunks=(2, 4))):
        x = mg.asarray(data).requires_grad_()
        y = mg.fft.rfftn(x, axes=(0, 1))
        mg.sum(mg.real(y) * 2.0 + mg.imag(y)).backward()
        grads.append(mg.compute(x.grad)[0].numpy())
        np.testing.assert_allclose(mg.compute(y)[0].numpy(), np.fft.rfftn(a), rtol=1e-12,
                                   atol=1e-12)
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)


def test_what_neither_has_is_refused_naming_the_function_and_dask():
    A = mg.asarray(da.ones((2, 3, 3), chunks=1))
    with pytest.raises(AttributeError, match="linalg.matrix_power is not available on Dask"):
        mg.get_device("dask").xp.linalg.matrix_power(A.data, 2)


def test_persist_keeps_tensors_lazy_and_their_graphs_short():
    _, _, Xd, yd = _data()
    X = mg.asarray(Xd * 2.0 + 1.0)
    (kept,) = mg.persist(X)
    assert kept.device == "dask"
    assert len(kept.data.__dask_graph__()) == Xd.numblocks[0] * Xd.numblocks[1]
    np.testing.assert_allclose(mg.compute(kept)[0].numpy(), Xd.compute() * 2 + 1)


def test_random_tensors_on_dask_are_drawn_inside_the_graph():
    with Computes() as counter:
        mg.manual_seed(3)
        a = mg.randn(1000, 3, device="dask", dtype=mg.float64)
        mg.manual_seed(3)
        b = mg.randn(1000, 3, device="dask", dtype=mg.float64)
        assert counter.count == 0 and a.device == "dask"
    first, again = mg.compute(a, b)
    np.testing.assert_array_equal(first.numpy(), again.numpy())
    assert abs(float(mg.mean(first))) < 0.1 and 0.9 < float(mg.std(first)) < 1.1
