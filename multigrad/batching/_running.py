"""Running a primitive's batching rule on a batch, or the loop that stands in for one.

``run_rule`` calls ``Primitive.batch`` on arguments with the batch axis in front, checks what it
returns, and, for a primitive without a rule, runs it once per example (``_looping``) after a
one-time ``LoopFallbackWarning`` naming it; ``loops_refused`` turns that loop into
``NoBatchingRule`` (the batched Jacobians then fall back to their own loop). ``mark_level``
puts a level's mark on a result.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings

from ..autograd import Tensor
from ..autograd._primitive import Primitive, namespace
from ..backends import same_shape
from ._marks import Mark, alias

__all__ = ["LoopFallbackWarning", "NoBatchingRule", "loops_refused", "warn_loop", "run_rule",
           "mark_level"]


class LoopFallbackWarning(UserWarning):
    """``vmap`` runs an op without a batching rule once per example, in a Python loop."""


class NoBatchingRule(RuntimeError):
    """Raised instead of looping while ``loops_refused()`` is on (batched Jacobians then fall
    back to their own loop)."""


class _Refusal(threading.local):
    depth = 0


_refusal = _Refusal()
_warned: set = set()
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


class loops_refused:
    """Inside this block, an op without a batching rule raises ``NoBatchingRule``."""

    def __enter__(self):
        _refusal.depth += 1

    def __exit__(self, *exc):
        _refusal.depth -= 1
        return False


def warn_loop(name: str) -> None:
    """Warn, once per op, that ``name`` runs once per example (or refuse, see above)."""
    if _refusal.depth:
        raise NoBatchingRule(f"{name} has no batching rule")
    if name not in _warned:
        _warned.add(name)
        warnings.warn(f"vmap: {name} has no batching rule, so it runs once per example in a "
                      "Python loop (declare one with defprimitive(..., batch=...), or a batch "
                      "method on the Function)", LoopFallbackWarning,
                      stacklevel=_outside_multigrad())


def _outside_multigrad() -> int:
    """The ``stacklevel`` of warn_loop's warning that points at the user's line: the first
    caller outside multigrad's own files."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level


# -- running a batching rule ----------------------------------------------------------------------

def run_rule(prim: Primitive, args: list, batched: tuple, params: dict, size: int):
    """``prim`` on the batch: ``(outputs, out_batched)``, both tuples (one per output)."""
    if not any(batched):
        out = prim(*args, **params)
        outs = out if prim.multi_output else (out,)
        return outs, (False,) * len(outs)
    rule = prim.batch
    if rule is None:
        warn_loop(prim.name)
        rule = _looping(prim)
    out, out_batched = rule(namespace(), tuple(args), tuple(batched), **params)
    outs = tuple(out) if prim.multi_output else (out,)
    if isinstance(out_batched, bool):
        out_batched = (out_batched,) * len(outs)
    out_batched = tuple(out_batched)
    if len(out_batched) != len(outs):
        raise ValueError(f"{prim.name}: its batching rule returned {len(outs)} output(s) but "
                         f"{len(out_batched)} batched flag(s)")
    for k, (o, b) in enumerate(zip(outs, out_batched)):
        if not isinstance(o, Tensor):
            raise TypeError(f"{prim.name}: its batching rule returned {type(o).__name__} as "
                            f"output {k}; expected a multigrad Tensor")
        if b and (o.ndim == 0 or o.shape[0] != size
                  and not same_shape(o.shape[:1], (size,))):  # (nan: unknown, unequal)
            raise ValueError(f"{prim.name}: its batching rule says output {k} is batched, but "
                             f"its shape {o.shape} does not start with the batch size {size}")
    return outs, out_batched


def _looping(prim: Primitive):
    """The fallback rule of ``prim``: the op once per example, the results stacked."""
    def loop(xp, args, batched, **params):
        size = next(a.shape[0] for a, b in zip(args, batched) if b)
        if size == 0:  # one example of zeros gives the results' shapes and dtypes
            example = [xp.zeros(a.shape[1:], dtype=a.dtype, device=a.device) if b else a
                       for a, b in zip(args, batched)]
            out = prim(*example, **params)
            outs = out if prim.multi_output else (out,)
            stacked = [xp.zeros((0,) + o.shape, dtype=o.dtype, device=o.device) for o in outs]
        else:
            results = [prim(*(a[k] if b else a for a, b in zip(args, batched)), **params)
                       for k in range(size)]
            if not prim.multi_output:
                results = [(r,) for r in results]
            stacked = [xp.stack(list(column), axis=0) for column in zip(*results)]
        return (tuple(stacked) if prim.multi_output else stacked[0]), True
    return loop


def mark_level(t: Tensor, mark: Mark) -> Tensor:
    """An alias of ``t`` (whose axis 0 is ``mark``'s batch axis, or which is the same for
    every example if the mark says so) marked at that level, with its tangents of transforms
    above the level marked alike (a tangent has its primal's axes)."""
    lid = mark.level.id
    tangents = dict(t._tangents or {})
    if mark.batched:
        for k, v in tangents.items():
            if k > lid and isinstance(v, Tensor):
                tangents[k] = mark_level(v, mark.level.physical)
    tangents[lid] = mark
    return alias(t, tangents)
