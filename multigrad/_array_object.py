"""The array API standard's array object on ``Tensor``: operators and methods.

Each operator is a call into ``multigrad.ops``, so it records and differentiates like the
function it names (the methods, ``x.sum()``..., are in ``_tensor_methods``). In-place operators
and ``__setitem__`` compute a new array and rebind the tensor to it: arrays saved on the tape
are never written to, so an in-place update can never make a gradient silently wrong. The one
exception is provably safe: an in-place operator that records nothing, on an array that the
tensor alone holds (see ``_writable``), writes into it, sparing an optimiser step a copy of
every parameter. A leaf that requires gradients cannot be updated in
place while grad mode is on (do it under ``no_grad``, as optimisers do).
"""

from __future__ import annotations

import operator
import sys

from .autograd import Primitive, Tensor, is_grad_enabled
from .autograd import _record
from .autograd._primitive import apply
from .backends import is_array
from .ops import creation, elementwise, indexing, linalg, manipulation

__all__ = ["Tensor"]

# the binary operators by name; each also gets its reflected and in-place form
_BINARY = {
    "add": elementwise.add,
    "sub": elementwise.subtract,
    "mul": elementwise.multiply,
    "truediv": elementwise.divide,
    "floordiv": elementwise.floor_divide,
    "mod": elementwise.remainder,
    "pow": elementwise.pow,
    "matmul": linalg.matmul,
    "and": elementwise.bitwise_and,
    "or": elementwise.bitwise_or,
    "xor": elementwise.bitwise_xor,
    "lshift": elementwise.bitwise_left_shift,
    "rshift": elementwise.bitwise_right_shift,
}

_COMPARISON = {
    "lt": elementwise.less,
    "le": elementwise.less_equal,
    "gt": elementwise.greater,
    "ge": elementwise.greater_equal,
    "eq": elementwise.equal,
    "ne": elementwise.not_equal,
}

_UNARY = {
    "neg": elementwise.negative,
    "pos": elementwise.positive,
    "abs": elementwise.abs,
    "invert": elementwise.bitwise_invert,
}


_PLAIN_OPERANDS = (Tensor, int, float, complex, bool)


def _operand_ok(other) -> bool:
    """Operands the operators take; anything else returns NotImplemented (Python's protocol)."""
    return isinstance(other, _PLAIN_OPERANDS) or is_array(other)


_IN_PLACE = {"add": operator.iadd, "sub": operator.isub, "mul": operator.imul,
             "truediv": operator.itruediv}


def _references(holder) -> int:
    """``sys.getrefcount`` of ``holder.data``, always taken the same way."""
    return sys.getrefcount(holder.data)


class _Holder:
    __slots__ = ("data",)


def _alone() -> int:
    """The count ``_references`` reports for an array that one slot alone holds: calibrated,
    not assumed, because what getrefcount counts (its own argument, borrowed references)
    differs between Python versions."""
    holder = _Holder()
    holder.data = bytearray(1)
    return _references(holder)


_ALONE = _alone()


def _writable(self, other) -> bool:
    """Whether ``self op= other`` may write into ``self.data``: nothing would be recorded or
    carry a tangent, the result keeps self's floating dtype and shape, and no one else can see
    the array: it owns its memory (NumPy and CuPy say so through ``base``; other libraries are
    never written to) and only this tensor refers to it (so no node saved it). A step that
    multigrad.compile records never writes in place: its program must see every update."""
    if _references(self) > _ALONE or _record.active() is not None:
        return False
    data = self.data
    if self._tangents is not None or getattr(data, "base", True) is not None:
        return False
    if isinstance(other, Tensor):
        if (other._tangents is not None or other.device is not self.device
                or other.data.dtype != data.dtype or other.data.shape != data.shape):
            return False
        recording = self.requires_grad or other.requires_grad
    elif type(other) in (int, float):
        recording = self.requires_grad
    else:
        return False
    if recording and is_grad_enabled():
        return False
    return data.dtype in self.device.grad_dtypes


def _binary(op, in_place=None):
    # a primitive is applied directly: a Python-to-Python call, cheaper than calling the
    # Primitive object (about 60 ns per operator); the ops with checks of their own are called
    primitive = isinstance(op, Primitive)

    def forward(self, other):
        if isinstance(other, _PLAIN_OPERANDS) or _operand_ok(other):
            return apply(op, self, other) if primitive else op(self, other)
        return NotImplemented

    def reflected(self, other):
        if isinstance(other, _PLAIN_OPERANDS) or _operand_ok(other):
            return apply(op, other, self) if primitive else op(other, self)
        return NotImplemented

    def inplace(self, other):
        if not _operand_ok(other):
            return NotImplemented
        if in_place is not None and _writable(self, other):
            self.data = in_place(self.data, other.data if isinstance(other, Tensor) else other)
            return self
        return _rebind(self, op(self, other), "an in-place operator")

    return forward, reflected, inplace


def _check_inplace(self, what: str) -> None:
    if self.requires_grad and self.is_leaf and is_grad_enabled():
        raise RuntimeError(f"{what} on a leaf tensor that requires gradients would change a value "
                           "the graph may need; do it under multigrad.no_grad(), or on a copy")


def _rebind(self, new: Tensor, what: str) -> Tensor:
    """Make ``self`` hold ``new``'s value (and, when recording, its place on the tape)."""
    _check_inplace(self, what)
    if new.shape != self.shape or new.dtype != self.dtype:
        raise TypeError(f"{what} would change the tensor from shape {self.shape} and dtype "
                        f"{self.dtype.name} to shape {new.shape} and dtype {new.dtype.name}")
    self.data = new.data
    if new.requires_grad:
        self._node, self._index, self.requires_grad = new._node, new._index, True
    self._tangents = new._tangents
    return self


