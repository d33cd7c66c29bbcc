"""``multigrad.vmap``: a function of one example applied to a batch, as one batched computation.

The arguments are checked against ``in_axes`` before anything runs; each batched one has its
batch axis moved to the front and gets the new level's mark (``_marks``); ``f`` runs once on
those, every op it applies computing the whole batch (``_dispatch``); each output leaves the
level with its batch axis moved to ``out_axes`` (broadcast there if it does not depend on the
batch).
"""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable

from .. import _pytree
from .._transform_args import name_of
from ..autograd import Tensor
from ..backends import is_array
from ..ops import asarray, moveaxis
from ._logical import to_physical
from ._running import mark_level
from ._marks import open_level

__all__ = ["vmap"]

_RANDOMNESS = ("different", "same")


def _is_axis(a) -> bool:
    return a is None or (isinstance(a, int) and not isinstance(a, bool))


def _check_axes_spec(fname: str, what: str, spec) -> None:
    """``in_axes``/``out_axes`` hold only ints and None, in tuples, lists and dicts."""
    leaves, _ = _pytree.flatten(spec)
    for path, a in zip(_pytree.leaf_paths(_pytree.flatten(spec)[1]), leaves):
        if not _is_axis(a):
            raise TypeError(f"{fname}: {what}{path} is {a!r}; expected an int (the batch axis) "
                            "or None (not batched), or a tuple, list or dict of those")


def _broadcast_prefix(fname: str, what: str, spec, tree, where: str) -> list:
    """One axis per leaf of ``tree``: ``spec`` is a prefix of its structure (an int or None
    stands for a whole subtree), as in JAX."""
    axes = []

    def walk(spec, node, path):
        if _is_axis(spec):
            axes.extend([spec] * _pytree.flatten(node)[1].num_leaves)
            return
        kind = type(spec)
        if isinstance(spec, dict):
            if not isinstance(node, dict) or set(node) != set(spec):
                raise ValueError(f"{fname}: {what} gives a dict with keys {sorted(spec)} for "
                                 f"{where}{path}, which is {_describe(node)}")
            for k in _pytree.flatten(node)[1].meta:
                walk(spec[k], node[k], f"{path}[{k!r}]")
            return
        if not isinstance(node, (tuple, list)) or isinstance(node, dict) or len(node) != len(spec):
            raise ValueError(f"{fname}: {what} gives a {kind.__name__} of {len(spec)} for "
                             f"{where}{path}, which is {_describe(node)}")
        for k, (s, n) in enumerate(zip(spec, node)):
            walk(s, n, f"{path}[{k}]")

    walk(spec, tree, "")
    return axes


def _describe(node) -> str:
    if isinstance(node, dict):
        return f"a dict with keys {sorted(node, key=str)}"
    if isinstance(node, (tuple, list)):
        return f"a {type(node).__name__} of {len(node)}"
    if isinstance(node, Tensor):
        return f"a tensor of shape {node.shape}"
    return f"a {type(node).__name__}"


