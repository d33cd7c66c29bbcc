"""Primitives: an op's forward computation with its derivative rules, and applying one.

``defprimitive`` declares an op once; ``apply`` is the hot path of the tape: it checks devices,
runs the forward on raw arrays with the device's namespace, records a ``Node`` when a gradient
is needed, and pushes forward-mode tangents through the JVP rules.
"""

from __future__ import annotations

import dis
import functools
import inspect
import itertools
import os
import sys

import numpy

from ..backends import device_of, is_array, joined_device, same_shape
from ._grad_mode import _state as _grad_state
from ._tensor import Node, Tensor
from ._user_ops import checked_op

__all__ = ["Primitive", "defprimitive", "LINEAR", "REGISTRY", "apply", "namespace",
           "set_namespace", "new_level", "set_batching"]


class _Linear:
    def __repr__(self):
        return "LINEAR"


#: JVP marker: the op is linear in this argument, so its JVP is the op applied to the tangent.
LINEAR = _Linear()

#: every primitive by name; the registry test checks each has a spec and complete rules
REGISTRY: dict[str, "Primitive"] = {}

_SCALARS = (int, float, complex, bool)
# what a node of an op called without parameters keeps: one shared dict rather than one per
# node (the engine never writes to a node's params; rules get them as fresh keywords)
_NO_PARAMS: dict = {}
_ns = None
_levels = itertools.count(1)
# run a primitive on batched arguments, and say when a batch goes first (multigrad.batching)
_apply_batched = _batch_first = None


def set_namespace(ns) -> None:
    """Register multigrad's own namespace, in which rules run when they must record."""
    global _ns
    _ns = ns


def namespace():
    """multigrad's array API namespace (rules run in it under ``create_graph``)."""
    return _ns


def set_batching(apply_batched, batch_first) -> None:
    """Register ``apply_batched(prim, args, params, level)``, which runs ``prim`` on arguments
    whose highest level is a ``vmap``'s (that level's entries in ``_tangents`` are its batch
    marks, objects that are not tensors, where forward mode keeps tangents), and
    ``batch_first(prim, args)``: the batch level to take apart before a forward-mode level
    whose JVP rules cannot run on batched tensors, or None."""
    global _apply_batched, _batch_first
    _apply_batched, _batch_first = apply_batched, batch_first


def _named_forward(name):
    """``forward(xp, *arrays, **params)`` calling the namespace's function ``name``."""
    def forward(xp, *arrays, **params):
        return getattr(xp, name)(*arrays, **params)
    forward.__name__ = forward.__qualname__ = name
    return forward


def _call_signature(forward, n_arrays, variadic):
    """The signature ``inspect`` and ``help`` show for calling an op: its ``n_arrays`` arrays
    (or a variadic op's ``*arrays``) positional-only, its static parameters keyword-only (as
    ``apply`` passes them), named as the forward names them after ``xp``. A forward named
    after a namespace function: the standard's ``x`` or ``x1, x2, ...``, and ``**params``
    unless NumPy's function of that name is a ufunc (whose arguments are all arrays; its
    ``nin`` counts them for an op without rules). None where the arrays are not known."""
    kinds = inspect.Parameter
    if isinstance(forward, str):
        nin = getattr(getattr(numpy, forward, None), "nin", None)
        n_arrays = nin if n_arrays is None else n_arrays
        if n_arrays is None or variadic:
            return None
        names = ["x"] if n_arrays == 1 else [f"x{k}" for k in range(1, n_arrays + 1)]
        params = [kinds(n, kinds.POSITIONAL_ONLY) for n in names]
        if nin != n_arrays:
            params.append(kinds("params", kinds.VAR_KEYWORD))
        return inspect.Signature(params)
    if variadic:
        n_arrays = 0  # its forward's *arrays
    elif n_arrays is None:
        return None
    try:
        params = list(inspect.signature(forward).parameters.values())[1:]
    except (TypeError, ValueError):  # a builtin without a signature
        return None
    positional = [p for p in params if p.kind in (kinds.POSITIONAL_ONLY,
                                                  kinds.POSITIONAL_OR_KEYWORD)]
    arrays = {p.name for p in positional[:n_arrays]}
    try:
        return inspect.Signature([
            p.replace(kind=kinds.POSITIONAL_ONLY) if p.name in arrays
            else p.replace(kind=kinds.KEYWORD_ONLY) if p.kind is kinds.POSITIONAL_OR_KEYWORD
            else p for p in params])
    except ValueError:  # an order a call cannot have (a keyword before *arrays)
        return None


