"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian`` and ``hvp``.

Each takes a function of tensors (or of nested tuples, lists and dicts of tensors) and gives its
derivative as a function, or evaluated at a point. They compose in any order and to any depth:

- Reverse mode (``grad``, ``vjp``, ``jacrev``) differentiates with respect to variables of its
  own. An argument that already requires gradients (an outer reverse transform's variable, or a
  user's leaf) gets a fresh recorded alias, so the inner gradient never picks up cotangents meant
  for the outer one (no perturbation confusion) and the outer one still sees through it.
- The backward pass records itself (``create_graph``) only when the result must stay
  differentiable: when the function depends on tensors that require gradients from outside the
  transform, or on tangents of a forward-mode transform still running. Otherwise the rules run
  on raw arrays, the cheap first-order path.
- Forward mode (``jvp``, ``jacfwd``) opens a level of its own per pass (see
  ``multigrad.autograd._forward``), so nested forward transforms keep their tangents apart.

``multigrad.autograd.grad`` is the engine's functional reverse pass with PyTorch's signature;
``multigrad.grad`` here is the transform.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from . import _pytree
from .autograd import Tensor, enable_grad
from .autograd._backward import _toposort
from .autograd._backward import grad as _reverse_pass
from .autograd._forward import forward_level, has_live_tangents, take_tangent, with_tangent
from .autograd._tensor import LeafNode
from .backends import MixedDeviceError
from .ops import arange, astype, positive, reshape, stack, zeros, zeros_like

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "hvp"]

ArgNums = "int | Sequence[int]"


# -- checking what the user gave ------------------------------------------------------------------

def _name(f) -> str:
    return getattr(f, "__name__", type(f).__name__)


def _normalize_argnums(transform: str, argnums) -> tuple[tuple[int, ...], bool]:
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


def _check_differentiable(fname: str, where: str, x) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fname}: {where} is a {type(x).__name__}, not a Tensor")
    if x.data.dtype not in x.device.grad_dtypes:
        raise TypeError(f"{fname}: {where} has dtype {x.dtype.name}; only floating-point "
                        "tensors can be differentiated (close over the others instead)")


def _check_like(fname: str, what: str, ref: str, t, x: Tensor) -> None:
    """A tangent or cotangent ``t`` must match ``x`` (its primal or output) in all but values."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fname}: {what} is a {type(t).__name__}, not a Tensor")
    if t.shape != x.shape:
        raise ValueError(f"{fname}: {what} has shape {t.shape} but its {ref} has shape "
                         f"{x.shape}")
    if t.dtype != x.dtype:
        raise TypeError(f"{fname}: {what} has dtype {t.dtype.name} but its {ref} has dtype "
                        f"{x.dtype.name}")
    if t.device is not x.device:
        raise MixedDeviceError(f"{fname}: {what} is on {t.device.name} but its {ref} is on "
                               f"{x.device.name}")


def _tensor_leaves(fname: str, what: str, tree) -> tuple[list, _pytree.TreeDef]:
    """The leaves of a function's output, each of which must be a tensor."""
    leaves, treedef = _pytree.flatten(tree)
    for path, y in zip(_pytree.leaf_paths(treedef), leaves):
        if not isinstance(y, Tensor):
            raise TypeError(f"{fname}: {(what + path).strip()} is a {type(y).__name__}, not a "
                            "Tensor"
                            + (" (pass has_aux=True if f returns (output, aux))"
                               if isinstance(tree, tuple) and len(tree) == 2 else ""))
    return leaves, treedef


def _call(fname: str, f: Callable, args: tuple, kwargs: dict, has_aux: bool):
    """``f(*args, **kwargs)`` split into its output and its auxiliary data."""
    result = f(*args, **kwargs)
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{fname}: has_aux=True needs f to return a pair (output, aux), got "
                        f"{type(result).__name__}")
    return result[0], result[1]


# -- the differentiated arguments -----------------------------------------------------------------

class _Wrt:
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
                _check_differentiable(fname, f"argument {i}{path}", x)
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


