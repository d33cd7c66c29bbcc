"""Gradient checkpointing: trade recomputation for memory.

``checkpoint(fn, *args)`` is one primitive on the tape whose node keeps only the inputs of
``fn`` (and its result, which the next op keeps anyway); none of ``fn``'s intermediate values
stay alive. Its VJP rule runs ``fn`` again, recording, and pulls the cotangent back through that
fresh graph; its JVP rule pushes the tangent through ``fn`` with forward mode. Both rules are
ordinary rules of the engine, so checkpoints nest, work under ``create_graph`` (second
derivatives) and under ``jvp``.
"""

from __future__ import annotations

from .autograd import Tensor, defprimitive, enable_grad, is_grad_enabled, no_grad
from .autograd._backward import grad as _reverse_grad
from .transforms import jvp as _jvp
from .backends import device_of

__all__ = ["checkpoint"]


class _Call:
    """One ``checkpoint`` call: the non-array arguments, in place, and the output layout."""

    def __init__(self, args: tuple, arrays: list):
        self.statics = tuple(None if _is_array(a) else a for a in args)
        self.array_pos = tuple(k for k, a in enumerate(args) if _is_array(a))
        self.device = arrays[0].device
        self.single = True
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


def _is_array(a) -> bool:
    return isinstance(a, Tensor) or hasattr(a, "__array_namespace__")


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
    with no_grad():  # nothing inside fn is kept: that is the point
        result = fn(*call.arguments(tuple(Tensor(r, call.device) for r in raw)))
    call.single = isinstance(result, Tensor)
    return tuple(o.data for o in _outputs(result, fn))


def _vjp(xp, g, ans, *arrays, argnum, fn, call):
    if call.cache is None or call.cache[0] is not g:
        call.cache = (g, _recompute_and_pull_back(xp, g, arrays, fn, call))
    grads = call.cache[1]
    if argnum == call.last_wanted:
        call.cache = None
    return grads[argnum]


def _recompute_and_pull_back(xp, g, arrays, fn, call) -> list:
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
    with enable_grad():
        outs = _outputs(fn(*call.arguments(inputs)), fn)
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

    _, tangent_out = _jvp(of_floats, [arrays[k] for k in positions],
                          [tangents[k] for k in positions])
    return tuple(tangent_out) if isinstance(tangent_out, (tuple, list)) else (tangent_out,)


_checkpointed = defprimitive("checkpoint", _forward, vjp=(_vjp,), jvp=(_jvp_rule,),
                             variadic=True, multi_output=True, register=False)


def checkpoint(fn, *args):
    """Call ``fn(*args)`` keeping only its inputs for the backward pass, which runs it again.

    Parameters
    ----------
    fn : callable
        A function of ``args`` returning a tensor or a tuple of tensors. It must compute the
        same values when called again (no randomness drawn inside it, no changing state).
    *args
        Its arguments: tensors (differentiated) and any other values (passed through).

    Returns
    -------
    Tensor or tuple of Tensor
        What ``fn(*args)`` returns, with the same values.

    Gradients equal those of ``fn(*args)`` without the checkpoint: the backward pass runs the
    same operations on the same values. The memory that ``fn``'s intermediate values would hold
    until the backward pass is freed at once, at the cost of one more forward computation of
    ``fn``. Checkpoints nest, and work with ``create_graph=True`` and under ``jvp``.
    """
    if not callable(fn):
        raise TypeError(f"checkpoint: the first argument must be a function, got "
                        f"{type(fn).__name__}")
    if not any(_is_array(a) for a in args):
        raise TypeError(f"checkpoint: {_name(fn)} needs at least one tensor argument")
    arrays = [a if isinstance(a, Tensor) else Tensor(a, device_of(a)) for a in args
              if _is_array(a)]
    call = _Call(args, arrays)
    outs = _checkpointed(*arrays, fn=fn, call=call)
    return outs[0] if call.single else outs
