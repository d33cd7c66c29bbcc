"""``mg.vmap`` itself: its arguments (``in_axes`` pytrees, ``out_axes``, ``axis_size``), its
compositions with the other transforms and with ``mg.compile``, the loop fallback for ops
without a batching rule, randomness, and its errors. Every result is checked against ``f`` run
on each example in a Python loop. The op table under vmap is in test_vmap_ops.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import multigrad as mg
from multigrad.autograd import defprimitive


def _tol(backend):
    return dict(rtol=1e-10, atol=1e-12) if backend.precise else dict(rtol=2e-4, atol=2e-5)


def _close(got, want, backend):
    want = want.numpy() if isinstance(want, mg.Tensor) else np.asarray(want)
    assert got.shape == want.shape, f"shape {got.shape}, the loop gives {want.shape}"
    np.testing.assert_allclose(got.numpy(), want, **_tol(backend))


def _stack(results):
    return np.stack([r.numpy() for r in results])


def loss(w, x):
    """One example's loss: nonlinear in both arguments."""
    return mg.sum(mg.tanh(w * x) ** 2 + mg.sin(x) * w)


@pytest.fixture
def data(backend64, rng):
    b = backend64
    return b, b.tensor(rng.standard_normal(3)), b.tensor(rng.standard_normal((4, 3)))


# -- compositions ---------------------------------------------------------------------------------

def test_vmap_of_grad_gives_per_example_gradients(data):
    b, w, xs = data
    got = mg.vmap(mg.grad(loss), in_axes=(None, 0))(w, xs)
    _close(got, _stack(mg.grad(loss)(w, x) for x in xs), b)
    both = mg.vmap(mg.grad(loss, argnums=(0, 1)), in_axes=(None, 0))(w, xs)
    _close(both[1], _stack(mg.grad(loss, argnums=1)(w, x) for x in xs), b)


def test_grad_of_a_sum_over_vmap_sums_the_gradients(data):
    b, w, xs = data
    got = mg.grad(lambda w: mg.sum(mg.vmap(loss, in_axes=(None, 0))(w, xs)))(w)
    _close(got, sum(mg.grad(loss)(w, x).numpy() for x in xs), b)
    # and through the batched argument: each example's gradient in its row
    rows = mg.grad(lambda xs: mg.sum(mg.vmap(loss, in_axes=(None, 0))(w, xs)))(xs)
    _close(rows, _stack(mg.grad(loss, argnums=1)(w, x) for x in xs), b)


def test_grad_of_a_penalty_on_per_example_gradients(data):
    # grad over vmap(grad): a gradient penalty, each example's gradient norm squared
    b, w, xs = data
    penalty = mg.grad(lambda w: mg.sum(mg.vmap(mg.grad(loss), (None, 0))(w, xs) ** 2))(w)
    looped = mg.grad(lambda w: sum(mg.sum(mg.grad(loss)(w, x) ** 2) for x in xs))(w)
    _close(penalty, looped, b)


def test_backward_outside_and_inside_vmap_sums_over_the_batch(data):
    b, w, xs = data
    want = sum(mg.grad(loss)(w, x).numpy() for x in xs)
    leaf = w.detach().requires_grad_()
    mg.sum(mg.vmap(loss, (None, 0))(leaf, xs)).backward()
    _close(leaf.grad, want, b)
    leaf.grad = None
    mg.vmap(lambda x: loss(leaf, x).backward())(xs)
    _close(leaf.grad, want, b)  # an unbatched leaf accumulates every example's gradient


def test_nested_vmap_with_two_batch_sizes(backend64, rng):
    b = backend64
    w, xs = b.tensor(rng.standard_normal(3)), b.tensor(rng.standard_normal((2, 5, 3)))
    got = mg.vmap(mg.vmap(loss, in_axes=(None, 0)), in_axes=(None, 0))(w, xs)
    _close(got, [[loss(w, xs[i, j]).numpy() for j in range(5)] for i in range(2)], b)
    # the outer batch over one argument, the inner over the other: an outer product
    u, v = b.tensor(rng.standard_normal(5)), b.tensor(rng.standard_normal(2))
    table = mg.vmap(mg.vmap(lambda p, q: mg.sin(p) * q, (0, None)), (None, 0))(u, v)
    _close(table, np.sin(u.numpy())[None, :] * v.numpy()[:, None], b)
    # per-example gradients of a batch of batches
    grads = mg.vmap(mg.vmap(mg.grad(loss), (None, 0)), (None, 0))(w, xs)
    _close(grads, [[mg.grad(loss)(w, xs[i, j]).numpy() for j in range(5)] for i in range(2)], b)


