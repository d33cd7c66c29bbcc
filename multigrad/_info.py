"""``__array_namespace_info__``: what this namespace supports, per the array API standard."""

from __future__ import annotations

from .backends import DTYPES, devices, get_default_device, get_device

__all__ = ["__array_namespace_info__"]

_KIND_MEMBERS = {
    "bool": ("bool",),
    "signed integer": ("int8", "int16", "int32", "int64"),
    "unsigned integer": ("uint8", "uint16", "uint32", "uint64"),
    "integral": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"),
    "real floating": ("float32", "float64"),
    "complex floating": ("complex64", "complex128"),
    "numeric": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float32", "float64", "complex64", "complex128"),
}


class __array_namespace_info__:
    """Inspection utilities of the array API standard for multigrad's namespace."""

    def capabilities(self) -> dict:
        return {"boolean indexing": True, "data-dependent shapes": True, "max dimensions": 64}

    def default_device(self):
        return get_default_device()

    def devices(self) -> tuple:
        return tuple(devices())

    def default_dtypes(self, *, device=None) -> dict:
        dev = get_device(device)
        return {kind: dev.default_dtype(kind)
                for kind in ("real floating", "complex floating", "integral", "indexing")}

    def dtypes(self, *, device=None, kind=None) -> dict:
        dev = get_device(device)
        if kind is None:
            names = [n for n in DTYPES]
        else:
            kinds = (kind,) if isinstance(kind, str) else tuple(kind)
            names = []
            for k in kinds:
                if not isinstance(k, str):  # a dtype stands for itself
                    names.append(DTYPES[k.name].name)
                elif k not in _KIND_MEMBERS:
                    raise ValueError(f"unknown dtype kind {k!r}; expected one of "
                                     f"{', '.join(_KIND_MEMBERS)}")
                else:
                    names.extend(_KIND_MEMBERS[k])
        supported = set(dev.xp.__array_namespace_info__().dtypes(device=dev.native))
        return {n: DTYPES[n] for n in dict.fromkeys(names) if n in supported}
