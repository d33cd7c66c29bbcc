"""Recording a step: the first call runs eagerly while this recorder sees every kernel.

``multigrad.autograd._record`` is how the layers below report to the recorder: ``apply``
hands it each kernel call (``run``), the creation functions each array made from Python values
(``constant``), computations on raw arrays outside the tape (``derive``: index arithmetic,
copies, moves), random draws (``draw``), values read back to Python (``read``) and checks of
values (``check``). Each array gets a slot: an input
when it belongs to the state the walk found before the call (a tensor's data or gradient), a
constant when the step made it from Python values, the output of an instruction otherwise.
An array of unknown origin is an error: the step read something that compile cannot find
again on the next call, and guessing would make a program silently wrong.

After the call, ``finish`` compares the walked objects with what they held before (the
write-backs: new parameter values, gradients, optimizer state, changed flags) and describes
the return value; ``restore`` undoes the call's changes when recording fails.
"""

from __future__ import annotations

import functools
import os
import sys

from ..autograd import Tensor
from ..autograd._grad_mode import _state
from ..autograd._tensor import LeafNode
from ..backends import _random, is_array
from ..backends._memory import memory_of
from ..ops._helpers import is_complex
from ._program import Const, Instruction, Program
from ._walk import Walk

__all__ = ["CompileError", "Recorder"]

_SCALARS = (int, float, complex, bool, str, bytes, type(None))
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class CompileError(RuntimeError):
    """A step that ``multigrad.compile`` cannot turn into a program (the message says why and
    what to do instead); nothing the step changed is kept."""