@pytest.mark.parametrize("op", [mg.sum, mg.prod, mg.max, mg.min, mg.logsumexp, mg.softmax,
                                mg.squeeze, mg.argmax, mg.argmin, mg.any, mg.all,
                                mg.count_nonzero], ids=lambda op: op.__name__)
def test_axis_0_of_0d_examples_names_each_example(backend64, op):
    # a 0-d array takes axis 0 or -1 (NumPy's reductions do): vmap must agree with the loop
    b = backend64
    xs = b.tensor([0.5, -1.0, 2.0], requires_grad=True)
    for axis in (0, -1):
        got = mg.vmap(lambda x: op(x, axis=axis))(xs)
        np.testing.assert_array_equal(got.numpy(), [op(x, axis=axis).numpy() for x in xs])
    if mg.isdtype(got.dtype, "real floating"):
        grads = mg.vmap(mg.grad(lambda x: op(x, axis=0)))(xs)
        np.testing.assert_allclose(grads.numpy(),
                                   [mg.grad(lambda x: op(x, axis=0))(x).numpy() for x in xs])


def test_an_op_along_axis_0_of_0d_examples_is_refused_by_name():
    with pytest.raises(ValueError, match=r"vmap: sort along axis 0 of 0-d examples"):
        mg.vmap(lambda x: mg.sort(x, axis=0))(mg.ones(3))


def test_jvp_of_vmap_and_vmap_of_jvp(data, rng):
    b, w, xs = data
    t = b.tensor(rng.standard_normal(3))
    _, got = mg.jvp(lambda w: mg.vmap(loss, in_axes=(None, 0))(w, xs), (w,), (t,))
    _close(got, [mg.jvp(lambda w: loss(w, x), (w,), (t,))[1].numpy() for x in xs], b)
    ts = b.tensor(rng.standard_normal((4, 3)))
    got = mg.vmap(lambda x, tx: mg.jvp(lambda x: loss(w, x), (x,), (tx,))[1])(xs, ts)
    _close(got, [mg.jvp(lambda x: loss(w, x), (x,), (tx,))[1].numpy()
                 for x, tx in zip(xs, ts)], b)


def test_vmap_of_hessian_and_of_jacobians(data):
    b, w, xs = data
    got = mg.vmap(mg.hessian(lambda x: loss(w, x)))(xs)
    _close(got, _stack(mg.hessian(lambda x: loss(w, x))(x) for x in xs), b)
    f = lambda x: mg.tanh(x) * mg.sum(x ** 2)  # noqa: E731
    _close(mg.vmap(mg.jacrev(f))(xs), _stack(mg.jacfwd(f)(x) for x in xs), b)
    _close(mg.vmap(mg.jacfwd(f))(xs), _stack(mg.jacrev(f)(x) for x in xs), b)


def test_a_compiled_step_calling_vmap_replays_it(data):
    b, w, xs = data
    per_example = mg.compile(lambda w, xs: mg.vmap(mg.grad(loss), (None, 0))(w, xs))
    want = _stack(mg.grad(loss)(w, x) for x in xs)
    for _ in range(3):
        _close(per_example(w, xs), want, b)
    assert per_example.cache_info().hits == 2


@pytest.mark.parametrize("transform", ["hessian", "jacfwd of grad", "jacrev"])
def test_compiled_batched_jacobians_replay_the_eager_values(data, transform):
    # the batched passes broadcast views that compile's passes must keep alive
    b, w, _ = data
    f = {"hessian": mg.hessian(lambda x: loss(w, x)),
         "jacfwd of grad": mg.jacfwd(mg.grad(lambda x: loss(w, x))),
         "jacrev": mg.jacrev(lambda x: mg.tanh(x) * mg.sum(x ** 2))}[transform]
    x = w * 0.7 + 0.1
    want = f(x)
    compiled = mg.compile(f)
    for _ in range(4):
        _close(compiled(x), want, b)


