"""Dask's linear algebra by blocks: what array-api-compat's Dask ``linalg`` lacks or takes for
one matrix only, run over stacks of matrices with each matrix in one chunk (the stack split as
the array is), and ``cross`` with the vectors' axis in one chunk. Dask's own runs where it takes
the call (one matrix: tall-and-skinny QR and SVD)."""

from __future__ import annotations

import math
import types

import numpy

__all__ = ["linalg"]


# per function: the core shape of each output from the matrix's (m, n) and the call's keywords
# (a tuple of them for functions that return several arrays)
_BLOCK_LINALG = {
    "det": lambda m, n, kw: (),
    "inv": lambda m, n, kw: (n, m),
    "pinv": lambda m, n, kw: (n, m),
    "cholesky": lambda m, n, kw: (m, n),
    "eigvalsh": lambda m, n, kw: (n,),
    "svdvals": lambda m, n, kw: (min(m, n),),
    "slogdet": lambda m, n, kw: ((), ()),
    "eigh": lambda m, n, kw: ((n,), (n, n)),
    "eig": lambda m, n, kw: ((n,), (n, n)),
    "eigvals": lambda m, n, kw: (n,),
    "svd": lambda m, n, kw: (((m, m), (min(m, n),), (n, n)) if kw.get("full_matrices", True)
                             else ((m, min(m, n)), (min(m, n),), (min(m, n), n))),
    "qr": lambda m, n, kw: (((m, m), (m, n)) if kw.get("mode", "reduced") == "complete"
                            else ((m, min(m, n)), (min(m, n), n))),
}
_RESULTS = {"slogdet": "SlogdetResult", "eigh": "EighResult", "svd": "SVDResult",
            "qr": "QRResult"}


def _native_fits(name, x, kw) -> bool:
    """Whether Dask's own function takes this call: one matrix, and keywords it supports.
    Dask's cholesky reads the upper blocks too (and wants square chunks) where the standard
    reads the lower triangle, and array-api-compat's svdvals asks Dask's svd for full
    matrices, which it refuses: those two, det and slogdet always run by blocks."""
    if x.ndim != 2 or name in ("det", "slogdet", "cholesky", "svdvals"):
        return False
    if name == "svd":
        return not kw.get("full_matrices", True)
    if name == "qr":
        return kw.get("mode", "reduced") == "reduced"
    return True


def linalg(compat_linalg, da, chunk_module, missing):
    """array-api-compat's Dask ``linalg`` with what it lacks done by blocks; ``missing(name)``
    raises for the names neither has."""
    ns = types.ModuleType("multigrad.backends.dask_namespace.linalg")
    ns.__dict__.update({k: v for k, v in vars(compat_linalg).items() if not k.startswith("__")})
    ns.__getattr__ = missing
    for name, core in _BLOCK_LINALG.items():
        if hasattr(chunk_module.linalg, name):  # CuPy before v14 has no eig
            setattr(ns, name, _by_blocks(name, core, compat_linalg, da, chunk_module))
    ns.solve = _solve_by_blocks(compat_linalg, da, chunk_module)
    ns.cross = _cross_by_blocks(da, chunk_module)
    ns.matrix_norm = _matrix_norm(compat_linalg, ns.svdvals, da)
    ns.matrix_rank = _matrix_rank(ns.svdvals, da, chunk_module)
    ns.vector_norm = _vector_norm(compat_linalg, da)
    return ns


def _by_blocks(name, core, compat_linalg, da, chunk_module):
    """``linalg.<name>`` over a stack of matrices, one matrix per chunk along the last two
    axes (Dask's own for a single matrix where it takes the call)."""
    kernel = getattr(chunk_module.linalg, name)
    native = getattr(compat_linalg, name, None)
    if name in ("eig", "eigvals"):  # complex whatever the values (NumPy's are real if they can be)
        kernel = _complex_outputs(kernel, chunk_module)

    def run(x, /, **kw):
        if native is not None and _native_fits(name, x, kw):
            # the dtype the blocks give (Dask's inv solves against a float64 identity:
            # float32 in, float64 out; its qr and svd keep the dtype)
            out = native(x, **kw)
            if isinstance(out, tuple):
                return out
            want = _out_dtype(name, x.dtype, 0, chunk_module)
            return out if out.dtype == want else out.astype(want)
        x = x.rechunk({x.ndim - 2: -1, x.ndim - 1: -1})
        m, n = x.shape[-2:]
        shapes = core(m, n, kw)
        batch = x.chunks[:-2]
        many = isinstance(shapes[0] if shapes else None, tuple)

        def one(k, shape):
            def block(b):
                out = kernel(b, **kw)
                return out[k] if many else out
            dims = x.ndim - 2
            new = tuple(range(dims, dims + len(shape)))
            drop = tuple(range(dims, x.ndim))
            return da.map_blocks(block, x, dtype=_out_dtype(name, x.dtype, k, chunk_module),
                                 drop_axis=drop, new_axis=new or None,
                                 chunks=batch + tuple((s,) for s in shape))
        if many:
            outs = tuple(one(k, s) for k, s in enumerate(shapes))
            result = getattr(compat_linalg, _RESULTS.get(name, ""), None)
            return result(*outs) if result is not None else outs
        return one(0, shapes)
    run.__name__ = name
    return run


