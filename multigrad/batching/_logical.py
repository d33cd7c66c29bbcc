"""Logical nodes: ops recorded on batched tensors for a transform running inside vmap.

A transform *inside* a vmap (``vmap(grad(f))``) wants per-example derivatives. Its variables
carry ``logical`` or ``per_example`` marks; an op on them is recorded as one node of the
primitive's *logical twin*, whose arguments are the batched arrays and whose VJP runs the
primitive's own VJP rules on the batched (marked) tensors, so those rules are batched in turn.
Cotangents between such nodes stay batched tensors; where one reaches a tensor of an outer tape
it is summed over the batch, or the batch axis becomes a plain axis again (``to_parent``).
Primitives whose rules compute on raw values go through plain arrays instead
(``_through_physical``): their logical arguments leave through a boundary node
(``to_physical``), the op is recorded on them as usual, and its outputs become logical again
through another (``to_logical``). ``variable`` makes a transform's variable inside vmap.
"""

from __future__ import annotations

from ..autograd import Tensor, no_grad
from ..autograd._backward import _cast_back, _unbroadcast
from ..autograd._grad_mode import _state as _grad_state
from ..autograd._primitive import _SCALARS, Primitive, namespace
from ..autograd._tensor import Node
from ._marks import Mark, alias, mark_at, marks_of, strip
from ._running import mark_level, run_rule

__all__ = ["record_logical", "through_physical", "to_physical", "to_logical", "to_parent",
           "variable", "above", "involves", "level_in"]


def above(a, level_id: int) -> bool:
    """Whether ``a`` carries a tangent of a transform above ``level_id``."""
    tangents = a._tangents if isinstance(a, Tensor) else None
    return bool(tangents) and any(k > level_id and isinstance(v, Tensor)
                                  for k, v in tangents.items())


# -- logical nodes: an op recorded on batched tensors ---------------------------------------------

class _Layout:
    """What a logical node knows about its batched arguments and outputs."""

    __slots__ = ("prim", "device", "arg_marks", "out_marks", "out_shapes", "arg_kinds",
                 "plans")

    def __init__(self, prim, device, arg_marks, out_marks, out_shapes, arg_kinds, plans):
        self.prim, self.device = prim, device
        self.arg_marks, self.out_marks, self.out_shapes = arg_marks, out_marks, out_shapes
        # each argument's shape and dtype as one example: its cotangent's
        self.arg_kinds, self.plans = arg_kinds, plans


_twins: dict = {}


def _twin(prim: Primitive) -> Primitive:
    """The primitive whose nodes record ``prim`` on batched tensors (made once per primitive)."""
    twin = _twins.get(prim)
    if twin is None:
        twin = Primitive(f"{prim.name}[vmap]", None, (_logical_vjp,), None, True,
                         prim.multi_output, prim.changes_device, None, __name__)
        twin.batched_of = prim
        _twins[prim] = twin
    return twin


def _conversion(marks: dict, levels: list) -> tuple[tuple, int]:
    """For an argument with batch ``marks``, the levels (highest first) at which its cotangent
    must leave the logical form, and how many of its leading axes stay batch axes: none below
    the highest level on whose tape it is logical."""
    stop = max((lid for lid, m in marks.items() if m.logical), default=None)
    plan = tuple(lid for lid in levels if stop is None or lid > stop)
    kept = 0 if stop is None else sum(1 for lid, m in marks.items() if m.batched and lid <= stop)
    return plan, kept