def new_level() -> int:
    """A fresh forward-mode level; later (inner) transforms get higher levels."""
    return next(_levels)


class Primitive:
    """An op with its own derivative rules; call it like a function on tensors.

    Positional arguments are arrays (tensors, backend arrays or Python scalars); keyword
    arguments are static parameters passed unchanged to the forward and to every rule.
    """

    def __init__(self, name, forward, vjp, jvp, variadic, multi_output, changes_device, doc,
                 module, keep=None, pure=False, overwrite=None, batch=None):
        self.name = self.__name__ = self.__qualname__ = name
        if isinstance(forward, str):
            self.forward = _named_forward(forward)
            self.kernel_name = forward
        else:
            self.forward = forward
            self.kernel_name = None
        # the namespace function the forward equals on arrays that are not complex (a forward
        # that refuses or fixes complex input), which compile's recorder calls in its place
        self.real_kernel_name = getattr(forward, "real_kernel", None)
        # namespace -> the forward as one callable on arrays (see ``kernel``)
        self.kernels = {}
        self.vjp = vjp
        self.jvp = jvp
        self.variadic = variadic
        self.multi_output = multi_output
        self.changes_device = changes_device
        # what a node keeps for the VJP rules (see defprimitive's keep): the positions of the
        # arrays kept (None: every one), and whether the output is
        self.keep_args = None if keep is None else frozenset(k for k in keep if k != "ans")
        self.keep_ans = keep is None or "ans" in keep or multi_output
        self.pure = pure  # see defprimitive
        self.overwrite = overwrite
        # the batching rule vmap runs (see defprimitive); None: a loop over the batch
        self.batch = batch
        self.__doc__ = doc
        self.__module__ = module

    @property
    def differentiable(self) -> bool:
        return self.vjp is not None

    def vjp_rule(self, argpos):
        return self.vjp[0 if self.variadic else argpos]

    def jvp_rule(self, argpos):
        return self.jvp[0 if self.variadic else argpos]

    def kernel(self, xp):
        """The forward on raw arrays of namespace ``xp``, as ``kernel(*arrays, **params)``: the
        namespace's own function for a forward declared by name, so applying the op costs no
        Python frame of ours; made once per namespace."""
        kernel = (getattr(xp, self.kernel_name) if self.kernel_name is not None
                  else functools.partial(self.forward, xp))
        self.kernels[xp] = kernel
        return kernel

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"


