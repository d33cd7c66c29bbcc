"""Set functions of the array API standard.

Primitives: isin, unique_all, unique_counts, unique_inverse, unique_values.

Forward only: the results (membership, values, indices, counts) are not on the graph, even
for an input that requires gradients. The multi-result functions return named tuples with the
standard's field names, as array_api_strict does.
"""

from __future__ import annotations

from typing import NamedTuple

from ..autograd import Tensor, _record, defprimitive

__all__ = ["isin", "unique_all", "unique_counts", "unique_inverse", "unique_values"]


class UniqueAllResult(NamedTuple):
    """What ``unique_all`` returns."""

    values: Tensor
    indices: Tensor
    inverse_indices: Tensor
    counts: Tensor


class UniqueCountsResult(NamedTuple):
    """What ``unique_counts`` returns."""

    values: Tensor
    counts: Tensor


class UniqueInverseResult(NamedTuple):
    """What ``unique_inverse`` returns."""

    values: Tensor
    inverse_indices: Tensor


unique_all_p = defprimitive("unique_all", forward=lambda xp, x: tuple(xp.unique_all(x)),
                            multi_output=True)
unique_counts_p = defprimitive("unique_counts", forward=lambda xp, x: tuple(xp.unique_counts(x)),
                               multi_output=True)
unique_inverse_p = defprimitive("unique_inverse",
                                forward=lambda xp, x: tuple(xp.unique_inverse(x)),
                                multi_output=True)
unique_values_p = defprimitive("unique_values", forward=lambda xp, x: xp.unique_values(x))


def unique_all(x, /):
    """The unique elements of ``x`` with first indices, inverse indices and counts."""
    _record.data_dependent("unique_all")
    return UniqueAllResult(*unique_all_p(x))


def unique_counts(x, /):
    """The unique elements of ``x`` and how often each occurs."""
    _record.data_dependent("unique_counts")
    return UniqueCountsResult(*unique_counts_p(x))


def unique_inverse(x, /):
    """The unique elements of ``x`` and, for each element of ``x``, its index among them."""
    _record.data_dependent("unique_inverse")
    return UniqueInverseResult(*unique_inverse_p(x))


def unique_values(x, /):
    """The unique elements of ``x``, sorted."""
    _record.data_dependent("unique_values")
    return unique_values_p(x)


def _isin_forward(xp, x1, x2, invert):
    # negate ourselves: array_api_strict 2.6.1 ignores invert=True
    found = xp.isin(x1, x2)
    return xp.logical_not(found) if invert else found


isin_p = defprimitive("isin", forward=_isin_forward)


def isin(x1, x2, /, *, invert=False):
    """Whether each element of ``x1`` occurs in ``x2`` (does not, if ``invert``)."""
    return isin_p(x1, x2, invert=invert)
