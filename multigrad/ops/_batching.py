"""Batching rules: how ``multigrad.vmap`` runs each primitive on a whole batch at once.

A rule is ``rule(xp, args, batched, **params) -> (out, out_batched)``: ``args`` are the
primitive's positional arguments, those with ``batched[k]`` holding the batch axis as their
axis 0; it returns the result (a tuple for a multi-output primitive) and whether it (each)
has the batch axis in front. Rules run in multigrad's namespace, on tensors that may carry
outer vmaps' marks and forward-mode tangents, so they are written with ``xp`` and the
primitives only, like the derivative rules, and nest and differentiate for free.

Most follow from one convention: the batch axis in front.

- ``elementwise``: broadcasting ops need only the batched arguments' axes lined up (ones
  inserted after the batch axis up to the others' rank).
- ``unchanged``: ops on the last axes, or on stacks of matrices (the linalg functions), take
  the batch axis as one more stack axis.
- ``reduction`` and ``along_axis``: ``axis=`` parameters shift by one (None: every axis but
  the batch axis).
- ``stacked``: several arguments broadcast over their stack axes (``solve``'s matrices and
  ``pinv``'s ``rtol``): every argument gets the batch axis, then lined up.

The others are written out here (shapes and joins) and in ``_batching_indexing`` (indexing,
``__setitem__``, sorting and searching, ``unique_*``, convolution patches). ``build`` (with
``_batching_indexing.build``) maps every registered primitive's name to its rule;
``tests/test_registry.py`` checks that none is missing.

A rule may carry ``vjp_batches``: whether the primitive's own VJP and JVP rules compute right
on batched tensors (default True). It is False, or a function of ``batched``, where those
rules read raw values of a batched argument (masks and signs of the linalg rules, index
arithmetic on a batched index array): vmap then runs them on plain arrays.
"""

from __future__ import annotations

import math

from ._helpers import normalize_axis

__all__ = ["build", "elementwise", "unchanged", "reduction", "along_axis", "stacked",
           "logical_ndim", "line_up", "with_batch", "all_batched", "batch_size", "shift_axis"]


# -- helpers --------------------------------------------------------------------------------------

def logical_ndim(a, batched: bool) -> int:
    """The rank of one example of ``a``."""
    ndim = getattr(a, "ndim", 0)
    return ndim - 1 if batched else ndim


def line_up(xp, a, ndim: int):
    """A batched ``a`` with ones inserted after its batch axis, up to ``ndim`` axes per
    example, so that it broadcasts against the others as one example would."""
    have = a.ndim - 1
    if have >= ndim:
        return a
    return xp.reshape(a, (a.shape[0],) + (1,) * (ndim - have) + tuple(a.shape[1:]))


def with_batch(xp, a, size: int):
    """An unbatched ``a`` given the batch axis, every example the same (a broadcast view)."""
    return xp.broadcast_to(xp.reshape(a, (1,) + tuple(a.shape)), (size,) + tuple(a.shape))


def batch_size(args, batched) -> int:
    return next(a.shape[0] for a, b in zip(args, batched) if b)


def all_batched(xp, args, batched):
    """Every tensor argument with the batch axis (the unbatched ones broadcast)."""
    size = batch_size(args, batched)
    return [a if b or not hasattr(a, "shape") else with_batch(xp, a, size)
            for a, b in zip(args, batched)]


def shift_axis(axis, ndim: int, none=None):
    """An ``axis`` parameter (None, int or tuple) of one example as the batch's: counted from
    the front and moved past the batch axis; None becomes ``none`` ("all": every axis but the
    batch axis)."""
    if axis is None:
        return tuple(range(1, ndim + 1)) if none == "all" else None
    axes = normalize_axis(axis, ndim)
    shifted = tuple(a + 1 for a in axes)
    return shifted[0] if isinstance(axis, int) else shifted


def _kind(convention: str | None, vjp_batches=True):
    def mark(rule):
        rule.convention = convention
        rule.vjp_batches = vjp_batches
        return rule
    return mark


# -- conventions ----------------------------------------------------------------------------------