def test_vmap_of_a_compiled_function_says_to_compile_the_vmap(data):
    _, _, xs = data
    compiled = mg.compile(lambda x: mg.sum(x ** 2))
    with pytest.raises(TypeError, match=r"inside vmap.*mg\.compile\(mg\.vmap\(f\)\)"):
        mg.vmap(compiled)(xs)


# -- in_axes, out_axes, axis_size, outputs ------------------------------------------------------

def test_in_axes_pytrees_and_out_axes(backend64, rng):
    b = backend64
    a, bb, c = (b.tensor(rng.standard_normal(s)) for s in ((4, 3), (3, 4), (3,)))

    def f(d, c):
        return {"sum": d["a"] * d["b"][0] + c, "norm": mg.sum(d["a"] ** 2)}

    out = mg.vmap(f, in_axes=({"a": 0, "b": (1,)}, None), out_axes={"sum": 1, "norm": 0})(
        {"a": a, "b": (bb,)}, c)
    want = [f({"a": a[k], "b": (bb[:, k],)}, c) for k in range(4)]
    _close(out["sum"], np.stack([r["sum"].numpy() for r in want], axis=1), b)
    _close(out["norm"], [r["norm"].numpy() for r in want], b)
    # a negative out_axes counts from the end of the result (batch axis included)
    x = b.tensor(rng.standard_normal((4, 3, 2)))
    assert mg.vmap(lambda x: x * 2, out_axes=-1)(x).shape == (3, 2, 4)
    # an int in_axes applies to every argument, a negative one counts from the end
    _close(mg.vmap(lambda p, q: p * q, in_axes=-1)(mg.permute_dims(a, (1, 0)), bb),
           a.numpy() * bb.numpy().T, b)


def test_axis_size_with_no_batched_argument(backend64):
    b = backend64
    x = b.tensor([1.0, 2.0])
    out = mg.vmap(lambda x: mg.exp(x), in_axes=None, axis_size=3)(x)
    _close(out, np.broadcast_to(np.exp([1.0, 2.0]), (3, 2)), b)
    # with batched arguments axis_size is checked against them
    with pytest.raises(ValueError, match="axis_size is 2; argument 0 has size 3 at axis 0"):
        mg.vmap(lambda x: x, axis_size=2)(b.tensor(np.ones((3, 2))))


def test_a_batched_numpy_array_is_batched_as_a_constant(rng):
    xs, w = rng.standard_normal((4, 3)), mg.tensor(rng.standard_normal(3), requires_grad=True)
    out = mg.vmap(lambda x: mg.sum(x * w))(xs)  # once "it is a ndarray, not a tensor"
    np.testing.assert_allclose(out.numpy(), xs @ w.numpy())
    mg.sum(out).backward()
    np.testing.assert_allclose(w.grad.numpy(), xs.sum(axis=0))


def test_python_scalar_and_unbatched_outputs_are_broadcast(data):
    b, w, xs = data
    const, shared, per = mg.vmap(lambda x: (1.5, w, x * w))(xs)
    _close(const, np.full(4, 1.5), b)
    assert const.device == b.device
    _close(shared, np.broadcast_to(w.numpy(), (4, 3)), b)
    # out_axes=None returns an output that does not depend on the batch as it is
    shared = mg.vmap(lambda x: (w, x), out_axes=(None, 0))(xs)[0]
    _close(shared, w.numpy(), b)


@pytest.mark.parametrize("size", [1, 0])
def test_batches_of_one_and_of_none(data, size):
    b, w, xs = data
    xs = xs[:size]
    _close(mg.vmap(loss, (None, 0))(w, xs), [loss(w, x).numpy() for x in xs] or np.zeros(0), b)
    grads = mg.vmap(mg.grad(loss), (None, 0))(w, xs)
    _close(grads, _stack(mg.grad(loss)(w, x) for x in xs) if size else np.zeros((0, 3)), b)


# -- ops without a batching rule ------------------------------------------------------------------

