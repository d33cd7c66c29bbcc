"""What a step can reach, and its fingerprint: the guards of a compiled program.

A compiled program is valid for the state it was recorded in: the shapes, dtypes and devices of
the tensors the step reads, the Python values that steer it (options, flags, counters), the
structure of the containers it walks (a model's modules, an optimizer's state). ``walk`` visits
what a step can reach, from its arguments and the function itself (its closure, the globals
it names, the object of a bound method), in a fixed order, and returns

- ``key``: a hashable fingerprint of all that (equal keys, same program), and
- ``objects``: the mutable objects visited, by visit number, so that a program can read the
  arrays of this call's tensors and write results back into this call's objects.

Tensor values are not in the key (they are the program's inputs), nor are random generators'
states (the program draws from the generator it finds). Code of libraries (multigrad, NumPy,
the standard library, site-packages) is not walked: only the user's own functions and objects.
"""

from __future__ import annotations

import functools
import os
import sysconfig
import types

from ..autograd import Tensor
from ..autograd._grad_mode import _state
from ..backends import DType, Device, get_default_device, is_array
from ..backends._random import Generator, default_generator, default_generators

__all__ = ["Walk", "walk"]

_SCALARS = (int, float, complex, bool, str, bytes, type(None), type(Ellipsis))
#: how deep the walk goes into nested objects; deeper ones are known by their type alone
MAX_DEPTH = 24


#: multigrad's own folder
_PACKAGE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "")


def _library_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    dirs = set()
    dirs.update(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)
    return tuple(os.path.join(os.path.abspath(d), "") for d in dirs)


_LIBRARIES = _library_dirs()


@functools.lru_cache(maxsize=4096)
def _owner(code: types.CodeType) -> str:
    """Whose a function's code is: "user", "multigrad" or "library"."""
    filename = os.path.abspath(code.co_filename)
    if filename.startswith(_PACKAGE):
        return "multigrad"
    if filename.startswith(_LIBRARIES) or code.co_filename.startswith("<frozen"):
        return "library"
    return "user"