def elementwise(prim):
    """Broadcasting ops: line the batched arguments up, apply."""
    @_kind("elementwise")
    def rule(xp, args, batched, **params):
        ndim = max((logical_ndim(a, b) for a, b in zip(args, batched) if hasattr(a, "ndim")),
                   default=0)
        args = [line_up(xp, a, ndim) if b else a for a, b in zip(args, batched)]
        return prim(*args, **params), True
    return rule


def unchanged(prim, vjp_batches=True):
    """Ops on one array's last axes (or on stacks of matrices): the batch axis is one more
    leading axis."""
    @_kind("unchanged", vjp_batches)
    def rule(xp, args, batched, **params):
        return prim(*args, **params), True
    return rule


def reduction(prim, vjp_batches=True):
    """Reductions over ``axis`` (None: all of an example's axes), with ``keepdims``."""
    @_kind("axis", vjp_batches)
    def rule(xp, args, batched, *, axis=None, **params):
        (x,) = args
        return prim(x, axis=shift_axis(axis, x.ndim - 1, "all"), **params), True
    return rule


def along_axis(prim, name="axis", vjp_batches=True):
    """Ops along one ``axis`` (or a tuple, already resolved): the axis shifts by one."""
    @_kind("axis", vjp_batches)
    def rule(xp, args, batched, **params):
        axis = params[name]
        if args[0].ndim == 1 and axis not in (None, ()):  # 0-d examples have no axis
            raise ValueError(f"vmap: {prim.name} along axis {axis} of 0-d examples: give each "
                             "example one dimension first (reshape it to (1,))")
        params[name] = shift_axis(axis, args[0].ndim - 1)
        return prim(*args, **params), True
    return rule


def stacked(prim, core: tuple, vjp_batches=True):
    """Ops whose arguments broadcast over their stack axes, ``core[k]`` axes of argument
    ``k`` being its own (2 for a matrix, 0 for a number per matrix): every argument gets the
    batch axis, then the stacks are lined up."""
    @_kind("stacked", vjp_batches)
    def rule(xp, args, batched, **params):
        args = all_batched(xp, args, batched)
        tensors = [k for k, a in enumerate(args) if hasattr(a, "shape")]
        depth = max(args[k].ndim - 1 - core[k] for k in tensors)
        lined = list(args)
        for k in tensors:
            a = args[k]
            missing = depth - (a.ndim - 1 - core[k])
            if missing:
                lined[k] = xp.reshape(a, (a.shape[0],) + (1,) * missing + tuple(a.shape[1:]))
        return prim(*lined, **params), True
    return rule


# -- shapes and joins -----------------------------------------------------------------------------

def _reshape(prim):
    @_kind(None)
    def rule(xp, args, batched, *, shape, copy=None):
        x = args[0]
        return prim(x, shape=(x.shape[0],) + tuple(shape), copy=copy), True
    return rule


def _broadcast_to(prim):
    @_kind(None)
    def rule(xp, args, batched, *, shape):
        x = line_up(xp, args[0], len(shape))
        return prim(x, shape=(x.shape[0],) + tuple(shape)), True
    return rule


def _broadcast_arrays(prim):
    @_kind(None)
    def rule(xp, args, batched):
        shapes = [tuple(a.shape[1:]) if b else tuple(a.shape) for a, b in zip(args, batched)]
        target = xp.broadcast_shapes(*shapes)
        size = batch_size(args, batched)
        outs = []
        for a, b in zip(args, batched):
            if b:
                outs.append(xp.broadcast_to(line_up(xp, a, len(target)), (size,) + target))
            else:
                outs.append(xp.broadcast_to(a, target))
        return tuple(outs), tuple(batched)
    return rule


def _concat(prim):
    @_kind(None)
    def rule(xp, args, batched, *, axis):
        size = batch_size(args, batched)
        if axis is None:  # each example's arrays flattened, then joined
            flat = [xp.reshape(a, (size, -1)) if b else with_batch(xp, xp.reshape(a, (-1,)), size)
                    for a, b in zip(args, batched)]
            return prim(*flat, axis=1), True
        ndim = logical_ndim(args[0], batched[0])
        return prim(*all_batched(xp, args, batched), axis=shift_axis(axis, ndim)), True
    return rule


