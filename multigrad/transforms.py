"""Function transforms: ``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian`` and ``hvp`` (the Jacobians in ``_jacobians``; ``vmap`` in ``multigrad.batching``).

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

Complex numbers follow JAX's convention: the gradient of a real-valued ``f`` of ``z = x + iy``
is ``df/dx - i df/dy``, and ``vjp`` pulls a cotangent back as the transpose of the Jacobian
(not its conjugate transpose), so a holomorphic function's pullback multiplies by ``f'(z)``.
``grad`` and ``value_and_grad`` need a real output, unless ``holomorphic=True`` asks for
``f'(z)`` of a holomorphic function of complex inputs (as do ``jacrev``, ``jacfwd`` and
``hessian`` for a complex output of complex inputs); ``vjp`` and ``jvp`` take any.

``multigrad.autograd.grad`` is the engine's functional reverse pass with PyTorch's signature;
``multigrad.grad`` here is the transform.
"""

from __future__ import annotations

import functools
import weakref
from typing import Callable, Sequence

from . import _pytree
from ._transform_args import (Wrt, call, check_complex_kinds, check_differentiable, check_like,
                              detached, name_of, normalize_argnums, tensor_leaves)
from .autograd import Tensor, enable_grad
from .autograd._backward import _toposort
from .autograd._backward import pull_back_to
from .autograd._forward import (forward_level, has_live_tangents, live_tangents, take_tangent,
                                with_tangent)
from .autograd._tensor import LeafNode
from .batching import _logical as _batching, _marks as _batch_marks
from .ops import ones_like, positive, zeros_like

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "hvp"]


def _variable(x: Tensor) -> Tensor:
    """What stands in for ``x`` while a reverse transform runs ``f``.

    A tensor that already requires gradients gets a recorded alias (``positive``), a node of its
    own: the inner transform collects the cotangents of that node only, while the outer one still
    sees through it to ``x``. Any other tensor becomes a fresh leaf that keeps ``x``'s tangents.
    Inside ``vmap`` the variable is on a tape of that level (see ``batching._logical``), so
    its derivatives are per example.
    """
    levels = _batch_marks.live_levels()
    if levels:
        return _batching.variable(x, levels)
    if x.requires_grad:
        return positive(x)
    v = Tensor(x.data, x.device).requires_grad_()
    v._tangents = dict(x._tangents) if x._tangents else None
    return v


#: the variables of reverse transforms that have returned: nothing differentiates with respect
#: to them any more, so a graph that reaches only these is dead weight
_retired: weakref.WeakSet = weakref.WeakSet()


def _retire(variables: Sequence[Tensor]) -> None:
    _retired.update(v._node for v in variables if type(v._node) is LeafNode)


def _release(tree):
    """``tree`` cut from the graph if that graph reaches only retired variables (what a finished
    inner transform recorded, which nobody can differentiate any more); as it is if anything
    live is in it: a user's leaf, a running transform's variable or tangent."""
    tensors = [a for a in _pytree.flatten(tree)[0] if isinstance(a, Tensor)]
    if any(has_live_tangents(a._tangents) for a in tensors):
        return tree
    roots = list(dict.fromkeys(a._node for a in tensors if a.requires_grad))
    if not roots:
        return tree
    try:
        nodes = _toposort(roots)
    except RuntimeError:  # a graph freed by the user's backward: leave it to them
        return tree
    if any(type(node) is LeafNode and node not in _retired for node in nodes):
        return tree
    return detached(tree)


#: what an enclosing transform (or the user's own graph) needs of a transform's backward pass:
#: its rules run on tensors, so that forward-mode tangents flow through them (TANGENTS), and
#: also recorded, so that a reverse pass can go through them (RECORD)
TANGENTS, RECORD = "tangents", "record"