def _variable(x: Tensor) -> Tensor:
    """What stands in for ``x`` while a reverse transform runs ``f``.

    A tensor that already requires gradients gets a recorded alias (``positive``), a node of its
    own: the inner transform collects the cotangents of that node only, while the outer one still
    sees through it to ``x``. Any other tensor becomes a fresh leaf that keeps ``x``'s tangents.
    """
    if x.requires_grad:
        return positive(x)
    v = Tensor(x.data, x.device).requires_grad_()
    v._tangents = dict(x._tangents) if x._tangents else None
    return v


def _outer_state(inputs: Sequence[Tensor], variables: Sequence[Tensor],
                 outputs: Sequence[Tensor]) -> bool:
    """Whether the outputs depend on something an enclosing transform (or the user's own graph)
    differentiates, so the backward pass must record itself for it to see through."""
    if any(x.requires_grad or has_live_tangents(x._tangents) for x in inputs):
        return True
    if any(has_live_tangents(y._tangents) for y in outputs):
        return True
    own = {v._node for v in variables}
    roots = list(dict.fromkeys(y._node for y in outputs if y.requires_grad))
    for node in _toposort(roots):
        if type(node) is LeafNode:
            if node not in own:
                return True
        elif node.tangents is not None and any(has_live_tangents(t) for t in node.tangents[1]):
            return True
    return False


def _pull_back(outputs: Sequence[Tensor], seeds: Sequence, variables: Sequence[Tensor],
               create_graph: bool, retain_graph: bool) -> list[Tensor]:
    """Cotangents of the variables (zeros for those the outputs do not depend on)."""
    live = [(y, s) for y, s in zip(outputs, seeds) if y.requires_grad]
    grads = [None] * len(variables)
    if live:
        grads = _reverse_pass([y for y, _ in live], list(variables), [s for _, s in live],
                              retain_graph=retain_graph, create_graph=create_graph,
                              allow_unused=True)
    return [zeros_like(v) if g is None else g for g, v in zip(grads, variables)]


def _detached(tree):
    """``tree`` with every tensor cut from the graph (results of a first-order transform)."""
    return _pytree.tree_map(lambda a: a.detach() if isinstance(a, Tensor) else a, tree)


# -- reverse mode ---------------------------------------------------------------------------------

def _check_scalar(fname: str, out) -> None:
    if not isinstance(out, Tensor):
        hint = (" (pass has_aux=True if f returns (output, aux))"
                if isinstance(out, tuple) and len(out) == 2 else "")
        raise TypeError(f"{fname}: f must return a scalar Tensor, got a {type(out).__name__}"
                        + hint)
    if out.size != 1:
        raise ValueError(f"{fname}: f must return a scalar (one element), got an output of "
                         f"shape {out.shape}; use jacrev or vjp for non-scalar outputs")
    if out.data.dtype not in out.device.grad_dtypes:
        raise TypeError(f"{fname}: f returned a tensor of dtype {out.dtype.name}, which has no "
                        "gradient; return a floating-point scalar")


def _gradient_transform(transform: str, f: Callable, argnums, has_aux: bool, with_value: bool):
    nums, single = _normalize_argnums(transform, argnums)
    fname = f"{transform}({_name(f)})"

    @functools.wraps(f)
    def gradient(*args, **kwargs):
        wrt = _Wrt(fname, args, nums, single)
        with enable_grad():
            variables = [_variable(x) for x in wrt.tensors]
            out, aux = _call(fname, f, wrt.substitute(args, variables), kwargs, has_aux)
        _check_scalar(fname, out)
        outer = _outer_state(wrt.tensors, variables, [out])
        grads = wrt.result(_pull_back([out], [None], variables, outer, outer))
        if not outer:
            out, aux = out.detach(), _detached(aux)
        result = (out, grads) if with_value else grads
        if has_aux:
            return ((out, aux), grads) if with_value else (grads, aux)
        return result

    return gradient


