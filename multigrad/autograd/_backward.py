"""Reverse mode: pull cotangents back over the tape.

The walk is iterative (a million-node chain needs no recursion), visits nodes in reverse
topological order (so diamonds and reused values sum their cotangents before going on), sums
broadcast dimensions back to each input's shape, and frees saved values unless asked to retain
them. With ``create_graph`` the rules run on tensors in multigrad's namespace, recording, so the
result can be differentiated again.
"""

from __future__ import annotations

import operator
import threading

from . import _record
from ._grad_mode import _state as _grad_state, set_grad_enabled
from ._primitive import _SCALARS, _explain, namespace
from ..backends import as_dtype, device_of, is_lazy_array, same_shape
from ._tensor import LeafNode, Tensor, _RetainGrad, check_like

__all__ = ["AnomalyError", "backward", "grad"]


class AnomalyError(FloatingPointError):
    """In anomaly mode, a backward pass produced nan or inf (the message names the op)."""

_FREED = ("the graph was freed by an earlier backward pass; pass retain_graph=True to the first "
          "backward (or autograd.grad) to run backward through the same graph again")


def backward(outputs, seeds=None, retain_graph=None, create_graph=False) -> None:
    """Accumulate gradients of ``outputs`` into the ``.grad`` of the leaves they depend on."""
    roots, cts = _roots(outputs, seeds, "backward")
    # a step that multigrad.compile records runs its rules on tensors, so that the recorder
    # sees each of their kernels (recorded on the tape only when create_graph asks)
    _run(roots, cts, None, create_graph if retain_graph is None else retain_graph,
         create_graph or _record.active() is not None, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
        What to differentiate; the gradients of several outputs are summed.
    inputs : Tensor or sequence of Tensor
        Tensors (leaves or intermediate results) to differentiate with respect to.
    grad_outputs : Tensor or sequence of Tensor, optional
        Seeds, one per output; needed for outputs with more than one element.
    retain_graph : bool, optional
        Keep the graph for another backward pass; defaults to ``create_graph``.
    create_graph : bool
        Record the computation, so the result can be differentiated again.
    allow_unused : bool
        Return ``None`` for an input the outputs do not depend on, instead of raising.

    Returns
    -------
    tuple of Tensor
        One gradient per input, of that input's shape, dtype and device. ``.grad`` is untouched.
    """
    return pull_back_to(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                        record=create_graph)


def pull_back_to(outputs, inputs, grad_outputs, retain_graph, create_graph, allow_unused,
                 record):
    """``grad``, where ``create_graph`` runs the rules on tensors and ``record`` says whether
    they are recorded: the transforms run them unrecorded when an enclosing ``jvp`` needs only
    the tangents flowing through them, and nothing will differentiate them in reverse."""
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    targets = {}
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"grad: input {k} is a {type(x).__name__}, not a Tensor")
        if not x.requires_grad:
            reason = (f"its dtype {x.dtype.name} is not floating-point"
                      if x.data.dtype not in x.device.grad_dtypes else
                      "call requires_grad_() on it before computing the outputs")
            raise ValueError(f"grad: input {k} does not require gradients ({reason})")
        targets.setdefault((x._node, x._index), []).append(k)
    roots, cts = _roots(outputs, grad_outputs, "grad")
    captured = _run(roots, cts, targets, create_graph if retain_graph is None else retain_graph,
                    create_graph or _record.active() is not None, record)
    result = []
    for k, x in enumerate(inputs):
        g = captured.get((x._node, x._index))
        if g is None:
            if not allow_unused:
                raise ValueError(f"grad: the outputs do not depend on input {k}; pass "
                                 "allow_unused=True to get None for it")
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else _wrap(g, x.device))
    return tuple(result)


def _wrap(g, device):
    """A raw cotangent as a tensor of ``device``, or of its Dask device when it is lazy and
    ``device`` is not (the gradient of a host tensor that met Dask arrays)."""
    if not device.lazy and is_lazy_array(g):
        return Tensor(g, device_of(g))
    return Tensor(g, device)


def _roots(outputs, seeds, caller):
    """Check outputs and seeds; return the tape positions and raw-or-tensor cotangents."""
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    if seeds is None or isinstance(seeds, Tensor):
        seeds = [seeds] * len(outputs) if seeds is None else [seeds]
    seeds = list(seeds)
    if len(seeds) != len(outputs):
        raise ValueError(f"{caller}: {len(outputs)} outputs but {len(seeds)} seeds")
    roots, cts = [], []
    for k, (y, s) in enumerate(zip(outputs, seeds)):
        if not isinstance(y, Tensor):
            raise TypeError(f"{caller}: output {k} is a {type(y).__name__}, not a Tensor")
        if not y.requires_grad:
            raise RuntimeError(f"{caller}: output {k} does not require gradients: it was not "
                               "computed from a tensor with requires_grad=True while grad mode "
                               "was on")
        if s is None:
            if y.size != 1:
                raise RuntimeError(f"{caller}: output {k} has shape {y.shape}; a seed (a "
                                   "cotangent of that shape) is needed for a non-scalar output")
            if y.dtype.kind == "complex floating":
                raise TypeError(f"{caller}: output {k} is complex ({y.dtype.name}); a gradient "
                                "is defined for a real output: differentiate mg.real(y), "
                                "mg.abs(y) ** 2 or another real function of it, or pass a "
                                "seed (a cotangent) for a vector-Jacobian product")
            s = Tensor(_record.created(y.device.xp.ones_like(y.data)), y.device)
        else:
            check_like(caller, f"seed {k}", "output", s, y)
        roots.append((y._node, y._index))
        cts.append(s)
    return roots, cts


def _toposort(nodes):
    """Nodes reachable from ``nodes``, each before all of its parents.

    Collects the reachable nodes (a loop over a growing list: no recursion, so a graph of a
    million ops works), then sorts them newest first: a node is made after its parents.
    """
    found = list(nodes)
    seen = set(found)
    for node in found:  # the list grows while it is walked
        if node.args is None:
            raise RuntimeError(_FREED)
        for edge in node.edges:
            parent = edge[1]
            if parent not in seen:
                seen.add(parent)
                found.append(parent)
    found.sort(key=_creation_number, reverse=True)
    return found


_creation_number = operator.attrgetter("seq")


def _leading_to(order, targets):
    """The nodes of ``order`` from which a target can be reached: ``grad`` runs no rule (and
    no hook) beyond its inputs, which matters when they are intermediate results."""
    wanted = {node for node, _ in targets}
    useful = set()
    for node in reversed(order):  # parents before children
        if node in wanted or any(edge[1] in useful for edge in node.edges):
            useful.add(node)
    return [node for node in order if node in useful]


def _add(pending, node, index, ct):
    """Sum a cotangent into the pending ones of ``node``'s output ``index`` (never in place)."""
    if index is None:
        prev = pending.get(node)
        pending[node] = ct if prev is None else prev + ct
    else:
        slots = pending.get(node)
        if slots is None:
            slots = pending[node] = [None] * len(node.ans)
        slots[index] = ct if slots[index] is None else slots[index] + ct


def _unbroadcast(xp, ct, shape, device=None):
    """Sum a cotangent over the dimensions that broadcasting added or stretched (a raw one by
    ``device``'s fastest way, when those are the leading dimensions: a bias's gradient)."""
    if ct.ndim < len(shape):
        return xp.broadcast_to(ct, shape)
    lead = ct.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + k for k, n in enumerate(shape)
                                      if n == 1 and ct.shape[lead + k] != 1)
    if axes:
        if device is not None and axes[-1] == len(axes) - 1:
            ct = device.sum_leading(ct, len(axes))
        else:
            ct = xp.sum(ct, axis=axes)
    # a reshape to the same shape is a view, which a leaf's .grad would then have to copy;
    # unknown sizes (Dask's nan) match without a compute
    return ct if same_shape(ct.shape, shape) else xp.reshape(ct, shape)