def _stack(prim):
    @_kind(None)
    def rule(xp, args, batched, *, axis):
        ndim = logical_ndim(args[0], batched[0])
        return prim(*all_batched(xp, args, batched), axis=shift_axis(axis, ndim + 1)), True
    return rule


def _unstack(prim):
    @_kind("axis")
    def rule(xp, args, batched, *, axis):
        x = args[0]
        outs = prim(x, axis=shift_axis(axis, x.ndim - 1))
        return outs, (True,) * len(outs)
    return rule


def _permute_dims(prim):
    @_kind(None)
    def rule(xp, args, batched, *, axes):
        return prim(args[0], axes=(0,) + tuple(a + 1 for a in axes)), True
    return rule


def _flip(prim):
    @_kind("axis")
    def rule(xp, args, batched, *, axis):
        x = args[0]
        return prim(x, axis=shift_axis(axis, x.ndim - 1, "all")), True
    return rule


def _roll(prim):
    @_kind(None)
    def rule(xp, args, batched, *, shift: int | tuple, axis):
        x = args[0]
        if axis is None:  # each example rolled as a flat vector
            flat = xp.reshape(x, (x.shape[0], -1))
            return xp.reshape(prim(flat, shift=shift, axis=1), x.shape), True
        return prim(x, shift=shift, axis=shift_axis(axis, x.ndim - 1)), True
    return rule


def _tile(prim):
    @_kind(None)
    def rule(xp, args, batched, *, repetitions):
        x = args[0]
        ndim = max(x.ndim - 1, len(repetitions))
        x = line_up(xp, x, ndim)
        reps = (1,) * (ndim - len(repetitions)) + tuple(repetitions)
        return prim(x, repetitions=(1,) + reps), True
    return rule


def _repeat(prim, loop):
    def counts_batched(batched):
        return not (len(batched) > 1 and batched[1])

    @_kind(None, counts_batched)
    def rule(xp, args, batched, *, axis):
        x, repeats = args
        if len(batched) > 1 and batched[1]:  # counts per example: lengths may differ
            return loop(prim)(xp, args, batched, axis=axis)
        if not batched[0]:
            x = with_batch(xp, x, batch_size(args, batched))
        if axis is None:
            return prim(xp.reshape(x, (x.shape[0], -1)), repeats, axis=1), True
        return prim(x, repeats, axis=shift_axis(axis, x.ndim - 1)), True
    return rule


def _meshgrid(prim):
    @_kind(None)
    def rule(xp, args, batched, *, indexing):
        sizes = [a.shape[-1] for a in args]
        order = list(range(len(args)))
        if indexing == "xy" and len(args) > 1:
            order[0], order[1] = 1, 0
        full = tuple(sizes[k] for k in sorted(range(len(args)), key=order.__getitem__))
        size = batch_size(args, batched)
        outs = []
        for k, (a, b) in enumerate(zip(args, batched)):
            place = [1] * len(args)
            place[order[k]] = sizes[k]
            if b:
                outs.append(xp.broadcast_to(xp.reshape(a, (size,) + tuple(place)),
                                            (size,) + full))
            else:
                outs.append(xp.broadcast_to(xp.reshape(a, tuple(place)), full))
        return tuple(outs), tuple(batched)
    return rule


def _diff(prim):
    @_kind("axis")
    def rule(xp, args, batched, *, axis, n):
        ndim = logical_ndim(args[0], batched[0])
        args = all_batched(xp, args, batched)
        return prim(*args, axis=shift_axis(axis, ndim), n=n), True
    return rule


def _argextreme(prim):
    @_kind("axis")
    def rule(xp, args, batched, *, axis, keepdims):
        x = args[0]
        ndim = x.ndim - 1
        if axis is None:  # the index into each example's flattened array
            out = prim(xp.reshape(x, (x.shape[0], -1)), axis=1, keepdims=keepdims)
            return (xp.reshape(out, (x.shape[0],) + (1,) * ndim) if keepdims else out), True
        return prim(x, axis=shift_axis(axis, ndim), keepdims=keepdims), True
    return rule