def _outer_state(inputs: Sequence[Tensor], variables: Sequence[Tensor],
                 outputs: Sequence[Tensor]) -> str | None:
    """What the enclosing transforms (or the user's own graph) need of this transform's backward
    pass, which computes from ``outputs`` and what they were computed from, tangents included.

    RECORD when any of that depends on a tensor that requires gradients other than this
    transform's own ``variables`` (an outer reverse transform's variable, or a leaf of the
    user's graph), since a reverse pass will then go through the result; TANGENTS when some
    of it carries a tangent of a running ``jvp``; else None. A tangent that requires gradients
    only through ``variables`` (recorded while this transform ran ``f``) asks for no recording.
    """
    if any(x.requires_grad for x in inputs):
        return RECORD
    # batched tensors need their rules run on tensors, where the batching rules see them
    found = TANGENTS if any(_batch_marks.marks_of(t) for t in (*inputs, *outputs)) else None
    own = {v._node for v in variables}
    seen = set()
    roots = [y._node for y in outputs if y.requires_grad]
    carriers = [x._tangents for x in inputs] + [y._tangents for y in outputs]
    while roots or carriers:
        for tangents in carriers:  # tangents' own graphs are walked too
            for t in live_tangents(tangents):
                found = TANGENTS
                if t.requires_grad:
                    roots.append(t._node)
        carriers = []
        fresh = [node for node in dict.fromkeys(roots) if node not in seen]
        roots = []
        for node in _toposort(fresh) if fresh else ():
            if node in seen:
                continue
            seen.add(node)
            if type(node) is LeafNode:
                if node not in own:
                    return RECORD  # a leaf of the user's graph or an outer transform's variable
            elif node.tangents is not None:
                arg_tangents, out_tangents = node.tangents
                if found is None and any(has_live_tangents(t) for t in out_tangents):
                    found = TANGENTS
                # The tangents made here derive from its arguments' tangents and from values
                # of this graph (walked already). An argument with an edge got its tangent from
                # its own maker, from an input of the transform, or from outside along with a
                # leaf this walk reaches; so only those of arguments without one bring in
                # graphs of their own.
                inside = {edge[0] for edge in node.edges}
                carriers.extend(t for i, t in enumerate(arg_tangents) if i not in inside)
    return found


def _most(*needs: str | None) -> str | None:
    """The most demanding of several needs: RECORD, then TANGENTS, then None."""
    return RECORD if RECORD in needs else TANGENTS if TANGENTS in needs else None


def _pull_back(outputs: Sequence[Tensor], seeds: Sequence, variables: Sequence[Tensor],
               outer: str | None, retain_graph: bool) -> list[Tensor]:
    """Cotangents of the variables (zeros for those the outputs do not depend on), computed as
    ``outer`` (``_outer_state``) requires."""
    # a batched output's seed is one per example (the engine's default seed would be ones of
    # the whole batch's array, which its logical nodes would take for a cotangent of their own)
    live = [(y, ones_like(y) if s is None and _batch_marks.marks_of(y) else s)
            for y, s in zip(outputs, seeds) if y.requires_grad]
    if outer is None and any(_batch_marks.marks_of(s) for _, s in live):
        outer = TANGENTS  # batched seeds (a vmap of the pullback): rules run on tensors
    grads = [None] * len(variables)
    if live:
        grads = pull_back_to([y for y, _ in live], list(variables), [s for _, s in live],
                             retain_graph=retain_graph, create_graph=outer is not None,
                             allow_unused=True, record=outer == RECORD)
    return [zeros_like(v) if g is None else g for g, v in zip(grads, variables)]


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


def _gradient_transform(transform: str, f: Callable, argnums, has_aux: bool, with_value: bool,
                        holomorphic: bool = False):
    nums, single = normalize_argnums(transform, argnums)
    fname = f"{transform}({name_of(f)})"

    @functools.wraps(f)
    def gradient(*args, **kwargs):
        wrt = Wrt(fname, args, nums, single)
        with enable_grad():
            variables = [_variable(x) for x in wrt.tensors]
            out, aux = call(fname, f, wrt.substitute(args, variables), kwargs, has_aux)
        _check_scalar(fname, out)
        check_complex_kinds(fname, wrt.tensors, [out], holomorphic, "reverse")
        # a holomorphic f's pullback of 1 is f'(z); a real output's seed is 1 too
        seed = ones_like(out) if holomorphic else None
        outer = _outer_state(wrt.tensors, variables, [out])
        grads = wrt.result(_pull_back([out], [seed], variables, outer, outer is not None))
        _retire(variables)
        if not outer:
            out, aux = out.detach(), detached(aux)
        result = (out, grads) if with_value else grads
        if has_aux:
            return ((out, aux), grads) if with_value else (grads, aux)
        return result

    return gradient


def grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
         holomorphic: bool = False) -> Callable:
    """The gradient of a scalar-valued function, as a function.

    Parameters
    ----------
    f : callable
        A function of tensors (or of nested tuples, lists and dicts of tensors) returning a
        real scalar tensor, or a pair ``(scalar, aux)`` with ``has_aux``.
    argnums : int or tuple of int
        Which positional arguments to differentiate with respect to.
    has_aux : bool
        ``f`` returns ``(output, aux)``; ``aux`` is handed back undifferentiated.
    holomorphic : bool
        ``f`` is a holomorphic function of complex arguments with a complex output: return
        its complex derivative ``f'(z)``. Otherwise the output must be real.

    Returns
    -------
    callable
        Takes ``f``'s arguments and returns the gradient with the structure of the argument
        ``argnums`` names (a tuple of such when ``argnums`` is a tuple), or ``(gradient, aux)``.
        Each gradient has its argument's shape, dtype and device (a host argument that met
        Dask arrays gets a lazy gradient on the Dask device: ``multigrad.compute`` it); it is
        zero where ``f`` does not depend on the argument. For a complex argument ``z = x + iy`` of a real ``f`` it
        is ``df/dx - i df/dy`` (JAX's convention; PyTorch's is its conjugate).

    Examples
    --------
    >>> import multigrad as mg
    >>> df = mg.grad(lambda x: mg.sum(x ** 3))
    >>> df(mg.tensor([1.0, 2.0]))            # 3 x**2
    >>> mg.grad(mg.grad(lambda x: x ** 3))(mg.tensor(2.0))   # 6 x
    >>> mg.grad(lambda z: mg.abs(z) ** 2)(mg.tensor(1 + 2j))  # 2 conj(z)
    >>> mg.grad(mg.sin, holomorphic=True)(mg.tensor(1j))     # cos(z)
    """
    return _gradient_transform("grad", f, argnums, has_aux, with_value=False,
                               holomorphic=holomorphic)


def value_and_grad(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
                   holomorphic: bool = False) -> Callable:
    """Like ``grad``, but the function returns ``(value, gradient)`` from one evaluation.

    With ``has_aux`` it returns ``((value, aux), gradient)``; ``holomorphic`` as in ``grad``.
    """
    return _gradient_transform("value_and_grad", f, argnums, has_aux, with_value=True,
                               holomorphic=holomorphic)


def vjp(f: Callable, *primals, has_aux: bool = False, argnums=None):
    """Evaluate ``f(*primals)`` and return it with its pullback (vector-Jacobian product).

    Parameters
    ----------
    f : callable
        A function of tensors (or pytrees of tensors) returning a tensor or a pytree of them.
    *primals
        The point: every positional argument of ``f``.
    has_aux : bool
        ``f`` returns ``(output, aux)``.
    argnums : int or tuple of int, optional
        The arguments to differentiate (default: all); the others are held constant.

    Returns
    -------
    (out, pullback) or (out, pullback, aux)
        ``pullback(cotangents)`` takes cotangents with the structure, shapes, dtypes and devices
        of ``out`` and returns ``v^T J``: a tuple with one cotangent per differentiated argument
        (just the one for an int ``argnums``). It may be called any number of times.
    """
    fname = f"vjp({name_of(f)})"
    if argnums is None:
        nums, single = tuple(range(len(primals))), False
    else:
        nums, single = normalize_argnums(fname, argnums)
    wrt = Wrt(fname, primals, nums, single=single)
    with enable_grad():
        variables = [_variable(x) for x in wrt.tensors]
        out, aux = call(fname, f, wrt.substitute(primals, variables), {}, has_aux)
    outs, out_def = tensor_leaves(fname, "output ", out)
    outer = _outer_state(wrt.tensors, variables, outs)

    def pullback(cotangents):
        leaves, treedef = _pytree.flatten(cotangents)
        differs = out_def.mismatch(treedef)
        if differs:
            raise ValueError(f"{fname} pullback: the cotangents' structure differs from the "
                             f"output's {differs}")
        for path, c, y in zip(_pytree.leaf_paths(treedef), leaves, outs):
            check_like(f"{fname} pullback", f"cotangent {path}".strip(), "output", c, y)
        # cotangents that are themselves being differentiated ask as much as the primals do
        needs = _most(outer, _outer_state(leaves, variables, ()))
        return wrt.result(_pull_back(outs, leaves, variables, needs, retain_graph=True))

    pullback.__name__ = f"pullback of {fname}"
    if not outer:
        out, aux = detached(out), detached(aux)
    return (out, pullback, aux) if has_aux else (out, pullback)


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
        check_differentiable(fname, f"primal {path}", x)
        check_like(fname, f"tangent {path}", "primal", t, x)
    with forward_level() as level:
        args = _pytree.unflatten(p_def, [with_tangent(x, t, level)
                                         for x, t in zip(p_leaves, t_leaves)])
        out, aux = call(fname, f, args, {}, has_aux)
        outs, out_def = tensor_leaves(fname, "output ", out)
        pairs = [take_tangent(y, level) for y in outs]
    out = _pytree.unflatten(out_def, [p for p, _ in pairs])
    tangent_out = _pytree.unflatten(out_def, [t for _, t in pairs])
    aux = _pytree.tree_map(lambda a: take_tangent(a, level)[0] if isinstance(a, Tensor) else a,
                           aux)
    out, tangent_out, aux = _release((out, tangent_out, aux))
    return (out, tangent_out, aux) if has_aux else (out, tangent_out)


