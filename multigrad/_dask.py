"""``compute`` and ``persist``: evaluating lazy (Dask) tensors, with their gradients, in one pass.

On the "dask" device nothing is computed while the forward and backward passes run: each op
adds tasks to a graph. ``compute(loss)`` after ``loss.backward()`` evaluates the loss and every
gradient still pending (those of host parameters that met the data) with one ``dask.compute``,
so the chunks of the data are read once, on the scheduler Dask is configured with (threads,
processes, a ``distributed.Client``).
"""

from __future__ import annotations

from .autograd import Tensor
from .autograd._lazy import resolve
from .backends import unknown_size

__all__ = ["compute", "persist"]


def _lazy_inputs(fname, tensors):
    for k, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fname}: argument {k} is a {type(t).__name__}, not a Tensor")
    return [k for k, t in enumerate(tensors) if t.device.lazy]


def compute(*tensors):
    """Evaluate lazy tensors and every pending lazy gradient in one pass.

    Parameters
    ----------
    *tensors : Tensor
        Tensors of any device; those on a lazy device ("dask") are computed, the others are
        returned as they are.

    Returns
    -------
    tuple of Tensor
        One per argument: a lazy tensor's values on its host device ("cpu" for "dask"),
        without history (a computed value is a constant). After the call, the ``.grad`` of
        every host tensor that ``backward`` gave a lazy gradient is a host array.
    """
    lazy = _lazy_inputs("compute", tensors)
    values = resolve([tensors[k].data for k in lazy])
    out = list(tensors)
    for k, value in zip(lazy, values):
        host = tensors[k].device.host
        out[k] = Tensor(host.xp.asarray(value), host)
    return tuple(out)


def persist(*tensors):
    """Compute lazy tensors (and every pending lazy gradient) into memory, where the
    scheduler keeps its results (the workers' memory on a ``distributed`` cluster), and keep
    them lazy: later ops build on the results instead of recomputing their graphs. Sizes
    unknown until computed (the rows a boolean mask picks) are known afterwards, so that the
    results can be indexed by position or by another mask.

    Returns
    -------
    tuple of Tensor
        One per argument, on its own device, without history.
    """
    lazy = _lazy_inputs("persist", tensors)
    values = resolve([tensors[k].data for k in lazy], persist=True)
    out = list(tensors)
    for k, value in zip(lazy, values):
        if any(unknown_size(n) for n in value.shape):  # counted from the results in memory
            value = value.compute_chunk_sizes()
        out[k] = Tensor(value, tensors[k].device)
    return tuple(out)