# -- linear algebra -------------------------------------------------------------------------------

def _matmul(prim):
    @_kind(None)
    def rule(xp, args, batched, **params):
        (x1, x2), (b1, b2) = args, batched
        vec1, vec2 = logical_ndim(x1, b1) == 1, logical_ndim(x2, b2) == 1
        if (vec1 and b1) or (vec2 and b2):
            # a batched vector would pass for a matrix: every vector becomes a row (x1) or a
            # column (x2), squeezed out afterwards
            if vec1:
                x1 = xp.reshape(x1, tuple(x1.shape[:-1]) + (1, x1.shape[-1]))
            if vec2:
                x2 = xp.reshape(x2, tuple(x2.shape) + (1,))
        else:
            vec1 = vec2 = False
        # line up the stack axes of the batched operands with the other's
        depth = max(0, logical_ndim(x1, b1) - 2, logical_ndim(x2, b2) - 2)
        if b1:
            x1 = line_up(xp, x1, depth + 2)
        if b2:
            x2 = line_up(xp, x2, depth + 2)
        if x1.shape[-1] == 1 and x2.ndim >= 2:
            # a stack of outer products (per-example weight gradients): NumPy's matmul loops
            # over the stack without BLAS, the broadcast product is one pass over memory
            out = x1 * x2
        else:
            out = prim(x1, x2)
        if vec1 and vec2:
            return xp.reshape(out, tuple(out.shape[:-2])), True
        if vec1:
            return xp.reshape(out, tuple(out.shape[:-2]) + (out.shape[-1],)), True
        if vec2:
            return xp.reshape(out, tuple(out.shape[:-1])), True
        return out, True
    return rule


def _tensordot(prim):
    @_kind(None)
    def rule(xp, args, batched, *, axes):
        (x1, x2), (b1, b2) = args, batched
        n1, n2 = logical_ndim(x1, b1), logical_ndim(x2, b2)
        a1, a2 = axes  # two tuples of non-negative axes, as tensordot resolves them
        if b1 and not b2:  # the batch axis is one more free axis of x1, the first
            return prim(x1, x2, axes=(tuple(a + 1 for a in a1), a2)), True
        free1 = n1 - len(a1)
        if b2 and not b1:
            out = prim(x1, x2, axes=(a1, tuple(a + 1 for a in a2)))
            return (xp.moveaxis(out, free1, 0) if free1 else out), True
        # both batched: one batched matmul of (free1, contracted) by (contracted, free2)
        size = x1.shape[0]
        keep1 = [d for d in range(n1) if d not in a1]
        keep2 = [d for d in range(n2) if d not in a2]
        left = xp.permute_dims(x1, (0,) + tuple(d + 1 for d in keep1 + list(a1)))
        right = xp.permute_dims(x2, (0,) + tuple(d + 1 for d in list(a2) + keep2))
        shape1 = tuple(x1.shape[d + 1] for d in keep1)
        shape2 = tuple(x2.shape[d + 1] for d in keep2)
        inner = math.prod(x1.shape[d + 1] for d in a1)
        out = xp.matmul(xp.reshape(left, (size, math.prod(shape1), inner)),
                        xp.reshape(right, (size, inner, math.prod(shape2))))
        return xp.reshape(out, (size,) + shape1 + shape2), True
    return rule


def _outer(prim):
    @_kind(None)
    def rule(xp, args, batched):
        (x1, x2), (b1, b2) = args, batched
        left = xp.reshape(x1, tuple(x1.shape) + (1,))
        right = xp.reshape(x2, (x2.shape[0], 1, x2.shape[1]) if b2 else tuple(x2.shape))
        return xp.multiply(left, right), True
    return rule


def _solve(prim):
    @_kind(None)
    def rule(xp, args, batched):
        (a, b), (ba, bb) = args, batched
        if bb and b.ndim == 2:  # a batch of vectors: columns, one per example
            col = stacked(prim, (2, 2))(xp, (a, xp.reshape(b, tuple(b.shape) + (1,))), batched)[0]
            return xp.reshape(col, tuple(col.shape[:-1])), True
        if not bb and b.ndim == 1:
            return prim(a, b), True
        return stacked(prim, (2, 2))(xp, args, batched)
    return rule


