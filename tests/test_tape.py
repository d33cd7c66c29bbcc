"""The tape engine: topological order, reuse, deep graphs, accumulation, grad mode, freeing.

Every expected value here is an analytic derivative computed in NumPy from the inputs.
"""

from __future__ import annotations

import gc
import threading
import weakref

import numpy as np
import pytest

import multigrad as mg
from multigrad import autograd


def _tol(backend):
    return dict(rtol=1e-12, atol=1e-12) if backend.precise else dict(rtol=1e-5, atol=1e-5)


# -- topological order: diamonds and reuse -------------------------------------------------------

def test_diamond(backend):
    # b = a + a; c = b * b = 4 a**2, so dc/da = 8 a (a wrong order or a lost branch gives 4a)
    values = np.array([0.5, -1.5, 2.0])
    a = backend.tensor(values, requires_grad=True)
    b = a + a
    c = mg.sum(b * b)
    c.backward()
    np.testing.assert_allclose(a.grad.numpy(), 8 * values, **_tol(backend))


def test_node_reused_across_branches(backend):
    # y = exp(x) feeds three branches: z = y*y + tanh(y) + y
    # dz/dx = (2 y + (1 - tanh(y)**2) + 1) * y
    values = np.array([-0.7, 0.1, 0.9])
    x = backend.tensor(values, requires_grad=True)
    y = mg.exp(x)
    z = mg.sum(y * y + mg.tanh(y) + y)
    z.backward()
    e = np.exp(values)
    np.testing.assert_allclose(x.grad.numpy(), (2 * e + 1 - np.tanh(e) ** 2 + 1) * e,
                               **_tol(backend))


def test_long_diamond_ladder(backend):
    # each rung doubles: y_{k+1} = y_k + y_k, so after 30 rungs dy/dx = 2**30 exactly; a walk that
    # pulls back a node before all its consumers are done would give a different power of two
    x = backend.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(30):
        y = y + y
    mg.sum(y).backward()
    assert x.grad.numpy()[0] == 2.0 ** 30


# -- a very deep chain ---------------------------------------------------------------------------

def test_million_op_chain_runs_and_frees_the_graph():
    n = 1_000_000
    x = mg.tensor([0.25], requires_grad=True)
    add, multiply = mg.add, mg.multiply  # the primitives themselves: the cheapest call path
    y = x
    watched_node = watched_array = None
    for k in range(n):
        y = multiply(y, 1.0) if k % 2 else add(y, 1e-6)
        if k == n // 2:
            # the saved output of an intermediate node (a numpy array, which supports weakrefs)
            watched_node = weakref.ref(y.node)
            watched_array = weakref.ref(y.data)
    out = mg.sum(y)
    gc.collect()
    assert watched_node() is not None and watched_array() is not None, \
        "the graph should hold its intermediate values until backward"
    out.backward()
    assert x.grad.numpy()[0] == pytest.approx(1.0)
    gc.collect()
    # without retain_graph, backward drops what the nodes saved and the links between them, so
    # the intermediate node and its array are gone while the output itself is still alive
    assert watched_node() is None, "an intermediate node outlived backward"
    assert watched_array() is None, "a saved array outlived backward"
    assert out.requires_grad


def test_dropping_a_deep_unused_graph_does_not_crash():
    # freeing a long chain of nodes nobody differentiated must not recurse in the interpreter
    x = mg.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(200_000):
        y = mg.add(y, 1.0)
    watched = weakref.ref(y.node)
    del y
    gc.collect()
    assert watched() is None


# -- accumulation, freeing and retaining -------------------------------------------------------

def test_accumulation_over_two_backward_calls(backend):
    values = np.array([1.0, -2.0, 0.5])
    x = backend.tensor(values, requires_grad=True)
    mg.sum(x * x).backward()
    mg.sum(mg.exp(x)).backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * values + np.exp(values), **_tol(backend))


def test_backward_through_freed_graph_names_retain_graph(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    y = mg.sum(mg.exp(x) * x)
    y.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)  # the failed pass changed nothing


def test_retain_graph_allows_a_second_pass(backend):
    values = np.array([1.0, 2.0])
    x = backend.tensor(values, requires_grad=True)
    y = mg.sum(mg.exp(x) * x)
    y.backward(retain_graph=True)
    y.backward()
    # d/dx (x e^x) = (1 + x) e^x, accumulated twice
    np.testing.assert_allclose(x.grad.numpy(), 2 * (1 + values) * np.exp(values),
                               **_tol(backend))
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_gradients_do_not_alias_or_mutate_the_seed(backend):
    x = backend.tensor([1.0, 2.0, 3.0], requires_grad=True)
    w = backend.tensor([4.0, 5.0, 6.0], requires_grad=True)
    seed = backend.tensor([1.0, 10.0, 100.0])
    y = x + w  # add passes the cotangent through unchanged, to both inputs
    y.backward(seed, retain_graph=True)
    assert x.grad.data is not seed.data and w.grad.data is not seed.data
    assert x.grad.data is not w.grad.data
    if backend.device_name == "cpu":
        assert not np.shares_memory(x.grad.data, seed.data)
        assert not np.shares_memory(x.grad.data, w.grad.data)
    y.backward(seed)  # accumulating must build a new array, never add into the first one
    np.testing.assert_array_equal(seed.numpy(), [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 20.0, 200.0])
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 20.0, 200.0])


