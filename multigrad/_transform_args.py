"""The plumbing the function transforms share: checking what the user gave (argnums,
arguments, tangents and cotangents, outputs, has_aux) with errors that name the transform and
the offending leaf, and arranging per-leaf results back into the user's structures.
"""

from __future__ import annotations

from typing import Callable, Sequence

from . import _pytree
from .autograd import Tensor
from .autograd._tensor import check_like
from .ops import astype, reshape, stack, zeros

__all__ = ["name_of", "normalize_argnums", "check_differentiable", "check_complex_kinds",
           "check_like", "tensor_leaves", "call", "Wrt", "detached", "one_hot", "assemble"]


# -- checking what the user gave ------------------------------------------------------------------

def name_of(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def normalize_argnums(transform: str, argnums) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple, and whether it was a single int (the result is then unwrapped)."""
    single = isinstance(argnums, int) and not isinstance(argnums, bool)
    nums = (argnums,) if single else argnums
    if not isinstance(nums, (tuple, list)) or not nums or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in nums):
        raise TypeError(f"{transform}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    if len(set(nums)) != len(nums):
        raise ValueError(f"{transform}: argnums {tuple(nums)} repeats an argument")
    return tuple(nums), single


def _resolve_argnums(fname: str, argnums: tuple, nargs: int) -> tuple[int, ...]:
    """Positions in the actual call (negative ones count from the end)."""
    resolved = []
    for i in argnums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{fname}: argnums {i} is out of range for a call with {nargs} "
                             f"positional argument{'s' if nargs != 1 else ''}")
        resolved.append(i % nargs)
    if len(set(resolved)) != len(resolved):
        raise ValueError(f"{fname}: argnums {argnums} name the same argument twice")
    return tuple(resolved)


def check_differentiable(fname: str, where: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}: {where} is a {type(x).__name__}, not a Tensor")
    if x.data.dtype not in x.device.grad_dtypes:
        raise TypeError(f"{fname}: {where} has dtype {x.dtype.name}; only floating-point "
                        "tensors can be differentiated (close over the others instead)")


def _complex(x: Tensor) -> bool:
    return x.dtype.kind == "complex floating"


def check_complex_kinds(fname: str, inputs, outputs, holomorphic: bool, kind: str) -> None:
    """Refuse what has no derivative of the kind asked: a complex output of ``grad`` (``kind``
    "reverse"), a complex output of complex inputs of a Jacobian (``kind`` "jacobian"), unless
    ``holomorphic``; with ``holomorphic``, real inputs or outputs."""
    if holomorphic:
        real = next((x for x in inputs if not _complex(x)), None)
        if real is not None:
            raise TypeError(f"{fname}: holomorphic=True needs complex inputs, got one of dtype "
                            f"{real.dtype.name} (cast it with mg.astype(x, mg.complex128))")
        real = next((y for y in outputs if not _complex(y)), None)
        if real is not None:
            raise TypeError(f"{fname}: holomorphic=True needs complex outputs, but f returned "
                            f"one of dtype {real.dtype.name}: a real function of complex "
                            "inputs is not holomorphic; leave holomorphic out")
        return
    complex_out = next((y for y in outputs if _complex(y)), None)
    if complex_out is None:
        return
    if kind == "reverse":
        raise TypeError(f"{fname}: f returned a complex tensor ({complex_out.dtype.name}); the "
                        "gradient is defined for a real-valued f: return mg.real(y), "
                        "mg.abs(y) ** 2 or another real function of it, or pass "
                        "holomorphic=True for the derivative f'(z) of a holomorphic f")
    if any(_complex(x) for x in inputs):
        raise TypeError(f"{fname}: a complex output ({complex_out.dtype.name}) of complex "
                        "inputs has a complex Jacobian only if f is holomorphic: pass "
                        "holomorphic=True, or differentiate mg.real(y) and mg.imag(y) apart")


def tensor_leaves(fname: str, what: str, tree) -> tuple[list, _pytree.TreeDef]:
    """The leaves of a function's output, each of which must be a tensor."""
    leaves, treedef = _pytree.flatten(tree)
    for path, y in zip(_pytree.leaf_paths(treedef), leaves):
        if not isinstance(y, Tensor):
            raise TypeError(f"{fname}: {(what + path).strip()} is a {type(y).__name__}, not a "
                            "Tensor"
                            + (" (pass has_aux=True if f returns (output, aux))"
                               if isinstance(tree, tuple) and len(tree) == 2 else ""))
    return leaves, treedef


def call(fname: str, f: Callable, args: tuple, kwargs: dict, has_aux: bool):
    """``f(*args, **kwargs)`` split into its output and its auxiliary data."""
    result = f(*args, **kwargs)
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{fname}: has_aux=True needs f to return a pair (output, aux), got "
                        f"{type(result).__name__}")
    return result[0], result[1]


# -- the differentiated arguments -----------------------------------------------------------------

class Wrt:
    """The arguments a transform differentiates: their tensors, structures, and (for reverse
    mode) the variables that stand in for them during the call."""

    def __init__(self, fname: str, args: tuple, argnums: tuple, single: bool):
        self.argnums = _resolve_argnums(fname, argnums, len(args))
        self.single = single
        self.treedefs = []
        self.tensors = []
        for i in self.argnums:
            leaves, treedef = _pytree.flatten(args[i])
            for path, x in zip(_pytree.leaf_paths(treedef), leaves):
                check_differentiable(fname, f"argument {i}{path}", x)
            self.treedefs.append(treedef)
            self.tensors += leaves

    def substitute(self, args: tuple, leaves: Sequence) -> tuple:
        """``args`` with the differentiated arguments rebuilt from ``leaves``."""
        args = list(args)
        for i, tree in zip(self.argnums, self.split(leaves)):
            args[i] = tree
        return tuple(args)

    def split(self, leaves: Sequence) -> list:
        """One tree per differentiated argument, from a flat list of leaves."""
        trees, start = [], 0
        for treedef in self.treedefs:
            trees.append(_pytree.unflatten(treedef, leaves[start:start + treedef.num_leaves]))
            start += treedef.num_leaves
        return trees

    def result(self, leaves: Sequence):
        """Per-leaf results arranged as the arguments: one tree, or a tuple of trees."""
        trees = self.split(leaves)
        return trees[0] if self.single else tuple(trees)


def detached(tree):
    """``tree`` with every tensor cut from the graph (results of a first-order transform)."""
    return _pytree.tree_map(lambda a: a.detach() if isinstance(a, Tensor) else a, tree)


def one_hot(k: int, like: Tensor, index: Tensor) -> Tensor:
    """The ``k``-th basis tensor of ``like``'s shape, dtype and device (``index`` is
    ``arange(like.size)`` on that device)."""
    return reshape(astype(index == k, like.dtype), like.shape)


def assemble(parts: list, lead: tuple, x: Tensor, axis: int) -> Tensor:
    """Stack per-element derivatives into a Jacobian block of shape ``lead + x.shape`` (rows of
    jacrev, ``axis=0``) or ``y.shape + x.shape`` (columns of jacfwd, ``axis=-1``)."""
    if not parts:
        return zeros(lead + x.shape, dtype=x.dtype, device=x.device)
    return reshape(stack(parts, axis=axis), lead + x.shape)