# -- the table ------------------------------------------------------------------------------------

_ELEMENTWISE = (
    "add subtract multiply divide negative positive square sqrt reciprocal abs remainder "
    "floor_divide exp expm1 log log1p log2 log10 pow logaddexp sin cos tan asin acos atan sinh "
    "cosh tanh asinh acosh atanh atan2 hypot maximum minimum clip copysign ceil floor round "
    "trunc sign real imag conj equal not_equal greater greater_equal less less_equal "
    "logical_and logical_or logical_xor logical_not bitwise_and bitwise_or bitwise_xor "
    "bitwise_invert bitwise_left_shift bitwise_right_shift isfinite isinf isnan signbit "
    "nextafter where astype to_device relu sigmoid softplus gelu vecdot cross "
    # multigrad.special
    "erf erfc erfinv erfcinv ndtr log_ndtr ndtri logit polygamma gammaln betaln xlogy "
    "xlog1py entr rel_entr kl_div i0 i0e i1 i1e sinc").split()

# the linalg functions take stacks of matrices; those marked read raw values in their
# derivative rules (signs, masks of distinct or tied values, of nearly singular matrices)
_STACKS = "matrix_transpose tril triu inv diagonal trace".split()
_STACKS_PLAIN = ("cholesky eigh eigvalsh qr svd svdvals eig eigvals det slogdet "
                 "matrix_norm").split()

_REDUCTIONS = "sum prod mean var std max min count_nonzero all any logsumexp".split()
_ALONG_AXIS = {"cumulative_sum": "axis", "cumulative_prod": "axis", "softmax": "axis",
               "log_softmax": "axis", "sort": "axis", "argsort": "axis",
               "fftn": "axes", "ifftn": "axes", "rfftn": "axes", "irfftn": "axes"}


def build(registry: dict, loop) -> dict:
    """``{name: rule}`` for the primitives of ``registry`` this module covers; ``loop(prim)``
    is vmap's fallback rule, for the cases a rule leaves to it (repeat's counts per
    example)."""
    rules = {}
    for name in _ELEMENTWISE:
        rules[name] = elementwise(registry[name])
    for name in _STACKS:
        rules[name] = unchanged(registry[name])
    for name in _STACKS_PLAIN:
        rules[name] = unchanged(registry[name], vjp_batches=False)
    for name in _REDUCTIONS:
        rules[name] = reduction(registry[name])
    rules["vector_norm"] = reduction(registry["vector_norm"], vjp_batches=False)
    for name, param in _ALONG_AXIS.items():
        rules[name] = along_axis(registry[name], param)
    rules["pinv"] = stacked(registry["pinv"], (2, 0))
    rules["matrix_rank"] = stacked(registry["matrix_rank"], (2, 0))
    rules["matmul"] = _matmul(registry["matmul"])
    rules["tensordot"] = _tensordot(registry["tensordot"])
    rules["outer"] = _outer(registry["outer"])
    rules["solve"] = _solve(registry["solve"])
    rules["reshape"] = _reshape(registry["reshape"])
    rules["broadcast_to"] = _broadcast_to(registry["broadcast_to"])
    rules["broadcast_arrays"] = _broadcast_arrays(registry["broadcast_arrays"])
    rules["concat"] = _concat(registry["concat"])
    rules["stack"] = _stack(registry["stack"])
    rules["unstack"] = _unstack(registry["unstack"])
    rules["permute_dims"] = _permute_dims(registry["permute_dims"])
    rules["flip"] = _flip(registry["flip"])
    rules["roll"] = _roll(registry["roll"])
    rules["tile"] = _tile(registry["tile"])
    rules["repeat"] = _repeat(registry["repeat"], loop)
    rules["meshgrid"] = _meshgrid(registry["meshgrid"])
    rules["diff"] = _diff(registry["diff"])
    rules["argmax"] = _argextreme(registry["argmax"])
    rules["argmin"] = _argextreme(registry["argmin"])
    return rules


