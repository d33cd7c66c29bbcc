"""Fusion: a chain of elementwise instructions becomes one generated kernel.

Where every intermediate result of a chain is read by one instruction of the chain alone (and
leaves neither the chain nor the program), the chain's arithmetic can run as one kernel that
reads the chain's inputs once and writes its result once, instead of one kernel and one pass
over memory per op. The pass finds such groups and describes each as an expression over its
inputs; a backend's fuser (``backends._fusion``) turns the expression into a kernel of its
own (CuPy: an ``ElementwiseKernel``), or declines, and the group stays as it was.

The expression language: ``("in", k)`` is the group's k-th input, ``("const", value)`` a
Python scalar, ``(name, *operands)`` an elementwise primitive by name (``ELEMENTWISE``).
"""

from __future__ import annotations

from ._program import Instruction, Program

__all__ = ["ELEMENTWISE", "fuse_elementwise"]

#: how deep a fused kernel's expression may nest (a longer chain becomes several kernels)
MAX_DEPTH = 32

#: the elementwise primitives a fused kernel computes (by name), and how many arrays each takes
ELEMENTWISE = {
    "add": 2, "subtract": 2, "multiply": 2, "divide": 2, "negative": 1, "square": 1,
    "reciprocal": 1, "exp": 1, "log": 1, "sqrt": 1, "tanh": 1, "sin": 1, "cos": 1,
    "greater": 2, "greater_equal": 2, "less": 2, "less_equal": 2, "equal": 2, "not_equal": 2,
    "where": 3,
}


def _fusible(ins: Instruction, layouts: dict) -> bool:
    if ins.kind != "kernel" or ins.name not in ELEMENTWISE or ins.multi or ins.params:
        return False
    return len(ins.ins) == ELEMENTWISE[ins.name] and all(
        type(a) is not int or a in layouts for a in ins.ins)


def fuse_elementwise(program: Program, fuser) -> Program:
    """Groups of two or more fusible instructions, each replaced by the kernel
    ``fuser(expression, input_layouts, output_layout, kernels)`` makes (None: left as it was).
    """
    producer = {s: i for i, ins in enumerate(program.instructions) for s in ins.outs}
    readers: dict[int, int] = {}
    for ins in program.instructions:
        for s in ins.slots_read():
            readers[s] = readers.get(s, 0) + 1
    leaving = set(program.outputs)
    layouts = dict(program.layouts)
    for ins in program.instructions:
        layouts.update(zip(ins.outs, ins.out_info))
    fusible = [_fusible(ins, layouts) for ins in program.instructions]

    def inner(slot) -> bool:
        """Whether ``slot`` can be computed inside its one reader's kernel."""
        i = producer.get(slot)
        return (i is not None and fusible[i] and readers.get(slot) == 1
                and slot not in leaving)

    absorbed: set[int] = set()  # instructions computed inside a fused kernel
    replaced: dict[int, Instruction] = {}
    for i in range(len(program.instructions) - 1, -1, -1):
        if not fusible[i] or i in absorbed:
            continue
        members, inputs = [], []
        expression = _expression(program.instructions, i, producer, inner, members, inputs)
        if len(members) < 2:
            continue
        ins = program.instructions[i]
        kernels = [program.instructions[k].fn for k in members]
        kernel = fuser(expression, [layouts[s] for s in inputs], ins.out_info[0], kernels)
        if kernel is None:
            continue
        absorbed.update(m for m in members if m != i)
        replaced[i] = Instruction("kernel", "fused(" + "+".join(
            program.instructions[m].name for m in sorted(members)) + ")", kernel,
            list(inputs), {}, list(ins.outs), pure=True, out_info=ins.out_info)
        replaced[i].fused = tuple(program.instructions[m] for m in sorted(members))
    if not replaced:
        return program
    kept = [replaced.get(i, ins) for i, ins in enumerate(program.instructions)
            if i not in absorbed]
    fused = Program(kept, program.inputs, program.constants, program.generators,
                    program.outputs)
    fused.buffers, fused.reusable, fused.layouts = (program.buffers, program.reusable,
                                                    program.layouts)
    fused.device = program.device
    return fused


def _expression(instructions, i, producer, inner, members, inputs, depth=0):
    """The expression instruction ``i`` computes, its fusible producers inlined (at most
    ``MAX_DEPTH`` deep: a longer chain is several kernels); ``members`` collects the
    instructions inlined, ``inputs`` the slots the expression reads."""
    members.append(i)
    operands = []
    for a in instructions[i].ins:
        if type(a) is not int:
            operands.append(("const", a.value))
        elif depth < MAX_DEPTH and inner(a):
            operands.append(_expression(instructions, producer[a], producer, inner, members,
                                        inputs, depth + 1))
        else:
            if a not in inputs:
                inputs.append(a)
            operands.append(("in", inputs.index(a)))
    return (instructions[i].name, *operands)