def record_logical(prim, args, stripped, batched, params, level):
    """Run ``prim`` on the batch without recording, then record one node of its twin."""
    with no_grad():
        outs, out_batched = run_rule(prim, stripped, batched, params, level.size)
    arg_marks = tuple(marks_of(a) for a in args)
    logical_levels = {lid: m.level for a, marks in zip(args, arg_marks)
                      if isinstance(a, Tensor) and a.requires_grad
                      for lid, m in marks.items() if m.logical}
    out_marks = []
    for o, b in zip(outs, out_batched):
        marks = {lid: (m.level.mark(m.batched, True) if lid in logical_levels else m)
                 for lid, m in marks_of(o).items()}
        for lid, lv in logical_levels.items():
            marks.setdefault(lid, lv.per_example)
        marks[level.id] = level.mark(b, True)
        out_marks.append(marks)
    levels = sorted({lid for marks in arg_marks + tuple(out_marks) for lid in marks},
                    reverse=True)
    device = next(a.device for a in args if isinstance(a, Tensor))
    plans, edges, arg_kinds = [], [], []
    for i, (a, marks) in enumerate(zip(args, arg_marks)):
        plan, kept = _conversion(marks, levels)
        plans.append(plan)
        arg_kinds.append((a.shape, a.dtype) if isinstance(a, Tensor) else None)
        if isinstance(a, Tensor) and a.requires_grad and prim.vjp_rule(i) is not None:
            edges.append((i, a._node, a._index, tuple(a.data.shape[kept:]), a.data.dtype))
    keep = prim.keep_args
    raw = tuple((a.data if isinstance(a, Tensor) else a)
                if keep is None or i in keep or not isinstance(a, Tensor) else None
                for i, a in enumerate(args))
    ans = tuple(o.data for o in outs)
    layout = _Layout(prim, device, arg_marks, tuple(out_marks),
                     tuple(o.shape[1:] if b else o.shape for o, b in zip(outs, out_batched)),
                     tuple(arg_kinds), tuple(plans))
    node = Node(_twin(prim), raw, {**params, "vmap": layout},
                (ans if prim.multi_output else ans[0]) if prim.keep_ans else None,
                tuple(edges), device)
    results = []
    for k, (o, marks) in enumerate(zip(outs, out_marks)):
        tangents = {key: v for key, v in (o._tangents or {}).items() if type(v) is not Mark}
        tangents.update(marks)
        differentiable = o.data.dtype in o.device.grad_dtypes
        t = Tensor(o.data, o.device, differentiable, node if differentiable else None,
                   k if prim.multi_output and differentiable else None)
        t._tangents = tangents
        results.append(t)
    if any(type(v) is not Mark for a in args if isinstance(a, Tensor) and a._tangents
           for v in a._tangents.values()):
        # tangents of a forward-mode transform outside the vmap: a backward that records
        # itself must carry them (see _backward._as_tensors)
        node.tangents = (tuple(a._tangents if isinstance(a, Tensor) else None for a in args),
                         tuple(r._tangents for r in results))
    return tuple(results) if prim.multi_output else results[0]


def _logical(a, marks: dict, device):
    """A saved argument or output (raw, or a tensor wired into the tape) as the batched
    tensor it was: its array with these marks (and any tangents it carries)."""
    if a is None or type(a) in _SCALARS:
        return a
    if not isinstance(a, Tensor):
        a = Tensor(a, device)
    tangents = {k: v for k, v in (a._tangents or {}).items() if type(v) is not Mark}
    tangents.update(marks)
    return alias(a, tangents)


def _as_logical(g, marks: dict, shape: tuple, device):
    """A cotangent arriving at a logical node, as a batched tensor: as it is when it is one
    (from another logical node), else (a seed, a plain cotangent) its leading axes are the
    output's batch axes."""
    if g is None:
        return None
    if not isinstance(g, Tensor):
        g = Tensor(g, device)
    if marks_of(g) or g.shape == shape:
        return g
    for lid in sorted(marks):
        if marks[lid].batched:
            g = mark_level(g, marks[lid].level.physical)
    return g


def _logical_vjp(xp, g, ans, *args, argnum, vmap, **params):
    """The VJP of a logical node: the primitive's own rule on the batched tensors, then the
    cotangent in the form its argument's tape takes."""
    layout, device = vmap, vmap.device
    prim = layout.prim
    args = [_logical(a, m, device) for a, m in zip(args, layout.arg_marks)]
    if prim.multi_output:
        if ans is not None:
            ans = tuple(_logical(a, m, device) for a, m in zip(ans, layout.out_marks))
        g = tuple(_as_logical(c, m, s, device)
                  for c, m, s in zip(g, layout.out_marks, layout.out_shapes))
    else:
        if ans is not None:
            ans = _logical(ans, layout.out_marks[0], device)
        g = _as_logical(g, layout.out_marks[0], layout.out_shapes[0], device)
    rule = prim.vjp_rule(argnum)
    extra = {"argnum": argnum} if prim.variadic else {}
    ns = namespace()
    ct = rule(ns, g, ans, *args, **params, **extra)
    shape, dtype = layout.arg_kinds[argnum]
    if not isinstance(ct, Tensor):
        ct = ns.asarray(ct, dtype=dtype, device=device)
    if ct.shape != shape:
        ct = _unbroadcast(ns, ct, shape)
    if ct.dtype != dtype:
        ct = _cast_back(ns, ct, dtype)
    ct = to_parent(ct, layout.plans[argnum], layout.arg_marks[argnum])
    if xp is not ns and not ct._tangents:
        return ct.data
    return ct


