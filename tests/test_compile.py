"""``multigrad.compile``: a compiled step gives what the eager step gives, call after call, and
leaves every object as the eager step would; it refuses what it cannot replay, clearly and
without changing anything."""

from __future__ import annotations

import types
import warnings

import numpy as np
import pytest

import multigrad as mg

DEVICES = ["cpu", "strict:device1"]


def _values(t):
    return None if t is None else t.numpy()


def _same(a, b):
    """Bitwise equal (NaN equal to NaN), for arrays or None."""
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_array_equal(a, b)


def _mlp(device, seed=0):
    return mg.nn.Sequential(mg.nn.Linear(6, 12, seed=seed, dtype=mg.float64, device=device),
                            mg.nn.Tanh(),
                            mg.nn.Linear(12, 3, seed=seed + 1, dtype=mg.float64, device=device))


def _batches(device, n=20, batch=5, seed=0):
    rng = np.random.default_rng(seed)
    return [(mg.asarray(rng.standard_normal((batch, 6)), device=device),
             mg.asarray(rng.standard_normal((batch, 3)), device=device)) for _ in range(n)]


def _training_step(model, opt, loss_fn=mg.nn.functional.mse_loss):
    def step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _state_of(model, opt):
    params = [p.numpy() for p in model.parameters()]
    grads = [_values(p.grad) for p in model.parameters()]
    state = {k: {n: (v.numpy() if isinstance(v, mg.Tensor) else v) for n, v in s.items()}
             for k, s in opt.state_dict()["state"].items()}
    return params, grads, state


def _assert_same_state(a, b):
    (pa, ga, sa), (pb, gb, sb) = a, b
    for x, y in zip(pa, pb):
        _same(x, y)
    for x, y in zip(ga, gb):
        _same(x, y)
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].keys() == sb[k].keys()
        for n in sa[k]:
            _same(np.asarray(sa[k][n]), np.asarray(sb[k][n]))


# -- a step compiled gives the eager step's results ----------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("optimizer", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_training_step_matches_eager_for_twenty_steps(device, optimizer):
    options = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=1e-2),
               "RMSprop": dict(lr=1e-2), "Adagrad": dict(lr=1e-1)}[optimizer]
    eager_model, compiled_model = _mlp(device), _mlp(device)
    eager_opt = getattr(mg.optim, optimizer)(eager_model.parameters(), **options)
    compiled_opt = getattr(mg.optim, optimizer)(compiled_model.parameters(), **options)
    eager = _training_step(eager_model, eager_opt)
    compiled = mg.compile(_training_step(compiled_model, compiled_opt))
    for x, y in _batches(device):
        _same(eager(x, y).numpy(), compiled(x, y).numpy())
        _assert_same_state(_state_of(eager_model, eager_opt),
                           _state_of(compiled_model, compiled_opt))
    info = compiled.cache_info()
    # the first step records; the second too (the optimizer now has state); SGD's third too
    # (after the first step its momentum buffer is the gradient's array: an aliasing that the
    # guards see); the rest replay
    recorded = 3 if optimizer == "SGD" else 2
    assert (info.misses, info.hits, info.eager) == (recorded, 20 - recorded, 0)


def test_returned_tensors_are_outside_the_graph_and_fresh_each_call():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    step = mg.compile(lambda x: mg.sum(w * x))
    first, second = step(mg.tensor([1.0, 1.0])), step(mg.tensor([2.0, 3.0]))
    assert not first.requires_grad and first.node is None
    assert first.item() == 3.0 and second.item() == 8.0
    assert first.data is not second.data


def test_a_new_batch_size_records_a_new_program_and_the_old_one_still_replays():
    model = _mlp("cpu")
    step = mg.compile(lambda x: mg.sum(model(x)))
    eager = lambda x: mg.sum(model(x))  # noqa: E731
    small, large = mg.ones((2, 6), dtype=mg.float64), mg.ones((7, 6), dtype=mg.float64)
    for x in (small, large, small, large):
        assert step(x).item() == eager(x).item()
    info = step.cache_info()
    assert (info.misses, info.hits, info.currsize) == (2, 2, 2)


