"""Passes over a recorded program: each takes a ``Program`` and returns a better one.

- ``eliminate_dead_code``: drop what nobody reads;
- ``share_common_subexpressions``: compute an identical call once (the backward pass often
  repeats a product its forward made, or two rules the same one);
- the generated function frees each slot after its last use (``Program.build``).
"""

from __future__ import annotations

from ._program import Program

__all__ = ["optimize", "eliminate_dead_code", "share_common_subexpressions"]


def _with_program(program: Program, instructions, outputs=None) -> Program:
    """A program like ``program`` with new instructions, keeping only the inputs and
    constants they or the outputs still read."""
    outputs = program.outputs if outputs is None else outputs
    used = set(outputs)
    for ins in instructions:
        used.update(ins.slots_read())
    new = Program(instructions, [i for i in program.inputs if i[0] in used],
                  {s: a for s, a in program.constants.items() if s in used},
                  program.generators, outputs)
    new.buffers, new.reusable = program.buffers, program.reusable
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
    return _with_program(program, kept, [renamed.get(s, s) for s in program.outputs])


def optimize(program: Program) -> Program:
    """Every pass, in order."""
    return eliminate_dead_code(share_common_subexpressions(program))

