"""Passes over a recorded program: each takes a ``Program`` and returns a better one.

- ``fold_constants``: run once what depends on constants alone (the seed of a backward
  pass reshaped and broadcast, scaled by a constant);
- ``simplify``: drop calls that return their input unchanged (``pow(x, 1)`` and ``1 * x``,
  which rules write to stay general);
- ``eliminate_dead_code``: drop what nobody reads;
- ``share_common_subexpressions``: compute an identical call once (the backward pass often
  repeats a product its forward made, or two rules the same one);
- ``fuse_elementwise`` (``_fusion``): chains of elementwise ops as one kernel, where the
  program's device makes such kernels (CuPy);
- the generated function frees each slot after its last use (``Program.build``).
"""

from __future__ import annotations

from array_api_compat import array_namespace

from ..backends import is_array
from ._fusion import fuse_elementwise
from ._program import Program

__all__ = ["optimize", "fold_constants", "simplify", "eliminate_dead_code",
           "share_common_subexpressions"]


def _with_program(program: Program, instructions, outputs=None, constants=None,
                  renamed=None) -> Program:
    """A program like ``program`` with new instructions, keeping only the inputs and
    constants they or the outputs still read; ``renamed`` maps dropped results to the slots
    read instead (their views then live in those slots' memory)."""
    outputs = program.outputs if outputs is None else outputs
    used = set(outputs)
    for ins in instructions:
        used.update(ins.slots_read())
    new = Program(instructions, [i for i in program.inputs if i[0] in used],
                  {s: a for s, a in (constants or program.constants).items() if s in used},
                  program.generators, outputs)
    new.buffers, new.reusable, new.layouts = program.buffers, program.reusable, program.layouts
    if renamed:
        # a view of a dropped result is a view of its replacement's memory, which must not be
        # written over while the view is read
        def owner(slot):
            slot = renamed.get(slot, slot)
            return program.buffers.get(slot, slot)
        new.buffers = {s: owner(o) for s, o in program.buffers.items()}
    new.device = program.device
    return new


def eliminate_dead_code(program: Program) -> Program:
    """Drop pure instructions whose outputs nobody reads (draws, checks and users' ops always
    stay: they move a generator, may raise, or run the user's Python)."""
    live = set(program.outputs)
    kept = []
    for ins in reversed(program.instructions):
        if ins.pure and not live.intersection(ins.outs):
            continue
        kept.append(ins)
        live.update(ins.slots_read())
    kept.reverse()
    return _with_program(program, kept)


def _call_key(ins):
    """What makes two pure calls the same (None when a parameter cannot be compared)."""
    key = (id(ins.fn), tuple(ins.ins), tuple(ins.params.items()) if ins.params else ())
    try:
        hash(key)
    except TypeError:
        return None
    return key


def share_common_subexpressions(program: Program) -> Program:
    """Run each pure call once: a later identical one (same function, inputs, parameters)
    reads the first one's outputs instead. (It rewrites the instructions' inputs in place: a
    pass owns the program it is given.)"""
    seen: dict = {}
    renamed: dict[int, int] = {}
    kept = []
    for ins in program.instructions:
        if renamed:
            ins.ins = [renamed.get(s, s) if type(s) is int else s for s in ins.ins]
        key = _call_key(ins) if ins.pure else None
        if key is not None:
            first = seen.get(key)
            if first is not None:
                renamed.update(zip(ins.outs, first.outs))
                continue
            seen[key] = ins
        kept.append(ins)
    return _with_program(program, kept, [renamed.get(s, s) for s in program.outputs],
                         renamed=renamed)


def fold_constants(program: Program) -> Program:
    """Run the pure calls whose arguments are all constants now: their results become
    constants of the program."""
    constants = dict(program.constants)
    kept = []
    for ins in program.instructions:
        if ins.pure and all(type(s) is not int or s in constants for s in ins.ins):
            args = [constants[s] if type(s) is int else s.value for s in ins.ins]
            result = ins.fn(*args, **ins.params)
            for slot, value in zip(ins.outs, result if ins.multi else (result,)):
                constants[slot] = value
            continue
        kept.append(ins)
    return _with_program(program, kept, constants=constants)


def _is_one(operand, constants: dict) -> bool:
    """Whether an argument is the number 1: a Python 1, or a constant array of ones (the seed
    of a backward pass, broadcast)."""
    if type(operand) is not int:
        return type(operand.value) in (int, float) and operand.value == 1
    array = constants.get(operand)
    if array is None or not is_array(array):
        return False
    return bool(array_namespace(array).all(array == 1))


def _unchanged(ins, program: Program):
    """The slot an instruction passes through unchanged (same values, shape and dtype): x ** 1,
    x * 1, 1 * x, x / 1. None for any other instruction."""
    if ins.kind != "kernel" or ins.name not in ("pow", "multiply", "divide") or len(ins.ins) != 2:
        return None
    for k in ((0, 1) if ins.name == "multiply" else (0,)):  # the position of x
        x, one = ins.ins[k], ins.ins[1 - k]
        if (type(x) is int and program.layouts.get(x, (None,))[:2] == ins.out_info[0][:2]
                and _is_one(one, program.constants)):
            return x
    return None


def simplify(program: Program) -> Program:
    """Drop calls that give back their input's values unchanged; their readers read the input
    (results that leave the program are kept as they are: they must be arrays of their own)."""
    renamed: dict[int, int] = {}
    leaving = set(program.outputs)
    kept = []
    for ins in program.instructions:
        if renamed:
            ins.ins = [renamed.get(s, s) if type(s) is int else s for s in ins.ins]
        source = _unchanged(ins, program)
        if source is not None and ins.outs[0] not in leaving:
            renamed[ins.outs[0]] = source
            continue
        kept.append(ins)
    return _with_program(program, kept, renamed=renamed)


def optimize(program: Program) -> Program:
    """Every pass, in order; fusion where the program's one device makes fused kernels."""
    program = eliminate_dead_code(share_common_subexpressions(simplify(fold_constants(program))))
    device = program.device
    if device is not None and device.fuses:
        program = fuse_elementwise(program, lambda expression, inputs, output, kernels:
                                   device.fuse(expression, [d for _, d, _ in inputs],
                                               output[1]))
    return program