def vmap(f: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_size: int | None = None, *,
         randomness: str = "different") -> Callable:
    """``f`` applied to every example of a batch, as one batched computation.

    Parameters
    ----------
    f : callable
        A function of one example: tensors (or nested tuples, lists and dicts of them, and
        any other values) in, a tensor, a number, or a nest of them out.
    in_axes : int, None, or a tuple with one entry per positional argument
        Where each argument's batch axis is: an int (negative counts from the end), None for
        an argument shared by the whole batch, or a tuple, list or dict matching the
        argument's structure, whose ints and Nones stand for whole subtrees (JAX's meaning).
        A plain int or None applies to every argument. Keyword arguments are not batched.
    out_axes : int, None, or a nest of them matching ``f``'s output
        Where each output's batch axis goes. An output that does not depend on the batch is
        broadcast there; None returns it as it is (it must not depend on the batch).
    axis_size : int, optional
        The batch size, needed when no argument is batched (``in_axes=None``); checked
        against the batched arguments otherwise.
    randomness : {"different", "same"}
        What random draws inside ``f`` (``randn``, ``rand``, ``randint``, ``randperm``,
        ``Dropout``) give: ``"different"`` (the default) draws independently for every
        example, as ``f`` run on each example in turn would; ``"same"`` draws once and shares
        the numbers across the batch.

    Returns
    -------
    callable
        Takes ``f``'s arguments, each batched argument with its batch axis where ``in_axes``
        says, and returns ``f``'s outputs with the batch axis where ``out_axes`` says.

    Notes
    -----
    ``vmap`` composes with every transform, in any order and nesting (``vmap(grad(f))``
    gives per-example gradients, ``jacrev(f)`` of ``vmap``...), and with ``multigrad.compile``
    around it. Every primitive has a batching rule; a user's op without one (``defprimitive``
    without ``batch=``, a ``Function`` without ``batch``) runs once per example in a loop,
    with a warning. Python control flow on a batched value (``if x > 0``) cannot be batched:
    converting one to a Python value raises; use ``multigrad.where``.

    Examples
    --------
    >>> import multigrad as mg
    >>> xs = mg.randn(8, 3)
    >>> mg.vmap(lambda x: mg.sum(x ** 2))(xs).shape           # one value per row
    (8,)
    >>> w = mg.randn(3)
    >>> per_example = mg.vmap(mg.grad(lambda w, x: mg.sum(w * x) ** 2), in_axes=(None, 0))
    >>> per_example(w, xs).shape                               # one gradient per row
    (8, 3)
    """
    fname = f"vmap({name_of(f)})"
    if not callable(f):
        raise TypeError(f"vmap: f must be callable, got {type(f).__name__}")
    _check_axes_spec(fname, "in_axes", in_axes)
    _check_axes_spec(fname, "out_axes", out_axes)
    if axis_size is not None:
        try:
            axis_size = operator.index(axis_size)
        except TypeError:
            raise TypeError(f"{fname}: axis_size must be an int, got {axis_size!r}") from None
        if axis_size < 0:
            raise ValueError(f"{fname}: axis_size must not be negative, got {axis_size}")
    if randomness not in _RANDOMNESS:
        raise ValueError(f"{fname}: randomness must be 'different' or 'same', got "
                         f"{randomness!r}")

    @functools.wraps(f)
    def batched(*args, **kwargs):
        leaves, treedef, axes = _arguments(fname, args, in_axes)
        size, device = _batch_size(fname, leaves, axes, treedef, axis_size)
        with open_level(size, randomness) as level:
            inside = [_enter(x, a, level) if a is not None else x for x, a in zip(leaves, axes)]
            out = f(*_pytree.unflatten(treedef, inside), **kwargs)
            out_leaves, out_def = _pytree.flatten(out)
            spec = _broadcast_prefix(fname, "out_axes", out_axes, out, "the output")
            results = [_leave(fname, y, a, level, path, device) for y, a, path in
                       zip(out_leaves, spec, _pytree.leaf_paths(out_def))]
        return _pytree.unflatten(out_def, results)

    return batched


def _arguments(fname: str, args: tuple, in_axes):
    """The arguments' leaves, their structure, and each leaf's batch axis."""
    if _is_axis(in_axes):
        spec = (in_axes,) * len(args)
    elif isinstance(in_axes, (tuple, list)):
        if len(in_axes) != len(args):
            raise ValueError(f"{fname}: in_axes has {len(in_axes)} entries but the function "
                             f"got {len(args)} positional argument(s); give one entry per "
                             "argument (an int, None, or a nest matching the argument)")
        spec = tuple(in_axes)
    else:
        raise TypeError(f"{fname}: in_axes must be an int, None, or a tuple with one entry "
                        f"per positional argument, got a {type(in_axes).__name__}")
    axes = []
    for k, (s, arg) in enumerate(zip(spec, args)):
        axes += _broadcast_prefix(fname, "in_axes", s, arg, f"argument {k}")
    leaves, treedef = _pytree.flatten(tuple(args))
    # a batched array of a backend (NumPy, PyTorch...) is batched as a constant tensor
    leaves = [asarray(x) if a is not None and not isinstance(x, Tensor) and is_array(x) else x
              for x, a in zip(leaves, axes)]
    return leaves, treedef, axes