def defprimitive(name, forward, vjp=None, jvp=None, *, variadic=False, multi_output=False,
                 changes_device=False, keep=None, batch=None, doc=None, register=None,
                 pure=None, overwrite=None) -> Primitive:
    """Declare an op with its forward computation and derivative rules.

    Parameters
    ----------
    name : str
        The op's name (the array API spec's name where it has one).
    forward : callable or str
        ``forward(xp, *arrays, **params)`` on raw arrays of namespace ``xp``; or the name of the
        namespace's function that is the forward (``"tanh"``), which is also the fastest.
    vjp : tuple of callables or None, optional
        One rule per array argument, ``rule(xp, g, ans, *arrays, **params)`` returning the
        cotangent of that argument (broadcast dimensions are summed by the engine); ``None`` in
        the tuple means a zero derivative. ``vjp=None`` declares the op non-differentiable
        (its results never carry gradients).
    jvp : tuple of callables or None, optional
        One rule per array argument, ``rule(xp, t, ans, *arrays, **params)`` returning that
        argument's contribution to the output tangent; ``LINEAR`` means the op applied with the
        tangent in that argument's place.
    variadic : bool
        The op takes any number of arrays (``concat``); the rules tuples hold one rule, called
        with the keyword ``argnum`` giving the position.
    multi_output : bool
        The forward returns a tuple of arrays; ``g``, ``ans`` and JVP results are tuples too.
    changes_device : bool
        The result lives on the ``Device`` given as the parameter ``device`` (moves between
        devices), not on the inputs' device.
    keep : tuple or None
        What the VJP rules read, so that a node keeps only that: positions of array arguments
        and ``"ans"`` for the output (``("ans",)`` for ``tanh``, ``()`` for ``add``). The
        rules get ``None`` in place of what is not kept; the engine keeps every argument's
        shape and dtype itself. ``None`` (the default): multigrad's own ops keep what their
        rules' code reads (``rules_read``); users' ops keep everything.
    batch : callable or None
        The batching rule ``multigrad.vmap`` runs, ``batch(xp, args, batched, **params)``:
        ``args`` are the arguments with the batch axis in front where ``batched[k]`` (a bool
        per argument) says so; it returns ``(out, out_batched)``, the result (a tuple with
        ``multi_output``) and whether it (each of them) has the batch axis in front. Written
        against ``xp`` like the other rules. ``None``: ``vmap`` runs the op once per example
        in a loop (warning once). multigrad's own ops get theirs from
        ``multigrad.ops._batching``.
    register : bool or None
        Add the op to ``REGISTRY``, whose ops must declare both modes and have a test spec.
        ``None`` (the default) registers the ops declared inside the multigrad package and
        leaves users' own ops out, so their names never clash with multigrad's.
    pure : bool or None
        The forward computes its result from its arguments alone and changes nothing else, so
        a compiled program may drop it when nobody reads its result, run it once for two
        identical calls, or capture it into a CUDA graph. ``None`` (the default): multigrad's
        own ops are pure; users' ops are not (a compiled step runs their Python every time).
    overwrite : callable or None
        The forward, allowed to write its result into its first array argument (which it
        would otherwise copy: ``setitem``): a compiled program calls it where nothing reads
        that array afterwards.

    Notes
    -----
    Rules are written against ``xp`` only, so the same text runs on raw arrays (first-order
    backward) and on tensors with multigrad's namespace (higher order). A user op (not
    registered) may leave out ``jvp``; using it under ``jvp`` then raises an error naming it.

    An op declared outside multigrad has its forward and rules checked each time they run:
    one rule per array argument; a forward returning one array (a tuple of them with
    ``multi_output``) of its inputs' library and device; rules returning a floating-point
    array of their argument's library and device (a multigrad tensor under ``create_graph``
    and in forward mode), never None, of a shape that sums back to the argument's (VJP) or
    broadcasts to the output's (JVP). Anything else raises TypeError or ValueError naming the
    op, the argument and what was expected.
    """
    module = inspect.currentframe().f_back.f_globals.get("__name__", __name__)
    internal = module == "multigrad" or module.startswith("multigrad.")
    if register is None:
        register = internal
    if vjp is not None and jvp is None and register:
        raise ValueError(f"primitive {name!r} has a VJP but no JVP rule: declare both modes")
    n_rules = len(vjp) if vjp is not None else None
    if vjp is not None and jvp is not None and len(jvp) != n_rules:
        raise ValueError(f"primitive {name!r}: {n_rules} VJP rule(s) but {len(jvp)} JVP rule(s)")
    if variadic and vjp is not None and n_rules != 1:
        raise ValueError(f"variadic primitive {name!r} takes exactly one VJP and one JVP rule")
    vjp = None if vjp is None else tuple(vjp)
    jvp = None if jvp is None else tuple(jvp)
    signature = _call_signature(forward, n_rules, variadic)
    if not internal:
        # users' code is checked where it hands the engine a result; multigrad's own ops,
        # the ones on every hot path, are not wrapped
        forward, vjp, jvp = checked_op(name, forward, vjp, jvp, variadic, multi_output,
                                       changes_device, LINEAR)
    if keep is not None and not all(k == "ans" or type(k) is int for k in keep):
        raise ValueError(f"primitive {name!r}: keep holds argument positions and 'ans', "
                         f"got {keep!r}")
    if keep is None and internal and vjp is not None:
        keep = rules_read(vjp)
    if batch is not None and not callable(batch):
        raise TypeError(f"primitive {name!r}: batch must be a batching rule (a callable) or "
                        f"None, got {type(batch).__name__}")
    prim = Primitive(name, forward, vjp, jvp, variadic, multi_output, changes_device, doc,
                     module, keep, internal if pure is None else pure, overwrite, batch)
    if signature is not None:
        prim.__signature__ = signature
    if register:
        if name in REGISTRY:
            raise ValueError(f"a primitive named {name!r} is already registered")
        REGISTRY[name] = prim
    return prim


def rules_read(rules) -> tuple | None:
    """What VJP rules ``rule(xp, g, ans, *arrays, **params)`` read, from their code: the
    positions of the arrays whose names they load (or pass on, or close over) and ``"ans"``;
    None when one reads its arrays as ``*arrays`` (all of them then). Conservative: a name a
    rule loads counts as read, whatever it does with it."""
    kept = set()
    for rule in rules:
        if rule is None:
            continue
        code = getattr(rule, "__code__", None)
        if code is None:
            return None
        named = code.co_varnames[:code.co_argcount]
        loaded = set(code.co_cellvars)  # names an inner function closes over
        for ins in dis.get_instructions(code):
            if ins.opname.startswith("LOAD"):
                loaded.update(ins.argval if isinstance(ins.argval, tuple) else (ins.argval,))
        if code.co_flags & inspect.CO_VARARGS:
            star = code.co_varnames[code.co_argcount + code.co_kwonlyargcount]
            if star in loaded:
                return None
        kept.update(k - 3 for k, n in enumerate(named) if k >= 3 and n in loaded)
        if len(named) > 2 and named[2] in loaded:
            kept.add("ans")
    return tuple(sorted(kept, key=str))


