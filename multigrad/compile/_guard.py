"""Guards as generated code: a quick check that a call meets the state a program was recorded in.

``walk`` fingerprints a call generically: it looks up a handler for each object's type, keeps a
table of the objects seen, and builds a key that the cache hashes and compares. That costs about
a microsecond for each entry of the key (a small model with its optimizer has some two hundred),
on every call, which is as much as the replay of a small step. Once a program has been found by
``walk`` a few times, ``write_guard`` walks a call once more and writes a Python function for that
program alone: it takes the same path through the call's objects by direct attribute and item
access, and compares each thing the key holds with the value recorded, inline. It returns the
call's objects, numbered as ``walk`` numbers them, when everything matches, and None at the
first difference; a None sends the call through ``walk`` and the cache as before.

So a guard may be stricter than the key (it wants the same type where the key wants the same
handler, the same object where the key wants an equal one, and fails on an empty closure
cell), which costs a walk, but never looser: every entry of the key is checked. (One
exception, harmless: a dict key that is a subclass of ``str`` equal to the string recorded
passes, where ``walk`` would key it apart; the program reads the dict by value either way.)
"""

from __future__ import annotations

from ..autograd._grad_mode import _state
from ..backends import get_default_device
from ..backends._random import default_generators
from ._walk import (_HANDLERS, _LEAF_HANDLERS, _SCALARS, MAX_DEPTH, Tensor, Walk, _global_names,
                    _handler_for, _identity, _owner, _slots)

__all__ = ["write_guard"]


class _Writer(Walk):
    """A walk that also writes, for each thing it keys, the line that checks it again."""

    def __init__(self):
        super().__init__()
        self.lines: list[str] = []
        self.scope: dict = {"_state": _state, "get_default_device": get_default_device,
                            "default_generators": default_generators, "_identity": _identity}
        self.arrays_at: list[tuple] = []  # (where, array): each array the key aliases, in order
        self._temps = 0

    # -- writing -----------------------------------------------------------------------------
    def const(self, value) -> str:
        name = f"c{len(self.scope)}"
        self.scope[name] = value
        return name

    def temp(self, expression: str) -> str:
        """A local holding ``expression``, evaluated once."""
        name = f"t{self._temps}"
        self._temps += 1
        self.lines.append(f"{name} = {expression}")
        return name

    def fail_if(self, condition: str) -> None:
        self.lines.append(f"if {condition}: return None")

    # -- walking, with the place of each value ----------------------------------------------
    def _modes(self, grad_enabled: bool, default_device: str) -> None:
        super()._modes(grad_enabled, default_device)
        self.fail_if(f"_state.enabled != {grad_enabled!r} or "
                     f"get_default_device().name != {self.const(default_device)}")

    def _root(self, value, name: str) -> None:
        self.visit_at(value, name)

    def visit_at(self, value, at: str, depth: int = 0) -> None:
        kind = type(value)
        if kind in _SCALARS:
            self.visit(value, depth)  # the key's entry, as walk makes it
            if kind is float and value != value:
                self.fail_if(f"type({at}) is not float or {at} == {at}")
            else:
                self.fail_if(f"type({at}) is not {self.const(kind)} or "
                             f"{at} != {self.const(value)}")
            return
        seen = self._index.get(id(value))
        if seen is not None:
            self.key.append(("same", seen))
            self.fail_if(f"{at} is not o{seen}")
            return
        number = len(self.objects)
        self._index[id(value)] = number
        self.objects.append(value)
        here = f"o{number}"
        self.lines.append(f"{here} = {at}")
        self.fail_if(f"type({here}) is not {self.const(kind)}")
        handler = _HANDLERS.get(kind)
        if handler is None:
            handler = _HANDLERS[kind] = _handler_for(kind)
        if depth >= MAX_DEPTH and handler not in _LEAF_HANDLERS:
            self.key.append(("deep", kind))
            return
        _WRITERS[handler](self, value, here, depth + 1)

    def _write_tensor(self, t: Tensor, at: str, depth: int) -> None:
        self._tensor(t, depth)
        self.fail_if(f"{at}._tangents")
        data = self.temp(f"{at}.data")
        self.fail_if(f"{data}.shape != {self.const(t.data.shape)} or "
                     f"{data}.dtype != {self.const(t.data.dtype)} or "
                     f"{at}.device is not {self.const(t.device)} or "
                     f"{at}.requires_grad != {t.requires_grad!r} or "
                     f"{at}.is_leaf != {t.is_leaf!r}")
        self.arrays_at.append((data, t.data))
        grad = self.temp(f"{at}._grad")
        if t._grad is None:
            self.fail_if(f"{grad} is not None")
            return
        self.fail_if(f"{grad} is None")
        grad_data = self.temp(f"{grad}.data")
        self.fail_if(f"{grad_data}.shape != {self.const(t._grad.data.shape)} or "
                     f"{grad_data}.dtype != {self.const(t._grad.data.dtype)}")
        self.arrays_at.append((grad_data, t._grad.data))

    def _write_raw_array(self, value, at: str, depth: int) -> None:
        self._raw_array(value, depth)
        self.fail_if(f"tuple({at}.shape) != {self.const(tuple(value.shape))} or "
                     f"{at}.dtype != {self.const(value.dtype)}")
        self.arrays_at.append((at, value))

    def _write_value(self, value, at: str, depth: int) -> None:
        self._value(value, depth)
        self.fail_if(f"{at} != {self.const(value)}")

    def _write_opaque(self, value, at: str, depth: int) -> None:
        self._opaque(value, depth)
        if _identity(value) is value:  # hashable: the key holds it, so may the guard
            self.fail_if(f"{at} is not {self.const(value)}")
        else:  # the key holds its type and id only
            self.fail_if(f"id({at}) != {id(value)}")

    def _write_set(self, value, at: str, depth: int) -> None:
        self._set(value, depth)
        self.fail_if(f"len({at}) != {len(value)} or frozenset(map(_identity, {at})) != "
                     f"{self.const(frozenset(map(_identity, value)))}")

    def _write_dict(self, d: dict, at: str, depth: int) -> None:
        self.key.append((type(d), len(d)))
        self.fail_if(f"len({at}) != {len(d)}")
        if all(type(k) is str for k in d):
            self.fail_if(f"list({at}) != {self.const(list(d))}")
            for k, v in d.items():
                self.key.append(k)
                self.visit_at(v, f"{at}[{k!r}]", depth)
            return
        items = self.temp(f"list({at}.items())")
        for i, (k, v) in enumerate(d.items()):
            if type(k) is str:
                self.key.append(k)
                self.fail_if(f"type({items}[{i}][0]) is not str or {items}[{i}][0] != {k!r}")
            else:
                self.visit_at(k, f"{items}[{i}][0]", depth)
            self.visit_at(v, f"{items}[{i}][1]", depth)

    def _write_sequence(self, seq, at: str, depth: int) -> None:
        self.key.append((type(seq), len(seq)))
        self.fail_if(f"len({at}) != {len(seq)}")
        for i, v in enumerate(seq):
            self.visit_at(v, f"{at}[{i}]", depth)

    def _write_method(self, value, at: str, depth: int) -> None:
        self.key.append(("method",))
        self.visit_at(value.__self__, f"{at}.__self__", depth)
        self.visit_at(value.__func__, f"{at}.__func__", depth)

    def _write_partial(self, value, at: str, depth: int) -> None:
        self.key.append(("partial",))
        for part in ("func", "args", "keywords"):
            self.visit_at(getattr(value, part), f"{at}.{part}", depth)

    def _write_object(self, value, at: str, depth: int) -> None:
        kind = type(value)
        self.key.append(("object", kind))
        self.visit_at(vars(value), f"{at}.__dict__", depth)
        for name in _slots(kind):
            if hasattr(value, name):
                self.visit_at(getattr(value, name), f"{at}.{name}", depth)
            else:
                self.fail_if(f"hasattr({at}, {name!r})")

    def _write_function(self, fn, at: str, depth: int) -> None:
        code = fn.__code__
        owner = _owner(code)
        if owner == "library":
            self.key.append(("opaque", fn))
            self.fail_if(f"{at} is not {self.const(fn)}")
            return
        self.key.append(("function", code))
        self.fail_if(f"{at}.__code__ is not {self.const(code)}")
        if fn.__closure__:
            cells = self.temp(f"{at}.__closure__")
            for i, cell in enumerate(fn.__closure__):
                try:
                    contents = cell.cell_contents
                except ValueError:  # an empty cell: walk keys it as None; the guard fails
                    contents = None
                self.visit_at(contents, f"{cells}[{i}].cell_contents", depth)
        if owner == "multigrad":
            return
        self.visit_at(fn.__defaults__, f"{at}.__defaults__", depth)
        self.visit_at(fn.__kwdefaults__, f"{at}.__kwdefaults__", depth)
        names = self.temp(f"{at}.__globals__")
        for name in _global_names(code):
            if name in fn.__globals__:
                self.key.append(name)
                self.visit_at(fn.__globals__[name], f"{names}[{name!r}]", depth)
            else:
                self.fail_if(f"{name!r} in {names}")


