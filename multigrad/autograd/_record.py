"""What ``multigrad.compile`` needs to see of a step while it records it.

While a compiled step records (in this thread), ``_state.recorder`` holds its recorder, and the
layers below report to it: ``apply`` every kernel it runs, the creation functions every array
they make from Python data, the array object every value
read back to Python, and the ops every check of values (an index in range, a valid label). The
recorder lives in ``multigrad.compile``; with none active each report costs one attribute read.
Computations on raw arrays outside the tape that depend on values (index arithmetic in a rule,
masks) go through ``derive``, so that a compiled step repeats them.
"""

from __future__ import annotations

from ._grad_mode import _state

__all__ = ["active", "checked", "created", "data_dependent", "derive", "in_range", "read",
           "require"]


def active():
    """The recorder of the step being recorded in this thread, or None."""
    return _state.recorder


def created(array):
    """Report an array a creation function made from Python values (shapes, scalars, host
    data): a constant of the step. Returns ``array``."""
    recorder = _state.recorder
    if recorder is not None:
        recorder.constant(array)
    return array


def derive(fn, *arrays, from_python: bool = False):
    """``fn(*arrays)`` on raw arrays, outside the tape: index arithmetic, masks, copies and
    moves. A compiled step computes it again on every call from that call's arrays; with
    ``from_python``, arrays the step did not compute (host data handed to ``asarray``) are
    constants of the program instead of an error."""
    recorder = _state.recorder
    if recorder is None:
        return fn(*arrays)
    return recorder.derive(fn, arrays, from_python)


def checked(t, check):
    """On a lazy device (Dask), ``t`` with ``check(block)`` run on each of its blocks when it
    computes, raising there on bad values; None elsewhere, where ``require`` checks eagerly.
    An op that uses the returned tensor in place of ``t`` has its values checked in the graph,
    where ``require`` computes nothing. Under ``vmap`` the check covers the whole batch (the
    array of a batched tensor holds it), and the result keeps ``t``'s marks."""
    if not t.device.lazy:
        return None
    from ._tensor import Tensor  # imported late: the tensor module imports this one
    device = t.device
    out = Tensor(derive(lambda a: device.checked(a, check), t.data), device)
    if t._tangents:  # vmap's marks (or forward-mode tangents): the values are t's
        out._tangents = dict(t._tangents)
    return out


def in_range(t, low: int, high: int, fail):
    """``t`` (integer indices), after raising ``fail(min, max)`` unless every value is in
    ``[low, high)``: eagerly (a read to the host; a compiled step checks again on every call),
    or on a lazy device in the graph, where the returned tensor raises when it computes."""
    if not t.size:
        return t

    def check(block):  # a chunk of lazy indices, when the graph computes
        if block.size and (int(block.min()) < low or int(block.max()) >= high):
            raise fail(int(block.min()), int(block.max()))
    lazy = checked(t, check)
    if lazy is not None:
        return lazy
    from ._tensor import Tensor  # imported late: the tensor module imports this one
    xp = t.device.xp
    inside = derive(lambda i: xp.all((i >= low) & (i < high)), t.data)
    require(Tensor(inside, t.device), lambda i: fail(int(xp.min(i.data)), int(xp.max(i.data))),
            t)
    return t


def data_dependent(what: str) -> None:
    """Report an op whose result's shape depends on the values (``nonzero``, a boolean mask,
    ``unique_*``): a compiled step cannot replay one, since a program's shapes follow from its
    inputs' shapes."""
    recorder = _state.recorder
    if recorder is not None:
        recorder.data_dependent(what)


def read(tensor, how: str, value):
    """Report that Python read ``value`` from ``tensor`` (``how``: "float", "item"...).
    Returns ``value``."""
    recorder = _state.recorder
    if recorder is not None:
        recorder.read(tensor, how, value)
    return value


def require(ok, fail, *operands) -> None:
    """Raise ``fail(*operands)`` unless the one-element boolean tensor ``ok`` is true.

    For checks of values that guard an op (indices in range, labels that name a class): a
    compiled step repeats the check on every call, with the operands of that call. On a lazy
    device (Dask) nothing is computed for a check: use the tensor ``checked`` returns, whose
    values are checked when the graph computes.
    """
    recorder = _state.recorder
    if recorder is not None:
        recorder.check(ok, fail, operands)
    if ok.device.lazy:  # no compute to check: the op's own kernel raises when it computes
        return
    verdict = ok.data
    if verdict.ndim:  # under vmap: one verdict per example, every one must hold
        from ._tensor import Tensor  # imported late: the tensor module imports this one
        verdict = ok.device.xp.all(verdict)
        operands = tuple(Tensor(o.data, o.device) if isinstance(o, Tensor) else o
                         for o in operands)  # the whole batch, to name an offender in
    if not bool(verdict):  # one element to the host, as Tensor.__bool__ reads it
        raise fail(*operands)