def _as_tensors(node):
    """The node's saved arguments and output as tensors wired into the tape (create_graph)."""
    device = node.device
    parents = {argpos: (pnode, pidx) for argpos, pnode, pidx, _, _ in node.edges}
    args = []
    for i, r in enumerate(node.args):
        # Python scalars by exact type: a 0-d NumPy result (numpy.float64) subclasses float but
        # came from a tensor, and may carry tangents or need gradients
        if r is None or type(r) in _SCALARS:  # None: an array the rules do not read
            args.append(r)
        elif i in parents:
            args.append(Tensor(r, device, True, *parents[i]))
        else:
            args.append(Tensor(r, device))
    if node.ans is None:  # the rules do not read the output
        outs = []
    else:
        out_device = node.params["device"] if node.prim.changes_device else device
        outs = [Tensor(a, out_device, a.dtype in out_device.grad_dtypes, node, k)
                for k, a in enumerate(node.ans if node.prim.multi_output else (node.ans,))]
    if node.tangents is not None:  # recorded inside jvp: the rules must carry those tangents
        arg_tangents, out_tangents = node.tangents
        for a, tangents in zip(args, arg_tangents):
            if isinstance(a, Tensor):
                a._tangents = tangents
        for o, tangents in zip(outs, out_tangents):
            o._tangents = tangents
    if not outs:
        return args, None
    if node.prim.multi_output:
        return args, tuple(outs)
    outs[0]._index = None
    return args, outs[0]


