"""Containers of modules: ``Sequential``, ``ModuleList``, ``ModuleDict``; and ``Identity``.

The modules a container holds are its submodules, so their parameters are the container's
(``parameters()``, ``state_dict()``, ``to(device)``) under the names ``"0"``, ``"1"``... (the
lists) or their keys (``ModuleDict``).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Iterator

from .module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict", "Identity"]


def _checked(module, container: str, where) -> Module:
    if not isinstance(module, Module):
        raise TypeError(f"{container}: {where} is a {type(module).__name__}, not a Module")
    return module


class _IndexedModules(Module):
    """Modules held under the names ``"0"``, ``"1"``...: what both lists share."""

    def __init__(self, modules: Iterable[Module] = ()):
        super().__init__()
        for k, m in enumerate(modules):
            self._modules[str(k)] = _checked(m, type(self).__name__, f"argument {k}")

    def _index(self, index: int) -> int:
        n = len(self._modules)
        index = operator.index(index)
        if not -n <= index < n:
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for "
                             f"{n} module(s)")
        return index % n

    def _renumber(self, modules: list) -> None:
        self._modules.clear()
        for k, m in enumerate(modules):
            self._modules[str(k)] = m

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index):
        if isinstance(index, slice):
            part = type(self).__new__(type(self))
            _IndexedModules.__init__(part, list(self._modules.values())[index])
            return part
        return self._modules[str(self._index(index))]

    def __setitem__(self, index: int, module: Module) -> None:
        k = self._index(index)
        self._modules[str(k)] = _checked(module, type(self).__name__, f"module {k}")

    def __delitem__(self, index) -> None:
        modules = list(self._modules.values())
        del modules[index if isinstance(index, slice) else self._index(index)]
        self._renumber(modules)


class Sequential(_IndexedModules):
    """Modules applied one after another; ``Sequential(a, b)(x)`` is ``b(a(x))``."""

    def __init__(self, *modules: Module):
        super().__init__(modules)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_IndexedModules):
    """A list of modules whose parameters belong to the list (and to any module holding it).

    It has no ``forward``: iterate over it in the forward of the module that holds it.
    """

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end; returns self."""
        n = len(self._modules)
        self._modules[str(n)] = _checked(module, "ModuleList", f"module {n}")
        return self

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add each of ``modules`` at the end; returns self."""
        for m in list(modules):
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index``."""
        modules = list(self._modules.values())
        modules.insert(index, _checked(module, "ModuleList", f"module {index}"))
        self._renumber(modules)

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)


class ModuleDict(Module):
    """Modules by name, in insertion order, whose parameters belong to the dict."""

    def __init__(self, modules: Mapping[str, Module] | Iterable | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def _key(self, key) -> str:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: a key must be a non-empty string without '.', got "
                           f"{key!r}")
        return key

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._modules[self._key(key)] = _checked(module, "ModuleDict", repr(key))

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        """The names, in insertion order."""
        return self._modules.keys()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def items(self):
        """``(name, module)`` pairs, in insertion order."""
        return self._modules.items()

    def update(self, modules: Mapping[str, Module] | Iterable) -> None:
        """Add or replace modules from a mapping or from ``(name, module)`` pairs."""
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for key, module in pairs:
            self[key] = module

    def pop(self, key: str) -> Module:
        """Remove the module named ``key`` and return it."""
        return self._modules.pop(key)

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()


class Identity(Module):
    """Returns its input unchanged (arguments to the constructor are accepted and ignored,
    so that it can stand in for any layer)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
