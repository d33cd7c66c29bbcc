"""Modules: containers of parameters, buffers and submodules, and ``Parameter``.

A ``Module`` registers what is assigned to its attributes: a ``Parameter`` becomes one of its
parameters, a ``Module`` one of its submodules, and ``register_buffer`` adds a tensor that is
state but not trained (BatchNorm's running statistics). Names are dotted paths
(``"0.weight"``, ``"block.bn.running_mean"``) in ``named_parameters`` and ``state_dict``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Iterator

from .._grads import forget_grads
from ..autograd import Tensor, no_grad
from ..backends import Device, as_dtype, get_device, is_array
from ..ops import asarray, to_device

__all__ = ["Parameter", "Module", "check_input", "check_sizes"]


class Parameter(Tensor):
    """A leaf tensor that a ``Module`` trains: it requires gradients.

    Parameters
    ----------
    data : Tensor
        The initial values (copied out of any graph: the parameter is a new leaf on the same
        device, with the same dtype).
    requires_grad : bool
        False freezes the parameter (it stays registered and saved, but gets no gradient).
    """

    __slots__ = ()

    def __init__(self, data: Tensor, requires_grad: bool = True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Parameter: expected a Tensor, got {type(data).__name__} (make one "
                            "with multigrad.tensor(..., device=...))")
        super().__init__(data.data, data.device)
        if requires_grad:
            self.requires_grad_()

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__() + ")"


def check_input(layer: "Module", x, like: Tensor | None = None) -> None:
    """Raise TypeError naming ``layer`` unless its input ``x`` is a tensor (or an array), of
    the dtype of ``like`` (the layer's parameter) when given: a float64 input through a
    float32 layer (or the reverse) is an error, as in PyTorch, not a silent promotion."""
    if is_array(x):
        if like is not None and as_dtype(x.dtype) != like.dtype:
            have, want = as_dtype(x.dtype), like.dtype.name
            remedy = (f" or make the layer with dtype=multigrad.{have.name} (the default is "
                      "multigrad.get_default_dtype())" if have.kind == "real floating" else "")
            raise TypeError(f"{layer!r}: input has dtype {have.name} but the layer's "
                            f"parameters have dtype {want}; cast the input "
                            f"(x.astype(multigrad.{want})){remedy}")
        return
    if isinstance(x, (tuple, list)):
        kinds = ", ".join(type(v).__name__ for v in x[:4]) + (", ..." if len(x) > 4 else "")
        got = f"a {type(x).__name__} of {len(x)} ({kinds})"
    else:
        got = "None" if x is None else f"a {type(x).__name__}"
    hint = ("if a module before it returns several values, pass on the one this layer needs"
            if isinstance(x, tuple) else "make one with multigrad.asarray(..., device=...)")
    raise TypeError(f"{layer!r}: expected a Tensor input, got {got}; {hint}")


def check_sizes(layer: str, least: int, **sizes) -> None:
    """Raise naming ``layer`` and the argument unless every one of ``sizes`` is an integer of
    at least ``least``."""
    for name, n in sizes.items():
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"{layer}: {name} must be an integer, got {n!r}")
        if n < least:
            raise ValueError(f"{layer}: {name} must be at least {least}, got {n}")


def _moved(t: Tensor, device: Device) -> Tensor:
    """``t``'s values on ``device``, outside any graph."""
    return to_device(t.detach(), device)


class Module:
    """Base class of layers and models: subclass it, assign parameters and submodules in
    ``__init__``, and compute in ``forward``; call the module to run ``forward``."""

    #: names in a state dict that ``load_state_dict`` accepts and ignores for this module
    #: (PyTorch's BatchNorm counts its batches in ``num_batches_tracked``)
    ignored_state: tuple[str, ...] = ()

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------------------
    def _registries(self):
        try:
            return self._parameters, self._buffers, self._modules
        except AttributeError:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning "
                               "parameters, buffers or submodules") from None

    def __setattr__(self, name: str, value) -> None:
        params, buffers, modules = self._registries()
        if name in buffers and (value is None or isinstance(value, Tensor)):
            buffers[name] = value  # a registered buffer stays one when reassigned
            return
        for registry in (params, buffers, modules):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            params[name] = value
        elif isinstance(value, Module):
            modules[name] = value
        else:
            object.__setattr__(self, name, value)
            return
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str):
        # only called when normal lookup fails: look in the registries
        for registry in ("_parameters", "_buffers", "_modules"):
            table = self.__dict__.get(registry)
            if table is not None and name in table:
                return table[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for registry in self._registries():
            if name in registry:
                del registry[name]
                return
        object.__delattr__(self, name)

    def register_buffer(self, name: str, tensor: Tensor | None) -> None:
        """Add a tensor that is part of the module's state but not trained (saved in
        ``state_dict`` and moved by ``to``); ``None`` reserves the name."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, not "
                            f"{type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter under ``name`` (``None`` records an absent one, such as no bias)."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, not "
                            f"{type(param).__name__}")
        self.__dict__.pop(name, None)
        self._parameters[name] = param

    # -- running --------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # -- traversal ------------------------------------------------------------------------
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule, each once, with its dotted name."""
        seen = set()
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()
                        if m is not None]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        """This module and every submodule."""
        for _, m in self.named_modules():
            yield m

    def children(self) -> Iterator["Module"]:
        """The direct submodules."""
        return (m for m in self._modules.values() if m is not None)

    def _named(self, registry: str) -> Iterator[tuple[str, Tensor]]:
        seen = set()
        for prefix, module in self.named_modules():
            for k, t in getattr(module, registry).items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))  # a shared (tied) tensor is listed once
                yield (f"{prefix}.{k}" if prefix else k), t

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """Every parameter of this module and its submodules, with its dotted name."""
        return self._named("_parameters")

    def parameters(self) -> Iterator[Parameter]:
        """Every parameter of this module and its submodules (each once)."""
        return (p for _, p in self.named_parameters())

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """Every buffer of this module and its submodules, with its dotted name."""
        return self._named("_buffers")

    def buffers(self) -> Iterator[Tensor]:
        """Every buffer of this module and its submodules."""
        return (b for _, b in self.named_buffers())

    # -- state ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the accumulated gradients of every parameter.

        Parameters
        ----------
        set_to_none : bool
            True: ``.grad`` becomes None. False: a gradient that exists becomes zeros of the
            parameter's shape, dtype and device (a new tensor; None stays None).
        """
        forget_grads(self.parameters(), set_to_none)

    def train(self, mode: bool = True) -> "Module":
        """Training mode (dropout drops, batch norm uses batch statistics); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """Evaluation mode (dropout passes through, batch norm uses running statistics)."""
        return self.train(False)

    def to(self, device) -> "Module":
        """Move every parameter and buffer to ``device``, in place; returns self.

        Parameters keep their identity (an optimiser holding them sees the move); their
        accumulated gradients move with them.
        """
        target = get_device(device)
        for module in self.modules():
            for p in module._parameters.values():
                if p is None or p.device is target:
                    continue
                p.data = _moved(p, target).data
                p.device = target
                if p.grad is not None:
                    p.grad = _moved(p.grad, target)
            for k, b in module._buffers.items():
                if b is not None and b.device is not target:
                    module._buffers[k] = _moved(b, target)
            module._moved_to(target)
        return self

    def _moved_to(self, device: Device) -> None:
        """Hook for a layer holding device state other than tensors (a random generator)."""

    def state_dict(self) -> "OrderedDict[str, Tensor]":
        """Every parameter and buffer by dotted name, as tensors outside the graph."""
        state = OrderedDict()
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for k, t in registry.items():
                    if t is not None:
                        state[f"{prefix}.{k}" if prefix else k] = t.detach()
        return state

    def load_state_dict(self, state_dict, strict: bool = True) -> None:
        """Copy values from ``state_dict`` (name -> tensor or array) into this module.

        Each value is moved to the device and cast to the dtype of the tensor it replaces (a
        PyTorch ``state_dict()`` converted with ``multigrad.from_dlpack`` loads: its
        ``num_batches_tracked`` entries are ignored). Everything is checked before anything
        changes: a missing key, an unexpected key (with ``strict``) or a wrongly shaped value
        raises ``KeyError``/``ValueError`` naming them; a ``state_dict`` that is not a mapping,
        or a value that is neither a tensor nor an array (nor a number, for a 0-d tensor),
        raises ``TypeError``.
        """
        where = f"load_state_dict: {type(self).__name__}"
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{where}: expected a mapping of names to tensors (as state_dict() "
                            f"returns), got {type(state_dict).__name__}")
        slots, ignored = {}, set()
        for prefix, module in self.named_modules():
            for registry in (module._parameters, module._buffers):
                for k, t in registry.items():
                    if t is not None:
                        slots[f"{prefix}.{k}" if prefix else k] = (module, registry, k, t)
            ignored.update(f"{prefix}.{k}" if prefix else k for k in module.ignored_state)
        missing = [k for k in slots if k not in state_dict]
        unexpected = [k for k in state_dict if k not in slots and k not in ignored]
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(map(repr, missing)))
            if unexpected:
                parts.append("unexpected keys " + ", ".join(map(repr, unexpected)))
            raise KeyError(f"{where}: " + "; ".join(parts))
        new = {}
        for name, (module, registry, k, t) in slots.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if not (hasattr(value, "shape") or isinstance(value, (int, float))):
                got = "None" if value is None else f"a {type(value).__name__}"
                raise TypeError(f"{where}: {name!r} is {got} in the state dict; expected a "
                                f"tensor or array of shape {t.shape}")
            shape = tuple(getattr(value, "shape", ()))
            if shape != t.shape:
                raise ValueError(f"{where}: {name!r} has shape {shape} in the state dict, but "
                                 f"the module expects {t.shape}")
            value = value.detach() if isinstance(value, Tensor) else value
            new[name] = asarray(value, device=t.device, dtype=t.dtype)
        with no_grad():
            for name, value in new.items():
                module, registry, k, t = slots[name]
                if isinstance(t, Parameter):
                    t.data = value.data  # keep the parameter's identity (optimisers hold it)
                else:
                    registry[k] = value

    def extra_repr(self) -> str:
        """The layer's settings, shown by ``repr``."""
        return ""

    def __repr__(self) -> str:
        lines = [f"  ({k}): " + repr(m).replace("\n", "\n  ") for k, m in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ("\n" + "\n".join(lines) + "\n)" if lines else ")")
