"""Jacobians: ``jacrev``, ``jacfwd`` and ``hessian`` (``jacfwd`` of ``jacrev``).

Each computes every row (``jacrev``: a cotangent per output element) or every column
(``jacfwd``: a tangent per input element) in one batched pass: the pullback, or ``f`` with its
tangents, under ``vmap`` over the basis vectors. Where an op of ``f`` (or of its derivative
rules) has no batching rule they fall back to one pass per row or column, as before vmap
existed; the result is the same.

Complex numbers (JAX's convention, see ``transforms``): a real output's rows are its gradients
(``df/dx - i df/dy`` for a complex argument); a complex output of real arguments has the
complex Jacobian ``dy/dx``, from the pullbacks of ``1`` and ``-i`` (``jacrev``) or from the
tangents alone (``jacfwd``); a complex argument of a real output takes the tangents ``1`` and
``i`` (``jacfwd``); a complex output of complex arguments needs ``holomorphic=True`` (then
``f'(z)``), since otherwise no complex matrix is its derivative.
"""

from __future__ import annotations

import functools
from typing import Callable, Sequence

from . import _pytree
from ._transform_args import (Wrt, assemble, call, check_complex_kinds, name_of,
                              normalize_argnums, one_hot, tensor_leaves)
from .autograd import Tensor, enable_grad
from .autograd._forward import forward_level, take_tangent, with_tangent
from .batching import NoBatchingRule, loops_refused, vmap
from .ops import arange, eye, moveaxis, reshape
from .transforms import _outer_state, _pull_back, _release, _retire, _variable, detached

__all__ = ["jacrev", "jacfwd", "hessian"]


def _basis(x: Tensor) -> Tensor:
    """The basis of ``x``'s space: ``x.size`` one-hot tensors of ``x``'s shape, stacked."""
    return reshape(eye(x.size, dtype=x.dtype, device=x.device), (x.size,) + x.shape)


