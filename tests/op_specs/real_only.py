"""The differentiable primitives without complex derivatives: the functions the array API
standard defines for real numbers only (orderings, ``atan2``, rounding...), the network
functions and SciPy's special functions. Each refuses complex input with a TypeError naming
the op and complex numbers (``tests/test_complex.py``), never a silent value; every other
differentiable primitive has complex specs in the op table, which
``tests/test_complex.py`` checks and ``tools/coverage.py`` reports.

``REAL_ONLY`` maps each primitive's registry name to a call of it on one complex tensor.
"""

from __future__ import annotations

import multigrad as mg

S = mg.special

REAL_ONLY = {
    # the standard's functions of real numbers
    "maximum": lambda z: mg.maximum(z, z * 0.5),
    "minimum": lambda z: mg.minimum(z, 0.0),
    "clip": lambda z: mg.clip(z, 0.0, 1.0),
    "max": mg.max,
    "min": mg.min,
    "sort": mg.sort,
    "atan2": lambda z: mg.atan2(z, z),
    "hypot": lambda z: mg.hypot(z, z),
    "logaddexp": lambda z: mg.logaddexp(z, z),
    "copysign": lambda z: mg.copysign(z, z),
    "remainder": lambda z: mg.remainder(z, 2.0),
    "floor_divide": lambda z: z // 2.0,
    "floor": mg.floor,
    "ceil": mg.ceil,
    "trunc": mg.trunc,
    # network functions
    "relu": mg.relu,
    "sigmoid": mg.sigmoid,
    "softplus": mg.softplus,
    "gelu": mg.gelu,
    "softmax": mg.softmax,
    "log_softmax": mg.log_softmax,
    "logsumexp": mg.logsumexp,
    # SciPy's special functions (real arguments in SciPy's array API support)
    **{name: getattr(S, name) for name in (
        "erf", "erfc", "erfinv", "erfcinv", "gammaln", "i0", "i0e", "i1", "i1e", "entr",
        "log_ndtr", "logit", "ndtr", "ndtri", "sinc")},
    **{name: (lambda f: lambda z: f(z, z))(getattr(S, name)) for name in (
        "betaln", "kl_div", "rel_entr", "xlogy", "xlog1py")},
    "polygamma": lambda z: S.polygamma(1, z),
}