def user_site() -> str:
    """``file:line`` of the innermost caller outside multigrad."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE):
        frame = frame.f_back
    return "an unknown place" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


class _Snapshot:
    """What every walked object held before the call: to find the changes, or undo them."""

    def __init__(self, walk: Walk):
        self.tensors = {}   # visit number -> (data, grad, requires_grad, node, index)
        self.contents = {}  # visit number -> list of items (dicts) or values (lists)
        self.generators = {}
        for number, obj in enumerate(walk.objects):
            if isinstance(obj, Tensor):
                self.tensors[number] = (obj.data, obj.grad, obj.requires_grad, obj._node,
                                        obj._index)
            elif isinstance(obj, dict):
                self.contents[number] = list(obj.items())
            elif isinstance(obj, list):
                self.contents[number] = list(obj)
            elif hasattr(obj, "get_state") and hasattr(obj, "set_state"):
                self.generators[number] = obj.get_state()

    def restore(self, walk: Walk) -> None:
        for number, (data, grad, requires_grad, node, index) in self.tensors.items():
            t = walk.objects[number]
            t.data, t.requires_grad, t._node, t._index = data, requires_grad, node, index
            t._grad = grad
        for number, items in self.contents.items():
            obj = walk.objects[number]
            if isinstance(obj, dict):
                obj.clear()
                obj.update(items)
            else:
                obj[:] = items
        for number, state in self.generators.items():
            walk.objects[number].set_state(state)


class Recorder:
    """Slots, instructions and reads of one step being recorded (see the module docstring)."""

    def __init__(self, walk: Walk, name: str):
        self.walk = walk
        self.name = name
        self.snapshot = _Snapshot(walk)
        self.slots: dict[int, int] = {}   # id(array) -> slot
        self.arrays: list = []            # slot -> array: keeps every array alive (no id reuse)
        self.inputs: list = []            # (slot, visit number, where)
        self.constants: dict = {}         # slot -> array
        self.instructions: list[Instruction] = []
        self.generators: list[int] = []   # visit numbers of the generators drawn from
        self.reads: list = []             # (slot, how, value, site)
        self.host_data_site = None        # where the step first turned host data into a tensor
        self.devices: set = set()         # the devices the kernels ran on

    # -- listening -------------------------------------------------------------------------
    def attach(self) -> None:
        """Hear what the engine and the random generators of this thread report."""
        _state.recorder = self
        _random.set_recorder(self)

    def detach(self) -> None:
        _state.recorder = None
        _random.set_recorder(None)

    # -- slots -----------------------------------------------------------------------------
    def _new_slot(self, array) -> int:
        slot = len(self.arrays)
        self.arrays.append(array)
        self.slots.setdefault(id(array), slot)
        return slot

    def slot(self, array, what: str) -> int:
        """The slot of an array an instruction reads (``what`` names the reader for errors)."""
        slot = self.slots.get(id(array))
        if slot is not None:
            return slot
        found = self.walk.arrays.get(id(array))
        if found is None:
            raise CompileError(
                f"compile({self.name}): {what} at {user_site()} reads a tensor of shape "
                f"{tuple(array.shape)} and dtype {array.dtype} that is neither an argument of "
                "the step nor reachable from its function (its closure, the globals it names, "
                "the object of a bound method), so the next call could not find it: pass it "
                "as an argument, or hold it in a module or container the function reaches")
        number, where, _ = found
        t = self.walk.objects[number]
        if where != "raw" and not t.is_leaf and t.requires_grad and _state.enabled:
            raise CompileError(
                f"compile({self.name}): the step uses a tensor computed outside it that is "
                f"still on a graph ({t.node.prim.name}), so its gradient would have to flow out "
                "of the program: detach() it, or compute it inside the step")
        slot = self._new_slot(array)
        self.inputs.append((slot, number, where))
        return slot

    def _pending_read(self, what: str) -> None:
        """A value read back to Python, followed by more work: the program could not know
        what the Python code did with it."""
        if not self.reads:
            return
        slot, how, value, site, _ = self.reads[-1]
        raise CompileError(
            f"compile({self.name}): {site} reads a tensor's value ({how}() gave {value!r}) and "
            f"the step goes on computing ({what} at {user_site()}); a compiled step cannot "
            "depend on the values it reads. Read values after the step (return the tensor, or "
            "read it last: a value read at the end is returned on every call), use "
            "multigrad.where for a branch on values, or pass Python values as arguments")

    # -- what the layers below report --------------------------------------------------------
    def run(self, prim, kernel, device, raw, params):
        if self.reads:
            self._pending_read(prim.name)
        self.devices.add(device)
        slots = self.slots
        ins = []
        for r in raw:
            slot = slots.get(id(r))
            if slot is None:
                slot = (Const(r) if r is None or type(r) in _SCALARS
                        else self.slot(r, prim.name))
            ins.append(slot)
        if prim.real_kernel_name is not None and not any(
                r is not None and is_complex(r) for r in raw):
            kernel = getattr(device.xp, prim.real_kernel_name)  # what the forward runs
            out = kernel(*raw, **params)
        elif prim.kernel_name is not None:  # the namespace's own function
            out = kernel(*raw, **params)
        else:  # a kernel of Python (det's, a Function, checkpoint) runs as it would unrecorded
            self.detach()
            try:
                out = kernel(*raw, **params)
            finally:
                self.attach()
        if prim.multi_output:
            outs = [self._new_slot(o) for o in out]
            info = tuple(_layout(o) for o in out)
        else:
            outs, info = [self._new_slot(out)], (_layout(out),)
        overwrite = (None if prim.overwrite is None
                     else functools.partial(prim.overwrite, device.xp))
        self.instructions.append(Instruction("kernel", prim.name, kernel, ins, params, outs,
                                             prim.multi_output, prim.pure, None, info,
                                             overwrite))
        return out

    def constant(self, array) -> None:
        if id(array) not in self.slots:
            self._constant_slot(array)

    def _constant_slot(self, array) -> int:
        slot = self._new_slot(array)
        self.constants[slot] = array
        return slot

    def derive(self, fn, arrays, from_python: bool):
        known = [id(a) in self.slots or id(a) in self.walk.arrays for a in arrays]
        if not any(known) and from_python:  # data from Python: a constant of the program
            result = fn(*arrays)
            if self.host_data_site is None:
                self.host_data_site = user_site()
            self.constant(result)
            return result
        self._pending_read("a computation on arrays")
        ins = [self.slot(a, "a computation on arrays") if k or not from_python
               else self._constant_slot(a) for a, k in zip(arrays, known)]
        self.detach()
        try:
            result = fn(*arrays)
        finally:
            self.attach()
        self.instructions.append(Instruction(
            "derive", getattr(fn, "__name__", "derive"), fn, ins, {}, [self._new_slot(result)],
            pure=True, out_info=(_layout(result),)))
        return result

    def draw(self, generator, method: str, args: tuple, result) -> None:
        self._pending_read(f"a random draw ({method})")
        number = self.walk._index.get(id(generator))
        if number is None:
            raise CompileError(
                f"compile({self.name}): the step draws random numbers at {user_site()} from a "
                "generator that is neither an argument nor reachable from its function, so "
                "the next call could not draw from it again: keep it on a module (as Dropout "
                "does) or in a container the function reaches")
        if number not in self.generators:
            self.generators.append(number)
        self.instructions.append(Instruction(
            "draw", f"draw.{method}", method, [Const(a) for a in args], {},
            [self._new_slot(result)], generator=self.generators.index(number),
            out_info=(_layout(result),)))

    def data_dependent(self, what: str) -> None:
        raise CompileError(
            f"compile({self.name}): {what} at {user_site()} gives a result whose shape "
            "depends on the values, which a program cannot replay (its shapes follow from "
            "its inputs' shapes): use multigrad.where(mask, x, 0) to keep the shape, or do it "
            "outside the step")

    def read(self, tensor, how: str, value) -> None:
        slot = self.slot(tensor.data, f"{how}()")
        self.reads.append((slot, how, value, user_site(), tensor.device))

    def check(self, ok, fail, operands) -> None:
        self._pending_read("a check of values")
        device = ok.device

        def fail_on(*arrays):
            return fail(*(Tensor(a, device) for a in arrays))
        fail_on.__qualname__ = getattr(fail, "__qualname__", "check")
        ins = [self.slot(ok.data, "a check")] + [self.slot(t.data, "a check") for t in operands]
        self.instructions.append(Instruction("check", "check", fail_on, ins, {}, []))

    # -- after the call --------------------------------------------------------------------
    def finish(self, result) -> tuple[Program, list, object]:
        """The program, its write-backs and the description of the result."""
        outputs: list = []
        spec = _Specs(self, outputs)
        writes = []
        walk, before = self.walk, self.snapshot
        for number, (data, grad, requires_grad, node, index) in before.tensors.items():
            t = walk.objects[number]
            if (t.requires_grad, t._node, t._index) != (requires_grad, node, index):
                if not (t.is_leaf and type(node) in (LeafNode, type(None))
                        and t.requires_grad == requires_grad):
                    raise CompileError(
                        f"compile({self.name}): the step changes whether a tensor from outside "
                        "requires gradients, or puts it on a graph; do that outside the step")
            if t.data is not data:
                if (tuple(t.data.shape), t.data.dtype) != (tuple(data.shape), data.dtype):
                    raise CompileError(
                        f"compile({self.name}): the step changes a tensor from outside from "
                        f"shape {tuple(data.shape)} and dtype {data.dtype} to shape "
                        f"{tuple(t.data.shape)} and dtype {t.data.dtype}; a compiled step "
                        "keeps the shapes and dtypes of the tensors it updates")
                writes.append(("data", number, spec.array(t.data, "a tensor's new value")))
            if t.grad is not grad:
                writes.append(("grad", number, None if t.grad is None else spec.value(t.grad)))
        for number, items in before.contents.items():
            obj = walk.objects[number]
            if isinstance(obj, dict):
                now = list(obj.items())
                same = all(_key_identity(a) == _key_identity(c) and b is d
                           for (a, b), (c, d) in zip(now, items))
            else:
                now = list(obj)
                same = all(a is b for a, b in zip(now, items))
            if same and len(now) == len(items):
                continue
            if isinstance(obj, dict):
                keys_now = {_key_identity(k) for k, _ in now}
                for k, v in now:
                    old = dict((_key_identity(a), b) for a, b in items).get(_key_identity(k),
                                                                           _MISSING)
                    if old is not v:
                        writes.append(("set", number, spec.value(k), spec.value(v)))
                for k, _ in items:
                    if _key_identity(k) not in keys_now:
                        writes.append(("del", number, spec.value(k)))
            else:
                writes.append(("list", number, [spec.value(v) for v in now]))
        out_spec = spec.value(result, returned=True)
        # what the first call returns: the objects it put in place, new tensors for the rest,
        # as a replay does
        self.first_made = {n: spec.originals[n] for n in spec.stored}
        program = Program(self.instructions, self.inputs, self.constants, self.generators,
                          outputs)
        program.buffers, program.reusable = self._buffers()
        program.layouts = layouts = {}
        for ins in self.instructions:  # as recorded; then the inputs' and constants'
            layouts.update(zip(ins.outs, ins.out_info))
        for slot, array in enumerate(self.arrays):
            if slot not in layouts and hasattr(array, "shape"):
                layouts[slot] = _layout(array)
        if len(self.devices) == 1:
            (program.device,) = self.devices
        return program, writes, out_spec

    def _buffers(self) -> tuple[dict, set]:
        """``{slot: the slot owning its memory}`` for every slot whose memory is known, and the
        owners that instructions made (their memory may serve a later result once nobody reads
        them; inputs and constants are never written over)."""
        owner: dict[int, int] = {}
        for slot, array in enumerate(self.arrays):
            memory = memory_of(array)
            if memory is not None:
                first = self.slots.get(id(memory))
                if first is not None:
                    owner[slot] = owner.get(first, first)
        made = {s for ins in self.instructions for s in ins.outs}
        fixed = {s for s, _, _ in self.inputs} | set(self.constants)
        reusable = {o for s, o in owner.items() if s == o and s in made and s not in fixed}
        return owner, reusable

    def restore(self) -> None:
        self.snapshot.restore(self.walk)


_MISSING = object()


def _layout(array) -> tuple:
    """Shape, dtype and strides: an array written into in place of a fresh result must lay
    its elements out as the fresh one would (a reduction over it sums in memory order)."""
    return tuple(array.shape), array.dtype, getattr(array, "strides", None)


def _key_identity(key):
    """A dict key as compared here: by value for plain keys, by identity for others (a
    tensor key's == is elementwise)."""
    return key if isinstance(key, _SCALARS) else ("object", id(key))


class _Specs:
    """How to rebuild, on a replay, the values a step left in the walked objects or returned:
    existing objects by visit number, new tensors from program outputs, containers anew,
    Python values as they were (the guards make them the same on every call)."""

    def __init__(self, recorder: Recorder, outputs: list):
        self.recorder = recorder
        self.outputs = outputs
        self.made: dict[int, int] = {}  # id of an object described -> its number
        self.originals: list = []       # by number: the object this call made
        self.stored: set[int] = set()   # numbers of objects the write-backs put in place

    def array(self, array, what: str):
        slot = self.recorder.slot(array, what)
        if slot not in self.outputs:
            self.outputs.append(slot)
        return self.outputs.index(slot)

    def value(self, v, returned: bool = False):
        rec = self.recorder
        if isinstance(v, _SCALARS):
            if returned and rec.reads and isinstance(v, (int, float, complex, bool)):
                for slot, how, value, _, device in rec.reads:
                    if value is v:
                        return ("read", self.array(rec.arrays[slot], how), how, device)
                raise CompileError(
                    f"compile({rec.name}): the step returns the number {v!r}, which is not a "
                    "value read from a tensor as it is (.item(), float()...); if it is computed "
                    "from one, return the tensor instead")
            return ("const", v)
        number = rec.walk._index.get(id(v))
        if number is not None and rec.walk.objects[number] is v:
            return ("object", number)
        if id(v) in self.made:
            return ("same", self.made[id(v)])
        self.made[id(v)] = len(self.originals)
        self.originals.append(v)
        if not returned:
            self.stored.add(self.made[id(v)])
        if isinstance(v, Tensor):
            if v._tangents:
                raise CompileError(f"compile({rec.name}): the step returns or stores a tensor "
                                   "that carries a forward-mode tangent")
            if v.requires_grad and not v.is_leaf and not returned:
                raise CompileError(
                    f"compile({rec.name}): the step stores a tensor that is on a graph "
                    f"({v.node.prim.name}) where it outlives the step; detach() it first")
            grad = None if v.grad is None else self.array(v.grad.data, "a gradient")
            leaf = v.requires_grad and v.is_leaf
            return ("tensor", self.made[id(v)], self.array(v.data, "a result"), v.device,
                    leaf, grad)
        if isinstance(v, (dict, list, tuple)):
            items = (list(v.items()) if isinstance(v, dict) else list(v))
            if isinstance(v, dict):
                inner = [(self.value(k), self.value(x, returned)) for k, x in items]
            else:
                inner = [self.value(x, returned) for x in items]
            return ("container", self.made[id(v)], type(v), inner)
        if is_array(v):
            return ("array", self.array(v, "a result"))
        raise CompileError(
            f"compile({rec.name}): the step returns or stores a {type(v).__name__} it made; a "
            "compiled step can rebuild tensors, numbers, strings and dicts, lists and tuples of "
            "them, and objects that existed before the call")