def to_parent(ct: Tensor, plan: tuple, marks: dict) -> Tensor:
    """A batched cotangent in the form the tape of its argument (with these batch ``marks``)
    takes, level by level from the highest in ``plan``: where the argument is batched, its
    batch axis becomes a plain axis (the cotangent is broadcast if it is the same for every
    example); where it is not, the cotangent is summed over the batch."""
    for lid in plan:
        mark = marks.get(lid)
        level = mark.level if mark is not None else level_in(ct, lid)
        if mark is not None and mark.batched:
            ct = to_physical(ct, lid, mark.level)
        elif level is not None and involves(ct, lid):
            ct = namespace().sum(to_physical(ct, lid, level), axis=0)
    return ct


def level_in(t: Tensor, lid: int):
    """The Level object of ``lid`` as found among ``t``'s marks (or its tangents'), or None."""
    for v in (t._tangents or {}).values():
        if type(v) is Mark:
            if v.level.id == lid:
                return v.level
        elif isinstance(v, Tensor):
            found = level_in(v, lid)
            if found is not None:
                return found
    return None


def involves(t: Tensor, lid: int) -> bool:
    """Whether ``t`` or a tangent it carries above ``lid`` is marked at level ``lid``."""
    for k, v in (t._tangents or {}).items():
        if k == lid and type(v) is Mark:
            return True
        if k > lid and isinstance(v, Tensor) and involves(v, lid):
            return True
    return False


# -- boundaries between the logical and the plain forms -------------------------------------------

def _broadcast_front(t: Tensor, size: int) -> Tensor:
    """``t`` with a new axis 0 of length ``size`` (each example the same)."""
    ns = namespace()
    return ns.broadcast_to(ns.reshape(t, (1,) + t.shape), (size,) + t.shape)


def _unmark_vjp(xp, g, ans, x, *, mark, on):
    """The cotangent of a logical tensor that left the logical form: its plain cotangent with
    the batch axis marked again."""
    if not isinstance(g, Tensor):
        g = Tensor(g, on)
    return mark_level(g, mark.level.physical)


def _remark_vjp(xp, g, ans, x, *, mark, on):
    """The cotangent of a plain tensor that became logical (``to_logical``), in its plain
    form: the batch axis a plain axis again, or summed where it had none."""
    if not isinstance(g, Tensor):
        g = Tensor(g, on)
    lid = mark.level.id
    ct = to_parent(g, (lid,), {lid: mark.level.physical} if mark.batched else {})
    if xp is not namespace() and not ct._tangents:
        return ct.data
    return ct


_UNMARK = Primitive("vmap_unbatch", None, (_unmark_vjp,), None, False, False, False, None,
                    __name__)
_REMARK = Primitive("vmap_batch", None, (_remark_vjp,), None, False, False, False, None,
                    __name__)


