"""Every op of the table under ``vmap``, against a Python loop of the unbatched op.

For each spec (its first case) and each batch placement (every argument batched at each of its
axes in turn, the others shared by the batch; then all of them batched), on NumPy,
array-api-strict's device1 and CUDA (``-m slow``; the normal run takes one spec per primitive
and, on NumPy, every argument batched at its last axis alone and all of them at axis 0, on
device1 the latter):

- forward: ``vmap(fn)`` equals the stacked results of ``fn`` on each example;
- reverse outside: the gradient of ``<v, vmap(fn)(xs)>`` equals that of the loop (the batched
  arguments' gradients per example, the shared ones summed);
- reverse inside: ``vmap`` of ``fn``'s pullback gives each example's own VJP, also for the
  shared arguments (per-example gradients);
- forward mode inside: ``vmap`` of ``jvp(fn)`` gives each example's own tangent.

The specs' first cases leave some branches of the batching rules alone (stacks of different
depths, negative axes, axis=None, a shared operand beside a batched one, counts per example,
index arrays per example and where they put their dimensions, sorters, many repeats):
``test_rule_branches_under_vmap`` runs those cases the same four ways, on every float64 backend
(``--backend`` too: PyTorch refuses a reshape to ``-2``, which NumPy reads as ``-1``).
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from conftest import BACKENDS, _skip_missing
from op_specs import ALL_SPECS

SIZE = 5  # the batch: a size no spec's shapes use, so a misplaced axis cannot pass

_DEVICES = ("numpy-cpu-float64", "strict-device1-float64", "cupy-cuda0-float64")
_BACKENDS = [pytest.param(b, id=b.id, marks=[pytest.mark.gpu] if "cupy" in b.id else [])
             for b in BACKENDS if b.id in _DEVICES]
_SPECS = [pytest.param(spec, id=spec.name) for spec in ALL_SPECS]


def _first_of_each_primitive():
    """One spec per primitive: the first that covers it (the normal run's share)."""
    chosen = {}
    for spec in ALL_SPECS:
        for name in spec.covers:
            chosen.setdefault(name, spec)
    return list({id(s): s for s in chosen.values()}.values())


_ONE_PER_PRIMITIVE = [pytest.param(spec, id=spec.name) for spec in _first_of_each_primitive()]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _placements(arrays, every: bool) -> list:
    """Each argument batched at each of its axes (or its last one) while the others are
    shared, then all of them batched at axis 0."""
    out = []
    for k, a in enumerate(arrays):
        for axis in range(a.ndim + 1) if every else (a.ndim,):
            axes = [None] * len(arrays)
            axes[k] = axis
            out.append(tuple(axes))
    if len(arrays) > 1 or not every:
        out.append((0,) * len(arrays))
    return list(dict.fromkeys(out))


#: ops whose result's size depends on the values: a batch of them needs the same size in every
#: example, so their examples are shuffles of one another
_SIZED_BY_VALUES = {"nonzero", "unique_all", "unique_counts", "unique_inverse", "unique_values"}


def _examples(spec, shapes, params, rng):
    """``SIZE`` independent draws of the spec's inputs (each one valid: SPD, sorted...)."""
    if _SIZED_BY_VALUES & set(spec.covers) or "mask" in spec.name:
        first = spec.inputs(rng, shapes, params)
        return [[rng.permutation(a.reshape(-1)).reshape(a.shape) for a in first]
                for _ in range(SIZE)]
    return [spec.inputs(rng, shapes, params) for _ in range(SIZE)]


def _batch(examples, axes, backend):
    """The arguments of one placement: stacked at their axis, or the first example's."""
    args = []
    for k, axis in enumerate(axes):
        if axis is None:
            args.append(backend.tensor(examples[0][k]))
        else:
            args.append(backend.tensor(np.stack([e[k] for e in examples], axis=axis)))
    return args


def _example(args, axes, b):
    return [a if axis is None else mg.moveaxis(a, axis, 0)[b] for a, axis in zip(args, axes)]


def _close(got, want, rtol, atol, what):
    got, want = got.numpy(), want.numpy()
    assert got.shape == want.shape, f"{what}: shape {got.shape}, loop {want.shape}"
    if got.dtype.kind in "fc":
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def _floats(args):
    return [k for k, a in enumerate(args) if a.dtype in (mg.float32, mg.float64)]


@pytest.mark.parametrize("spec", _ONE_PER_PRIMITIVE)
def test_op_under_vmap(spec, request):
    numpy, device1 = (b for b in BACKENDS if b.id in _DEVICES[:2])
    if _wanted(request, numpy):
        _check_spec(spec, numpy, every=False)
    if _wanted(request, device1):
        _check_spec(spec, device1, every=None)


@pytest.mark.slow
@pytest.mark.parametrize("on", _BACKENDS)
@pytest.mark.parametrize("spec", _SPECS)
def test_op_under_vmap_every_placement(spec, on, request):
    if not _wanted(request, on):
        pytest.skip(f"--device {request.config.getoption('--device')}")
    _check_spec(spec, _skip_missing(on), every=True)


def _wanted(request, backend) -> bool:
    wanted = request.config.getoption("--device")
    return not wanted or wanted in backend.id or (wanted == "cuda" and "cupy" in backend.id)


def _check_spec(spec, backend, every):
    """``every``: every placement; False: each argument at its last axis, then all at 0;
    None: all at 0 only (forward and per-example VJP)."""
    reason = spec.xfail_reason(backend.id)
    if reason:
        return  # the op itself fails there (test_op_gradients expects it to)
    rng = np.random.default_rng(0)
    shapes, params, _ = next(iter(spec.cases()))
    examples = _examples(spec, shapes, params, rng)
    rtol, atol = spec.rtol[backend.dtype_name], spec.atol[backend.dtype_name]
    grad_tol = spec.grad_rtol[backend.dtype_name]

    def fn(*a):
        return _as_tuple(spec.fn(*a, **params))

    placements = ([(0,) * len(examples[0])] if every is None
                  else _placements(examples[0], every))
    for axes in placements:
        _check_placement(fn, examples, axes, backend, (rtol, atol, grad_tol),
                         spec.differentiable, every is not None, f"{spec.name} in_axes={axes}")


def _check_placement(fn, examples, axes, backend, tols, differentiable, full, where):
    """vmap of ``fn`` over ``examples`` batched at ``axes`` against the loop: forward and
    per-example VJP, and with ``full`` the gradient through vmap and per-example JVP."""
    rtol, atol, grad_tol = tols
    args = _batch(examples, axes, backend)
    outs = mg.vmap(fn, in_axes=axes)(*args)
    loop = [fn(*_example(args, axes, b)) for b in range(SIZE)]
    for k, o in enumerate(outs):
        _close(o, mg.stack([r[k] for r in loop]), rtol, atol, f"{where}: output {k}")
    if not differentiable:
        return
    _check_reverse_inside(fn, args, axes, outs, grad_tol, where, backend)
    if full:
        _check_reverse_outside(fn, args, axes, outs, loop, grad_tol, where, backend)
        _check_forward_inside(fn, args, axes, outs, grad_tol, where, backend)


def _of_floats(fn, full, wrt, live):
    """``fn`` as a function of its floating arguments ``wrt`` (the others fixed to ``full``),
    returning its floating outputs ``live``."""
    def of_floats(*floats):
        call = list(full)
        for k, x in zip(wrt, floats):
            call[k] = x
        res = fn(*call)
        return tuple(res[k] for k in live)
    return of_floats


def _seeds(outs, backend):
    rng = np.random.default_rng(1)
    return [backend.tensor(rng.standard_normal(o.shape), dtype=o.dtype)
            if o.dtype in (mg.float32, mg.float64) else None for o in outs]


def _check_reverse_outside(fn, args, axes, outs, loop, tol, where, backend):
    wrt = _floats(args)
    if not wrt:
        return
    seeds = _seeds(outs, backend)
    leaves = [mg.tensor(a.numpy(), dtype=a.dtype, device=a.device, requires_grad=k in wrt)
              for k, a in enumerate(args)]
    batched = mg.vmap(fn, in_axes=axes)(*leaves)
    total = sum(mg.sum(o * s) for o, s in zip(batched, seeds) if s is not None)
    looped = 0.0
    for b in range(len(loop)):
        res = fn(*_example(leaves, axes, b))
        looped = looped + sum(mg.sum(o * s[b]) for o, s in zip(res, seeds) if s is not None)
    if not (getattr(total, "requires_grad", False) and getattr(looped, "requires_grad", False)):
        return
    got = mg.autograd.grad(total, [leaves[k] for k in wrt], allow_unused=True)
    want = mg.autograd.grad(looped, [leaves[k] for k in wrt], allow_unused=True)
    for k, g, w in zip(wrt, got, want):
        if w is None:
            continue
        assert g is not None, f"{where}: no gradient for argument {k} through vmap"
        _close(g, w, tol, tol, f"{where}: gradient of argument {k} through vmap")


def _check_reverse_inside(fn, args, axes, outs, tol, where, backend):
    wrt = _floats(args)
    live = [k for k, o in enumerate(outs) if o.dtype in (mg.float32, mg.float64)]
    if not wrt or not live:
        return
    seeds = [s for s in _seeds(outs, backend) if s is not None]

    def pullback(cts, *full):
        _, back = mg.vjp(_of_floats(fn, full, wrt, live), *[full[k] for k in wrt])
        return back(tuple(cts))

    got = mg.vmap(pullback, in_axes=(0,) + tuple(axes))(tuple(seeds), *args)
    for b in range(SIZE):
        want = pullback(tuple(s[b] for s in seeds), *_example(args, axes, b))
        for k, g, w in zip(wrt, got, want):
            _close(g[b], w, tol, tol, f"{where}: per-example gradient {b} of argument {k}")


def _check_forward_inside(fn, args, axes, outs, tol, where, backend):
    wrt = _floats(args)
    live = [k for k, o in enumerate(outs) if o.dtype in (mg.float32, mg.float64)]
    if not wrt or not live:
        return
    rng = np.random.default_rng(2)
    # a tangent per example; the primal of a shared argument is shared
    tangent_shapes = [(SIZE,) + (args[k].shape if axes[k] is None
                                 else tuple(np.delete(args[k].shape, axes[k]))) for k in wrt]
    tangents = [backend.tensor(rng.standard_normal(s), dtype=args[k].dtype)
                for s, k in zip(tangent_shapes, wrt)]

    def push(ts, *full):
        return mg.jvp(_of_floats(fn, full, wrt, live), [full[k] for k in wrt], list(ts))[1]

    got = mg.vmap(push, in_axes=(0,) + tuple(axes))(tuple(tangents), *args)
    for b in range(SIZE):
        want = push(tuple(t[b] for t in tangents), *_example(args, axes, b))
        for j, (g, w) in enumerate(zip(got, want)):
            _close(g[b], w, tol, tol, f"{where}: per-example tangent {b} of output {j}")


# -- branches of the rules the specs' first cases leave alone --------------------------------------

def _normal(*shapes):
    return lambda rng: [rng.standard_normal(s) for s in shapes]


def _solvable(a_shape, b_shape):
    """Matrices far from singular (the identity weighs in) and right-hand sides."""
    return lambda rng: [rng.standard_normal(a_shape) + 4 * np.eye(a_shape[-1]),
                        rng.standard_normal(b_shape)]


def _matrices_and_cutoff(rng):
    """A stack of two 4x3 matrices and a relative cut-off, one number for both, that drops the
    smaller singular values of some examples and not of others."""
    return [rng.standard_normal((2, 4, 3)), rng.uniform(0.05, 0.5, size=())]


def _row_counts(rng):
    """A matrix and counts for its columns that differ per example (the same total, so that
    the examples' results have one shape)."""
    return [rng.standard_normal((2, 3)), rng.permutation([2, 0, 3])]


def _with_index(x_shape, index_shape, low, high):
    """A float array and integer indices in ``[low, high)`` (negative ones count from the
    end)."""
    return lambda rng: [rng.standard_normal(x_shape), rng.integers(low, high, index_shape)]


def _set_columns(rng):
    """A (3, 4, 2) array, values for two of its columns, and the two columns (distinct: a
    repeated index writes one of its values, which one unspecified)."""
    return [rng.standard_normal((3, 4, 2)), rng.standard_normal((3, 2, 2)),
            rng.permutation(4)[:2]]


def _set_apart(rng):
    """``x[i, :, j] = v`` for a (3, 4, 5) array: index arrays apart from each other, which
    put their dimension first; distinct rows."""
    return [rng.standard_normal((3, 4, 5)), rng.standard_normal((2, 4)),
            rng.permutation(3)[:2], rng.integers(-5, 5, 2)]


def _sorted_with_ties(rng):
    """A sorted array with repeated values and values to place, some equal to them (where
    ``side`` decides)."""
    return [np.sort(rng.integers(0, 4, 7)).astype(float), rng.integers(0, 5, 4).astype(float)]


#: one permutation for every example: a sorter shared by the batch sorts each example's array
_SORTER = np.array([3, 0, 5, 1, 6, 4, 2])


def _unsorted_and_sorter(rng):
    """An array that ``_SORTER`` sorts (ties included), values to place, and the sorter."""
    values = np.empty(7)
    values[_SORTER] = np.sort(rng.integers(0, 4, 7)).astype(float)
    return [values, rng.integers(0, 5, 4).astype(float), _SORTER]


def _repeated_values(rng):
    """Forty values, eight distinct ones five times each, shuffled: every example has eight
    unique values, and an unstable sort would mix up their first occurrences."""
    return [rng.permutation(np.repeat(rng.standard_normal(8), 5))]


def _pinv(x, r):
    return mg.linalg.pinv(x, rtol=r)


def _matrix_rank(x, r):
    return mg.linalg.matrix_rank(x, rtol=r)


def _concat(axis):
    return lambda a, b: mg.concat([a, b], axis=axis)


#: (id, fn, one example's arrays, in_axes): stacks of different depths on either side of
#: matmul and solve, pinv's and matrix_rank's cut-off lined up with the stack, negative axes,
#: axis=None (with keepdims), joins of a batched and a shared array, meshgrid's indexing,
#: counts that differ per example
_RULE_CASES = [
    ("matmul-stack-by-matrix", mg.matmul, _normal((2, 3, 4), (4, 2)), (0, 0)),
    ("matmul-matrix-by-stack", mg.matmul, _normal((3, 4), (2, 4, 2)), (0, 1)),
    ("matmul-vector-by-matrix", mg.matmul, _normal((4,), (4, 2)), (0, None)),
    ("matmul-column-by-vector", mg.matmul, _normal((3, 1), (1,)), (0, None)),
    ("solve-stack-by-matrix", mg.linalg.solve, _solvable((2, 3, 3), (3, 2)), (0, 0)),
    ("solve-by-shared-stack", mg.linalg.solve, _solvable((3, 3), (2, 3, 2)), (0, None)),
    ("pinv-cutoff-per-example", _pinv, _matrices_and_cutoff, (0, 0)),
    ("pinv-cutoff-shared", _pinv, _matrices_and_cutoff, (1, None)),
    ("matrix_rank-cutoff-per-example", _matrix_rank, _matrices_and_cutoff, (0, 0)),
    ("concat-flat", _concat(None), _normal((2, 3), (4,)), (0, None)),
    ("concat-last-shared-first", _concat(-1), _normal((2, 3), (2, 1)), (None, 0)),
    ("stack-last-shared-first", lambda a, b: mg.stack([a, b], axis=-1),
     _normal((2, 3), (2, 3)), (None, 1)),
    ("unstack-last", lambda x: mg.unstack(x, axis=-1), _normal((2, 3, 4)), (0,)),
    ("roll-flat", lambda x: mg.roll(x, 1, axis=None), _normal((3, 4)), (1,)),
    ("roll-last", lambda x: mg.roll(x, 1, axis=-1), _normal((3, 4)), (0,)),
    ("repeat-flat", lambda x: mg.repeat(x, 2), _normal((2, 3)), (0,)),
    ("repeat-last", lambda x: mg.repeat(x, 2, axis=-1), _normal((2, 3)), (1,)),
    ("repeat-counts-per-example", lambda x, r: mg.repeat(x, r, axis=-1), _row_counts,
     (None, 0)),
    ("meshgrid-xy-one", lambda x: mg.meshgrid(x, indexing="xy"), _normal((3,)), (0,)),
    ("meshgrid-ij", lambda x, y: mg.meshgrid(x, y, indexing="ij"), _normal((3,), (4,)),
     (0, None)),
    ("argmax-flat-keepdims", lambda x: mg.argmax(x, axis=None, keepdims=True),
     _normal((2, 3, 2)), (1,)),
    ("argmin-last-keepdims", lambda x: mg.argmin(x, axis=-1, keepdims=True),
     _normal((2, 3, 2)), (2,)),
    # indexing: index arrays per example behind a leading axis and before a trailing one, or
    # apart from each other; values written through them; take along an inner axis
    ("getitem-columns-per-example", lambda x, i: x[:, i], _with_index((3, 4, 2), (2,), -4, 4),
     (None, 0)),
    ("getitem-columns-2d-index", lambda x, i: x[:, i], _with_index((3, 4, 2), (2, 3), 0, 4),
     (0, 0)),
    ("getitem-apart", lambda x, i, j: x[i, :, j],
     lambda rng: [rng.standard_normal((3, 4, 5)), rng.integers(0, 3, 2), rng.integers(0, 5, 2)],
     (0, None, None)),
    ("setitem-columns-per-example", lambda x, v, i: mg.setitem(x, (slice(None), i), v),
     _set_columns, (None, None, 0)),
    ("setitem-columns-all", lambda x, v, i: mg.setitem(x, (slice(None), i), v), _set_columns,
     (0, 0, 0)),
    ("setitem-apart", lambda x, v, i, j: mg.setitem(x, (i, slice(None), j), v), _set_apart,
     (0, 0, None, None)),
    ("setitem-apart-broadcast-value", lambda x, v, i, j: mg.setitem(x, (i, slice(None), j),
                                                                    v[0]),
     _set_apart, (0, None, None, None)),
    ("take-inner-shared-array", lambda x, i: mg.take(x, i, axis=1),
     _with_index((3, 4, 2), (3,), -4, 4), (None, 0)),
    ("take-inner-all", lambda x, i: mg.take(x, i, axis=1), _with_index((3, 4, 2), (3,), -4, 4),
     (0, 0)),
    ("take_along_axis-last-shared-array", lambda x, i: mg.take_along_axis(x, i, axis=-1),
     _with_index((3, 4), (3, 2), 0, 4), (None, 0)),
    ("scatter_add-rows-with-columns", lambda v, i: mg.scatter_add(v, i, 4),
     _with_index((3, 2), (3,), 0, 4), (0, 0)),
    ("scatter_add-shared-rows", lambda v, i: mg.scatter_add(v, i, 4),
     _with_index((3, 2), (3,), 0, 4), (None, 0)),
    # searching and sets: ties on either side, a sorter shared or per example, a pool per
    # example, unique values with many repeats
    ("searchsorted-right-ties", lambda s, v: mg.searchsorted(s, v, side="right"),
     _sorted_with_ties, (0, 0)),
    ("searchsorted-left-shared-values", lambda s, v: mg.searchsorted(s, v, side="left"),
     _sorted_with_ties, (0, None)),
    ("searchsorted-shared-sorter", lambda s, v, o: mg.searchsorted(s, v, sorter=o),
     _unsorted_and_sorter, (0, 0, None)),
    ("searchsorted-sorter-per-example", lambda s, v, o: mg.searchsorted(s, v, sorter=o),
     _unsorted_and_sorter, (0, None, 0)),
    ("isin-pool-per-example", lambda x, p: mg.isin(x, p),
     lambda rng: [rng.integers(0, 6, (3, 4)), rng.integers(0, 6, 5)], (None, 0)),
    ("unique_all-repeats", mg.unique_all, _repeated_values, (0,)),
]


@pytest.mark.parametrize("name, fn, example, axes", [pytest.param(*c, id=c[0])
                                                     for c in _RULE_CASES])
def test_rule_branches_under_vmap(name, fn, example, axes, backend64):
    rng = np.random.default_rng(0)
    examples = [example(rng) for _ in range(SIZE)]
    outs = _as_tuple(fn(*(backend64.tensor(a) for a in examples[0])))
    differentiable = all(mg.isdtype(o.dtype, "real floating") for o in outs)
    _check_placement(lambda *a: _as_tuple(fn(*a)), examples, axes, backend64,
                     (1e-10, 1e-12, 1e-9), differentiable, True, f"{name} in_axes={axes}")


@pytest.mark.parametrize("op", [mg.nonzero, mg.unique_all, mg.unique_counts, mg.unique_inverse,
                                mg.unique_values])
def test_sized_by_values_under_vmap_of_one_and_of_no_example(op, backend64):
    # a batch of no examples has no count to agree on: none (unique_* failed to reshape it)
    one = np.array([[0.0, 2.0, 2.0], [1.0, 0.0, 2.0]])
    got = _as_tuple(mg.vmap(op)(backend64.tensor(one[None])))
    for g, w in zip(got, _as_tuple(op(backend64.tensor(one)))):
        _close(g, w[None], 0, 0, f"{op.__name__} of one example")
    none = _as_tuple(mg.vmap(op)(backend64.tensor(np.zeros((0, 2, 3)))))
    assert [tuple(g.shape) for g in none] == [
        (0, 2, 3) if name == "inverse_indices" else (0, 0)
        for name in getattr(op(backend64.tensor(one)), "_fields", ("values",) * len(none))]


@pytest.mark.parametrize("op", [mg.nonzero, mg.unique_values, mg.unique_all])
def test_sized_by_values_with_counts_that_differ_per_example_names_the_op(op, backend64):
    batch = backend64.tensor(np.array([[0.0, 1.0, 1.0], [2.0, 3.0, 4.0]]))
    with pytest.raises(ValueError, match=rf"vmap: {op.__name__} gives \d results for some "
                                         r"examples and \d for others"):
        mg.vmap(op)(batch)
