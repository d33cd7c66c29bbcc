"""Op specs for the manipulation functions, and the creation functions with gradients (tril,
triu, meshgrid, to_device). Each has a complex case too (linear maps: their VJPs are their
transposes), and astype casts between real and complex dtypes."""

import numpy as np

import multigrad as mg
from . import OpSpec, complex_twin, complex_twins


def _with_repeats(repeats):
    """make=: a float array of the case's shape and a fixed integer ``repeats`` array."""
    return lambda rng, shapes, params: [rng.uniform(-2, 2, size=shapes[0]), np.array(repeats)]


def _float32_round_trip(x):
    # float32 -> float64 -> float32 is exact, and float64 -> float64 is a copy
    return mg.astype(mg.astype(x, mg.float64), x.dtype)


def _complex64_round_trip(z):
    return mg.astype(mg.astype(z, mg.complex128), z.dtype)


def _to_complex(x):
    """A real tensor cast to the complex dtype of its precision, then scaled by a complex
    number: the real input's gradient is the real part of the complex cotangent."""
    dtype = mg.complex64 if x.dtype == mg.float32 else mg.complex128
    return mg.astype(x, dtype) * (1 - 2j)


SPECS = [
    OpSpec("reshape", lambda x, shape: mg.reshape(x, shape), np.reshape, [((2, 3),)],
           params=[{"shape": (3, 2)}, {"shape": (-1,)}, {"shape": (1, 6, 1)}]),
    OpSpec("broadcast_to", lambda x, shape: mg.broadcast_to(x, shape), np.broadcast_to,
           [((3, 1),)], params=[{"shape": (2, 3, 4)}, {"shape": (3, 1)}]),
    OpSpec("astype", _float32_round_trip, lambda x: x, [((2, 3),)]),
    OpSpec("broadcast_arrays", mg.broadcast_arrays, lambda *a: tuple(np.broadcast_arrays(*a)),
           [((3, 1), (1, 4)), ((), (2, 3)), ((2, 3), (2, 3))]),
    OpSpec("broadcast_arrays-3", mg.broadcast_arrays, lambda *a: tuple(np.broadcast_arrays(*a)),
           [((3, 1), (4,), (2, 1, 1))], covers=("broadcast_arrays",)),
    OpSpec("concat", lambda a, b, axis: mg.concat([a, b], axis=axis),
           lambda a, b, axis: np.concatenate([a, b], axis=axis),
           [((2, 3), (4, 3))], params=[{"axis": 0}, {"axis": -2}]),
    OpSpec("concat-default-axis", lambda a, b: mg.concat([a, b]),
           lambda a, b: np.concatenate([a, b]), [((2, 3), (4, 3))], covers=("concat",)),
    OpSpec("concat-last", lambda a, b, axis: mg.concat([a, b], axis=axis),
           lambda a, b, axis: np.concatenate([a, b], axis=axis),
           [((2, 3), (2, 1))], params=[{"axis": 1}, {"axis": -1}], covers=("concat",)),
    OpSpec("concat-flat", lambda a, b, c: mg.concat([a, b, c], axis=None),
           lambda a, b, c: np.concatenate([a, b, c], axis=None),
           [((2, 3), (4,), (1, 2, 2))], covers=("concat",)),
    OpSpec("concat-3", lambda a, b, c: mg.concat((a, b, c), axis=1),
           lambda a, b, c: np.concatenate([a, b, c], axis=1),
           [((2, 1), (2, 3), (2, 2))], covers=("concat",)),
    OpSpec("stack", lambda a, b, axis: mg.stack([a, b], axis=axis),
           lambda a, b, axis: np.stack([a, b], axis=axis),
           [((2, 3), (2, 3))], params=[{"axis": 0}, {"axis": 1}, {"axis": -1}]),
    OpSpec("stack-default-axis", lambda a, b: mg.stack([a, b]), lambda a, b: np.stack([a, b]),
           [((2, 3), (2, 3))], covers=("stack",)),
    OpSpec("stack-3", lambda a, b, c: mg.stack((a, b, c), axis=-2),
           lambda a, b, c: np.stack([a, b, c], axis=-2), [((3,), (3,), (3,))], covers=("stack",)),
    OpSpec("unstack-default-axis", mg.unstack, lambda x: tuple(x), [((2, 3, 2),)],
           covers=("unstack",)),
    OpSpec("unstack", lambda x, axis: mg.unstack(x, axis=axis),
           lambda x, axis: tuple(np.moveaxis(x, axis, 0)), [((2, 3, 2),)],
           params=[{"axis": 0}, {"axis": 1}, {"axis": -1}]),
    OpSpec("expand_dims", lambda x, axis: mg.expand_dims(x, axis),
           lambda x, axis: np.expand_dims(x, axis), [((2, 3),)],
           params=[{"axis": 0}, {"axis": -1}, {"axis": (0, 3)}, {"axis": (-1, 1)}],
           covers=("reshape",)),
    OpSpec("squeeze", lambda x, axis: mg.squeeze(x, axis), lambda x, axis: np.squeeze(x, axis),
           [((1, 3, 1),)], params=[{"axis": 0}, {"axis": -1}, {"axis": (0, 2)}],
           covers=("reshape",)),
    OpSpec("permute_dims", lambda x, axes: mg.permute_dims(x, axes), np.transpose, [((2, 3, 4),)],
           params=[{"axes": (1, 0, 2)}, {"axes": (2, 0, 1)}, {"axes": (-1, 0, 1)}]),
    OpSpec("moveaxis", lambda x, source, destination: mg.moveaxis(x, source, destination),
           lambda x, source, destination: np.moveaxis(x, source, destination), [((2, 3, 4),)],
           params=[{"source": 0, "destination": -1}, {"source": (0, 1), "destination": (2, 0)}],
           covers=("permute_dims",)),
    OpSpec("flip", lambda x, axis: mg.flip(x, axis=axis), lambda x, axis: np.flip(x, axis=axis),
           [((2, 3),)], params=[{"axis": None}, {"axis": 0}, {"axis": -1}, {"axis": (0, 1)}]),
    OpSpec("roll", lambda x, shift, axis: mg.roll(x, shift, axis=axis),
           lambda x, shift, axis: np.roll(x, shift, axis=axis), [((3, 4),)],
           params=[{"shift": 1, "axis": None}, {"shift": -1, "axis": 1},
                   {"shift": (1, -2), "axis": (0, 1)}, {"shift": (5, 1), "axis": (1, 1)}]),
    OpSpec("tile", lambda x, reps: mg.tile(x, reps), np.tile, [((2, 3),)],
           params=[{"reps": (2,)}, {"reps": (2, 1, 3)}, {"reps": (3, 2)}]),
    OpSpec("repeat", lambda x, repeats, axis: mg.repeat(x, repeats, axis=axis),
           lambda x, repeats, axis: np.repeat(x, repeats, axis=axis), [((2, 3),)],
           params=[{"repeats": 2, "axis": None}, {"repeats": 3, "axis": 1},
                   {"repeats": 1, "axis": 0}]),
    OpSpec("repeat-array", lambda x, r: mg.repeat(x, r, axis=1),
           lambda x, r: np.repeat(x, r, axis=1), [((2, 3),)], make=_with_repeats([2, 0, 3]),
           covers=("repeat",)),
    OpSpec("repeat-array-flat", lambda x, r: mg.repeat(x, r),
           lambda x, r: np.repeat(x, r), [((2, 2),)], make=_with_repeats([1, 3, 0, 2]),
           covers=("repeat",)),
    # creation functions with gradients
    OpSpec("tril", lambda x, k: mg.tril(x, k=k), lambda x, k: np.tril(x, k=k),
           [((3, 4),), ((2, 3, 3),)], params=[{"k": 0}, {"k": 1}, {"k": -1}]),
    OpSpec("triu", lambda x, k: mg.triu(x, k=k), lambda x, k: np.triu(x, k=k),
           [((3, 4),), ((2, 3, 3),)], params=[{"k": 0}, {"k": 2}, {"k": -1}]),
    OpSpec("meshgrid", lambda *a, indexing: mg.meshgrid(*a, indexing=indexing),
           lambda *a, indexing: tuple(np.meshgrid(*a, indexing=indexing)),
           [((3,), (4,)), ((2,), (3,), (4,)), ((3,),)],
           params=[{"indexing": "xy"}, {"indexing": "ij"}]),
    OpSpec("to_device", lambda x: x.to("strict:device2").to(x.device), lambda x: x,
           [((2, 3),)]),
]

_BY_NAME = {s.name: s for s in SPECS}

SPECS += [
    *complex_twins(SPECS, [
        "reshape", "broadcast_to", "broadcast_arrays", "concat", "concat-flat", "stack",
        "unstack", "expand_dims", "squeeze", "permute_dims", "moveaxis", "flip", "roll", "tile",
        "repeat", "repeat-array", "tril", "triu", "meshgrid", "to_device"]),
    complex_twin(_BY_NAME["astype"], fn=_complex64_round_trip, ref=lambda z: z),
    # astype from real to complex and back to the real input's gradient
    OpSpec("astype-to-complex", _to_complex, lambda x: x * (1 - 2j), [((2, 3),)],
           complex=True, covers=("astype", "multiply"), second_order="skip"),
]
