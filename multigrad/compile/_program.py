"""A compiled step's program: a flat list of instructions over numbered array slots.

Slots are filled by the program's inputs (arrays of the tensors the step reads from outside:
arguments, parameters, gradients, optimizer state), its constants (arrays the step made from
Python values), and its instructions. An instruction is one call: a primitive's kernel on raw
arrays, a conversion, a draw from a random generator, or a check of values. The program has
no tensors, nodes or rules left in it; ``str(program)`` prints it, one instruction a line.

``Program.build`` turns the instructions into one Python function (a line per instruction,
slots as local variables, ``del`` after each slot's last use), so that running it costs the
kernels' own calls and little else.
"""

from __future__ import annotations

import math
import warnings

from ..backends._memory import out_kind

__all__ = ["Instruction", "Program", "Const"]


class Const:
    """A Python value passed to a kernel unchanged (a scalar, None)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return (isinstance(other, Const) and type(self.value) is type(other.value)
                and _same(self.value, other.value))

    def __hash__(self):
        return hash((type(self.value), "nan" if self.value != self.value else self.value))

    def __repr__(self):
        return repr(self.value)


def _same(a, b) -> bool:
    return a == b or (a != a and b != b)  # NaN is the same constant as NaN


class Instruction:
    """``outs = fn(*ins, **params)``.

    ``kind`` is "kernel" (a primitive's forward), "derive" (a computation on raw arrays
    outside the tape: index arithmetic, a copy or a move), "draw" (``generator.method(*ins)``;
    ``fn`` is the method's name and ``generator`` the index of the generator among the
    program's), or "check" (raise ``fn(*operands)`` unless ``ins[0]`` is true). ``ins`` holds
    slot numbers (int) and ``Const`` values. ``pure``: the same inputs give the same outputs
    and nothing else happens (multigrad's own primitives and derived computations; users'
    ops, draws and checks are not), so the instruction may be dropped when nobody reads it,
    or shared with an identical one. ``out_info`` is ``(shape, dtype, strides)`` of each
    output as recorded. ``overwrite``: ``fn`` allowed to write its result into its first
    argument (a primitive's ``overwrite``), for where nothing reads that argument after.
    """

    __slots__ = ("kind", "name", "fn", "_ins", "_reads", "params", "outs", "multi", "pure",
                 "generator", "out_info", "fused", "overwrite")

    def __init__(self, kind, name, fn, ins, params, outs, multi=False, pure=False,
                 generator=None, out_info=(), overwrite=None):
        self.kind, self.name, self.fn, self.ins, self.params = kind, name, fn, ins, params
        self.outs, self.multi, self.pure, self.generator = outs, multi, pure, generator
        self.out_info, self.overwrite = out_info, overwrite
        self.fused = ()  # the instructions a fused one stands for

    @property
    def ins(self) -> list:
        return self._ins

    @ins.setter
    def ins(self, value: list) -> None:
        self._ins = value
        self._reads = [s for s in value if type(s) is int]  # every pass asks for them

    def slots_read(self) -> list[int]:
        """The slots the instruction reads (its arguments that are not constants)."""
        return self._reads

    def __str__(self):
        outs = ", ".join(f"%{s}" for s in self.outs) or "-"
        ins = ", ".join(f"%{s}" if type(s) is int else repr(s) for s in self.ins)
        params = "".join(f", {k}={v!r}" for k, v in self.params.items())
        where = f"  # fused {len(self.fused)}" if self.fused else ""
        return f"{outs} = {self.name}({ins}{params}){where}"


#: the longest program run as generated Python source (longer ones run as a loop)
GENERATE_UP_TO = 20_000
#: how many runs a program makes as a loop before it becomes generated source
GENERATE_AFTER = 2
#: and how many before its device captures it into one launch (CuPy: a CUDA graph)
CAPTURE_AFTER = 3


class Program:
    """The instructions of one recorded step, over slots numbered from 0.

    ``inputs``: ``(slot, visit number, where)`` for each array read from the walked state
    (``where``: "data", "grad" or "raw"); ``constants``: slot -> array; ``generators``: the
    visit numbers of the random generators the step draws from; ``outputs``: the slots the
    step hands back (results, write-backs, values read).
    """

    def __init__(self, instructions, inputs, constants, generators, outputs):
        self.instructions = list(instructions)
        self.inputs = list(inputs)
        self.constants = dict(constants)
        self.generators = list(generators)
        self.outputs = list(outputs)
        # memory, as recorded: {slot: the slot that owns its memory}, and the owners that
        # instructions made, whose memory may serve a later result (see ``_generate``)
        self.buffers: dict[int, int] = {}
        self.reusable: set[int] = set()
        self.layouts: dict[int, tuple] = {}  # slot -> (shape, dtype, strides) as recorded
        self.device = None  # the one device all its kernels ran on (None: several)
        self._run = None

    def __str__(self):
        lines = [f"program: {len(self.inputs)} inputs, {len(self.constants)} constants, "
                 f"{len(self.instructions)} instructions"]
        for slot, number, where in self.inputs:
            lines.append(f"  %{slot} = input {where} of object #{number}")
        for slot in self.constants:
            lines.append(f"  %{slot} = constant")
        lines.extend(f"  {ins}" for ins in self.instructions)
        lines.append("  return " + ", ".join(f"%{s}" for s in self.outputs))
        return "\n".join(lines)

    def __len__(self):
        return len(self.instructions)

    # -- running ---------------------------------------------------------------------------
    def build(self):
        """Make the program runnable: ``run(inputs, generators)`` returning the output slots'
        arrays in order. It first runs as a loop over the instructions (cheap to build, about
        a microsecond an instruction to run); once it has run ``GENERATE_AFTER`` times, a
        program of up to ``GENERATE_UP_TO`` instructions becomes generated Python source (a
        line per instruction, nothing else at run time, but Python compiles only about 20,000
        lines a second: worth it for a program that runs again and again)."""
        self._run = self._interpreter()
        self._runs = 0
        return self._run

    def _generate(self, keep_all: bool = False):
        """Generated Python source; with ``keep_all``, a variant that frees nothing and reuses
        no memory, and returns ``(outputs, every array)`` (for a CUDA graph's capture)."""
        names: dict = {}
        lines = ["def run(inputs, generators):"]
        if self.inputs:
            lines.append("    " + "".join(f"s{slot}, " for slot, _, _ in self.inputs)
                         + "= inputs")
        for k, _ in enumerate(self.generators):
            lines.append(f"    r{k} = generators[{k}]")
        for slot in self.constants:
            lines.append(f"    s{slot} = {_name(names, self.constants[slot], 'c')}")
        last_use = self._last_uses()
        out_buffers, kept, overwrites = ({}, set(), set()) if keep_all else _plan_memory(
            self, last_use)
        for i, ins in enumerate(self.instructions):
            out = out_buffers.get(i)
            lines.append("    " + _line(ins, names, out,
                                        ins.overwrite if i in overwrites else None))
            if out is not None:
                lines.append(f"    del {out}")
            dead = [s for s in dict.fromkeys(ins.slots_read() + ins.outs)
                    if last_use.get(s) == i and s not in kept]
            if dead and not keep_all:
                lines.append("    del " + ", ".join(f"s{s}" for s in dead))
        outs = "".join(f"s{s}, " for s in self.outputs)
        if keep_all:
            every = "".join(f"s{s}, " for s in self._slots())
            lines.append(f"    return ({outs}), ({every})")
        else:
            lines.append(f"    return ({outs})")
        source = "\n".join(lines) + "\n"
        scope = {name: value for value, name in names.values()}
        exec(compile(source, "<multigrad.compile program>", "exec"), scope)
        if not keep_all:
            self.source = source
            self.reused = len(out_buffers)
        return scope["run"]

    def _slots(self) -> list[int]:
        """Every slot the program fills: inputs, constants, results."""
        return ([slot for slot, _, _ in self.inputs] + list(self.constants)
                + [s for ins in self.instructions for s in ins.outs])

    def _capture(self, inputs, generators):
        """The program captured into one launch by its device (a CUDA graph), checked once
        against a plain run; None where it cannot be, or does not give the same arrays."""
        if self.device is None or any(ins.kind != "kernel" or not ins.pure
                                      for ins in self.instructions):
            return None  # draws, checks, users' Python and host work cannot be captured
        try:
            captured = self.device.capture(self._generate(keep_all=True), inputs, generators)
            if captured is None:
                return None
            same = all(_equal(a, b) for a, b in zip(captured(inputs, generators),
                                                     self._run(inputs, generators)))
        except Exception as err:  # noqa: BLE001 - any failure: run uncaptured, and say why
            warnings.warn(f"compile: a program could not be captured into a graph on "
                          f"{self.device.name} ({type(err).__name__}: {err}); it runs "
                          "uncaptured", stacklevel=4)
            return None
        if not same:
            warnings.warn(f"compile: a program captured on {self.device.name} gave other "
                          "arrays than the program itself; it runs uncaptured", stacklevel=4)
            return None
        return captured

    def _interpreter(self):
        """``run`` as a loop over the instructions, slots in a list: for long programs."""
        consts: dict = {}  # Const -> slot of its own, so that every argument is a slot
        n = max([s for ins in self.instructions for s in ins.slots_read() + ins.outs]
                + [s for s, _, _ in self.inputs] + list(self.constants) + self.outputs,
                default=-1) + 1

        def slot_of(a):
            if type(a) is int:
                return a
            if a not in consts:
                consts[a] = n + len(consts)
            return consts[a]

        last_use = self._last_uses()
        out_buffers, kept, overwrites = _plan_memory(self, last_use)
        steps = []
        for i, ins in enumerate(self.instructions):
            args = tuple(slot_of(a) for a in ins.ins)
            free = tuple(s for s in dict.fromkeys(ins.slots_read() + ins.outs)
                         if last_use.get(s) == i and s not in kept)
            params = ins.params
            buffer = out_buffers.get(i)
            if buffer is not None:  # the buffer's slot, freed once the result is in it
                params, free = {"out": int(buffer[1:])}, free + (int(buffer[1:]),)
            fn = ins.overwrite if i in overwrites else ins.fn
            steps.append((ins.kind, fn, ins.generator, args, params, tuple(ins.outs),
                          ins.multi, free, buffer is not None))
        fixed = list(self.constants.items()) + [(slot, c.value) for c, slot in consts.items()]
        size = n + len(consts)
        input_slots = [slot for slot, _, _ in self.inputs]
        outputs = tuple(self.outputs)

        def run(inputs, generators):
            s = [None] * size
            for slot, value in zip(input_slots, inputs):
                s[slot] = value
            for slot, value in fixed:
                s[slot] = value
            for kind, fn, generator, args, params, outs, multi, free, into in steps:
                values = [s[a] for a in args]
                if kind == "check":
                    if not values[0]:
                        raise fn(*values[1:])
                else:
                    call = getattr(generators[generator], fn) if kind == "draw" else fn
                    result = (call(*values, out=s[params["out"]]) if into
                              else call(*values, **params))
                    if multi:
                        for slot, r in zip(outs, result):
                            s[slot] = r
                    else:
                        s[outs[0]] = result
                for slot in free:
                    s[slot] = None
            return tuple(s[slot] for slot in outputs)
        return run

    def _last_uses(self) -> dict:
        """slot -> index of the last instruction that reads or writes it; outputs, never."""
        last = {}
        for i, ins in enumerate(self.instructions):
            for s in ins.slots_read() + ins.outs:
                last[s] = i
        for s in self.outputs:
            last.pop(s, None)
        return last

    def __call__(self, inputs, generators):
        if self._run is None:
            self.build()
        self._runs += 1
        if self._runs == GENERATE_AFTER and len(self.instructions) <= GENERATE_UP_TO:
            self._run = self._generate()
        elif self._runs == CAPTURE_AFTER and self.device is not None:
            self._run = self._capture(inputs, generators) or self._run
        return self._run(inputs, generators)


def _equal(a, b) -> bool:
    """Whether two arrays of one device hold the same values (NaN equal to NaN)."""
    xp = a.__array_namespace__()
    same = a == b
    if xp.isdtype(a.dtype, ("real floating", "complex floating")):
        same = same | (xp.isnan(a) & xp.isnan(b))
    return bool(xp.all(same))


def _name(names: dict, value, prefix: str) -> str:
    """A global name for ``value`` in the generated function (one per distinct object)."""
    entry = names.get(id(value))
    if entry is None:
        entry = names[id(value)] = (value, f"{prefix}{len(names)}")
    return entry[1]


_LITERALS = (bool, int, str, type(None))


def _literal(value, names: dict) -> str:
    """Python source for a constant argument: a literal where one round-trips exactly."""
    if isinstance(value, _LITERALS) or (isinstance(value, float) and math.isfinite(value)):
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(v, _LITERALS) for v in value):
        return repr(value)
    return _name(names, value, "k")


def _line(ins: Instruction, names: dict, out: str | None = None, fn=None) -> str:
    """The instruction as a line of source (``fn`` in place of its own, ``out=`` given)."""
    args = [f"s{s}" if isinstance(s, int) else _literal(s.value, names) for s in ins.ins]
    args += [f"{k}={_literal(v, names)}" for k, v in ins.params.items()]
    if out is not None:
        args.append(f"out={out}")
    if ins.kind == "check":
        return f"if not {args[0]}: raise {_name(names, ins.fn, 'f')}({', '.join(args[1:])})"
    outs = "".join(f"s{s}, " for s in ins.outs) if ins.multi else f"s{ins.outs[0]}"
    if ins.kind == "draw":
        return f"{outs} = r{ins.generator}.{ins.fn}({', '.join(args)})"
    return f"{outs} = {_name(names, fn or ins.fn, 'k')}({', '.join(args)})"


def _plan_memory(program: Program, last_use: dict) -> tuple[dict, set, set]:
    """Which result goes into which dead array (``out=``), and which updates overwrite their
    input: ``({instruction index: variable of the buffer}, the owning slots whose variables
    must outlive their last reader, {indices of instructions to run as overwrite})``.

    Once nobody reads an array that an instruction made (nor a view of it), a later result of
    its shape and dtype may be written into it, so a program allocates about as much as it
    keeps alive at once. Only kernels that take ``out=`` (``backends._memory.out_kind``) get a
    buffer; an elementwise one may be given an input it reads for the last time, other
    kernels only buffers that died before them. Arrays that leave the program (its outputs)
    are never written over, nor are one-element arrays: allocating one costs nothing, and
    NumPy takes about twice as long for an in-place op on one (measured: 1.2 against 0.55 us
    for ``multiply(a, a, out=a)``; from two elements on, ``out=`` is as fast or faster).

    An update that copies its input to write into the copy (``setitem``: a convolution's
    backward adds nine slices into one array, nine full copies) writes into the input itself
    where the program made it and nothing reads it, or a view of it, afterwards; its result
    then lives in that memory; not where another of its arguments shares that memory (a
    backend need not handle an overlapping copy).
    """
    info = {s: i for ins in program.instructions for s, i in zip(ins.outs, ins.out_info)}
    escaping = {program.buffers.get(s, s) for s in program.outputs}
    owners = {s: o for s, o in program.buffers.items()
              if o in program.reusable and o not in escaping and o in info
              and math.prod(info[o][0]) > 1}
    death: dict[int, int] = {}
    for s, o in owners.items():
        death[o] = max(death.get(o, -1), last_use.get(s, -1))
    overwrites = set()
    for i, ins in enumerate(program.instructions):
        if ins.overwrite is None or type(ins.ins[0]) is not int:
            continue
        o, result = owners.get(ins.ins[0]), ins.outs[0]
        if o is None or death[o] != i or owners.get(result) != result:
            continue
        if any(type(s) is int and owners.get(s) == o for s in ins.ins[1:]):
            continue  # the value written is a view of the same memory (x[1:] = x[:-1])
        overwrites.add(i)
        for s, owner in owners.items():  # the result and its views live in o's memory now
            if owner == result:
                owners[s] = o
        death[o] = death.pop(result)
    dying: dict[int, list] = {}
    for o, i in death.items():
        dying.setdefault(i, []).append(o)
    pool: dict = {}
    out_buffers, kept = {}, set()
    for i, ins in enumerate(program.instructions):
        kind = (out_kind(ins.fn) if ins.kind == "kernel" and not ins.multi and not ins.params
                and ins.outs else None)
        if kind == "elementwise":
            _release(pool, dying.get(i, ()), info)
        free = pool.get(ins.out_info[0]) if kind else None
        if free:
            owner = free.pop()
            out_buffers[i] = f"s{owner}"
            kept.add(owner)
        if kind != "elementwise":
            _release(pool, dying.get(i, ()), info)
    return out_buffers, kept, overwrites


def _release(pool: dict, owners, info: dict) -> None:
    for owner in owners:
        pool.setdefault(info[owner], []).append(owner)