def _as_tensor(a, prim, position: int) -> Tensor:
    """A raw backend array met among the arguments: treat it as a constant tensor."""
    if is_array(a):
        try:
            return Tensor(a, device_of(a))
        except TypeError:
            pass
    hint = (" (make one with multigrad.asarray(...))"
            if isinstance(a, (list, tuple, range)) else "")
    raise TypeError(f"{prim.name}: argument {position} is a {type(a).__name__}; expected a "
                    f"tensor, an array or a Python scalar{hint}")


def apply(prim: Primitive, *args, **params):
    """Run ``prim`` on ``args``: forward, then record and push tangents where needed.

    This is ``Primitive.__call__`` itself (one Python frame per op, not two).
    """
    device = None
    raw = list(args)
    edges = None
    tangents = False
    for i, a in enumerate(args):
        if not isinstance(a, Tensor):
            if a is None or isinstance(a, _SCALARS):
                continue
            a = _as_tensor(a, prim, i)
        if device is None:
            device = a.device
        elif a.device is not device:
            device = joined_device(prim.name, device, a.device)
        raw[i] = a.data
        if a.requires_grad:
            # the argument's shape and dtype: its cotangent is summed and cast back to them,
            # also when the node keeps no value of it
            edge = ((i, a._node, a._index, a.data.shape, a.data.dtype),)
            edges = edge if edges is None else edges + edge
        if a._tangents is not None:
            tangents = True
    if device is None:
        raise TypeError(f"{prim.name}: needs at least one array argument, got only "
                        f"{', '.join(type(a).__name__ for a in args) or 'none'}")
    if tangents:
        return _apply_jvp(prim, args, params)
    if params and "out" in params:
        raise TypeError(f"{prim.name}: multigrad functions take no out= argument (the array "
                        "API standard has none, and a result written into another array "
                        "could change values the tape saved); use the returned tensor")

    kernel = prim.kernels.get(device.xp)
    if kernel is None:
        kernel = prim.kernel(device.xp)
    try:
        if _grad_state.recorder is not None:  # multigrad.compile is recording a step
            out = _grad_state.recorder.run(prim, kernel, device, raw, params)
        # the common arities by position: a call unpacking a list and a dict costs about
        # 100 ns more, on every op
        elif params or len(raw) > 2:
            out = kernel(*raw, **params)
        elif len(raw) == 2:
            out = kernel(raw[0], raw[1])
        else:
            out = kernel(raw[0])
    except (ValueError, IndexError) as err:  # free on the hot path until something raises
        better = _explain(prim, err, lambda: "cannot apply to arguments of shapes " + ", ".join(
            str(tuple(a.shape)) if hasattr(a, "shape") else repr(a) for a in raw))
        if better is err:
            raise
        raise better from err
    if prim.changes_device:
        device, in_device = params["device"], device

    if edges is None or prim.vjp is None or not _grad_state.enabled:
        if prim.multi_output:
            return tuple(Tensor(o, device) for o in out)
        return Tensor(out, device)

    keep = prim.keep_args
    if keep is not None:  # only what the rules read: None for the arrays they do not
        raw = [r if i in keep or r is None or type(r) in _SCALARS else None
               for i, r in enumerate(raw)]
    node = Node(prim, tuple(raw), params or _NO_PARAMS, out if prim.keep_ans else None,
                edges, in_device if prim.changes_device else device)
    if _grad_state.anomaly:
        node.site = _user_call_site()
    grad_dtypes = device.grad_dtypes
    if prim.multi_output:
        return tuple(Tensor(o, device, True, node, k) if o.dtype in grad_dtypes
                     else Tensor(o, device) for k, o in enumerate(out))
    if out.dtype in grad_dtypes:
        return Tensor(out, device, True, node)
    return Tensor(out, device)


