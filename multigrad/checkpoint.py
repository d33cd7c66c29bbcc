"""Gradient checkpointing: trade recomputation for memory.

``checkpoint(fn, *args)`` is one primitive on the tape whose node keeps only the inputs of
``fn`` (and its result, which the next op keeps anyway); none of ``fn``'s intermediate values
stay alive. Its VJP rule runs ``fn`` again, recording, and pulls the cotangent back through that
fresh graph; its JVP rule pushes the tangent through ``fn`` with forward mode. Both rules are
ordinary rules of the engine, so checkpoints nest, work under ``create_graph`` (second
derivatives) and under ``jvp``.

Random numbers: the forward pass notes each generator ``fn`` draws from (``observe_draws``)
with its state before the first draw; each recomputation sets those states again, so it draws
the same numbers (the same dropout mask), then puts every generator it touched back where it
was, so that later draws are as they would be without the checkpoint.
"""

from __future__ import annotations

import contextlib

from .autograd import Tensor, defprimitive, enable_grad, is_grad_enabled, no_grad
from .autograd._backward import grad as _reverse_grad
from .transforms import jvp as _jvp
from .backends import as_dtype, device_of, is_array
from .backends._random import observe_draws

__all__ = ["checkpoint"]


class _Call:
    """One ``checkpoint`` call: the non-array arguments, in place, and the output layout."""

    def __init__(self, args: tuple, arrays: list, preserve_rng_state: bool):
        self.statics = tuple(None if is_array(a) else a for a in args)
        self.array_pos = tuple(k for k, a in enumerate(args) if is_array(a))
        self.device = arrays[0].device
        self.single = True
        self.preserve_rng_state = preserve_rng_state
        # {generator: its state before the forward pass drew from it}, to draw it all again
        self.rng_states = {}
        self.cache = None  # (cotangents, gradients) of the pull-back under way
        # the engine asks for gradients argument by argument; after the last one that needs
        # a gradient, the cache goes (so it never outlives the pull-back)
        wanted = [k for k, a in enumerate(arrays) if a.requires_grad]
        self.last_wanted = wanted[-1] if wanted and is_grad_enabled() else None

    def arguments(self, arrays) -> list:
        full = list(self.statics)
        for k, a in zip(self.array_pos, arrays):
            full[k] = a
        return full


def _outputs(result, fn) -> tuple:
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"checkpoint: {_name(fn)} returned a {type(o).__name__} as output "
                            f"{k}; checkpointed functions return tensors")
    return outs


def _name(fn) -> str:
    return getattr(fn, "__name__", repr(fn))


def _forward(xp, *raw, fn, call):
    observing = observe_draws() if call.preserve_rng_state else contextlib.nullcontext({})
    with no_grad(), observing as drawn:  # nothing inside fn is kept: that is the point
        result = fn(*call.arguments(tuple(Tensor(r, call.device) for r in raw)))
    call.rng_states = drawn
    call.single = isinstance(result, Tensor)
    return tuple(o.data for o in _outputs(result, fn))


@contextlib.contextmanager
def _replaying(call):
    """Around a recomputation of ``fn``: its generators start where the forward pass found
    them, and every generator it changed ends where it was before (with
    ``preserve_rng_state``)."""
    if not call.preserve_rng_state:
        yield
        return
    before = {gen: gen.get_state() for gen in call.rng_states}
    for gen, state in call.rng_states.items():
        gen.set_state(state)
    try:
        with observe_draws() as drawn:
            yield
    finally:
        # generators drawn only now go back to their state before; the others to ``before``
        for gen, state in {**drawn, **before}.items():
            gen.set_state(state)


def _same_outputs(fn, outs, ans) -> None:
    """A recomputation must return what the forward pass did, in number, shape and dtype."""
    ans = tuple(ans)
    if len(outs) != len(ans):
        raise RuntimeError(f"checkpoint: {_name(fn)} returned {len(outs)} output(s) when "
                           f"recomputed, but {len(ans)} in the forward pass: {_SAME}")
    for k, (o, a) in enumerate(zip(outs, ans)):
        if o.shape != tuple(a.shape) or o.dtype != as_dtype(a.dtype):
            raise RuntimeError(
                f"checkpoint: {_name(fn)} returned output {k} with shape {o.shape} and dtype "
                f"{o.dtype.name} when recomputed, but shape {tuple(a.shape)} and dtype "
                f"{as_dtype(a.dtype).name} in the forward pass: {_SAME}")


_SAME = ("the function changed behaviour between the two calls; a checkpointed function must "
         "compute the same thing each time it is called (its random draws are replayed, other "
         "state that changes between the calls is not)")


