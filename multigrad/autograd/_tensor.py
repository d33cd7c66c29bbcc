"""The Tensor core and the tape's nodes.

A ``Tensor`` holds a backend array (``data``), its ``Device``, ``requires_grad``, the accumulated
``grad`` of a leaf, and the ``Node`` that made it. The standard's operators and methods are
installed on this class by ``multigrad/tensor.py``; this module holds only what the engine needs.

Nodes save the *raw* arrays of their inputs and output. Tensor operations never write into an
array in place (``__setitem__`` copies, then rebinds), so a saved array can never change under the
tape, and an in-place update of a tensor cannot corrupt a gradient.
"""

from __future__ import annotations

import itertools
import weakref

from array_api_compat import size as _size

from ..backends import DeviceError, MixedDeviceError, as_dtype, get_device, same_shape

__all__ = ["Tensor", "Node", "LeafNode", "check_like", "RemovableHandle"]

# Creation numbers of nodes: a node is always made after the nodes it points to, so sorting by
# this number (newest first) orders a graph topologically without walking it depth-first.
_creation = itertools.count()


class Node:
    """One application of a primitive on the tape.

    ``edges`` holds ``(argpos, parent_node, parent_index, shape, dtype)`` for each input that
    needs a gradient; ``args`` the raw inputs (arrays and Python scalars) and ``ans`` the raw
    output (a tuple for multi-output primitives), each None where the primitive's rules do not
    read it (its ``keep``). Both are dropped after a backward pass that does not retain the
    graph, which is how a freed graph is recognised.
    """

    # ``site`` (the user's file:line that applied the op) is set only in anomaly mode and
    # left unset otherwise, so recording costs nothing extra; read it with getattr
    __slots__ = ("prim", "args", "params", "ans", "edges", "device", "hooks", "tangents",
                 "site", "seq", "__weakref__")

    def __init__(self, prim, args, params, ans, edges, device):
        self.seq = next(_creation)
        self.prim = prim
        self.args = args
        self.params = params
        self.ans = ans
        self.edges = edges
        self.device = device
        self.hooks = None  # {output index: [hook, ...]} for hooks on non-leaf tensors
        # forward-mode tangents of the arguments and outputs when the op ran inside jvp, so a
        # backward with create_graph sees them (forward-over-reverse)
        self.tangents = None

    def __repr__(self) -> str:
        return f"<Node {self.prim.name}>"


class LeafNode:
    """Where gradients of a leaf tensor end: the engine accumulates into ``tensor.grad``.

    Every alias of a leaf (as forward mode makes) shares this node, so gradients reach the
    user's tensor whichever alias was used.
    """

    __slots__ = ("ref", "hooks", "seq", "__weakref__")
    edges = ()
    args = ()

    def __init__(self, tensor):
        self.seq = next(_creation)
        self.ref = weakref.ref(tensor)
        self.hooks = None

    def __repr__(self) -> str:
        return "<LeafNode>"


class RemovableHandle:
    """What ``Tensor.register_hook`` returns: ``handle.remove()`` unregisters the hook."""

    __slots__ = ("_node", "_index", "_hook")

    def __init__(self, node, index, hook):
        self._node, self._index, self._hook = node, index, hook

    def remove(self) -> None:
        """Unregister the hook (doing it twice is harmless)."""
        hooks = self._node.hooks
        entry = hooks.get(self._index) if hooks is not None else None
        if entry is None or not any(h is self._hook for h in entry):
            return
        entry.remove(self._hook)
        if not entry:
            del hooks[self._index]
        if not hooks:
            self._node.hooks = None  # the backward pass skips hook handling again


class _RetainGrad:
    """The hook ``retain_grad`` installs: the engine accumulates into its tensor's ``.grad``."""

    __slots__ = ("ref",)

    def __init__(self, tensor):
        self.ref = weakref.ref(tensor)