# calling a primitive is applying it; one Python frame per op on the tape's hot path
Primitive.__call__ = apply

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_call_site() -> str:
    """``file:line`` of the innermost caller outside the multigrad package (anomaly mode)."""
    frame = sys._getframe(2)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR):
        frame = frame.f_back
    return "an unknown place" if frame is None else f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _explain(prim: Primitive, err: Exception, context) -> Exception:
    """A backend's error ("operands could not be broadcast together", NumPy's AxisError...)
    of the same type, naming the op and ``context()`` (what failed, on which shapes);
    multigrad's own errors and messages naming the op pass through."""
    if type(err).__module__.startswith("multigrad") or str(err).startswith(f"{prim.name}:"):
        return err
    message = f"{prim.name}: {context()}: {err}"
    try:
        return type(err)(message)
    except Exception:  # a type whose constructor takes other arguments
        return ValueError(message) if isinstance(err, ValueError) else IndexError(message)


# -- forward mode ---------------------------------------------------------------------------------

def _strip(a: Tensor, level: int) -> Tensor:
    """An alias of ``a`` without its tangent at ``level`` (same data, same tape identity)."""
    alias = Tensor(a.data, a.device, a.requires_grad, a._node, a._index)
    rest = {k: v for k, v in a._tangents.items() if k != level}
    alias._tangents = rest or None
    return alias


def _apply_jvp(prim: Primitive, args: tuple, params: dict):
    """Apply ``prim`` to arguments carrying tangents: the highest level first.

    The primal comes from applying ``prim`` to the arguments without that level's tangents
    (which handles lower levels and recording); the tangent from the JVP rules, run in
    multigrad's namespace on those same stripped arguments, so they are recorded and carry the
    lower levels' tangents in turn.
    """
    level = max(k for a in args if isinstance(a, Tensor) and a._tangents for k in a._tangents)
    mark = next(a._tangents[level] for a in args
                if isinstance(a, Tensor) and a._tangents and level in a._tangents)
    if not isinstance(mark, Tensor):  # a vmap's level: batch the op rather than differentiate
        return _apply_batched(prim, args, params, level)
    if _batch_first is not None:
        first = _batch_first(prim, args)
        if first is not None:
            return _apply_batched(prim, args, params, first)
    stripped = tuple(_strip(a, level) if isinstance(a, Tensor) and a._tangents
                     and level in a._tangents else a for a in args)
    if prim.jvp is None and prim.vjp is not None:
        raise NotImplementedError(f"{prim.name}: has a reverse-mode (VJP) rule but no "
                                  "forward-mode (JVP) rule, so it cannot be used under jvp; "
                                  "declare jvp= (or a jvp method on the Function)")
    out = apply(prim, *stripped, **params)
    if prim.jvp is None:
        return out
    outs = out if prim.multi_output else (out,)
    if not any(o.data.dtype in o.device.grad_dtypes for o in outs):
        return out

    total = [None] * len(outs)
    for i, a in enumerate(args):
        if not (isinstance(a, Tensor) and a._tangents and level in a._tangents):
            continue
        rule = prim.jvp_rule(i)
        if rule is None:
            continue
        t = a._tangents[level]
        extra = {"argnum": i} if prim.variadic else {}
        if rule is LINEAR:
            swapped = stripped[:i] + (t,) + stripped[i + 1:]
            contrib = apply(prim, *swapped, **params)
        else:
            contrib = rule(_ns, t, out, *stripped, **params, **extra)
        contrib = contrib if prim.multi_output else (contrib,)
        for k, c in enumerate(contrib):
            if c is not None:
                total[k] = c if total[k] is None else total[k] + c

    for o, t in zip(outs, total):
        if t is None or o.data.dtype not in o.device.grad_dtypes:
            continue
        if t.data.shape != o.data.shape and not same_shape(t.data.shape, o.data.shape):
            t = _ns.broadcast_to(t, o.shape)  # raw shapes and dtypes: cheaper than properties
        if t.data.dtype != o.data.dtype:
            t = _ns.astype(t, o.dtype)
        o._tangents = dict(o._tangents or ())
        o._tangents[level] = t
    node = outs[0]._node
    if node is not None and _made_by(node, prim, outs[0]):
        # the outermost level finishes last, so the node ends up with every level's tangents
        node.tangents = (tuple(a._tangents if isinstance(a, Tensor) else None for a in args),
                         tuple(o._tangents for o in outs))
    return out


def _made_by(node, prim: Primitive, out: Tensor) -> bool:
    """Whether ``node`` is this application of ``prim``: its own node, or the node vmap
    records for it on batched values (``batched_of``); not a node of ``prim`` that a batching
    rule ran on the batch's whole arrays, whose arguments carry no batch marks."""
    made = getattr(node, "prim", None)
    if made is prim:
        return not any(not isinstance(v, Tensor) for v in (out._tangents or {}).values())
    return made is not None and getattr(made, "batched_of", None) is prim