def _batch_size(fname: str, leaves, axes, treedef, axis_size):
    """The batch size the batched leaves agree on (checked: each has that axis, of one
    size), and a device for outputs made from Python numbers."""
    sizes = []
    device = None
    for path, x, a in zip(_pytree.leaf_paths(treedef), leaves, axes):
        where = f"argument {path[1:path.index(']')]}{path[path.index(']') + 1:]}"
        if isinstance(x, Tensor) and device is None:
            device = x.device
        if a is None:
            continue
        if not isinstance(x, Tensor):
            raise TypeError(f"{fname}: in_axes maps {where} over axis {a}, but it is a "
                            f"{type(x).__name__}, not a tensor or an array; give it in_axes "
                            "None (or make it a tensor)")
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"{fname}: in_axes maps {where} over axis {a}, but it has shape "
                             f"{x.shape} ({x.ndim} axes)")
        sizes.append((where, a, x.shape[a]))
    distinct = {n for _, _, n in sizes}
    if len(distinct) > 1 or (axis_size is not None and distinct and axis_size not in distinct):
        listed = "; ".join(f"{w} has size {n} at axis {a}" for w, a, n in sizes)
        given = f"axis_size is {axis_size}; " if axis_size is not None else ""
        raise ValueError(f"{fname}: the batched arguments disagree on the batch size: {given}"
                         f"{listed}")
    if not sizes:
        if axis_size is None:
            raise ValueError(f"{fname}: no argument is batched (in_axes is None for all of "
                             "them); give axis_size to say how large the batch is")
        return axis_size, device
    return sizes[0][2], device


def _enter(x: Tensor, axis: int, level) -> Tensor:
    """``x`` as ``f`` sees it: the batch axis moved to the front, and marked."""
    if axis % x.ndim:
        x = moveaxis(x, axis, 0)
    return mark_level(x, level.physical)


def _leave(fname: str, y, axis, level, path: str, device):
    """An output as the caller gets it: the batch axis a plain axis at ``axis``."""
    where = f"output{path}" if path else "the output"
    if y is None:
        return None
    if not isinstance(y, Tensor):
        if axis is None:
            return y
        if not isinstance(y, (int, float, complex, bool)) and not is_array(y):
            raise TypeError(f"{fname}: {where} is a {type(y).__name__}; vmap returns tensors, "
                            "numbers and nests of them")
        y = asarray(y, device=device)
    lid = level.id
    # transforms that ran inside f are over: their tangents and marks are dead weight
    tangents = y._tangents
    if tangents and max(tangents) > lid:
        y = _without_levels_above(y, lid)
    mark = y._tangents.get(lid) if y._tangents else None
    if axis is None:
        if mark is not None and mark.batched:
            raise ValueError(f"{fname}: out_axes is None for {where}, but it depends on the "
                             f"batched arguments (it differs across the batch of {level.size}); "
                             "give it an int out_axes")
        if mark is None:
            return y
        return _without_levels_above(y, lid - 1)
    out = to_physical(y, lid, level)
    ndim = out.ndim
    if not -ndim <= axis < ndim:
        raise ValueError(f"{fname}: out_axes puts the batch axis of {where} at {axis}, but "
                         f"the result has {ndim} axes (shape {out.shape})")
    return moveaxis(out, 0, axis) if axis % ndim else out


def _without_levels_above(y: Tensor, lid: int) -> Tensor:
    from ._marks import alias
    return alias(y, {k: v for k, v in y._tangents.items() if k <= lid})