for _name, _fn in _BINARY.items():
    _f, _r, _i = _binary(_fn, _IN_PLACE.get(_name))
    setattr(Tensor, f"__{_name}__", _f)
    setattr(Tensor, f"__r{_name}__", _r)
    setattr(Tensor, f"__i{_name}__", _i)

for _name, _fn in _COMPARISON.items():
    setattr(Tensor, f"__{_name}__", _binary(_fn)[0])

for _name, _fn in _UNARY.items():
    setattr(Tensor, f"__{_name}__", (lambda fn: lambda self: fn(self))(_fn))

# Tensors define __eq__ elementwise, yet stay usable as dict keys and in sets (by identity).
Tensor.__hash__ = object.__hash__


def _getitem(self, key):
    return indexing.getitem(self, key)


def _setitem(self, key, value):
    """``x[key] = value``: a differentiable functional update that rebinds ``x``."""
    _check_inplace(self, "__setitem__")  # refuse before computing anything
    _rebind(self, indexing.setitem(self, key, value), "__setitem__")


def _to_python(kind):
    def convert(self):
        if self.size != 1 and kind is not operator.index:
            raise TypeError(f"only a tensor with one element converts to a Python scalar; this "
                            f"one has shape {self.shape}")
        # a lazy value is read through its device, which computes pending gradients with it
        data = self.device.to_host(self.data) if self.device.lazy else self.data
        return _record.read(self, kind.__name__, kind(data))
    return convert


def _len(self) -> int:
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def _to(self, device) -> Tensor:
    """This tensor on ``device`` (differentiable: gradients move back)."""
    return creation.to_device(self, device)


def _to_device(self, device, /, *, stream=None) -> Tensor:
    """The array API's ``to_device``: this tensor on ``device`` (differentiable)."""
    return creation.to_device(self, device)


def _numpy(self):
    """A NumPy copy of the values (from any device), outside the graph: writing into it
    changes nothing of the tensor's."""
    return _record.read(self, "numpy", self.device.to_host(self.data, copy=True))


def _array(self, dtype=None, copy=None):
    """NumPy's conversion protocol (``numpy.asarray(t)``), as in PyTorch and JAX: allowed for
    a tensor in host memory that needs no gradient, and never silent otherwise. Without
    ``copy=True`` the result is a read-only view, so writing into it cannot change a value
    the tape saved."""
    if self.requires_grad:
        raise TypeError("cannot convert a tensor that requires gradients to a NumPy array (it "
                        "would leave the graph unnoticed): use t.detach() first, or t.numpy() "
                        "for a copy")
    host = self.device.host_view(self.data)
    if host is None:
        raise TypeError(f"cannot convert a tensor on {self.device.name} to a NumPy array "
                        "implicitly: copy it to the host with t.numpy(), or move it with "
                        "t.to('cpu')")
    if dtype is not None and host.dtype != dtype:
        if copy is False:
            raise ValueError(f"numpy.asarray(copy=False): converting dtype "
                             f"{self.dtype.name} to {dtype} needs a copy")
        return _record.read(self, "numpy", host.astype(dtype))
    return _record.read(self, "numpy", host.copy() if copy else host)


def _item(self):
    """The value of a one-element tensor as a Python scalar."""
    if self.size != 1:
        raise ValueError(f"item() needs a tensor with one element; this one has shape {self.shape}")
    return _record.read(self, "item", self.device.to_host(self.data).item())


def _tolist(self):
    return _record.read(self, "tolist", self.device.to_host(self.data).tolist())


def _array_namespace(self, /, *, api_version=None):
    import multigrad
    if api_version not in (None, multigrad.__array_api_version__, "2024.12", "2023.12"):
        raise ValueError(f"multigrad implements array API version "
                         f"{multigrad.__array_api_version__}, not {api_version!r}")
    return multigrad


def _dlpack(self, /, *, stream=None, max_version=None, dl_device=None, copy=None):
    # pass on only what was given: older libraries do not know the newer keywords
    given = {k: v for k, v in (("stream", stream), ("max_version", max_version),
                                ("dl_device", dl_device), ("copy", copy)) if v is not None}
    return self.data.__dlpack__(**given)


def _dlpack_device(self, /):
    return self.data.__dlpack_device__()


Tensor.__getitem__ = _getitem
Tensor.__setitem__ = _setitem
Tensor.__bool__ = _to_python(bool)
Tensor.__float__ = _to_python(float)
Tensor.__int__ = _to_python(int)
Tensor.__complex__ = _to_python(complex)
Tensor.__index__ = _to_python(operator.index)
Tensor.__len__ = _len
Tensor.__array_namespace__ = _array_namespace
Tensor.__dlpack__ = _dlpack
Tensor.__dlpack_device__ = _dlpack_device
Tensor.to = _to
Tensor.to_device = _to_device
Tensor.numpy = _numpy
Tensor.__array__ = _array
Tensor.item = _item
Tensor.tolist = _tolist
Tensor.T = property(lambda self: manipulation.permute_dims(self, (1, 0)) if self.ndim == 2
                    else _bad_T(self), doc="The transpose of a 2-D tensor.")
Tensor.mT = property(lambda self: linalg.matrix_transpose(self),
                     doc="The transpose of the last two dimensions.")


def _bad_T(self):
    raise ValueError(f".T needs a 2-D tensor; this one has shape {self.shape} (use .mT or "
                     "permute_dims)")

