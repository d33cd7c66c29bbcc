"""The optimiser base class: parameter groups, per-parameter state, and state dicts.

An optimiser holds ``param_groups`` (each a dict with ``"params"`` and the options of that
group, such as ``"lr"``) and ``state`` (per parameter, the running averages and counters of the
method). Subclasses implement ``_update(p, g, state, group)``, which ``step`` calls under
``no_grad`` for every parameter that has a gradient and which returns the parameter's new value
and new state without changing either. State is created with ``multigrad.zeros_like(p)``, so it
lives on each parameter's device, and updates are array API expressions on those tensors: no
value crosses to the host. Nothing is written in place, so arrays saved on a tape are never
changed.

A step is all or nothing: it checks every option and every gradient, computes every new value,
and only then rebinds the parameters and replaces their state. A bad gradient, or an exception
or a KeyboardInterrupt while the new values are computed, leaves the model and the optimiser as
they were. The cost is memory: until the commit, the old and the new values of every parameter
and state tensor are alive together, one more copy of the parameters and of the state at the
peak of a step.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable

from .._grads import forget_grads
from ..autograd import Tensor, enable_grad, no_grad
from ..autograd._tensor import check_like
from ..ops import asarray

__all__ = ["Optimizer"]

ParamsT = Iterable[Tensor] | Iterable[dict]


class Optimizer:
    """Base class of the optimisers.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The leaf tensors to optimise (a module's ``parameters()``), or parameter groups: dicts
        with a ``"params"`` entry and any options that differ from ``defaults`` for that group.
    defaults : dict
        Every option of the method with its default value.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of tensors) and every option.
    state : dict
        Per parameter (keyed by the tensor itself), the method's state: tensors on the
        parameter's device and plain Python numbers such as a step count.
    """

    #: names of the per-parameter state entries this method may hold (checked on loading)
    _STATE_KEYS: frozenset = frozenset()
    #: the entries among them that count steps: 0-d tensors on the parameter's device, so
    #: that a compiled step reads them as data
    _COUNTERS: frozenset = frozenset()
    #: weight decay applied by the method itself (AdamW), not added to the gradient
    _decoupled_decay = False

    def __init__(self, params: ParamsT, defaults: dict[str, Any]):
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors or of parameter "
                            "groups, got a single Tensor (wrap it in a list)")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty list of parameters")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict[Tensor, dict] = {}
        for group in groups:
            self.add_param_group(group)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}("]
        for i, group in enumerate(self.param_groups):
            options = ", ".join(f"{k}={v!r}" for k, v in group.items() if k != "params")
            lines.append(f"  group {i}: {len(group['params'])} parameter(s), {options}")
        return "\n".join(lines) + "\n)"

    # -- groups ------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group of parameters with its own options (the others from ``defaults``).

        Raises
        ------
        TypeError, ValueError
            Naming the group and the parameter or option at fault; nothing is added then.
        """
        name = type(self).__name__
        where = f"{name}: parameter group {len(self.param_groups)}"
        if not isinstance(param_group, dict) or "params" not in param_group:
            raise TypeError(f"{where}: expected a dict with a 'params' entry, got "
                            f"{type(param_group).__name__}")
        unknown = sorted(set(param_group) - set(self.defaults) - {"params", "initial_lr"})
        if unknown:
            raise ValueError(f"{where}: unknown option(s) {', '.join(map(repr, unknown))}; "
                             f"{name} takes {', '.join(map(repr, self.defaults))}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, p in enumerate(params):
            _check_param(p, f"{where}, parameter {i}")
            if id(p) in seen:
                raise ValueError(f"{where}, parameter {i}: appears more than once among the "
                                 "optimiser's parameters")
            seen.add(id(p))
        group = {**self.defaults, **param_group, "params": params}
        self._check_options(group, where)
        self.param_groups.append(group)

    def _check_options(self, group: dict, where: str) -> None:
        """Raise ValueError naming an option outside its range (subclasses extend this)."""
        _check_range(group, "lr", where, low=0.0)
        _check_range(group, "weight_decay", where, low=0.0)

    # -- stepping ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradient of every parameter this optimizer updates, before the next
        backward; ``set_to_none`` as in :meth:`multigrad.nn.Module.zero_grad`."""
        forget_grads((p for group in self.param_groups for p in group["params"]), set_to_none)

    def step(self, closure: Callable[[], Tensor] | None = None) -> Tensor | None:
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given.

        All or nothing: every option and every gradient is checked (a tensor of its
        parameter's shape, dtype and device) and every new value computed before any
        parameter or state changes, so an error or an interrupt leaves both as they were.

        Parameters
        ----------
        closure : callable, optional
            Recomputes the loss and its gradients (zero them, forward, backward) and returns
            the loss; it runs with recording on, before the update.

        Raises
        ------
        TypeError, ValueError
            An option out of its range, or a gradient that does not match its parameter,
            naming the group and the parameter; nothing is updated then.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        work = self._gradients()
        with no_grad():
            updates = []
            for p, g, group in work:
                if group["weight_decay"] and not self._decoupled_decay:
                    g = g + group["weight_decay"] * p  # L2 penalty: d/dp (wd/2) |p|^2
                updates.append((p, *self._update(p, g, self.state.get(p, {}), group)))
        for p, value, state in updates:  # the commit: rebinding only, nothing left to fail
            p.data = value.data
            self.state[p] = state
        return loss

    def _gradients(self) -> list:
        """``(parameter, gradient, group)`` for every parameter with a gradient, after
        checking every group's options and every gradient against its parameter."""
        name = type(self).__name__
        work = []
        for k, group in enumerate(self.param_groups):
            self._check_options(group, f"{name}.step: parameter group {k}")
            for i, p in enumerate(group["params"]):
                g = p.grad
                if g is not None:
                    # .grad was checked when assigned, but the parameter may have been rebound
                    # to another shape, dtype or device since
                    check_like(f"{name}.step", f"the gradient of parameter {i} of group {k}",
                               "parameter", g, p)
                    work.append((p, g.detach(), group))
        return work

    def _update(self, p: Tensor, g: Tensor, state: dict, group: dict) -> tuple[Tensor, dict]:
        """``(new p, new state)`` from the gradient ``g`` and the method's ``state`` (empty at
        the first step), changing neither ``p`` nor ``state``."""
        raise NotImplementedError

    # -- state dicts -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The optimiser's state: ``{"state": {index: {...}}, "param_groups": [...]}``.

        Parameters are numbered across groups in order; each group lists its parameters'
        numbers under ``"params"``. State tensors are shared, not copied (updates never write
        into them). ``multigrad.save`` writes the result to a file.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            numbers = []
            for p in group["params"]:
                index[id(p)] = len(index)
                numbers.append(index[id(p)])
            groups.append({**group, "params": numbers})
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore options and state saved by ``state_dict`` (possibly on another device).

        State tensors are moved to their parameter's device and cast to its dtype. The state
        dict must come from the same method with the same groups of parameters of the same
        shapes; otherwise a ValueError names what does not match and nothing changes.
        """
        name = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            found = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{name}: expected a dict with the keys 'param_groups' and "
                             f"'state', got {found}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter "
                             f"group(s), this optimiser {len(self.param_groups)}")
        by_number = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict) or "params" not in saved:
                raise ValueError(f"{name}: parameter group {i} is not a dict with a 'params' "
                                 "entry")
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(f"{name}: parameter group {i} lacks the option(s) "
                                 f"{', '.join(map(repr, missing))}")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {i} has {len(saved['params'])} "
                                 f"parameter(s) in the state dict, {len(group['params'])} here")
            by_number.update(zip(saved["params"], group["params"]))
            new_groups.append({**saved, "params": group["params"]})
        new_state = {}
        for number, entries in state_dict["state"].items():
            if number not in by_number:
                raise ValueError(f"{name}: state for parameter {number!r}, which no parameter "
                                 "group lists")
            new_state[by_number[number]] = self._restore(entries, by_number[number],
                                                         f"{name}: state of parameter {number}")
        self.param_groups = new_groups
        self.state = new_state

    def _restore(self, entries: dict, p: Tensor, where: str) -> dict:
        """One parameter's saved state, checked against ``p`` and placed on its device."""
        unknown = sorted(set(entries) - self._STATE_KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown entr(y/ies) {', '.join(map(repr, unknown))}; "
                             f"{type(self).__name__} keeps "
                             f"{', '.join(map(repr, sorted(self._STATE_KEYS)))}")
        restored = {}
        for key, value in entries.items():
            counter = key in self._COUNTERS
            if counter and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = asarray(value)  # a count saved as a Python number (older files)
            if not isinstance(value, Tensor):
                raise TypeError(f"{where}, {key!r}: expected a tensor, got "
                                f"{type(value).__name__}")
            shape = () if counter else p.shape
            if value.shape != shape:
                what = "a count" if counter else "its parameter's"
                raise ValueError(f"{where}, {key!r}: expected shape {shape} ({what}), got "
                                 f"{value.shape}")
            restored[key] = asarray(value.detach(), device=p.device, dtype=p.dtype)
        return restored


def _check_param(p, where: str) -> None:
    if not isinstance(p, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(p).__name__}")
    if not p.is_leaf:
        raise ValueError(f"{where}: is the result of an operation ({p.node.prim.name}); an "
                         "optimiser updates leaf tensors only (use .detach() to make one)")
    if p.dtype.kind != "real floating":
        raise TypeError(f"{where}: has dtype {p.dtype.name}; the optimisers update real "
                        "floating-point tensors only")


def _check_range(group: dict, option: str, where: str, low: float = 0.0, high: float = math.inf,
                 high_open: bool = False) -> None:
    """Raise ValueError unless ``low <= group[option] <= high`` (``< high`` if ``high_open``)."""
    value = group[option]
    ok = isinstance(value, (int, float)) and low <= value and (
        value < high if high_open else value <= high)
    if not ok:
        bound = f"in [{low}, {high})" if high_open else (
            f">= {low}" if high == math.inf else f"in [{low}, {high}]")
        raise ValueError(f"{where}: invalid {option} {value!r} (must be {bound})")
