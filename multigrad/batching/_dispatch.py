"""Running a primitive on batched tensors, and recording it on the right tape.

``apply`` sends an op here when its arguments' highest level is a vmap's (``_marks``). The
level's marks are stripped, so each batched argument has the batch axis in front, and the
primitive's batching rule (``Primitive.batch``) computes the whole batch at once; a primitive
without one runs once per example in a loop (with a one-time warning). The outputs get the
level's mark back.

Which tape records the op depends on whose variables it touches, as the order of transforms in
JAX decides which trace sees an op first:

- A transform *outside* the vmap (``grad(lambda w: sum(vmap(f)(w, xs)))``) differentiates the
  ops the rule runs on the whole arrays: they record themselves as usual (the ``physical``
  marks), and the engine sums over the batch where an unbatched tensor met batched ones.
- A transform *inside* it (``vmap(grad(f))``) wants per-example derivatives: the op is
  recorded as a logical node on batched tensors, or through plain arrays for primitives whose
  rules read raw values (``_logical``).

The rule itself, or the loop standing in for a missing one, runs in ``_running``.
"""

from __future__ import annotations

from ..autograd import Tensor
from ..autograd._grad_mode import _state as _grad_state
from ..autograd._primitive import Primitive, set_batching
from ._logical import above, involves, level_in, record_logical, through_physical, to_physical
from ._marks import Mark, mark_at, strip
from ._running import mark_level, run_rule

__all__ = ["apply_batched", "batch_first"]


# -- the entry point ------------------------------------------------------------------------------

def apply_batched(prim: Primitive, args: tuple, params: dict, level_id: int):
    """Run ``prim`` on arguments whose highest batch level is ``level_id`` (the highest level
    of all, or below a forward-mode level when ``prim``'s rules want plain arrays, see
    ``batch_first``)."""
    level = None
    batched, stripped = [], []
    logical = False
    for a in args:
        mark = mark_at(a, level_id)
        if mark is not None:
            level = mark.level
            logical = logical or (mark.logical and a.requires_grad)
        if above(a, level_id):  # tangents of a transform above: they follow the batch axis
            found = level or level_in(a, level_id)
            if found is not None and involves(a, level_id):
                level = found
                batched.append(True)
                stripped.append(a)  # made plain below, once the level is known
                continue
        batched.append(mark is not None and mark.batched)
        stripped.append(strip(a, level_id) if mark is not None else a)
    batched = tuple(batched)
    if logical and _grad_state.enabled and prim.vjp is not None:
        if _rules_take_batches(prim, batched):
            return record_logical(prim, args, stripped, batched, params, level)
        return through_physical(prim, args, params, level)
    stripped = [to_physical(a, level_id, level) if b and above(a, level_id) else a
                for a, b in zip(stripped, batched)]
    outs, out_batched = run_rule(prim, stripped, batched, params, level.size)
    marked = tuple(mark_level(o, level.physical) if b else o
                   for o, b in zip(outs, out_batched))
    return marked if prim.multi_output else marked[0]


def batch_first(prim: Primitive, args: tuple):
    """For a forward-mode level about to run ``prim``'s JVP rules on batched tensors: the
    level of the highest batch to take apart first instead (the JVP rules then run on plain
    arrays), when ``prim``'s rules read raw values; else None."""
    tops = [_top_batch(a) for a in args if isinstance(a, Tensor) and a._tangents]
    tops = [k for k in tops if k is not None]
    if not tops:
        return None
    top = max(tops)
    batched = tuple(_batched_at(a, top) for a in args)
    return None if _rules_take_batches(prim, batched) else top


def _top_batch(t: Tensor):
    """The highest batch level marking ``t`` or a tangent it carries (a vmap of ``jvp``'s
    tangents batches them alone), or None."""
    top = None
    for k, v in t._tangents.items():
        found = k if type(v) is Mark else (_top_batch(v) if isinstance(v, Tensor)
                                           and v._tangents else None)
        if found is not None and (top is None or found > top):
            top = found
    return top


def _batched_at(a, lid: int) -> bool:
    """Whether ``apply_batched`` at level ``lid`` takes ``a`` as batched."""
    mark = mark_at(a, lid)
    return (mark is not None and mark.batched) or (above(a, lid) and involves(a, lid))


def _rules_take_batches(prim: Primitive, batched) -> bool:
    """Whether ``prim``'s VJP rules compute right on batched (marked) tensors: multigrad's own
    rules do, but for those its batching table marks (``vjp_batches``); users' ops, Functions
    and the loop are taken through plain arrays instead."""
    rule = prim.batch
    if rule is None or not prim.__module__.startswith("multigrad"):
        return False
    verdict = getattr(rule, "vjp_batches", True)
    return verdict(batched) if callable(verdict) else verdict


set_batching(apply_batched, batch_first)
