"""What ``multigrad.compile`` does with CuPy beyond calling its kernels: fused elementwise
kernels, and programs captured into CUDA graphs.

- ``fuse``: a chain of elementwise ops (an expression from ``compile._fusion``) as one
  ``cupy.ElementwiseKernel``: one launch, one pass over memory. Compiled without
  contracting products and sums into fused multiply-adds (``--fmad=false``), so it computes
  exactly what CuPy's kernels compute one op at a time.
- ``GraphReplay``: a program without host synchronisation captured once into a CUDA graph on
  a stream of its own, then launched as one: each call copies its inputs into the captured
  input arrays, launches the graph, and copies the results out of the captured output
  arrays (the next launch writes over them). Every array the capture allocated stays alive
  with the graph, which replays on the same memory.

Nothing here runs without a GPU; ``compile`` falls back to the unfused, uncaptured program
when either step fails.
"""

from __future__ import annotations

import hashlib

__all__ = ["fuse", "GraphReplay"]

#: CUDA C for each elementwise primitive; {0}, {1}... are its operands. NumPy's semantics:
#: where is a select; comparisons give booleans; 1 / x for reciprocal.
_C = {
    "add": "({0} + {1})", "subtract": "({0} - {1})", "multiply": "({0} * {1})",
    "divide": "({0} / {1})", "negative": "(-{0})", "square": "({0} * {0})",
    "reciprocal": "(({T})1 / {0})", "exp": "exp({0})", "log": "log({0})",
    "sqrt": "sqrt({0})", "tanh": "tanh({0})", "sin": "sin({0})", "cos": "cos({0})",
    "greater": "({0} > {1})", "greater_equal": "({0} >= {1})", "less": "({0} < {1})",
    "less_equal": "({0} <= {1})", "equal": "({0} == {1})", "not_equal": "({0} != {1})",
    "where": "({0} ? {1} : {2})",
}
_C_TYPES = {"float32": "float", "float64": "double", "bool": "bool"}


def source(expression, in_dtypes: list, out_dtype) -> tuple[str, str, str] | None:
    """The ``ElementwiseKernel``'s input and output parameters and its body, or None where
    the expression holds what this translation does not know."""
    names = [str(d) for d in in_dtypes]
    out = str(out_dtype)
    if out not in _C_TYPES or any(n not in _C_TYPES for n in names):
        return None
    c_out = _C_TYPES[out]

    def emit(node) -> str:
        kind = node[0]
        if kind == "in":
            return f"in{node[1]}"
        if kind == "const":
            value = node[1]
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise KeyError(kind)
            # a Python number takes the array's type, as NumPy's scalar rules give it
            return f"(({c_out}){value!r})"
        template = _C[kind]
        return template.format(*(emit(operand) for operand in node[1:]), T=c_out)

    try:
        body = emit(expression)
    except (KeyError, IndexError):
        return None
    params = ", ".join(f"{n} in{k}" for k, n in enumerate(names))
    return params, f"{out} out0", f"out0 = ({c_out}){body};"


def fuse(expression, in_dtypes: list, out_dtype):
    """A ``cupy.ElementwiseKernel`` computing ``expression`` (see ``source``), or None."""
    import cupy

    found = source(expression, in_dtypes, out_dtype)
    if found is None:
        return None
    params, out, body = found
    name = "multigrad_fused_" + hashlib.sha1((params + out + body).encode()).hexdigest()[:12]
    return cupy.ElementwiseKernel(params, out, body, name, options=("--fmad=false",))


class GraphReplay:
    """A program captured into a CUDA graph (see the module docstring).

    ``run_all(inputs, generators)`` is the program, returning ``(outputs, every array)``:
    it frees nothing, since the graph replays on the memory the capture allocated.
    """

    def __init__(self, native, run_all, inputs, generators):
        import cupy

        self._cupy, self._native = cupy, native
        with native:
            self._stream = cupy.cuda.Stream(non_blocking=True)
            self._inputs = [cupy.array(x, copy=True) for x in inputs]
            self._wait_for(cupy.cuda.get_current_stream(), self._stream)
            with self._stream:
                run_all(self._inputs, generators)  # warm-up: kernels compiled, pool grown
                self._stream.begin_capture()
                try:
                    self._outputs, self._held = run_all(self._inputs, generators)
                finally:
                    self._graph = self._stream.end_capture()
            self._stream.synchronize()

    def _wait_for(self, first, then) -> None:
        """Make stream ``then`` wait for the work queued on ``first`` (no host sync)."""
        then.wait_event(first.record())

    def __call__(self, inputs, generators):
        cupy = self._cupy
        with self._native:
            current = cupy.cuda.get_current_stream()
            self._wait_for(current, self._stream)  # the inputs are ready there
            with self._stream:
                for static, x in zip(self._inputs, inputs):
                    static[...] = x
                self._graph.launch(stream=self._stream)
                outputs = tuple(cupy.array(o, copy=True) for o in self._outputs)
            self._wait_for(self._stream, current)  # the caller's later work sees the results
        return outputs
