"""Elementwise functions of the array API standard.

Primitives: add, subtract, multiply, divide, negative, positive, pow, exp, log, tanh, ...
(the registry lists them all).

Conventions: arguments broadcast, and the engine sums cotangents back to each input's shape, so
rules return arrays of the broadcast shape. An argument that needs no gradient may be a Python
scalar; a rule for another argument must not assume it is an array. Where the derivative is
undefined we return the subgradient 0 (abs, sign at 0), or split ties evenly (maximum, minimum).
"""

from __future__ import annotations

from ..autograd import LINEAR, defprimitive

__all__ = ["add", "subtract", "multiply", "divide", "negative", "positive", "exp", "log", "tanh"]

add = defprimitive(
    "add",
    forward=lambda xp, x1, x2: xp.add(x1, x2),
    vjp=(lambda xp, g, ans, x1, x2: g,
         lambda xp, g, ans, x1, x2: g),
    jvp=(lambda xp, t, ans, x1, x2: t,
         lambda xp, t, ans, x1, x2: t),
    doc="Elementwise ``x1 + x2``.",
)

subtract = defprimitive(
    "subtract",
    forward=lambda xp, x1, x2: xp.subtract(x1, x2),
    vjp=(lambda xp, g, ans, x1, x2: g,
         lambda xp, g, ans, x1, x2: -g),
    jvp=(lambda xp, t, ans, x1, x2: t,
         lambda xp, t, ans, x1, x2: -t),
    doc="Elementwise ``x1 - x2``.",
)

multiply = defprimitive(
    "multiply",
    forward=lambda xp, x1, x2: xp.multiply(x1, x2),
    vjp=(lambda xp, g, ans, x1, x2: g * x2,
         lambda xp, g, ans, x1, x2: g * x1),
    jvp=(LINEAR, LINEAR),
    doc="Elementwise ``x1 * x2``.",
)

divide = defprimitive(
    "divide",
    forward=lambda xp, x1, x2: xp.divide(x1, x2),
    vjp=(lambda xp, g, ans, x1, x2: g / x2,
         lambda xp, g, ans, x1, x2: -g * ans / x2),
    jvp=(LINEAR,
         lambda xp, t, ans, x1, x2: -t * ans / x2),
    doc="Elementwise ``x1 / x2``.",
)

negative = defprimitive(
    "negative",
    forward=lambda xp, x: xp.negative(x),
    vjp=(lambda xp, g, ans, x: -g,),
    jvp=(LINEAR,),
    doc="Elementwise ``-x``.",
)

positive = defprimitive(
    "positive",
    forward=lambda xp, x: xp.positive(x),
    vjp=(lambda xp, g, ans, x: g,),
    jvp=(LINEAR,),
    doc="Elementwise ``+x`` (a copy).",
)

exp = defprimitive(
    "exp",
    forward=lambda xp, x: xp.exp(x),
    vjp=(lambda xp, g, ans, x: g * ans,),
    jvp=(lambda xp, t, ans, x: t * ans,),
    doc="Elementwise ``e**x``.",
)

log = defprimitive(
    "log",
    forward=lambda xp, x: xp.log(x),
    vjp=(lambda xp, g, ans, x: g / x,),
    jvp=(lambda xp, t, ans, x: t / x,),
    doc="Elementwise natural logarithm.",
)

tanh = defprimitive(
    "tanh",
    forward=lambda xp, x: xp.tanh(x),
    # d tanh = 1 - tanh**2
    vjp=(lambda xp, g, ans, x: g * (1 - ans * ans),),
    jvp=(lambda xp, t, ans, x: t * (1 - ans * ans),),
    doc="Elementwise hyperbolic tangent.",
)