def _vjp(xp, g, ans, *arrays, argnum, fn, call):
    if call.cache is None or call.cache[0] is not g:
        call.cache = (g, _recompute_and_pull_back(xp, g, ans, arrays, fn, call))
    grads = call.cache[1]
    if argnum == call.last_wanted:
        call.cache = None
    return grads[argnum]


def _recompute_and_pull_back(xp, g, ans, arrays, fn, call) -> list:
    """Gradients of every array argument: run ``fn`` again, recording, and pull ``g`` back.

    Under ``create_graph`` the arguments are tape tensors and the pull-back records, so the
    gradients depend on the arguments and on ``g`` (second derivatives); otherwise fresh
    leaves stand for the arguments and the results go back as raw arrays.
    """
    recording = isinstance(g[0], Tensor)
    if recording:
        inputs = list(arrays)
    else:
        inputs = [Tensor(a, call.device) for a in arrays]
        for x in inputs:
            if x.data.dtype in x.device.grad_dtypes:
                x.requires_grad_()
    with enable_grad(), _replaying(call):
        outs = _outputs(fn(*call.arguments(inputs)), fn)
    _same_outputs(fn, outs, ans)
    live = [(o, c if recording else Tensor(c, call.device)) for o, c in zip(outs, g)
            if o.requires_grad]
    wanted = [x for x in inputs if x.requires_grad]
    found = {}
    if live and wanted:
        grads = _reverse_grad([o for o, _ in live], wanted, [c for _, c in live],
                              create_graph=recording, allow_unused=True)
        found = {id(x): d for x, d in zip(wanted, grads) if d is not None}
    result = []
    for x, a in zip(inputs, arrays):
        d = found.get(id(x))
        if d is None:
            result.append(xp.zeros_like(a))
        else:
            result.append(d if recording else d.data)
    return result


def _jvp_rule(xp, t, ans, *arrays, argnum, fn, call):
    tangents = [t if k == argnum else xp.zeros_like(a) for k, a in enumerate(arrays)]
    positions = [k for k, a in enumerate(arrays) if a.data.dtype in a.device.grad_dtypes]

    def of_floats(*floats):
        full = list(arrays)
        for k, x in zip(positions, floats):
            full[k] = x
        return fn(*call.arguments(full))

    with _replaying(call):
        out, tangent_out = _jvp(of_floats, [arrays[k] for k in positions],
                                [tangents[k] for k in positions])
    _same_outputs(fn, out if isinstance(out, (tuple, list)) else (out,), ans)
    return tuple(tangent_out) if isinstance(tangent_out, (tuple, list)) else (tangent_out,)


_checkpointed = defprimitive("checkpoint", _forward, vjp=(_vjp,), jvp=(_jvp_rule,),
                             variadic=True, multi_output=True, register=False,
                             pure=False)  # it runs the user's function


def checkpoint(fn, *args, preserve_rng_state: bool = True):
    """Call ``fn(*args)`` keeping only its inputs for the backward pass, which runs it again.

    Parameters
    ----------
    fn : callable
        A function of ``args`` returning a tensor or a tuple of tensors. It must compute the
        same values when called again: random draws are replayed (see ``preserve_rng_state``),
        other state must not change between the calls.
    *args
        Its arguments: tensors (differentiated) and any other values (passed through).
    preserve_rng_state : bool
        True: the recomputation draws the same random numbers as the forward pass (the same
        dropout mask), from every generator ``fn`` drew from, and leaves each generator as it
        found it, so later draws are as without the checkpoint. False: it draws fresh numbers,
        advancing the generators (cheaper, and right for functions without randomness).

    Returns
    -------
    Tensor or tuple of Tensor
        What ``fn(*args)`` returns, with the same values.

    Gradients equal those of ``fn(*args)`` without the checkpoint: the backward pass runs the
    same operations on the same values. The memory that ``fn``'s intermediate values would hold
    until the backward pass is freed at once, at the cost of one more forward computation of
    ``fn``. Checkpoints nest, and work with ``create_graph=True`` and under ``jvp``. A
    recomputation returning other shapes or dtypes than the forward pass raises RuntimeError.
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: the first argument must be a function, got "
                        f"{type(fn).__name__}")
    if not any(is_array(a) for a in args):
        raise TypeError(f"checkpoint: {_name(fn)} needs at least one tensor argument")
    arrays = [a if isinstance(a, Tensor) else Tensor(a, device_of(a)) for a in args
              if is_array(a)]
    call = _Call(args, arrays, preserve_rng_state)
    outs = _checkpointed(*arrays, fn=fn, call=call)
    return outs[0] if call.single else outs