@pytest.fixture
def fresh_warnings(monkeypatch):
    """The loop's warnings as if no op had looped yet in this process (they come once)."""
    from multigrad.batching import _running
    monkeypatch.setattr(_running, "_warned", set())


def _cube_op(name, **batch):
    return defprimitive(name, lambda xp, x: x ** 3,
                        vjp=(lambda xp, g, ans, x: 3 * x ** 2 * g,),
                        jvp=(lambda xp, t, ans, x: 3 * x ** 2 * t,), **batch)


def test_an_op_without_a_rule_loops_with_one_warning_naming_it(data, fresh_warnings):
    b, _, xs = data
    cube = _cube_op("cube_without_rule")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = mg.vmap(lambda x: mg.sum(cube(x)))(xs)
        grads = mg.vmap(mg.grad(lambda x: mg.sum(cube(x))))(xs)
    _close(out, np.sum(xs.numpy() ** 3, axis=1), b)
    _close(grads, 3 * xs.numpy() ** 2, b)
    loops = [w for w in caught if issubclass(w.category, mg.batching.LoopFallbackWarning)]
    assert len(loops) == 1 and "cube_without_rule" in str(loops[0].message)
    assert loops[0].filename == __file__  # points at the user's line, not multigrad's


def test_jacobians_of_an_op_without_a_rule_fall_back_to_their_loop(data, rng):
    b, _, _ = data
    cube = _cube_op("cube_in_jacobians")
    x = b.tensor(rng.standard_normal(3))
    want = np.diag(3 * x.numpy() ** 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.batching.LoopFallbackWarning)  # no loop in vmap
        _close(mg.jacrev(cube)(x), want, b)
        _close(mg.jacfwd(cube)(x), want, b)
        _close(mg.hessian(lambda x: mg.sum(cube(x)))(x), np.diag(6 * x.numpy()), b)


def test_a_batching_rule_given_to_defprimitive_runs(data):
    b, _, xs = data
    calls = []

    def rule(xp, args, batched):
        calls.append(batched)
        return args[0] ** 3, batched[0]

    cube = _cube_op("cube_with_rule", batch=rule)
    with warnings.catch_warnings():
        warnings.simplefilter("error", mg.batching.LoopFallbackWarning)
        _close(mg.vmap(cube)(xs), xs.numpy() ** 3, b)
    assert calls == [(True,)]


def test_a_wrong_batching_rule_is_named(data):
    _, _, xs = data
    with pytest.raises(TypeError, match="batch must be a batching rule"):
        _cube_op("cube_bad_rule", batch="loop")
    summed = _cube_op("cube_summing", batch=lambda xp, args, batched: (xp.sum(args[0]), True))
    with pytest.raises(ValueError, match=r"cube_summing: its batching rule says output 0 is "
                                         r"batched, but its shape \(\) does not start with the "
                                         r"batch size 4"):
        mg.vmap(summed)(xs)