def _zeros_for(xp, node, slots, create_graph):
    """Fill the outputs of a multi-output node that got no cotangent with zeros."""
    filled = []
    for s, a in zip(slots, node.ans):
        if s is None:
            z = _record.created(node.device.xp.zeros_like(a))
            s = Tensor(z, node.device) if create_graph else z
        filled.append(s)
    return tuple(filled)


def _run(roots, cts, targets, retain_graph, create_graph, record):
    """The reverse pass. Accumulates into leaves' ``.grad`` when ``targets`` is None (all of
    them after the walk, so that a walk cut short changes none), else returns
    ``{(node, index): cotangent}`` for the targets and leaves ``.grad`` alone.
    ``create_graph`` runs the rules on tensors, recorded on the tape only with ``record``."""
    ns = namespace()
    anomaly = _grad_state.anomaly
    pending = {}
    for k, ((node, index), s) in enumerate(zip(roots, cts)):
        if anomaly and not _finite(s.device, s.data):
            raise AnomalyError(f"detect_anomaly: seed {k} of the backward pass holds nan or inf")
        _add(pending, node, index, s if create_graph else s.data)
    order = _toposort(list(dict.fromkeys(node for node, _ in roots)))
    if targets is not None:
        order = _leading_to(order, targets)
    captured = {}
    fresh = set()  # leaves whose pending cotangent is a new array that nothing else holds
    # (leaf node or retain_grad hook, cotangent, fresh) for each .grad to update, once the walk
    # is through: an error or an interrupt in a rule or hook leaves every .grad as it was
    commits = [] if targets is None else None
    with set_grad_enabled(record):
        for node in order:
            g = pending.pop(node, None)
            if g is None:
                continue
            if node.hooks is not None:
                g = _run_hooks(node, g, create_graph, commits)
                fresh.discard(node)  # a hook may return an array its caller keeps
            if targets is not None:
                if type(node) is LeafNode:
                    if (node, None) in targets:
                        captured[(node, None)] = g
                    continue
                for k in (range(len(g)) if isinstance(g, list) else (None,)):
                    if (node, k) in targets:
                        captured[(node, k)] = g[k] if k is not None else g
            elif type(node) is LeafNode:
                commits.append((node, g, node in fresh))
                continue
            _pull_back(node, g, pending, fresh, ns, create_graph, anomaly)
            if not retain_graph:
                node.args = node.ans = None
                node.edges = ()
        if commits:
            with _grad_lock:
                for holder, g, owned in commits:
                    _accumulate(holder, g, create_graph, owned)
    return captured