def test_grad_under_create_graph_is_its_own_tensor(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    seed = backend.tensor([3.0, 4.0])
    (x + 0.0).backward(seed, create_graph=True)
    assert x.grad is not seed
    with mg.no_grad():
        x.grad *= 2.0  # rebinds x.grad only
    np.testing.assert_array_equal(seed.numpy(), [3.0, 4.0])


# -- autograd.grad -------------------------------------------------------------------------------

def test_grad_with_non_leaf_inputs(backend):
    values = np.array([0.5, 1.5])
    x = backend.tensor(values, requires_grad=True)
    y = x * x
    z = mg.sum(mg.exp(y))
    gy, gx = autograd.grad(z, [y, x])
    np.testing.assert_allclose(gy.numpy(), np.exp(values ** 2), **_tol(backend))
    np.testing.assert_allclose(gx.numpy(), 2 * values * np.exp(values ** 2), **_tol(backend))
    assert x.grad is None, "autograd.grad must not accumulate into .grad"


def test_grad_allow_unused(backend):
    x = backend.tensor([1.0], requires_grad=True)
    unused = backend.tensor([2.0], requires_grad=True)
    y = mg.sum(x * 3.0)
    with pytest.raises(ValueError, match="allow_unused=True"):
        autograd.grad(y, [x, unused], retain_graph=True)
    gx, gu = autograd.grad(y, [x, unused], allow_unused=True)
    assert gu is None
    np.testing.assert_allclose(gx.numpy(), [3.0])


# -- broadcasting and dtypes ---------------------------------------------------------------------

def test_unbroadcast_sums_stretched_dimensions(backend):
    xv = np.array([[1.0], [2.0], [3.0]])  # (3, 1)
    yv = np.array([[0.5, -1.0, 2.0, 4.0]])  # (1, 4)
    x = backend.tensor(xv, requires_grad=True)
    y = backend.tensor(yv, requires_grad=True)
    mg.sum(x * y + x).backward()
    assert x.grad.shape == (3, 1) and y.grad.shape == (1, 4)
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 1), yv.sum() + 4), **_tol(backend))
    np.testing.assert_allclose(y.grad.numpy(), np.full((1, 4), xv.sum()), **_tol(backend))


def test_float32_stays_float32():
    x = mg.tensor([0.5, 1.0], dtype=mg.float32, requires_grad=True)
    y = mg.exp(x) * 2.0 + 1.0 / (x + 3)  # Python floats must not promote to float64
    assert y.dtype == mg.float32
    mg.sum(y).backward()
    assert x.grad.dtype == mg.float32
    (g,) = autograd.grad(mg.sum(mg.tanh(x)), [x], create_graph=True)
    assert g.dtype == mg.float32


# -- grad mode -----------------------------------------------------------------------------------

def test_no_grad_records_nothing(backend):
    x = backend.tensor([1.0, 2.0], requires_grad=True)
    with mg.no_grad():
        y = mg.exp(x) * x
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.node is None


def test_no_grad_as_decorator():
    x = mg.tensor([1.0], requires_grad=True)

    @mg.no_grad()
    def evaluate(t):
        return t * 2.0

    assert not evaluate(x).requires_grad
    assert mg.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_no_grad_is_thread_local():
    entered, release = threading.Event(), threading.Event()
    seen_in_thread = []

    def other():
        with mg.no_grad():
            seen_in_thread.append(mg.is_grad_enabled())
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        assert entered.wait(10)
        # the other thread sits inside no_grad; this one still records
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        assert mg.is_grad_enabled()
        y = mg.sum(x * x)
        assert y.requires_grad
        y.backward()
        np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])
    finally:
        release.set()
        thread.join()
    assert seen_in_thread == [False]


def test_fresh_thread_records_by_default():
    results = []

    def work():
        x = mg.tensor([3.0], requires_grad=True)
        results.append((mg.is_grad_enabled(), (x * x).requires_grad))

    with mg.no_grad():
        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
    assert results == [(True, True)]


def test_enable_grad_inside_no_grad():
    x = mg.tensor([2.0], requires_grad=True)
    with mg.no_grad():
        with mg.enable_grad():
            y = x * x
        z = x * x
    assert y.requires_grad and not z.requires_grad
    mg.sum(y).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [4.0])


# -- detach and requires_grad_ -------------------------------------------------------------------

def test_detach_cuts_the_graph(backend):
    values = np.array([1.5, -0.5])
    x = backend.tensor(values, requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.is_leaf
    np.testing.assert_array_equal(d.numpy(), x.numpy())
    mg.sum(x * d).backward()  # d counts as a constant: the gradient is d, not 2x
    np.testing.assert_allclose(x.grad.numpy(), values, **_tol(backend))


def test_requires_grad_(backend):
    x = backend.tensor([1.0, 2.0])
    assert not (x * x).requires_grad
    assert x.requires_grad_() is x and x.requires_grad and x.is_leaf
    y = x * x
    assert y.requires_grad and not y.is_leaf
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * x).requires_grad


def test_real_input_through_complex_intermediate_gets_real_gradient(backend64):
    """d/da real((1+2j) a) = 1 and d/da imag((1+2j) a) = 2: the complex cotangent reaching a
    real input is reduced to its real part, not cast (which strict refuses and NumPy warns on)."""
    a = backend64.tensor([1.0, 2.0], requires_grad=True)
    z = mg.astype(a, mg.complex128) * (1 + 2j)
    g_re, = mg.autograd.grad(mg.sum(mg.real(z)), [a], retain_graph=True)
    g_im, = mg.autograd.grad(mg.sum(mg.imag(z)), [a])
    assert g_re.dtype == mg.float64 and g_im.dtype == mg.float64
    np.testing.assert_allclose(g_re.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(g_im.numpy(), [2.0, 2.0])