class _Square(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return 2 * x * g


class _BatchedSquare(_Square):
    calls = 0

    @staticmethod
    def batch(batched, x):
        _BatchedSquare.calls += 1
        return _BatchedSquare.apply(x), batched[0]


def test_functions_loop_or_use_their_batch_method(data, fresh_warnings):
    b, _, xs = data
    _BatchedSquare.calls = 0
    for fn in (_Square, _BatchedSquare):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            grads = mg.vmap(mg.grad(lambda x: mg.sum(fn.apply(x) * mg.sin(x))))(xs)
        x = xs.numpy()
        _close(grads, 2 * x * np.sin(x) + x ** 2 * np.cos(x), b)
        looped = [w for w in caught if issubclass(w.category, mg.batching.LoopFallbackWarning)]
        assert bool(looped) == (fn is _Square)
    assert _BatchedSquare.calls == 1


def test_every_primitive_inside_multigrad_has_a_batching_rule():
    from multigrad.checkpoint import _checkpointed
    from multigrad.nn._convolution import _patches_p, _scatter_p
    from multigrad.nn._normalization import _standardize_p
    from multigrad.ops._linalg_determinants import _cofactors_p
    for prim in (_checkpointed, _patches_p, _scatter_p, _standardize_p, _cofactors_p):
        assert mg.batching.rule_kind(prim) != "loop", prim.name


@pytest.mark.parametrize("name, kind", [
    ("add", "elementwise"), ("inv", "unchanged"), ("svd", "unchanged"), ("sum", "axis"),
    ("softmax", "axis"), ("flip", "axis"), ("diff", "axis"), ("argmax", "axis"),
    ("unstack", "axis"), ("pinv", "stacked"), ("matmul", "rule"), ("reshape", "rule")])
def test_rule_kind_names_the_convention_a_rule_follows(name, kind):
    from multigrad.autograd import REGISTRY
    assert mg.batching.rule_kind(REGISTRY[name]) == kind


# -- randomness -----------------------------------------------------------------------------------

def test_random_draws_differ_across_the_batch_unless_asked_for_the_same(backend64):
    b = backend64
    zeros = b.tensor(np.zeros((4, 50)))
    differ = mg.vmap(lambda z: z + mg.randn(50, device=b.device))(zeros).numpy()
    same = mg.vmap(lambda z: z + mg.randn(50, device=b.device), randomness="same")(zeros)
    assert len({row.tobytes() for row in differ}) == 4
    assert np.ptp(same.numpy(), axis=0).max() == 0
    dropped = mg.vmap(lambda z: mg.nn.functional.dropout(z + 1.0, 0.5, seed=3))(zeros).numpy()
    assert len({row.tobytes() for row in dropped}) == 4
    kept = mg.vmap(lambda z: mg.nn.functional.dropout(z + 1.0, 0.5, seed=3),
                   randomness="same")(zeros).numpy()
    assert np.ptp(kept, axis=0).max() == 0 and 0 < kept.mean() < 2


# -- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("in_axes, args, message", [
    (((0, 0), 0), "w xs", r"in_axes gives a tuple of 2 for argument 0, which is a tensor of "
                          r"shape \(3,\)"),
    ((0,), "w xs", r"in_axes has 1 entries but the function got 2 positional argument"),
    ((None, 2), "w xs", r"maps argument 1 over axis 2, but it has shape \(4, 3\)"),
    ((None, -3), "w xs", r"maps argument 1 over axis -3, but it has shape \(4, 3\)"),
    ((0, 0), "xs ys", r"disagree on the batch size: argument 0 has size 4 at axis 0; "
                      r"argument 1 has size 5 at axis 0"),
    (({"a": 0}, None), "d w", r"in_axes gives a dict with keys \['a'\] for argument 0, which "
                              r"is a dict with keys \['a', 'b'\]"),
    ((None, None), "w xs", r"no argument is batched.*give axis_size"),
    ((0, None), "one w", r"maps argument 0 over axis 0, but it is a float"),
    ((1.5, None), "w xs", r"in_axes\[0\] is 1.5; expected an int"),
])
def test_bad_in_axes_are_named_before_f_runs(data, rng, in_axes, args, message):
    b, w, xs = data
    given = {"w": w, "xs": xs, "ys": b.tensor(rng.standard_normal((5, 3))),
             "d": {"a": xs, "b": xs}, "one": 1.0}
    ran = []
    with pytest.raises((ValueError, TypeError), match=message):
        mg.vmap(lambda *a: ran.append(a), in_axes=in_axes)(*(given[k] for k in args.split()))
    assert not ran


@pytest.mark.parametrize("out_axes, message", [
    (None, r"out_axes is None for the output, but it depends on the batched arguments"),
    (2, r"out_axes puts the batch axis of the output at 2, but the result has 2 axes"),
    ((0, 0), r"out_axes gives a tuple of 2 for the output, which is a tensor"),
])
def test_bad_out_axes_name_the_output_and_the_sizes(data, out_axes, message):
    _, w, xs = data
    with pytest.raises(ValueError, match=message):
        mg.vmap(lambda x: x * w, out_axes=out_axes)(xs)


def test_python_control_flow_on_a_batched_value_is_refused(data):
    _, _, xs = data
    with pytest.raises(TypeError, match=r"batched tensor.*multigrad\.where"):
        mg.vmap(lambda x: x if mg.sum(x) > 0 else -x)(xs)