# The ``.grad`` updates of a pass are read, summed and written back under this lock, so that
# backward passes of several threads into a shared leaf add up exactly (uncontended, it costs
# about 50 ns a pass).
_grad_lock = threading.Lock()


def _accumulate(leaf, g, create_graph, fresh=False):
    # the private slot: the engine's gradients are right by construction, so they skip the
    # checks of the public .grad setter
    t = leaf.ref()
    if t is None:
        return
    if not create_graph and not t.device.lazy and (
            is_lazy_array(g) or (t._grad is not None and t._grad.device.lazy)):
        _accumulate_lazy(t, g)  # a lazy gradient, or one added to a pending lazy .grad
        return
    if t._grad is None:
        # The first cotangent may be the caller's seed or shared with another leaf (add passes
        # one array to both inputs): unless it is ``fresh`` (see _unshared), .grad gets its
        # own copy (its own Tensor under create_graph), so updating one leaf's .grad never
        # changes another's or the seed.
        if create_graph:
            t._grad = Tensor(g.data, g.device, g.requires_grad, g._node, g._index)
            t._grad._tangents = g._tangents
        else:
            t._grad = Tensor(g if fresh else t.device.xp.asarray(g, copy=True), t.device)
    elif create_graph:
        t._grad = t._grad + g
    else:
        t._grad = Tensor(t._grad.data + g, t.device)


def _accumulate_lazy(t, g):
    """A host leaf's gradient that is a Dask array: kept lazily, on the Dask device, until
    ``multigrad.compute`` or a read of ``.grad`` computes it (``_lazy``)."""
    from ._lazy import add_pending
    prev = t._grad
    total = g if prev is None else prev.data + g
    t._grad = Tensor(total, device_of(total))
    add_pending(t)


def _pull_back(node, g, pending, fresh, ns, create_graph, anomaly):
    """Run the VJP rules of one node and pass the cotangents on to its parents.

    ``fresh`` collects the leaves whose pending cotangent is a new array held nowhere else,
    which their ``.grad`` may then take without a copy.
    """
    prim = node.prim
    if create_graph:
        xp = ns
        args, ans = _as_tensors(node)
    else:
        xp = node.device.xp
        args, ans = node.args, node.ans
    if isinstance(g, list):
        g = _zeros_for(xp, node, g, create_graph)
    params = node.params
    rules, variadic = prim.vjp, prim.variadic
    for argpos, pnode, pidx, shape, dtype in node.edges:
        rule = rules[0 if variadic else argpos]
        if rule is None:
            continue
        try:
            if variadic:
                ct = rule(xp, g, ans, *args, argnum=argpos, **params)
            elif params or len(args) > 2:
                ct = rule(xp, g, ans, *args, **params)
            elif len(args) == 2:  # the common arities by position: see apply
                ct = rule(xp, g, ans, args[0], args[1])
            else:
                ct = rule(xp, g, ans, args[0])
        except (ValueError, IndexError) as err:  # free until something raises
            better = _explain(prim, err, lambda: f"its derivative for argument {argpos} (of "
                                                 f"shape {tuple(shape)}) failed")
            if better is err:
                raise
            raise better from err
        if create_graph:  # a tensor: its raw array's shape and dtype are the edge's kind
            if ct.data.shape != shape and not same_shape(ct.data.shape, shape):
                ct = _unbroadcast(xp, ct, tuple(shape))
            if ct.data.dtype != dtype:
                ct = _cast_back(xp, ct, as_dtype(dtype))
        else:
            if ct.shape != shape and not same_shape(ct.shape, shape):
                ct = _unbroadcast(xp, ct, shape, node.device)
            if ct.dtype is not dtype and ct.dtype != dtype:
                ct = _cast_back(xp, ct, dtype)
        if anomaly and not _finite(node.device, ct.data if create_graph else ct):
            site = getattr(node, "site", None)
            where = (f"called at {site}" if site is not None else "its call site was not "
                     "recorded: the forward pass ran outside detect_anomaly()")
            raise AnomalyError(f"detect_anomaly: the backward of {prim.name} ({where}) produced "
                               f"nan or inf in the gradient of its argument {argpos}")
        if type(pnode) is LeafNode and not create_graph:
            # a second cotangent makes the pending one a new sum
            if pnode in pending or _unshared(ct, g, node):
                fresh.add(pnode)
            else:
                fresh.discard(pnode)
        if pidx is None:  # _add's common case, inline: this runs once per edge of the graph
            prev = pending.get(pnode)
            pending[pnode] = ct if prev is None else prev + ct
        else:
            _add(pending, pnode, pidx, ct)