def _names(code: types.CodeType):
    """The global names a code object and the code nested in it (lambdas...) may read."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _names(const)


@functools.lru_cache(maxsize=4096)
def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """``_names`` without repeats, once per code object."""
    return tuple(dict.fromkeys(_names(code)))


class Walk:
    """One walk: the fingerprint ``key``, the ``objects`` visited, and where arrays live.

    ``arrays`` maps the id of every array held by a visited tensor (its data or its gradient's)
    or met raw to ``(visit number, "data" | "grad" | "raw", array)``, the first place it was
    found (holding the array, so that its id stays its own while the walk lives).
    """

    def __init__(self):
        self.key: list = []
        self.objects: list = []
        self.arrays: dict[int, tuple] = {}
        self._index: dict[int, int] = {}

    def call(self, fn, args: tuple, kwargs: dict) -> "Walk":
        """Walk a call of ``fn``: the modes that steer a step (grad mode, the default device),
        its arguments, what ``fn`` reaches, then the default generators (``mg.manual_seed``'s,
        which ``mg.randn`` and unseeded layers draw from), made first for every device met,
        so that a step drawing from one finds it."""
        default = get_default_device()
        self._modes(_state.enabled, default.name)
        self._root(args, "args")
        self._root(kwargs, "kwargs")
        self._root(fn, "fn")
        for device in {default, *(o.device for o in self.objects if isinstance(o, Tensor))}:
            default_generator(device)
        self._root(default_generators(), "default_generators()")
        return self

    def _modes(self, grad_enabled: bool, default_device: str) -> None:
        self.key.append((grad_enabled, default_device))

    def _root(self, value, name: str) -> None:
        """Visit one of the roots of a call (``name`` is where a generated guard finds it)."""
        self.visit(value)

    def visit(self, value, depth: int = 0) -> None:
        kind = type(value)
        if kind in _SCALARS:
            # a NaN never equals itself: key it by its text so that a cached program matches
            self.key.append((kind, "nan") if kind is float and value != value else
                            (kind, value))
            return
        seen = self._index.get(id(value))
        if seen is not None:
            self.key.append(("same", seen))
            return
        self._index[id(value)] = len(self.objects)
        self.objects.append(value)
        handler = _HANDLERS.get(kind)
        if handler is None:
            handler = _HANDLERS[kind] = _handler_for(kind, value)
        if depth >= MAX_DEPTH and handler not in _LEAF_HANDLERS:
            self.key.append(("deep", kind))
        else:
            handler(self, value, depth + 1)

    def _tensor(self, t: Tensor, depth: int) -> None:
        if t._tangents:
            from ..batching._marks import Mark  # only once something went wrong
            if all(type(v) is Mark for v in t._tangents.values()):
                raise TypeError("compile: the step reads a tensor batched by vmap (a compiled "
                                "function called inside vmap); compile the vmap instead: "
                                "mg.compile(mg.vmap(f)), with f not compiled")
            raise TypeError("compile: a tensor the step reads carries a forward-mode tangent: "
                            "compile the function inside the transform, not the transform's "
                            "function inside compile")
        number = len(self.objects) - 1
        data, grad = t.data, t._grad
        self.key.append(("tensor", data.shape, data.dtype, t.device, t.requires_grad,
                         t.is_leaf, self._array(data, number, "data"),
                         None if grad is None else (grad.data.shape, grad.data.dtype,
                                                    self._array(grad.data, number, "grad"))))

    def _dict(self, d: dict, depth: int) -> None:
        key, visit = self.key, self.visit
        key.append((type(d), len(d)))
        for k, v in d.items():
            # plain keys and values inline: most of a walk is dicts of names and numbers
            if type(k) is str:
                key.append(k)
            else:
                visit(k, depth)
            kind = type(v)
            if kind in _SCALARS and not (kind is float and v != v):
                key.append((kind, v))
            else:
                visit(v, depth)

    def _sequence(self, seq, depth: int) -> None:
        key, visit = self.key, self.visit
        key.append((type(seq), len(seq)))
        for v in seq:
            kind = type(v)
            if kind in _SCALARS and not (kind is float and v != v):
                key.append((kind, v))
            else:
                visit(v, depth)

    def _set(self, value, depth: int) -> None:
        self.key.append((type(value), len(value), frozenset(map(_identity, value))))

    def _raw_array(self, value, depth: int) -> None:
        self.key.append(("array", tuple(value.shape), value.dtype))
        self.arrays.setdefault(id(value), (len(self.objects) - 1, "raw", value))

    def _value(self, value, depth: int) -> None:
        self.key.append(("value", value))

    def _opaque(self, value, depth: int) -> None:
        self.key.append(("opaque", _identity(value)))

    def _method(self, value, depth: int) -> None:
        self.key.append(("method",))
        self.visit(value.__self__, depth)
        self.visit(value.__func__, depth)

    def _partial(self, value, depth: int) -> None:
        self.key.append(("partial",))
        for part in (value.func, value.args, value.keywords):
            self.visit(part, depth)

    def _object(self, value, depth: int) -> None:
        """An object of the user's or of multigrad (a module, an optimizer, a generator)."""
        kind = type(value)
        self.key.append(("object", kind))
        self.visit(vars(value), depth)
        for name in _slots(kind):
            if hasattr(value, name):
                self.visit(getattr(value, name), depth)

    def _function(self, fn: types.FunctionType, depth: int) -> None:
        """A user's function: its closure, defaults and the globals it names; one of
        multigrad's (a transform's wrapper, ``mg.grad(f)``): its closure, which holds the
        user's function; a library's: itself."""
        code = fn.__code__
        owner = _owner(code)
        if owner == "library":
            self.key.append(("opaque", fn))
            return
        self.key.append(("function", code))
        for cell in fn.__closure__ or ():
            try:
                contents = cell.cell_contents
            except ValueError:  # an empty cell
                contents = None
            self.visit(contents, depth)
        if owner == "multigrad":
            return
        self.visit(fn.__defaults__, depth)
        self.visit(fn.__kwdefaults__, depth)
        scope = fn.__globals__
        for name in _global_names(code):
            if name in scope:
                self.key.append(name)
                self.visit(scope[name], depth)

    def _array(self, array, number: int, where: str):
        """The first place this array was found (arrays shared by tensors alias)."""
        return self.arrays.setdefault(id(array), (number, where, array))[:2]


#: how each type is walked, found once per type by ``_handler_for``
_HANDLERS: dict = {}
_LEAF_HANDLERS = (Walk._tensor, Walk._value, Walk._opaque, Walk._raw_array, Walk._set)


def _handler_for(kind: type, value):
    """How values of ``kind`` (``value`` is one) are walked."""
    if issubclass(kind, Tensor):
        return Walk._tensor
    if issubclass(kind, (Device, DType)):
        return Walk._value
    if issubclass(kind, dict):
        return Walk._dict
    if issubclass(kind, (list, tuple)):
        return Walk._sequence
    if issubclass(kind, (set, frozenset)):
        return Walk._set
    if not issubclass(kind, type) and is_array(value):  # a raw array of a backend
        return Walk._raw_array
    if issubclass(kind, types.FunctionType):
        return Walk._function
    if issubclass(kind, types.MethodType):
        return Walk._method
    if issubclass(kind, functools.partial):
        return Walk._partial
    if issubclass(kind, (types.ModuleType, type, types.BuiltinFunctionType, types.CodeType,
                         Generator)) or kind.__module__.startswith(__package__):
        # a random generator is known by itself: its state is the program's to advance; a
        # compiled function (an attribute of the object whose method it compiles, say) by
        # itself too: its cache changes with every call
        return Walk._opaque
    if hasattr(kind, "__dictoffset__") and kind.__dictoffset__ and "__dict__" in dir(kind):
        return Walk._object
    return Walk._opaque


@functools.lru_cache(maxsize=None)
def _slots(kind: type) -> tuple:
    """The ``__slots__`` names of a class and its bases (``__weakref__`` left out)."""
    names = []
    for base in kind.__mro__:
        for name in getattr(base, "__slots__", ()):
            if name not in ("__weakref__", "__dict__") and name not in names:
                names.append(name)
    return tuple(names)


def _identity(value):
    try:
        hash(value)
    except TypeError:
        return (type(value), id(value))
    return value


def walk(fn, args: tuple, kwargs: dict) -> Walk:
    """Walk a call of ``fn`` (see ``Walk.call``)."""
    return Walk().call(fn, args, kwargs)