# -- per-example gradients of a model -------------------------------------------------------------

def _mlp(b):
    nn = mg.nn
    return nn.Sequential(nn.Linear(5, 8, seed=0, dtype=b.dtype, device=b.device), nn.Tanh(),
                         nn.Linear(8, 3, seed=1, dtype=b.dtype, device=b.device))


def test_per_example_grads_of_a_model_equal_one_backward_per_example(backend64, rng):
    b = backend64
    model, loss = _mlp(b), mg.nn.CrossEntropyLoss()
    x, y = b.tensor(rng.standard_normal((6, 5))), b.tensor(rng.integers(0, 3, 6))
    grads = mg.nn.per_example_grads(model, loss, x, y)
    assert sorted(grads) == sorted(k for k, _ in model.named_parameters())
    for i in range(6):
        model.zero_grad()
        loss(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            _close(grads[name][i], p.grad, b)
    # a label out of range in one example is named, as without vmap
    y_bad = b.tensor(np.array([0, 1, 2, 7, 0, 1]))
    with pytest.raises(IndexError, match=r"class indices must be in \[0, 3\); got 7"):
        mg.compute(*mg.nn.per_example_grads(model, loss, x, y_bad).values())  # lazy: computes


def test_functional_call_replaces_parameters_by_name_and_restores_them(backend64, rng):
    b = backend64
    model = _mlp(b)
    before = {k: p for k, p in model.named_parameters()}
    x = b.tensor(rng.standard_normal((2, 5)))
    zero = mg.zeros_like(before["2.weight"])
    out = mg.nn.functional_call(model, {"2.weight": zero}, x)
    _close(out, np.broadcast_to(before["2.bias"].numpy(), (2, 3)), b)
    assert all(p is before[k] for k, p in model.named_parameters())
    g = mg.grad(lambda w: mg.sum(mg.nn.functional_call(model, {"0.bias": w}, x)))(
        before["0.bias"])
    model.zero_grad()
    mg.sum(model(x)).backward()
    _close(g, before["0.bias"].grad, b)
    with pytest.raises(KeyError, match=r"no parameter or buffer named '1.weight'"):
        mg.nn.functional_call(model, {"1.weight": zero}, x)
    with pytest.raises(ValueError, match=r"params\['0.weight'\] has shape \(3, 8\) but"):
        mg.nn.functional_call(model, {"0.weight": zero}, x)
    with pytest.raises(TypeError, match=r"params\['2.weight'\] has dtype float32 .* float64"):
        mg.nn.functional_call(model, {"2.weight": mg.astype(zero, mg.float32)}, x)


def test_per_example_grads_through_convolution_pooling_and_normalization(backend64, rng):
    # the internal primitives behind the layers: patches and their adjoint, standardize
    b, nn = backend64, mg.nn
    opts = dict(dtype=b.dtype, device=b.device)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, seed=0, **opts),
                          nn.BatchNorm2d(3, **opts), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.LayerNorm(18, **opts),
                          nn.Linear(18, 2, seed=1, **opts))
    model.eval()
    x, y = b.tensor(rng.standard_normal((3, 1, 4, 6))), b.tensor(rng.integers(0, 2, 3))
    loss = nn.CrossEntropyLoss()
    grads = nn.per_example_grads(model, loss, x, y)
    for i in range(3):
        model.zero_grad()
        loss(model(x[i:i + 1]), y[i:i + 1]).backward()
        for name, p in model.named_parameters():
            _close(grads[name][i], p.grad, b)
    # the input's gradient per example: the patches' adjoint (col2im) on a batch
    conv = nn.Conv2d(1, 2, 3, stride=2, seed=2, **opts)

    def energy(image):
        return mg.sum(conv(image[None]) ** 2)
    _close(mg.vmap(mg.grad(energy))(x), _stack(mg.grad(energy)(image) for image in x), b)
    # batch norm in training mode over each example's own batch (statistics per example)
    batches = b.tensor(rng.standard_normal((3, 5, 4)))
    def normalized(h):
        return mg.nn.functional.batch_norm(h, None, None, training=True)

    _close(mg.vmap(normalized)(batches), _stack(normalized(h) for h in batches), b)