def test_a_full_cache_runs_eagerly_with_one_warning_naming_the_guard():
    step = mg.compile(lambda x: mg.sum(x * x), cache_size=2)
    sizes = [1, 2, 3, 4]
    with pytest.warns(UserWarning, match=r"2 programs are recorded.*first guard that differs"):
        results = [step(mg.ones(n)).item() for n in sizes]
    assert results == [1.0, 2.0, 3.0, 4.0]
    info = step.cache_info()
    assert (info.misses, info.eager, info.currsize, info.maxsize) == (2, 2, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        assert step(mg.ones(5)).item() == 5.0
    step.cache_clear()
    assert step(mg.ones(6)).item() == 6.0 and step.cache_info().misses == 1


def test_gradients_accumulate_across_compiled_calls_without_zero_grad():
    w = mg.tensor([0.5, -1.0], requires_grad=True)
    v = mg.tensor([0.5, -1.0], requires_grad=True)

    def step(x):
        mg.sum(mg.sin(w) * x).backward()

    def eager(x):
        mg.sum(mg.sin(v) * x).backward()

    compiled = mg.compile(step)
    for k in range(4):
        x = mg.tensor([1.0 + k, 2.0])
        compiled(x)
        eager(x)
        _same(w.grad.numpy(), v.grad.numpy())
    # None and present gradients are two states: two programs
    assert compiled.cache_info().misses == 2


def test_the_returned_gradient_is_the_one_written_back():
    w = mg.tensor([0.5, -1.0], requires_grad=True)

    def step(x):
        w.grad = None
        loss = mg.sum(mg.exp(w) * x)
        loss.backward()
        return loss, w.grad

    step = mg.compile(step)
    for _ in range(3):
        loss, grad = step(mg.tensor([1.0, 2.0]))
        assert grad is w.grad
        _same(grad.numpy(), np.exp([0.5, -1.0]) * [1.0, 2.0])


# -- values read back to Python ------------------------------------------------------------------

def test_a_value_read_at_the_end_is_returned_fresh_on_every_call():
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.compile
    def step(x):
        w.grad = None
        loss = mg.sum((w * x) ** 2)
        loss.backward()
        gsum = mg.sum(w.grad)
        return loss.item(), float(gsum)  # reads last: nothing computed after them

    for k in range(3):
        x = mg.tensor([1.0, float(k)])
        loss, gsum = step(x)
        assert isinstance(loss, float) and isinstance(gsum, float)
        assert loss == (1.0 + (2.0 * k) ** 2)
        assert gsum == 2.0 * 1.0 + 2.0 * 2.0 * k * k


def test_a_branch_on_a_value_read_is_refused_naming_the_line_and_nothing_changes():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    before = w.numpy()

    @mg.compile
    def step(x):
        loss = mg.sum(w * x)
        if loss > 1:  # reads the value, then computes more
            loss = loss * 2.0
        loss.backward()
        with mg.no_grad():
            w.data = (w - 0.1 * w.grad).data
        return loss

    with pytest.raises(mg.CompileError, match=r"test_compile\.py:\d+ reads a tensor's value "
                                              r"\(bool\(\) gave True\).*multigrad\.where"):
        step(mg.tensor([1.0, 1.0]))
    _same(w.numpy(), before)
    assert w.grad is None and mg.is_grad_enabled()


def test_a_number_computed_from_a_value_read_is_refused():
    step = mg.compile(lambda x: mg.sum(x).item() * 2.0)
    with pytest.raises(mg.CompileError, match=r"returns the number 6\.0, which is not a value"):
        step(mg.tensor([1.0, 2.0]))


# -- what the program holds -----------------------------------------------------------------------

def test_a_program_prints_one_instruction_a_line():
    step = mg.compile(lambda x: mg.sum(mg.exp(x) * 2.0))
    step(mg.tensor([1.0, 2.0]))
    (program,) = step.programs()
    text = str(program)
    assert "= exp(%" in text and "= multiply(%" in text and "= sum(%" in text
    assert len(program) == 3


def test_dead_code_and_repeated_computations_are_removed():
    def f(x):
        mg.cos(x)  # nobody reads it
        return mg.exp(x) + mg.exp(x)

    step = mg.compile(f)
    assert step(mg.tensor([0.0])).item() == 2.0
    names = [ins.name for ins in step.programs()[0].instructions]
    assert names == ["exp", "add"]


def test_a_graph_of_a_hundred_thousand_ops_compiles_and_replays():
    w = mg.tensor([0.3, -0.2], requires_grad=True)

    def chain(x):
        w.grad = None
        y = w * x
        for _ in range(50_000):  # 2 ops each: 100,000 ops forward, as many backward
            y = mg.tanh(y) * 1.0001
        mg.sum(y).backward()
        return w.grad

    step = mg.compile(chain)
    x = mg.tensor([1.0, 2.0])
    first = chain(x).numpy()  # eager; it leaves a gradient, so the step records with one
    second = step(x).numpy()
    third = step(x).numpy()
    _same(first, second)
    _same(first, third)
    assert step.cache_info()[:2] == (1, 1)
    assert len(step.programs()[0]) >= 100_000


# -- randomness --------------------------------------------------------------------------------

@pytest.mark.parametrize("device", DEVICES)
def test_dropout_draws_fresh_numbers_on_every_call_as_eager_does(device):
    def make():
        return mg.nn.Sequential(mg.nn.Linear(6, 8, seed=0, dtype=mg.float64, device=device),
                                mg.nn.Dropout(0.5, seed=3, device=device))

    eager_model, compiled_model = make(), make()
    compiled = mg.compile(lambda x: compiled_model(x))
    x = mg.ones((4, 6), dtype=mg.float64, device=device)
    outputs = []
    for _ in range(4):
        e, c = eager_model(x), compiled(x)
        _same(e.numpy(), c.numpy())
        outputs.append(c.numpy())
    assert not np.array_equal(outputs[1], outputs[2])  # fresh masks, not the recorded one
    assert compiled.cache_info().hits == 3


# -- modes and structure are guarded ------------------------------------------------------------

def test_train_and_eval_modes_record_their_own_programs():
    model = mg.nn.Sequential(mg.nn.Linear(6, 8, seed=0, dtype=mg.float64),
                             mg.nn.Dropout(0.5, seed=1))
    step = mg.compile(lambda x: model(x))
    x = mg.ones((3, 6), dtype=mg.float64)
    model.eval()
    evaluated = step(x).numpy()
    model.train()
    trained = step(x).numpy()
    model.eval()
    _same(step(x).numpy(), evaluated)
    assert not np.array_equal(evaluated, trained)
    assert step.cache_info().misses == 2 and step.cache_info().hits == 1


def test_grad_mode_is_a_guard():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    step = mg.compile(lambda x: (w * x).requires_grad)
    assert step(mg.tensor([1.0, 1.0])) is True
    with mg.no_grad():
        assert step(mg.tensor([1.0, 1.0])) is False
    assert step.cache_info().misses == 2


def test_python_values_the_step_reads_are_guards():
    settings = {"scale": 2.0}
    step = mg.compile(lambda x: mg.sum(x) * settings["scale"])
    assert step(mg.tensor([1.0])).item() == 2.0
    settings["scale"] = 3.0
    assert step(mg.tensor([1.0])).item() == 3.0
    assert step.cache_info().misses == 2


def test_transforms_inside_a_compiled_step():
    def f(x):
        return mg.sum(mg.sin(x) ** 3)

    step = mg.compile(lambda x, v: (mg.grad(f)(x), mg.hvp(f, (x,), (v,))[1][0],
                                    mg.jvp(f, (x,), (v,))[1]))
    x, v = mg.tensor([0.1, 0.7, -0.4]), mg.tensor([1.0, -2.0, 0.5])
    for _ in range(3):
        g, hv, t = step(x, v)
        _same(g.numpy(), mg.grad(f)(x).numpy())
        _same(hv.numpy(), mg.hvp(f, (x,), (v,))[1][0].numpy())
        _same(t.numpy(), mg.jvp(f, (x,), (v,))[1].numpy())
    assert step.cache_info().hits == 2


def test_compiled_inside_compiled_becomes_part_of_the_outer_program():
    inner = mg.compile(lambda x: mg.exp(x) * 2.0)
    outer = mg.compile(lambda x: mg.sum(inner(x)))
    for _ in range(3):
        assert outer(mg.tensor([0.0, 0.0])).item() == 4.0
    assert outer.cache_info().hits == 2 and inner.cache_info().misses == 0


def test_anomaly_mode_runs_the_step_eagerly():
    step = mg.compile(lambda x: mg.sum(mg.sqrt(x)))
    with mg.detect_anomaly():
        assert step(mg.tensor([4.0])).item() == 2.0
    assert step.cache_info() == (0, 0, 0, 8, 0)


# -- bad input and failures: clear errors, nothing changed ----------------------------------------

def test_an_argument_that_is_not_a_tensor_or_a_tree_of_them_is_named():
    model = _mlp("cpu")
    step = mg.compile(lambda m, x: m(x))
    with pytest.raises(TypeError, match=r"argument 0 is a Sequential; a compiled step takes "
                                        r"tensors"):
        step(model, mg.ones((1, 6), dtype=mg.float64))
    with pytest.raises(TypeError, match=r"argument 'batch'\['x'\] is a object"):
        mg.compile(lambda batch: batch)(batch={"x": object()})


def test_an_argument_on_another_device_names_the_op_and_writes_nothing():
    model, opt = _mlp("cpu"), None
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    step = mg.compile(_training_step(model, opt))
    before = _state_of(model, opt)
    x, y = _batches("strict:device1", n=1)[0]
    with pytest.raises(mg.MixedDeviceError, match=r"matmul: .*different devices"):
        step(x, y)
    _assert_same_state(before, _state_of(model, opt))


def test_a_step_that_changes_a_parameters_shape_is_refused_and_nothing_changes():
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    @mg.compile
    def step(x):
        w.data = mg.concat([w, x]).data  # grows the parameter

    with pytest.raises(mg.CompileError, match=r"from shape \(2,\) .* to shape \(3,\)"):
        step(mg.tensor([3.0]))
    _same(w.numpy(), np.array([1.0, 2.0]))


def test_an_exception_during_a_replay_leaves_parameters_untouched():
    model = _mlp("cpu")
    opt = mg.optim.Adam(model.parameters(), lr=0.1)
    step = mg.compile(_training_step(model, opt))
    (x, y), = _batches("cpu", n=1)
    step(x, y)
    step(x, y)  # the program with optimizer state
    before = _state_of(model, opt)
    program = step.programs()[-1]
    kernel = program.instructions[-1]
    program._run = None
    original = kernel.fn

    def broken(*args, **kwargs):
        raise FloatingPointError("injected")
    kernel.fn = broken
    try:
        with pytest.raises(FloatingPointError, match="injected"):
            step(x, y)
    finally:
        kernel.fn = original
        program._run = None
    _assert_same_state(before, _state_of(model, opt))
    step(x, y)  # and the program still works


def test_a_tensor_the_step_cannot_find_again_is_refused():
    # Python modules are not walked (they are libraries' and the interpreter's): a tensor
    # hung on one is out of compile's sight
    hidden = types.ModuleType("hidden")
    hidden.w = mg.tensor([3.0])
    step = mg.compile(lambda x: x * hidden.w)
    with pytest.raises(mg.CompileError, match=r"multiply at .*test_compile\.py:\d+ reads a "
                                              r"tensor of shape \(1,\).*neither an argument of "
                                              r"the step nor reachable"):
        step(mg.tensor([1.0]))


def test_host_data_turned_into_a_tensor_inside_the_step_warns_that_it_is_kept():
    data = np.arange(3.0)
    step = mg.compile(lambda x: x * mg.asarray(data * 2))
    with pytest.warns(UserWarning, match="keeps those values as a constant"):
        assert step(mg.ones(3)).numpy().tolist() == [0.0, 2.0, 4.0]


def test_dlpack_data_turned_into_a_tensor_inside_the_step_warns_that_it_is_kept():
    class Foreign:  # an array of a library multigrad knows only through DLPack
        def __init__(self, array):
            self.array = array

        def __dlpack__(self, **kwargs):
            return self.array.__dlpack__(**kwargs)

        def __dlpack_device__(self):
            return self.array.__dlpack_device__()

    data = Foreign(np.arange(3.0))
    step = mg.compile(lambda x: x * mg.from_dlpack(data))
    with pytest.warns(UserWarning, match="keeps those values as a constant"):
        assert step(mg.ones(3)).numpy().tolist() == [0.0, 1.0, 2.0]


# -- how programs run ----------------------------------------------------------------------------

def test_long_programs_run_as_a_loop_with_the_same_results(monkeypatch):
    from multigrad.compile import _program
    model, opt = _mlp("cpu"), None
    twin = _mlp("cpu")
    opt = mg.optim.Adam(model.parameters(), lr=1e-2)
    twin_opt = mg.optim.Adam(twin.parameters(), lr=1e-2)
    generated = mg.compile(_training_step(model, opt))
    monkeypatch.setattr(_program, "GENERATE_UP_TO", 0)
    looped = mg.compile(_training_step(twin, twin_opt))
    for x, y in _batches("cpu", n=5):
        _same(generated(x, y).numpy(), looped(x, y).numpy())
    _assert_same_state(_state_of(model, opt), _state_of(twin, twin_opt))
    assert not hasattr(looped.programs()[-1], "source")


def test_results_go_into_arrays_the_program_no_longer_reads():
    x = mg.tensor(np.linspace(-1.0, 1.0, 1000))
    step = mg.compile(lambda a: mg.sum(mg.exp(mg.tanh(a) * 2.0 + 1.0)))
    expected = float(np.sum(np.exp(np.tanh(np.linspace(-1.0, 1.0, 1000)) * 2.0 + 1.0)))
    for _ in range(4):  # records, replays as a loop, then as generated source
        assert step(x).item() == pytest.approx(expected, rel=1e-14)
    program = step.programs()[0]
    assert program.reused == 3  # multiply, add and exp each reuse the array before them
    assert "out=" in program.source


def test_an_assignment_writes_into_its_input_unless_the_value_shares_its_memory():
    from multigrad.compile._program import _plan_memory

    x = mg.tensor(np.linspace(-1.0, 1.0, 6))

    def shift(a, overlapping):
        b = a * 2.0  # made by the program and read by nothing after the assignment
        b[1:] = b[:-1] if overlapping else a[:-1] + 1.0
        return mg.sum(b * b)

    for overlapping in (False, True):
        step = mg.compile(lambda a: shift(a, overlapping))
        for _ in range(3):
            assert step(x).item() == shift(x, overlapping).item()
        program = step.programs()[0]
        overwrites = _plan_memory(program, program._last_uses())[2]
        # in place where the value is another array; a copy where it is a view of b (a
        # backend need not copy overlapping memory right)
        assert len(overwrites) == (0 if overlapping else 1)


def test_arrays_that_leave_the_program_are_never_written_over():
    x = mg.tensor([1.0, 2.0, 3.0])

    @mg.compile
    def step(a):
        b = a * 2.0     # returned: must keep its values
        c = b + 1.0     # may not go into b
        return b, mg.exp(c)

    for _ in range(3):
        b, e = step(x)
        _same(b.numpy(), np.array([2.0, 4.0, 6.0]))
        _same(e.numpy(), np.exp(np.array([3.0, 5.0, 7.0])))


@pytest.mark.parametrize("device", DEVICES)
def test_cnn_with_batch_norm_and_dropout_matches_eager_for_twenty_steps(device):
    def make():
        model = mg.nn.Sequential(
            mg.nn.Conv2d(1, 4, 3, padding=1, seed=0, dtype=mg.float64, device=device),
            mg.nn.BatchNorm2d(4, dtype=mg.float64, device=device), mg.nn.ReLU(),
            mg.nn.MaxPool2d(2), mg.nn.Flatten(),
            mg.nn.Dropout(0.25, seed=5, device=device),
            mg.nn.Linear(16, 3, seed=1, dtype=mg.float64, device=device))
        return model, mg.optim.Adam(model.parameters(), lr=1e-2)

    (m1, o1), (m2, o2) = make(), make()
    loss_fn = mg.nn.functional.cross_entropy
    eager, compiled = _training_step(m1, o1, loss_fn), mg.compile(_training_step(m2, o2, loss_fn))
    rng = np.random.default_rng(1)
    for k in range(20):
        x = mg.asarray(rng.standard_normal((5, 1, 4, 4)), device=device)
        labels = mg.asarray(rng.integers(0, 3, 5), device=device)
        if k == 10:  # evaluation mode halfway: a program of its own
            m1.eval(), m2.eval()
        _same(eager(x, labels).numpy(), compiled(x, labels).numpy())
        _assert_same_state(_state_of(m1, o1), _state_of(m2, o2))
        for b1, b2 in zip(m1.buffers(), m2.buffers()):  # batch norm's running statistics
            _same(b1.numpy(), b2.numpy())
    info = compiled.cache_info()
    assert info.hits >= 15 and info.eager == 0


def test_a_compiled_method_stored_on_its_own_object_replays():
    class Trainer:
        def __init__(self):
            self.w = mg.tensor([1.0, 2.0], requires_grad=True)
            self.step = mg.compile(self.step)  # the object now holds its compiled function

        def step(self, x):
            self.w.grad = None
            loss = mg.sum(self.w * x)
            loss.backward()
            return loss

    trainer = Trainer()
    for k in range(4):
        assert trainer.step(mg.tensor([1.0, float(k)])).item() == 1.0 + 2.0 * k
    assert trainer.step.cache_info()[:2] == (2, 2)  # grad None, then present: two programs


def test_a_transform_of_a_closure_over_a_tensor_compiles():
    w = mg.tensor([2.0, 3.0])
    step = mg.compile(mg.grad(lambda x: mg.sum(w * x ** 2)))  # w: in the closure of the
    for k in range(3):                                         # function mg.grad wraps
        w.data = mg.tensor([2.0 + k, 3.0]).data
        _same(step(mg.tensor([1.0, 1.0])).numpy(), np.array([2.0 * (2.0 + k), 6.0]))
    assert step.cache_info()[:2] == (2, 1)


@pytest.mark.parametrize("device", DEVICES)
def test_random_tensors_drawn_in_a_compiled_step_are_fresh_and_as_eager(device):
    def noisy(x):
        return x + mg.randn(3, device=device, dtype=mg.float64)

    compiled = mg.compile(noisy)
    x = mg.zeros(3, dtype=mg.float64, device=device)
    mg.manual_seed(7)
    eager = [noisy(x).numpy() for _ in range(3)]
    mg.manual_seed(7)
    replayed = [compiled(x).numpy() for _ in range(3)]
    for e, r in zip(eager, replayed):
        _same(e, r)
    assert not np.array_equal(replayed[1], replayed[2])
    assert compiled.cache_info().hits == 2