def _cast_back(xp, ct, dtype):
    """A cotangent in its argument's dtype (a real argument's is the real part)."""
    if xp.isdtype(ct.dtype, "complex floating") and not xp.isdtype(dtype, "complex floating"):
        ct = xp.real(ct)
    return xp.astype(ct, dtype)


def _unshared(ct, g, node) -> bool:
    """Whether a rule's raw result is a new array that nothing else holds: it owns its memory
    (NumPy and CuPy say so through ``base``; other libraries are never trusted) and is
    neither the incoming cotangent (``add`` passes that on to both inputs) nor a saved value.
    """
    if getattr(ct, "base", ct) is not None:
        return False
    saved = node.args + (node.ans if node.prim.multi_output else (node.ans,))
    return not (any(ct is a for a in saved)
                or any(ct is c for c in (g if isinstance(g, tuple) else (g,))))


def _finite(device, raw) -> bool:
    """Whether a raw array holds only finite values (anomaly mode; syncs with the device)."""
    xp = device.xp
    return bool(device.to_host(xp.all(xp.isfinite(raw))))


def _run_hooks(node, g, create_graph, commits):
    """Pass the gradient of each hooked output of ``node`` through its hooks, in the order
    they were registered; ``retain_grad`` ones run last, and only in ``backward`` (``commits``
    is not None), where they add their gradient to the ``.grad`` updates of the pass."""
    if type(node) is LeafNode:
        leaf = node.ref()
        if leaf is None:
            return g
        device = leaf.device
    else:
        device = node.params["device"] if node.prim.changes_device else node.device
    for index, hooks in list(node.hooks.items()):
        value = g if index is None else g[index]
        if value is None:  # an output of a multi-output op that got no cotangent
            continue
        value = value if create_graph else Tensor(value, device)
        for hook in sorted(hooks, key=lambda h: isinstance(h, _RetainGrad)):
            if isinstance(hook, _RetainGrad):
                if commits is not None:
                    commits.append((hook, value.data if not create_graph else value, False))
                continue
            new = hook(value)
            if new is not None:
                _check_hook_result(hook, new, value)
                value = new
        value = value if create_graph else value.data
        if index is None:
            g = value
        else:
            g[index] = value
    return g


def _check_hook_result(hook, new, old) -> None:
    name = getattr(hook, "__qualname__", repr(hook))
    if not isinstance(new, Tensor):
        raise TypeError(f"hook {name} returned a {type(new).__name__}; return a Tensor (the "
                        "replacement gradient) or None")
    for what, got, want in (("shape", new.shape, old.shape), ("dtype", new.dtype, old.dtype),
                            ("device", new.device, old.device)):
        if got != want:
            raise ValueError(f"hook {name} returned a gradient of {what} {got} for a tensor "
                             f"of {what} {want}")
