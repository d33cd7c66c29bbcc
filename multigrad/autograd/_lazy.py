"""Lazy gradients of host tensors, and computing lazy tensors in one pass.

A host tensor (a model's parameter on "cpu") that met Dask arrays in the forward pass gets its
gradient from ``backward`` as a Dask array: the engine keeps it, lazily, as ``._grad`` on the
Dask device and lists the tensor here. ``resolve`` computes every pending gradient (and any
other lazy arrays given to it) with one ``dask.compute`` call, so the data is read once, on
whatever scheduler Dask is configured with, and puts each gradient back on its tensor's own
device: after it, ``.grad`` is a host array and an optimizer step builds no graph.
"""

from __future__ import annotations

import threading
import weakref

from ._tensor import Tensor

__all__ = ["add_pending", "resolve"]

# id -> weak reference: by identity, since a WeakSet compares tensors with ==, which is
# elementwise (a tensor listed twice, by two backward passes, raised there)
_pending: "dict[int, weakref.ref[Tensor]]" = {}
_lock = threading.Lock()


def add_pending(tensor: Tensor) -> None:
    """List a tensor whose ``._grad`` is lazy (on a Dask device while it is not)."""
    key = id(tensor)
    with _lock:
        _pending[key] = weakref.ref(tensor, lambda _, key=key: _pending.pop(key, None))


def resolve(arrays, persist: bool = False) -> list:
    """Compute (or persist) ``arrays`` (lazy raw arrays) together with every pending lazy
    gradient; returns the results of ``arrays``. Computed gradients land on their tensors'
    devices; persisted ones stay lazy, their graphs reduced to the results in memory."""
    with _lock:
        listed = [ref() for ref in _pending.values()]
        _pending.clear()
    holders = [t for t in listed if t is not None and t._grad is not None and t._grad.device.lazy]
    if not arrays and not holders:
        return []
    import dask

    grads = [t._grad.data for t in holders]
    run = dask.persist if persist else dask.compute
    results = run(*arrays, *grads)
    for t, g in zip(holders, results[len(arrays):]):
        if persist:
            t._grad = Tensor(g, t._grad.device)
            add_pending(t)
        else:
            t._grad = Tensor(t.device.xp.asarray(g) if t.device.library == _library(g)
                             else t.device.from_host(g), t.device)
    return list(results[:len(arrays)])


def _library(array) -> str:
    return type(array).__module__.split(".")[0]