def _complex_outputs(kernel, chunk_module):
    def run(b, **kw):
        out = kernel(b, **kw)
        kind = chunk_module.result_type(b.dtype, chunk_module.complex64)
        if isinstance(out, tuple):
            return tuple(o.astype(kind, copy=False) for o in out)
        return out.astype(kind, copy=False)
    return run


# the output (by position) that is real for a complex matrix: eigenvalues, singular values,
# the log of |det|
_REAL_OUTPUT = {"eigvalsh": 0, "svdvals": 0, "eigh": 0, "svd": 1, "slogdet": 1}


def _out_dtype(name, dtype, k, chunk_module):
    if name in ("eig", "eigvals"):
        return chunk_module.result_type(dtype, chunk_module.complex64)
    kind = chunk_module.empty((), dtype=dtype)
    return chunk_module.real(kind).dtype if _REAL_OUTPUT.get(name) == k else kind.dtype


def _aligned(da, arrays, core_dims):
    """``arrays`` broadcast over their batch axes (all but the last ``core_dims[k]``), each
    core in one chunk and the batch chunked alike, for a kernel applied block by block."""
    batch = numpy.broadcast_shapes(*(a.shape[:a.ndim - c] for a, c in zip(arrays, core_dims)))
    out = [da.broadcast_to(a, batch + a.shape[a.ndim - c:]) for a, c in zip(arrays, core_dims)]
    out[0] = out[0].rechunk({d: -1 for d in range(len(batch), out[0].ndim)})
    batch_chunks = out[0].chunks[:len(batch)]
    return [out[0]] + [a.rechunk(batch_chunks + tuple((s,) for s in a.shape[len(batch):]))
                       for a in out[1:]], batch_chunks


def _solve_by_blocks(compat_linalg, da, chunk_module):
    """``linalg.solve`` over stacks (Dask's own takes two matrices only)."""
    def solve(x1, x2, /):
        if x1.ndim == 2 and x2.ndim <= 2:
            return compat_linalg.solve(x1, x2)
        vector = x2.ndim == 1  # the standard's (M,) right-hand side: one column
        if vector:
            x2 = x2[:, None]
        (a, b), batch = _aligned(da, [x1, x2], (2, 2))
        out = da.map_blocks(chunk_module.linalg.solve, a, b,
                            dtype=chunk_module.result_type(a.dtype, b.dtype), chunks=b.chunks)
        return out[..., 0] if vector else out
    return solve


def _cross_by_blocks(da, chunk_module):
    """``linalg.cross`` (array-api-compat's Dask namespace has none): the 3-vectors' axis
    in one chunk."""
    def cross(x1, x2, /, *, axis=-1):
        x1, x2 = da.broadcast_arrays(x1, x2)
        axis %= x1.ndim
        x1 = x1.rechunk({axis: -1})
        x2 = x2.rechunk(x1.chunks)
        return da.map_blocks(lambda a, b: chunk_module.linalg.cross(a, b, axis=axis), x1, x2,
                             dtype=chunk_module.result_type(x1.dtype, x2.dtype))
    return cross


def _matrix_rank(svdvals, da, chunk_module):
    """``linalg.matrix_rank`` from ``svdvals`` by blocks (array-api-compat's asks Dask's
    svd for the values alone, which it does not take)."""
    def matrix_rank(x, /, *, rtol=None):
        s = svdvals(x)
        if rtol is None:
            rtol = max(x.shape[-2:]) * chunk_module.finfo(s.dtype).eps
        elif hasattr(rtol, "ndim"):  # one tolerance per matrix of the stack
            rtol = rtol[..., None]
        return da.count_nonzero(s > da.max(s, axis=-1, keepdims=True) * rtol, axis=-1)
    return matrix_rank


def _matrix_norm(compat_linalg, svdvals, da):
    """``linalg.matrix_norm``, the singular-value norms (2, -2, nuc) of stacks from
    ``svdvals`` by blocks (Dask computes them for one matrix only)."""
    def matrix_norm(x, /, *, keepdims=False, ord="fro"):
        if x.ndim == 2 or ord not in (2, -2, "nuc"):
            return compat_linalg.matrix_norm(x, keepdims=keepdims, ord=ord)
        s = svdvals(x)
        out = {2: da.max, -2: da.min, "nuc": da.sum}[ord](s, axis=-1)
        return out[..., None, None] if keepdims else out
    return matrix_norm


def _vector_norm(compat_linalg, da):
    """``linalg.vector_norm``, by reductions where a size is unknown until computed (rows
    picked by a mask): array-api-compat's flattens the array first, which Dask cannot do
    without the sizes."""
    def vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
        if not any(math.isnan(n) for n in x.shape):
            return compat_linalg.vector_norm(x, axis=axis, keepdims=keepdims, ord=ord)
        a, kw = da.absolute(x), {"axis": axis, "keepdims": keepdims}  # real for complex x
        if ord == math.inf:
            return da.max(a, **kw)
        if ord == -math.inf:
            return da.min(a, **kw)
        if ord == 0:
            return da.sum(a != 0, **kw).astype(a.dtype)
        if ord == 1:
            return da.sum(a, **kw)
        if ord == 2:
            return da.sqrt(da.sum(a * a, **kw))
        return da.sum(a ** ord, **kw) ** (1.0 / ord)
    return vector_norm
