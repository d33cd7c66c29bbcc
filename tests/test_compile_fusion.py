"""Fusion of elementwise chains and CUDA graphs in compiled programs.

The grouping is the same on every device; only CuPy makes fused kernels (NumPy's own kernels
beat numexpr's on this machine: see benchmarks/README.md), so on the CPU the pass is tested
with a fuser that evaluates each fused expression with the namespace's functions, and the
CUDA C it would generate is checked as text. The cupy cases run the real kernels and graphs.
"""

from __future__ import annotations

import numpy as np
import pytest

import multigrad as mg
from multigrad.backends import _cuda
from multigrad.compile._fusion import fuse_elementwise


def _evaluator(xp):
    """A fuser computing a fused expression with ``xp``'s own functions (for the tests)."""
    def fuser(expression, inputs, output, kernels):
        def evaluate(node, arrays):
            if node[0] == "in":
                return arrays[node[1]]
            if node[0] == "const":
                return node[1]
            return getattr(xp, node[0])(*(evaluate(n, arrays) for n in node[1:]))
        return lambda *arrays: evaluate(expression, arrays)
    return fuser


def _program_of(fn, *args):
    step = mg.compile(fn, optimize=True)
    step(*args)
    return step, step.programs()[0]


def test_a_chain_of_elementwise_ops_becomes_one_instruction_with_the_same_result():
    x = mg.tensor(np.linspace(-1.0, 1.0, 8))
    b = mg.tensor(np.linspace(0.5, 1.5, 8))
    step, program = _program_of(lambda x, b: mg.sum(mg.tanh(x * 1.05 + b) * 2.0), x, b)
    fused = fuse_elementwise(program, _evaluator(mg.get_device("cpu").xp))
    names = [ins.name for ins in fused.instructions]
    assert names == ["fused(multiply+add+tanh+multiply)", "sum"]
    assert len(fused.instructions[0].fused) == 4
    inputs = [x.data, b.data]
    for a, e in zip(fused.build()(inputs, []), program.build()(inputs, [])):
        np.testing.assert_array_equal(a, e)


def test_a_result_read_twice_or_returned_is_not_computed_inside_another_kernel():
    x = mg.tensor(np.linspace(-1.0, 1.0, 8))

    def f(x):
        shared = mg.exp(x) * 3.0      # read twice: computed once, by its own kernel
        kept = shared + 1.0           # returned: must be an array of its own
        return kept, mg.sum(shared * shared + kept)

    _, program = _program_of(f, x)
    fused = fuse_elementwise(program, _evaluator(mg.get_device("cpu").xp))
    by_output = {s: ins for ins in fused.instructions for s in ins.outs}
    for out in fused.outputs:
        assert out in by_output  # every output still made by an instruction
    (kept_slot, loss_slot) = fused.outputs
    assert by_output[kept_slot].name == "add"
    inputs = [x.data]
    for a, e in zip(fused.build()(inputs, []), program.build()(inputs, [])):
        np.testing.assert_array_equal(a, e)


def test_a_fuser_that_declines_leaves_the_program_as_it_was():
    x = mg.tensor([1.0, 2.0])
    _, program = _program_of(lambda x: mg.exp(x) * 2.0 + 1.0, x)
    assert fuse_elementwise(program, lambda *args: None) is program


def test_cuda_source_of_an_expression():
    expression = ("where", ("greater", ("in", 0), ("const", 0)),
                  ("multiply", ("in", 1), ("const", 1.5)), ("const", 0.0))
    params, out, body = _cuda.source(expression, [np.dtype("float32"), np.dtype("float32")],
                                     np.dtype("float32"))
    assert params == "float32 in0, float32 in1"
    assert out == "float32 out0"
    assert body == ("out0 = (float)((in0 > ((float)0)) ? (in1 * ((float)1.5)) : "
                    "((float)0.0));")


@pytest.mark.parametrize("expression, dtypes", [
    (("exp", ("in", 0)), ["int64"]),                          # integers: not translated
    (("atan2", ("in", 0), ("in", 1)), ["float64", "float64"]),  # an op it does not know
    (("add", ("in", 0), ("const", 1j)), ["float64"]),         # a complex constant
])
def test_cuda_source_declines_what_it_does_not_know(expression, dtypes):
    assert _cuda.source(expression, [np.dtype(d) for d in dtypes], np.dtype("float64")) is None


def test_devices_that_make_no_fused_kernels_say_so():
    assert not mg.get_device("cpu").fuses
    assert not mg.get_device("strict:device1").fuses
    assert mg.get_device("cpu").capture(None, [], []) is None


# -- on a GPU --------------------------------------------------------------------------------

def _cuda_device():
    try:
        return mg.get_device("cuda")
    except mg.DeviceError as err:
        pytest.skip(f"no CUDA here: {err}")


@pytest.mark.gpu
def test_compiled_chains_fuse_on_cuda_and_equal_eager():
    device = _cuda_device()
    rng = np.random.default_rng(0)
    w = mg.tensor(rng.standard_normal(1024), device=device, requires_grad=True)

    def step(x):
        w.grad = None
        loss = mg.sum(mg.tanh(w * x + 0.5) * 2.0 - w * w)
        loss.backward()
        return loss, w.grad

    x = mg.tensor(rng.standard_normal(1024), device=device)
    eager = [t.numpy() for t in step(x)]
    compiled = mg.compile(step)
    for _ in range(6):  # records (twice: grad None, then present), replays, generates, captures
        got = [t.numpy() for t in compiled(x)]
        for a, e in zip(got, eager):
            np.testing.assert_array_equal(a, e)
    program = compiled.programs()[-1]
    assert any(ins.name.startswith("fused(") for ins in program.instructions)


@pytest.mark.gpu
def test_a_program_without_draws_is_captured_into_a_cuda_graph():
    device = _cuda_device()
    x = mg.tensor(np.linspace(-1.0, 1.0, 4096), device=device)
    compiled = mg.compile(lambda a: mg.sum(mg.exp(a) * a))
    expected = float(mg.sum(mg.exp(x) * x))
    for k in range(6):
        y = mg.tensor(np.linspace(-1.0, 1.0, 4096) * (1 + k), device=device)
        assert float(compiled(y)) == float(mg.sum(mg.exp(y) * y))
    assert float(compiled(x)) == expected
    program = compiled.programs()[0]
    assert type(program._run).__name__ == "GraphReplay"
