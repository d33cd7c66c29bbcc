"""Searching functions of the array API standard.

Primitives: where, ...

``where`` routes the cotangent to the selected branch only. To keep a masked singular point
(``where(x > 0, sqrt(x), 0)`` at ``x <= 0``) from turning into ``inf * 0 = nan`` in backward,
also sanitise the dangerous branch's input: ``where(x > 0, sqrt(where(x > 0, x, 1)), 0)`` (the
"double where").
"""

from __future__ import annotations

from ..autograd import defprimitive

__all__ = ["where"]

where_p = defprimitive(
    "where",
    forward=lambda xp, condition, x1, x2: xp.where(condition, x1, x2),
    vjp=(None,
         lambda xp, g, ans, condition, x1, x2: xp.where(condition, g, 0.0),
         lambda xp, g, ans, condition, x1, x2: xp.where(condition, 0.0, g)),
    jvp=(None,
         lambda xp, t, ans, condition, x1, x2: xp.where(condition, t, 0.0),
         lambda xp, t, ans, condition, x1, x2: xp.where(condition, 0.0, t)),
)


def where(condition, x1, x2, /):
    """Elements of ``x1`` where ``condition`` is true, else of ``x2`` (all broadcast)."""
    return where_p(condition, x1, x2)