class Tensor:
    """An array on a device that can carry gradients: multigrad's array object.

    Make tensors with ``multigrad.tensor``, ``multigrad.asarray`` or the creation functions; the
    constructor here is internal.
    """

    __slots__ = ("data", "device", "requires_grad", "_grad", "_node", "_index", "_tangents",
                 "__weakref__")
    # numpy must defer to Tensor's reflected operators (ndarray * Tensor -> Tensor.__rmul__)
    __array_ufunc__ = None
    __array_priority__ = 1000

    def __init__(self, data, device, requires_grad=False, node=None, index=None):
        self.data = data
        self.device = device
        self.requires_grad = requires_grad
        self._grad = None  # the engine writes this slot directly; users go through .grad
        self._node = node
        self._index = index
        self._tangents = None  # {forward-mode level: tangent Tensor}

    # -- properties the engine needs ----------------------------------------------------------
    @property
    def dtype(self):
        return as_dtype(self.data.dtype)

    @property
    def shape(self) -> tuple:
        return tuple(self.data.shape)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self):
        """The number of elements; None where a dimension's size is unknown (a Dask array
        indexed by a mask)."""
        size = self.data.size  # NumPy's and CuPy's int; a method on torch, nan on Dask
        return size if type(size) is int else _size(self.data)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded op (their gradient lands in ``.grad``)."""
        return self._node is None or type(self._node) is LeafNode

    @property
    def node(self):
        """The tape node that made this tensor (``None`` for leaves)."""
        return None if self.is_leaf else self._node

    @property
    def grad(self):
        """The gradient ``backward`` accumulated into this tensor (a leaf, or a tensor that
        called ``retain_grad``), or None.

        It may be assigned None, or a tensor of this tensor's shape, dtype and device (not the
        tensor itself); anything else raises TypeError or ValueError, and ``.grad`` keeps its
        value.

        A host tensor that met Dask arrays gets a lazy gradient from ``backward``; reading
        ``.grad`` computes it, with every other lazy gradient still pending, in one pass
        (``multigrad.compute`` computes them with the loss).
        """
        g = self._grad
        if g is not None and g.device.lazy and not self.device.lazy:  # pending, on Dask
            from ._lazy import resolve
            resolve(())
            g = self._grad
        return g

    @grad.setter
    def grad(self, value):
        if value is not None:
            if value is self:
                raise ValueError("Tensor.grad: a tensor cannot be its own gradient (assign a "
                                 "copy)")
            check_like("Tensor.grad", "the assigned gradient", "tensor", value, self)
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as needing gradients (in place); returns the tensor."""
        if requires_grad:
            if self.data.dtype not in self.device.grad_dtypes:
                raise TypeError(f"only floating-point tensors can require gradients; this "
                                f"tensor has dtype {self.dtype.name}")
            if self._node is None:
                self._node = LeafNode(self)
        elif not self.is_leaf:
            raise RuntimeError("requires_grad_(False) applies to leaves only; use detach() to "
                               "cut a tensor out of the graph")
        else:
            self._node = None
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, outside the graph and without tangents."""
        return Tensor(self.data, self.device)

    def backward(self, seed=None, retain_graph=None, create_graph=False) -> None:
        """Accumulate the gradient of this tensor into ``.grad`` of every leaf it depends on.

        Parameters
        ----------
        seed : Tensor, optional
            The cotangent to start from, of this tensor's shape, dtype and device; needed unless
            the tensor has one element (then it is 1).
        retain_graph : bool, optional
            Keep the saved values so that backward can run through the graph again. Defaults to
            ``create_graph``.
        create_graph : bool
            Record the backward pass itself, so the gradients can be differentiated again.
        """
        from ._backward import backward
        backward([self], None if seed is None else [seed], retain_graph, create_graph)

    def register_hook(self, hook) -> RemovableHandle:
        """Call ``hook(grad)`` whenever the gradient with respect to this tensor is computed.

        Parameters
        ----------
        hook : callable
            ``hook(grad) -> Tensor or None``; a returned tensor (of ``grad``'s shape, dtype and
            device) replaces the gradient that flows on to the tensor's inputs (or into
            ``.grad`` for a leaf). Hooks never modify ``grad`` in place.

        Returns
        -------
        RemovableHandle
            ``handle.remove()`` unregisters the hook.

        Hooks live on the tape position, so every alias of the tensor shares them; they run
        in the order registered, in ``backward`` and ``multigrad.autograd.grad`` alike.
        """
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        return self._add_hook(hook, "register_hook")

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` during ``backward`` (leaves
        always do); it accumulates like a leaf's and sees what earlier hooks returned."""
        if self.is_leaf and self.requires_grad:
            return
        hooks = (self._node.hooks or {}).get(self._index, ()) if self._node else ()
        if any(isinstance(h, _RetainGrad) and h.ref() is self for h in hooks):
            return
        self._add_hook(_RetainGrad(self), "retain_grad")

    def _add_hook(self, hook, caller: str) -> RemovableHandle:
        if not self.requires_grad:
            raise RuntimeError(f"{caller}: this tensor does not require gradients, so no "
                               "gradient will ever reach it")
        node = self._node
        if node.hooks is None:
            node.hooks = {}
        node.hooks.setdefault(self._index, []).append(hook)
        return RemovableHandle(node, self._index, hook)

    def __repr__(self) -> str:
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self.device.lazy:  # its values would need a compute: shape, dtype and chunks only
            chunks = getattr(self.data, "chunksize", None)
            return (f"tensor(<lazy: shape={self.shape}, dtype={self.dtype.name}, "
                    f"chunks={chunks}>, device={self.device.name!r}{extra})")
        # NumPy's repr without its "array(" wrapper, lines aligned under "tensor(["
        body = repr(self.device.to_host(self.data))
        if body.startswith("array(") and body.endswith(")"):
            body = body[len("array("):-1].replace("\n", "\n ")
        return f"tensor({body}, device={self.device.name!r}{extra})"

    def __str__(self) -> str:
        return str(self.device.to_host(self.data))

    # -- pickling (copy.deepcopy and multiprocessing use it too) -------------------------------
    def __reduce__(self):
        """A leaf pickles as its values (through the host), its device's name, its class
        (``Parameter`` stays one), ``requires_grad`` and ``.grad``; hooks and forward-mode
        tangents are not kept. A tensor made by a recorded op refuses: its graph cannot cross
        to another process or file."""
        if not self.is_leaf:
            raise RuntimeError(
                f"cannot pickle or copy a tensor made by a recorded op "
                f"({self._node.prim.name}): its graph cannot be copied or sent to another "
                "process; pickle tensor.detach() to keep its values")
        grad = self.grad
        return (_unpickled, (type(self), self.device.name, self.device.to_host(self.data),
                             self.requires_grad, None if grad is None else grad.detach()))