def _held(fname: str, f: Callable, primals, argnums):
    """``f`` as a function of the arguments ``argnums`` alone (the other primals held), and
    those arguments."""
    if not isinstance(primals, (tuple, list)):
        raise TypeError(f"{fname}: primals must be a tuple or list (one entry per argument of "
                        f"f), got {type(primals).__name__}")
    nums, single = normalize_argnums(fname, argnums)
    positions = Wrt(fname, tuple(primals), nums, single).argnums

    def of_chosen(*chosen):
        args = list(primals)
        for i, a in zip(positions, chosen):
            args[i] = a
        return f(*args)

    of_chosen.__name__ = name_of(f)
    return of_chosen, tuple(primals[i] for i in positions)


def jvp(f: Callable, primals: Sequence, tangents: Sequence, has_aux: bool = False,
        argnums=None):
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
    argnums : int or tuple of int, optional
        The arguments that move (default: all); ``tangents`` then has one entry per argument
        in ``argnums``, and the other primals are held constant.

    Returns
    -------
    (out, tangent_out) or (out, tangent_out, aux)
        ``f(*primals)`` and ``J_f(primals) @ tangents``, both with the structure of ``f``'s
        output (zeros where the output does not depend on the primals).
    """
    fname = f"jvp({name_of(f)})"
    if argnums is not None:
        f, primals = _held(fname, f, primals, argnums)
    return _jvp(fname, f, primals, tangents, has_aux)


# -- second order ---------------------------------------------------------------------------------

def hvp(f: Callable, primals: Sequence, tangents: Sequence, argnums=None):
    """The gradient of a scalar-valued ``f`` and its Hessian applied to ``tangents``.

    Forward over reverse, ``jvp(grad(f))``: one evaluation of ``f`` and one backward pass with
    tangents pushed through it (recorded only when a reverse pass will go through the result),
    so it costs a few gradients and never forms the Hessian.

    Parameters
    ----------
    f : callable
        A function of tensors (or pytrees of tensors) returning a scalar tensor.
    primals : tuple or list
        The point: one entry per positional argument of ``f``.
    tangents : tuple or list
        The vector, with one entry per differentiated argument.
    argnums : int or tuple of int, optional
        The arguments differentiated (default: all); the others are held constant.

    Returns
    -------
    (gradient, hessian_vector_product)
        Two tuples with one entry per differentiated argument: the gradient of ``f`` and
        ``H @ tangents``.
    """
    fname = f"hvp({name_of(f)})"
    if argnums is not None:
        f, primals = _held(fname, f, primals, argnums)
    n = len(primals) if isinstance(primals, (tuple, list)) else 0
    if n == 0:
        raise TypeError(f"{fname}: primals must be a non-empty tuple or list of arguments")
    gradient = _gradient_transform("hvp", f, tuple(range(n)), False, with_value=False)
    return _jvp(fname, gradient, primals, tangents, False)


# the Jacobians build on the plumbing above (imported last: that module imports this one)
from ._jacobians import hessian, jacfwd, jacrev  # noqa: E402
