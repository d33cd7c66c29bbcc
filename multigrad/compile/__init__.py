"""``multigrad.compile``: record a step once, replay it as a flat program.

The first call of a compiled function runs eagerly while a recorder sees every kernel the step
runs on raw arrays (forward, backward, updates), and turns them into a ``Program``: a flat list
of kernel calls over array slots, with no tensors, nodes or rules left (see ``_recorder`` and
``_program``). Later calls whose guards match (``_walk``: the shapes, dtypes and devices of the
tensors the step reaches, the Python values that steer it, grad mode, the default device) run
that program on their own arrays, then write back what the step changed (parameters,
gradients, optimizer state, flags) so that every object looks as after an eager call.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import warnings
from collections import OrderedDict, namedtuple

from .._transform_args import name_of
from ..autograd import Tensor
from ..autograd._grad_mode import _state
from ..backends import is_array
from ._passes import optimize
from ._program import Program
from ._guard import write_guard
from ._recorder import CompileError, Recorder
from ._walk import walk

__all__ = ["compile", "CompileError", "CompiledFunction", "CacheInfo"]

#: hits: calls that replayed a program; misses: calls that recorded one; eager: calls run
#: eagerly because the cache was full; maxsize, currsize: the cache's limit and programs held
#: how many times ``walk`` finds a program before its guard is written as code (``_guard``):
#: writing one costs about 30 walks of the same call (Python compiles it), and a step found
#: 8 times is likely to run many more
GUARD_AFTER = 8

CacheInfo = namedtuple("CacheInfo", ["hits", "misses", "eager", "maxsize", "currsize"])


class _Entry:
    """One recorded program with its write-backs and the shape of its result.

    The program is optimized and built when it is first wanted (its first replay), not when
    it is recorded: a call whose guards are met only once (the last, shorter batch of an
    epoch) costs its recording and nothing more, and the first call of a step stays close to
    an eager one.
    """

    __slots__ = ("recorded", "optimize", "writes", "result", "_program", "key", "guard",
                 "walked")

    def __init__(self, program: Program, writes: list, result, optimize: bool, key: tuple):
        self.recorded, self.optimize, self.writes, self.result = program, optimize, writes, result
        self._program = None
        self.key = key
        self.guard = None  # written once walk has found this entry GUARD_AFTER times
        self.walked = 0

    @property
    def program(self) -> Program:
        """The program, optimized (when asked for) and built."""
        if self._program is None:
            with _collection_paused():
                program = optimize(self.recorded) if self.optimize else self.recorded
                program.build()
            self._program, self.recorded = program, None
        return self._program

    def replay(self, objects: list):
        program = self.program
        inputs = [_input(objects[number], where) for _, number, where in program.inputs]
        outs = program(inputs, [objects[n] for n in program.generators])
        return self.commit(objects, outs)

    def commit(self, objects: list, outs):
        """Write the step's changes into this call's objects; build its result."""
        made = {}
        for write in self.writes:
            kind, number = write[0], write[1]
            target = objects[number]
            if kind == "data":
                target.data = outs[write[2]]
            elif kind == "grad":
                target._grad = None if write[2] is None else _build(write[2], objects, outs,
                                                                    made)
            elif kind == "set":
                target[_build(write[2], objects, outs, made)] = _build(write[3], objects, outs,
                                                                       made)
            elif kind == "del":
                del target[_build(write[2], objects, outs, made)]
            else:  # "list"
                target[:] = [_build(v, objects, outs, made) for v in write[2]]
        return _build(self.result, objects, outs, made)


def _input(obj, where: str):
    if where == "data":
        return obj.data
    if where == "grad":
        return obj._grad.data
    return obj


_READS = {"float": float, "int": int, "bool": bool, "complex": complex, "index": int}


def _build(spec, objects, outs, made):
    """The value a spec describes (see ``_recorder._Specs``), for this call."""
    kind = spec[0]
    if kind == "const":
        return spec[1]
    if kind == "object":
        return objects[spec[1]]
    if kind == "same":
        return made[spec[1]]
    if kind == "read":
        _, index, how, device = spec
        array = outs[index]
        if how in _READS:
            return _READS[how](array)
        host = device.to_host(array, copy=True)
        return host.item() if how == "item" else host.tolist() if how == "tolist" else host
    if kind == "array":
        return outs[spec[1]]
    if kind == "tensor":
        _, number, index, device, leaf, grad = spec
        if number in made:  # the first call hands back the tensor it put in place
            return made[number]
        t = Tensor(outs[index], device)
        if leaf:
            t.requires_grad_()
        if grad is not None:
            t._grad = Tensor(outs[grad], device)
        made[number] = t
        return t
    _, number, kind_, items = spec  # a container
    if number in made:
        return made[number]
    if issubclass(kind_, dict):
        value = kind_()
        made[number] = value
        for k, v in items:
            value[_build(k, objects, outs, made)] = _build(v, objects, outs, made)
        return value
    built = [_build(v, objects, outs, made) for v in items]
    value = kind_(built) if kind_ in (list, tuple) else kind_(*built)  # named tuples
    made[number] = value
    return value


class CompiledFunction:
    """A function compiled by ``multigrad.compile``: call it as the function itself.

    ``cache_info()`` counts replays, recordings and eager calls; ``programs()`` lists the
    recorded programs (print one to read it); ``cache_clear()`` forgets them.
    """

    def __init__(self, fn, cache_size: int = 8, optimize: bool = True):
        if not callable(fn):
            raise TypeError(f"compile: expected a function, got {type(fn).__name__}")
        if not isinstance(cache_size, int) or isinstance(cache_size, bool) or cache_size < 1:
            raise ValueError(f"compile: cache_size must be a positive integer, got "
                             f"{cache_size!r}")
        self.fn = fn
        self.cache_size = cache_size
        self.optimize = optimize
        self._cache: OrderedDict = OrderedDict()
        self._hits = self._misses = self._eager = 0
        self._warned = False
        functools.update_wrapper(self, fn)
        self.__name__ = name_of(fn)

    def __repr__(self) -> str:
        return f"<compiled {self.__name__}: {len(self._cache)} program(s)>"

    def __get__(self, obj, owner=None):  # a compiled method binds like a function
        return self if obj is None else functools.partial(self, obj)

    def cache_info(self) -> CacheInfo:
        """Replays (hits), recordings (misses) and eager calls, and the cache's size."""
        return CacheInfo(self._hits, self._misses, self._eager, self.cache_size,
                         len(self._cache))

    def cache_clear(self) -> None:
        """Forget every recorded program (the next call records again)."""
        self._cache.clear()
        self._hits = self._misses = self._eager = 0

    def programs(self) -> list[Program]:
        """The recorded programs (optimized and built on the way), most recently used last."""
        return [entry.program for entry in self._cache.values()]

    def __call__(self, *args, **kwargs):
        _check_arguments(self.__name__, args, kwargs)
        if _state.recorder is not None or _state.anomaly:
            # inside another compiled step's recording the calls become part of its program;
            # anomaly mode checks every op, which only eager execution can do
            return self.fn(*args, **kwargs)
        for entry in reversed(self._cache.values()):  # the most recently used first
            if entry.guard is not None:
                objects = entry.guard(self.fn, args, kwargs)
                if objects is not None:
                    self._hits += 1
                    self._cache.move_to_end(entry.key)
                    return entry.replay(objects)
        w = walk(self.fn, args, kwargs)
        key = tuple(w.key)
        entry = self._cache.get(key)
        if entry is not None:
            self._hits += 1
            self._cache.move_to_end(key)
            entry.walked += 1
            if entry.walked == GUARD_AFTER:
                entry.guard = write_guard(self.fn, args, kwargs, w.key)
            return entry.replay(w.objects)
        if len(self._cache) >= self.cache_size:
            self._eager += 1
            self._warn_full(key)
            return self.fn(*args, **kwargs)
        self._misses += 1
        entry, result = self._record(w, args, kwargs, key)
        self._cache[key] = entry
        return result

    def _record(self, w, args, kwargs, key):
        recorder = Recorder(w, self.__name__)
        with _collection_paused():
            try:
                recorder.attach()
                result = self.fn(*args, **kwargs)
                program, writes, result_spec = recorder.finish(result)
            except BaseException:
                recorder.detach()
                recorder.restore()
                raise
            finally:
                recorder.detach()
        if recorder.host_data_site is not None:
            warnings.warn(
                f"compile({self.__name__}): the step turns host data into a tensor at "
                f"{recorder.host_data_site}; the program keeps those values as a constant. "
                "Pass data that changes from call to call as an argument.", stacklevel=3)
        entry = _Entry(program, writes, result_spec, self.optimize, key)
        # the first call's result is built as a replay's would be: the same kind of objects
        outs = [recorder.arrays[slot] for slot in program.outputs]
        return entry, _build(result_spec, w.objects, outs, recorder.first_made)

    def _warn_full(self, key) -> None:
        if self._warned:
            return
        self._warned = True
        newest = next(reversed(self._cache))
        differ = next((i for i, (a, b) in enumerate(zip(key, newest)) if a != b), None)
        detail = ("" if differ is None else
                  f" (the first guard that differs from the newest program's: {key[differ]!r} "
                  f"where it had {newest[differ]!r})")
        warnings.warn(
            f"compile({self.__name__}): {self.cache_size} programs are recorded and this call "
            f"matches none of them{detail}; calls that match none run eagerly from now on. "
            "A Python value that changes on every call (a counter, a learning rate) makes a "
            "new program each time: keep such values in tensors, or raise cache_size.",
            stacklevel=3)