def jacrev(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """The Jacobian of ``f`` by reverse mode: every row in one batched backward pass.

    Returns a function of ``f``'s arguments. For an output ``y`` and a differentiated argument
    ``x`` the block has shape ``y.shape + x.shape``; blocks are arranged as ``f``'s output,
    each holding the structure of the arguments ``argnums`` names (as ``grad`` returns them).
    ``f`` runs once; its pullback runs once on all of ``y``'s basis cotangents (``vmap``), or
    once per element of ``y`` when one of the ops has no batching rule. Cheaper than
    ``jacfwd`` when outputs are fewer than inputs. ``holomorphic``: ``f`` is a holomorphic
    function of complex arguments with complex outputs, whose Jacobian is ``f'(z)`` (see the
    module's note on complex numbers).
    """
    nums, single = normalize_argnums("jacrev", argnums)
    fname = f"jacrev({name_of(f)})"

    @functools.wraps(f)
    def jacobian(*args, **kwargs):
        wrt = Wrt(fname, args, nums, single)
        with enable_grad():
            variables = [_variable(x) for x in wrt.tensors]
            out, aux = call(fname, f, wrt.substitute(args, variables), kwargs, has_aux)
        outs, out_def = tensor_leaves(fname, "output ", out)
        check_complex_kinds(fname, wrt.tensors, outs, holomorphic, "jacobian")
        outer = _outer_state(wrt.tensors, variables, outs)
        blocks = [wrt.result(_rows(y, variables, wrt.tensors, outer, holomorphic))
                  for y in outs]
        jac = _pytree.unflatten(out_def, blocks)
        _retire(variables)
        if not outer:
            aux = detached(aux)
        return (jac, aux) if has_aux else jac

    return jacobian


def _rows(y: Tensor, variables, xs, outer, holomorphic) -> list:
    """The blocks ``y.shape + x.shape`` of ``y``'s Jacobian, one per variable."""
    if y.dtype.kind == "complex floating" and not holomorphic:
        # a complex output of real arguments: its real part's rows, and its imaginary part's
        # (the pullback of -i) as their imaginary part
        real, imag = (_rows_along(y, variables, xs, outer, s) for s in (1, -1j))
        return [a + 1j * b for a, b in zip(real, imag)]
    return _rows_along(y, variables, xs, outer, 1)


def _rows_along(y: Tensor, variables, xs, outer, scale) -> list:
    """``_rows`` from the basis cotangents times ``scale``."""
    if y.requires_grad and y.size > 1:
        try:
            with loops_refused():
                rows = vmap(lambda seed: tuple(_pull_back([y], [seed], variables, outer, True)),
                            randomness="same")(_basis(y) * scale)
            return [reshape(r, y.shape + x.shape) for r, x in zip(rows, xs)]
        except NoBatchingRule:
            pass
    rows = [[] for _ in variables]
    if y.requires_grad and y.size:
        index = arange(y.size, device=y.device)
        for k in range(y.size):
            grads = _pull_back([y], [one_hot(k, y, index) * scale], variables, outer, True)
            for row, g in zip(rows, grads):
                row.append(g)
    return [assemble(r, y.shape, x, 0) for r, x in zip(rows, xs)]


def jacfwd(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
           holomorphic: bool = False) -> Callable:
    """The Jacobian of ``f`` by forward mode: every column in one batched pass.

    Returns a function of ``f``'s arguments whose result is arranged like ``jacrev``'s (blocks
    of shape ``y.shape + x.shape``). For each differentiated argument ``f`` runs once, with
    all of that argument's basis tangents at once (``vmap``), or once per element when one of
    the ops has no batching rule. Cheaper than ``jacrev`` when inputs are fewer than outputs.
    ``holomorphic`` as in ``jacrev``, which gives the same blocks.
    """
    nums, single = normalize_argnums("jacfwd", argnums)
    fname = f"jacfwd({name_of(f)})"

    @functools.wraps(f)
    def jacobian(*args, **kwargs):
        wrt = Wrt(fname, args, nums, single)
        xs = wrt.tensors
        seen = {}  # the output's structure, shapes and aux, from the first pass
        columns = [_columns(fname, f, wrt, args, kwargs, has_aux, j, seen, holomorphic)
                   for j in range(len(xs))]
        if "structure" not in seen:  # no input has any element: one plain call
            out, aux = call(fname, f, args, kwargs, has_aux)
            outs, seen["structure"] = tensor_leaves(fname, "output ", out)
            seen["shapes"], seen["aux"] = [y.shape for y in outs], aux
        blocks = []
        for k, shape in enumerate(seen["shapes"]):
            parts = [cols[k] if cols is not None else assemble([], shape, x, -1)
                     for cols, x in zip(columns, xs)]
            blocks.append(wrt.result(parts))
        jac, aux = _release((_pytree.unflatten(seen["structure"], blocks), seen["aux"]))
        return (jac, aux) if has_aux else jac

    return jacobian


def _columns(fname, f, wrt, args, kwargs, has_aux, j, seen, holomorphic):
    """The blocks ``y.shape + x.shape`` of every output for argument ``j``'s columns, or None
    when that argument has no element."""
    xs = wrt.tensors
    x = xs[j]
    if not x.size:
        return None

    def push(tangent):
        with forward_level() as level:
            seeded = list(xs)
            seeded[j] = with_tangent(x, tangent, level)
            out, aux = call(fname, f, wrt.substitute(args, seeded), kwargs, has_aux)
            outs, structure = tensor_leaves(fname, "output ", out)
            tangents = tuple(take_tangent(y, level)[1] for y in outs)
        if "structure" not in seen:
            check_complex_kinds(fname, xs, outs, holomorphic, "jacobian")
            seen["structure"], seen["shapes"] = structure, [y.shape for y in outs]
            seen["aux"] = _pytree.tree_map(lambda a: take_tangent(a, level)[0]
                                           if isinstance(a, Tensor) else a, aux)
        return tangents

    def along(scale):
        if x.size > 1:
            try:
                with loops_refused():
                    stacked = vmap(push, randomness="same")(_basis(x) * scale)
                return [reshape(moveaxis(c, 0, -1), shape + x.shape)
                        for c, shape in zip(stacked, seen["shapes"])]
            except NoBatchingRule:
                pass
        index = arange(x.size, device=x.device)
        per_element = [push(one_hot(k, x, index) * scale) for k in range(x.size)]
        return [assemble(list(col), shape, x, -1)
                for col, shape in zip(zip(*per_element), seen["shapes"])]

    if x.dtype.kind == "complex floating" and not holomorphic:
        # a complex argument of a real output: along its real, then its imaginary unit, the
        # columns df/dx - i df/dy
        return [t - 1j * u for t, u in zip(along(1), along(1j))]
    return along(1)


def hessian(f: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False,
            holomorphic: bool = False) -> Callable:
    """The Hessian of a scalar-valued ``f``: ``jacfwd(jacrev(f))``, forward over reverse.

    For arguments ``x`` and ``z`` named by ``argnums`` the block ``[x][z]`` has shape
    ``x.shape + z.shape``. Every column comes from one batched pass (one backward pass
    carrying all the basis tangents); to apply the Hessian to a vector without forming it,
    use ``hvp``. ``holomorphic=True``: the second complex derivative of a holomorphic ``f`` of
    complex arguments (a real ``f`` of complex arguments has no complex Hessian, a TypeError:
    ``hvp`` applies its second derivative to directions).
    """
    hess = jacfwd(jacrev(f, argnums, has_aux, holomorphic), argnums, has_aux, holomorphic)
    if holomorphic:
        return hess
    nums, single = normalize_argnums("hessian", argnums)
    fname = f"hessian({name_of(f)})"

    @functools.wraps(f)
    def real_hessian(*args, **kwargs):
        # jacfwd would refuse the complex gradient, suggesting holomorphic=True, which a real
        # f is not: say what does apply
        if any(x.dtype.kind == "complex floating" for x in Wrt(fname, args, nums, single).tensors):
            raise TypeError(f"{fname}: a real function of complex arguments has no complex "
                            "Hessian (its gradient df/dx - i df/dy is not holomorphic): apply "
                            "the Hessian to directions with mg.hvp(f, primals, tangents), or "
                            "differentiate f of the real and imaginary parts as real arguments")
        return hess(*args, **kwargs)
    return real_hessian