def grad(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued function, as a function.

    Parameters
    ----------
    f : callable
        A function of tensors (or of nested tuples, lists and dicts of tensors) returning a
        scalar tensor, or a pair ``(scalar, aux)`` with ``has_aux``.
    argnums : int or tuple of int
        Which positional arguments to differentiate with respect to.
    has_aux : bool
        ``f`` returns ``(output, aux)``; ``aux`` is handed back undifferentiated.

    Returns
    -------
    callable
        Takes ``f``'s arguments and returns the gradient with the structure of the argument
        ``argnums`` names (a tuple of such when ``argnums`` is a tuple), or ``(gradient, aux)``.
        Each gradient has its argument's shape, dtype and device; it is zero where ``f`` does
        not depend on the argument.

    Examples
    --------
    >>> import multigrad as mg
    >>> df = mg.grad(lambda x: mg.sum(x ** 3))
    >>> df(mg.tensor([1.0, 2.0]))            # 3 x**2
    >>> mg.grad(mg.grad(lambda x: x ** 3))(mg.tensor(2.0))   # 6 x
    """
    return _gradient_transform("grad", f, argnums, has_aux, with_value=False)


def value_and_grad(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """Like ``grad``, but the function returns ``(value, gradient)`` from one evaluation.

    With ``has_aux`` it returns ``((value, aux), gradient)``.
    """
    return _gradient_transform("value_and_grad", f, argnums, has_aux, with_value=True)


def vjp(f: Callable, *primals, has_aux: bool = False):
    """Evaluate ``f(*primals)`` and return it with its pullback (vector-Jacobian product).

    Parameters
    ----------
    f : callable
        A function of tensors (or pytrees of tensors) returning a tensor or a pytree of them.
    *primals
        The point: every positional argument of ``f``; close over the ones not differentiated.
    has_aux : bool
        ``f`` returns ``(output, aux)``.

    Returns
    -------
    (out, pullback) or (out, pullback, aux)
        ``pullback(cotangents)`` takes cotangents with the structure, shapes, dtypes and devices
        of ``out`` and returns a tuple with one cotangent per primal, ``v^T J``. It may be
        called any number of times.
    """
    fname = f"vjp({_name(f)})"
    wrt = _Wrt(fname, primals, tuple(range(len(primals))), single=False)
    with enable_grad():
        variables = [_variable(x) for x in wrt.tensors]
        out, aux = _call(fname, f, wrt.substitute(primals, variables), {}, has_aux)
    outs, out_def = _tensor_leaves(fname, "output ", out)
    outer = _outer_state(wrt.tensors, variables, outs)

    def pullback(cotangents):
        leaves, treedef = _pytree.flatten(cotangents)
        differs = out_def.mismatch(treedef)
        if differs:
            raise ValueError(f"{fname} pullback: the cotangents' structure differs from the "
                             f"output's {differs}")
        for path, c, y in zip(_pytree.leaf_paths(treedef), leaves, outs):
            _check_like(f"{fname} pullback", f"cotangent {path}".strip(), "output", c, y)
        # cotangents that are themselves being differentiated make the pass record itself
        create = outer or any(c.requires_grad or has_live_tangents(c._tangents) for c in leaves)
        return tuple(wrt.split(_pull_back(outs, leaves, variables, create, retain_graph=True)))

    pullback.__name__ = f"pullback of {fname}"
    if not outer:
        out, aux = _detached(out), _detached(aux)
    return (out, pullback, aux) if has_aux else (out, pullback)


def _one_hot(k: int, like: Tensor, index: Tensor) -> Tensor:
    """The ``k``-th basis tensor of ``like``'s shape, dtype and device (``index`` is
    ``arange(like.size)`` on that device)."""
    return reshape(astype(index == k, like.dtype), like.shape)


def _assemble(parts: list, lead: tuple, x: Tensor, axis: int) -> Tensor:
    """Stack per-element derivatives into a Jacobian block of shape ``lead + x.shape`` (rows of
    jacrev, ``axis=0``) or ``y.shape + x.shape`` (columns of jacfwd, ``axis=-1``)."""
    if not parts:
        return zeros(lead + x.shape, dtype=x.dtype, device=x.device)
    return reshape(stack(parts, axis=axis), lead + x.shape)


def jacrev(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by reverse mode: one backward pass per output element.

    Returns a function of ``f``'s arguments. For an output ``y`` and a differentiated argument
    ``x`` the block has shape ``y.shape + x.shape``; blocks are arranged as ``f``'s output,
    each holding the structure of the arguments ``argnums`` names (as ``grad`` returns them).
    Cheaper than ``jacfwd`` when outputs are fewer than inputs.
    """
    nums, single = _normalize_argnums("jacrev", argnums)
    fname = f"jacrev({_name(f)})"

    @functools.wraps(f)
    def jacobian(*args, **kwargs):
        wrt = _Wrt(fname, args, nums, single)
        with enable_grad():
            variables = [_variable(x) for x in wrt.tensors]
            out, aux = _call(fname, f, wrt.substitute(args, variables), kwargs, has_aux)
        outs, out_def = _tensor_leaves(fname, "output ", out)
        outer = _outer_state(wrt.tensors, variables, outs)
        blocks = []
        for y in outs:
            rows = [[] for _ in variables]
            if y.requires_grad and y.size:
                index = arange(y.size, device=y.device)
                for k in range(y.size):
                    grads = _pull_back([y], [_one_hot(k, y, index)], variables, outer, True)
                    for row, g in zip(rows, grads):
                        row.append(g)
            blocks.append(wrt.result([_assemble(r, y.shape, x, 0)
                                      for r, x in zip(rows, wrt.tensors)]))
        jac = _pytree.unflatten(out_def, blocks)
        if not outer:
            aux = _detached(aux)
        return (jac, aux) if has_aux else jac

    return jacobian