def to_physical(t: Tensor, lid: int, level) -> Tensor:
    """``t`` with ``level``'s (id ``lid``) batch axis as a plain axis 0, broadcast there if
    ``t`` is the same for every example, for a consumer outside that level; tangents of
    transforms above it follow. A tensor on a logical tape leaves it through a node whose VJP
    marks the cotangent again."""
    tangents = t._tangents or {}
    mark = tangents.get(lid)
    mark = mark if type(mark) is Mark else None
    base = alias(t, {k: v for k, v in tangents.items() if k < lid})
    boundary = (mark is not None and mark.logical and t.requires_grad
                and _grad_state.enabled)
    if mark is None or not mark.batched:
        if boundary:
            with no_grad():
                base = _broadcast_front(base, level.size)
        else:
            base = _broadcast_front(base, level.size)
    if boundary:
        node = Node(_UNMARK, (None,), {"mark": mark, "on": t.device}, None,
                    ((0, t._node, t._index, t.shape, t.data.dtype),), t.device)
        out = Tensor(base.data, t.device, True, node)
        out._tangents = base._tangents
        base = out
    higher = {k: v for k, v in tangents.items() if k > lid and isinstance(v, Tensor)}
    if higher:
        base = alias(base, {**(base._tangents or {}),
                            **{k: to_physical(v, lid, level) for k, v in higher.items()}})
    return base


def to_logical(t: Tensor, mark: Mark) -> Tensor:
    """A plain tensor (batch axis 0 of ``mark``'s level, unless the mark says it is the same
    for every example) as a marked one; on a logical tape through a node whose VJP makes the
    cotangent plain again."""
    if mark.logical and t.requires_grad and _grad_state.enabled:
        node = Node(_REMARK, (None,), {"mark": mark, "on": t.device}, None,
                    ((0, t._node, t._index, t.shape, t.data.dtype),), t.device)
        out = Tensor(t.data, t.device, True, node)
        out._tangents = t._tangents
        t = out
    return mark_level(t, mark)


def _alias_vjp(xp, g, ans, x, *, plan, marks, out_marks, shape, on):
    """The cotangent of a transform's variable inside vmap, in the form its source takes."""
    g = _as_logical(g, out_marks, shape, on)
    ct = to_parent(g, plan, marks)
    if xp is not namespace() and not ct._tangents:
        return ct.data
    return ct


_ALIAS = Primitive("vmap_variable", None, (_alias_vjp,), None, False, False, False, None,
                   __name__)


def variable(x: Tensor, levels: tuple) -> Tensor:
    """What stands in for ``x`` when a transform running inside the vmaps ``levels`` makes it
    a variable: ``x`` on a logical tape at each of them (batched where ``x`` is, else the same
    for every example), so that its derivatives are per example. A fresh leaf when ``x`` needs
    no gradient; else an alias whose node hands cotangents on to ``x`` in its own form
    (summed over a batch that ``x`` is not part of)."""
    marks = marks_of(x)
    logical = {lv.id: lv.mark(lid_batched(marks, lv.id), True) for lv in levels}
    tangents = {k: v for k, v in (x._tangents or {}).items() if k not in logical}
    tangents.update(logical)
    if not x.requires_grad:
        v = Tensor(x.data, x.device).requires_grad_()
        v._tangents = tangents
        return v
    levels_down = sorted(set(marks) | set(logical), reverse=True)
    plan, kept = _conversion(marks, levels_down)
    out = Tensor(x.data, x.device, True)
    out._tangents = tangents
    out._node = Node(_ALIAS, (None,), {"plan": plan, "marks": marks, "out_marks": {
        k: v for k, v in tangents.items() if type(v) is Mark}, "shape": out.shape,
        "on": x.device}, None, ((0, x._node, x._index, tuple(x.data.shape[kept:]),
                                  x.data.dtype),), x.device)
    return out


def lid_batched(marks: dict, lid: int) -> bool:
    mark = marks.get(lid)
    return mark is not None and mark.batched


def through_physical(prim, args, params, level):
    """Record ``prim`` on plain arrays: logical arguments leave through boundary nodes, the
    op records itself on the whole batch (each example apart from the others), and its
    outputs become logical again."""
    lid = level.id
    plain, batched = [], []
    for a in args:
        mark = mark_at(a, lid)
        if (mark is not None and mark.logical) or (above(a, lid) and involves(a, lid)):
            plain.append(to_physical(a, lid, level))
            batched.append(True)
        elif mark is None:
            plain.append(a)
            batched.append(False)
        else:
            plain.append(strip(a, lid))
            batched.append(mark.batched)
    outs, out_batched = run_rule(prim, plain, tuple(batched), params, level.size)
    results = [to_logical(o, level.logical if b else level.per_example)
               for o, b in zip(outs, out_batched)]
    return tuple(results) if prim.multi_output else results[0]