@contextlib.contextmanager
def _collection_paused():
    """The garbage collector off while a program is recorded or built: both make many objects
    that live until the program is done, and the collector's passes over that growing heap
    cost more than the step itself (measured: 20 against 12 us an op)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


_ARGUMENT_LEAVES = (Tensor, int, float, complex, bool, str, type(None))


def _check_arguments(name: str, args: tuple, kwargs: dict) -> None:
    """Arguments are tensors (or arrays), Python scalars, and tuples, lists and dicts of them."""
    def check(value, where: str, depth: int = 0):
        if isinstance(value, _ARGUMENT_LEAVES) or is_array(value):
            return
        if depth < 32 and isinstance(value, (tuple, list)):
            for k, v in enumerate(value):
                check(v, f"{where}[{k}]", depth + 1)
            return
        if depth < 32 and isinstance(value, dict):
            for k, v in value.items():
                check(v, f"{where}[{k!r}]", depth + 1)
            return
        raise TypeError(
            f"compile({name}): {where} is a {type(value).__name__}; a compiled step takes "
            "tensors, arrays, Python scalars and strings, and tuples, lists and dicts of them "
            "(a model or an optimizer is reached through the function's closure or object "
            "instead)")

    for k, v in enumerate(args):
        check(v, f"argument {k}")
    for k, v in kwargs.items():
        check(v, f"argument {k!r}")


def compile(fn=None, *, cache_size: int = 8, optimize: bool = True):
    """Compile a step: record it on its first call, then replay it as a flat program.

    Parameters
    ----------
    fn : callable
        The step: a function of tensors (and Python scalars, and tuples, lists and dicts of
        them) that may do what a training or evaluation step does (forward, backward or any
        transform, optimizer steps, updates under ``no_grad``, Dropout). Without ``fn``,
        ``compile(cache_size=...)`` returns a decorator.
    cache_size : int
        How many programs to keep, one per distinct guard state (shapes, dtypes, devices,
        Python values, module modes); a call that matches none when the cache is full runs
        eagerly, with a warning the first time.
    optimize : bool
        Run the program's passes (dead code, common subexpressions, buffer reuse, fusion).

    Returns
    -------
    CompiledFunction
        Called like ``fn``. Tensors it returns are outside any graph.

    Raises
    ------
    CompileError
        When the step cannot become a program (it branches on a value it reads, reads a tensor
        compile cannot find again, changes a tensor's shape...); the message names the place
        and the way out, and nothing the step changed is kept.
    """
    if fn is None:
        return lambda f: CompiledFunction(f, cache_size, optimize)
    return CompiledFunction(fn, cache_size, optimize)