# -- forward mode ---------------------------------------------------------------------------------

def _jvp(fname: str, f: Callable, primals, tangents, has_aux: bool):
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError(f"{fname}: primals and tangents must be tuples or lists (one entry per "
                        f"argument of f), got {type(primals).__name__} and "
                        f"{type(tangents).__name__}")
    p_leaves, p_def = _pytree.flatten(tuple(primals))
    t_leaves, t_def = _pytree.flatten(tuple(tangents))
    differs = p_def.mismatch(t_def)
    if differs:
        raise ValueError(f"{fname}: the tangents' structure differs from the primals' {differs}")
    for path, x, t in zip(_pytree.leaf_paths(p_def), p_leaves, t_leaves):
        _check_differentiable(fname, f"primal {path}", x)
        _check_like(fname, f"tangent {path}", "primal", t, x)
    with forward_level() as level:
        args = _pytree.unflatten(p_def, [with_tangent(x, t, level)
                                         for x, t in zip(p_leaves, t_leaves)])
        out, aux = _call(fname, f, args, {}, has_aux)
        outs, out_def = _tensor_leaves(fname, "output ", out)
        pairs = [take_tangent(y, level) for y in outs]
    out = _pytree.unflatten(out_def, [p for p, _ in pairs])
    tangent_out = _pytree.unflatten(out_def, [t for _, t in pairs])
    if has_aux:
        aux = _pytree.tree_map(lambda a: take_tangent(a, level)[0] if isinstance(a, Tensor)
                               else a, aux)
        return out, tangent_out, aux
    return out, tangent_out


def jvp(f: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False):
    """Evaluate ``f(*primals)`` and its directional derivative along ``tangents`` (forward mode).

    Parameters
    ----------
    f : callable
        A function of tensors (or pytrees of tensors) returning a tensor or a pytree of them.
    primals : tuple or list
        The point: one entry per positional argument of ``f``.
    tangents : tuple or list
        The direction, with the structure of ``primals`` and each tensor's shape, dtype and
        device.
    has_aux : bool
        ``f`` returns ``(output, aux)``.

    Returns
    -------
    (out, tangent_out) or (out, tangent_out, aux)
        ``f(*primals)`` and ``J_f(primals) @ tangents``, both with the structure of ``f``'s
        output (zeros where the output does not depend on the primals).
    """
    return _jvp(f"jvp({_name(f)})", f, primals, tangents, has_aux)