_WRITERS = {Walk._tensor: _Writer._write_tensor, Walk._raw_array: _Writer._write_raw_array,
            Walk._value: _Writer._write_value, Walk._opaque: _Writer._write_opaque,
            Walk._set: _Writer._write_set, Walk._dict: _Writer._write_dict,
            Walk._sequence: _Writer._write_sequence, Walk._method: _Writer._write_method,
            Walk._partial: _Writer._write_partial, Walk._object: _Writer._write_object,
            Walk._function: _Writer._write_function}


def _alias_pattern(arrays) -> tuple:
    """For each array, the position of the first one that is the same array."""
    first: dict = {}
    return tuple(first.setdefault(id(a), i) for i, a in enumerate(arrays))


def write_guard(fn, args: tuple, kwargs: dict, key: list):
    """A function ``guard(fn, args, kwargs)`` returning a call's objects (as ``walk`` numbers
    them) when the call's fingerprint is ``key``, else None; None when this call's own
    fingerprint is not ``key`` (the state changed since it was walked)."""
    w = _Writer().call(fn, args, kwargs)
    if w.key != key:
        return None
    objects = ", ".join(f"o{n}" for n in range(len(w.objects)))
    lines = list(w.lines)
    lines.append(f"objects = [{objects}]")
    lines.append(f"if len(set(map(id, objects))) != {len(w.objects)}: return None")
    arrays = f"[{', '.join(at for at, _ in w.arrays_at)}]"
    expected = _alias_pattern([array for _, array in w.arrays_at])
    if expected == tuple(range(len(expected))):
        lines.append(f"if len(set(map(id, {arrays}))) != {len(expected)}: return None")
    else:
        w.scope["_alias_pattern"] = _alias_pattern
        lines.append(f"if _alias_pattern({arrays}) != {expected!r}: return None")
    lines.append("return objects")
    source = ("def guard(fn, args, kwargs):\n    try:\n"
              + "".join(f"        {line}\n" for line in lines)
              + "    except Exception:  # an attribute, item or cell that is not there\n"
              + "        return None\n")
    exec(compile(source, "<multigrad.compile guard>", "exec"), w.scope)
    guard = w.scope["guard"]
    guard.source = source
    return guard
