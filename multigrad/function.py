"""User-defined functions with hand-written derivatives, in PyTorch's style.

``Function`` is a thin layer over ``defprimitive``: each subclass becomes one primitive (built on
first use, cached per class), and ``MyFn.apply(*args)`` goes through the same ``apply`` as every
multigrad op. So a user function records on the tape, frees its saved values, works on every
device, and runs its ``backward`` on tensors: written with multigrad functions, that backward
is itself differentiable, which gives higher-order derivatives under ``create_graph``.

    class Softplus(mg.Function):
        @staticmethod
        def forward(ctx, x):
            y = mg.logaddexp(x, 0.0)
            ctx.save_for_backward(x)
            return y

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * mg.sigmoid(x)

    y = Softplus.apply(x)

Under ``multigrad.vmap`` a Function runs once per example in a loop (with a warning), unless
it defines ``batch(batched, *args)``, its batching rule.
"""

from __future__ import annotations

from .autograd import Tensor, defprimitive, is_grad_enabled, no_grad
from .autograd._user_ops import check_array
from .backends import as_dtype, device_of, is_array

__all__ = ["Function", "FunctionCtx"]


class FunctionCtx:
    """What ``forward``, ``backward`` and ``jvp`` of one ``Function.apply`` call share.

    Attributes
    ----------
    needs_input_grad : tuple of bool
        One entry per argument of ``apply``: whether a gradient is wanted for it.
    """

    def __init__(self, name: str, args: tuple, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self._name = name
        # apply's arguments with None where an array goes (arrays travel through the engine)
        self._statics = tuple(None if is_array(a) else a for a in args)
        self._array_pos = tuple(k for k, a in enumerate(args) if is_array(a))
        first = args[self._array_pos[0]]
        self._device = first.device if isinstance(first, Tensor) else device_of(first)
        self._to_save = ()
        self._saved_specs = ()  # ("input", k) / ("output", k) / ("value", tensor)
        self._saved = None  # the saved tensors, resolved while backward or jvp runs
        self._non_differentiable = ()
        self._single = True
        self._cache = None  # (cotangent tuple, gradients) of the backward pass under way

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors for ``backward`` and ``jvp`` (call it in ``forward``, at most once).

        Save inputs and outputs themselves rather than values computed from them: those are
        tied back into the graph, so derivatives of ``backward`` reach the inputs (higher
        order); any other tensor is kept as a constant.
        """
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        """The tensors given to ``save_for_backward``, inside ``backward`` or ``jvp``."""
        if self._saved is None:
            raise RuntimeError(f"{self._name}: saved_tensors is available inside backward and "
                               "jvp, after forward called save_for_backward")
        return self._saved

    def mark_non_differentiable(self, *outputs) -> None:
        """Declare outputs (returned by ``forward``) that carry no gradient, such as indices."""
        self._non_differentiable = outputs

    # -- used by the primitive -------------------------------------------------------------
    def _arguments(self, arrays) -> list:
        """apply's arguments with the arrays (tensors here) put back in their places."""
        full = list(self._statics)
        for k, a in zip(self._array_pos, arrays):
            full[k] = a
        return full

    def _record(self, inputs, outputs) -> None:
        """After forward: remember how to find each saved tensor again without holding the
        input and output arrays (the tape holds those, and frees them after backward)."""
        def spec(t):
            if t is None:
                return ("value", None)
            for kind, group in (("input", inputs), ("output", outputs)):
                for k, u in enumerate(group):
                    if u is t:
                        return (kind, k)
            if not isinstance(t, Tensor):
                raise TypeError(f"{self._name}.forward: save_for_backward takes tensors (or "
                                f"None), got a {type(t).__name__}")
            return ("value", t.detach())
        self._saved_specs = tuple(spec(t) for t in self._to_save)
        self._to_save = ()
        self._non_differentiable = tuple(
            k for k, o in enumerate(outputs) if any(o is m for m in self._non_differentiable))

    def _resolve(self, arrays, ans) -> None:
        """The saved tensors for this backward or jvp: inputs and outputs as the rule got them
        (tape tensors under create_graph and in forward mode, raw arrays otherwise)."""
        def find(kind, k):
            if kind == "value":
                return k
            a = arrays[k] if kind == "input" else ans[k]
            return a if isinstance(a, Tensor) else Tensor(a, self._device)
        self._saved = tuple(find(kind, k) for kind, k in self._saved_specs)


def _as_tuple(result) -> tuple:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


class Function:
    """Base class of user-defined functions with hand-written derivatives.

    Subclass it with static methods

    - ``forward(ctx, *args)``: the computation on tensors (not recorded); returns a tensor or
      a tuple of tensors. Arguments that are not arrays (floats, strings...) pass through.
    - ``backward(ctx, *grads)``: one cotangent per output in, one gradient per argument of
      ``apply`` out (``None`` for "zero" or for a non-array argument). Written with multigrad
      functions, it is differentiable again under ``create_graph``.
    - ``jvp(ctx, *tangents)`` (optional, for forward mode): one tangent per argument in (zeros
      for arrays without one, ``None`` for non-arrays), one tangent per output out. It is
      called once per input carrying a tangent, and the results are summed (the JVP is
      linear). Without it the function cannot be used under ``multigrad.jvp``.
    - ``batch(batched, *args)`` (optional, for ``multigrad.vmap``): ``apply``'s arguments,
      those with ``batched[k]`` true holding the batch axis in front; returns
      ``(outputs, out_batched)``, the result(s) of the whole batch (usually from
      ``MyFunction.apply`` on the batched arrays) and whether each has the batch axis in
      front. Without it ``vmap`` runs the function once per example (warning once).

    and call it as ``MyFunction.apply(*args)``. ``ctx`` offers ``save_for_backward``,
    ``saved_tensors``, ``needs_input_grad`` and ``mark_non_differentiable``.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, *args):
        raise NotImplementedError("a Function subclass must define a static forward(ctx, ...)")

    @staticmethod
    def backward(ctx: FunctionCtx, *grads):
        raise NotImplementedError(f"{ctx._name} defines no backward(ctx, *grads)")

    jvp = None
    batch = None

    @classmethod
    def apply(cls, *args):
        """Run the function on ``args``, recording it for reverse and forward mode."""
        prim = cls.__dict__.get("_primitive")
        if prim is None:
            prim = _build_primitive(cls)
            cls._primitive = prim  # per class: a subclass of a subclass gets its own
        if not any(is_array(a) for a in args):
            raise TypeError(f"{prim.name}.apply: needs at least one tensor argument")
        recording = is_grad_enabled()
        needs = tuple(isinstance(a, Tensor) and a.requires_grad and recording for a in args)
        ctx = FunctionCtx(prim.name, args, needs)
        outs = prim(*(a for a in args if is_array(a)), ctx=ctx)
        outs = tuple(o.detach() if k in ctx._non_differentiable else o
                     for k, o in enumerate(outs))
        return outs[0] if ctx._single else outs


def _build_primitive(cls):
    """The primitive behind a ``Function`` subclass: variadic and multi-output, so one
    declaration fits any number of arguments and results."""
    name = cls.__name__

    def forward(xp, *raw, ctx):
        inputs = tuple(Tensor(r, ctx._device) for r in raw)
        with no_grad():
            result = cls.forward(ctx, *ctx._arguments(inputs))
        outputs = _as_tuple(result)
        for k, o in enumerate(outputs):
            check_array(o, f"{name}.forward: output {k}", ctx._device, tensor=True,
                        ref="the inputs", floating=False)
        ctx._single = isinstance(result, Tensor)
        ctx._record(inputs, outputs)
        return tuple(o.data for o in outputs)

    def vjp(xp, g, ans, *arrays, argnum, ctx):
        if ctx._cache is None or ctx._cache[0] is not g:
            ctx._cache = (g, _gradients(cls, ctx, xp, g, ans, arrays))
        grads = ctx._cache[1]
        if argnum == max(k for k, a in enumerate(arrays) if ctx.needs_input_grad[
                ctx._array_pos[k]]):
            ctx._cache = None  # the last input that wants a gradient: nothing more to serve
        return grads[argnum]

    def jvp(xp, t, ans, *arrays, argnum, ctx):
        tangents = [None] * len(ctx._statics)
        for k, (pos, a) in enumerate(zip(ctx._array_pos, arrays)):
            tangents[pos] = t if k == argnum else xp.zeros_like(a)
        ctx._resolve(arrays, ans)
        try:
            result = _as_tuple(cls.jvp(ctx, *tangents))
        finally:
            ctx._saved = None
        if len(result) != len(ans):
            raise ValueError(f"{name}.jvp returned {len(result)} tangent(s) but forward "
                             f"returned {len(ans)} output(s)")
        for k, (tangent, o) in enumerate(zip(result, ans)):
            if tangent is not None:
                check_array(tangent, f"{name}.jvp: the tangent of output {k}", o.device,
                            tensor=True, ref="the output", shape=o.shape, dtype=o.dtype)
        return result

    has_jvp = cls.jvp is not None
    return defprimitive(name, forward, vjp=(vjp,), jvp=(jvp,) if has_jvp else None,
                        variadic=True, multi_output=True, batch=_batching_rule(cls),
                        register=False, doc=cls.__doc__,
                        pure=False)  # the user's forward and backward


def _batching_rule(cls):
    """The primitive's rule for ``vmap``: the class's ``batch``, or ``apply`` once per
    example. Either way the function's own forward and backward run on plain arrays."""
    name = cls.__name__

    def batch(xp, arrays, batched, *, ctx):
        args = ctx._arguments(arrays)
        flags = [False] * len(args)
        for pos, b in zip(ctx._array_pos, batched):
            flags[pos] = b
        if cls.batch is not None:
            result, out_batched = cls.batch(tuple(flags), *args)
            outs = _as_tuple(result)
            if isinstance(out_batched, bool):
                out_batched = (out_batched,) * len(outs)
        else:
            from .batching import warn_loop
            warn_loop(name)
            size = next(a.shape[0] for a, b in zip(args, flags) if b)
            results = [_as_tuple(cls.apply(*(a[k] if b else a for a, b in zip(args, flags))))
                       for k in range(size)]
            outs = tuple(xp.stack(list(column), axis=0) for column in zip(*results))
            result, out_batched = (outs[0] if len(outs) == 1 else outs), (True,) * len(outs)
        ctx._single = isinstance(result, Tensor)
        return outs, tuple(out_batched)

    batch.vjp_batches = False  # its derivatives are the class's, run on plain arrays
    return batch


def _gradients(cls, ctx, xp, g, ans, arrays) -> tuple:
    """Run the user's backward once per pull-back and check what it returns: one gradient per
    array argument, each of that argument's shape, dtype and device (raw when ``g`` is)."""
    name = cls.__name__
    recording = isinstance(ans[0], Tensor)
    device = ctx._device
    cotangents = tuple(c if recording else Tensor(c, device) for c in g)
    ctx._resolve(arrays, ans)
    try:
        result = _as_tuple(cls.backward(ctx, *cotangents))
    finally:
        ctx._saved = None
    if len(result) != len(ctx._statics):
        raise ValueError(f"{name}.backward returned {len(result)} gradient(s) but apply got "
                         f"{len(ctx._statics)} argument(s): return one per argument (None "
                         "where there is none)")
    grads = []
    for pos, a in zip(ctx._array_pos, arrays):
        grad = result[pos]
        if grad is None:
            grads.append(xp.zeros_like(a))
            continue
        check_array(grad, f"{name}.backward: the gradient for input {pos}", device, tensor=True,
                    ref="the input", shape=tuple(a.shape), dtype=as_dtype(a.dtype))
        grads.append(grad if recording else grad.data)
    return tuple(grads)