def _unpickled(cls, device_name: str, host, requires_grad: bool, grad):
    """A tensor that ``Tensor.__reduce__`` pickled, on the device it came from."""
    try:
        device = get_device(device_name)
    except DeviceError as err:
        raise DeviceError(
            f"unpickling a tensor from device {device_name!r}, which is not available here "
            f"({err}); before pickling, move tensors to a device both sides have "
            "(tensor.to('cpu'), module.to('cpu')), or save with multigrad.save and read with "
            "multigrad.load(path, device=...)") from None
    t = cls.__new__(cls)
    Tensor.__init__(t, device.from_host(host), device)
    if requires_grad:
        t.requires_grad_()
    if grad is not None:
        t.grad = grad
    return t


def check_like(fname: str, what: str, ref: str, t, x: Tensor) -> None:
    """A seed, tangent or cotangent ``t`` must match ``x`` (its output or primal) in all but
    values; the error names the function, ``what`` and ``ref`` and both shapes, dtypes or
    devices."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{fname}: {what} is a {type(t).__name__}, not a Tensor of its {ref}'s "
                        f"shape {x.shape}, dtype {x.dtype.name} and device {x.device.name}")
    if t.shape != x.shape and not same_shape(t.shape, x.shape):
        raise ValueError(f"{fname}: {what} has shape {t.shape} but its {ref} has shape "
                         f"{x.shape}")
    if t.dtype != x.dtype:
        raise TypeError(f"{fname}: {what} has dtype {t.dtype.name} but its {ref} has dtype "
                        f"{x.dtype.name}")
    if t.device is not x.device:
        raise MixedDeviceError(f"{fname}: {what} is on {t.device.name} but its {ref} is on "
                               f"{x.device.name}")