def jacfwd(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``f`` by forward mode: one ``jvp`` pass per input element.

    Returns a function of ``f``'s arguments whose result is arranged like ``jacrev``'s (blocks
    of shape ``y.shape + x.shape``). Cheaper than ``jacrev`` when inputs are fewer than outputs.
    """
    nums, single = _normalize_argnums("jacfwd", argnums)
    fname = f"jacfwd({_name(f)})"

    @functools.wraps(f)
    def jacobian(*args, **kwargs):
        wrt = _Wrt(fname, args, nums, single)
        xs = wrt.tensors
        columns = None  # columns[output][input]: the tangents of one output, one per element
        out_def = out_shapes = aux = None
        for j, x in enumerate(xs):
            index = arange(x.size, device=x.device)
            for k in range(x.size):
                with forward_level() as level:
                    seeded = list(xs)
                    seeded[j] = with_tangent(x, _one_hot(k, x, index), level)
                    out, aux_k = _call(fname, f, wrt.substitute(args, seeded), kwargs, has_aux)
                    outs, out_def = _tensor_leaves(fname, "output ", out)
                    tangents = [take_tangent(y, level)[1] for y in outs]
                if columns is None:
                    columns = [[[] for _ in xs] for _ in outs]
                    out_shapes = [y.shape for y in outs]
                    aux = _pytree.tree_map(lambda a, lv=level: take_tangent(a, lv)[0]
                                           if isinstance(a, Tensor) else a, aux_k)
                for col, t in zip(columns, tangents):
                    col[j].append(t)
        if columns is None:  # no input has any element: one plain call gives the shapes
            out, aux = _call(fname, f, args, kwargs, has_aux)
            outs, out_def = _tensor_leaves(fname, "output ", out)
            columns = [[[] for _ in xs] for _ in outs]
            out_shapes = [y.shape for y in outs]
        blocks = [wrt.result([_assemble(parts, shape, x, -1) for parts, x in zip(col, xs)])
                  for col, shape in zip(columns, out_shapes)]
        jac = _pytree.unflatten(out_def, blocks)
        return (jac, aux) if has_aux else jac

    return jacobian


# -- second order ---------------------------------------------------------------------------------

def hessian(f: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The Hessian of a scalar-valued ``f``: ``jacfwd(jacrev(f))``, forward over reverse.

    For arguments ``x`` and ``z`` named by ``argnums`` the block ``[x][z]`` has shape
    ``x.shape + z.shape``. It takes one backward pass per input element; to apply the Hessian
    to a vector without forming it, use ``hvp``.
    """
    return jacfwd(jacrev(f, argnums, has_aux), argnums, has_aux)


def hvp(f: Callable, primals: Sequence, tangents: Sequence):
    """The gradient of a scalar-valued ``f`` and its Hessian applied to ``tangents``.

    Forward over reverse, ``jvp(grad(f))``: one evaluation of ``f``, one recorded backward
    pass with tangents pushed through it, so it costs a few gradients and never forms the
    Hessian.

    Parameters
    ----------
    f : callable
        A function of tensors (or pytrees of tensors) returning a scalar tensor.
    primals : tuple or list
        The point: one entry per positional argument of ``f``, all differentiated.
    tangents : tuple or list
        The vector, with the structure of ``primals``.

    Returns
    -------
    (gradient, hessian_vector_product)
        Two tuples with one entry per primal: the gradient of ``f`` and ``H @ tangents``.
    """
    fname = f"hvp({_name(f)})"
    n = len(primals) if isinstance(primals, (tuple, list)) else 0
    if n == 0:
        raise TypeError(f"{fname}: primals must be a non-empty tuple or list of arguments")
    gradient = _gradient_transform("hvp", f, tuple(range(n)), False, with_value=False)
    return _jvp(fname, gradient, primals, tangents, False)
