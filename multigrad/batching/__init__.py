"""Batching: ``multigrad.vmap`` and the machinery under it.

- ``_marks``: the levels of running vmaps and the marks that say which tensors they batch (in
  the ``{level: tangent}`` dict forward mode uses, so the engine's levels order them), and the
  logical view of a batched tensor (``shape`` without the batch axes).
- ``_dispatch``: running a primitive on batched tensors through its batching rule
  (``_running``: the rule, or a loop) and recording it on the tape of the transform it belongs
  to (``_logical``: the nodes of transforms inside vmap).
- ``_vmap``: the transform itself: ``in_axes``, ``out_axes``, ``axis_size``, ``randomness``.

The rules themselves live beside the ops, in ``multigrad/ops/_batching.py`` and
``_batching_indexing.py``; ``install()`` (which ``multigrad/__init__`` calls once every
primitive is declared) gives every primitive its rule.
"""

from __future__ import annotations

from ..autograd import REGISTRY, Tensor
from ..ops import _batching, _batching_indexing
from . import _dispatch  # noqa: F401  (installs apply_batched in the engine)
from ._running import LoopFallbackWarning, NoBatchingRule, loops_refused, warn_loop, _looping
from ._marks import is_batched
from ._vmap import vmap

__all__ = ["vmap", "LoopFallbackWarning", "NoBatchingRule", "loops_refused", "is_batched",
           "rule_kind"]


def install() -> None:
    """Give every primitive of multigrad its batching rule (``multigrad/__init__`` calls this
    once everything is imported), and make batched tensors refuse conversion to Python."""
    from ..checkpoint import _checkpointed
    from ..nn._convolution import _patches_p, _scatter_p
    from ..nn._normalization import _standardize_p
    from ..ops._linalg_determinants import _cofactors_p
    rules = {**_batching.build(REGISTRY, _looping), **_batching_indexing.build(REGISTRY)}
    for name, rule in rules.items():
        REGISTRY[name].batch = rule
    _cofactors_p.batch = _batching.stacked(_cofactors_p, (2, 0), vjp_batches=False)
    _patches_p.batch = _batching_indexing.patches_rule(_patches_p)
    _scatter_p.batch = _batching_indexing.patches_rule(_scatter_p)
    _standardize_p.batch = _batching.along_axis(_standardize_p, "axes")
    _checkpointed.batch = _checkpoint_rule
    for name in ("__bool__", "__float__", "__int__", "__complex__", "__index__", "item",
                 "tolist", "numpy", "__array__"):
        setattr(Tensor, name, _no_python_values(name, getattr(Tensor, name)))


def _checkpoint_rule(xp, arrays, batched, *, fn, call):
    """``checkpoint(fn, ...)`` on a batch: one checkpoint of ``vmap(fn)`` (the recomputation
    batched too)."""
    from ..checkpoint import checkpoint
    in_axes = tuple(0 if b else None for b in batched)
    out = checkpoint(vmap(lambda *a: fn(*call.arguments(a)), in_axes=in_axes), *arrays,
                     preserve_rng_state=call.preserve_rng_state)
    call.single = isinstance(out, Tensor)
    outs = (out,) if call.single else tuple(out)
    return outs, (True,) * len(outs)


_checkpoint_rule.vjp_batches = False


def rule_kind(prim) -> str:
    """How ``vmap`` batches ``prim``: ``"rule"`` (a rule of its own), the convention its rule
    follows (``"elementwise"``, ``"unchanged"``, ``"axis"``, ``"stacked"``), or ``"loop"``
    (none: once per example)."""
    rule = prim.batch
    if rule is None:
        return "loop"
    return getattr(rule, "convention", None) or "rule"


def _no_python_values(name: str, convert):
    """A conversion to a Python value that refuses a batched tensor: each example has its own
    value, and Python control flow cannot branch on all of them at once."""
    def checked(self, *args, **kwargs):
        if is_batched(self):
            raise TypeError(
                f"vmap: cannot convert a batched tensor (shape {self.shape} per example) to "
                f"a Python value ({name}): every example has its own value. "
                "Branch with multigrad.where instead of if/else, or take the value outside "
                "vmap")
        return convert(self, *args, **kwargs)
    checked.__name__ = convert.__name__
    checked.__doc__ = convert.__doc__
    return checked

